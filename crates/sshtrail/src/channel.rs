//! Channel reconstruction: the events of a channel's log folded into what an
//! investigator asks first: what kind of channel, which terminal, what ran,
//! how it ended, how many bytes went each way, which requests were answered
//! how, which forwards were asked for, and whether it all matches the
//! connection metadata.

use std::collections::{BTreeMap, VecDeque};

use crate::connection::{Connection, Context};
use crate::error::ParseError;
use crate::event::{Direction, Event, EventType, Payload};
use crate::ssh::{self, ChannelOpen, ChannelRequest, Decoded, GlobalRequest, Message};
use crate::time::Nanos;

/// The three data streams of a channel.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Stream {
    /// Client to server data (keystrokes).
    Stdin,
    /// Server to client data.
    Stdout,
    /// Server to client extended data (type 1).
    Stderr,
}

impl Stream {
    /// All three, in order.
    pub const ALL: [Stream; 3] = [Stream::Stdin, Stream::Stdout, Stream::Stderr];

    /// `stdin`, `stdout` or `stderr`.
    pub fn name(self) -> &'static str {
        match self {
            Stream::Stdin => "stdin",
            Stream::Stdout => "stdout",
            Stream::Stderr => "stderr",
        }
    }

    /// The stream an event type carries, if it is a data event.
    pub fn of(kind: &EventType<'_>) -> Option<Stream> {
        match kind {
            EventType::Stdin => Some(Stream::Stdin),
            EventType::Stdout => Some(Stream::Stdout),
            EventType::Stderr => Some(Stream::Stderr),
            _ => None,
        }
    }
}

/// One data event of a stream: its time, where it starts in the stream, and
/// its payload still encoded (borrowed from the input).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Chunk<'a> {
    /// Event time.
    pub ts: Nanos,
    /// Offset of the first byte in the decoded stream.
    pub offset: u64,
    /// Decoded length.
    pub len: usize,
    /// The encoded payload; decode with [`Chunk::decode`].
    pub payload: Payload<'a>,
    /// Line of the event in its log.
    pub line: u64,
}

impl Chunk<'_> {
    /// Decodes the chunk into `out` (cleared first).
    pub fn decode(&self, out: &mut Vec<u8>) -> Result<(), ParseError> {
        self.payload.decode(out)
    }
}

/// The terminal a `pty-req` asked for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pty {
    /// `TERM`, e.g. `xterm-256color`.
    pub term: String,
    /// Columns.
    pub cols: u32,
    /// Rows.
    pub rows: u32,
    /// Width in pixels (often 0).
    pub width_px: u32,
    /// Height in pixels (often 0).
    pub height_px: u32,
    /// Terminal modes by name (`VINTR`, `ECHO`, `ISPEED`; unnamed opcodes as `OP<n>`).
    pub modes: Vec<(String, u32)>,
}

/// A `window-change`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Resize {
    /// Time of the request.
    pub ts: Nanos,
    /// Time text as in the log.
    pub ts_text: String,
    /// New columns.
    pub cols: u32,
    /// New rows.
    pub rows: u32,
    /// Line of the request in its log.
    pub line: u64,
}

/// How a request ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// No reply was asked for.
    NoReplyWanted,
    /// A reply was asked for and has not come (yet).
    Pending,
    /// Success.
    Success,
    /// Failure, with the reason when the reply carried one.
    Failure(Option<String>),
    /// A reply came but its layout does not say which.
    Replied,
}

impl Outcome {
    /// `success`, `failure`, `pending`, `no-reply-wanted` or `replied`.
    pub fn name(&self) -> &'static str {
        match self {
            Outcome::NoReplyWanted => "no-reply-wanted",
            Outcome::Pending => "pending",
            Outcome::Success => "success",
            Outcome::Failure(_) => "failure",
            Outcome::Replied => "replied",
        }
    }
}

/// What a request was addressed to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    /// A channel request (CHANNEL_REQUEST).
    Channel,
    /// A connection-wide request (GLOBAL_REQUEST).
    Global,
    /// A channel open (CHANNEL_OPEN).
    Open,
}

