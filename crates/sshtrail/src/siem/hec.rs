//! Splunk HTTP Event Collector: one envelope a line,
//! `{"time":<epoch seconds.micro>,"host":...,"source":"sshtrail","sourcetype":"sshtrail:ssh","event":{...}}`,
//! ready to POST (concatenated) to `/services/collector/event`.
//!
//! `host` is the target host (left out when unknown, so HEC's default
//! applies); the event object is flat, with Splunk CIM names where CIM has
//! one (`action`, `user`, `src`, `dest`, `app`, `process`, ...).

use serde_json::{json, Map, Value};

use super::{Action, SiemEvent};
use crate::time::Nanos;

/// The `sourcetype` of the events.
pub const SOURCETYPE: &str = "sshtrail:ssh";

/// Epoch seconds with 6 fraction digits, e.g. `1686159120.001000`.
pub fn epoch_seconds(ts: Nanos) -> String {
    let micros = ts.div_euclid(1_000);
    let sign = if micros < 0 { "-" } else { "" };
    let m = micros.unsigned_abs();
    format!("{sign}{}.{:06}", m / 1_000_000, m % 1_000_000)
}

/// The `event` object of a record.
pub fn event(ev: &SiemEvent) -> Value {
    let c = &ev.conn;
    let mut e = Map::new();
    let mut put = |k: &str, v: Value| {
        if !v.is_null() {
            e.insert(k.to_string(), v);
        }
    };
    put("ts", json!(super::rfc3339(ev.ts)));
    put("action", json!(ev.action.name()));
    put("outcome", json!(ev.outcome.name()));
    put("reason", json!(ev.reason));
    put("severity", json!(ev.severity.name()));
    put("message", json!(ev.message));
    put("event_id", json!(ev.id));
    put("seq", json!(ev.seq));
    put("app", json!("ssh"));
    put("vendor_product", json!("sshtrail"));
    put("user", json!(c.user));
    put("user_id", json!(c.user_id));
    put("dest_user", json!(c.account));
    put("dest", json!(c.host.clone().or(c.host_address.clone())));
    put("dest_id", json!(c.host_id));
    put("dest_ip", json!(c.host_ip()));
    put("dest_address", json!(c.host_address));
    put("src", json!(c.remote_address));
    put("src_ip", json!(c.remote_ip()));
    if !c.tags.is_empty() {
        put("tags", json!(c.tags));
    }
    if !c.authentication_method.is_empty() {
        put("authentication_method", json!(c.authentication_method));
    }
    put("connection_id", json!(c.connection_id));
    put("channel_id", json!(ev.channel_id));
    put("channel_type", json!(ev.channel_type));
    put("request", json!(ev.request));
    put("origin", json!(ev.origin_name()));
    if let Some(p) = &ev.pty {
        put("pty_term", json!(p.term));
        put("pty_columns", json!(p.cols));
        put("pty_rows", json!(p.rows));
    }
    if let Some(p) = &ev.process {
        put("process_id", json!(p.entity_id));
        put("process", json!(p.command_line));
        put("process_name", json!(p.name));
        if !p.args.is_empty() {
            put("process_args", json!(p.args));
        }
        put("interactive", json!(p.interactive));
        put("exit_code", json!(p.exit_code));
        if p.privileged {
            put("privileged", json!(true));
        }
        put("confidence", json!(p.confidence.map(|c| c.name())));
    }
    if let Some((k, v)) = &ev.env {
        put("env_name", json!(k));
        put("env_value", json!(v));
    }
    put("subsystem", json!(ev.subsystem));
    if let Some(f) = &ev.forward {
        put("forward_kind", json!(f.kind.name()));
        put("forward_address", json!(f.address));
        put("forward_port", json!(f.port));
        put("forward_originator", json!(f.originator));
        put("forward_originator_port", json!(f.originator_port));
        put("forward_socket_path", json!(f.socket_path));
    }
    if let Some(s) = &ev.signal {
        put("signal", json!(s.name));
        put("core_dumped", json!(s.core_dumped));
        put("signal_message", json!(s.message));
    }
    if let Some(s) = &ev.session {
        put("start_time", json!(super::rfc3339(s.started)));
        put("end_time", json!(super::rfc3339(s.ended)));
        put("duration_ms", json!((s.duration() / 1_000_000) as i64));
        put("bytes_in", json!(s.bytes_client_to_server()));
        put("bytes_out", json!(s.bytes_server_to_client()));
        put(
            "bytes",
            json!(s.bytes_client_to_server() + s.bytes_server_to_client()),
        );
        put("bytes_stdin", json!(s.bytes[0]));
        put("bytes_stdout", json!(s.bytes[1]));
        put("bytes_stderr", json!(s.bytes[2]));
        put("integrity_ok", json!(s.integrity_ok));
        put("integrity_verdict", json!(s.integrity_verdict.name()));
        if !s.problems.is_empty() {
            put("integrity_problems", json!(s.problems));
        }
    }
    if let Some(f) = &ev.connection {
        put("start_time", json!(super::rfc3339(f.started)));
        if let (Some(end), Some(duration)) = (f.ended, f.duration()) {
            put("end_time", json!(super::rfc3339(end)));
            put("duration_ms", json!((duration / 1_000_000) as i64));
        }
        put("bytes_in", json!(f.bytes_client_to_server));
        put("bytes_out", json!(f.bytes_server_to_client));
        if let (Some(a), Some(b)) = (f.bytes_client_to_server, f.bytes_server_to_client) {
            put("bytes", json!(a + b));
        }
        put("connection_status", json!(f.status));
        put("channels", json!(f.channels));
    }
    if let Some(f) = &ev.file {
        // CIM Endpoint.Filesystem names.
        put("file_path", json!(f.path));
        put("file_name", json!(f.name()));
        put("file_directory", json!(f.directory()));
        put("file_size", json!(f.size));
        put("file_hash", json!(f.sha256));
        put("file_mode", json!(f.mode_text()));
        put("file_type", json!(f.file_type.ecs()));
        put("file_target", json!(f.target));
        put("file_protocol", json!(f.protocol.name()));
        put("file_op", json!(f.op));
        if !f.detail.is_empty() {
            put("file_detail", json!(f.detail));
        }
        put("file_status_code", json!(f.code));
        put("file_complete", json!(f.complete));
        put("start_time", json!(super::rfc3339(f.started)));
        put("end_time", json!(super::rfc3339(f.ended)));
    }
    if let Some(io) = &ev.io {
        put("io_stream", json!(io.stream.name()));
        put("io_offset", json!(io.offset));
        put(
            if ev.action == Action::Input {
                "bytes_in"
            } else {
                "bytes_out"
            },
            json!(io.len),
        );
        put("io_text", json!(io.text));
        put("io_truncated", json!(io.truncated));
        put("io_line_end", json!(io.line_end));
        put("redacted", json!(io.redacted));
    }
    Value::Object(e)
}

/// Writes the record as one HEC envelope line.
pub fn write(ev: &SiemEvent, out: &mut Vec<u8>) {
    out.extend_from_slice(b"{\"time\":");
    out.extend_from_slice(epoch_seconds(ev.ts).as_bytes());
    if let Some(h) = ev.conn.host.as_ref().or(ev.conn.host_address.as_ref()) {
        out.extend_from_slice(b",\"host\":");
        serde_json::to_writer(&mut *out, h).expect("writing JSON to a Vec cannot fail");
    }
    out.extend_from_slice(b",\"source\":\"sshtrail\",\"sourcetype\":\"");
    out.extend_from_slice(SOURCETYPE.as_bytes());
    out.extend_from_slice(b"\",\"event\":");
    serde_json::to_writer(&mut *out, &event(ev)).expect("writing JSON to a Vec cannot fail");
    out.extend_from_slice(b"}\n");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn epoch() {
        assert_eq!(
            epoch_seconds(1_686_159_120_001_000_000),
            "1686159120.001000"
        );
        assert_eq!(epoch_seconds(0), "0.000000");
        assert_eq!(epoch_seconds(-1_500_000_000), "-1.500000");
        assert_eq!(epoch_seconds(999), "0.000000");
    }
}
