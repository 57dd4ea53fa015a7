//! Decoding of the SSH messages carried by request and reply events
//! (docs/FORMAT.md section 6).
//!
//! The payload of a non-data event is one SSH connection-protocol message
//! (RFC 4254). How much of the message the gateway records is inferred, so
//! [`decode`] tries three layouts, in order, and takes the first one that
//! parses to exactly the end of the payload:
//!
//! 1. [`Layout::Full`]: the whole message, starting with its message number;
//! 2. [`Layout::NoMessageNumber`]: the same without the message number byte;
//! 3. [`Layout::TypeSpecific`]: for channel and global requests only, the
//!    type-specific fields, the request name coming from an extra key of the
//!    event (see [`request_hint`]).
//!
//! A payload that fits no layout is [`Decoded::Undecoded`]: never an error,
//! never a panic. Everything borrows from the payload; the only allocation is
//! the list of host keys of a `hostkeys-00@openssh.com` request, which grows
//! one key at a time and so is bounded by the payload size, never by a length
//! field.
//!
//! ```
//! use sshtrail::ssh::{decode, ChannelRequest, Decoded, Layout, Message};
//! use sshtrail::EventType;
//!
//! // SSH_MSG_CHANNEL_REQUEST, recipient 0, "exit-status", want_reply false, 127.
//! let payload = b"\x62\0\0\0\0\0\0\0\x0bexit-status\0\0\0\0\x7f";
//! let Decoded::Message { message, layout } = decode(&EventType::ReverseRequest, payload, None)
//! else { panic!("undecoded") };
//! assert_eq!(layout, Layout::Full);
//! assert!(matches!(
//!     message,
//!     Message::ChannelRequest { request: ChannelRequest::ExitStatus { status: 127 }, .. }
//! ));
//! assert_eq!(message.to_string(), "exit-status 127");
//! ```

use std::borrow::Cow;
use std::fmt;

use crate::event::{Event, EventType};

// ---------------------------------------------------------------------------
// Message numbers (RFC 4250 section 4.1.2).

/// SSH_MSG_GLOBAL_REQUEST.
const MSG_GLOBAL_REQUEST: u8 = 80;
/// SSH_MSG_REQUEST_SUCCESS.
const MSG_REQUEST_SUCCESS: u8 = 81;
/// SSH_MSG_REQUEST_FAILURE.
const MSG_REQUEST_FAILURE: u8 = 82;
/// SSH_MSG_CHANNEL_OPEN.
const MSG_CHANNEL_OPEN: u8 = 90;
/// SSH_MSG_CHANNEL_OPEN_CONFIRMATION.
const MSG_CHANNEL_OPEN_CONFIRMATION: u8 = 91;
/// SSH_MSG_CHANNEL_OPEN_FAILURE.
const MSG_CHANNEL_OPEN_FAILURE: u8 = 92;
/// SSH_MSG_CHANNEL_REQUEST.
const MSG_CHANNEL_REQUEST: u8 = 98;
/// SSH_MSG_CHANNEL_SUCCESS.
const MSG_CHANNEL_SUCCESS: u8 = 99;
/// SSH_MSG_CHANNEL_FAILURE.
const MSG_CHANNEL_FAILURE: u8 = 100;

// ---------------------------------------------------------------------------
// Public types.

/// An SSH `string`: raw bytes borrowed from the payload (may be non-UTF-8).
#[derive(Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct SshStr<'a>(pub &'a [u8]);

impl<'a> SshStr<'a> {
    /// The raw bytes.
    pub fn as_bytes(&self) -> &'a [u8] {
        self.0
    }

    /// The bytes as text, invalid UTF-8 replaced by U+FFFD (borrowed when
    /// the bytes are valid UTF-8).
    pub fn to_str_lossy(&self) -> Cow<'a, str> {
        String::from_utf8_lossy(self.0)
    }

    /// Whether the string is empty.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The length in bytes.
    pub fn len(&self) -> usize {
        self.0.len()
    }
}

impl fmt::Debug for SshStr<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&*self.to_str_lossy(), f)
    }
}

impl fmt::Display for SshStr<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_str_lossy())
    }
}

impl PartialEq<str> for SshStr<'_> {
    fn eq(&self, other: &str) -> bool {
        self.0 == other.as_bytes()
    }
}

impl PartialEq<&str> for SshStr<'_> {
    fn eq(&self, other: &&str) -> bool {
        self.0 == other.as_bytes()
    }
}

/// Which of the three payload layouts of docs/FORMAT.md section 6 matched.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Layout {
    /// 1: the whole message, starting with its message number byte.
    Full,
    /// 2: the whole message without the message number byte.
    NoMessageNumber,
    /// 3: only the type-specific fields of a request, its name taken from
    /// an extra key of the event.
    TypeSpecific,
}

/// One SSH connection-protocol message (RFC 4254), borrowed from a payload.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Message<'a> {
    /// SSH_MSG_GLOBAL_REQUEST (80).
    GlobalRequest {
        /// The request name (from the hint in layout 3).
        name: SshStr<'a>,
        /// Whether a reply was asked for (`false` in layout 3, which does
        /// not record it).
        want_reply: bool,
        /// The type-specific fields.
        request: GlobalRequest<'a>,
    },
    /// SSH_MSG_REQUEST_SUCCESS (81) or SSH_MSG_REQUEST_FAILURE (82).
    GlobalReply {
        /// `Some(true)` for 81, `Some(false)` for 82, `None` when the layout
        /// leaves it open (an empty payload without message number).
        success: Option<bool>,
        /// The port the server bound, in a success reply to a
        /// `tcpip-forward` request for port 0.
        bound_port: Option<u32>,
    },
    /// SSH_MSG_CHANNEL_OPEN (90).
    ChannelOpen {
        /// The channel type, e.g. `session`.
        channel_type: SshStr<'a>,
        /// The sender's channel number.
        sender_channel: u32,
        /// The initial window size.
        initial_window: u32,
        /// The maximum packet size.
        max_packet: u32,
        /// The type-specific fields.
        open: ChannelOpen<'a>,
    },
    /// SSH_MSG_CHANNEL_OPEN_CONFIRMATION (91).
    OpenConfirmation {
        /// The recipient channel (the opener's number).
        recipient: u32,
        /// The sender channel (the confirmer's number).
        sender: u32,
        /// The initial window size.
        window: u32,
        /// The maximum packet size.
        max_packet: u32,
    },
    /// SSH_MSG_CHANNEL_OPEN_FAILURE (92).
    OpenFailure {
        /// The recipient channel.
        recipient: u32,
        /// The reason code; see [`open_failure_reason`].
        reason: u32,
        /// A human-readable description.
        description: SshStr<'a>,
        /// The language tag of the description.
        language: SshStr<'a>,
    },
    /// SSH_MSG_CHANNEL_REQUEST (98).
    ChannelRequest {
        /// The recipient channel; `None` in layout 3.
        recipient: Option<u32>,
        /// The request type, e.g. `pty-req` (from the hint in layout 3).
        request_type: SshStr<'a>,
        /// Whether a reply was asked for (`false` in layout 3, which does
        /// not record it).
        want_reply: bool,
        /// The type-specific fields.
        request: ChannelRequest<'a>,
    },
    /// SSH_MSG_CHANNEL_SUCCESS (99) or SSH_MSG_CHANNEL_FAILURE (100).
    ChannelReply {
        /// The recipient channel. Always `Some` from [`decode`]: replies
        /// have no layout 3, and layouts 1 and 2 carry it.
        recipient: Option<u32>,
        /// `Some(true)` for 99, `Some(false)` for 100, `None` when the
        /// message number was not recorded (layout 2).
        success: Option<bool>,
    },
}

