//! Channels, rebuilt one event at a time.
//!
//! A [`ChannelBuilder`] folds the events of one channel's log and pushes
//! what each one means into a [`ChannelSink`] as typed [`ChannelEvent`]s:
//! the channel starts, an event was logged, data arrived on a stream, a
//! request was made (with a typed [`RequestKind`]), a request was answered,
//! the channel ended with its integrity verdict. A [`ConnectionBuilder`]
//! does the same for every channel of a connection, routing events by the
//! channel they name.
//!
//! Nothing here keeps the log: the builder keeps per-channel state (the
//! requests still waiting for a reply, the terminal, counters), so memory
//! grows with what is in flight, never with the size of the log. Every
//! output (asciicast, script, text, commands, SIEM records, streams,
//! inspect's [`ChannelSummary`]) is a sink or a fold over these events.
//!
//! ```
//! use sshtrail::channel::{ChannelBuilder, ChannelEvent, ChannelEventKind, ChannelSink, Stream};
//! use sshtrail::connection::Context;
//! use sshtrail::SliceReader;
//!
//! /// Counts the output bytes.
//! struct Output(u64);
//! impl ChannelSink for Output {
//!     fn event(&mut self, ev: &ChannelEvent<'_>) -> std::io::Result<()> {
//!         if let ChannelEventKind::Data { stream: Stream::Stdout, data, .. } = ev.kind {
//!             self.0 += data.len() as u64;
//!         }
//!         Ok(())
//!     }
//! }
//!
//! let log = b"2023-06-07T17:32:29Z stdin 6c\n2023-06-07T17:32:30Z stdout 6c6c\n";
//! let mut builder = ChannelBuilder::new(Context::channel("0"), None);
//! let mut sink = Output(0);
//! for event in SliceReader::new(log) {
//!     builder.push(&event.unwrap(), &mut sink).unwrap();
//! }
//! let state = builder.finish(None, &mut sink).unwrap();
//! assert_eq!(sink.0, 2);
//! assert_eq!(state.bytes, [1, 2, 0]);
//! ```

mod builder;
mod integrity;
mod summary;

pub use builder::{ChannelBuilder, ConnectionBuilder, ReplayError};
pub use integrity::{Integrity, Verdict, CONTENTS_NOT_CHECKED};
pub use summary::{
    ChannelSummary, ConnectionSummary, ForwardSummary, RequestCount, RequestSummary, Resize,
    StreamBytes, SummaryCollector, Undecoded, MAX_LISTED,
};

use std::io;

use serde::Serialize;

use crate::connection::{Connection, Context};
use crate::event::{Direction, Event, EventType};
use crate::stats::EventCounts;
use crate::time::Nanos;

/// The type of the pseudo-channel that holds a connection's global
/// requests (`tcpip-forward`, `keepalive@openssh.com`,
/// `hostkeys-00@openssh.com`): a log named `global`, one the metadata lists
/// with this type, or one holding global requests and nothing else
/// (docs/FORMAT.md section 5).
pub const GLOBAL_KIND: &str = "global";

/// The three data streams of a channel.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
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

/// `client` or `server`: who sent a message.
pub fn direction_name(d: Direction) -> &'static str {
    match d {
        Direction::ClientToServer => "client",
        Direction::ServerToClient => "server",
    }
}

/// A time as a value and as the log wrote it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Stamp {
    /// UTC nanoseconds.
    pub ts: Nanos,
    /// The text in the log.
    pub text: String,
}

/// The terminal a `pty-req` asked for.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Pty {
    /// `TERM`, e.g. `xterm-256color`.
    pub term: String,
    /// Columns.
    pub cols: u32,
    /// Rows.
    pub rows: u32,
    /// Width in pixels (often 0).
    #[serde(skip)]
    pub width_px: u32,
    /// Height in pixels (often 0).
    #[serde(skip)]
    pub height_px: u32,
    /// Terminal modes by name (`VINTR`, `ECHO`, `ISPEED`; unnamed opcodes as `OP<n>`).
    #[serde(serialize_with = "summary::pairs_as_map")]
    pub modes: Vec<(String, u32)>,
}