/// A request and its reply, paired in order as RFC 4254 requires.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Request {
    /// Time of the request.
    pub ts: Nanos,
    /// Time text as in the log.
    pub ts_text: String,
    /// Who asked.
    pub direction: Direction,
    /// Channel, global or open.
    pub scope: Scope,
    /// Request or channel type name.
    pub name: String,
    /// One-line description of the request.
    pub summary: String,
    /// Whether a reply was asked for (opens always are answered).
    pub want_reply: bool,
    /// How it ended.
    pub outcome: Outcome,
    /// Index into [`Channel::forwards`] when the request is a forward.
    pub forward: Option<usize>,
}

/// A port, socket, agent or X11 forward asked for on the connection.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Forward {
    /// Time of the request.
    pub ts_text: String,
    /// Who asked.
    pub direction: Direction,
    /// `tcpip-forward`, `cancel-tcpip-forward`, `direct-tcpip`, `forwarded-tcpip`,
    /// `direct-streamlocal@openssh.com`, `x11`, `x11-req`, `auth-agent@openssh.com`,
    /// `auth-agent-req@openssh.com`.
    pub kind: String,
    /// Address and port listened on (tcpip-forward) or connected to.
    pub address: Option<String>,
    /// Port.
    pub port: Option<u32>,
    /// Where the connection came from (direct-tcpip, forwarded-tcpip, x11).
    pub originator: Option<String>,
    /// Originator port.
    pub originator_port: Option<u32>,
    /// Socket path (streamlocal).
    pub socket_path: Option<String>,
    /// How the request ended.
    pub outcome: Outcome,
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

/// Whether the log agrees with the connection metadata.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Integrity {
    /// True when metadata was there and nothing disagreed.
    pub ok: bool,
    /// Every difference, named.
    pub problems: Vec<String>,
}

/// A reconstructed channel.
#[derive(Debug, Clone, Default)]
pub struct Channel<'a> {
    /// Connection and channel ids.
    pub context: Context,
    /// Channel type: from metadata, else the open request (a session's
    /// shell, exec or subsystem request names it), else inferred.
    pub kind: Option<String>,
    /// The channel type of the channel's own open request.
    pub open_type: Option<String>,
    /// The terminal.
    pub pty: Option<Pty>,
    /// Window changes in order.
    pub resizes: Vec<Resize>,
    /// Environment variables sent, in order (a later value replaces an earlier one).
    pub env: Vec<(String, String)>,
    /// Whether a shell was requested.
    pub shell: bool,
    /// The exec command.
    pub exec: Option<String>,
    /// The subsystem.
    pub subsystem: Option<String>,
    /// Exit status.
    pub exit_status: Option<u32>,
    /// Exit signal name (without `SIG`), whether core was dumped, and the message.
    pub exit_signal: Option<(String, bool, String)>,
    /// Time and log line of the exit-status or exit-signal request.
    pub exit_at: Option<(Nanos, u64)>,
    /// Signals sent to the remote process.
    pub signals: Vec<String>,
    /// First event time.
    pub started: Option<(Nanos, String)>,
    /// Last event time.
    pub ended: Option<(Nanos, String)>,
    /// Data chunks per stream ([`Stream`] order).
    pub streams: [Vec<Chunk<'a>>; 3],
    /// Decoded bytes per stream.
    pub bytes: [u64; 3],
    /// Events per type name.
    pub events: BTreeMap<String, u64>,
    /// Requests with their replies.
    pub requests: Vec<Request>,
    /// Forwards asked for.
    pub forwards: Vec<Forward>,
    /// Non-data events that could not be decoded (the first 100 are kept).
    pub undecoded: Vec<Undecoded>,
    /// How many non-data events could not be decoded.
    pub undecoded_count: u64,
    /// Replies that answered no pending request.
    pub unmatched_replies: u64,
    /// Errors in the log (set by whoever read it).
    pub log_errors: u64,
    /// Warnings in the log (a cut-off last line).
    pub log_warnings: u64,
    /// The metadata check.
    pub integrity: Integrity,
}