/// The type-specific part of a global request.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum GlobalRequest<'a> {
    /// `tcpip-forward`: listen on the server and forward connections.
    TcpipForward {
        /// The address to bind (`""`, `0.0.0.0`, `localhost`…).
        bind_address: SshStr<'a>,
        /// The port to bind (0: the server picks one).
        bind_port: u32,
    },
    /// `cancel-tcpip-forward`.
    CancelTcpipForward {
        /// The bound address.
        bind_address: SshStr<'a>,
        /// The bound port.
        bind_port: u32,
    },
    /// `keepalive@openssh.com`.
    Keepalive,
    /// `no-more-sessions@openssh.com`.
    NoMoreSessions,
    /// `hostkeys-00@openssh.com`: the server's host keys, in order.
    HostKeys(Vec<HostKey<'a>>),
    /// Any other request: the bytes after `want_reply`, undecoded. The
    /// name must be a valid SSH name (RFC 4250 section 4.6.1).
    Other(&'a [u8]),
}

/// One host key of a `hostkeys-00@openssh.com` request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct HostKey<'a> {
    /// The public key blob in SSH wire format.
    pub blob: &'a [u8],
    /// The algorithm name that starts the blob (e.g. `ssh-ed25519`). A blob
    /// that does not start with one makes the request undecodable.
    pub algorithm: SshStr<'a>,
}

/// The type-specific part of a channel open.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ChannelOpen<'a> {
    /// `session`.
    Session,
    /// `x11`.
    X11 {
        /// The X11 client's address.
        originator_address: SshStr<'a>,
        /// The X11 client's port.
        originator_port: u32,
    },
    /// `direct-tcpip`: a local port forward.
    DirectTcpip {
        /// The host to connect to.
        host: SshStr<'a>,
        /// The port to connect to.
        port: u32,
        /// The address the connection came from.
        originator_address: SshStr<'a>,
        /// The port the connection came from.
        originator_port: u32,
    },
    /// `forwarded-tcpip`: a connection to a remote-forwarded port.
    ForwardedTcpip {
        /// The address that was connected.
        connected_address: SshStr<'a>,
        /// The port that was connected.
        connected_port: u32,
        /// The address the connection came from.
        originator_address: SshStr<'a>,
        /// The port the connection came from.
        originator_port: u32,
    },
    /// `direct-streamlocal@openssh.com`: a forward to a Unix socket.
    DirectStreamlocal {
        /// The socket path (the reserved string and uint32 that follow it
        /// are parsed and dropped).
        socket_path: SshStr<'a>,
    },
    /// `auth-agent@openssh.com`: an agent-forwarding channel.
    AuthAgent,
    /// Any other channel type: the bytes after `max_packet`, undecoded.
    /// The type must be a valid SSH name (RFC 4250 section 4.6.1).
    Other(&'a [u8]),
}

/// The type-specific part of a channel request.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ChannelRequest<'a> {
    /// `pty-req`.
    PtyReq(PtyReq<'a>),
    /// `x11-req`.
    X11Req {
        /// Forward only one connection.
        single_connection: bool,
        /// e.g. `MIT-MAGIC-COOKIE-1`.
        auth_protocol: SshStr<'a>,
        /// The cookie, hex encoded.
        auth_cookie: SshStr<'a>,
        /// The X11 screen number.
        screen: u32,
    },
    /// `env`.
    Env {
        /// The variable name.
        name: SshStr<'a>,
        /// The variable value.
        value: SshStr<'a>,
    },
    /// `shell`.
    Shell,
    /// `exec`.
    Exec {
        /// The command line.
        command: SshStr<'a>,
    },
    /// `subsystem`.
    Subsystem {
        /// The subsystem name, e.g. `sftp`.
        name: SshStr<'a>,
    },
    /// `window-change`.
    WindowChange {
        /// Width in characters.
        cols: u32,
        /// Height in rows.
        rows: u32,
        /// Width in pixels.
        width_px: u32,
        /// Height in pixels.
        height_px: u32,
    },
    /// `xon-xoff`.
    XonXoff {
        /// Whether the client may do flow control.
        client_can_do: bool,
    },
    /// `signal`.
    Signal {
        /// The signal name without `SIG`, e.g. `INT`.
        name: SshStr<'a>,
    },
    /// `exit-status`.
    ExitStatus {
        /// The exit status of the command.
        status: u32,
    },
    /// `exit-signal`.
    ExitSignal {
        /// The signal name without `SIG`.
        signal: SshStr<'a>,
        /// Whether a core was dumped.
        core_dumped: bool,
        /// An error message.
        message: SshStr<'a>,
        /// The language tag of the message.
        language: SshStr<'a>,
    },
    /// `break` (RFC 4335).
    Break {
        /// The break length in milliseconds.
        ms: u32,
    },
    /// `eow@openssh.com`: end of write.
    Eow,
    /// `auth-agent-req@openssh.com`.
    AuthAgentReq,
    /// Any other request: the bytes after `want_reply`, undecoded. The
    /// type must be a valid SSH name (RFC 4250 section 4.6.1).
    Other(&'a [u8]),
}

/// The fields of a `pty-req` channel request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PtyReq<'a> {
    /// The `TERM` value, e.g. `xterm-256color`.
    pub term: SshStr<'a>,
    /// Width in characters.
    pub cols: u32,
    /// Height in rows.
    pub rows: u32,
    /// Width in pixels.
    pub width_px: u32,
    /// Height in pixels.
    pub height_px: u32,
    /// The encoded terminal modes.
    pub modes: TerminalModes<'a>,
}

