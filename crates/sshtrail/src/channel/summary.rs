//! What `sshtrail inspect` reports: each connection and its channels,
//! folded from channel events into typed, serializable summaries.

use std::collections::HashMap;
use std::io;

use serde::{Serialize, Serializer};

use super::{
    direction_name, ChannelEvent, ChannelEventKind, ChannelSink, ConnectionRef, ExitSignal,
    Forward, Integrity, Outcome, Pty, RequestKind, Scope,
};
use crate::connection::Context;
use crate::event::Direction;
use crate::stats::EventCounts;
use crate::time::Nanos;

/// The most requests, resizes, forwards and signals a summary lists; the
/// counts go on past it (so memory stays bounded on hostile logs).
pub const MAX_LISTED: usize = 10_000;

/// How many undecoded events a summary lists.
const MAX_UNDECODED_LISTED: usize = 100;

pub(crate) fn pairs_as_map<S: Serializer, V: Serialize>(
    pairs: &[(String, V)],
    s: S,
) -> Result<S::Ok, S::Error> {
    // A later pair of the same name wins, as in a JSON object built in order.
    let map: std::collections::BTreeMap<&str, &V> =
        pairs.iter().map(|(k, v)| (k.as_str(), v)).collect();
    map.serialize(s)
}

fn direction_as_name<S: Serializer>(d: &Direction, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(direction_name(*d))
}

fn outcome_as_name<S: Serializer>(o: &Outcome, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(o.name())
}

fn signal_name<S: Serializer>(sig: &Option<ExitSignal>, s: S) -> Result<S::Ok, S::Error> {
    sig.as_ref().map(|x| x.signal.as_str()).serialize(s)
}

/// A `window-change`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Resize {
    /// Time of the request.
    #[serde(skip)]
    pub at: Nanos,
    /// Time text as in the log.
    pub ts: String,
    /// New columns.
    pub cols: u32,
    /// New rows.
    pub rows: u32,
}

/// A request and how it ended.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RequestSummary {
    /// Time text as in the log.
    pub ts: String,
    /// Who asked.
    #[serde(rename = "from", serialize_with = "direction_as_name")]
    pub direction: Direction,
    /// Channel, global or open.
    #[serde(skip)]
    pub scope: Scope,
    /// The request or channel type name.
    pub name: String,
    /// One-line description.
    pub summary: String,
    /// Whether a reply was asked for.
    pub want_reply: bool,
    /// How it ended.
    #[serde(serialize_with = "outcome_as_name")]
    pub outcome: Outcome,
    /// The failure's reason, when the reply gave one.
    pub reason: Option<String>,
}

/// How many requests of one name one side made, and how many were refused.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RequestCount {
    /// The request or channel type name.
    pub name: String,
    /// Who asked.
    #[serde(rename = "from", serialize_with = "direction_as_name")]
    pub direction: Direction,
    /// How many times.
    pub count: u64,
    /// How many of them were refused (a failure reply).
    pub refused: u64,
}

impl RequestCount {
    /// `NAME from SIDE`, with `×N` when there were several.
    ///
    /// ```
    /// use sshtrail::channel::RequestCount;
    /// use sshtrail::Direction;
    /// let r = RequestCount { name: "keepalive@openssh.com".into(), direction: Direction::ClientToServer, count: 8, refused: 8 };
    /// assert_eq!(r.label(r.count), "keepalive@openssh.com from client ×8");
    /// ```
    pub fn label(&self, n: u64) -> String {
        let mut s = format!("{} from {}", self.name, direction_name(self.direction));
        if n > 1 {
            s.push_str(&format!(" ×{n}"));
        }
        s
    }
}

/// A forward as `inspect` lists it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ForwardSummary {
    /// Time text of the request.
    pub ts: String,
    /// Who asked.
    #[serde(rename = "from", serialize_with = "direction_as_name")]
    pub direction: Direction,
    /// The SSH name of the request or channel type.
    pub kind: &'static str,
    /// Address listened on or connected to.
    pub address: Option<String>,
    /// Its port.
    pub port: Option<u32>,
    /// Where the connection came from.
    pub originator: Option<String>,
    /// Its port.
    pub originator_port: Option<u32>,
    /// Socket path (streamlocal).
    pub socket_path: Option<String>,
    /// How it ended.
    #[serde(serialize_with = "outcome_as_name")]
    pub outcome: Outcome,
    /// The failure's reason, when the reply gave one.
    pub reason: Option<String>,
}

