//! SIEM feeds: a channel's security-relevant happenings as normalized
//! records ([`SiemEvent`]), written as Elastic Common Schema 8.11 ([`ecs`]),
//! OCSF 1.3.0 ([`ocsf`]), ArcSight CEF ([`cef`]) or Splunk HTTP Event
//! Collector envelopes ([`hec`]), one record a line.
//!
//! [`events`] folds one [`Channel`] (and the commands recovered from it)
//! into records in time order: the channel's open and close (with duration,
//! bytes per direction and the integrity verdict), pty, shell, exec,
//! subsystem and env requests, port, socket, agent and X11 forwarding,
//! signals, the exit status or signal, every typed command, every failed
//! request (keepalives excepted: OpenSSH servers answer them with a failure
//! by design) and, with [`SiemOptions::io`], the text of the data chunks.
//! Each record carries the connection metadata when there is one.
//!
//! Output is deterministic: no clock, no random ids, fixed key order.
//!
//! ```
//! use sshtrail::{channel::ChannelBuilder, connection::Context, siem, SliceReader};
//! let log = b"2023-06-07T17:32:29Z stdin 6c730a\n2023-06-07T17:32:30Z stdout 6869\n";
//! let mut b = ChannelBuilder::new(Context { connection_id: None, channel_id: "0".into() });
//! let mut buf = Vec::new();
//! for ev in SliceReader::new(log) {
//!     b.push(&ev.unwrap(), &mut buf).unwrap();
//! }
//! let ch = b.finish(None);
//! let opts = siem::SiemOptions { io: false, io_max_bytes: 4096, product_version: "0.1.0" };
//! let events = siem::events(None, None, &ch, &[], &opts);
//! assert_eq!(events[0].action, siem::Action::ChannelOpen);
//! let mut out = Vec::new();
//! siem::write(siem::SiemFormat::Ecs, &events[0], &mut out);
//! assert!(out.starts_with(b"{\"@timestamp\":\"2023-06-07T17:32:29Z\""));
//! ```

pub mod cef;
pub mod ecs;
pub mod hec;
pub mod ocsf;

use std::fmt;
use std::str::FromStr;

use crate::channel::{Channel, Outcome, Scope, Stream};
use crate::connection::Connection;
use crate::event::Direction;
use crate::time::{Nanos, NANOS_PER_SEC};

/// A command line recovered from a channel (typed at a shell prompt).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TypedCommand {
    /// When it was entered.
    pub ts: Nanos,
    /// That time as text (RFC 3339, as in the log).
    pub ts_text: String,
    /// The command line.
    pub command: String,
    /// How sure the recovery is (`exact`, `echo`, `uncertain`).
    pub confidence: String,
}

/// What [`events`] includes and how records name their producer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SiemOptions {
    /// Also a record for each stdin, stdout and stderr chunk, with its text.
    pub io: bool,
    /// The most bytes of a chunk's text a record keeps (then `truncated`).
    pub io_max_bytes: usize,
    /// The producer's version (OCSF `metadata.product.version`, the CEF
    /// header's Version).
    pub product_version: &'static str,
}

impl Default for SiemOptions {
    fn default() -> Self {
        SiemOptions {
            io: false,
            io_max_bytes: 4096,
            product_version: env!("CARGO_PKG_VERSION"),
        }
    }
}

/// The output formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SiemFormat {
    /// Elastic Common Schema 8.11 JSON, one document a line.
    Ecs,
    /// OCSF 1.3.0 JSON (SSH Activity and Process Activity), one event a line.
    Ocsf,
    /// ArcSight Common Event Format, one line an event.
    Cef,
    /// Splunk HTTP Event Collector envelopes, one a line.
    Hec,
}

impl SiemFormat {
    /// The four formats.
    pub const ALL: [SiemFormat; 4] = [
        SiemFormat::Ecs,
        SiemFormat::Ocsf,
        SiemFormat::Cef,
        SiemFormat::Hec,
    ];

    /// `ecs`, `ocsf`, `cef` or `hec`.
    pub fn name(self) -> &'static str {
        match self {
            SiemFormat::Ecs => "ecs",
            SiemFormat::Ocsf => "ocsf",
            SiemFormat::Cef => "cef",
            SiemFormat::Hec => "hec",
        }
    }
}

impl fmt::Display for SiemFormat {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for SiemFormat {
    type Err = String;

    /// Parses `ecs`, `ocsf`, `cef` or `hec` (any case).
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        SiemFormat::ALL
            .into_iter()
            .find(|f| f.name().eq_ignore_ascii_case(s))
            .ok_or_else(|| format!("unknown SIEM format '{s}' (expected ecs, ocsf, cef or hec)"))
    }
}

/// What happened.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Action {
    /// A channel was opened (a session started), or refused.
    ChannelOpen,
    /// A channel closed (a session ended): duration and bytes.
    ChannelClose,
    /// A terminal was requested (`pty-req`).
    Pty,
    /// A shell was requested.
    Shell,
    /// A command was requested (`exec`).
    Exec,
    /// A subsystem was requested (e.g. `sftp`).
    Subsystem,
    /// An environment variable was sent (`env`).
    Env,
    /// Remote port forwarding was asked for (`tcpip-forward`).
    TcpipForward,
    /// Remote port forwarding was cancelled (`cancel-tcpip-forward`).
    CancelTcpipForward,
    /// A local forward's connection (`direct-tcpip`).
    DirectTcpip,
    /// A remote forward's connection (`forwarded-tcpip`).
    ForwardedTcpip,
    /// Unix socket forwarding (`direct-streamlocal@openssh.com` and kin).
    Streamlocal,
    /// Agent forwarding (`auth-agent-req@openssh.com`, `auth-agent@openssh.com`).
    AgentForward,
    /// X11 forwarding (`x11-req`, `x11`).
    X11Forward,
    /// A signal sent to the remote process.
    Signal,
    /// The remote process exited with a status.
    ExitStatus,
    /// The remote process was ended by a signal.
    ExitSignal,
    /// A command typed at the shell.
    Command,
    /// Any other request that failed.
    RequestFailed,
    /// A chunk of input (stdin).
    Input,
    /// A chunk of output (stdout).
    Output,
    /// A chunk of error output (stderr).
    ErrorOutput,
}

