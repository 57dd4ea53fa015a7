//! OCSF 1.3.0 with the `host` profile: SSH Activity (`class_uid` 4007:
//! open, refuse, close, listen, traffic, other) for the SSH protocol's
//! happenings, Process Activity (`class_uid` 1007: launch, terminate) for
//! commands (exec requests and typed commands) and how the remote process
//! ended, and File System Activity (`class_uid` 1001: create, read, update,
//! delete, rename, set and get attributes, open, other) for SFTP and SCP
//! file operations and transferred files (with their SHA-256); a file
//! operation that names no path (SFTP's `init`, SCP's `times`) is SSH
//! Activity Other. One JSON event a line.
//!
//! Every event has the attributes the schema requires (`metadata` with the
//! product and version, `time` in milliseconds, `severity_id`,
//! `activity_id`, `category_uid`, `class_uid`, `type_uid` =
//! `class_uid * 100 + activity_id`, and per class `dst_endpoint` or
//! `actor`, `device` and `process`) and validates against the OCSF 1.3.0
//! JSON schema (checked in the tests). What OCSF has no attribute for sits
//! under `unmapped.sshtrail`.

use serde_json::{json, Map, Value};

use super::{
    is_ip, millis, path_directory, path_name, Action, EventOutcome, FileAction, FileInfo, SiemEvent,
};
use crate::channel::ForwardKind;

/// The OCSF schema version the events follow.
pub const OCSF_VERSION: &str = "1.3.0";

/// SSH Activity.
pub const SSH_ACTIVITY: u32 = 4007;
/// Process Activity.
pub const PROCESS_ACTIVITY: u32 = 1007;
/// File System Activity.
pub const FILE_ACTIVITY: u32 = 1001;

/// The File System Activity `activity_id` and caption of a file action
/// (`Other` is named by the operation).
fn file_activity(action: FileAction) -> (u32, &'static str) {
    match action {
        FileAction::Create => (1, "Create"),
        FileAction::Read | FileAction::Download => (2, "Read"),
        FileAction::Write | FileAction::Upload => (3, "Update"),
        FileAction::Delete => (4, "Delete"),
        FileAction::Rename => (5, "Rename"),
        FileAction::SetAttributes => (6, "Set Attributes"),
        FileAction::GetAttributes => (8, "Get Attributes"),
        FileAction::Open => (14, "Open"),
        FileAction::Other => (99, "Other"),
    }
}

/// True for a name the OCSF `hostname_t` pattern accepts.
fn is_hostname(s: &str) -> bool {
    !s.is_empty()
        && s.split('.').all(|label| {
            !label.is_empty()
                && label
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-')
                && !label.starts_with('-')
                && !label.ends_with('-')
        })
}

/// Class, activity id and activity name of a record.
pub fn classify(ev: &SiemEvent) -> (u32, u32, String) {
    let failed = ev.outcome == EventOutcome::Failure;
    let kind = ev.forward.as_ref().map(|f| f.kind);
    let open_or_refuse = || {
        if failed {
            (SSH_ACTIVITY, 5, "Refuse".to_string())
        } else {
            (SSH_ACTIVITY, 1, "Open".to_string())
        }
    };
    match ev.action {
        Action::ConnectionStart => (SSH_ACTIVITY, 1, "Open".to_string()),
        Action::ConnectionEnd => (SSH_ACTIVITY, 2, "Close".to_string()),
        Action::ChannelOpen => open_or_refuse(),
        Action::ChannelClose => (SSH_ACTIVITY, 2, "Close".to_string()),
        Action::DirectTcpip | Action::ForwardedTcpip => open_or_refuse(),
        Action::Streamlocal | Action::X11Forward | Action::AgentForward
            if kind.is_some_and(ForwardKind::is_channel) =>
        {
            open_or_refuse()
        }
        Action::TcpipForward => (SSH_ACTIVITY, 7, "Listen".to_string()),
        Action::Streamlocal if kind == Some(ForwardKind::StreamlocalForward) => {
            (SSH_ACTIVITY, 7, "Listen".to_string())
        }
        Action::Exec | Action::Command => (PROCESS_ACTIVITY, 1, "Launch".to_string()),
        Action::ExitStatus | Action::ExitSignal => (PROCESS_ACTIVITY, 2, "Terminate".to_string()),
        Action::Input | Action::Output | Action::ErrorOutput => {
            (SSH_ACTIVITY, 6, "Traffic".to_string())
        }
        Action::File(action) => {
            let op = || {
                ev.file
                    .as_ref()
                    .map_or("file", |f| f.op.as_str())
                    .to_string()
            };
            match file_activity(action) {
                _ if ev.file.as_ref().is_none_or(|f| f.path.is_none()) => (SSH_ACTIVITY, 99, op()),
                (99, _) => (FILE_ACTIVITY, 99, op()),
                (id, caption) => (FILE_ACTIVITY, id, caption.to_string()),
            }
        }
        _ => (
            SSH_ACTIVITY,
            99,
            ev.request
                .clone()
                .unwrap_or_else(|| ev.action.name().to_string()),
        ),
    }
}