impl ForwardSummary {
    fn of(f: &Forward) -> Self {
        ForwardSummary {
            ts: crate::time::reformat_rfc3339(&f.ts_text),
            direction: f.direction,
            kind: f.kind.name(),
            address: f.address.clone(),
            port: f.port,
            originator: f.originator.clone(),
            originator_port: f.originator_port,
            socket_path: f.socket_path.clone(),
            outcome: f.outcome.clone(),
            reason: f.outcome.reason().map(str::to_string),
        }
    }
}

/// Decoded bytes per stream.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct StreamBytes {
    /// Client to server.
    pub stdin: u64,
    /// Server to client.
    pub stdout: u64,
    /// Server to client, extended data.
    pub stderr: u64,
}

/// A non-data event that fit none of the payload layouts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Undecoded {
    /// Line in the log.
    pub line: u64,
    /// Event type.
    pub kind: String,
    /// Payload length.
    pub len: usize,
}

/// One channel, as `sshtrail inspect` reports it: what kind of channel,
/// which terminal, what ran, how it ended, how many bytes went each way,
/// which requests were answered how, which forwards were asked for, and
/// whether it all matches the connection metadata.
///
/// Serializes to the `channels[]` item of `sshtrail inspect --json`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct ChannelSummary {
    /// Connection and channel ids.
    #[serde(skip)]
    pub context: Context,
    /// The channel id.
    pub id: String,
    /// The channel type.
    #[serde(rename = "type")]
    pub kind: Option<String>,
    /// The terminal.
    pub pty: Option<Pty>,
    /// Window changes, in order (the first [`MAX_LISTED`]).
    pub resizes: Vec<Resize>,
    /// How many window changes there were.
    #[serde(skip)]
    pub resize_count: u64,
    /// The last window change.
    #[serde(skip)]
    pub last_resize: Option<Resize>,
    /// Environment variables, in order.
    #[serde(serialize_with = "pairs_as_map")]
    pub env: Vec<(String, String)>,
    /// Whether a shell was requested.
    #[serde(skip)]
    pub shell: bool,
    /// The exec command.
    pub exec: Option<String>,
    /// The subsystem.
    pub subsystem: Option<String>,
    /// Exit status.
    pub exit_status: Option<u32>,
    /// How the process was killed, if by a signal.
    #[serde(serialize_with = "signal_name")]
    pub exit_signal: Option<ExitSignal>,
    /// First event time, as in the log.
    pub started: Option<String>,
    /// Last event time, as in the log.
    pub ended: Option<String>,
    /// First event time.
    #[serde(skip)]
    pub started_at: Option<Nanos>,
    /// Last event time.
    #[serde(skip)]
    pub ended_at: Option<Nanos>,
    /// Decoded bytes per stream.
    pub bytes: StreamBytes,
    /// Events per type.
    pub events: EventCounts,
    /// Requests with their replies (the first [`MAX_LISTED`]).
    pub requests: Vec<RequestSummary>,
    /// How many requests there were.
    #[serde(skip)]
    pub request_count: u64,
    /// Requests counted by name and side, in order of first appearance
    /// (the first [`MAX_LISTED`] names; the counts of those go on).
    pub request_counts: Vec<RequestCount>,
    /// Forwards asked for (the first [`MAX_LISTED`]).
    pub forwards: Vec<ForwardSummary>,
    /// Signals sent to the remote process (the first [`MAX_LISTED`]).
    pub signals: Vec<String>,
    /// How many non-data events could not be decoded.
    pub undecoded: u64,
    /// The first undecoded events.
    #[serde(skip)]
    pub undecoded_events: Vec<Undecoded>,
    /// Replies that answered no pending request.
    pub unmatched_replies: u64,
    /// Malformed lines in the log.
    #[serde(skip)]
    pub log_errors: u64,
    /// Warnings in the log (a cut-off last line).
    #[serde(skip)]
    pub log_warnings: u64,
    /// The metadata check.
    pub integrity: Integrity,
    /// Request index to position in `requests`, while unanswered.
    #[serde(skip)]
    open_requests: HashMap<usize, usize>,
    /// Request index to position in `forwards`, while unanswered.
    #[serde(skip)]
    open_forwards: HashMap<usize, usize>,
    /// The forwards themselves, updated by replies.
    #[serde(skip)]
    forward_list: Vec<Forward>,
    /// Name and side to position in `request_counts`.
    #[serde(skip)]
    count_index: HashMap<(String, Direction), usize>,
}

