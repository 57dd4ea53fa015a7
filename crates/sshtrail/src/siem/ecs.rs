//! Elastic Common Schema 8.11: one JSON document a line.
//!
//! Only ECS field names at the top level (checked in the tests against the
//! official field reference); everything of our own sits under `sshtrail.*`.
//! The categorization fields use ECS's allowed values, and each
//! `event.type` is one ECS expects for the `event.category` beside it.

use std::borrow::Cow;
use std::sync::Arc;

use serde_json::{json, Value};

use crate::codec::json::push_serde_json_str;

use super::{
    is_ip, rfc3339, Action, ConnInfo, EventOutcome, FileAction, FileType, IoChunk, SiemEvent,
};

/// The ECS version the documents follow.
pub const ECS_VERSION: &str = "8.11.0";

/// A document being built: its fields as dotted paths, the literals of
/// [`build`], each with its value, in the order they were set. Values borrow
/// from the record where they can, so a record a line (`--io`) costs no
/// allocation per field name and no copy of its text, and the document is
/// written straight as JSON ([`write`]) with no tree of maps built and
/// dropped a record. The JSON is a `serde_json::Value`'s: keys sorted by
/// bytes at each level, strings escaped as serde_json escapes them.
#[derive(Default)]
struct Doc<'a>(Vec<(&'static str, Node<'a>)>);

#[derive(Clone)]
enum Node<'a> {
    Str(Cow<'a, str>),
    /// An array of strings.
    Strs(Vec<&'a str>),
    Json(Value),
}

impl<'a> From<&'a str> for Node<'a> {
    fn from(s: &'a str) -> Self {
        Node::Str(Cow::Borrowed(s))
    }
}

impl<'a> From<&'a String> for Node<'a> {
    fn from(s: &'a String) -> Self {
        Node::Str(Cow::Borrowed(s))
    }
}

impl From<String> for Node<'_> {
    fn from(s: String) -> Self {
        Node::Str(Cow::Owned(s))
    }
}

impl<'a> From<Vec<&'a str>> for Node<'a> {
    fn from(v: Vec<&'a str>) -> Self {
        Node::Strs(v)
    }
}

/// The strings of `v`, borrowed.
fn strs(v: &[String]) -> Vec<&str> {
    v.iter().map(String::as_str).collect()
}

impl From<Value> for Node<'_> {
    fn from(v: Value) -> Self {
        Node::Json(v)
    }
}

macro_rules! node_from_json {
    ($($t:ty),*) => {$(
        impl From<$t> for Node<'_> {
            fn from(v: $t) -> Self {
                Node::Json(Value::from(v))
            }
        }
    )*};
}
node_from_json!(bool, u8, u16, u32, u64, i32, i64, usize);

/// Sets `path` (dotted) in `doc`; set again, the later value is kept.
fn put<'a>(doc: &mut Doc<'a>, path: &'static str, value: impl Into<Node<'a>>) {
    doc.0.push((path, value.into()));
}

/// Whether `path` is a dotted path of ECS-style names: `a-z`, `0-9`, `_`
/// and `@`. Every such byte sorts above `.`, so sorting the paths by their
/// bytes gives nested maps' order (component by component, each by bytes),
/// and no name needs escaping in JSON.
fn is_plain_path(path: &str) -> bool {
    path.bytes()
        .all(|c| matches!(c, b'a'..=b'z' | b'0'..=b'9' | b'_' | b'@' | b'.'))
}