/// OCSF `auth_type_id` and its caption for the gateway's method names.
fn auth_type(methods: &[String]) -> Option<(u32, String)> {
    let mapped = methods.iter().find_map(|m| {
        let id = match m.to_ascii_uppercase().replace(['-', ' '], "_").as_str() {
            "CERT" | "CERTIFICATE" => 1,
            "GSSAPI" | "GSSAPI_WITH_MIC" | "KERBEROS" => 2,
            "HOSTBASED" | "HOST_BASED" => 3,
            "KEYBOARD_INTERACTIVE" | "KBDINT" => 4,
            "PASSWORD" => 5,
            "PUBLICKEY" | "PUBLIC_KEY" | "PUBKEY" | "KEY" => 6,
            _ => return None,
        };
        let caption = match id {
            1 => "Certificate Based",
            2 => "GSSAPI",
            3 => "Host Based",
            4 => "Keyboard Interactive",
            5 => "Password",
            _ => "Public Key",
        };
        Some((id, caption.to_string()))
    });
    match mapped {
        Some(m) => Some(m),
        None if methods.is_empty() => None,
        None => Some((99, methods.join("+"))),
    }
}

/// A network endpoint from an address (IP or host name); `None` for neither.
fn address_endpoint(addr: Option<&str>, e: &mut Map<String, Value>) {
    match addr {
        Some(a) if is_ip(a) => {
            e.insert("ip".into(), json!(a));
        }
        Some(a) if is_hostname(a) => {
            e.insert("hostname".into(), json!(a));
        }
        _ => {}
    }
}