/// What a channel open asked for.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum OpenKind {
    /// `session`: a shell, a command or a subsystem follows.
    Session,
    /// `x11`: an X11 connection forwarded back to the client.
    X11 {
        /// The X11 client's address.
        originator: String,
        /// Its port.
        originator_port: u32,
    },
    /// `direct-tcpip`: a local port forward's connection.
    DirectTcpip {
        /// The host to connect to.
        host: String,
        /// The port to connect to.
        port: u32,
        /// Where the connection came from.
        originator: String,
        /// Its port.
        originator_port: u32,
    },
    /// `forwarded-tcpip`: a connection to a remote-forwarded port.
    ForwardedTcpip {
        /// The address that was connected.
        address: String,
        /// The port that was connected.
        port: u32,
        /// Where the connection came from.
        originator: String,
        /// Its port.
        originator_port: u32,
    },
    /// `direct-streamlocal@openssh.com`: a forward to a Unix socket.
    DirectStreamlocal {
        /// The socket path.
        socket_path: String,
    },
    /// `forwarded-streamlocal@openssh.com` (named only, not decoded).
    ForwardedStreamlocal,
    /// `auth-agent@openssh.com`: an agent-forwarding channel.
    AuthAgent,
    /// Any other channel type.
    Other,
}

/// What a request asked for: channel requests (RFC 4254 section 6 and
/// OpenSSH's), global requests (section 4 and OpenSSH's) and channel opens.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum RequestKind {
    /// `pty-req`: a terminal.
    Pty(Pty),
    /// `x11-req`: X11 forwarding.
    X11 {
        /// Forward only one connection.
        single_connection: bool,
        /// e.g. `MIT-MAGIC-COOKIE-1`.
        auth_protocol: String,
        /// The X11 screen number.
        screen: u32,
    },
    /// `env`: an environment variable.
    Env {
        /// The name.
        name: String,
        /// The value.
        value: String,
    },
    /// `shell`.
    Shell,
    /// `exec`: a command.
    Exec {
        /// The command line.
        command: String,
    },
    /// `subsystem`, e.g. `sftp`.
    Subsystem {
        /// The subsystem name.
        name: String,
    },
    /// `window-change`: the terminal was resized.
    WindowChange {
        /// New columns.
        cols: u32,
        /// New rows.
        rows: u32,
    },
    /// `xon-xoff`.
    XonXoff {
        /// Whether the client may do flow control.
        client_can_do: bool,
    },
    /// `signal`: a signal sent to the remote process.
    Signal {
        /// The signal name without `SIG`.
        name: String,
    },
    /// `exit-status`: the remote process exited.
    ExitStatus {
        /// Its exit status.
        status: u32,
    },
    /// `exit-signal`: the remote process was killed by a signal.
    ExitSignal(ExitSignal),
    /// `break` (RFC 4335).
    Break {
        /// Length in milliseconds.
        ms: u32,
    },
    /// `eow@openssh.com`: end of write.
    Eow,
    /// `auth-agent-req@openssh.com`: agent forwarding.
    AuthAgent,
    /// `tcpip-forward`: listen on the server and forward connections back.
    TcpipForward {
        /// The address to bind.
        address: String,
        /// The port to bind (0: the server picks one).
        port: u32,
    },
    /// `cancel-tcpip-forward`.
    CancelTcpipForward {
        /// The bound address.
        address: String,
        /// The bound port.
        port: u32,
    },
    /// `streamlocal-forward@openssh.com` (named only, not decoded).
    StreamlocalForward,
    /// `cancel-streamlocal-forward@openssh.com` (named only, not decoded).
    CancelStreamlocalForward,
    /// `keepalive@openssh.com`.
    Keepalive,
    /// `no-more-sessions@openssh.com`.
    NoMoreSessions,
    /// `hostkeys-00@openssh.com`: the server's host keys.
    HostKeys {
        /// Their algorithms, in order.
        algorithms: Vec<String>,
    },
    /// A channel open.
    Open(OpenKind),
    /// Any other request, known only by its name.
    Other,
}

/// How a process ended by a signal.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ExitSignal {
    /// The signal name without `SIG`.
    pub signal: String,
    /// Whether a core was dumped.
    pub core_dumped: bool,
    /// The message that came with it.
    pub message: String,
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

/// How a request ended.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
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

    /// The reason of a failure, when the reply gave one.
    pub fn reason(&self) -> Option<&str> {
        match self {
            Outcome::Failure(Some(why)) => Some(why),
            _ => None,
        }
    }
}

