//! SIEM feeds: a channel's security-relevant happenings as normalized
//! records ([`SiemEvent`]), written ([`write()`]) as Elastic Common Schema
//! 8.11, OCSF 1.3.0, ArcSight CEF or Splunk HTTP Event Collector envelopes
//! ([`SiemFormat`]), one record a line.
//!
//! [`RecordBuilder`] folds a connection's channel events (and the commands
//! recovered from them) into records in time order: each channel's open and
//! close (with duration, bytes per direction and the integrity verdict),
//! pty, shell, exec,
//! subsystem and env requests, port, socket, agent and X11 forwarding,
//! signals, the exit status or signal, every typed command, every failed
//! request (keepalives excepted: OpenSSH servers answer them with a failure
//! by design) and, with [`SiemOptions::io`], the text of the data streams,
//! one record a line.
//! Each record carries the connection metadata when there is one.
//!
//! Output is deterministic: no clock, no random ids, fixed key order.
//!
//! ```
//! use sshtrail::archive::Archive;
//! use sshtrail::output::{ChannelWriter, MemoryOutput, OutputFormat, WriterOptions};
//!
//! let log = b"2023-06-07T17:32:29Z stdin 6c730a\n2023-06-07T17:32:30Z stdout 6869\n";
//! let mut out = MemoryOutput::default();
//! let mut ecs = OutputFormat::Ecs.writer(&WriterOptions::default());
//! Archive::from_bytes("0.hex", log)
//!     .replay(&mut ecs.writing_into(&mut out), &mut |p| panic!("{p}"))
//!     .unwrap();
//! let records = String::from_utf8(out.main("0").unwrap().to_vec()).unwrap();
//! let first: serde_json::Value = serde_json::from_str(records.lines().next().unwrap()).unwrap();
//! assert_eq!(first["event"]["action"], "ssh-connection-start");
//! assert_eq!(first["@timestamp"], "2023-06-07T17:32:29.000000Z");
//! let second: serde_json::Value = serde_json::from_str(records.lines().nth(1).unwrap()).unwrap();
//! assert_eq!(second["event"]["action"], "ssh-channel-open");
//! ```

mod cef;
mod ecs;
mod hec;
mod lines;
mod merge;
mod ocsf;
mod records;

pub use cef::extension as cef_extension;
pub use merge::{merge_records, MergeCounts};
pub use records::{RecordBuilder, RecordSink};

use std::fmt;
use std::str::FromStr;

use crate::channel::{direction_name, Forward, Stream};
use crate::connection::Connection;
use crate::event::Direction;
use crate::replay::Confidence;
use crate::time::Nanos;

/// What the records include and how they name their producer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SiemOptions {
    /// Also a record for each line of stdin, stdout and stderr, with its
    /// text and the time of its first byte.
    pub io: bool,
    /// The most bytes of a line's text a record keeps (then `truncated`).
    pub io_max_bytes: usize,
    /// The producer's version (OCSF `metadata.product.version`, the CEF
    /// header's Version).
    pub product_version: &'static str,
    /// Recover the commands typed in each channel (through the terminal
    /// emulator). Off, the only command records are those given with
    /// [`RecordBuilder::command`].
    pub recognize_commands: bool,
}

impl Default for SiemOptions {
    fn default() -> Self {
        SiemOptions {
            io: false,
            io_max_bytes: 4096,
            product_version: env!("CARGO_PKG_VERSION"),
            recognize_commands: true,
        }
    }
}

/// The output formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum SiemFormat {
    /// Elastic Common Schema 8.11 JSON, one document a line.
    Ecs,
    /// OCSF 1.3.0 JSON (SSH Activity, Process Activity and File System
    /// Activity), one event a line.
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
#[non_exhaustive]
pub enum Action {
    /// The connection through the gateway began: who, from where, to which
    /// host and account, how they authenticated.
    ConnectionStart,
    /// The connection ended: its duration, bytes each way and status.
    ConnectionEnd,
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
    /// A line of input (stdin).
    Input,
    /// A line of output (stdout).
    Output,
    /// A line of error output (stderr).
    ErrorOutput,
    /// A file operation over SFTP or SCP, or a file transferred (the
    /// record's [`SiemEvent::file`] says which file).
    File(FileAction),
}