impl Action {
    /// The `event.action` / CEF signature id, e.g. `ssh-channel-open`.
    pub fn name(self) -> &'static str {
        match self {
            Action::ChannelOpen => "ssh-channel-open",
            Action::ChannelClose => "ssh-channel-close",
            Action::Pty => "ssh-pty",
            Action::Shell => "ssh-shell",
            Action::Exec => "ssh-exec",
            Action::Subsystem => "ssh-subsystem",
            Action::Env => "ssh-env",
            Action::TcpipForward => "ssh-tcpip-forward",
            Action::CancelTcpipForward => "ssh-cancel-tcpip-forward",
            Action::DirectTcpip => "ssh-direct-tcpip",
            Action::ForwardedTcpip => "ssh-forwarded-tcpip",
            Action::Streamlocal => "ssh-streamlocal-forward",
            Action::AgentForward => "ssh-agent-forward",
            Action::X11Forward => "ssh-x11-forward",
            Action::Signal => "ssh-signal",
            Action::ExitStatus => "ssh-exit-status",
            Action::ExitSignal => "ssh-exit-signal",
            Action::Command => "ssh-command",
            Action::RequestFailed => "ssh-request-failed",
            Action::Input => "ssh-stdin",
            Action::Output => "ssh-stdout",
            Action::ErrorOutput => "ssh-stderr",
        }
    }

    /// A short title for people (the CEF Name).
    pub fn title(self) -> &'static str {
        match self {
            Action::ChannelOpen => "SSH channel open",
            Action::ChannelClose => "SSH channel close",
            Action::Pty => "SSH terminal request",
            Action::Shell => "SSH shell request",
            Action::Exec => "SSH exec request",
            Action::Subsystem => "SSH subsystem request",
            Action::Env => "SSH environment variable",
            Action::TcpipForward => "SSH remote port forwarding",
            Action::CancelTcpipForward => "SSH remote port forwarding cancelled",
            Action::DirectTcpip => "SSH local port forwarding connection",
            Action::ForwardedTcpip => "SSH remote port forwarding connection",
            Action::Streamlocal => "SSH Unix socket forwarding",
            Action::AgentForward => "SSH agent forwarding",
            Action::X11Forward => "SSH X11 forwarding",
            Action::Signal => "SSH signal",
            Action::ExitStatus => "SSH process exit",
            Action::ExitSignal => "SSH process killed by signal",
            Action::Command => "SSH typed command",
            Action::RequestFailed => "SSH request failed",
            Action::Input => "SSH input",
            Action::Output => "SSH output",
            Action::ErrorOutput => "SSH error output",
        }
    }

    /// True for the forwarding actions.
    pub fn is_forward(self) -> bool {
        matches!(
            self,
            Action::TcpipForward
                | Action::CancelTcpipForward
                | Action::DirectTcpip
                | Action::ForwardedTcpip
                | Action::Streamlocal
                | Action::AgentForward
                | Action::X11Forward
        )
    }
}

/// Whether the happening succeeded.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum EventOutcome {
    /// It succeeded (a success reply, exit status 0, a close).
    Success,
    /// It failed (a failure reply, a refused open, a non-zero exit, a signal).
    Failure,
    /// Nothing says (no reply was asked for, or none came).
    Unknown,
}

impl EventOutcome {
    /// `success`, `failure` or `unknown`.
    pub fn name(self) -> &'static str {
        match self {
            EventOutcome::Success => "success",
            EventOutcome::Failure => "failure",
            EventOutcome::Unknown => "unknown",
        }
    }
}

/// How much a record matters.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Severity {
    /// Routine.
    Informational,
    /// A failure, a privileged command, a process killed by a signal.
    Low,
    /// The trail disagrees with the connection metadata.
    Medium,
}

impl Severity {
    /// `informational`, `low` or `medium`.
    pub fn name(self) -> &'static str {
        match self {
            Severity::Informational => "informational",
            Severity::Low => "low",
            Severity::Medium => "medium",
        }
    }

    /// OCSF `severity_id` (1 Informational, 2 Low, 3 Medium); also ECS `event.severity`.
    pub fn ocsf_id(self) -> u8 {
        match self {
            Severity::Informational => 1,
            Severity::Low => 2,
            Severity::Medium => 3,
        }
    }

    /// OCSF caption: `Informational`, `Low`, `Medium`.
    pub fn caption(self) -> &'static str {
        match self {
            Severity::Informational => "Informational",
            Severity::Low => "Low",
            Severity::Medium => "Medium",
        }
    }

    /// CEF severity (0-10): 1, 3 or 5.
    pub fn cef(self) -> u8 {
        match self {
            Severity::Informational => 1,
            Severity::Low => 3,
            Severity::Medium => 5,
        }
    }
}