impl Doc<'_> {
    /// Writes the document as one compact JSON object.
    fn write_json(mut self, out: &mut Vec<u8>) {
        // Stable: a path set twice keeps its later value last.
        self.0.sort_by(|a, b| a.0.cmp(b.0));
        let fields = &self.0;
        // The objects open, outermost first, and whether the innermost has
        // a member written yet.
        let mut open: Vec<&[u8]> = Vec::new();
        let mut has_member = false;
        out.push(b'{');
        for (i, (path, node)) in fields.iter().enumerate() {
            if fields.get(i + 1).is_some_and(|next| next.0 == *path) {
                continue;
            }
            debug_assert!(is_plain_path(path), "{path}");
            debug_assert!(
                fields
                    .get(i + 1)
                    .is_none_or(|next| !next.0.starts_with(&format!("{path}."))),
                "{path} is both a value and an object"
            );
            let mut names = path.as_bytes().split(|&c| c == b'.').peekable();
            let mut keep = 0;
            while keep < open.len() && names.peek() == Some(&open[keep]) {
                names.next();
                keep += 1;
            }
            for _ in keep..open.len() {
                out.push(b'}');
                has_member = true;
            }
            open.truncate(keep);
            while let Some(name) = names.next() {
                if has_member {
                    out.push(b',');
                }
                out.push(b'"');
                out.extend_from_slice(name);
                out.extend_from_slice(b"\":");
                if names.peek().is_some() {
                    out.push(b'{');
                    open.push(name);
                    has_member = false;
                } else {
                    has_member = true;
                }
            }
            match node {
                Node::Str(text) => push_serde_json_str(out, text),
                Node::Strs(items) => {
                    out.push(b'[');
                    for (k, item) in items.iter().enumerate() {
                        if k > 0 {
                            out.push(b',');
                        }
                        push_serde_json_str(out, item);
                    }
                    out.push(b']');
                }
                Node::Json(value) => {
                    // Writing into a Vec cannot fail; a value that could not
                    // be written (none can) would leave it unfinished.
                    let _ = serde_json::to_writer(&mut *out, value);
                }
            }
        }
        for _ in 0..open.len() {
            out.push(b'}');
        }
        out.push(b'}');
    }
}

fn put_opt<'a, T: Into<Node<'a>>>(doc: &mut Doc<'a>, path: &'static str, value: Option<T>) {
    if let Some(v) = value {
        put(doc, path, v);
    }
}

/// `event.category` and `event.type` of a record.
pub fn categorize(ev: &SiemEvent) -> (&'static str, Vec<&'static str>) {
    let forward_channel = ev.forward.as_ref().is_some_and(|f| f.kind.is_channel());
    let verdict = match ev.outcome {
        EventOutcome::Success => Some("allowed"),
        EventOutcome::Failure => Some("denied"),
        EventOutcome::Unknown => None,
    };
    let network = |mut types: Vec<&'static str>| {
        types.extend(verdict);
        ("network", types)
    };
    match ev.action {
        Action::ConnectionStart => ("session", vec!["start"]),
        Action::ConnectionEnd => ("session", vec!["end"]),
        Action::ChannelOpen if ev.forward.is_some() => network(vec!["connection", "start"]),
        Action::ChannelOpen => ("session", vec!["start"]),
        Action::ChannelClose if ev.forward.is_some() => ("network", vec!["connection", "end"]),
        Action::ChannelClose => ("session", vec!["end"]),
        Action::Pty | Action::Env | Action::RequestFailed => ("session", vec!["info"]),
        Action::Shell | Action::Exec | Action::Subsystem | Action::Command => {
            ("process", vec!["start"])
        }
        Action::CancelTcpipForward => network(vec!["end"]),
        a if a.is_forward() && forward_channel => network(vec!["connection", "start"]),
        a if a.is_forward() => network(vec!["start"]),
        Action::ExitStatus | Action::ExitSignal => ("process", vec!["end"]),
        Action::File(a) => (
            "file",
            vec![match a {
                FileAction::Create => "creation",
                FileAction::Open | FileAction::Read | FileAction::Download => "access",
                FileAction::Write
                | FileAction::Upload
                | FileAction::Rename
                | FileAction::SetAttributes => "change",
                FileAction::Delete => "deletion",
                FileAction::GetAttributes | FileAction::Other => "info",
            }],
        ),
        _ => ("process", vec!["info"]),
    }
}

