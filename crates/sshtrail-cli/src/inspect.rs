//! `sshtrail inspect`: who did what, where, and how it ended.

use std::fmt::Write as _;
use std::io::Write;

use clap::Args;
use serde_json::json;
use sshtrail::channel::{direction_name, Channel, Outcome, Stream};
use sshtrail::time::{parse_rfc3339, Nanos};

use crate::cat::output_failed;
use crate::gather::{gather, ConnectionInput};
use crate::load::{channels, load_logs};
use crate::report::Reporter;
use crate::FormatArg;

/// Arguments of `sshtrail inspect`.
#[derive(Args, Debug)]
pub struct InspectArgs {
    /// Print one JSON object instead of a report for people.
    #[arg(long)]
    json: bool,
    /// Input layout.
    #[arg(long, value_enum, default_value_t = FormatArg::Auto)]
    format: FormatArg,
    /// Trail logs, or connection directories (a `connection.json` and one log per channel).
    #[arg(required = true, value_name = "PATH")]
    paths: Vec<String>,
}

/// Runs `sshtrail inspect`.
pub fn run(args: InspectArgs) -> u8 {
    let mut rep = Reporter::default();
    let conns = gather(&args.paths, &mut rep);
    let mut json_conns = Vec::new();
    let mut text = String::new();
    for conn in &conns {
        let logs = load_logs(conn, &mut rep);
        let chans = channels(&logs, conn, args.format.to_format(), &mut rep);
        if args.json {
            json_conns.push(connection_json(conn, &chans));
        } else {
            describe(&mut text, conn, &chans);
        }
    }
    let out = if args.json {
        format!("{}\n", json!({ "connections": json_conns }))
    } else {
        text
    };
    let mut stdout = std::io::stdout().lock();
    if let Err(e) = stdout
        .write_all(out.as_bytes())
        .and_then(|()| stdout.flush())
    {
        return output_failed(&e, &rep);
    }
    rep.status()
}