/// The connection metadata every record carries (all optional).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ConnInfo {
    /// Connection id.
    pub connection_id: Option<String>,
    /// Who connected (`user_data.display_name`).
    pub user: Option<String>,
    /// Their id (`user_data.id`).
    pub user_id: Option<String>,
    /// The target host's name (`target_host_data.common_name`).
    pub host: Option<String>,
    /// The target host's id (`target_host_data.id`).
    pub host_id: Option<String>,
    /// The target host's address (`target_host_address`).
    pub host_address: Option<String>,
    /// The account used on the target (`target_host_account`).
    pub account: Option<String>,
    /// Where the user connected from (`remote_address`).
    pub remote_address: Option<String>,
    /// How the user authenticated (`authentication_method`).
    pub authentication_method: Vec<String>,
    /// Tags.
    pub tags: Vec<String>,
    /// Protocol (`type`, e.g. `SSH`).
    pub protocol: Option<String>,
    /// Whether there was metadata at all.
    pub has_metadata: bool,
}

impl ConnInfo {
    /// The connection part of records: `conn_id` wins over the metadata's id.
    pub fn new(conn_id: Option<&str>, meta: Option<&Connection>) -> ConnInfo {
        let nonempty = |s: Option<&str>| s.filter(|s| !s.is_empty()).map(str::to_string);
        let mut c = ConnInfo {
            connection_id: nonempty(conn_id),
            ..ConnInfo::default()
        };
        if let Some(m) = meta {
            c.has_metadata = true;
            if c.connection_id.is_none() {
                c.connection_id = nonempty(m.id.as_deref());
            }
            c.user = nonempty(m.user());
            c.user_id = nonempty(m.user_data.as_ref().and_then(|u| u.id.as_deref()));
            c.host = nonempty(m.host());
            c.host_id = nonempty(m.target_host_data.as_ref().and_then(|h| h.id.as_deref()));
            c.host_address = nonempty(m.target_host_address.as_deref());
            c.account = nonempty(m.target_host_account.as_deref());
            c.remote_address = nonempty(m.remote_address.as_deref());
            c.authentication_method = m.authentication_method.clone();
            c.tags = m.tags.clone();
            c.protocol = nonempty(m.protocol.as_deref());
        }
        c
    }

    /// The target address when it is an IP address.
    pub fn host_ip(&self) -> Option<&str> {
        self.host_address.as_deref().filter(|a| is_ip(a))
    }

    /// The source address when it is an IP address.
    pub fn remote_ip(&self) -> Option<&str> {
        self.remote_address.as_deref().filter(|a| is_ip(a))
    }
}

/// The terminal of a channel.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PtyInfo {
    /// `TERM`.
    pub term: String,
    /// Columns.
    pub cols: u32,
    /// Rows.
    pub rows: u32,
}

/// The remote process a record is about (shell, exec, typed command).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProcessInfo {
    /// A stable id: `<connection>/<channel>` for the channel's own process,
    /// `<connection>/<channel>/cmd-<n>` for the n-th typed command.
    pub entity_id: String,
    /// The command line, when there is one.
    pub command_line: Option<String>,
    /// The command line split into words as a POSIX shell would.
    pub args: Vec<String>,
    /// The program: the base name of the first word that is not a `NAME=value`.
    pub name: Option<String>,
    /// Whether it has a terminal.
    pub interactive: bool,
    /// The exit status (exit records only).
    pub exit_code: Option<u32>,
    /// True when it runs `sudo`, `su`, `doas`, `pkexec` or `run0`.
    pub privileged: bool,
    /// For typed commands: how sure the recovery is.
    pub confidence: Option<String>,
}

impl ProcessInfo {
    /// The channel's own process (shell, exec, subsystem), nothing else known.
    pub fn channel(entity_id: String, interactive: bool) -> ProcessInfo {
        ProcessInfo {
            entity_id,
            command_line: None,
            args: Vec::new(),
            name: None,
            interactive,
            exit_code: None,
            privileged: false,
            confidence: None,
        }
    }
}

/// A forward's details.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ForwardInfo {
    /// The SSH name: `tcpip-forward`, `direct-tcpip`, `x11-req`, ...
    pub kind: String,
    /// Address listened on or connected to.
    pub address: Option<String>,
    /// Its port (the port the server bound, for `tcpip-forward` on port 0).
    pub port: Option<u32>,
    /// Where the forwarded connection came from.
    pub originator: Option<String>,
    /// Its port.
    pub originator_port: Option<u32>,
    /// Socket path (streamlocal).
    pub socket_path: Option<String>,
}

impl ForwardInfo {
    /// The details of a forward of the channel model.
    pub fn of(f: &crate::channel::Forward) -> ForwardInfo {
        ForwardInfo {
            kind: f.kind.clone(),
            address: f.address.clone(),
            port: f.port,
            originator: f.originator.clone(),
            originator_port: f.originator_port,
            socket_path: f.socket_path.clone(),
        }
    }

    /// A forward known only by its name.
    pub fn named(kind: &str) -> ForwardInfo {
        ForwardInfo {
            kind: kind.to_string(),
            address: None,
            port: None,
            originator: None,
            originator_port: None,
            socket_path: None,
        }
    }
}

/// A signal (sent, or the one that ended the process).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignalInfo {
    /// Name without `SIG`, e.g. `INT`.
    pub name: String,
    /// Whether core was dumped (exit-signal only).
    pub core_dumped: Option<bool>,
    /// The message (exit-signal only).
    pub message: Option<String>,
}