/// A request, as it was made.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Request {
    /// Its position among the channel's requests (opens and global
    /// requests included), from 0.
    pub index: usize,
    /// Time of the request.
    pub ts: Nanos,
    /// Time text as in the log.
    pub ts_text: String,
    /// Line of the request in its log.
    pub line: u64,
    /// Who asked.
    pub direction: Direction,
    /// Channel, global or open.
    pub scope: Scope,
    /// The request or channel type name as sent.
    pub name: String,
    /// One-line description of the request.
    pub summary: String,
    /// Whether a reply was asked for (opens always are answered).
    pub want_reply: bool,
    /// What was asked, typed.
    pub kind: RequestKind,
}

impl Request {
    /// The forward this request asks for or opens, if it is one.
    pub fn forward(&self) -> Option<Forward> {
        let f = |kind, address: Option<(&str, u32)>, originator: Option<(&str, u32)>| Forward {
            kind,
            ts_text: self.ts_text.clone(),
            direction: self.direction,
            address: address.map(|(a, _)| a.to_string()),
            port: address.map(|(_, p)| p),
            originator: originator.map(|(a, _)| a.to_string()),
            originator_port: originator.map(|(_, p)| p),
            socket_path: None,
            outcome: if self.want_reply {
                Outcome::Pending
            } else {
                Outcome::NoReplyWanted
            },
        };
        Some(match &self.kind {
            RequestKind::TcpipForward { address, port } => {
                f(ForwardKind::TcpipForward, Some((address, *port)), None)
            }
            RequestKind::CancelTcpipForward { address, port } => f(
                ForwardKind::CancelTcpipForward,
                Some((address, *port)),
                None,
            ),
            RequestKind::X11 { .. } => f(ForwardKind::X11Request, None, None),
            RequestKind::AuthAgent => f(ForwardKind::AgentRequest, None, None),
            RequestKind::Open(open) => match open {
                OpenKind::DirectTcpip {
                    host,
                    port,
                    originator,
                    originator_port,
                } => f(
                    ForwardKind::DirectTcpip,
                    Some((host, *port)),
                    Some((originator, *originator_port)),
                ),
                OpenKind::ForwardedTcpip {
                    address,
                    port,
                    originator,
                    originator_port,
                } => f(
                    ForwardKind::ForwardedTcpip,
                    Some((address, *port)),
                    Some((originator, *originator_port)),
                ),
                OpenKind::X11 {
                    originator,
                    originator_port,
                } => f(
                    ForwardKind::X11Channel,
                    None,
                    Some((originator, *originator_port)),
                ),
                OpenKind::DirectStreamlocal { socket_path } => Forward {
                    socket_path: Some(socket_path.clone()),
                    ..f(ForwardKind::DirectStreamlocal, None, None)
                },
                OpenKind::AuthAgent => f(ForwardKind::AgentChannel, None, None),
                OpenKind::ForwardedStreamlocal => f(ForwardKind::ForwardedStreamlocal, None, None),
                OpenKind::Session | OpenKind::Other => return None,
            },
            RequestKind::StreamlocalForward => f(ForwardKind::StreamlocalForward, None, None),
            RequestKind::CancelStreamlocalForward => {
                f(ForwardKind::CancelStreamlocalForward, None, None)
            }
            RequestKind::Pty(_)
            | RequestKind::Env { .. }
            | RequestKind::Shell
            | RequestKind::Exec { .. }
            | RequestKind::Subsystem { .. }
            | RequestKind::WindowChange { .. }
            | RequestKind::XonXoff { .. }
            | RequestKind::Signal { .. }
            | RequestKind::ExitStatus { .. }
            | RequestKind::ExitSignal(_)
            | RequestKind::Break { .. }
            | RequestKind::Eow
            | RequestKind::Keepalive
            | RequestKind::NoMoreSessions
            | RequestKind::HostKeys { .. }
            | RequestKind::Other => return None,
        })
    }
}

/// The kinds of forwarding a connection can ask for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ForwardKind {
    /// `tcpip-forward`: remote port forwarding asked for.
    TcpipForward,
    /// `cancel-tcpip-forward`.
    CancelTcpipForward,
    /// `direct-tcpip`: a local forward's connection.
    DirectTcpip,
    /// `forwarded-tcpip`: a remote forward's connection.
    ForwardedTcpip,
    /// `direct-streamlocal@openssh.com`: a Unix socket forward's connection.
    DirectStreamlocal,
    /// `streamlocal-forward@openssh.com`: Unix socket forwarding asked for
    /// (its fields are not decoded).
    StreamlocalForward,
    /// `cancel-streamlocal-forward@openssh.com` (its fields are not decoded).
    CancelStreamlocalForward,
    /// `forwarded-streamlocal@openssh.com`: a connection to a forwarded Unix
    /// socket (its fields are not decoded).
    ForwardedStreamlocal,
    /// `x11-req`: X11 forwarding asked for.
    X11Request,
    /// `x11`: an X11 connection.
    X11Channel,
    /// `auth-agent-req@openssh.com`: agent forwarding asked for.
    AgentRequest,
    /// `auth-agent@openssh.com`: an agent connection.
    AgentChannel,
}