/// The fields every record of the connection `c` carries, whatever it is
/// about: who, where, and the connection's own ids ([`EcsWriter`] writes
/// them once a connection).
fn conn_fields(c: &ConnInfo) -> Doc<'_> {
    let mut doc = Doc::default();
    let d = &mut doc;
    // Who, where.
    put_opt(d, "user.name", c.user.as_ref());
    put_opt(d, "user.id", c.user_id.as_ref());
    put_opt(d, "user.effective.name", c.account.as_ref());
    put_opt(d, "host.name", c.host.as_ref());
    put_opt(d, "host.id", c.host_id.as_ref());
    put_opt(d, "host.ip", c.host_ip().map(|ip| vec![ip]));
    if let Some(a) = &c.host_address {
        put(d, "destination.address", a);
        put(
            d,
            if is_ip(a) {
                "destination.ip"
            } else {
                "destination.domain"
            },
            a,
        );
    }
    if let Some(a) = &c.remote_address {
        put(d, "source.address", a);
        put(
            d,
            if is_ip(a) {
                "source.ip"
            } else {
                "source.domain"
            },
            a,
        );
    }
    put(d, "network.protocol", "ssh");
    put(d, "network.transport", "tcp");
    let mut users: Vec<&str> = c
        .user
        .iter()
        .chain(c.account.iter())
        .map(String::as_str)
        .collect();
    users.dedup();
    if !users.is_empty() {
        put(d, "related.user", users);
    }
    let mut ips: Vec<&str> = [c.remote_ip(), c.host_ip()].into_iter().flatten().collect();
    ips.dedup();
    if !ips.is_empty() {
        put(d, "related.ip", ips);
    }
    if let Some(h) = &c.host {
        put(d, "related.hosts", vec![h.as_str()]);
    }
    if !c.tags.is_empty() {
        put(d, "tags", strs(&c.tags));
    }

    put_opt(d, "sshtrail.connection_id", c.connection_id.as_ref());
    if !c.authentication_method.is_empty() {
        put(
            d,
            "sshtrail.authentication_method",
            strs(&c.authentication_method),
        );
    }
    doc
}