impl Action {
    /// The `event.action` / CEF signature id, e.g. `ssh-channel-open`.
    pub fn name(self) -> &'static str {
        match self {
            Action::ConnectionStart => "ssh-connection-start",
            Action::ConnectionEnd => "ssh-connection-end",
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
            Action::File(f) => f.name(),
        }
    }

    /// A short title for people (the CEF Name).
    pub fn title(self) -> &'static str {
        match self {
            Action::ConnectionStart => "SSH connection start",
            Action::ConnectionEnd => "SSH connection end",
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
            Action::File(f) => f.title(),
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

/// What a file record is about: the activity of a file operation (as OCSF
/// File System Activity names them), or a transferred file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[non_exhaustive]
pub enum FileAction {
    /// A file, folder or link was made (an open with `CREAT`, `mkdir`,
    /// `symlink`, an SCP upload's file or folder record).
    Create,
    /// A file or folder was opened (an open without `CREAT`, `opendir`,
    /// an SCP download's file or folder record).
    Open,
    /// Data or a listing was read (`readdir`, a failed read).
    Read,
    /// Data was written (a failed write, `copy-data`).
    Write,
    /// A file or folder was removed (`remove`, `rmdir`).
    Delete,
    /// A file was renamed (`rename`, `posix-rename@openssh.com`).
    Rename,
    /// Attributes were set (`setstat`, `fsetstat`, `lsetstat@openssh.com`,
    /// an SCP upload's times record).
    SetAttributes,
    /// Attributes or the name were asked for (`stat`, `lstat`, `fstat`,
    /// `realpath`, `readlink`, `expand-path@openssh.com`, an SCP
    /// download's times record).
    GetAttributes,
    /// A file was uploaded: its transfer as a whole (size, SHA-256).
    Upload,
    /// A file was downloaded: its transfer as a whole (size, SHA-256).
    Download,
    /// Any other operation (`close`, `init`, `statvfs@openssh.com`, SCP's
    /// `end-dir`, ...): [`FileInfo::op`] names it.
    Other,
}

impl FileAction {
    /// `ssh-file-create`, `ssh-file-upload`, ...
    pub fn name(self) -> &'static str {
        match self {
            FileAction::Create => "ssh-file-create",
            FileAction::Open => "ssh-file-open",
            FileAction::Read => "ssh-file-read",
            FileAction::Write => "ssh-file-write",
            FileAction::Delete => "ssh-file-delete",
            FileAction::Rename => "ssh-file-rename",
            FileAction::SetAttributes => "ssh-file-set-attributes",
            FileAction::GetAttributes => "ssh-file-get-attributes",
            FileAction::Upload => "ssh-file-upload",
            FileAction::Download => "ssh-file-download",
            FileAction::Other => "ssh-file-other",
        }
    }

    /// A short title for people (the CEF Name).
    pub fn title(self) -> &'static str {
        match self {
            FileAction::Create => "SSH file create",
            FileAction::Open => "SSH file open",
            FileAction::Read => "SSH file read",
            FileAction::Write => "SSH file write",
            FileAction::Delete => "SSH file delete",
            FileAction::Rename => "SSH file rename",
            FileAction::SetAttributes => "SSH file set attributes",
            FileAction::GetAttributes => "SSH file get attributes",
            FileAction::Upload => "SSH file upload",
            FileAction::Download => "SSH file download",
            FileAction::Other => "SSH file operation",
        }
    }
}