impl ForwardKind {
    /// Whether this is a forwarded connection (a channel of its own) rather
    /// than a request to forward.
    pub fn is_channel(self) -> bool {
        match self {
            ForwardKind::DirectTcpip
            | ForwardKind::ForwardedTcpip
            | ForwardKind::DirectStreamlocal
            | ForwardKind::ForwardedStreamlocal
            | ForwardKind::X11Channel
            | ForwardKind::AgentChannel => true,
            ForwardKind::TcpipForward
            | ForwardKind::CancelTcpipForward
            | ForwardKind::StreamlocalForward
            | ForwardKind::CancelStreamlocalForward
            | ForwardKind::X11Request
            | ForwardKind::AgentRequest => false,
        }
    }

    /// The SSH name of the request or channel type.
    pub fn name(self) -> &'static str {
        match self {
            ForwardKind::TcpipForward => "tcpip-forward",
            ForwardKind::CancelTcpipForward => "cancel-tcpip-forward",
            ForwardKind::DirectTcpip => "direct-tcpip",
            ForwardKind::ForwardedTcpip => "forwarded-tcpip",
            ForwardKind::DirectStreamlocal => "direct-streamlocal@openssh.com",
            ForwardKind::StreamlocalForward => "streamlocal-forward@openssh.com",
            ForwardKind::CancelStreamlocalForward => "cancel-streamlocal-forward@openssh.com",
            ForwardKind::ForwardedStreamlocal => "forwarded-streamlocal@openssh.com",
            ForwardKind::X11Request => "x11-req",
            ForwardKind::X11Channel => "x11",
            ForwardKind::AgentRequest => "auth-agent-req@openssh.com",
            ForwardKind::AgentChannel => "auth-agent@openssh.com",
        }
    }
}

/// A port, socket, agent or X11 forward asked for on the connection.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Forward {
    /// What kind.
    pub kind: ForwardKind,
    /// Time of the request.
    pub ts_text: String,
    /// Who asked.
    pub direction: Direction,
    /// Address and port listened on (tcpip-forward) or connected to.
    pub address: Option<String>,
    /// Port (the port the server bound, for a `tcpip-forward` of port 0
    /// once its reply came).
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

impl Forward {
    /// The forward once its request was answered.
    pub fn answered(&mut self, outcome: &Outcome, bound_port: Option<u32>) {
        self.outcome = outcome.clone();
        if let (Some(p), Some(0)) = (bound_port, self.port) {
            self.port = Some(p);
        }
    }
}

/// What is known of a channel so far: updated by every event before the
/// event is handed on, so a sink reads the channel as it stands at that
/// moment.
#[derive(Debug, Clone, Default)]
#[non_exhaustive]
pub struct ChannelState {
    /// Connection and channel ids.
    pub context: Context,
    /// Channel type: from metadata, else inferred from the open request (a
    /// session's shell, exec or subsystem request names it). May change
    /// while the channel's first requests arrive; see
    /// [`ChannelState::kind_settled`].
    pub kind: Option<String>,
    /// Whether [`ChannelState::kind`] is final: metadata named it, the open
    /// was of another type than `session`, a shell, exec or subsystem was
    /// requested, data flowed, or the channel ended.
    pub kind_settled: bool,
    /// The channel type of the channel's own open request.
    pub open_type: Option<String>,
    /// The index of the channel's own open request, once seen.
    pub own_open: Option<usize>,
    /// The terminal (the last `pty-req`).
    pub pty: Option<Pty>,
    /// Environment variables sent, in order (a later value replaces an
    /// earlier one; at most [`ChannelState::MAX_ENV`] names).
    pub env: Vec<(String, String)>,
    /// Whether a shell was requested.
    pub shell: bool,
    /// The exec command.
    pub exec: Option<String>,
    /// The subsystem.
    pub subsystem: Option<String>,
    /// Exit status.
    pub exit_status: Option<u32>,
    /// How the process was killed, if by a signal.
    pub exit_signal: Option<ExitSignal>,
    /// First event time.
    pub started: Option<Stamp>,
    /// Latest event time.
    pub ended: Option<Stamp>,
    /// Decoded bytes per stream ([`Stream`] order).
    pub bytes: [u64; 3],
    /// Events per type.
    pub events: EventCounts,
    /// Requests made (opens and global requests included).
    pub requests: u64,
    /// Non-data events whose payload fit no layout.
    pub undecoded: u64,
    /// Replies that answered no pending request.
    pub unmatched_replies: u64,
    /// Malformed lines in the channel's log.
    pub log_errors: u64,
    /// Warnings in the channel's log (a cut-off last line).
    pub log_warnings: u64,
    /// The metadata check, once the channel ended.
    pub integrity: Option<Integrity>,
}