/// The OCSF event of a record.
pub fn document(ev: &SiemEvent) -> Value {
    let c = &ev.conn;
    let (class_uid, activity_id, activity_name) = classify(ev);
    let (class_name, category_uid, category_name) = match class_uid {
        SSH_ACTIVITY => ("SSH Activity", 4, "Network Activity"),
        FILE_ACTIVITY => ("File System Activity", 1, "System Activity"),
        _ => ("Process Activity", 1, "System Activity"),
    };
    let mut d = Map::new();
    d.insert("class_uid".into(), json!(class_uid));
    d.insert("class_name".into(), json!(class_name));
    d.insert("category_uid".into(), json!(category_uid));
    d.insert("category_name".into(), json!(category_name));
    d.insert("activity_id".into(), json!(activity_id));
    d.insert("activity_name".into(), json!(activity_name));
    d.insert(
        "type_uid".into(),
        json!(u64::from(class_uid) * 100 + u64::from(activity_id)),
    );
    d.insert(
        "type_name".into(),
        json!(format!("{class_name}: {activity_name}")),
    );
    d.insert("time".into(), json!(millis(ev.ts)));
    d.insert("severity_id".into(), json!(ev.severity.ocsf_id()));
    d.insert("severity".into(), json!(ev.severity.caption()));
    let (status_id, status) = match ev.outcome {
        EventOutcome::Success => (1, "Success"),
        EventOutcome::Failure => (2, "Failure"),
        EventOutcome::Unknown => (0, "Unknown"),
    };
    d.insert("status_id".into(), json!(status_id));
    d.insert("status".into(), json!(status));
    if let Some(r) = &ev.reason {
        d.insert("status_detail".into(), json!(r));
    }
    d.insert("message".into(), json!(ev.message));

    let mut metadata = Map::new();
    metadata.insert("version".into(), json!(OCSF_VERSION));
    metadata.insert(
        "product".into(),
        json!({"name": "sshtrail", "vendor_name": "sshtrail", "version": ev.product_version}),
    );
    metadata.insert("profiles".into(), json!(["host"]));
    metadata.insert("uid".into(), json!(ev.id));
    metadata.insert("sequence".into(), json!(ev.seq));
    metadata.insert("event_code".into(), json!(ev.action.name()));
    metadata.insert("original_time".into(), json!(ev.ts_text));
    metadata.insert("log_name".into(), json!("ssh-trail"));
    if let Some(id) = &c.connection_id {
        metadata.insert("correlation_uid".into(), json!(id));
    }
    if !c.tags.is_empty() {
        metadata.insert("labels".into(), json!(c.tags));
    }
    d.insert("metadata".into(), Value::Object(metadata));

    // The actor: the gateway's user, in their SSH session.
    let mut actor = Map::new();
    let mut user = Map::new();
    if let Some(u) = &c.user {
        user.insert("name".into(), json!(u));
    }
    if let Some(u) = &c.user_id {
        user.insert("uid".into(), json!(u));
    }
    if !user.is_empty() {
        actor.insert("user".into(), Value::Object(user));
    }
    let mut session = Map::new();
    if let Some(id) = &c.connection_id {
        session.insert("uid".into(), json!(id));
    }
    session.insert("is_remote".into(), json!(true));
    if c.authentication_method
        .iter()
        .any(|m| m.eq_ignore_ascii_case("MFA"))
    {
        session.insert("is_mfa".into(), json!(true));
    }
    actor.insert("session".into(), Value::Object(session));
    d.insert("actor".into(), Value::Object(actor));

    // The target host, as the device the event happened on.
    let mut device = Map::new();
    device.insert("type_id".into(), json!(0));
    device.insert("type".into(), json!("Unknown"));
    if let Some(h) = &c.host {
        device.insert("name".into(), json!(h));
    }
    if let Some(h) = &c.host_id {
        device.insert("uid".into(), json!(h));
    }
    address_endpoint(c.host_address.as_deref(), &mut device);
    if device.len() == 2 {
        // No metadata: OCSF needs one of name, uid, ip, hostname.
        device.insert("name".into(), json!("unknown"));
    }
    d.insert("device".into(), Value::Object(device));

    let mut unmapped = Map::new();
    if let Some(id) = &ev.channel_id {
        unmapped.insert("channel_id".into(), json!(id));
    }
    if let Some(t) = &ev.channel_type {
        unmapped.insert("channel_type".into(), json!(t));
    }
    if let Some(a) = &c.account {
        unmapped.insert("account".into(), json!(a));
    }
    if !c.authentication_method.is_empty() {
        unmapped.insert(
            "authentication_method".into(),
            json!(c.authentication_method),
        );
    }
    if let Some(r) = &ev.request {
        unmapped.insert("request".into(), json!(r));
    }
    if let Some(o) = ev.origin_name() {
        unmapped.insert("origin".into(), json!(o));
    }
    if let Some(a) = c
        .host_address
        .as_deref()
        .filter(|a| !is_ip(a) && !is_hostname(a))
    {
        unmapped.insert("target_address".into(), json!(a));
    }
    if let Some(a) = c
        .remote_address
        .as_deref()
        .filter(|a| !is_ip(a) && !is_hostname(a))
    {
        unmapped.insert("remote_address".into(), json!(a));
    }
    if let Some(p) = &ev.pty {
        unmapped.insert(
            "pty".into(),
            json!({"term": p.term, "columns": p.cols, "rows": p.rows}),
        );
    }
    if let Some((k, v)) = &ev.env {
        unmapped.insert("env".into(), json!({"name": k, "value": v}));
    }
    if let Some(s) = &ev.subsystem {
        unmapped.insert("subsystem".into(), json!(s));
    }
    if let Some(f) = &ev.forward {
        let mut fw = Map::new();
        fw.insert("kind".into(), json!(f.kind.name()));
        for (k, v) in [
            ("address", f.address.as_ref().map(|v| json!(v))),
            ("port", f.port.map(|v| json!(v))),
            ("originator", f.originator.as_ref().map(|v| json!(v))),
            ("originator_port", f.originator_port.map(|v| json!(v))),
            ("socket_path", f.socket_path.as_ref().map(|v| json!(v))),
        ] {
            if let Some(v) = v {
                fw.insert(k.into(), v);
            }
        }
        unmapped.insert("forward".into(), Value::Object(fw));
    }
    if let Some(s) = &ev.signal {
        let mut sig = Map::new();
        sig.insert("name".into(), json!(s.name));
        if let Some(core) = s.core_dumped {
            sig.insert("core_dumped".into(), json!(core));
        }
        if let Some(m) = &s.message {
            sig.insert("message".into(), json!(m));
        }
        unmapped.insert("signal".into(), Value::Object(sig));
    }
    if let Some(s) = &ev.session {
        unmapped.insert(
            "bytes".into(),
            json!({"stdin": s.bytes[0], "stdout": s.bytes[1], "stderr": s.bytes[2]}),
        );
        unmapped.insert(
            "integrity".into(),
            json!({"ok": s.integrity_ok, "verdict": s.integrity_verdict.name(), "problems": s.problems}),
        );
    }
    if let Some(f) = &ev.connection {
        let mut facts = Map::new();
        if let Some(s) = &f.status {
            facts.insert("status".into(), json!(s));
        }
        if let Some(n) = f.channels {
            facts.insert("channels".into(), json!(n));
        }
        if !facts.is_empty() {
            unmapped.insert("connection".into(), Value::Object(facts));
        }
    }
    if let Some(io) = &ev.io {
        unmapped.insert(
            "io".into(),
            json!({"stream": io.stream.name(), "offset": io.offset, "bytes": io.len,
                   "text": io.text, "truncated": io.truncated, "line_end": io.line_end}),
        );
        unmapped.insert("sshtrail".into(), json!({"redacted": io.redacted}));
    }
    if let Some(f) = &ev.file {
        let mut file = Map::new();
        file.insert("protocol".into(), json!(f.protocol.name()));
        file.insert("op".into(), json!(f.op));
        if let Some(p) = &f.path {
            file.insert("path".into(), json!(p));
        }
        if let Some(t) = &f.target {
            file.insert("target".into(), json!(t));
        }
        if !f.detail.is_empty() {
            file.insert("detail".into(), json!(f.detail));
        }
        if let Some(m) = f.mode_text() {
            file.insert("mode".into(), json!(m));
        }
        if let Some(c) = f.complete {
            file.insert("complete".into(), json!(c));
        }
        unmapped.insert("file".into(), Value::Object(file));
    }

    if class_uid == SSH_ACTIVITY {
        let mut dst = Map::new();
        if let Some(h) = &c.host {
            dst.insert("name".into(), json!(h));
        }
        if let Some(h) = &c.host_id {
            dst.insert("uid".into(), json!(h));
        }
        address_endpoint(c.host_address.as_deref(), &mut dst);
        dst.insert("svc_name".into(), json!("ssh"));
        d.insert("dst_endpoint".into(), Value::Object(dst));
        let mut src = Map::new();
        address_endpoint(c.remote_address.as_deref(), &mut src);
        if !src.is_empty() {
            d.insert("src_endpoint".into(), Value::Object(src));
        }
        if let Some((id, caption)) = auth_type(&c.authentication_method) {
            d.insert("auth_type_id".into(), json!(id));
            d.insert("auth_type".into(), json!(caption));
        }
        if let Some(id) = &c.connection_id {
            d.insert(
                "connection_info".into(),
                json!({"uid": id, "direction_id": 0, "direction": "Unknown", "protocol_name": "tcp"}),
            );
        }
        if let Some(s) = &ev.session {
            d.insert("start_time".into(), json!(millis(s.started)));
            d.insert("end_time".into(), json!(millis(s.ended)));
            d.insert("duration".into(), json!((s.duration() / 1_000_000) as i64));
            d.insert(
                "traffic".into(),
                json!({
                    "bytes_out": s.bytes_client_to_server(),
                    "bytes_in": s.bytes_server_to_client(),
                    "bytes": s.bytes_client_to_server() + s.bytes_server_to_client(),
                }),
            );
        }
        if let Some(f) = &ev.connection {
            d.insert("start_time".into(), json!(millis(f.started)));
            if let (Some(end), Some(duration)) = (f.ended, f.duration()) {
                d.insert("end_time".into(), json!(millis(end)));
                d.insert("duration".into(), json!((duration / 1_000_000) as i64));
            }
            if let (Some(a), Some(b)) = (f.bytes_client_to_server, f.bytes_server_to_client) {
                d.insert(
                    "traffic".into(),
                    json!({"bytes_out": a, "bytes_in": b, "bytes": a + b}),
                );
            }
        }
        if let Some(io) = &ev.io {
            let key = if io.stream == crate::channel::Stream::Stdin {
                "bytes_out"
            } else {
                "bytes_in"
            };
            d.insert("traffic".into(), json!({key: io.len, "bytes": io.len}));
        }
    } else if class_uid == FILE_ACTIVITY {
        if let Some(f) = &ev.file {
            if let Some(o) = file_object(f, f.path.as_deref(), true) {
                d.insert("file".into(), o);
            }
            if f.op.contains("rename") && ev.outcome == EventOutcome::Success {
                if let Some(o) = file_object(f, f.target.as_deref(), false) {
                    d.insert("file_result".into(), o);
                }
            }
            if let Some(code) = f.code {
                d.insert("status_code".into(), json!(code.to_string()));
            }
            d.insert("start_time".into(), json!(millis(f.started)));
            d.insert("end_time".into(), json!(millis(f.ended)));
            d.insert(
                "duration".into(),
                json!(((f.ended - f.started).max(0) / 1_000_000) as i64),
            );
        }
        if let Some(id) = &c.connection_id {
            d.insert("connection_uid".into(), json!(id));
        }
    } else {
        let mut process = Map::new();
        if let Some(p) = &ev.process {
            process.insert("uid".into(), json!(p.entity_id));
            if let Some(cl) = &p.command_line {
                process.insert("cmd_line".into(), json!(cl));
            }
            if let Some(n) = &p.name {
                process.insert("name".into(), json!(n));
            }
            if let Some(code) = p.exit_code {
                d.insert("exit_code".into(), json!(code));
            }
            let mut cmd = Map::new();
            if let Some(conf) = &p.confidence {
                cmd.insert("confidence".into(), json!(conf.name()));
            }
            if p.privileged {
                cmd.insert("privileged".into(), json!(true));
            }
            if !cmd.is_empty() {
                unmapped.insert("command".into(), Value::Object(cmd));
            }
        } else {
            process.insert("uid".into(), json!(ev.id));
        }
        if let Some(a) = &c.account {
            process.insert("user".into(), json!({"name": a}));
        }
        d.insert("process".into(), Value::Object(process));
    }
    d.insert("unmapped".into(), json!({ "sshtrail": unmapped }));
    Value::Object(d)
}