const MAX_UNDECODED_KEPT: usize = 100;

/// Builds a [`Channel`] from its events, in log order.
///
/// ```
/// use sshtrail::{channel::ChannelBuilder, connection::Context, SliceReader};
/// let log = b"2023-06-07T17:32:29Z stdin 6c\n2023-06-07T17:32:30Z stdout 6c6c\n";
/// let mut b = ChannelBuilder::new(Context { connection_id: None, channel_id: "0".into() });
/// let mut buf = Vec::new();
/// for ev in SliceReader::new(log) {
///     b.push(&ev.unwrap(), &mut buf).unwrap();
/// }
/// let ch = b.finish(None);
/// assert_eq!(ch.bytes, [1, 2, 0]);
/// ```
#[derive(Debug, Default)]
pub struct ChannelBuilder<'a> {
    ch: Channel<'a>,
    /// Pending requests wanting a reply, by (scope, direction of the asker).
    pending: [VecDeque<usize>; 6],
    first_open_seen: bool,
    inferred_kind: Option<String>,
    /// Position of each env name in `ch.env`.
    env_index: std::collections::HashMap<String, usize>,
}

fn queue(scope: Scope, asker: Direction) -> usize {
    let s = match scope {
        Scope::Channel => 0,
        Scope::Global => 2,
        Scope::Open => 4,
    };
    s + usize::from(asker == Direction::ServerToClient)
}

fn other(d: Direction) -> Direction {
    match d {
        Direction::ClientToServer => Direction::ServerToClient,
        Direction::ServerToClient => Direction::ClientToServer,
    }
}

impl<'a> ChannelBuilder<'a> {
    /// A builder for the channel `context` names.
    pub fn new(context: Context) -> Self {
        ChannelBuilder {
            ch: Channel {
                context,
                ..Channel::default()
            },
            ..ChannelBuilder::default()
        }
    }

    /// Adds one event; `buf` is scratch space for the payload. A payload
    /// that does not decode (bad base64 or hex) is returned as an error and
    /// the event is not counted.
    pub fn push(&mut self, event: &Event<'a>, buf: &mut Vec<u8>) -> Result<(), ParseError> {
        event.decode_payload(buf)?;
        let ch = &mut self.ch;
        *ch.events.entry(event.kind.name().to_string()).or_default() += 1;
        if ch.started.is_none() {
            ch.started = Some((event.ts, event.ts_text.to_string()));
        }
        if ch.ended.as_ref().is_none_or(|(t, _)| event.ts >= *t) {
            ch.ended = Some((event.ts, event.ts_text.to_string()));
        }
        if let Some(stream) = Stream::of(&event.kind) {
            let i = stream as usize;
            ch.streams[i].push(Chunk {
                ts: event.ts,
                offset: ch.bytes[i],
                len: buf.len(),
                payload: event.payload.clone(),
                line: event.line,
            });
            ch.bytes[i] += buf.len() as u64;
            return Ok(());
        }
        let Some(direction) = event.kind.direction() else {
            return Ok(());
        };
        let hint = ssh::request_hint(event);
        match ssh::decode(&event.kind, buf, hint.as_deref()) {
            Decoded::Message { message, .. } => self.message(event, direction, &message),
            Decoded::Undecoded => {
                ch.undecoded_count += 1;
                if ch.undecoded.len() < MAX_UNDECODED_KEPT {
                    ch.undecoded.push(Undecoded {
                        line: event.line,
                        kind: event.kind.name().to_string(),
                        len: buf.len(),
                    });
                }
            }
        }
        Ok(())
    }

    /// Records a request; one that wants a reply waits in its queue.
    fn request(&mut self, request: Request) {
        let idx = self.ch.requests.len();
        if request.want_reply {
            self.pending[queue(request.scope, request.direction)].push_back(idx);
        }
        self.ch.requests.push(request);
    }