/// The ECS document of a record.
fn build(ev: &SiemEvent) -> Doc<'_> {
    let mut d = Doc::default();
    let c = &ev.conn;
    put(&mut d, "@timestamp", rfc3339(ev.ts));
    put(&mut d, "ecs.version", ECS_VERSION);
    put(&mut d, "message", &ev.message);

    let (category, types) = categorize(ev);
    put(&mut d, "event.kind", "event");
    put(&mut d, "event.category", vec![category]);
    put(&mut d, "event.type", types);
    put(&mut d, "event.action", ev.action.name());
    put(&mut d, "event.outcome", ev.outcome.name());
    put(&mut d, "event.dataset", "sshtrail.ssh");
    put(&mut d, "event.module", "sshtrail");
    put(&mut d, "event.id", &ev.id);
    put(&mut d, "event.sequence", ev.seq);
    put(&mut d, "event.severity", ev.severity.ocsf_id());
    put_opt(&mut d, "event.reason", ev.reason.as_ref());

    d.0.extend(conn_fields(c).0);

    // Ours.
    put_opt(&mut d, "sshtrail.channel_id", ev.channel_id.as_ref());
    put_opt(&mut d, "sshtrail.channel_type", ev.channel_type.as_ref());
    put_opt(&mut d, "sshtrail.request", ev.request.as_ref());
    put_opt(&mut d, "sshtrail.origin", ev.origin_name());

    if let Some(p) = &ev.pty {
        put(&mut d, "sshtrail.pty.term", &p.term);
        put(&mut d, "sshtrail.pty.columns", p.cols);
        put(&mut d, "sshtrail.pty.rows", p.rows);
    }
    if let Some(p) = &ev.process {
        put(&mut d, "process.entity_id", &p.entity_id);
        put_opt(&mut d, "process.command_line", p.command_line.as_ref());
        if !p.args.is_empty() {
            put(&mut d, "process.args", strs(&p.args));
            put(&mut d, "process.args_count", p.args.len());
        }
        put_opt(&mut d, "process.name", p.name.as_ref());
        put(&mut d, "process.interactive", p.interactive);
        put_opt(&mut d, "process.exit_code", p.exit_code);
        put_opt(&mut d, "process.user.name", c.account.as_ref());
        if let (true, Some(t)) = (p.interactive, &ev.pty) {
            put(&mut d, "process.tty.columns", t.cols);
            put(&mut d, "process.tty.rows", t.rows);
        }
        if p.privileged {
            put(&mut d, "sshtrail.command.privileged", true);
        }
        put_opt(
            &mut d,
            "sshtrail.command.confidence",
            p.confidence.map(|c| c.name()),
        );
    }
    if let Some((k, v)) = &ev.env {
        put(&mut d, "sshtrail.env.name", k);
        put(&mut d, "sshtrail.env.value", v);
    }
    put_opt(&mut d, "sshtrail.subsystem", ev.subsystem.as_ref());
    if let Some(f) = &ev.forward {
        put(&mut d, "sshtrail.forward.kind", f.kind.name());
        put_opt(&mut d, "sshtrail.forward.address", f.address.as_ref());
        put_opt(&mut d, "sshtrail.forward.port", f.port);
        put_opt(&mut d, "sshtrail.forward.originator", f.originator.as_ref());
        put_opt(
            &mut d,
            "sshtrail.forward.originator_port",
            f.originator_port,
        );
        put_opt(
            &mut d,
            "sshtrail.forward.socket_path",
            f.socket_path.as_ref(),
        );
    }
    if let Some(s) = &ev.signal {
        put(&mut d, "sshtrail.signal.name", &s.name);
        put_opt(&mut d, "sshtrail.signal.core_dumped", s.core_dumped);
        put_opt(&mut d, "sshtrail.signal.message", s.message.as_ref());
    }
    if let Some(s) = &ev.session {
        put(&mut d, "event.start", rfc3339(s.started));
        put(&mut d, "event.end", rfc3339(s.ended));
        put(&mut d, "event.duration", json!(s.duration() as i64));
        put(&mut d, "source.bytes", s.bytes_client_to_server());
        put(&mut d, "destination.bytes", s.bytes_server_to_client());
        put(
            &mut d,
            "network.bytes",
            s.bytes_client_to_server() + s.bytes_server_to_client(),
        );
        put(&mut d, "sshtrail.bytes.stdin", s.bytes[0]);
        put(&mut d, "sshtrail.bytes.stdout", s.bytes[1]);
        put(&mut d, "sshtrail.bytes.stderr", s.bytes[2]);
        put(&mut d, "sshtrail.integrity.ok", s.integrity_ok);
        put(
            &mut d,
            "sshtrail.integrity.verdict",
            s.integrity_verdict.name(),
        );
        if !s.problems.is_empty() {
            put(&mut d, "sshtrail.integrity.problems", strs(&s.problems));
        }
    }
    if let Some(f) = &ev.connection {
        put(&mut d, "event.start", rfc3339(f.started));
        if let (Some(end), Some(duration)) = (f.ended, f.duration()) {
            put(&mut d, "event.end", rfc3339(end));
            put(&mut d, "event.duration", json!(duration as i64));
        }
        put_opt(&mut d, "source.bytes", f.bytes_client_to_server);
        put_opt(&mut d, "destination.bytes", f.bytes_server_to_client);
        if let (Some(a), Some(b)) = (f.bytes_client_to_server, f.bytes_server_to_client) {
            put(&mut d, "network.bytes", a + b);
        }
        put_opt(&mut d, "sshtrail.connection.status", f.status.as_ref());
        put_opt(&mut d, "sshtrail.connection.channels", f.channels);
    }
    if let Some(io) = &ev.io {
        put(&mut d, "process.io.text", &io.text);
        if ev.pty.is_some() {
            put(&mut d, "process.io.type", "tty");
        }
        put(&mut d, "process.io.total_bytes_captured", io.kept);
        if io.truncated {
            put(&mut d, "process.io.total_bytes_skipped", io.len - io.kept);
            put(
                &mut d,
                "process.io.bytes_skipped",
                json!([{"offset": io.kept, "length": io.len - io.kept}]),
            );
        }
        put(&mut d, "sshtrail.io.stream", io.stream.name());
        put(&mut d, "sshtrail.io.offset", io.offset);
        put(&mut d, "sshtrail.io.bytes", io.len);
        put(&mut d, "sshtrail.io.truncated", io.truncated);
        put(&mut d, "sshtrail.io.line_end", io.line_end);
        put(&mut d, "sshtrail.redacted", io.redacted);
    }
    if let Some(f) = &ev.file {
        put_opt(&mut d, "file.path", f.path.as_ref());
        put_opt(&mut d, "file.name", f.name().map(str::to_string));
        put_opt(&mut d, "file.directory", f.directory().map(str::to_string));
        put_opt(&mut d, "file.type", f.file_type.ecs());
        put_opt(&mut d, "file.size", f.size);
        put_opt(&mut d, "file.hash.sha256", f.sha256.as_ref());
        put_opt(&mut d, "file.mode", f.mode_text());
        if f.file_type == FileType::Symlink {
            put_opt(&mut d, "file.target_path", f.target.as_ref());
        }
        put(&mut d, "event.start", rfc3339(f.started));
        put(&mut d, "event.end", rfc3339(f.ended));
        put(
            &mut d,
            "event.duration",
            json!((f.ended - f.started).max(0) as i64),
        );
        put(&mut d, "sshtrail.file.protocol", f.protocol.name());
        put(&mut d, "sshtrail.file.op", &f.op);
        put_opt(&mut d, "sshtrail.file.target", f.target.as_ref());
        if !f.detail.is_empty() {
            put(&mut d, "sshtrail.file.detail", &f.detail);
        }
        put_opt(&mut d, "sshtrail.file.status_code", f.code);
        put_opt(&mut d, "sshtrail.file.complete", f.complete);
    }
    // Derived: one precision, as `@timestamp` (the log's own text is
    // evidence, kept by `cat --to jsonl`).
    put(&mut d, "sshtrail.ts", rfc3339(ev.ts));
    d
}