/// Encoded terminal modes of a `pty-req` (RFC 4254 section 8): opcode byte
/// and uint32 value pairs, ended by opcode 0 (`TTY_OP_END`).
#[derive(Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct TerminalModes<'a>(pub &'a [u8]);

impl<'a> TerminalModes<'a> {
    /// The `(opcode, name, value)` triples, in order. Stops at opcode 0, at
    /// the first opcode of 160 or more (RFC 4254 section 8: undefined
    /// opcodes stop parsing) and at a truncated pair.
    pub fn iter(&self) -> TerminalModesIter<'a> {
        TerminalModesIter { rest: self.0 }
    }
}

impl<'a> IntoIterator for &TerminalModes<'a> {
    type Item = (u8, Option<&'static str>, u32);
    type IntoIter = TerminalModesIter<'a>;

    fn into_iter(self) -> TerminalModesIter<'a> {
        self.iter()
    }
}

impl fmt::Debug for TerminalModes<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        struct Mode(u8, Option<&'static str>, u32);
        impl fmt::Debug for Mode {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                match self.1 {
                    Some(name) => write!(f, "{name}={}", self.2),
                    None => write!(f, "{}={}", self.0, self.2),
                }
            }
        }
        f.debug_list()
            .entries(self.iter().map(|(op, name, v)| Mode(op, name, v)))
            .finish()
    }
}

/// Iterator over [`TerminalModes`].
#[derive(Debug, Clone)]
pub struct TerminalModesIter<'a> {
    rest: &'a [u8],
}

impl Iterator for TerminalModesIter<'_> {
    type Item = (u8, Option<&'static str>, u32);

    fn next(&mut self) -> Option<Self::Item> {
        let mut r = Reader::new(self.rest);
        let opcode = r.byte()?;
        if opcode == 0 || opcode >= 160 {
            self.rest = &[];
            return None;
        }
        let Some(value) = r.uint32() else {
            self.rest = &[];
            return None;
        };
        self.rest = r.rest();
        Some((opcode, terminal_mode_name(opcode), value))
    }
}

/// The name of a terminal mode opcode (RFC 4254 section 8, plus `IUTF8`
/// from RFC 8160); 128 and 129 are `ISPEED` and `OSPEED`, 0 is
/// `TTY_OP_END`. `None` for opcodes no RFC defines.
pub fn terminal_mode_name(opcode: u8) -> Option<&'static str> {
    Some(match opcode {
        0 => "TTY_OP_END",
        1 => "VINTR",
        2 => "VQUIT",
        3 => "VERASE",
        4 => "VKILL",
        5 => "VEOF",
        6 => "VEOL",
        7 => "VEOL2",
        8 => "VSTART",
        9 => "VSTOP",
        10 => "VSUSP",
        11 => "VDSUSP",
        12 => "VREPRINT",
        13 => "VWERASE",
        14 => "VLNEXT",
        15 => "VFLUSH",
        16 => "VSWTCH",
        17 => "VSTATUS",
        18 => "VDISCARD",
        30 => "IGNPAR",
        31 => "PARMRK",
        32 => "INPCK",
        33 => "ISTRIP",
        34 => "INLCR",
        35 => "IGNCR",
        36 => "ICRNL",
        37 => "IUCLC",
        38 => "IXON",
        39 => "IXANY",
        40 => "IXOFF",
        41 => "IMAXBEL",
        42 => "IUTF8",
        50 => "ISIG",
        51 => "ICANON",
        52 => "XCASE",
        53 => "ECHO",
        54 => "ECHOE",
        55 => "ECHOK",
        56 => "ECHONL",
        57 => "NOFLSH",
        58 => "TOSTOP",
        59 => "IEXTEN",
        60 => "ECHOCTL",
        61 => "ECHOKE",
        62 => "PENDIN",
        70 => "OPOST",
        71 => "OLCUC",
        72 => "ONLCR",
        73 => "OCRNL",
        74 => "ONOCR",
        75 => "ONLRET",
        90 => "CS7",
        91 => "CS8",
        92 => "PARENB",
        93 => "PARODD",
        128 => "ISPEED",
        129 => "OSPEED",
        _ => return None,
    })
}

/// The text of a channel open failure reason code (RFC 4254 section 5.1).
pub fn open_failure_reason(code: u32) -> &'static str {
    match code {
        1 => "administratively prohibited",
        2 => "connect failed",
        3 => "unknown channel type",
        4 => "resource shortage",
        _ => "unknown reason",
    }
}

/// The result of [`decode`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decoded<'a> {
    /// The payload is this message, in this layout.
    Message {
        /// The message.
        message: Message<'a>,
        /// The layout that matched.
        layout: Layout,
    },
    /// The event type carries no SSH message (data and unknown types), or
    /// the payload fits no layout.
    Undecoded,
}

// ---------------------------------------------------------------------------
// Decoding.

/// Decodes the payload of a non-data event.
///
/// `hint` is the request name from an extra jsonl key (`request`,
/// `request_type` or `name`; see [`request_hint`]); it enables layout 3 for
/// channel and global requests. Data events (`stdin`, `stdout`, `stderr`)
/// and unknown types are always [`Decoded::Undecoded`].
///
/// The layouts are tried in order and the first that parses to exactly the
/// end of the payload wins, with one refinement: when a hint is given, a
/// layout-2 parse that only succeeded because its request name is unknown
/// (and differs from the hint) ranks after layout 3, since without a
/// message number anything that starts with a string and a byte parses as
/// some unknown request.
pub fn decode<'a>(kind: &EventType<'_>, payload: &'a [u8], hint: Option<&'a str>) -> Decoded<'a> {
    let Some(family) = Family::of(kind) else {
        return Decoded::Undecoded;
    };
    let found = |message, layout| Decoded::Message { message, layout };

    // Layout 1: message number, then the message.
    if let Some(m) = complete(payload, |r| full_message(family, r)) {
        return found(m, Layout::Full);
    }
    // Layout 2: the message without its number.
    let mut deferred = None;
    if let Some(m) = complete(payload, |r| numberless_message(family, r)) {
        match hint {
            Some(h) if is_unknown_request(&m) && !names_request(&m, h) => deferred = Some(m),
            _ => return found(m, Layout::NoMessageNumber),
        }
    }
    // Layout 3: the type-specific part of a request named by the hint.
    if let Some(name) = hint {
        if let Some(m) = complete(payload, |r| type_specific_message(family, name, r)) {
            return found(m, Layout::TypeSpecific);
        }
    }
    match deferred {
        Some(m) => found(m, Layout::NoMessageNumber),
        None => Decoded::Undecoded,
    }
}