impl ChannelState {
    /// The most environment variable names kept per channel.
    pub const MAX_ENV: usize = 65_536;

    /// Whether this is no channel but the connection's global requests,
    /// logged apart (see [`GLOBAL_KIND`]).
    pub fn is_global(&self) -> bool {
        self.kind.as_deref() == Some(GLOBAL_KIND)
    }

    /// `connection/channel`, or the channel id without a connection.
    pub fn label(&self) -> String {
        match &self.context.connection_id {
            Some(c) => format!("{c}/{}", self.context.channel_id),
            None => self.context.channel_id.clone(),
        }
    }

    /// When the channel started, or 0.
    pub fn start(&self) -> Nanos {
        self.started.as_ref().map_or(0, |s| s.ts)
    }

    /// Bytes of a stream.
    pub fn bytes_of(&self, s: Stream) -> u64 {
        self.bytes[s as usize]
    }
}

/// One thing that happened in a channel.
#[derive(Debug, Clone, Copy)]
pub struct ChannelEvent<'a> {
    /// The channel as it stands after this event.
    pub channel: &'a ChannelState,
    /// What happened.
    pub kind: ChannelEventKind<'a>,
}

/// What happened: see [`ChannelEvent`].
#[derive(Debug, Clone, Copy)]
#[non_exhaustive]
pub enum ChannelEventKind<'a> {
    /// The channel's first event arrived.
    Started {
        /// Its time.
        ts: Nanos,
    },
    /// An event of the channel's log, as read (every event, before what it
    /// means): what the evidence formats copy.
    Logged {
        /// The event.
        event: &'a Event<'a>,
        /// Its decoded payload.
        payload: &'a [u8],
    },
    /// Data on a stream.
    Data {
        /// Which stream.
        stream: Stream,
        /// Event time.
        ts: Nanos,
        /// Offset of the first byte in the decoded stream.
        offset: u64,
        /// The bytes.
        data: &'a [u8],
        /// Line of the event in its log.
        line: u64,
        /// Secrets in `data` were replaced by `*` ([`crate::redact`]); the
        /// log itself keeps them.
        redacted: bool,
    },
    /// A request was made (or a channel opened).
    Request(&'a Request),
    /// A request was answered.
    Reply {
        /// The request.
        request: &'a Request,
        /// How it ended.
        outcome: &'a Outcome,
        /// When.
        ts: Nanos,
        /// The port the server bound, in a success reply to `tcpip-forward`.
        bound_port: Option<u32>,
    },
    /// A non-data event whose payload fits none of the layouts.
    Undecoded {
        /// Its type.
        event_type: &'a EventType<'a>,
        /// Its line.
        line: u64,
        /// Its time.
        ts: Nanos,
        /// The payload length.
        len: usize,
    },
    /// The channel ended: [`ChannelState::integrity`] holds the verdict.
    /// Requests still waiting for a reply come before it as
    /// [`ChannelEventKind::Unanswered`].
    Ended {
        /// Its last event's time.
        ts: Nanos,
    },
    /// A request that wanted a reply and got none before the channel ended.
    Unanswered(&'a Request),
}

impl ChannelEventKind<'_> {
    /// When it happened ([`ChannelEventKind::Unanswered`]: the request's time).
    pub fn ts(&self) -> Nanos {
        match self {
            ChannelEventKind::Started { ts }
            | ChannelEventKind::Data { ts, .. }
            | ChannelEventKind::Reply { ts, .. }
            | ChannelEventKind::Undecoded { ts, .. }
            | ChannelEventKind::Ended { ts } => *ts,
            ChannelEventKind::Logged { event, .. } => event.ts,
            ChannelEventKind::Request(r) | ChannelEventKind::Unanswered(r) => r.ts,
        }
    }
}