    fn reply(
        &mut self,
        scope: Scope,
        replier: Direction,
        outcome: Outcome,
        bound_port: Option<u32>,
    ) {
        let Some(idx) = self.pending[queue(scope, other(replier))].pop_front() else {
            self.ch.unmatched_replies += 1;
            return;
        };
        let req = &mut self.ch.requests[idx];
        req.outcome = outcome.clone();
        if let Some(f) = req.forward.and_then(|f| self.ch.forwards.get_mut(f)) {
            f.outcome = outcome;
            if let (Some(p), Some(0)) = (bound_port, f.port) {
                f.port = Some(p);
            }
        }
    }

    fn forward(&mut self, event: &Event<'_>, direction: Direction, kind: &str) -> usize {
        self.ch.forwards.push(Forward {
            ts_text: event.ts_text.to_string(),
            direction,
            kind: kind.to_string(),
            address: None,
            port: None,
            originator: None,
            originator_port: None,
            socket_path: None,
            outcome: Outcome::Pending,
        });
        self.ch.forwards.len() - 1
    }

    fn message(&mut self, event: &Event<'_>, direction: Direction, message: &Message<'_>) {
        let summary = message.to_string();
        match message {
            Message::GlobalRequest {
                name,
                want_reply,
                request,
            } => {
                let name = name.to_str_lossy().into_owned();
                let fwd = match request {
                    GlobalRequest::TcpipForward {
                        bind_address,
                        bind_port,
                    }
                    | GlobalRequest::CancelTcpipForward {
                        bind_address,
                        bind_port,
                    } => {
                        let f = self.forward(event, direction, &name);
                        let fw = &mut self.ch.forwards[f];
                        fw.address = Some(bind_address.to_str_lossy().into_owned());
                        fw.port = Some(*bind_port);
                        if !want_reply {
                            fw.outcome = Outcome::NoReplyWanted;
                        }
                        Some(f)
                    }
                    _ => None,
                };
                self.request(Request {
                    ts: event.ts,
                    ts_text: event.ts_text.to_string(),
                    direction,
                    scope: Scope::Global,
                    name,
                    summary,
                    want_reply: *want_reply,
                    outcome: if *want_reply {
                        Outcome::Pending
                    } else {
                        Outcome::NoReplyWanted
                    },
                    forward: fwd,
                });
            }
            Message::GlobalReply {
                success,
                bound_port,
            } => {
                let outcome = match success {
                    Some(true) => Outcome::Success,
                    Some(false) => Outcome::Failure(None),
                    None => Outcome::Replied,
                };
                self.reply(Scope::Global, direction, outcome, *bound_port);
            }
            Message::ChannelOpen {
                channel_type, open, ..
            } => {
                let name = channel_type.to_str_lossy().into_owned();
                let own = !self.first_open_seen;
                self.first_open_seen = true;
                let mut fwd = None;
                if own {
                    self.ch.open_type = Some(name.clone());
                }
                let mut add = |b: &mut Self,
                               address: Option<(String, u32)>,
                               originator: Option<(String, u32)>,
                               socket: Option<String>| {
                    let f = b.forward(event, direction, &name);
                    let fw = &mut b.ch.forwards[f];
                    (fw.address, fw.port) =
                        address.map_or((None, None), |(a, p)| (Some(a), Some(p)));
                    (fw.originator, fw.originator_port) =
                        originator.map_or((None, None), |(a, p)| (Some(a), Some(p)));
                    fw.socket_path = socket;
                    fwd = Some(f);
                };
                match open {
                    ChannelOpen::DirectTcpip {
                        host,
                        port,
                        originator_address,
                        originator_port,
                    } => add(
                        self,
                        Some((host.to_str_lossy().into_owned(), *port)),
                        Some((
                            originator_address.to_str_lossy().into_owned(),
                            *originator_port,
                        )),
                        None,
                    ),
                    ChannelOpen::ForwardedTcpip {
                        connected_address,
                        connected_port,
                        originator_address,
                        originator_port,
                    } => add(
                        self,
                        Some((
                            connected_address.to_str_lossy().into_owned(),
                            *connected_port,
                        )),
                        Some((
                            originator_address.to_str_lossy().into_owned(),
                            *originator_port,
                        )),
                        None,
                    ),
                    ChannelOpen::X11 {
                        originator_address,
                        originator_port,
                    } => add(
                        self,
                        None,
                        Some((
                            originator_address.to_str_lossy().into_owned(),
                            *originator_port,
                        )),
                        None,
                    ),
                    ChannelOpen::DirectStreamlocal { socket_path } => add(
                        self,
                        None,
                        None,
                        Some(socket_path.to_str_lossy().into_owned()),
                    ),
                    ChannelOpen::AuthAgent => add(self, None, None, None),
                    ChannelOpen::Session | ChannelOpen::Other(_) => {}
                }
                self.request(Request {
                    ts: event.ts,
                    ts_text: event.ts_text.to_string(),
                    direction,
                    scope: Scope::Open,
                    name,
                    summary,
                    want_reply: true,
                    outcome: if true {
                        Outcome::Pending
                    } else {
                        Outcome::NoReplyWanted
                    },
                    forward: fwd,
                });
            }
            Message::OpenConfirmation { .. } => {
                self.reply(Scope::Open, direction, Outcome::Success, None)
            }
            Message::OpenFailure {
                reason,
                description,
                ..
            } => {
                let why = format!(
                    "{} ({})",
                    ssh::open_failure_reason(*reason),
                    description.to_str_lossy()
                );
                self.reply(Scope::Open, direction, Outcome::Failure(Some(why)), None);
            }
            Message::ChannelRequest {
                request_type,
                want_reply,
                request,
                ..
            } => {
                let name = request_type.to_str_lossy().into_owned();
                let mut fwd = None;
                let ch = &mut self.ch;
                match request {
                    ChannelRequest::PtyReq(p) => {
                        ch.pty = Some(Pty {
                            term: p.term.to_str_lossy().into_owned(),
                            cols: p.cols,
                            rows: p.rows,
                            width_px: p.width_px,
                            height_px: p.height_px,
                            modes: p
                                .modes
                                .iter()
                                .map(|(op, name, v)| {
                                    (name.map_or_else(|| format!("OP{op}"), str::to_string), v)
                                })
                                .collect(),
                        })
                    }
                    ChannelRequest::WindowChange { cols, rows, .. } => ch.resizes.push(Resize {
                        ts: event.ts,
                        ts_text: event.ts_text.to_string(),
                        cols: *cols,
                        rows: *rows,
                        line: event.line,
                    }),
                    ChannelRequest::Env { name, value } => {
                        let (k, v) = (
                            name.to_str_lossy().into_owned(),
                            value.to_str_lossy().into_owned(),
                        );
                        // A later value replaces an earlier one, in place.
                        match self.env_index.get(&k) {
                            Some(&i) => ch.env[i].1 = v,
                            None => {
                                self.env_index.insert(k.clone(), ch.env.len());
                                ch.env.push((k, v));
                            }
                        }
                    }
                    ChannelRequest::Shell => {
                        ch.shell = true;
                        self.inferred_kind.get_or_insert_with(|| "shell".into());
                    }
                    ChannelRequest::Exec { command } => {
                        ch.exec = Some(command.to_str_lossy().into_owned());
                        self.inferred_kind.get_or_insert_with(|| "exec".into());
                    }
                    ChannelRequest::Subsystem { name } => {
                        ch.subsystem = Some(name.to_str_lossy().into_owned());
                        self.inferred_kind.get_or_insert_with(|| "subsystem".into());
                    }
                    ChannelRequest::ExitStatus { status } => {
                        ch.exit_status = Some(*status);
                        ch.exit_at = Some((event.ts, event.line));
                    }
                    ChannelRequest::ExitSignal {
                        signal,
                        core_dumped,
                        message,
                        ..
                    } => {
                        ch.exit_at = Some((event.ts, event.line));
                        ch.exit_signal = Some((
                            signal.to_str_lossy().into_owned(),
                            *core_dumped,
                            message.to_str_lossy().into_owned(),
                        ))
                    }
                    ChannelRequest::Signal { name } => {
                        ch.signals.push(name.to_str_lossy().into_owned())
                    }
                    ChannelRequest::X11Req { .. } | ChannelRequest::AuthAgentReq => {
                        let f = self.forward(event, direction, &name);
                        if !want_reply {
                            self.ch.forwards[f].outcome = Outcome::NoReplyWanted;
                        }
                        fwd = Some(f);
                    }
                    _ => {}
                }
                self.request(Request {
                    ts: event.ts,
                    ts_text: event.ts_text.to_string(),
                    direction,
                    scope: Scope::Channel,
                    name,
                    summary,
                    want_reply: *want_reply,
                    outcome: if *want_reply {
                        Outcome::Pending
                    } else {
                        Outcome::NoReplyWanted
                    },
                    forward: fwd,
                });
            }
            Message::ChannelReply { success, .. } => {
                let outcome = match success {
                    Some(true) => Outcome::Success,
                    Some(false) => Outcome::Failure(None),
                    None => Outcome::Replied,
                };
                self.reply(Scope::Channel, direction, outcome, None);
            }
        }
    }