/// The request-name hint from an event's extras: the first of the keys
/// `request`, `request_type` and `name` (in that order of preference) whose
/// value is a JSON string. `None` when there is none.
pub fn request_hint(event: &Event<'_>) -> Option<String> {
    const KEYS: [&str; 3] = ["request", "request_type", "name"];
    let mut best: Option<(usize, String)> = None;
    for (key, value) in event.extras.iter() {
        let Some(rank) = json_key(key).and_then(|k| KEYS.iter().position(|w| *w == k)) else {
            continue;
        };
        if best.as_ref().is_some_and(|(r, _)| *r <= rank) {
            continue;
        }
        if let Ok(s) = serde_json::from_str::<String>(value) {
            best = Some((rank, s));
        }
    }
    best.map(|(_, s)| s)
}

/// A raw JSON key (with its quotes) as text, resolving escapes if any.
fn json_key(raw: &str) -> Option<Cow<'_, str>> {
    let inner = raw.strip_prefix('"')?.strip_suffix('"')?;
    if inner.contains('\\') {
        serde_json::from_str::<String>(raw).ok().map(Cow::Owned)
    } else {
        Some(Cow::Borrowed(inner))
    }
}

/// The message families, by event type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Family {
    /// 80.
    GlobalRequest,
    /// 81 or 82.
    GlobalReply,
    /// 90.
    ChannelOpen,
    /// 91 or 92.
    OpenReply,
    /// 98.
    ChannelRequest,
    /// 99 or 100.
    ChannelReply,
}

impl Family {
    fn of(kind: &EventType<'_>) -> Option<Family> {
        use EventType as E;
        Some(match kind {
            E::ForwardGlobalRequest | E::ReverseGlobalRequest => Family::GlobalRequest,
            E::ForwardGlobalReply | E::ReverseGlobalReply => Family::GlobalReply,
            E::ForwardNewChannelRequest | E::ReverseNewChannelRequest => Family::ChannelOpen,
            E::ForwardNewChannelReply | E::ReverseNewChannelReply => Family::OpenReply,
            E::ForwardRequest | E::ReverseRequest => Family::ChannelRequest,
            E::ForwardReply | E::ReverseReply => Family::ChannelReply,
            E::Stdin | E::Stdout | E::Stderr | E::Unknown(_) => return None,
        })
    }
}

/// Whether a decoded request fell into the catch-all for unknown names.
fn is_unknown_request(m: &Message<'_>) -> bool {
    matches!(
        m,
        Message::GlobalRequest {
            request: GlobalRequest::Other(_),
            ..
        } | Message::ChannelRequest {
            request: ChannelRequest::Other(_),
            ..
        }
    )
}

/// Whether a decoded request carries the name `name`.
fn names_request(m: &Message<'_>, name: &str) -> bool {
    match m {
        Message::GlobalRequest { name: n, .. } => *n == name,
        Message::ChannelRequest { request_type, .. } => *request_type == name,
        _ => false,
    }
}

/// Runs `parse` over `payload` and keeps the result only when it consumed
/// every byte.
fn complete<'a, T>(
    payload: &'a [u8],
    parse: impl FnOnce(&mut Reader<'a>) -> Option<T>,
) -> Option<T> {
    let mut r = Reader::new(payload);
    let value = parse(&mut r)?;
    r.is_empty().then_some(value)
}

/// Layout 1: `byte msg_number`, then the fields of that message; the number
/// must be one the event type carries.
fn full_message<'a>(family: Family, r: &mut Reader<'a>) -> Option<Message<'a>> {
    let number = r.byte()?;
    match (family, number) {
        (Family::GlobalRequest, MSG_GLOBAL_REQUEST) => global_request(r),
        (Family::GlobalReply, MSG_REQUEST_SUCCESS) => request_success(r),
        (Family::GlobalReply, MSG_REQUEST_FAILURE) => request_failure(),
        (Family::ChannelOpen, MSG_CHANNEL_OPEN) => channel_open(r),
        (Family::OpenReply, MSG_CHANNEL_OPEN_CONFIRMATION) => open_confirmation(r),
        (Family::OpenReply, MSG_CHANNEL_OPEN_FAILURE) => open_failure(r),
        (Family::ChannelRequest, MSG_CHANNEL_REQUEST) => channel_request(r),
        (Family::ChannelReply, MSG_CHANNEL_SUCCESS) => channel_reply(r, Some(true)),
        (Family::ChannelReply, MSG_CHANNEL_FAILURE) => channel_reply(r, Some(false)),
        _ => None,
    }
}

/// Layout 2: the fields of the message, without its number. Where two
/// messages share an event type, the fields tell them apart when they can.
fn numberless_message<'a>(family: Family, r: &mut Reader<'a>) -> Option<Message<'a>> {
    match family {
        Family::GlobalRequest => global_request(r),
        // 82 has no fields and 81 an optional port: nothing left means
        // either, a port means 81.
        Family::GlobalReply if r.is_empty() => Some(Message::GlobalReply {
            success: None,
            bound_port: None,
        }),
        Family::GlobalReply => request_success(r),
        Family::ChannelOpen => channel_open(r),
        // Both are at least 16 bytes; they overlap only on 16 bytes whose
        // last 8 are zero, which is a failure with empty texts rather than
        // a confirmation with a zero window and a zero packet size.
        Family::OpenReply => {
            let mut failure = r.clone();
            if let Some(m) = open_failure(&mut failure).filter(|_| failure.is_empty()) {
                *r = failure;
                Some(m)
            } else {
                open_confirmation(r)
            }
        }
        Family::ChannelRequest => channel_request(r),
        Family::ChannelReply => channel_reply(r, None),
    }
}

/// Layout 3: only the type-specific fields of a request named `name`.
fn type_specific_message<'a>(
    family: Family,
    name: &'a str,
    r: &mut Reader<'a>,
) -> Option<Message<'a>> {
    let name = SshStr(name.as_bytes());
    match family {
        Family::GlobalRequest => Some(Message::GlobalRequest {
            name,
            want_reply: false,
            request: global_request_data(name, r)?,
        }),
        Family::ChannelRequest => Some(Message::ChannelRequest {
            recipient: None,
            request_type: name,
            want_reply: false,
            request: channel_request_data(name, r)?,
        }),
        _ => None,
    }
}

// --- SSH_MSG_GLOBAL_REQUEST and its replies (RFC 4254 section 4) ---------

/// `string request name, boolean want reply, ....`
fn global_request<'a>(r: &mut Reader<'a>) -> Option<Message<'a>> {
    let name = r.string()?;
    let want_reply = r.boolean()?;
    let request = global_request_data(name, r)?;
    Some(Message::GlobalRequest {
        name,
        want_reply,
        request,
    })
}

