//! ArcSight Common Event Format: one line an event,
//! `CEF:0|Vendor|Product|Version|SignatureID|Name|Severity|Extension`.
//!
//! Escaping follows the CEF specification: in the header `\` and `|` are
//! escaped with a backslash; in extension values `\`, `=`, line feed and
//! carriage return become `\\`, `\=`, `\n` and `\r`. The specification
//! has no escape for other control characters (NUL, ESC, BEL, tab, DEL,
//! C1), which a terminal session's text is full of and which break
//! collectors and consoles: each is written as the text people read
//! elsewhere in sshtrail (`\e`, `\t`, `\x00`), its backslash escaped, so
//! a CEF parser reads back `\e`. In the header, which has no room for a
//! line, line breaks are written so too (`\n` as text). Keys are the standard ones
//! (`rt`, `act`, `outcome`, `reason`, `msg`, `suser`, `suid`, `duser`,
//! `src`, `shost`, `dst`, `dhost`, `app`, `proto`, `externalId`, `cat`,
//! `dproc`, `start`, `end`, `in`, `out`, and for file records `fname`,
//! `filePath`, `fsize`, `fileHash` (the SHA-256), `fileType`,
//! `filePermission`, `oldFileName`/`oldFilePath` (a rename's old name:
//! `fname` is the new one)) and the custom `csN`/`cnN` pairs
//! with their `csNLabel`/`cnNLabel`:
//!
//! | key | label | value |
//! |---|---|---|
//! | cs1 | connectionId | the connection id |
//! | cs2 | channelId | the channel id |
//! | cs3 | tags | the connection's tags, comma separated |
//! | cs4 | authMethod | the authentication methods, comma separated |
//! | cs5 | channelType | the channel type |
//! | cs6 | command, env, forward, signal, pty, subsystem, request, ioText, fileOp | what the record is about |
//! | cn1 | exitCode | the exit status |
//! | cn2 | durationMs | the channel's duration (close records) |
//! | cn3 | ioTruncated | 1 when the text was cut (io records) |
//! | cn4 | redacted | 1 when secret bytes typed at a prompt show as `*` (io records) |
//!
//! Empty values are left out (CEF parsers do not agree on them).

use super::{ecs, is_ip, millis, Action, SiemEvent};

/// Writes a control character as the escaped text of its escape (`\\e`,
/// which a parser reads as `\e`); `false` for any other character.
fn control(c: char, out: &mut String) -> bool {
    match crate::encode::pretty::control_escape(c) {
        Some(escaped) => {
            out.push('\\');
            out.push_str(&escaped);
            true
        }
        None => false,
    }
}

/// Escapes a header field.
pub(crate) fn escape_header(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '|' => out.push_str("\\|"),
            c if control(c, &mut out) => {}
            c => out.push(c),
        }
    }
    out
}

/// Escapes an extension value.
pub(crate) fn escape_value(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '=' => out.push_str("\\="),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            c if control(c, &mut out) => {}
            c => out.push(c),
        }
    }
    out
}