    /// Finishes the channel and checks it against `meta` when given.
    pub fn finish(mut self, meta: Option<&Connection>) -> Channel<'a> {
        let inferred = match self.ch.open_type.as_deref() {
            Some("session") | None => self.inferred_kind.take().or(self.ch.open_type.clone()),
            Some(other) => Some(other.to_string()),
        };
        let mut integrity = Integrity::default();
        match meta {
            None => integrity
                .problems
                .push("no connection metadata: nothing to check the log against".into()),
            Some(meta) => match meta.channel(&self.ch.context.channel_id) {
                None => integrity.problems.push(format!(
                    "channel {} is not listed in the connection metadata",
                    self.ch.context.channel_id
                )),
                Some(m) => {
                    self.ch.kind = m.kind.clone();
                    let [stdin, stdout, stderr] = self.ch.bytes;
                    match m.bytes_client_to_server {
                        Some(n) if n != stdin => integrity.problems.push(format!("stdin has {stdin} bytes but the metadata's bytes_client_to_server is {n}")),
                        None => integrity.problems.push("the metadata has no bytes_client_to_server".into()),
                        _ => {}
                    }
                    match m.bytes_server_to_client {
                        Some(n) if n != stdout + stderr => integrity.problems.push(format!("stdout+stderr have {} bytes ({stdout}+{stderr}) but the metadata's bytes_server_to_client is {n}", stdout + stderr)),
                        None => integrity.problems.push("the metadata has no bytes_server_to_client".into()),
                        _ => {}
                    }
                    match m.protocol_file.as_ref().and_then(|p| p.status.as_deref()) {
                        Some("OK") => {}
                        Some(s) => integrity
                            .problems
                            .push(format!("protocol_file.status is {s}")),
                        None => integrity
                            .problems
                            .push("the metadata has no protocol_file.status".into()),
                    }
                }
            },
        }
        if self.ch.log_errors > 0 {
            integrity.problems.push(format!(
                "the log has {} malformed line(s)",
                self.ch.log_errors
            ));
        }
        if self.ch.log_warnings > 0 {
            integrity
                .problems
                .push("the log's last line is cut off".into());
        }
        integrity.ok = integrity.problems.is_empty();
        self.ch.integrity = integrity;
        if self.ch.kind.is_none() {
            self.ch.kind = inferred;
        }
        self.ch
    }

    /// Counts a problem the reader found in the log, for the integrity verdict.
    pub fn log_problem(&mut self, e: &ParseError) {
        if e.is_warning() {
            self.ch.log_warnings += 1;
        } else {
            self.ch.log_errors += 1;
        }
    }
}