/// The fields that follow `want_reply` in a global request named `name`.
fn global_request_data<'a>(name: SshStr<'a>, r: &mut Reader<'a>) -> Option<GlobalRequest<'a>> {
    Some(match name.0 {
        b"tcpip-forward" => {
            let bind_address = r.string()?;
            let bind_port = r.uint32()?;
            GlobalRequest::TcpipForward {
                bind_address,
                bind_port,
            }
        }
        b"cancel-tcpip-forward" => {
            let bind_address = r.string()?;
            let bind_port = r.uint32()?;
            GlobalRequest::CancelTcpipForward {
                bind_address,
                bind_port,
            }
        }
        b"keepalive@openssh.com" => GlobalRequest::Keepalive,
        b"no-more-sessions@openssh.com" => GlobalRequest::NoMoreSessions,
        b"hostkeys-00@openssh.com" => GlobalRequest::HostKeys(host_keys(r)?),
        _ if is_ssh_name(name.0) => GlobalRequest::Other(r.take_rest()),
        _ => return None,
    })
}

/// `string hostkey[n]` until the end of the message (OpenSSH PROTOCOL 2.5).
fn host_keys<'a>(r: &mut Reader<'a>) -> Option<Vec<HostKey<'a>>> {
    let mut keys = Vec::new();
    while !r.is_empty() {
        keys.push(host_key(r.string()?.0)?);
    }
    Some(keys)
}

/// A public key blob: `string algorithm, ....` (RFC 4253 section 6.6).
fn host_key(blob: &[u8]) -> Option<HostKey<'_>> {
    let algorithm = Reader::new(blob).string()?;
    is_ssh_name(algorithm.0).then_some(HostKey { blob, algorithm })
}

/// Whether `name` can be an SSH algorithm, request or channel type name
/// (RFC 4250 section 4.6.1): 1 to 64 printable US-ASCII characters other
/// than `,`, with at most one `@`.
///
/// Unknown names must pass this to be decoded as `Other`: without the
/// check, the catch-all would accept almost any bytes in layout 2 (for
/// example a layout-1 channel request for channel 0 whose fields do not
/// parse reads, without its message number, as a request with an empty
/// name).
fn is_ssh_name(name: &[u8]) -> bool {
    (1..=64).contains(&name.len())
        && name
            .iter()
            .all(|&c| (0x21..=0x7e).contains(&c) && c != b',')
        && name.iter().filter(|&&c| c == b'@').count() <= 1
}

/// SSH_MSG_REQUEST_SUCCESS: `[uint32 port that was bound]`.
fn request_success<'a>(r: &mut Reader<'a>) -> Option<Message<'a>> {
    let bound_port = if r.is_empty() {
        None
    } else {
        Some(r.uint32()?)
    };
    Some(Message::GlobalReply {
        success: Some(true),
        bound_port,
    })
}

/// SSH_MSG_REQUEST_FAILURE: no fields.
fn request_failure<'a>() -> Option<Message<'a>> {
    Some(Message::GlobalReply {
        success: Some(false),
        bound_port: None,
    })
}

// --- SSH_MSG_CHANNEL_OPEN and its replies (RFC 4254 section 5.1) --------

/// `string channel type, uint32 sender channel, uint32 initial window size,
/// uint32 maximum packet size, ....`
fn channel_open<'a>(r: &mut Reader<'a>) -> Option<Message<'a>> {
    let channel_type = r.string()?;
    let sender_channel = r.uint32()?;
    let initial_window = r.uint32()?;
    let max_packet = r.uint32()?;
    let open = channel_open_data(channel_type, r)?;
    Some(Message::ChannelOpen {
        channel_type,
        sender_channel,
        initial_window,
        max_packet,
        open,
    })
}

/// The fields that follow `max_packet` in a channel open of type `ty`.
fn channel_open_data<'a>(ty: SshStr<'a>, r: &mut Reader<'a>) -> Option<ChannelOpen<'a>> {
    Some(match ty.0 {
        b"session" => ChannelOpen::Session,
        b"x11" => {
            let originator_address = r.string()?;
            let originator_port = r.uint32()?;
            ChannelOpen::X11 {
                originator_address,
                originator_port,
            }
        }
        b"direct-tcpip" => {
            let host = r.string()?;
            let port = r.uint32()?;
            let originator_address = r.string()?;
            let originator_port = r.uint32()?;
            ChannelOpen::DirectTcpip {
                host,
                port,
                originator_address,
                originator_port,
            }
        }
        b"forwarded-tcpip" => {
            let connected_address = r.string()?;
            let connected_port = r.uint32()?;
            let originator_address = r.string()?;
            let originator_port = r.uint32()?;
            ChannelOpen::ForwardedTcpip {
                connected_address,
                connected_port,
                originator_address,
                originator_port,
            }
        }
        b"direct-streamlocal@openssh.com" => {
            let socket_path = r.string()?;
            let _reserved = r.string()?;
            let _reserved = r.uint32()?;
            ChannelOpen::DirectStreamlocal { socket_path }
        }
        b"auth-agent@openssh.com" => ChannelOpen::AuthAgent,
        _ if is_ssh_name(ty.0) => ChannelOpen::Other(r.take_rest()),
        _ => return None,
    })
}

/// SSH_MSG_CHANNEL_OPEN_CONFIRMATION: `uint32 recipient channel, uint32
/// sender channel, uint32 initial window size, uint32 maximum packet size`.
fn open_confirmation<'a>(r: &mut Reader<'a>) -> Option<Message<'a>> {
    let recipient = r.uint32()?;
    let sender = r.uint32()?;
    let window = r.uint32()?;
    let max_packet = r.uint32()?;
    Some(Message::OpenConfirmation {
        recipient,
        sender,
        window,
        max_packet,
    })
}

/// SSH_MSG_CHANNEL_OPEN_FAILURE: `uint32 recipient channel, uint32 reason
/// code, string description, string language tag`.
fn open_failure<'a>(r: &mut Reader<'a>) -> Option<Message<'a>> {
    let recipient = r.uint32()?;
    let reason = r.uint32()?;
    let description = r.string()?;
    let language = r.string()?;
    Some(Message::OpenFailure {
        recipient,
        reason,
        description,
        language,
    })
}

// --- SSH_MSG_CHANNEL_REQUEST and its replies (RFC 4254 section 5.4) -----