/// What a channel close summarizes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionSummary {
    /// When the channel opened (its open request, else its first event).
    pub started: Nanos,
    /// Its last event.
    pub ended: Nanos,
    /// Decoded bytes: stdin, stdout, stderr.
    pub bytes: [u64; 3],
    /// The integrity verdict against the connection metadata.
    pub integrity_ok: bool,
    /// Every difference found.
    pub problems: Vec<String>,
}

impl SessionSummary {
    /// `ended - started`, never negative.
    pub fn duration(&self) -> Nanos {
        (self.ended - self.started).max(0)
    }

    /// Client to server bytes (stdin).
    pub fn bytes_client_to_server(&self) -> u64 {
        self.bytes[0]
    }

    /// Server to client bytes (stdout + stderr).
    pub fn bytes_server_to_client(&self) -> u64 {
        self.bytes[1] + self.bytes[2]
    }
}

/// A data chunk's text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IoChunk {
    /// Which stream.
    pub stream: Stream,
    /// Where the chunk starts in the stream.
    pub offset: u64,
    /// The chunk's length in bytes.
    pub len: usize,
    /// The first bytes kept (at most `io_max_bytes`, cut at a character boundary).
    pub kept: usize,
    /// Those bytes, decoded as UTF-8 with U+FFFD for what is not.
    pub text: String,
    /// True when `kept < len`.
    pub truncated: bool,
}

/// One normalized record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SiemEvent {
    /// When.
    pub ts: Nanos,
    /// That time as in the log (data chunks keep no text: formatted in UTC).
    pub ts_text: String,
    /// A stable id: `<connection>/<channel>/<what>` (`open`, `close`, `r<n>`
    /// for the n-th request, `cmd-<n>`, `stdout@<offset>`, ...).
    pub id: String,
    /// Position in the channel's records (0-based, in time order).
    pub seq: u64,
    /// What happened.
    pub action: Action,
    /// Whether it succeeded.
    pub outcome: EventOutcome,
    /// Why it failed, when the reply said.
    pub reason: Option<String>,
    /// How much it matters.
    pub severity: Severity,
    /// One line for people.
    pub message: String,
    /// Who sent the request (client or server), for SSH messages.
    pub origin: Option<Direction>,
    /// The SSH request or channel type name.
    pub request: Option<String>,
    /// The connection.
    pub conn: ConnInfo,
    /// The channel id.
    pub channel_id: String,
    /// The channel type (`shell`, `exec`, `direct-tcpip`, ...).
    pub channel_type: Option<String>,
    /// The terminal (on pty records, and on records of a channel that has one).
    pub pty: Option<PtyInfo>,
    /// The remote process.
    pub process: Option<ProcessInfo>,
    /// An environment variable (env records).
    pub env: Option<(String, String)>,
    /// The subsystem (subsystem records).
    pub subsystem: Option<String>,
    /// The forward (forward records, and opens of forward channels).
    pub forward: Option<ForwardInfo>,
    /// The signal (signal and exit-signal records).
    pub signal: Option<SignalInfo>,
    /// The session summary (close records).
    pub session: Option<SessionSummary>,
    /// The chunk (stdin, stdout, stderr records).
    pub io: Option<IoChunk>,
    /// The producer's version.
    pub product_version: &'static str,
}

impl SiemEvent {
    /// `client` or `server`.
    pub fn origin_name(&self) -> Option<&'static str> {
        self.origin.map(crate::channel::direction_name)
    }
}

/// Writes one record in `format`, ending with a line feed.
pub fn write(format: SiemFormat, ev: &SiemEvent, out: &mut Vec<u8>) {
    match format {
        SiemFormat::Ecs => ecs::write(ev, out),
        SiemFormat::Ocsf => ocsf::write(ev, out),
        SiemFormat::Cef => cef::write(ev, out),
        SiemFormat::Hec => hec::write(ev, out),
    }
}

/// True for an IPv4 or IPv6 address.
pub fn is_ip(s: &str) -> bool {
    s.parse::<std::net::IpAddr>().is_ok()
}

/// RFC 3339 in UTC with 3, 6 or 9 fraction digits (the fewest that keep
/// the value), e.g. `2023-06-07T17:32:00.001Z`.
pub fn rfc3339(ts: Nanos) -> String {
    let full = crate::time::format_rfc3339(ts);
    // `...SS.fffffffffZ`: drop zero triplets from the fraction.
    let frac = ts.rem_euclid(NANOS_PER_SEC);
    let keep = if frac == 0 {
        0
    } else if frac % 1_000_000 == 0 {
        3
    } else if frac % 1_000 == 0 {
        6
    } else {
        9
    };
    let dot = full.len() - 11;
    if keep == 0 {
        format!("{}Z", &full[..dot])
    } else {
        format!("{}Z", &full[..dot + 1 + keep])
    }
}

/// Milliseconds since the epoch (rounded down).
pub fn millis(ts: Nanos) -> i64 {
    ts.div_euclid(1_000_000) as i64
}