/// Writes the record as one ECS JSON line.
pub fn write(ev: &SiemEvent, out: &mut Vec<u8>) {
    build(ev).write_json(out);
    out.push(b'\n');
}

/// What every record of one connection writes the same, as JSON members
/// written once ([`conn_fields`] through [`Doc::write_json`], so the bytes
/// are the full build's): each object of the record's top level (or member
/// of `sshtrail`) that only the connection decides, empty when the
/// connection has none of its fields.
struct ConnFragments {
    /// The connection they were written from (held, so that its address is
    /// not reused by another connection while these are kept).
    conn: Arc<ConnInfo>,
    /// `"destination":{...},`
    destination: Vec<u8>,
    /// `"host":{...},`
    host: Vec<u8>,
    /// `"related":{...},`
    related: Vec<u8>,
    /// `"source":{...},`
    source: Vec<u8>,
    /// `"authentication_method":[...],` (a member of `sshtrail`).
    authentication_method: Vec<u8>,
    /// `"connection_id":"...",` (a member of `sshtrail`).
    connection_id: Vec<u8>,
    /// `,"tags":[...],"user":{...}`: the last members of the record.
    tail: Vec<u8>,
}

impl ConnFragments {
    fn new(conn: &Arc<ConnInfo>) -> ConnFragments {
        let fields = conn_fields(conn).0;
        // The members of the fields under `prefix` (a dotted path's start),
        // as the full build writes them, between the braces of their object.
        let members = |prefixes: &[&str], inner: bool| -> Vec<u8> {
            let doc = Doc(fields
                .iter()
                .filter(|(path, _)| prefixes.iter().any(|p| path.starts_with(p)))
                .cloned()
                .collect());
            if doc.0.is_empty() {
                return Vec::new();
            }
            let mut json = Vec::new();
            doc.write_json(&mut json);
            // `{...}`, and `{"sshtrail":{...}}` for a member of `sshtrail`.
            let skip = if inner { "{\"sshtrail\":{".len() } else { 1 };
            let keep = if inner { 2 } else { 1 };
            json.get(skip..json.len().saturating_sub(keep))
                .unwrap_or_default()
                .to_vec()
        };
        let with_comma = |mut m: Vec<u8>| {
            if !m.is_empty() {
                m.push(b',');
            }
            m
        };
        let mut tail = Vec::new();
        for m in [members(&["tags"], false), members(&["user."], false)] {
            if !m.is_empty() {
                tail.push(b',');
                tail.extend_from_slice(&m);
            }
        }
        ConnFragments {
            conn: Arc::clone(conn),
            destination: with_comma(members(&["destination."], false)),
            host: with_comma(members(&["host."], false)),
            related: with_comma(members(&["related."], false)),
            source: with_comma(members(&["source."], false)),
            authentication_method: with_comma(members(&["sshtrail.authentication_method"], true)),
            connection_id: with_comma(members(&["sshtrail.connection_id"], true)),
            tail,
        }
    }
}