/// What a path names, when the operation tells.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum FileType {
    /// Not told.
    Unknown,
    /// A regular file.
    File,
    /// A folder.
    Folder,
    /// A symbolic link.
    Symlink,
}

impl FileType {
    /// ECS `file.type`: `file`, `dir`, `symlink` (`None` when unknown).
    pub fn ecs(self) -> Option<&'static str> {
        match self {
            FileType::Unknown => None,
            FileType::File => Some("file"),
            FileType::Folder => Some("dir"),
            FileType::Symlink => Some("symlink"),
        }
    }

    /// OCSF `file.type_id` and its caption.
    pub fn ocsf(self) -> (u32, &'static str) {
        match self {
            FileType::Unknown => (0, "Unknown"),
            FileType::File => (1, "Regular File"),
            FileType::Folder => (2, "Folder"),
            FileType::Symlink => (7, "Symbolic Link"),
        }
    }
}

/// The file of a file record: an SFTP or SCP operation
/// ([`crate::transfer::FileOp`]) or a transferred file
/// ([`crate::transfer::RecoveredFile`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileInfo {
    /// SFTP or SCP.
    pub protocol: crate::transfer::Protocol,
    /// The operation as the protocol names it (`open`, `remove`,
    /// `posix-rename@openssh.com`, SCP's `file`, ...), or `upload` and
    /// `download` for a transferred file.
    pub op: String,
    /// The path the record is about (a rename's old name, a link made),
    /// as the server saw it; `None` for operations that name none.
    pub path: Option<String>,
    /// The other path an operation names (a rename's new name, a link's
    /// target).
    pub target: Option<String>,
    /// What the path names, when told.
    pub file_type: FileType,
    /// Flags, attributes or what the response said, as text.
    pub detail: String,
    /// The SFTP status code of a failed operation.
    pub code: Option<u32>,
    /// The file's size (transferred files).
    pub size: Option<u64>,
    /// The SHA-256 in lowercase hex, when every byte of the file was seen
    /// once (transferred files).
    pub sha256: Option<String>,
    /// The permission bits sent with it, when there were some.
    pub mode: Option<u32>,
    /// Whether every byte was seen and the transfer ended well
    /// (transferred files).
    pub complete: Option<bool>,
    /// When it was asked (an operation) or began (a transfer).
    pub started: Nanos,
    /// When its answer showed in the log (an operation) or it ended (a
    /// transfer); the record's time is when the log showed it all.
    pub ended: Nanos,
}

impl FileInfo {
    /// The last part of the path (the path itself when it has no `/`).
    pub fn name(&self) -> Option<&str> {
        self.path.as_deref().map(path_name)
    }

    /// The folder the path is in, when the path names one.
    pub fn directory(&self) -> Option<&str> {
        self.path.as_deref().and_then(path_directory)
    }

    /// The mode as ECS writes it: octal, four digits (`0640`).
    pub fn mode_text(&self) -> Option<String> {
        self.mode.map(|m| format!("{:04o}", m & 0o7777))
    }
}

/// The last part of a path (the path itself when it has no `/`).
pub(crate) fn path_name(p: &str) -> &str {
    let trimmed = p.trim_end_matches('/');
    if trimmed.is_empty() {
        return p;
    }
    trimmed.rsplit('/').next().unwrap_or(trimmed)
}

/// The folder a path is in, when it names one.
pub(crate) fn path_directory(p: &str) -> Option<&str> {
    let (dir, _) = p.trim_end_matches('/').rsplit_once('/')?;
    Some(if dir.is_empty() { "/" } else { dir })
}

/// Whether the happening succeeded.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
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
    pub confidence: Option<Confidence>,
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
    /// True when the integrity verdict is `ok`.
    pub integrity_ok: bool,
    /// The integrity verdict against the connection metadata.
    pub integrity_verdict: crate::channel::Verdict,
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