/// Splits a command line into words as a POSIX shell would (quotes,
/// backslashes); with unbalanced quotes the rest is taken as one word.
///
/// ```
/// assert_eq!(sshtrail::siem::shell_words(r#"echo 'a b' "c\"d" e\ f"#), ["echo", "a b", "c\"d", "e f"]);
/// ```
pub fn shell_words(line: &str) -> Vec<String> {
    let mut words = Vec::new();
    let mut cur = String::new();
    let mut in_word = false;
    let mut chars = line.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\'' => {
                in_word = true;
                for d in chars.by_ref() {
                    if d == '\'' {
                        break;
                    }
                    cur.push(d);
                }
            }
            '"' => {
                in_word = true;
                while let Some(d) = chars.next() {
                    match d {
                        '"' => break,
                        '\\' => match chars.peek() {
                            Some(&n @ ('"' | '\\' | '$' | '`')) => {
                                cur.push(n);
                                chars.next();
                            }
                            Some('\n') => {
                                chars.next();
                            }
                            _ => cur.push('\\'),
                        },
                        _ => cur.push(d),
                    }
                }
            }
            '\\' => {
                in_word = true;
                match chars.next() {
                    Some('\n') | None => {}
                    Some(n) => cur.push(n),
                }
            }
            c if c.is_whitespace() => {
                if in_word {
                    words.push(std::mem::take(&mut cur));
                    in_word = false;
                }
            }
            c => {
                in_word = true;
                cur.push(c);
            }
        }
    }
    if in_word {
        words.push(cur);
    }
    words
}

const PRIVILEGED: [&str; 5] = ["sudo", "su", "doas", "pkexec", "run0"];

/// The process fields of a command line.
fn process_of(entity_id: String, command: &str, interactive: bool) -> ProcessInfo {
    let args = shell_words(command);
    let program = args
        .iter()
        .find(|w| !is_assignment(w))
        .map(|w| w.rsplit('/').next().unwrap_or(w).to_string())
        .filter(|n| !n.is_empty());
    let privileged = program.as_deref().is_some_and(|p| PRIVILEGED.contains(&p));
    ProcessInfo {
        entity_id,
        command_line: Some(command.to_string()),
        args,
        name: program,
        interactive,
        exit_code: None,
        privileged,
        confidence: None,
    }
}

fn is_assignment(w: &str) -> bool {
    match w.split_once('=') {
        Some((name, _)) => {
            !name.is_empty()
                && !name.starts_with(|c: char| c.is_ascii_digit())
                && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
        }
        None => false,
    }
}

fn outcome_of(o: &Outcome) -> (EventOutcome, Option<String>) {
    match o {
        Outcome::Success => (EventOutcome::Success, None),
        Outcome::Failure(why) => (EventOutcome::Failure, why.clone()),
        Outcome::NoReplyWanted | Outcome::Pending | Outcome::Replied => {
            (EventOutcome::Unknown, None)
        }
    }
}

/// The action of a forward kind.
fn forward_action(kind: &str) -> Option<Action> {
    Some(match kind {
        "tcpip-forward" => Action::TcpipForward,
        "cancel-tcpip-forward" => Action::CancelTcpipForward,
        "direct-tcpip" => Action::DirectTcpip,
        "forwarded-tcpip" => Action::ForwardedTcpip,
        "direct-streamlocal@openssh.com"
        | "forwarded-streamlocal@openssh.com"
        | "streamlocal-forward@openssh.com"
        | "cancel-streamlocal-forward@openssh.com" => Action::Streamlocal,
        "auth-agent-req@openssh.com" | "auth-agent@openssh.com" => Action::AgentForward,
        "x11-req" | "x11" => Action::X11Forward,
        _ => return None,
    })
}

fn forward_text(f: &ForwardInfo) -> String {
    let mut s = f.kind.clone();
    if let Some(a) = &f.address {
        s.push_str(&format!(" {a}"));
        if let Some(p) = f.port {
            s.push_str(&format!(":{p}"));
        }
    } else if let Some(p) = f.port {
        s.push_str(&format!(" port {p}"));
    }
    if let Some(p) = &f.socket_path {
        s.push_str(&format!(" {p}"));
    }
    if let Some(o) = &f.originator {
        s.push_str(&format!(" from {o}"));
        if let Some(p) = f.originator_port {
            s.push_str(&format!(":{p}"));
        }
    }
    s
}

/// A record under construction: the fields the caller sets, the rest default.
struct Draft {
    ts: Nanos,
    ts_text: String,
    local_id: String,
    rank: u8,
    action: Action,
    outcome: EventOutcome,
    reason: Option<String>,
    severity: Severity,
    message: String,
    origin: Option<Direction>,
    request: Option<String>,
    pty: Option<PtyInfo>,
    process: Option<ProcessInfo>,
    env: Option<(String, String)>,
    subsystem: Option<String>,
    forward: Option<ForwardInfo>,
    signal: Option<SignalInfo>,
    session: Option<SessionSummary>,
    io: Option<IoChunk>,
}

impl Draft {
    fn new(ts: Nanos, ts_text: &str, local_id: String, action: Action, message: String) -> Draft {
        Draft {
            ts,
            ts_text: ts_text.to_string(),
            local_id,
            rank: 1,
            action,
            outcome: EventOutcome::Unknown,
            reason: None,
            severity: Severity::Informational,
            message,
            origin: None,
            request: None,
            pty: None,
            process: None,
            env: None,
            subsystem: None,
            forward: None,
            signal: None,
            session: None,
            io: None,
        }
    }

    fn outcome(mut self, o: &Outcome) -> Draft {
        let (outcome, reason) = outcome_of(o);
        self.outcome = outcome;
        self.reason = reason;
        if outcome == EventOutcome::Failure {
            self.severity = self.severity.max(Severity::Low);
            self.message.push_str(match &self.reason {
                Some(_) => ": refused",
                None => ": failed",
            });
            if let Some(r) = &self.reason {
                self.message.push_str(&format!(": {r}"));
            }
        }
        self
    }
}