/// An OCSF `file` object for `path` of a file record: its name, path and
/// folder, type and, with `content`, the size and SHA-256 the record knows.
fn file_object(f: &FileInfo, path: Option<&str>, content: bool) -> Option<Value> {
    let path = path?;
    let mut o = Map::new();
    o.insert("name".into(), json!(path_name(path)));
    o.insert("path".into(), json!(path));
    if let Some(dir) = path_directory(path) {
        o.insert("parent_folder".into(), json!(dir));
    }
    let (type_id, type_name) = f.file_type.ocsf();
    o.insert("type_id".into(), json!(type_id));
    o.insert("type".into(), json!(type_name));
    if content {
        if let Some(size) = f.size {
            o.insert("size".into(), json!(size));
        }
        if let Some(h) = &f.sha256 {
            o.insert(
                "hashes".into(),
                json!([{"algorithm_id": 3, "algorithm": "SHA-256", "value": h}]),
            );
        }
    }
    Some(Value::Object(o))
}

/// Writes the record as one OCSF JSON line.
pub fn write(ev: &SiemEvent, out: &mut Vec<u8>) {
    serde_json::to_writer(&mut *out, &document(ev)).expect("writing JSON to a Vec cannot fail");
    out.push(b'\n');
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hostnames_and_auth() {
        assert!(is_hostname("db-prod-01.example.com"));
        assert!(!is_hostname("-x"));
        assert!(!is_hostname("a..b"));
        assert!(!is_hostname("db prod"));
        assert_eq!(
            auth_type(&["PASSWORD".into(), "MFA".into()]),
            Some((5, "Password".into()))
        );
        assert_eq!(
            auth_type(&["CERT".into()]),
            Some((1, "Certificate Based".into()))
        );
        assert_eq!(auth_type(&["SAML".into()]), Some((99, "SAML".into())));
        assert_eq!(auth_type(&[]), None);
    }
}