/// What the records of the connection itself tell: from the connection
/// metadata when there is some, else from the logs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConnectionFacts {
    /// When the connection began (`connected`, else its first event).
    pub started: Nanos,
    /// When it ended (`disconnected`, else its last event): end records.
    pub ended: Option<Nanos>,
    /// Bytes client to server (the metadata's channels' sum, else the
    /// logs' stdin): end records, when known.
    pub bytes_client_to_server: Option<u64>,
    /// Bytes server to client (the metadata's channels' sum, else the
    /// logs' stdout and stderr): end records, when known.
    pub bytes_server_to_client: Option<u64>,
    /// The gateway's status of the connection (`status`, e.g.
    /// `DISCONNECTED`): end records.
    pub status: Option<String>,
    /// The channels seen in the logs (the global requests not counted):
    /// end records.
    pub channels: Option<u64>,
}

impl ConnectionFacts {
    /// `ended - started`, never negative, once it ended.
    pub fn duration(&self) -> Option<Nanos> {
        self.ended.map(|e| (e - self.started).max(0))
    }
}

/// A line of a data stream (see `--io` in the README: one record a line,
/// with the time of its first byte).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IoChunk {
    /// Which stream.
    pub stream: Stream,
    /// Where the line starts in the stream.
    pub offset: u64,
    /// The line's length in bytes, its end (CR, LF or CR LF) included.
    pub len: usize,
    /// The bytes of its text kept (at most `io_max_bytes`, cut at a
    /// character boundary).
    pub kept: usize,
    /// Those bytes, decoded as UTF-8 with U+FFFD for what is not; the line's
    /// end is not part of it.
    pub text: String,
    /// True when the text was cut (`kept` is less than the text's length).
    pub truncated: bool,
    /// False for a line its channel's end cut off before its line end.
    pub line_end: bool,
    /// Secret bytes typed at a prompt show as `*` in it
    /// ([`crate::redact`]).
    pub redacted: bool,
}

/// One normalized record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SiemEvent {
    /// When.
    pub ts: Nanos,
    /// That time as in the log (records sshtrail derives, such as typed
    /// commands and lines of data, keep no text: formatted in UTC). Only
    /// OCSF's `metadata.original_time` writes it; every other time field
    /// is written from `ts` with six fraction digits.
    pub ts_text: String,
    /// A stable id: `<connection>/<channel>/<what>` (`open`, `close`, `r<n>`
    /// for the n-th request, `cmd-<n>`, `file-<n>` for the n-th file
    /// record, `stdout@<offset>`, ...);
    /// `<connection>/connection-start` and `<connection>/connection-end`
    /// for the connection's own records.
    pub id: String,
    /// Position in the channel's records (0-based, in time order); the
    /// connection's own records are numbered apart (start 0, end 1).
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
    pub conn: std::sync::Arc<ConnInfo>,
    /// The channel id (`None`: a record of the connection itself).
    pub channel_id: Option<String>,
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
    pub forward: Option<Forward>,
    /// The signal (signal and exit-signal records).
    pub signal: Option<SignalInfo>,
    /// The session summary (close records).
    pub session: Option<SessionSummary>,
    /// The connection's own facts (connection start and end records).
    pub connection: Option<ConnectionFacts>,
    /// The line (stdin, stdout, stderr records).
    pub io: Option<IoChunk>,
    /// The file (file records).
    pub file: Option<FileInfo>,
    /// The producer's version.
    pub product_version: &'static str,
}

impl SiemEvent {
    /// `client` or `server`.
    pub fn origin_name(&self) -> Option<&'static str> {
        self.origin.map(direction_name)
    }
}