/// The records of one channel, in time order (ties: open first, close
/// last, otherwise requests in log order, then typed commands, then data
/// chunks by stream and offset).
///
/// `conn_id` names the connection (else the metadata's id); `meta` is the
/// connection metadata when there is some; `commands` are the commands
/// recovered from the channel (the first one equal to the channel's exec
/// command is left out: the exec record has it).
pub fn events(
    conn_id: Option<&str>,
    meta: Option<&Connection>,
    channel: &Channel<'_>,
    commands: &[TypedCommand],
    opts: &SiemOptions,
) -> Vec<SiemEvent> {
    let conn = ConnInfo::new(conn_id, meta);
    let chan_id = channel.context.channel_id.clone();
    let prefix = match &conn.connection_id {
        Some(c) => format!("{c}/{chan_id}"),
        None => chan_id.clone(),
    };
    let chan_label = match &channel.kind {
        Some(k) => format!("channel {chan_id} ({k})"),
        None => format!("channel {chan_id}"),
    };
    let pty = channel.pty.as_ref().map(|p| PtyInfo {
        term: p.term.clone(),
        cols: p.cols,
        rows: p.rows,
    });
    let interactive = pty.is_some();
    let mut drafts: Vec<Draft> = Vec::new();

    // The channel's own open: its first open request, else its first event.
    let own_open = channel
        .requests
        .iter()
        .position(|r| r.scope == Scope::Open)
        .filter(|&i| {
            channel.open_type.as_deref() == Some(channel.requests[i].name.as_str())
                && channel.requests[..i].iter().all(|r| r.scope != Scope::Open)
        });
    let mut refused = false;
    let mut open_ts = None;
    if own_open.is_none() {
        if let Some((ts, text)) = &channel.started {
            let mut d = Draft::new(
                *ts,
                text,
                format!("{prefix}/open"),
                Action::ChannelOpen,
                format!("open {chan_label} (its first event; the open request is not in the log)"),
            );
            d.rank = 0;
            drafts.push(d);
            open_ts = Some(*ts);
        }
    }

    let env_requests = channel.requests.iter().filter(|r| r.name == "env").count();
    let mut env_seen = 0;
    let mut signals_seen = 0;
    for (i, r) in channel.requests.iter().enumerate() {
        let fwd = r
            .forward
            .and_then(|f| channel.forwards.get(f))
            .map(ForwardInfo::of);
        let local = format!("{prefix}/r{i}");
        let draft = |action: Action, message: String| {
            let mut d = Draft::new(r.ts, &r.ts_text, local.clone(), action, message);
            d.origin = Some(r.direction);
            d.request = Some(r.name.clone());
            d
        };
        let d = match r.scope {
            Scope::Open if Some(i) == own_open => {
                let mut d = draft(Action::ChannelOpen, format!("open {chan_label}"));
                d.local_id = format!("{prefix}/open");
                d.rank = 0;
                if let Some(f) = &fwd {
                    d.message = format!("open {chan_label}: {}", forward_text(f));
                }
                d.forward = fwd;
                open_ts = Some(r.ts);
                let d = d.outcome(&r.outcome);
                refused = d.outcome == EventOutcome::Failure;
                Some(d)
            }
            Scope::Open => match forward_action(&r.name) {
                Some(a) => {
                    let text = fwd.as_ref().map_or(r.name.clone(), forward_text);
                    let mut d = draft(a, text);
                    d.forward = fwd;
                    Some(d.outcome(&r.outcome))
                }
                None => Some(
                    draft(Action::ChannelOpen, format!("open a {} channel", r.name))
                        .outcome(&r.outcome),
                ),
            },
            Scope::Global => match forward_action(&r.name) {
                Some(a) => {
                    let f = fwd.unwrap_or_else(|| ForwardInfo::named(&r.name));
                    let mut d = draft(a, forward_text(&f));
                    d.forward = Some(f);
                    Some(d.outcome(&r.outcome))
                }
                None => failed_request(r, draft),
            },
            Scope::Channel => match r.name.as_str() {
                "pty-req" => {
                    let mut d = draft(
                        Action::Pty,
                        match &pty {
                            Some(p) => format!("terminal {} {}x{}", p.term, p.cols, p.rows),
                            None => "terminal".to_string(),
                        },
                    );
                    d.pty = pty.clone();
                    Some(d.outcome(&r.outcome))
                }
                "shell" => {
                    let mut d = draft(Action::Shell, "shell".to_string());
                    d.process = Some(ProcessInfo::channel(prefix.clone(), interactive));
                    d.pty = pty.clone();
                    Some(d.outcome(&r.outcome))
                }
                "exec" => {
                    let command = channel.exec.clone().unwrap_or_default();
                    let mut d = draft(Action::Exec, format!("exec: {command}"));
                    let p = process_of(prefix.clone(), &command, interactive);
                    if p.privileged {
                        d.severity = Severity::Low;
                    }
                    d.process = Some(p);
                    d.pty = pty.clone();
                    Some(d.outcome(&r.outcome))
                }
                "subsystem" => {
                    let name = channel.subsystem.clone().unwrap_or_default();
                    let mut d = draft(Action::Subsystem, format!("subsystem {name}"));
                    d.process = Some(ProcessInfo {
                        name: Some(name.clone()).filter(|n| !n.is_empty()),
                        ..ProcessInfo::channel(prefix.clone(), interactive)
                    });
                    d.subsystem = Some(name);
                    Some(d.outcome(&r.outcome))
                }
                "env" => {
                    let pair = if env_requests == channel.env.len() {
                        channel.env.get(env_seen).cloned()
                    } else {
                        None
                    }
                    .unwrap_or_else(|| {
                        let text = r.summary.strip_prefix("env ").unwrap_or(&r.summary);
                        let text = text.strip_suffix(" want_reply").unwrap_or(text);
                        let (k, v) = text.split_once('=').unwrap_or((text, ""));
                        (k.to_string(), v.to_string())
                    });
                    env_seen += 1;
                    let mut d = draft(Action::Env, format!("env {}={}", pair.0, pair.1));
                    d.env = Some(pair);
                    Some(d.outcome(&r.outcome))
                }
                "x11-req" | "auth-agent-req@openssh.com" => {
                    let f = fwd.unwrap_or_else(|| ForwardInfo::named(&r.name));
                    let a = forward_action(&r.name).unwrap_or(Action::X11Forward);
                    let mut d = draft(a, forward_text(&f));
                    d.forward = Some(f);
                    Some(d.outcome(&r.outcome))
                }
                "signal" => {
                    let name = channel
                        .signals
                        .get(signals_seen)
                        .cloned()
                        .unwrap_or_default();
                    signals_seen += 1;
                    let mut d = draft(Action::Signal, format!("signal {name}"));
                    d.signal = Some(SignalInfo {
                        name,
                        core_dumped: None,
                        message: None,
                    });
                    Some(d.outcome(&r.outcome))
                }
                "exit-status" => {
                    let code = channel.exit_status.unwrap_or_default();
                    let mut d = draft(Action::ExitStatus, format!("exit status {code}"));
                    d.process = Some(ProcessInfo {
                        command_line: channel.exec.clone(),
                        exit_code: Some(code),
                        ..ProcessInfo::channel(prefix.clone(), interactive)
                    });
                    d.outcome = if code == 0 {
                        EventOutcome::Success
                    } else {
                        EventOutcome::Failure
                    };
                    Some(d)
                }
                "exit-signal" => {
                    let (name, core, message) = channel.exit_signal.clone().unwrap_or_default();
                    let mut text = format!("killed by signal {name}");
                    if core {
                        text.push_str(" (core dumped)");
                    }
                    if !message.is_empty() {
                        text.push_str(&format!(": {message}"));
                    }
                    let mut d = draft(Action::ExitSignal, text);
                    d.process = Some(ProcessInfo {
                        command_line: channel.exec.clone(),
                        ..ProcessInfo::channel(prefix.clone(), interactive)
                    });
                    d.signal = Some(SignalInfo {
                        name,
                        core_dumped: Some(core),
                        message: Some(message).filter(|m| !m.is_empty()),
                    });
                    d.outcome = EventOutcome::Failure;
                    d.severity = Severity::Low;
                    Some(d)
                }
                _ => failed_request(r, draft),
            },
        };
        drafts.extend(d);
    }

    // The close: unless the open was refused or the metadata says the
    // channel is still open.
    let ongoing = meta
        .and_then(|m| m.channel(&chan_id))
        .and_then(|c| c.protocol_file.as_ref())
        .is_some_and(|p| p.status.as_deref() == Some("ONGOING") || p.closed == Some(false));
    if let (Some((end, end_text)), false, false) = (&channel.ended, refused, ongoing) {
        let started = open_ts
            .or(channel.started.as_ref().map(|s| s.0))
            .unwrap_or(*end);
        let summary = SessionSummary {
            started,
            ended: *end,
            bytes: channel.bytes,
            integrity_ok: channel.integrity.ok,
            problems: channel.integrity.problems.clone(),
        };
        let mut d = Draft::new(
            *end,
            end_text,
            format!("{prefix}/close"),
            Action::ChannelClose,
            format!(
                "{chan_label} closed after {}: {} bytes client to server, {} bytes server to client",
                human_duration(summary.duration()),
                summary.bytes_client_to_server(),
                summary.bytes_server_to_client()
            ),
        );
        d.rank = 2;
        d.outcome = EventOutcome::Success;
        if conn.has_metadata && !summary.integrity_ok {
            d.severity = Severity::Medium;
            d.message
                .push_str(&format!("; integrity: {}", summary.problems.join("; ")));
        }
        if let Some(f) = own_open
            .and_then(|i| channel.requests[i].forward)
            .and_then(|f| channel.forwards.get(f))
        {
            d.forward = Some(ForwardInfo::of(f));
        }
        d.session = Some(summary);
        drafts.push(d);
    }

    // Typed commands (the exec command, when the recovery lists it, has its
    // exec record already).
    let mut exec_listed = false;
    for (n, c) in commands.iter().enumerate() {
        if !exec_listed && channel.exec.as_deref() == Some(c.command.as_str()) {
            exec_listed = true;
            continue;
        }
        let mut d = Draft::new(
            c.ts,
            &c.ts_text,
            format!("{prefix}/cmd-{}", n + 1),
            Action::Command,
            format!("command: {}", c.command),
        );
        let mut p = process_of(format!("{prefix}/cmd-{}", n + 1), &c.command, true);
        p.confidence = Some(c.confidence.clone());
        if p.privileged {
            d.severity = Severity::Low;
        }
        d.process = Some(p);
        d.pty = pty.clone();
        drafts.push(d);
    }

    // Data chunks.
    if opts.io {
        let mut buf = Vec::new();
        for stream in Stream::ALL {
            let action = match stream {
                Stream::Stdin => Action::Input,
                Stream::Stdout => Action::Output,
                Stream::Stderr => Action::ErrorOutput,
            };
            for chunk in &channel.streams[stream as usize] {
                if chunk.decode(&mut buf).is_err() {
                    continue;
                }
                let kept = cut_at_char_boundary(&buf, opts.io_max_bytes);
                let text = String::from_utf8_lossy(&buf[..kept]).into_owned();
                let io = IoChunk {
                    stream,
                    offset: chunk.offset,
                    len: buf.len(),
                    kept,
                    text,
                    truncated: kept < buf.len(),
                };
                let mut d = Draft::new(
                    chunk.ts,
                    &crate::time::format_rfc3339(chunk.ts),
                    format!("{prefix}/{}@{}", stream.name(), chunk.offset),
                    action,
                    format!(
                        "{} {} bytes at offset {}{}",
                        stream.name(),
                        io.len,
                        io.offset,
                        if io.truncated { " (truncated)" } else { "" }
                    ),
                );
                d.io = Some(io);
                d.pty = pty.clone();
                drafts.push(d);
            }
        }
    }

    drafts.sort_by_key(|d| (d.ts, d.rank));
    drafts
        .into_iter()
        .enumerate()
        .map(|(seq, d)| SiemEvent {
            ts: d.ts,
            ts_text: d.ts_text,
            id: d.local_id,
            seq: seq as u64,
            action: d.action,
            outcome: d.outcome,
            reason: d.reason,
            severity: d.severity,
            message: d.message,
            origin: d.origin,
            request: d.request,
            conn: conn.clone(),
            channel_id: chan_id.clone(),
            channel_type: channel.kind.clone(),
            pty: d.pty,
            process: d.process,
            env: d.env,
            subsystem: d.subsystem,
            forward: d.forward,
            signal: d.signal,
            session: d.session,
            io: d.io,
            product_version: opts.product_version,
        })
        .collect()
}