/// One step of a channel's life, for the encoders that replay it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step<'c, 'a> {
    /// Data on a stream.
    Data(Stream, &'c Chunk<'a>),
    /// A window change.
    Resize(&'c Resize),
    /// The exit status or signal arrived.
    Exit(Nanos),
}

impl Step<'_, '_> {
    /// When it happened.
    pub fn ts(&self) -> Nanos {
        match self {
            Step::Data(_, c) => c.ts,
            Step::Resize(r) => r.ts,
            Step::Exit(ts) => *ts,
        }
    }
}

impl<'a> Channel<'a> {
    /// Data, resizes and the exit in log order (the order the gateway saw
    /// them; times may step backwards, and players treat that as no gap).
    pub fn timeline(&self) -> Vec<Step<'_, 'a>> {
        let mut steps: Vec<(u64, Step<'_, 'a>)> = Vec::new();
        for s in Stream::ALL {
            steps.extend(
                self.streams[s as usize]
                    .iter()
                    .map(|c| (c.line, Step::Data(s, c))),
            );
        }
        steps.extend(self.resizes.iter().map(|r| (r.line, Step::Resize(r))));
        if let Some((ts, line)) = self.exit_at {
            steps.push((line, Step::Exit(ts)));
        }
        steps.sort_by_key(|(line, _)| *line);
        steps.into_iter().map(|(_, s)| s).collect()
    }
}