/// Writes ECS records, the records of a line of data (`--io`: nearly all
/// of them) from the connection's fields written once ([`ConnFragments`])
/// and the record's own between them, in the order the full build sorts
/// them into; any other record through the full build. Either way the
/// bytes are [`write`]'s: a line record's fields were a sorted tree of
/// some forty fields built and written a line, most of it the same for
/// every line of a connection.
#[derive(Default)]
pub(crate) struct EcsWriter {
    conn: Option<ConnFragments>,
    /// A time's text, reused.
    time: String,
    /// The time `time` is the text of: the lines of one chunk of data
    /// share their time, written once.
    time_of: Option<crate::time::Nanos>,
}

impl EcsWriter {
    /// Writes the record as one ECS JSON line.
    pub fn write(&mut self, ev: &SiemEvent, out: &mut Vec<u8>) {
        match line_of(ev) {
            Some(io) => self.write_line(ev, io, out),
            None => write(ev, out),
        }
    }

    fn write_line(&mut self, ev: &SiemEvent, io: &IoChunk, out: &mut Vec<u8>) {
        if !self
            .conn
            .as_ref()
            .is_some_and(|f| Arc::ptr_eq(&f.conn, &ev.conn))
        {
            self.conn = Some(ConnFragments::new(&ev.conn));
        }
        let Some(frag) = &self.conn else { return };
        let time = &mut self.time;
        if self.time_of != Some(ev.ts) {
            time.clear();
            crate::time::write_rfc3339(ev.ts, time);
            self.time_of = Some(ev.ts);
        }

        out.extend_from_slice(b"{\"@timestamp\":");
        push_serde_json_str(out, time);
        out.push(b',');
        out.extend_from_slice(&frag.destination);
        out.extend_from_slice(b"\"ecs\":{\"version\":");
        push_serde_json_str(out, ECS_VERSION);
        out.extend_from_slice(b"},\"event\":{\"action\":");
        push_serde_json_str(out, ev.action.name());
        out.extend_from_slice(b",\"category\":[\"process\"],\"dataset\":\"sshtrail.ssh\",\"id\":");
        push_serde_json_str(out, &ev.id);
        out.extend_from_slice(b",\"kind\":\"event\",\"module\":\"sshtrail\",\"outcome\":");
        push_serde_json_str(out, ev.outcome.name());
        if let Some(reason) = &ev.reason {
            out.extend_from_slice(b",\"reason\":");
            push_serde_json_str(out, reason);
        }
        out.extend_from_slice(b",\"sequence\":");
        push_u64(out, ev.seq);
        out.extend_from_slice(b",\"severity\":");
        push_u64(out, ev.severity.ocsf_id().into());
        out.extend_from_slice(b",\"type\":[\"info\"]},");
        out.extend_from_slice(&frag.host);
        out.extend_from_slice(b"\"message\":");
        push_serde_json_str(out, &ev.message);
        out.extend_from_slice(
            b",\"network\":{\"protocol\":\"ssh\",\"transport\":\"tcp\"},\"process\":{\"io\":{",
        );
        let skipped = (io.len - io.kept) as u64;
        if io.truncated {
            out.extend_from_slice(b"\"bytes_skipped\":");
            let value = json!([{"offset": io.kept, "length": io.len - io.kept}]);
            // Writing into a Vec cannot fail (as in `Doc::write_json`).
            let _ = serde_json::to_writer(&mut *out, &value);
            out.push(b',');
        }
        out.extend_from_slice(b"\"text\":");
        push_serde_json_str(out, &io.text);
        out.extend_from_slice(b",\"total_bytes_captured\":");
        push_u64(out, io.kept as u64);
        if io.truncated {
            out.extend_from_slice(b",\"total_bytes_skipped\":");
            push_u64(out, skipped);
        }
        if ev.pty.is_some() {
            out.extend_from_slice(b",\"type\":\"tty\"");
        }
        out.extend_from_slice(b"}},");
        out.extend_from_slice(&frag.related);
        out.extend_from_slice(&frag.source);
        out.extend_from_slice(b"\"sshtrail\":{");
        out.extend_from_slice(&frag.authentication_method);
        if let Some(id) = &ev.channel_id {
            out.extend_from_slice(b"\"channel_id\":");
            push_serde_json_str(out, id);
            out.push(b',');
        }
        if let Some(kind) = &ev.channel_type {
            out.extend_from_slice(b"\"channel_type\":");
            push_serde_json_str(out, kind);
            out.push(b',');
        }
        out.extend_from_slice(&frag.connection_id);
        out.extend_from_slice(b"\"io\":{\"bytes\":");
        push_u64(out, io.len as u64);
        out.extend_from_slice(b",\"line_end\":");
        push_bool(out, io.line_end);
        out.extend_from_slice(b",\"offset\":");
        push_u64(out, io.offset);
        out.extend_from_slice(b",\"stream\":");
        push_serde_json_str(out, io.stream.name());
        out.extend_from_slice(b",\"truncated\":");
        push_bool(out, io.truncated);
        out.push(b'}');
        if let Some(origin) = ev.origin_name() {
            out.extend_from_slice(b",\"origin\":");
            push_serde_json_str(out, origin);
        }
        if let Some(pty) = &ev.pty {
            out.extend_from_slice(b",\"pty\":{\"columns\":");
            push_u64(out, pty.cols.into());
            out.extend_from_slice(b",\"rows\":");
            push_u64(out, pty.rows.into());
            out.extend_from_slice(b",\"term\":");
            push_serde_json_str(out, &pty.term);
            out.push(b'}');
        }
        out.extend_from_slice(b",\"redacted\":");
        push_bool(out, io.redacted);
        if let Some(request) = &ev.request {
            out.extend_from_slice(b",\"request\":");
            push_serde_json_str(out, request);
        }
        out.extend_from_slice(b",\"ts\":");
        push_serde_json_str(out, time);
        out.push(b'}');
        out.extend_from_slice(&frag.tail);
        out.extend_from_slice(b"}\n");
    }
}