/// A record for a request outside the named ones, only when it failed
/// (keepalives fail by design and are left out).
fn failed_request(
    r: &crate::channel::Request,
    draft: impl Fn(Action, String) -> Draft,
) -> Option<Draft> {
    if !matches!(r.outcome, Outcome::Failure(_)) || r.name.starts_with("keepalive@") {
        return None;
    }
    Some(draft(Action::RequestFailed, format!("request {}", r.name)).outcome(&r.outcome))
}

/// The length of the longest prefix of `buf` of at most `max` bytes that
/// does not end inside a UTF-8 sequence (when `buf` is longer than `max`).
fn cut_at_char_boundary(buf: &[u8], max: usize) -> usize {
    if buf.len() <= max {
        return buf.len();
    }
    let mut cut = max;
    // Back off over at most 3 continuation bytes to the sequence's lead byte.
    while cut > 0 && max - cut < 3 && buf[cut] & 0xC0 == 0x80 {
        cut -= 1;
    }
    if buf[cut] & 0xC0 == 0x80 {
        max
    } else {
        cut
    }
}

/// `2.288s`, `4m47s`, `1h02m03s`.
fn human_duration(nanos: Nanos) -> String {
    let ms = nanos.max(0) / 1_000_000;
    let s = ms / 1000;
    match s {
        0..=59 => format!("{}.{:03}s", s, ms % 1000),
        60..=3599 => format!("{}m{:02}s", s / 60, s % 60),
        _ => format!("{}h{:02}m{:02}s", s / 3600, s / 60 % 60, s % 60),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn words_and_programs() {
        assert_eq!(shell_words("  ls   -la /tmp "), ["ls", "-la", "/tmp"]);
        assert_eq!(shell_words("echo 'it''s'"), ["echo", "its"]);
        assert_eq!(shell_words("echo \"unterminated"), ["echo", "unterminated"]);
        assert_eq!(shell_words("a\\\nb ''"), ["ab", ""]);
        let p = process_of("x".into(), "LC_ALL=C /usr/bin/sudo -u postgres psql", true);
        assert_eq!(p.name.as_deref(), Some("sudo"));
        assert!(p.privileged);
        assert!(!process_of("x".into(), "sudoku", true).privileged);
        assert_eq!(process_of("x".into(), "", false).name, None);
    }

    #[test]
    fn char_boundary_cuts() {
        let s = "aé€😀".as_bytes(); // 1 + 2 + 3 + 4 bytes
        assert_eq!(cut_at_char_boundary(s, 100), 10);
        assert_eq!(cut_at_char_boundary(s, 2), 1);
        assert_eq!(cut_at_char_boundary(s, 3), 3);
        assert_eq!(cut_at_char_boundary(s, 5), 3);
        assert_eq!(cut_at_char_boundary(s, 8), 6);
        assert_eq!(cut_at_char_boundary(s, 0), 0);
        // Not UTF-8: cut where asked.
        assert_eq!(cut_at_char_boundary(&[0x80; 8], 5), 5);
    }

    #[test]
    fn times() {
        assert_eq!(rfc3339(0), "1970-01-01T00:00:00Z");
        assert_eq!(rfc3339(1_000_000), "1970-01-01T00:00:00.001Z");
        assert_eq!(rfc3339(1_500), "1970-01-01T00:00:00.000001500Z");
        assert_eq!(rfc3339(2_000), "1970-01-01T00:00:00.000002Z");
        assert_eq!(millis(-1), -1);
    }

    #[test]
    fn formats_parse() {
        for f in SiemFormat::ALL {
            assert_eq!(f.name().parse::<SiemFormat>(), Ok(f));
        }
        assert_eq!("OCSF".parse::<SiemFormat>(), Ok(SiemFormat::Ocsf));
        assert!("splunk"
            .parse::<SiemFormat>()
            .unwrap_err()
            .contains("ecs, ocsf, cef or hec"));
    }
}