impl ChannelSummary {
    fn new(context: &Context) -> Self {
        ChannelSummary {
            context: context.clone(),
            id: context.channel_id.clone(),
            ..ChannelSummary::default()
        }
    }

    /// The position of `(name, direction)` in `request_counts`, made
    /// when there is room.
    fn counted(&mut self, name: &str, direction: Direction) -> Option<usize> {
        let key = (name.to_string(), direction);
        if let Some(&i) = self.count_index.get(&key) {
            return Some(i);
        }
        if self.request_counts.len() >= MAX_LISTED {
            return None;
        }
        self.request_counts.push(RequestCount {
            name: key.0.clone(),
            direction,
            count: 0,
            refused: 0,
        });
        self.count_index.insert(key, self.request_counts.len() - 1);
        Some(self.request_counts.len() - 1)
    }

    /// Whether this is the connection's global requests rather than a
    /// channel (see [`super::GLOBAL_KIND`]).
    pub fn is_global(&self) -> bool {
        self.kind.as_deref() == Some(super::GLOBAL_KIND)
    }

    /// Folds one channel event in.
    pub fn add(&mut self, ev: &ChannelEvent<'_>) {
        match ev.kind {
            ChannelEventKind::Request(r) => {
                if let Some(i) = self.counted(&r.name, r.direction) {
                    self.request_counts[i].count += 1;
                }
                if self.requests.len() < MAX_LISTED {
                    if r.want_reply {
                        self.open_requests.insert(r.index, self.requests.len());
                    }
                    self.requests.push(RequestSummary {
                        ts: crate::time::format_rfc3339(r.ts),
                        direction: r.direction,
                        scope: r.scope,
                        name: r.name.clone(),
                        summary: r.summary.clone(),
                        want_reply: r.want_reply,
                        outcome: if r.want_reply {
                            Outcome::Pending
                        } else {
                            Outcome::NoReplyWanted
                        },
                        reason: None,
                    });
                }
                if self.forward_list.len() < MAX_LISTED {
                    if let Some(f) = r.forward() {
                        if r.want_reply {
                            self.open_forwards.insert(r.index, self.forward_list.len());
                        }
                        self.forward_list.push(f);
                    }
                }
                match &r.kind {
                    RequestKind::WindowChange { cols, rows } => {
                        let resize = Resize {
                            at: r.ts,
                            ts: crate::time::format_rfc3339(r.ts),
                            cols: *cols,
                            rows: *rows,
                        };
                        self.resize_count += 1;
                        if self.resizes.len() < MAX_LISTED {
                            self.resizes.push(resize.clone());
                        }
                        self.last_resize = Some(resize);
                    }
                    RequestKind::Signal { name } if self.signals.len() < MAX_LISTED => {
                        self.signals.push(name.clone())
                    }
                    _ => {}
                }
            }
            ChannelEventKind::Reply {
                request,
                outcome,
                bound_port,
                ..
            } => {
                if matches!(outcome, Outcome::Failure(_)) {
                    if let Some(i) = self.counted(&request.name, request.direction) {
                        self.request_counts[i].refused += 1;
                    }
                }
                if let Some(i) = self.open_requests.remove(&request.index) {
                    self.requests[i].outcome = outcome.clone();
                    self.requests[i].reason = outcome.reason().map(str::to_string);
                }
                if let Some(i) = self.open_forwards.remove(&request.index) {
                    self.forward_list[i].answered(outcome, bound_port);
                }
            }
            ChannelEventKind::Undecoded {
                event_type,
                line,
                len,
                ..
            } if self.undecoded_events.len() < MAX_UNDECODED_LISTED => {
                self.undecoded_events.push(Undecoded {
                    line,
                    kind: event_type.name().to_string(),
                    len,
                })
            }
            ChannelEventKind::Ended { .. } => self.end(ev),
            _ => {}
        }
    }