/// The line of data a record is about, when the record is only that (a
/// line's record as [`super::records`] makes it: no process, file, session
/// or other part), the shape [`EcsWriter::write_line`] writes.
fn line_of(ev: &SiemEvent) -> Option<&IoChunk> {
    let io = ev.io.as_ref()?;
    let line_action = matches!(
        ev.action,
        Action::Input | Action::Output | Action::ErrorOutput
    );
    let only_io = ev.process.is_none()
        && ev.env.is_none()
        && ev.subsystem.is_none()
        && ev.forward.is_none()
        && ev.signal.is_none()
        && ev.session.is_none()
        && ev.connection.is_none()
        && ev.file.is_none();
    (line_action && only_io && io.kept <= io.len).then_some(io)
}

/// Appends `n` in decimal, as serde_json writes an unsigned number.
fn push_u64(out: &mut Vec<u8>, n: u64) {
    out.extend_from_slice(crate::codec::u64_digits(n, &mut [0; 20]));
}

fn push_bool(out: &mut Vec<u8>, b: bool) {
    out.extend_from_slice(if b { b"true" } else { b"false" });
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;
    use crate::archive::{Archive, Discovery};
    use crate::siem::{RecordSink, SiemOptions};

    /// Every record of the real sessions and the tricky connections under
    /// `testdata`, with lines of data whole and cut short: written with the
    /// connection's fragments, the bytes of the full build.
    #[test]
    fn fragments_write_the_full_builds_bytes() {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../testdata");
        let paths: Vec<_> = [
            "realtrail",
            "realbash",
            "conn",
            "siem/conn-tricky",
            "session.jsonl",
            "variant.jsonl",
        ]
        .iter()
        .map(|p| root.join(p))
        .collect();
        let how = Discovery {
            walk: true,
            ..Discovery::default()
        };
        let archive = Archive::open(&paths, &how, &mut |_| {});
        assert!(archive.connections.len() >= 10);
        let (mut lines, mut others) = (0, 0);
        for io_max_bytes in [4096, 5] {
            let options = SiemOptions {
                io: true,
                io_max_bytes,
                ..SiemOptions::default()
            };
            let mut writer = EcsWriter::default();
            let (mut fast, mut full) = (Vec::new(), Vec::new());
            let mut sink = RecordSink::new(options, |r| {
                fast.clear();
                full.clear();
                writer.write(r, &mut fast);
                write(r, &mut full);
                assert_eq!(
                    String::from_utf8_lossy(&fast),
                    String::from_utf8_lossy(&full)
                );
                if line_of(r).is_some() {
                    lines += 1;
                } else {
                    others += 1;
                }
                Ok(())
            });
            archive.replay(&mut sink, &mut |_| {}).unwrap();
        }
        assert!(lines > 1000 && others > 100, "{lines} {others}");
    }
}