fn span(chans: &[Channel<'_>]) -> (Option<String>, Option<String>) {
    let start = chans
        .iter()
        .filter_map(|c| c.started.as_ref())
        .min_by_key(|s| s.0)
        .map(|s| s.1.clone());
    let end = chans
        .iter()
        .filter_map(|c| c.ended.as_ref())
        .max_by_key(|s| s.0)
        .map(|s| s.1.clone());
    (start, end)
}

/// The `connections[]` item of `inspect --json`.
pub fn connection_json(conn: &ConnectionInput, chans: &[Channel<'_>]) -> serde_json::Value {
    let m = conn.meta.as_ref();
    let (first, last) = span(chans);
    json!({
        "id": conn.id,
        "user": m.and_then(|m| m.user()),
        "host": m.and_then(|m| m.host()),
        "address": m.and_then(|m| m.target_host_address.as_deref()),
        "account": m.and_then(|m| m.target_host_account.as_deref()),
        "remote_address": m.and_then(|m| m.remote_address.as_deref()),
        "authentication_method": m.map(|m| &m.authentication_method),
        "status": m.and_then(|m| m.status.as_deref()),
        "tags": m.map(|m| &m.tags),
        "started": m.and_then(|m| m.connected.clone()).or(first),
        "ended": m.and_then(|m| m.disconnected.clone()).or(last),
        "metadata": conn.meta_path.as_ref().map(|p| p.display().to_string()),
        "channels": chans.iter().map(Channel::to_json).collect::<Vec<_>>(),
    })
}

/// `4m47s`, `1h02m03s`, `0.250s`.
pub fn human_duration(nanos: Nanos) -> String {
    let ms = nanos.max(0) / 1_000_000;
    let s = ms / 1000;
    match s {
        0..=59 => format!("{}.{:03}s", s, ms % 1000),
        60..=3599 => format!("{}m{:02}s", s / 60, s % 60),
        _ => format!("{}h{:02}m{:02}s", s / 3600, s / 60 % 60, s % 60),
    }
}

fn between(a: Option<&str>, b: Option<&str>) -> String {
    match (a, b) {
        (Some(a), Some(b)) => {
            let d = match (
                parse_rfc3339(a.as_bytes(), true),
                parse_rfc3339(b.as_bytes(), true),
            ) {
                (Ok(x), Ok(y)) => format!(" ({})", human_duration(y - x)),
                _ => String::new(),
            };
            format!("{a} -> {b}{d}")
        }
        (Some(a), None) => format!("{a} -> ?"),
        (None, Some(b)) => format!("? -> {b}"),
        (None, None) => "?".into(),
    }
}

fn describe(t: &mut String, conn: &ConnectionInput, chans: &[Channel<'_>]) {
    let m = conn.meta.as_ref();
    let _ = writeln!(
        t,
        "connection {}",
        conn.id.as_deref().unwrap_or("(unknown)")
    );
    match m {
        Some(m) => {
            let auth = if m.authentication_method.is_empty() {
                String::new()
            } else {
                format!("  auth {}", m.authentication_method.join(","))
            };
            let _ = writeln!(
                t,
                "  who      {} from {}{auth}",
                m.user().unwrap_or("?"),
                m.remote_address.as_deref().unwrap_or("?")
            );
            let _ = writeln!(
                t,
                "  where    {}@{} ({})",
                m.target_host_account.as_deref().unwrap_or("?"),
                m.host().unwrap_or("?"),
                m.target_host_address.as_deref().unwrap_or("?")
            );
            let _ = writeln!(
                t,
                "  when     {}",
                between(m.connected.as_deref(), m.disconnected.as_deref())
            );
            let mut status = m.status.clone().unwrap_or_else(|| "?".into());
            if !m.tags.is_empty() {
                status.push_str(&format!("  tags {}", m.tags.join(",")));
            }
            let _ = writeln!(t, "  status   {status}");
        }
        None => {
            let (a, b) = span(chans);
            let _ = writeln!(t, "  (no connection metadata found)");
            let _ = writeln!(t, "  when     {}", between(a.as_deref(), b.as_deref()));
        }
    }
    for ch in chans {
        let mut head = format!(
            "  channel {}  {}",
            ch.context.channel_id,
            ch.kind.as_deref().unwrap_or("(type unknown)")
        );
        match (&ch.exit_status, &ch.exit_signal) {
            (Some(s), _) => head.push_str(&format!("  exit {s}")),
            (None, Some((sig, core, msg))) => head.push_str(&format!(
                "  killed by SIG{sig}{}{}",
                if *core { " (core dumped)" } else { "" },
                if msg.is_empty() {
                    String::new()
                } else {
                    format!(": {msg}")
                }
            )),
            (None, None) => head.push_str("  no exit status"),
        }
        let _ = writeln!(t, "{head}");
        if let Some(p) = &ch.pty {
            let modes: Vec<String> = p
                .modes
                .iter()
                .filter(|(k, _)| {
                    matches!(
                        k.as_str(),
                        "ECHO" | "ICANON" | "ISPEED" | "OSPEED" | "IUTF8"
                    )
                })
                .map(|(k, v)| format!("{k}={v}"))
                .collect();
            let _ = writeln!(
                t,
                "    pty      {} {}x{}  {}",
                p.term,
                p.cols,
                p.rows,
                modes.join(" ")
            );
        }
        if !ch.resizes.is_empty() {
            let first = &ch.resizes[0];
            let last = &ch.resizes[ch.resizes.len() - 1];
            let _ = writeln!(
                t,
                "    resizes  {} (first {}x{} at {}, last {}x{} at {})",
                ch.resizes.len(),
                first.cols,
                first.rows,
                first.ts_text,
                last.cols,
                last.rows,
                last.ts_text
            );
        }
        if let Some(cmd) = &ch.exec {
            let _ = writeln!(t, "    exec     {cmd}");
        }
        if let Some(s) = &ch.subsystem {
            let _ = writeln!(t, "    subsys   {s}");
        }
        if !ch.env.is_empty() {
            let env: Vec<String> = ch.env.iter().map(|(k, v)| format!("{k}={v}")).collect();
            let _ = writeln!(t, "    env      {}", env.join(" "));
        }
        let _ = writeln!(
            t,
            "    time     {}",
            between(
                ch.started.as_ref().map(|s| s.1.as_str()),
                ch.ended.as_ref().map(|s| s.1.as_str())
            )
        );
        let _ = writeln!(
            t,
            "    bytes    stdin {}  stdout {}  stderr {}",
            ch.bytes_of(Stream::Stdin),
            ch.bytes_of(Stream::Stdout),
            ch.bytes_of(Stream::Stderr)
        );
        let failed: Vec<String> = ch
            .requests
            .iter()
            .filter(|r| matches!(r.outcome, Outcome::Failure(_)))
            .map(|r| format!("{} from {}", r.name, direction_name(r.direction)))
            .collect();
        let _ = writeln!(
            t,
            "    requests {}{}",
            ch.requests.len(),
            if failed.is_empty() {
                String::new()
            } else {
                format!(" ({} refused: {})", failed.len(), failed.join(", "))
            }
        );
        for f in &ch.forwards {
            let mut what = f.kind.clone();
            if let (Some(a), Some(p)) = (&f.address, f.port) {
                what.push_str(&format!(" {a}:{p}"));
            }
            if let (Some(a), Some(p)) = (&f.originator, f.originator_port) {
                what.push_str(&format!(" from {a}:{p}"));
            }
            if let Some(s) = &f.socket_path {
                what.push_str(&format!(" {s}"));
            }
            let outcome = match &f.outcome {
                Outcome::Failure(Some(why)) => format!("refused: {why}"),
                o => o.name().to_string(),
            };
            let _ = writeln!(
                t,
                "    forward  {what} by {}  {outcome}",
                direction_name(f.direction)
            );
        }
        if !ch.signals.is_empty() {
            let _ = writeln!(t, "    signals  {}", ch.signals.join(" "));
        }
        if ch.undecoded_count > 0 {
            let _ = writeln!(
                t,
                "    undecoded {} event(s) (first at line {})",
                ch.undecoded_count,
                ch.undecoded.first().map_or(0, |u| u.line)
            );
        }
        let verdict = if ch.integrity.ok {
            "OK (matches the connection metadata)".to_string()
        } else {
            format!("NOT OK: {}", ch.integrity.problems.join("; "))
        };
        let _ = writeln!(t, "    integrity {verdict}");
    }
    let _ = writeln!(t);
}

#[cfg(test)]
mod tests {
    use super::*;
    use sshtrail::time::NANOS_PER_SEC;

    #[test]
    fn durations_for_people() {
        assert_eq!(human_duration(250_000_000), "0.250s");
        assert_eq!(human_duration(287 * NANOS_PER_SEC), "4m47s");
        assert_eq!(human_duration(3723 * NANOS_PER_SEC), "1h02m03s");
        assert_eq!(human_duration(-5), "0.000s");
    }
}