    fn end(&mut self, ev: &ChannelEvent<'_>) {
        let st = ev.channel;
        self.kind = st.kind.clone();
        self.pty = st.pty.clone();
        self.env = st.env.clone();
        self.shell = st.shell;
        self.exec = st.exec.clone();
        self.subsystem = st.subsystem.clone();
        self.exit_status = st.exit_status;
        self.exit_signal = st.exit_signal.clone();
        self.started = st
            .started
            .as_ref()
            .map(|s| crate::time::format_rfc3339(s.ts));
        self.ended = st.ended.as_ref().map(|s| crate::time::format_rfc3339(s.ts));
        self.started_at = st.started.as_ref().map(|s| s.ts);
        self.ended_at = st.ended.as_ref().map(|s| s.ts);
        self.bytes = StreamBytes {
            stdin: st.bytes[0],
            stdout: st.bytes[1],
            stderr: st.bytes[2],
        };
        self.events = st.events.clone();
        self.request_count = st.requests;
        self.undecoded = st.undecoded;
        self.unmatched_replies = st.unmatched_replies;
        self.log_errors = st.log_errors;
        self.log_warnings = st.log_warnings;
        self.integrity = st.integrity.clone().unwrap_or_default();
        self.forwards = self.forward_list.iter().map(ForwardSummary::of).collect();
        self.open_requests.clear();
        self.open_forwards.clear();
        self.count_index.clear();
    }
}

/// One connection and its channels, as `sshtrail inspect` reports them.
///
/// Serializes to the `connections[]` item of `sshtrail inspect --json`:
/// who, where, when and the channels, keys in sorted order.
#[derive(Debug, Clone, Default, PartialEq)]
#[non_exhaustive]
pub struct ConnectionSummary {
    /// The connection id, when known.
    pub id: Option<String>,
    /// The connection metadata, when there was some.
    pub meta: Option<crate::connection::Connection>,
    /// Where the metadata was read from.
    pub meta_path: Option<std::path::PathBuf>,
    /// Its channels, ordered by channel id.
    pub channels: Vec<ChannelSummary>,
    /// Its global requests, logged apart as a pseudo-channel (see
    /// [`super::GLOBAL_KIND`]): not a channel, so not in `channels`.
    pub global: Vec<ChannelSummary>,
}

impl ConnectionSummary {
    /// Whether nothing is known of it: no metadata, no channel, no global
    /// request. So it is when none of its logs could be opened (a wrong
    /// path, a file that is not a trail log): there is nothing to report
    /// beside the error.
    pub fn is_unknown(&self) -> bool {
        self.meta.is_none() && self.channels.is_empty() && self.global.is_empty()
    }
}

/// The keys of a [`ChannelSummary`]'s JSON that the global requests keep.
const GLOBAL_JSON_KEYS: [&str; 11] = [
    "id",
    "started",
    "ended",
    "events",
    "requests",
    "request_counts",
    "forwards",
    "undecoded",
    "unmatched_replies",
    "integrity",
    "type",
];

/// The fields of [`ConnectionSummary`]'s JSON, in sorted order.
#[derive(Serialize)]
struct ConnectionJson<'a> {
    account: Option<&'a str>,
    address: Option<&'a str>,
    authentication_method: Option<&'a [String]>,
    channels: Vec<serde_json::Value>,
    ended: Option<String>,
    global: Vec<serde_json::Value>,
    host: Option<&'a str>,
    id: Option<&'a str>,
    metadata: Option<String>,
    remote_address: Option<&'a str>,
    started: Option<String>,
    status: Option<&'a str>,
    tags: Option<&'a [String]>,
    user: Option<&'a str>,
}