/// `uint32 recipient channel, string request type, boolean want reply, ....`
fn channel_request<'a>(r: &mut Reader<'a>) -> Option<Message<'a>> {
    let recipient = r.uint32()?;
    let request_type = r.string()?;
    let want_reply = r.boolean()?;
    let request = channel_request_data(request_type, r)?;
    Some(Message::ChannelRequest {
        recipient: Some(recipient),
        request_type,
        want_reply,
        request,
    })
}

/// The fields that follow `want_reply` in a channel request of type `ty`
/// (RFC 4254 sections 6.2–6.10, RFC 4335, OpenSSH PROTOCOL).
fn channel_request_data<'a>(ty: SshStr<'a>, r: &mut Reader<'a>) -> Option<ChannelRequest<'a>> {
    Some(match ty.0 {
        b"pty-req" => ChannelRequest::PtyReq(pty_req(r)?),
        b"x11-req" => {
            let single_connection = r.boolean()?;
            let auth_protocol = r.string()?;
            let auth_cookie = r.string()?;
            let screen = r.uint32()?;
            ChannelRequest::X11Req {
                single_connection,
                auth_protocol,
                auth_cookie,
                screen,
            }
        }
        b"env" => {
            let name = r.string()?;
            let value = r.string()?;
            ChannelRequest::Env { name, value }
        }
        b"shell" => ChannelRequest::Shell,
        b"exec" => ChannelRequest::Exec {
            command: r.string()?,
        },
        b"subsystem" => ChannelRequest::Subsystem { name: r.string()? },
        b"window-change" => {
            let cols = r.uint32()?;
            let rows = r.uint32()?;
            let width_px = r.uint32()?;
            let height_px = r.uint32()?;
            ChannelRequest::WindowChange {
                cols,
                rows,
                width_px,
                height_px,
            }
        }
        b"xon-xoff" => ChannelRequest::XonXoff {
            client_can_do: r.boolean()?,
        },
        b"signal" => ChannelRequest::Signal { name: r.string()? },
        b"exit-status" => ChannelRequest::ExitStatus {
            status: r.uint32()?,
        },
        b"exit-signal" => {
            let signal = r.string()?;
            let core_dumped = r.boolean()?;
            let message = r.string()?;
            let language = r.string()?;
            ChannelRequest::ExitSignal {
                signal,
                core_dumped,
                message,
                language,
            }
        }
        b"break" => ChannelRequest::Break { ms: r.uint32()? },
        b"eow@openssh.com" => ChannelRequest::Eow,
        b"auth-agent-req@openssh.com" => ChannelRequest::AuthAgentReq,
        _ if is_ssh_name(ty.0) => ChannelRequest::Other(r.take_rest()),
        _ => return None,
    })
}

/// `string TERM, uint32 cols, uint32 rows, uint32 width px, uint32 height
/// px, string encoded terminal modes`.
fn pty_req<'a>(r: &mut Reader<'a>) -> Option<PtyReq<'a>> {
    let term = r.string()?;
    let cols = r.uint32()?;
    let rows = r.uint32()?;
    let width_px = r.uint32()?;
    let height_px = r.uint32()?;
    let modes = TerminalModes(r.string()?.0);
    Some(PtyReq {
        term,
        cols,
        rows,
        width_px,
        height_px,
        modes,
    })
}

/// SSH_MSG_CHANNEL_SUCCESS / SSH_MSG_CHANNEL_FAILURE: `uint32 recipient
/// channel`.
fn channel_reply<'a>(r: &mut Reader<'a>, success: Option<bool>) -> Option<Message<'a>> {
    let recipient = r.uint32()?;
    Some(Message::ChannelReply {
        recipient: Some(recipient),
        success,
    })
}

// --- Wire types (RFC 4251 section 5) -------------------------------------

/// A cursor over a payload. Every read either succeeds and advances, or
/// fails (`None`) because the bytes run out; nothing is ever allocated.
#[derive(Debug, Clone)]
struct Reader<'a> {
    buf: &'a [u8],
}

impl<'a> Reader<'a> {
    fn new(buf: &'a [u8]) -> Self {
        Reader { buf }
    }

    fn is_empty(&self) -> bool {
        self.buf.is_empty()
    }

    /// The bytes not read yet, without consuming them.
    fn rest(&self) -> &'a [u8] {
        self.buf
    }

    /// The bytes not read yet, consuming them.
    fn take_rest(&mut self) -> &'a [u8] {
        std::mem::take(&mut self.buf)
    }

    /// `n` bytes.
    fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        let (head, tail) = self.buf.split_at_checked(n)?;
        self.buf = tail;
        Some(head)
    }

    /// `byte`.
    fn byte(&mut self) -> Option<u8> {
        let (&b, tail) = self.buf.split_first()?;
        self.buf = tail;
        Some(b)
    }

    /// `boolean`: one byte, any nonzero value is true.
    fn boolean(&mut self) -> Option<bool> {
        Some(self.byte()? != 0)
    }

    /// `uint32`, big-endian.
    fn uint32(&mut self) -> Option<u32> {
        let (head, tail) = self.buf.split_first_chunk::<4>()?;
        self.buf = tail;
        Some(u32::from_be_bytes(*head))
    }

    /// `string`: a uint32 length and that many bytes. A length past the end
    /// of the payload fails; nothing is allocated for it.
    fn string(&mut self) -> Option<SshStr<'a>> {
        let mut r = self.clone();
        let len = usize::try_from(r.uint32()?).ok()?;
        let bytes = r.take(len)?;
        *self = r;
        Some(SshStr(bytes))
    }
}

// ---------------------------------------------------------------------------
// Display.

/// Writes an SSH string as lossy text, control characters escaped so that
/// the output stays on one line.
struct Text<'s>(SshStr<'s>);

impl fmt::Display for Text<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let s = self.0.to_str_lossy();
        if !s.chars().any(char::is_control) {
            return f.write_str(&s);
        }
        for c in s.chars() {
            if c.is_control() {
                write!(f, "{}", c.escape_debug())?;
            } else {
                write!(f, "{c}")?;
            }
        }
        Ok(())
    }
}

/// Writes an SSH string quoted, with Rust string escapes.
struct Quoted<'s>(SshStr<'s>);

impl fmt::Display for Quoted<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:?}", self.0.to_str_lossy())
    }
}