/// The CEF extension of a record: its key-value pairs, in the order they
/// are written, unescaped.
pub fn extension(ev: &SiemEvent) -> Vec<(&'static str, String)> {
    let c = &ev.conn;
    let mut kv: Vec<(&'static str, String)> = Vec::new();
    let mut add = |k: &'static str, v: Option<String>| {
        if let Some(v) = v.filter(|v| !v.is_empty()) {
            kv.push((k, v));
        }
    };
    add("rt", Some(millis(ev.ts).to_string()));
    add("act", Some(ev.action.name().to_string()));
    add("outcome", Some(ev.outcome.name().to_string()));
    add("reason", ev.reason.clone());
    add("msg", Some(ev.message.clone()));
    add("cat", Some(ecs::categorize(ev).0.to_string()));
    add("externalId", Some(ev.id.clone()));
    add("app", Some("SSH".to_string()));
    add("proto", Some("TCP".to_string()));
    add("suser", c.user.clone());
    add("suid", c.user_id.clone());
    add("duser", c.account.clone());
    match c.remote_address.as_deref() {
        Some(a) if is_ip(a) => add("src", Some(a.to_string())),
        a => add("shost", a.map(str::to_string)),
    }
    match c.host_address.as_deref() {
        Some(a) if is_ip(a) => {
            add("dst", Some(a.to_string()));
            add("dhost", c.host.clone());
        }
        a => add("dhost", c.host.clone().or(a.map(str::to_string))),
    }
    add(
        "cs1Label",
        c.connection_id.as_ref().map(|_| "connectionId".into()),
    );
    add("cs1", c.connection_id.clone());
    if let Some(id) = &ev.channel_id {
        add("cs2Label", Some("channelId".into()));
        add("cs2", Some(id.clone()));
    }
    if !c.tags.is_empty() {
        add("cs3Label", Some("tags".into()));
        add("cs3", Some(c.tags.join(",")));
    }
    if !c.authentication_method.is_empty() {
        add("cs4Label", Some("authMethod".into()));
        add("cs4", Some(c.authentication_method.join(",")));
    }
    if let Some(t) = &ev.channel_type {
        add("cs5Label", Some("channelType".into()));
        add("cs5", Some(t.clone()));
    }
    let detail: Option<(&str, String)> = match ev.action {
        Action::ConnectionStart | Action::ConnectionEnd => ev
            .connection
            .as_ref()
            .and_then(|f| f.status.clone())
            .map(|s| ("status", s)),
        Action::Exec | Action::Command => ev
            .process
            .as_ref()
            .and_then(|p| p.command_line.clone())
            .map(|c| ("command", c)),
        Action::Env => ev.env.as_ref().map(|(k, v)| ("env", format!("{k}={v}"))),
        Action::Signal | Action::ExitSignal => {
            ev.signal.as_ref().map(|s| ("signal", s.name.clone()))
        }
        Action::Pty => ev
            .pty
            .as_ref()
            .map(|p| ("pty", format!("{} {}x{}", p.term, p.cols, p.rows))),
        Action::Subsystem => ev.subsystem.clone().map(|s| ("subsystem", s)),
        Action::RequestFailed => ev.request.clone().map(|r| ("request", r)),
        Action::Input | Action::Output | Action::ErrorOutput => {
            ev.io.as_ref().map(|io| ("ioText", io.text.clone()))
        }
        Action::File(_) => ev
            .file
            .as_ref()
            .map(|f| ("fileOp", format!("{} {}", f.protocol.name(), f.op))),
        _ => ev
            .forward
            .as_ref()
            .map(|f| ("forward", super::records::forward_text(f))),
    };
    if let Some((label, value)) = detail.filter(|(_, v)| !v.is_empty()) {
        add("cs6Label", Some(label.into()));
        add("cs6", Some(value));
    }
    if let Some(p) = &ev.process {
        add("dproc", p.name.clone());
        if let Some(code) = p.exit_code {
            add("cn1Label", Some("exitCode".into()));
            add("cn1", Some(code.to_string()));
        }
    }
    if let Some(s) = &ev.session {
        add("start", Some(millis(s.started).to_string()));
        add("end", Some(millis(s.ended).to_string()));
        add("in", Some(s.bytes_client_to_server().to_string()));
        add("out", Some(s.bytes_server_to_client().to_string()));
        add("cn2Label", Some("durationMs".into()));
        add("cn2", Some((s.duration() / 1_000_000).to_string()));
    }
    if let Some(f) = &ev.connection {
        add("start", Some(millis(f.started).to_string()));
        if let (Some(end), Some(duration)) = (f.ended, f.duration()) {
            add("end", Some(millis(end).to_string()));
            add("cn2Label", Some("durationMs".into()));
            add("cn2", Some((duration / 1_000_000).to_string()));
        }
        add("in", f.bytes_client_to_server.map(|b| b.to_string()));
        add("out", f.bytes_server_to_client.map(|b| b.to_string()));
    }
    if let Some(f) = &ev.file {
        // A rename: the file is named by its new name, the old one beside.
        let renamed = f.op.contains("rename") && f.target.is_some();
        let (now, before) = if renamed {
            (f.target.as_deref(), f.path.as_deref())
        } else {
            (f.path.as_deref(), None)
        };
        add("fname", now.map(|p| super::path_name(p).to_string()));
        add("filePath", now.map(str::to_string));
        add("fsize", f.size.map(|s| s.to_string()));
        add("fileHash", f.sha256.clone());
        add("fileType", f.file_type.ecs().map(str::to_string));
        add("filePermission", f.mode_text());
        add(
            "oldFileName",
            before.map(|p| super::path_name(p).to_string()),
        );
        add("oldFilePath", before.map(str::to_string));
        add("start", Some(millis(f.started).to_string()));
        add("end", Some(millis(f.ended).to_string()));
    }
    if let Some(io) = &ev.io {
        let key = if ev.action == Action::Input {
            "in"
        } else {
            "out"
        };
        add(key, Some(io.len.to_string()));
        add("cn3Label", Some("ioTruncated".into()));
        add("cn3", Some(u8::from(io.truncated).to_string()));
        add("cn4Label", Some("redacted".into()));
        add("cn4", Some(u8::from(io.redacted).to_string()));
    }
    kv
}

/// Writes the record as one CEF line.
pub fn write(ev: &SiemEvent, out: &mut Vec<u8>) {
    let header = [
        "sshtrail",
        "sshtrail",
        ev.product_version,
        ev.action.name(),
        ev.action.title(),
    ];
    out.extend_from_slice(b"CEF:0");
    for h in header {
        out.push(b'|');
        out.extend_from_slice(escape_header(h).as_bytes());
    }
    out.extend_from_slice(format!("|{}|", ev.severity.cef()).as_bytes());
    for (i, (k, v)) in extension(ev).iter().enumerate() {
        if i > 0 {
            out.push(b' ');
        }
        out.extend_from_slice(k.as_bytes());
        out.push(b'=');
        out.extend_from_slice(escape_value(v).as_bytes());
    }
    out.push(b'\n');
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes() {
        assert_eq!(escape_header(r"a|b\c"), r"a\|b\\c");
        assert_eq!(escape_header("a\nb\x1b"), r"a\\nb\\e");
        assert_eq!(escape_value("a=b\\c\nd\re|f"), r"a\=b\\c\nd\re|f");
        assert_eq!(
            escape_value("\0\x1b[1m\x07\t\x7f\u{9b}ü"),
            r"\\x00\\e[1m\\x07\\t\\x7f\\x9bü"
        );
    }
}