/// Writes records in one format, as [`write()`] does, keeping what the
/// records of a connection share written once between records (ECS: see
/// `ecs::EcsWriter`): what a writer of many records should use.
///
/// ```
/// use sshtrail::archive::Archive;
/// use sshtrail::siem::{self, RecordSink, RecordWriter, SiemFormat, SiemOptions};
///
/// let log = b"2023-06-07T17:32:29Z stdin 6c730a\n2023-06-07T17:32:30Z stdout 6869\n";
/// let options = SiemOptions { io: true, ..SiemOptions::default() };
/// let (mut kept, mut each) = (Vec::new(), Vec::new());
/// let mut writer = RecordWriter::new(SiemFormat::Ecs);
/// let mut sink = RecordSink::new(options, |r| {
///     writer.write(r, &mut kept);
///     siem::write(SiemFormat::Ecs, r, &mut each);
///     Ok(())
/// });
/// Archive::from_bytes("0.hex", log).replay(&mut sink, &mut |_| {}).unwrap();
/// drop(sink);
/// assert_eq!(kept, each);
/// ```
pub struct RecordWriter {
    format: SiemFormat,
    ecs: ecs::EcsWriter,
}

impl RecordWriter {
    /// A writer of records in `format`.
    pub fn new(format: SiemFormat) -> Self {
        RecordWriter {
            format,
            ecs: ecs::EcsWriter::default(),
        }
    }

    /// Writes one record, ending with a line feed: the bytes of [`write()`].
    pub fn write(&mut self, ev: &SiemEvent, out: &mut Vec<u8>) {
        match self.format {
            SiemFormat::Ecs => self.ecs.write(ev, out),
            format => write(format, ev, out),
        }
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
pub(crate) fn is_ip(s: &str) -> bool {
    s.parse::<std::net::IpAddr>().is_ok()
}

/// RFC 3339 in UTC with 6 fraction digits, as every derived time is
/// written ([`crate::time::format_rfc3339`]), e.g.
/// `2023-06-07T17:32:00.001000Z`.
pub(crate) fn rfc3339(ts: Nanos) -> String {
    crate::time::format_rfc3339(ts)
}

/// Milliseconds since the epoch (rounded down).
pub(crate) fn millis(ts: Nanos) -> i64 {
    ts.div_euclid(1_000_000) as i64
}

/// Splits a command line into words as a POSIX shell would (quotes,
/// backslashes); with unbalanced quotes the rest is taken as one word.
pub(crate) fn shell_words(line: &str) -> Vec<String> {
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

/// The length of the longest prefix of `buf` of at most `max` bytes that
/// does not end inside a UTF-8 sequence (when `buf` is longer than `max`).
pub(crate) fn cut_at_char_boundary(buf: &[u8], max: usize) -> usize {
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn words_and_programs() {
        assert_eq!(shell_words("  ls   -la /tmp "), ["ls", "-la", "/tmp"]);
        assert_eq!(shell_words("echo 'it''s'"), ["echo", "its"]);
        assert_eq!(shell_words("echo \"unterminated"), ["echo", "unterminated"]);
        assert_eq!(shell_words("a\\\nb ''"), ["ab", ""]);
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
        // Six fraction digits, always (issue 12: one precision).
        assert_eq!(rfc3339(0), "1970-01-01T00:00:00.000000Z");
        assert_eq!(rfc3339(1_000_000), "1970-01-01T00:00:00.001000Z");
        assert_eq!(rfc3339(1_500), "1970-01-01T00:00:00.000001Z");
        assert_eq!(rfc3339(2_000), "1970-01-01T00:00:00.000002Z");
        assert_eq!(millis(-1), -1);
    }

    #[test]
    fn path_parts() {
        assert_eq!(path_name("/home/u/evidence/blob.dat"), "blob.dat");
        assert_eq!(
            path_directory("/home/u/evidence/blob.dat"),
            Some("/home/u/evidence")
        );
        assert_eq!(path_name("uploaded.tar"), "uploaded.tar");
        assert_eq!(path_directory("uploaded.tar"), None);
        assert_eq!(path_name("logs/"), "logs");
        assert_eq!(path_directory("/etc"), Some("/"));
        assert_eq!(path_name("/"), "/");
        assert_eq!(path_directory("/"), None);
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