impl fmt::Display for Message<'_> {
    /// One short human-readable line, e.g. `pty-req xterm-256color 120x40
    /// want_reply`, `exit-status 127` or `open-failure #3 connect failed:
    /// denied`. Unknown request and channel types show their name and the
    /// number of undecoded bytes.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Message::GlobalRequest {
                name,
                want_reply,
                request,
            } => {
                write!(f, "{}", Text(*name))?;
                match request {
                    GlobalRequest::TcpipForward {
                        bind_address,
                        bind_port,
                    }
                    | GlobalRequest::CancelTcpipForward {
                        bind_address,
                        bind_port,
                    } => write!(f, " {}:{bind_port}", Text(*bind_address))?,
                    GlobalRequest::Keepalive | GlobalRequest::NoMoreSessions => {}
                    GlobalRequest::HostKeys(keys) => {
                        for key in keys {
                            write!(f, " {}", Text(key.algorithm))?;
                        }
                    }
                    GlobalRequest::Other(rest) => write!(f, " ({} bytes)", rest.len())?,
                }
                want_reply_suffix(f, *want_reply)
            }
            Message::GlobalReply {
                success,
                bound_port,
            } => {
                f.write_str("global-reply")?;
                match success {
                    Some(true) => f.write_str(" success")?,
                    Some(false) => f.write_str(" failure")?,
                    None => {}
                }
                if let Some(port) = bound_port {
                    write!(f, " port {port}")?;
                }
                Ok(())
            }
            Message::ChannelOpen {
                channel_type,
                sender_channel,
                initial_window,
                max_packet: _,
                open,
            } => {
                write!(
                    f,
                    "channel-open {} #{sender_channel} window {initial_window}",
                    Text(*channel_type)
                )?;
                match open {
                    ChannelOpen::Session | ChannelOpen::AuthAgent => Ok(()),
                    ChannelOpen::X11 {
                        originator_address,
                        originator_port,
                    } => write!(f, " from {}:{originator_port}", Text(*originator_address)),
                    ChannelOpen::DirectTcpip {
                        host,
                        port,
                        originator_address,
                        originator_port,
                    } => write!(
                        f,
                        " to {}:{port} from {}:{originator_port}",
                        Text(*host),
                        Text(*originator_address)
                    ),
                    ChannelOpen::ForwardedTcpip {
                        connected_address,
                        connected_port,
                        originator_address,
                        originator_port,
                    } => write!(
                        f,
                        " on {}:{connected_port} from {}:{originator_port}",
                        Text(*connected_address),
                        Text(*originator_address)
                    ),
                    ChannelOpen::DirectStreamlocal { socket_path } => {
                        write!(f, " to {}", Text(*socket_path))
                    }
                    ChannelOpen::Other(rest) => write!(f, " ({} bytes)", rest.len()),
                }
            }
            Message::OpenConfirmation {
                recipient, sender, ..
            } => write!(f, "open-confirmation #{recipient} -> #{sender}"),
            Message::OpenFailure {
                recipient,
                reason,
                description,
                language: _,
            } => {
                write!(
                    f,
                    "open-failure #{recipient} {}",
                    open_failure_reason(*reason)
                )?;
                if !(1..=4).contains(reason) {
                    write!(f, " {reason}")?;
                }
                if !description.is_empty() {
                    write!(f, ": {}", Text(*description))?;
                }
                Ok(())
            }
            Message::ChannelRequest {
                recipient: _,
                request_type,
                want_reply,
                request,
            } => {
                write!(f, "{}", Text(*request_type))?;
                channel_request_details(f, request)?;
                want_reply_suffix(f, *want_reply)
            }
            Message::ChannelReply {
                recipient: _,
                success,
            } => f.write_str(match success {
                Some(true) => "success",
                Some(false) => "failure",
                None => "reply",
            }),
        }
    }
}

fn want_reply_suffix(f: &mut fmt::Formatter<'_>, want_reply: bool) -> fmt::Result {
    if want_reply {
        f.write_str(" want_reply")?;
    }
    Ok(())
}

/// The part of a channel request's line after its name.
fn channel_request_details(
    f: &mut fmt::Formatter<'_>,
    request: &ChannelRequest<'_>,
) -> fmt::Result {
    match request {
        ChannelRequest::PtyReq(p) => write!(f, " {} {}x{}", Text(p.term), p.cols, p.rows),
        ChannelRequest::X11Req {
            single_connection,
            auth_protocol,
            auth_cookie: _,
            screen,
        } => {
            write!(f, " {} screen {screen}", Text(*auth_protocol))?;
            if *single_connection {
                f.write_str(" single-connection")?;
            }
            Ok(())
        }
        ChannelRequest::Env { name, value } => write!(f, " {}={}", Text(*name), Text(*value)),
        ChannelRequest::Exec { command } => write!(f, " {}", Quoted(*command)),
        ChannelRequest::Subsystem { name } | ChannelRequest::Signal { name } => {
            write!(f, " {}", Text(*name))
        }
        ChannelRequest::WindowChange { cols, rows, .. } => write!(f, " {cols}x{rows}"),
        ChannelRequest::XonXoff { client_can_do } => {
            f.write_str(if *client_can_do { " on" } else { " off" })
        }
        ChannelRequest::ExitStatus { status } => write!(f, " {status}"),
        ChannelRequest::ExitSignal {
            signal,
            core_dumped,
            message,
            language: _,
        } => {
            write!(f, " {}", Text(*signal))?;
            if *core_dumped {
                f.write_str(" (core dumped)")?;
            }
            if !message.is_empty() {
                write!(f, " {}", Quoted(*message))?;
            }
            Ok(())
        }
        ChannelRequest::Break { ms } => write!(f, " {ms}ms"),
        ChannelRequest::Shell | ChannelRequest::Eow | ChannelRequest::AuthAgentReq => Ok(()),
        ChannelRequest::Other(rest) => write!(f, " ({} bytes)", rest.len()),
    }
}

// ---------------------------------------------------------------------------

#[cfg(test)]
mod tests {
    use super::*;