impl Channel<'_> {
    /// Bytes of a stream.
    pub fn bytes_of(&self, s: Stream) -> u64 {
        self.bytes[s as usize]
    }

    /// The channel as the `channels[]` item of `sshtrail inspect --json`.
    pub fn to_json(&self) -> serde_json::Value {
        use serde_json::json;
        let env: serde_json::Map<String, serde_json::Value> = self
            .env
            .iter()
            .map(|(k, v)| (k.clone(), json!(v)))
            .collect();
        json!({
            "id": self.context.channel_id,
            "type": self.kind,
            "pty": self.pty.as_ref().map(|p| json!({
                "term": p.term, "cols": p.cols, "rows": p.rows,
                "modes": p.modes.iter().map(|(k, v)| (k.clone(), json!(v))).collect::<serde_json::Map<_, _>>(),
            })),
            "resizes": self.resizes.iter().map(|r| json!({"ts": r.ts_text, "cols": r.cols, "rows": r.rows})).collect::<Vec<_>>(),
            "env": env,
            "exec": self.exec,
            "subsystem": self.subsystem,
            "exit_status": self.exit_status,
            "exit_signal": self.exit_signal.as_ref().map(|s| &s.0),
            "started": self.started.as_ref().map(|s| &s.1),
            "ended": self.ended.as_ref().map(|s| &s.1),
            "bytes": {"stdin": self.bytes[0], "stdout": self.bytes[1], "stderr": self.bytes[2]},
            "events": self.events,
            "requests": self.requests.iter().map(|r| json!({
                "ts": r.ts_text, "from": direction_name(r.direction), "name": r.name, "summary": r.summary,
                "want_reply": r.want_reply, "outcome": r.outcome.name(),
                "reason": match &r.outcome { Outcome::Failure(Some(why)) => Some(why.as_str()), _ => None },
            })).collect::<Vec<_>>(),
            "forwards": self.forwards.iter().map(|f| json!({
                "ts": f.ts_text, "from": direction_name(f.direction), "kind": f.kind,
                "address": f.address, "port": f.port, "originator": f.originator, "originator_port": f.originator_port,
                "socket_path": f.socket_path, "outcome": f.outcome.name(),
                "reason": match &f.outcome { Outcome::Failure(Some(why)) => Some(why.as_str()), _ => None },
            })).collect::<Vec<_>>(),
            "signals": self.signals,
            "undecoded": self.undecoded_count,
            "unmatched_replies": self.unmatched_replies,
            "integrity": {"ok": self.integrity.ok, "problems": self.integrity.problems},
        })
    }
}

/// `client` or `server`.
pub fn direction_name(d: Direction) -> &'static str {
    match d {
        Direction::ClientToServer => "client",
        Direction::ServerToClient => "server",
    }
}