impl Serialize for ConnectionSummary {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let m = self.meta.as_ref();
        let (first, last) = self.span();
        // Each channel through a JSON value, whose maps keep keys sorted.
        let channels = self
            .channels
            .iter()
            .map(serde_json::to_value)
            .collect::<Result<Vec<_>, _>>()
            .map_err(serde::ser::Error::custom)?;
        // The global requests: what a channel has that they can have.
        let global = self
            .global
            .iter()
            .map(|g| {
                serde_json::to_value(g).map(|mut v| {
                    if let Some(m) = v.as_object_mut() {
                        m.retain(|k, _| GLOBAL_JSON_KEYS.contains(&k.as_str()));
                    }
                    v
                })
            })
            .collect::<Result<Vec<_>, _>>()
            .map_err(serde::ser::Error::custom)?;
        ConnectionJson {
            account: m.and_then(|m| m.target_host_account.as_deref()),
            address: m.and_then(|m| m.target_host_address.as_deref()),
            authentication_method: m.map(|m| m.authentication_method.as_slice()),
            channels,
            ended: m
                .and_then(|m| m.disconnected.as_deref())
                .map(crate::time::reformat_rfc3339)
                .or(last),
            global,
            host: m.and_then(|m| m.host()),
            id: self.id.as_deref(),
            metadata: self.meta_path.as_ref().map(|p| p.display().to_string()),
            remote_address: m.and_then(|m| m.remote_address.as_deref()),
            started: m
                .and_then(|m| m.connected.as_deref())
                .map(crate::time::reformat_rfc3339)
                .or(first),
            status: m.and_then(|m| m.status.as_deref()),
            tags: m.map(|m| m.tags.as_slice()),
            user: m.and_then(|m| m.user()),
        }
        .serialize(s)
    }
}

impl ConnectionSummary {
    /// The first event time of all channels and global requests (the
    /// earliest) and the last (the latest), as in the logs.
    pub fn span(&self) -> (Option<String>, Option<String>) {
        let start = self
            .channels
            .iter()
            .chain(&self.global)
            .filter_map(|c| Some((c.started_at?, c.started.clone()?)))
            .min_by_key(|(t, _)| *t)
            .map(|(_, s)| s);
        let end = self
            .channels
            .iter()
            .chain(&self.global)
            .filter_map(|c| Some((c.ended_at?, c.ended.clone()?)))
            .max_by_key(|(t, _)| *t)
            .map(|(_, s)| s);
        (start, end)
    }
}

/// A sink that folds every connection's channel events into summaries.
#[derive(Debug, Default)]
pub struct SummaryCollector {
    connections: Vec<ConnectionSummary>,
    index: HashMap<Context, usize>,
}

impl SummaryCollector {
    /// The connections summed up so far.
    pub fn connections(&self) -> &[ConnectionSummary] {
        &self.connections
    }

    /// The connections summed up, taken out.
    pub fn into_connections(self) -> Vec<ConnectionSummary> {
        self.connections
    }
}

impl ChannelSink for SummaryCollector {
    fn connection_start(&mut self, conn: &ConnectionRef<'_>) -> io::Result<()> {
        self.index.clear();
        self.connections.push(ConnectionSummary {
            id: conn.id.map(str::to_string),
            meta: conn.meta.cloned(),
            meta_path: conn.meta_path.map(std::path::Path::to_path_buf),
            channels: Vec::new(),
            global: Vec::new(),
        });
        Ok(())
    }

    fn event(&mut self, ev: &ChannelEvent<'_>) -> io::Result<()> {
        if self.connections.is_empty() {
            self.connection_start(&ConnectionRef::default())?;
        }
        let Some(conn) = self.connections.last_mut() else {
            return Ok(());
        };
        let context = &ev.channel.context;
        let i = match self.index.get(context) {
            Some(&i) => i,
            None => {
                conn.channels.push(ChannelSummary::new(context));
                self.index.insert(context.clone(), conn.channels.len() - 1);
                conn.channels.len() - 1
            }
        };
        conn.channels[i].add(ev);
        Ok(())
    }

    fn connection_end(&mut self, _conn: &ConnectionRef<'_>) -> io::Result<()> {
        if let Some(conn) = self.connections.last_mut() {
            conn.channels.sort_by(|a, b| a.context.cmp(&b.context));
            let (global, channels) = std::mem::take(&mut conn.channels)
                .into_iter()
                .partition(ChannelSummary::is_global);
            conn.global = global;
            conn.channels = channels;
        }
        self.index.clear();
        Ok(())
    }
}