    fn msg<'a>(
        kind: EventType<'_>,
        payload: &'a [u8],
        hint: Option<&'a str>,
    ) -> (Message<'a>, Layout) {
        match decode(&kind, payload, hint) {
            Decoded::Message { message, layout } => (message, layout),
            Decoded::Undecoded => panic!("undecoded: {payload:02x?}"),
        }
    }

    #[test]
    fn reader_reads_wire_types() {
        let mut r = Reader::new(b"\x07\x02\x00\x00\x01\x00\x00\x00\x00\x02hi\xff");
        assert_eq!(r.byte(), Some(7));
        assert_eq!(r.boolean(), Some(true));
        assert_eq!(r.uint32(), Some(256));
        assert_eq!(r.string(), Some(SshStr(b"hi")));
        assert_eq!(r.rest(), b"\xff");
        assert_eq!(r.uint32(), None);
        assert_eq!(r.take_rest(), b"\xff");
        assert!(r.is_empty());
        assert_eq!(r.byte(), None);
        assert_eq!(r.boolean(), None);
    }

    #[test]
    fn failed_string_read_does_not_advance() {
        let mut r = Reader::new(b"\xff\xff\xff\xffabc");
        assert_eq!(r.string(), None);
        assert_eq!(r.rest().len(), 7);
        let mut r = Reader::new(b"\x00\x00");
        assert_eq!(r.string(), None);
        assert_eq!(r.rest().len(), 2);
    }

    #[test]
    fn data_and_unknown_types_are_never_decoded() {
        let payload = b"\x63\0\0\0\0";
        for kind in [
            EventType::Stdin,
            EventType::Stdout,
            EventType::Stderr,
            EventType::Unknown(Cow::Borrowed("forward-reply-x")),
        ] {
            assert_eq!(decode(&kind, payload, Some("shell")), Decoded::Undecoded);
        }
    }

    #[test]
    fn message_number_must_fit_the_event_type() {
        // A CHANNEL_SUCCESS is not a global reply in layout 1 (and 5 bytes
        // are no global reply in layout 2 either).
        assert_eq!(
            decode(&EventType::ReverseGlobalReply, b"\x63\0\0\0\0", None),
            Decoded::Undecoded
        );
        assert_eq!(
            msg(EventType::ForwardReply, b"\x64\0\0\0\x02", None).0,
            Message::ChannelReply {
                recipient: Some(2),
                success: Some(false),
            }
        );
    }

    #[test]
    fn terminal_modes_stop_at_end_and_undefined_opcodes() {
        let modes = TerminalModes(b"\x01\0\0\0\x03\x35\0\0\0\x01\xa0\0\0\0\0\x02\0\0\0\x1c");
        let got: Vec<_> = modes.iter().collect();
        assert_eq!(got, vec![(1, Some("VINTR"), 3), (53, Some("ECHO"), 1)]);
        let modes = TerminalModes(b"\x81\0\0\x96\0\0\x01\0\0\0\x03");
        assert_eq!(modes.iter().count(), 1);
        // A truncated pair ends the iteration.
        let modes = TerminalModes(b"\x80\0\0\x96\0\x01\0\0");
        assert_eq!(
            modes.iter().collect::<Vec<_>>(),
            vec![(128, Some("ISPEED"), 38400)]
        );
        assert_eq!(format!("{modes:?}"), "[ISPEED=38400]");
    }

    #[test]
    fn terminal_mode_names_follow_the_rfcs() {
        assert_eq!(terminal_mode_name(1), Some("VINTR"));
        assert_eq!(terminal_mode_name(18), Some("VDISCARD"));
        assert_eq!(terminal_mode_name(42), Some("IUTF8"));
        assert_eq!(terminal_mode_name(93), Some("PARODD"));
        assert_eq!(terminal_mode_name(128), Some("ISPEED"));
        assert_eq!(terminal_mode_name(129), Some("OSPEED"));
        for unnamed in [19, 29, 43, 76, 94, 127, 130, 159, 160, 255] {
            assert_eq!(terminal_mode_name(unnamed), None, "{unnamed}");
        }
    }

    #[test]
    fn open_reply_without_number_prefers_failure_on_overlap() {
        let both = b"\0\0\0\x01\0\0\0\x02\0\0\0\0\0\0\0\0";
        assert_eq!(
            msg(EventType::ReverseNewChannelReply, both, None).0,
            Message::OpenFailure {
                recipient: 1,
                reason: 2,
                description: SshStr(b""),
                language: SshStr(b""),
            }
        );
        let confirmation = b"\0\0\0\x01\0\0\0\x02\0\x20\0\0\0\0\x80\0";
        assert_eq!(
            msg(EventType::ReverseNewChannelReply, confirmation, None),
            (
                Message::OpenConfirmation {
                    recipient: 1,
                    sender: 2,
                    window: 0x200000,
                    max_packet: 0x8000,
                },
                Layout::NoMessageNumber
            )
        );
    }

    #[test]
    fn hint_outranks_a_layout_two_catch_all() {
        // tcpip-forward's fields alone also read as a layout-2 request named
        // "0.0.0.0" with 3 unknown bytes; the hint says otherwise.
        let payload = b"\0\0\0\x070.0.0.0\0\0\x1f\x90";
        let (m, layout) = msg(
            EventType::ForwardGlobalRequest,
            payload,
            Some("tcpip-forward"),
        );
        assert_eq!(layout, Layout::TypeSpecific);
        assert_eq!(m.to_string(), "tcpip-forward 0.0.0.0:8080");
        // Without the hint, the catch-all is all there is.
        let (m, layout) = msg(EventType::ForwardGlobalRequest, payload, None);
        assert_eq!(layout, Layout::NoMessageNumber);
        assert_eq!(m.to_string(), "0.0.0.0 (3 bytes)");
        // A hint whose fields do not fit leaves the catch-all in place.
        let (_, layout) = msg(
            EventType::ForwardGlobalRequest,
            payload,
            Some("keepalive@openssh.com"),
        );
        assert_eq!(layout, Layout::NoMessageNumber);
    }

    #[test]
    fn unknown_names_must_be_ssh_names() {
        for good in [
            "x",
            "winadj@putty.projects.tartarus.org",
            "a-b_c.d+e",
            &"n".repeat(64),
        ] {
            assert!(is_ssh_name(good.as_bytes()), "{good}");
        }
        for bad in [
            "",
            "a b",
            "a,b",
            "a@b@c",
            "caf\u{e9}",
            "tab\t",
            "del\x7f",
            &"n".repeat(65),
        ] {
            assert!(!is_ssh_name(bad.as_bytes()), "{bad:?}");
        }
        // A channel request for channel 0 that fails in layout 1 does not
        // come back as a request with an empty name in layout 2.
        let bad_term = b"\x62\0\0\0\0\0\0\0\x07pty-req\x01\xff\xff\xff\xffxterm";
        assert_eq!(
            decode(&EventType::ForwardRequest, bad_term, None),
            Decoded::Undecoded
        );
    }

    #[test]
    fn display_escapes_control_characters() {
        let m = Message::ChannelRequest {
            recipient: Some(0),
            request_type: SshStr(b"env"),
            want_reply: false,
            request: ChannelRequest::Env {
                name: SshStr(b"A"),
                value: SshStr(b"x\ny\xff"),
            },
        };
        assert_eq!(m.to_string(), "env A=x\\ny\u{fffd}");
        assert_eq!(format!("{:?}", SshStr(b"a\"b")), "\"a\\\"b\"");
        assert_eq!(SshStr(b"a\xffb").to_string(), "a\u{fffd}b");
    }
}