/// The connection a stream of channel events belongs to.
#[derive(Debug, Clone, Copy, Default)]
pub struct ConnectionRef<'a> {
    /// The connection id, when known.
    pub id: Option<&'a str>,
    /// The connection metadata, when there is some.
    pub meta: Option<&'a Connection>,
    /// Where the metadata was read from.
    pub meta_path: Option<&'a std::path::Path>,
    /// Set when the events are those of one of the connection's logs only
    /// (a batch converts log by log).
    pub part: Option<LogPart>,
    /// The logs read, when an archive is replayed (the report's chain of
    /// custody hashes them).
    pub logs: Option<&'a dyn LogFiles>,
}

/// The files a connection's events are read from, for the sinks that
/// account for them (the report's chain of custody); the archive's logs
/// are ones.
pub trait LogFiles: std::fmt::Debug {
    /// Each log's path (`-` for standard input), in the order they are read.
    fn log_paths(&self) -> Vec<&std::path::Path>;
}

/// One log of a connection replayed apart from the others.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LogPart {
    /// Its position among the connection's logs, from 0.
    pub index: usize,
    /// How many logs the connection has.
    pub count: usize,
}

impl ConnectionRef<'_> {
    /// A title for the connection's outputs from the metadata, when it
    /// names both the user and the host: `alice@example.com on db-prod-01`.
    /// Not `user@host`: user names are often e-mail addresses, and
    /// `alice@example.com@db-prod-01` does not read.
    pub fn title(&self) -> Option<String> {
        let m = self.meta?;
        Some(format!("{} on {}", m.user()?, m.host()?))
    }
}

/// Where channel events go: a writer, a fold, or several of them.
///
/// Events of one channel come in log order; events of several channels of
/// one connection come interleaved in time order (see
/// [`ConnectionBuilder`]). A connection's events are framed by
/// [`ChannelSink::connection_start`] and [`ChannelSink::connection_end`].
pub trait ChannelSink {
    /// A connection begins.
    fn connection_start(&mut self, _conn: &ConnectionRef<'_>) -> io::Result<()> {
        Ok(())
    }

    /// Something happened in a channel.
    fn event(&mut self, ev: &ChannelEvent<'_>) -> io::Result<()>;

    /// The connection's events are over.
    fn connection_end(&mut self, _conn: &ConnectionRef<'_>) -> io::Result<()> {
        Ok(())
    }
}

impl<S: ChannelSink + ?Sized> ChannelSink for &mut S {
    fn connection_start(&mut self, conn: &ConnectionRef<'_>) -> io::Result<()> {
        (**self).connection_start(conn)
    }

    fn event(&mut self, ev: &ChannelEvent<'_>) -> io::Result<()> {
        (**self).event(ev)
    }

    fn connection_end(&mut self, conn: &ConnectionRef<'_>) -> io::Result<()> {
        (**self).connection_end(conn)
    }
}

/// Several sinks fed the same events, in order.
///
/// ```
/// use sshtrail::archive::Archive;
/// use sshtrail::channel::{SummaryCollector, Tee};
///
/// let (mut a, mut b) = (SummaryCollector::default(), SummaryCollector::default());
/// let log = b"2023-06-07T17:32:29Z stdin 6c\n";
/// Archive::from_bytes("0.hex", log)
///     .replay(&mut Tee(vec![&mut a, &mut b]), &mut |_| {})
///     .unwrap();
/// assert_eq!(a.connections(), b.connections());
/// ```
pub struct Tee<'a>(pub Vec<&'a mut dyn ChannelSink>);

impl ChannelSink for Tee<'_> {
    fn connection_start(&mut self, conn: &ConnectionRef<'_>) -> io::Result<()> {
        self.0.iter_mut().try_for_each(|s| s.connection_start(conn))
    }

    fn event(&mut self, ev: &ChannelEvent<'_>) -> io::Result<()> {
        self.0.iter_mut().try_for_each(|s| s.event(ev))
    }

    fn connection_end(&mut self, conn: &ConnectionRef<'_>) -> io::Result<()> {
        self.0.iter_mut().try_for_each(|s| s.connection_end(conn))
    }
}
