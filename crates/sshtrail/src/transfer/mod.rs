//! File transfers: what was uploaded and downloaded over SFTP and SCP,
//! recovered from a channel's data.
//!
//! A [`TransferDecoder`] is a [`ChannelSink`]: it reads the data events of
//! each `subsystem sftp` channel (SFTP version 3, draft-ietf-secsh-filexfer-02,
//! as OpenSSH speaks it) and of each legacy SCP channel (`exec scp -t` or
//! `scp -f`), and yields what it [`Found`]: every file operation
//! ([`FileOp`]), every file that was transferred ([`RecoveredFile`]: its
//! remote path, size, SHA-256, whether it is complete) and every problem in
//! the data ([`TransferProblem`], located by the log line the data came
//! from). Other channels are ignored.
//!
//! Nothing keeps the log or a whole file: data is hashed in order as it
//! arrives; only what arrives out of order is held, up to
//! [`Limits::out_of_order_bytes`], beyond which the file is reported as not
//! hashable. Lengths read from the input never size an allocation beyond
//! [`sftp::MAX_PACKET`].
//!
//! ```
//! use sshtrail::archive::Archive;
//! use sshtrail::transfer::{Found, TransferDecoder};
//!
//! let log = b"2023-06-07T17:32:29Z stdin 6c\n";
//! let mut decoder = TransferDecoder::default();
//! Archive::from_bytes("0.hex", log)
//!     .replay(&mut decoder, &mut |_| {})
//!     .unwrap();
//! // An untyped channel carries no transfer.
//! assert!(decoder.take().is_empty());
//! ```

pub mod scp;
pub mod sftp;

use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::fs::File;
use std::io::{self, Write};
use std::ops::Range;
use std::os::unix::fs::FileExt;
use std::path::Path;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;

use sha2::{Digest, Sha256};

use crate::channel::{ChannelEvent, ChannelEventKind, ChannelSink, ChannelState};
use crate::connection::Context;
use crate::time::{format_rfc3339, Nanos};

/// The protocol a file moved by.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Protocol {
    /// The SFTP subsystem.
    Sftp,
    /// Legacy SCP (an `scp -t` or `scp -f` exec channel).
    Scp,
}

impl Protocol {
    /// `sftp` or `scp`.
    pub fn name(self) -> &'static str {
        match self {
            Protocol::Sftp => "sftp",
            Protocol::Scp => "scp",
        }
    }
}

/// Which way a file moved, seen from the client.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TransferDirection {
    /// Client to server.
    Upload,
    /// Server to client.
    Download,
}

impl TransferDirection {
    /// `upload` or `download`.
    pub fn name(self) -> &'static str {
        match self {
            TransferDirection::Upload => "upload",
            TransferDirection::Download => "download",
        }
    }
}

/// A file transferred over a channel, as far as the log shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecoveredFile {
    /// The channel.
    pub context: Context,
    /// SFTP or SCP.
    pub protocol: Protocol,
    /// Upload or download.
    pub direction: TransferDirection,
    /// The remote path as the server saw it: for SFTP as sent in the open
    /// request, for SCP the exec target joined with the record names when
    /// the target is a folder (bytes that are not UTF-8 become U+FFFD).
    pub path: String,
    /// The file's size: the end of the furthest byte written or read, or
    /// the size an SCP record announced.
    pub size: u64,
    /// SHA-256 of bytes `0..size`, when every one of them was seen, once.
    pub sha256: Option<[u8; 32]>,
    /// Every byte was seen and the transfer ended well.
    pub complete: bool,
    /// The byte ranges never seen (at most [`Limits::out_of_order_chunks`]
    /// of them; empty when the data held was dropped, see `why_incomplete`).
    pub missing: Vec<Range<u64>>,
    /// Why the file is incomplete or not hashable, when it is.
    pub why_incomplete: Option<String>,
    /// When the transfer started (the open request, the SCP record).
    pub started: Nanos,
    /// When it ended (the close, the last data or acknowledgement).
    pub ended: Nanos,
    /// The log line where it started.
    pub line: u64,
    /// The permission bits sent with it (SCP's record, SFTP's open
    /// attributes), when there were some.
    pub mode: Option<u32>,
    /// Something to know about a complete file (bytes transferred twice).
    pub note: Option<String>,
    /// The bytes `0..size` (zeros where [`RecoveredFile::missing`]), when
    /// the decoder keeps contents ([`Storage::keeping_contents`]).
    pub content: Option<Content>,
}

impl RecoveredFile {
    /// The SHA-256 in lowercase hex.
    pub fn sha256_hex(&self) -> Option<String> {
        self.sha256.map(|d| crate::digest::hex(&d))
    }

    /// The transfer as a JSON object, as `sshtrail files --json` prints it:
    /// `connection_id`, `channel_id`, `protocol`, `direction`, `path`,
    /// `size`, `sha256` (null when not every byte was seen), `complete`,
    /// `started`, `ended` (RFC 3339), `mode` (`"0644"` or null), `missing`
    /// (`[[start, end], ...]`), `why_incomplete` and `note`.
    pub fn to_json(&self) -> serde_json::Value {
        let missing: Vec<[u64; 2]> = self.missing.iter().map(|r| [r.start, r.end]).collect();
        serde_json::json!({
            "connection_id": self.context.connection_id,
            "channel_id": self.context.channel_id,
            "protocol": self.protocol.name(),
            "direction": self.direction.name(),
            "path": self.path,
            "size": self.size,
            "sha256": self.sha256_hex(),
            "complete": self.complete,
            "started": format_rfc3339(self.started),
            "ended": format_rfc3339(self.ended),
            "mode": self.mode.map(|m| format!("{m:04o}")),
            "missing": missing,
            "why_incomplete": self.why_incomplete,
            "note": self.note,
        })
    }
}

/// The most bytes of a remote name [`safe_file_name`] keeps.
const SAFE_NAME_BYTES: usize = 100;

/// A local file name made from a remote path (hostile input): its last
/// component, every character but letters, digits, `.`, `-`, `_` and `+`
/// replaced by `_` (separators, control and invisible characters, bidi
/// overrides), no leading dot (never `.`, `..` or hidden), at most 100
/// bytes; `file` when nothing is left.
///
/// ```
/// use sshtrail::transfer::safe_file_name;
/// assert_eq!(safe_file_name("/tmp/evidence/résumé notes.txt"), "résumé_notes.txt");
/// assert_eq!(safe_file_name("../../etc/passwd"), "passwd");
/// assert_eq!(safe_file_name(".."), "file");
/// assert_eq!(safe_file_name("evil\u{202e}txt.exe"), "evil_txt.exe");
/// ```
pub fn safe_file_name(remote: &str) -> String {
    let last = remote.rsplit(['/', '\\']).next().unwrap_or_default();
    let mut name = String::new();
    for c in last.chars() {
        let c = if c.is_alphanumeric() || matches!(c, '.' | '-' | '_' | '+') {
            c
        } else {
            '_'
        };
        if name.len() + c.len_utf8() > SAFE_NAME_BYTES {
            break;
        }
        name.push(c);
    }
    let name = name.trim_start_matches('.');
    if name.is_empty() {
        "file".to_string()
    } else {
        name.to_string()
    }
}

/// How a file operation ended.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum OpStatus {
    /// It succeeded.
    Ok,
    /// It failed, with the status code (SFTP) and the message the other
    /// side sent.
    Failed {
        /// The SFTP status code (`SSH_FX_*`), or `None` for SCP.
        code: Option<u32>,
        /// The message, as sent.
        message: String,
    },
    /// No answer came before the channel ended.
    NoResponse,
}

impl OpStatus {
    /// `ok`, `failed` or `no-response`.
    pub fn name(&self) -> &'static str {
        match self {
            OpStatus::Ok => "ok",
            OpStatus::Failed { .. } => "failed",
            OpStatus::NoResponse => "no-response",
        }
    }
}

/// One file operation (an SFTP request with its response, an SCP record
/// with its acknowledgement). Single reads and writes are not listed: the
/// [`RecoveredFile`] they make up is, and a failed one is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileOp {
    /// The channel.
    pub context: Context,
    /// SFTP or SCP.
    pub protocol: Protocol,
    /// When it was asked.
    pub ts: Nanos,
    /// The log line where the request began.
    pub line: u64,
    /// `open`, `mkdir`, `rename`, `posix-rename@openssh.com`, SCP's `file`,
    /// `dir`, ...
    pub op: String,
    /// The paths it names, in the order sent (a handle stands for the path
    /// it was opened with).
    pub paths: Vec<String>,
    /// Flags, attributes or what the response said, as text.
    pub detail: String,
    /// How it ended.
    pub status: OpStatus,
}

/// What a [`TransferProblem`] is.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ProblemKind {
    /// A packet announced a length beyond the limit: the stream cannot be
    /// followed past it.
    #[error("{protocol} packet of {len} bytes announced, more than the {max} allowed: the rest of this direction is not decoded")]
    TooLong {
        /// The protocol.
        protocol: &'static str,
        /// The length announced.
        len: u64,
        /// The limit.
        max: u64,
    },
    /// A packet or record ended before its fields did.
    #[error("malformed {what}: {why}")]
    Malformed {
        /// What was being read (`SFTP WRITE packet`, `SCP record`).
        what: String,
        /// What was wrong.
        why: String,
    },
    /// The channel ended inside a packet or a record.
    #[error("the channel ends inside {what} ({have} of {want} bytes)")]
    Truncated {
        /// What was being read.
        what: String,
        /// Bytes seen.
        have: u64,
        /// Bytes announced.
        want: u64,
    },
    /// A response answers no request, or a handle was never opened.
    #[error("{0}")]
    Inconsistent(String),
    /// A limit on what is held in memory was reached.
    #[error("{0}")]
    Limit(String),
}

/// A problem in a channel's transfer data, located by the log line the
/// data came from.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("line {line}: {kind}")]
pub struct TransferProblem {
    /// The channel.
    pub context: Context,
    /// The log line of the data.
    pub line: u64,
    /// What is wrong.
    pub kind: ProblemKind,
}

/// What a [`TransferDecoder`] found.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Found {
    /// A file operation.
    Op(FileOp),
    /// A transferred file.
    File(RecoveredFile),
    /// A problem in the data.
    Problem(TransferProblem),
}

/// How much a decoder holds at most, per file and per channel.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Bytes that arrived ahead of a gap, held in memory until the gap is
    /// filled, across every file of the decoder (beyond: spilled to a
    /// temporary file).
    pub out_of_order_bytes: u64,
    /// Separate pieces held ahead of gaps, per file (beyond: the file is
    /// reported as not hashable).
    pub out_of_order_chunks: usize,
    /// SFTP requests waiting for their response, per channel.
    pub pending_requests: usize,
    /// Open SFTP handles, per channel.
    pub open_handles: usize,
    /// Files whose contents are kept open at once, across channels, when
    /// contents are kept ([`Storage::keeping_contents`]): each holds a file
    /// descriptor.
    pub kept_files_open: usize,
    /// Bytes never transferred that a kept file may have filled with zeros
    /// (beyond: its content is not kept; a hostile offset or size must not
    /// make a terabyte of zeros).
    pub zero_fill_bytes: u64,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            out_of_order_bytes: 64 << 20,
            out_of_order_chunks: 65536,
            pending_requests: 4096,
            open_handles: 4096,
            kept_files_open: 256,
            zero_fill_bytes: 1 << 30,
        }
    }
}

/// Where decoded data came from: a log line and its time.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct At {
    /// The log line.
    pub line: u64,
    /// The event time.
    pub ts: Nanos,
}

/// Paths are stored up to this many bytes (a longer one cannot name a
/// file on the server: `PATH_MAX` is 4096 on Linux); the rest is marked cut.
pub const MAX_PATH_KEPT: usize = 4096;

/// `bytes` as text for people and records, cut at [`MAX_PATH_KEPT`].
pub(crate) fn path_text(bytes: &[u8]) -> String {
    if bytes.len() > MAX_PATH_KEPT {
        let mut s = String::from_utf8_lossy(&bytes[..MAX_PATH_KEPT]).into_owned();
        s.push_str("…[cut]");
        s
    } else {
        String::from_utf8_lossy(bytes).into_owned()
    }
}

/// Where a decoder keeps what it does not hold in memory (out-of-order data
/// past [`Limits::out_of_order_bytes`]; each file's contents when they are
/// kept), and whether it keeps the contents.
#[derive(Debug, Clone, Default)]
pub struct Storage {
    /// Keep each transferred file's bytes ([`RecoveredFile::content`]).
    keep_contents: bool,
    /// Where the temporary files go (`None`: the system's temporary folder).
    dir: Option<Arc<Path>>,
    /// Files whose contents are held open at this moment, across channels.
    kept_open: Arc<AtomicUsize>,
    /// Bytes held in memory ahead of gaps at this moment, across files.
    held: Arc<AtomicU64>,
}

impl Storage {
    /// Keep each file's contents, in unnamed temporary files under `dir`
    /// (the system's temporary folder for `None`).
    pub fn keeping_contents(dir: Option<&Path>) -> Self {
        Storage {
            keep_contents: true,
            dir: dir.map(Arc::from),
            ..Storage::default()
        }
    }

    /// An unnamed temporary file (gone when closed).
    fn temp_file(&self) -> io::Result<File> {
        match &self.dir {
            Some(d) => tempfile::tempfile_in(d),
            None => tempfile::tempfile(),
        }
    }
}

/// A recovered file's bytes `0..size`, in an unnamed temporary file (gone
/// when the last clone is dropped); the missing ranges read as zeros.
#[derive(Clone)]
pub struct Content {
    file: Arc<File>,
    size: u64,
    /// Releases its place among the files kept open when dropped.
    _open: Arc<KeptOpen>,
}

struct KeptOpen(Arc<AtomicUsize>);

impl Drop for KeptOpen {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::Relaxed);
    }
}

impl fmt::Debug for Content {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Content").field("size", &self.size).finish()
    }
}

/// Two contents are equal when they are the same kept file.
impl PartialEq for Content {
    fn eq(&self, other: &Self) -> bool {
        Arc::ptr_eq(&self.file, &other.file)
    }
}

impl Eq for Content {}

impl Content {
    /// The number of bytes.
    pub fn len(&self) -> u64 {
        self.size
    }

    /// Whether the file is empty.
    pub fn is_empty(&self) -> bool {
        self.size == 0
    }

    /// Copies the bytes into `out`; returns how many.
    pub fn copy_to(&self, out: &mut dyn Write) -> io::Result<u64> {
        let mut buf = vec![0u8; COPY_BUFFER];
        let mut at = 0u64;
        while at < self.size {
            let want = (self.size - at).min(buf.len() as u64) as usize;
            let n = self.file.read_at(&mut buf[..want], at)?;
            if n == 0 {
                return Err(io::Error::new(
                    io::ErrorKind::UnexpectedEof,
                    "the kept file is shorter than the file it keeps",
                ));
            }
            out.write_all(&buf[..n])?;
            at += n as u64;
        }
        Ok(at)
    }
}

/// The buffer bytes are read back through.
const COPY_BUFFER: usize = 256 << 10;

/// Bytes a file holds in memory, counted in the decoder's pool (given back
/// when dropped).
#[derive(Debug)]
struct Held {
    bytes: u64,
    pool: Arc<AtomicU64>,
}

impl Held {
    /// Takes `n` more bytes if the pool stays within `limit`.
    fn take(&mut self, n: u64, limit: u64) -> bool {
        let taken = self
            .pool
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |held| {
                held.checked_add(n).filter(|&total| total <= limit)
            })
            .is_ok();
        if taken {
            self.bytes += n;
        }
        taken
    }

    fn give_back(&mut self, n: u64) {
        let n = n.min(self.bytes);
        self.bytes -= n;
        self.pool.fetch_sub(n, Ordering::Relaxed);
    }
}

impl Drop for Held {
    fn drop(&mut self) {
        self.pool.fetch_sub(self.bytes, Ordering::Relaxed);
    }
}

/// A piece of a file that arrived ahead of a gap.
#[derive(Debug)]
enum Piece {
    /// Held in memory.
    Memory(Vec<u8>),
    /// Written to the spill file at its own offset: this many bytes.
    Spilled(u64),
}

impl Piece {
    fn len(&self) -> u64 {
        match self {
            Piece::Memory(d) => d.len() as u64,
            Piece::Spilled(n) => *n,
        }
    }
}

/// How an [`Assembler`] follows a file.
enum Strategy {
    /// Hash the bytes in order as they come; hold what comes ahead of a
    /// gap (in memory up to the limit, then in a spill file).
    Stream {
        hasher: Sha256,
        /// Bytes `0..contiguous` are hashed.
        contiguous: u64,
        /// Pieces ahead of `contiguous`, by offset.
        ahead: BTreeMap<u64, Piece>,
        /// Bytes of the pieces held in memory.
        in_memory: Held,
        /// Pieces past the memory limit, each at its own offset.
        spill: Option<File>,
    },
    /// Write every byte at its offset into a kept file; hash the file when
    /// it ends.
    Keep {
        file: File,
        /// The ranges written (start → end), merged.
        covered: BTreeMap<u64, u64>,
        /// Some bytes were sent more than once (the file keeps the last).
        rewritten: Option<u64>,
        open: Arc<KeptOpen>,
    },
}

/// A file's contents, assembled by offset: hashed in order as contiguous
/// data arrives, the rest held (in memory up to [`Limits::out_of_order_bytes`],
/// then in a temporary file) until the gap before it fills; or, when the
/// [`Storage`] keeps contents, every byte written at its offset into a
/// temporary file that the [`RecoveredFile`] carries.
pub struct Assembler {
    limits: Limits,
    storage: Storage,
    /// The end of the furthest byte seen.
    end: u64,
    strategy: Strategy,
    /// Why the hash cannot be given, once it cannot.
    unhashable: Option<String>,
}

impl fmt::Debug for Assembler {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (mode, held) = match &self.strategy {
            Strategy::Stream { ahead, .. } => ("stream", ahead.len()),
            Strategy::Keep { covered, .. } => ("keep", covered.len()),
        };
        f.debug_struct("Assembler")
            .field("mode", &mode)
            .field("held", &held)
            .field("end", &self.end)
            .field("unhashable", &self.unhashable)
            .finish()
    }
}

/// What an [`Assembler`] made of a file: see [`Assembler::finish`].
#[derive(Debug)]
pub struct Assembled {
    /// SHA-256 of `0..size`, when every byte was seen (once, unless the
    /// contents were kept: then the last copy of each byte counts).
    pub sha256: Option<[u8; 32]>,
    /// The ranges of `0..size` never seen.
    pub missing: Vec<Range<u64>>,
    /// Why the hash or the ranges cannot be given, when they cannot.
    pub unhashable: Option<String>,
    /// Something to know about a complete file (bytes sent twice).
    pub note: Option<String>,
    /// The bytes `0..size`, when kept.
    pub content: Option<Content>,
}

fn twice(offset: u64) -> String {
    format!(
        "bytes from offset {offset} were transferred twice; the hash cannot say which version the file kept"
    )
}

impl Assembler {
    /// An empty file, followed as `storage` says.
    pub fn new(limits: Limits, storage: &Storage) -> Self {
        let mut why_not_kept = None;
        let strategy = if storage.keep_contents {
            if storage.kept_open.fetch_add(1, Ordering::Relaxed) >= limits.kept_files_open {
                storage.kept_open.fetch_sub(1, Ordering::Relaxed);
                why_not_kept = Some(format!(
                    "more than {} files were being transferred at once: this one's content was not kept",
                    limits.kept_files_open
                ));
                None
            } else {
                let open = Arc::new(KeptOpen(storage.kept_open.clone()));
                match storage.temp_file() {
                    Ok(file) => Some(Strategy::Keep {
                        file,
                        covered: BTreeMap::new(),
                        rewritten: None,
                        open,
                    }),
                    Err(e) => {
                        why_not_kept = Some(format!("its content could not be kept: {e}"));
                        None
                    }
                }
            }
        } else {
            None
        };
        Assembler {
            limits,
            storage: storage.clone(),
            end: 0,
            strategy: strategy.unwrap_or_else(|| Self::stream(storage)),
            unhashable: why_not_kept,
        }
    }

    fn stream(storage: &Storage) -> Strategy {
        Strategy::Stream {
            hasher: Sha256::new(),
            contiguous: 0,
            ahead: BTreeMap::new(),
            in_memory: Held {
                bytes: 0,
                pool: storage.held.clone(),
            },
            spill: None,
        }
    }

    /// The end of the furthest byte seen.
    pub fn end(&self) -> u64 {
        self.end
    }

    /// Adds `data` found at `offset`.
    pub fn add(&mut self, offset: u64, data: &[u8]) {
        let Some(data_end) = offset.checked_add(data.len() as u64) else {
            self.give_up(format!("data at offset {offset} runs past 2^64"));
            return;
        };
        self.end = self.end.max(data_end);
        if self.unhashable.is_some() || data.is_empty() {
            return;
        }
        let result = match &mut self.strategy {
            Strategy::Keep {
                file,
                covered,
                rewritten,
                ..
            } => Self::keep(file, covered, rewritten, offset, data, &self.limits),
            Strategy::Stream { .. } => self.stream_add(offset, data),
        };
        if let Err(why) = result {
            self.give_up(why);
        }
    }

    /// Writes `data` at `offset` into the kept file.
    fn keep(
        file: &File,
        covered: &mut BTreeMap<u64, u64>,
        rewritten: &mut Option<u64>,
        offset: u64,
        data: &[u8],
        limits: &Limits,
    ) -> Result<(), String> {
        file.write_all_at(data, offset)
            .map_err(|e| format!("its content could not be kept at offset {offset}: {e}"))?;
        let (mut start, mut end) = (offset, offset + data.len() as u64);
        // Merge with every range it touches.
        let touching: Vec<(u64, u64)> = covered
            .range(..=end)
            .rev()
            .take_while(|(_, &e)| e >= start)
            .map(|(&s, &e)| (s, e))
            .collect();
        for (s, e) in touching {
            if s < end && e > start && rewritten.is_none() {
                *rewritten = Some(offset.max(s));
            }
            covered.remove(&s);
            start = start.min(s);
            end = end.max(e);
        }
        if covered.len() >= limits.out_of_order_chunks {
            return Err(format!(
                "more than {} separate pieces arrived out of order: not followed, so not hashed",
                limits.out_of_order_chunks
            ));
        }
        covered.insert(start, end);
        Ok(())
    }

    fn stream_add(&mut self, offset: u64, data: &[u8]) -> Result<(), String> {
        let Strategy::Stream {
            hasher,
            contiguous,
            ahead,
            in_memory,
            spill,
        } = &mut self.strategy
        else {
            return Ok(());
        };
        let data_end = offset + data.len() as u64;
        if offset < *contiguous {
            // Written or read again: the hash already holds the first
            // bytes and cannot tell which version the file kept.
            return Err(twice(offset));
        }
        if offset == *contiguous {
            hasher.update(data);
            *contiguous = data_end;
            return Self::drain(hasher, contiguous, ahead, in_memory, spill.as_ref());
        }
        // Ahead of a gap: overlapping pieces ahead make the order ambiguous too.
        let overlaps = ahead
            .range(..data_end)
            .next_back()
            .is_some_and(|(&o, p)| o + p.len() > offset);
        if overlaps {
            return Err(twice(offset));
        }
        if ahead.len() >= self.limits.out_of_order_chunks {
            return Err(format!(
                "more than {} separate pieces arrived out of order: not held, so not hashed",
                self.limits.out_of_order_chunks
            ));
        }
        if in_memory.take(data.len() as u64, self.limits.out_of_order_bytes) {
            ahead.insert(offset, Piece::Memory(data.to_vec()));
            return Ok(());
        }
        // Past the memory limit: to the spill file, at the piece's offset
        // (a sparse file: the gaps take no room).
        let file = match spill {
            Some(f) => f,
            None => spill.insert(self.storage.temp_file().map_err(|e| {
                format!("more than {} bytes arrived out of order and could not be spilled to a temporary file: {e}", self.limits.out_of_order_bytes)
            })?),
        };
        file.write_all_at(data, offset).map_err(|e| {
            format!("data held out of order could not be spilled to a temporary file: {e}")
        })?;
        ahead.insert(offset, Piece::Spilled(data.len() as u64));
        Ok(())
    }

    /// Hashes the pieces that now follow the contiguous bytes.
    fn drain(
        hasher: &mut Sha256,
        contiguous: &mut u64,
        ahead: &mut BTreeMap<u64, Piece>,
        in_memory: &mut Held,
        spill: Option<&File>,
    ) -> Result<(), String> {
        while let Some(entry) = ahead.first_entry() {
            if *entry.key() != *contiguous {
                break;
            }
            let (offset, piece) = entry.remove_entry();
            let len = piece.len();
            match piece {
                Piece::Memory(d) => {
                    in_memory.give_back(d.len() as u64);
                    hasher.update(&d);
                }
                Piece::Spilled(len) => {
                    let file = spill.ok_or("a spilled piece has no spill file")?;
                    hash_range(hasher, file, offset, len).map_err(|e| {
                        format!("data spilled to a temporary file could not be read back: {e}")
                    })?;
                }
            }
            *contiguous += len;
        }
        Ok(())
    }

    fn give_up(&mut self, why: String) {
        if self.unhashable.is_none() {
            self.unhashable = Some(why);
        }
        // Nothing held is of use any more.
        self.strategy = Self::stream(&self.storage);
    }

    /// The ranges of `0..size` never seen (none listed once pieces were
    /// dropped).
    pub fn missing(&self, size: u64) -> Vec<Range<u64>> {
        if self.unhashable.is_some() {
            return Vec::new();
        }
        let mut gaps = Vec::new();
        let mut at = 0;
        let gap_to = |from: u64, to: u64, gaps: &mut Vec<Range<u64>>| {
            let to = to.min(size);
            if from < to {
                gaps.push(from..to);
            }
        };
        match &self.strategy {
            Strategy::Stream {
                contiguous, ahead, ..
            } => {
                at = *contiguous;
                for (&o, p) in ahead {
                    gap_to(at, o, &mut gaps);
                    at = o + p.len();
                }
            }
            Strategy::Keep { covered, .. } => {
                for (&s, &e) in covered {
                    gap_to(at, s, &mut gaps);
                    at = at.max(e);
                }
            }
        }
        gap_to(at, size, &mut gaps);
        gaps
    }

    /// The file as far as it goes, as `0..size`.
    pub fn finish(self, size: u64) -> Assembled {
        let missing = self.missing(size);
        let Assembler {
            strategy,
            unhashable,
            end,
            limits,
            ..
        } = self;
        let whole = unhashable.is_none() && missing.is_empty() && end == size;
        match strategy {
            Strategy::Stream {
                hasher, contiguous, ..
            } => Assembled {
                sha256: (whole && contiguous == size).then(|| hasher.finalize().into()),
                missing,
                unhashable,
                note: None,
                content: None,
            },
            Strategy::Keep {
                file,
                rewritten,
                open,
                ..
            } => {
                let mut unhashable = unhashable;
                let zeros: u64 = missing.iter().map(|r| r.end - r.start).sum();
                if zeros > limits.zero_fill_bytes {
                    return Assembled {
                        sha256: None,
                        missing,
                        unhashable: Some(format!(
                            "{zeros} bytes were never transferred, more than the {} a partial copy fills with zeros: its content is not kept",
                            limits.zero_fill_bytes
                        )),
                        note: None,
                        content: None,
                    };
                }
                // Zeros where nothing came, up to the size announced.
                if let Err(e) = file.set_len(size) {
                    unhashable.get_or_insert(format!("its content could not be kept: {e}"));
                }
                let mut sha256 = None;
                if whole && unhashable.is_none() {
                    let mut hasher = Sha256::new();
                    match hash_range(&mut hasher, &file, 0, size) {
                        Ok(()) => sha256 = Some(hasher.finalize().into()),
                        Err(e) => {
                            unhashable =
                                Some(format!("its kept content could not be read back: {e}"))
                        }
                    }
                }
                let content = unhashable.is_none().then(|| Content {
                    file: Arc::new(file),
                    size,
                    _open: open,
                });
                Assembled {
                    sha256,
                    missing,
                    unhashable,
                    note: rewritten.map(|o| {
                        format!("bytes from offset {o} were transferred more than once; the last copy is kept")
                    }),
                    content,
                }
            }
        }
    }
}

/// Feeds bytes `offset..offset + len` of `file` to `hasher`.
fn hash_range(hasher: &mut Sha256, file: &File, offset: u64, len: u64) -> io::Result<()> {
    let mut buf = vec![0u8; COPY_BUFFER.min(len as usize).max(1)];
    let mut at = 0u64;
    while at < len {
        let want = (len - at).min(buf.len() as u64) as usize;
        file.read_exact_at(&mut buf[..want], offset + at)?;
        hasher.update(&buf[..want]);
        at += want as u64;
    }
    Ok(())
}

/// The decoder of one channel.
#[derive(Debug)]
enum ChannelDecoder {
    /// Not a transfer channel.
    None,
    Sftp(Box<sftp::SftpDecoder>),
    Scp(Box<scp::ScpDecoder>),
}

/// The protocol files move by over `channel`, if it is a transfer channel:
/// a `subsystem sftp` (or `exec sftp-server`, or a channel the gateway typed
/// `sftp`), or a legacy SCP exec (`scp -t`, `scp -f`).
pub fn protocol_of(channel: &ChannelState) -> Option<Protocol> {
    let sftp_exec = channel.exec.as_deref().is_some_and(|c| {
        c.split_whitespace()
            .next()
            .is_some_and(|w| w.rsplit('/').next() == Some("sftp-server"))
    });
    if channel.subsystem.as_deref() == Some("sftp")
        || (channel.subsystem.is_none() && channel.kind.as_deref() == Some("sftp"))
        || sftp_exec
    {
        return Some(Protocol::Sftp);
    }
    channel
        .exec
        .as_deref()
        .and_then(scp::ScpCommand::parse)
        .map(|_| Protocol::Scp)
}

/// Recovers file transfers from every SFTP and SCP channel it is fed; see
/// the [module](self) documentation.
#[derive(Debug, Default)]
pub struct TransferDecoder {
    limits: Limits,
    storage: Storage,
    channels: HashMap<Context, ChannelDecoder>,
    found: Vec<Found>,
}

impl TransferDecoder {
    /// A decoder holding at most what `limits` allow.
    pub fn with_limits(limits: Limits) -> Self {
        TransferDecoder {
            limits,
            ..TransferDecoder::default()
        }
    }

    /// A decoder that keeps each file's contents ([`RecoveredFile::content`])
    /// in unnamed temporary files under `dir` (the system's temporary folder
    /// for `None`); put them on the file system the files go to.
    pub fn keeping_contents(limits: Limits, dir: Option<&Path>) -> Self {
        TransferDecoder {
            limits,
            storage: Storage::keeping_contents(dir),
            ..TransferDecoder::default()
        }
    }

    /// What was found since the last call, in the order it was found.
    pub fn take(&mut self) -> Vec<Found> {
        std::mem::take(&mut self.found)
    }

    fn decoder_for(channel: &ChannelState, limits: Limits, storage: &Storage) -> ChannelDecoder {
        let context = channel.context.clone();
        if protocol_of(channel) == Some(Protocol::Sftp) {
            let mut d = sftp::SftpDecoder::new(context, limits);
            d.storage = storage.clone();
            return ChannelDecoder::Sftp(Box::new(d));
        }
        if let Some(command) = channel.exec.as_deref().and_then(scp::ScpCommand::parse) {
            let mut d = scp::ScpDecoder::new(context, command, limits);
            d.storage = storage.clone();
            return ChannelDecoder::Scp(Box::new(d));
        }
        ChannelDecoder::None
    }
}

impl ChannelSink for TransferDecoder {
    fn event(&mut self, ev: &ChannelEvent<'_>) -> io::Result<()> {
        match ev.kind {
            ChannelEventKind::Data {
                stream,
                ts,
                data,
                line,
                ..
            } => {
                // Found without cloning the channel's id: data events of
                // every channel come through here.
                if !self.channels.contains_key(&ev.channel.context) {
                    let decoder = Self::decoder_for(ev.channel, self.limits, &self.storage);
                    self.channels.insert(ev.channel.context.clone(), decoder);
                }
                let Some(decoder) = self.channels.get_mut(&ev.channel.context) else {
                    return Ok(());
                };
                let at = At { line, ts };
                match decoder {
                    ChannelDecoder::None => {}
                    ChannelDecoder::Sftp(d) => d.data(stream, data, at, &mut self.found),
                    ChannelDecoder::Scp(d) => d.data(stream, data, at, &mut self.found),
                }
            }
            ChannelEventKind::Ended { ts } => match self.channels.remove(&ev.channel.context) {
                Some(ChannelDecoder::Sftp(d)) => d.end(ts, &mut self.found),
                Some(ChannelDecoder::Scp(d)) => d.end(ts, &mut self.found),
                Some(ChannelDecoder::None) | None => {}
            },
            _ => {}
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sha(data: &[u8]) -> [u8; 32] {
        Sha256::digest(data).into()
    }

    fn kept_bytes(c: &Content) -> Vec<u8> {
        let mut v = Vec::new();
        c.copy_to(&mut v).unwrap();
        v
    }

    fn both() -> [Storage; 2] {
        [Storage::default(), Storage::keeping_contents(None)]
    }

    #[test]
    fn assembler_hashes_out_of_order_pieces() {
        let data: Vec<u8> = (0..100u8).collect();
        for storage in both() {
            let mut a = Assembler::new(Limits::default(), &storage);
            a.add(50, &data[50..]);
            a.add(10, &data[10..50]);
            assert_eq!(a.missing(100), vec![0..10]);
            a.add(0, &data[..10]);
            let done = a.finish(100);
            assert_eq!(done.sha256, Some(sha(&data)));
            assert!(done.missing.is_empty());
            assert_eq!(done.unhashable, None);
            assert_eq!(done.content.is_some(), storage.keep_contents);
            if let Some(c) = &done.content {
                assert_eq!(kept_bytes(c), data);
            }
        }
    }

    #[test]
    fn assembler_spills_out_of_order_data_past_its_memory_limit() {
        let data: Vec<u8> = (0..=255u8).cycle().take(1000).collect();
        let mut a = Assembler::new(
            Limits {
                out_of_order_bytes: 10,
                ..Limits::default()
            },
            &Storage::default(),
        );
        // Backwards, in pieces of 100: all but the first 10 bytes go to disk.
        for start in (0..10u64).rev().map(|n| n * 100) {
            a.add(start, &data[start as usize..start as usize + 100]);
        }
        let Strategy::Stream {
            in_memory, spill, ..
        } = &a.strategy
        else {
            panic!("contents are not kept here")
        };
        assert_eq!((in_memory.bytes, spill.is_some()), (0, true));
        let done = a.finish(1000);
        assert_eq!(done.sha256, Some(sha(&data)));
        assert_eq!(done.unhashable, None);
    }

    #[test]
    fn the_memory_limit_holds_across_the_files_of_a_decoder() {
        let limits = Limits {
            out_of_order_bytes: 10,
            ..Limits::default()
        };
        let storage = Storage::default();
        let mut first = Assembler::new(limits, &storage);
        let mut second = Assembler::new(limits, &storage);
        first.add(8, &[1; 8]);
        second.add(8, &[2; 8]);
        let spilled = |a: &Assembler| matches!(&a.strategy, Strategy::Stream { spill, .. } if spill.is_some());
        assert!(!spilled(&first) && spilled(&second));
        assert_eq!(storage.held.load(Ordering::Relaxed), 8);
        // What a file held is given back when it ends.
        first.add(0, &[1; 8]);
        assert_eq!(storage.held.load(Ordering::Relaxed), 0);
        second.add(0, &[2; 8]);
        let done = second.finish(16);
        assert_eq!(done.sha256, Some(sha(&[2; 16])));
        drop(first);
        assert_eq!(storage.held.load(Ordering::Relaxed), 0);
    }

    #[test]
    fn assembler_reports_gaps_and_gives_up_past_its_piece_limit() {
        for storage in both() {
            let mut a = Assembler::new(
                Limits {
                    out_of_order_chunks: 2,
                    ..Limits::default()
                },
                &storage,
            );
            a.add(20, &[1; 5]);
            assert_eq!(a.missing(30), vec![0..20, 25..30]);
            a.add(40, &[1; 6]);
            a.add(60, &[1; 6]);
            let done = a.finish(66);
            assert_eq!(done.sha256, None);
            assert!(done.missing.is_empty());
            assert!(done.unhashable.unwrap().contains("out of order"));
            assert!(done.content.is_none());
        }
    }

    #[test]
    fn kept_content_zero_fills_what_never_came() {
        let mut a = Assembler::new(Limits::default(), &Storage::keeping_contents(None));
        a.add(0, b"head");
        a.add(8, b"tail");
        let done = a.finish(14);
        assert_eq!(done.sha256, None);
        assert_eq!(done.missing, vec![4..8, 12..14]);
        assert_eq!(kept_bytes(&done.content.unwrap()), b"head\0\0\0\0tail\0\0");
    }

    #[test]
    fn rewritten_bytes_are_not_hashed_unless_the_content_is_kept() {
        let mut a = Assembler::new(Limits::default(), &Storage::default());
        a.add(0, b"abcd");
        a.add(2, b"XY");
        let done = a.finish(4);
        assert_eq!(done.sha256, None);
        assert!(done.unhashable.unwrap().contains("twice"));

        // Kept, the file holds the last copy of each byte, as the server does.
        let mut a = Assembler::new(Limits::default(), &Storage::keeping_contents(None));
        a.add(0, b"abcd");
        a.add(2, b"XY");
        let done = a.finish(4);
        assert_eq!(done.sha256, Some(sha(b"abXY")));
        assert!(done.note.unwrap().contains("offset 2"));
        assert_eq!(kept_bytes(&done.content.unwrap()), b"abXY");
    }

    #[test]
    fn kept_content_is_not_zero_filled_past_its_limit() {
        let limits = Limits {
            zero_fill_bytes: 100,
            ..Limits::default()
        };
        let storage = Storage::keeping_contents(None);
        let mut a = Assembler::new(limits, &storage);
        a.add(1 << 40, b"x");
        let done = a.finish((1 << 40) + 1);
        assert!(done.content.is_none());
        assert_eq!(done.missing, vec![0..1 << 40]);
        assert!(done.unhashable.unwrap().contains("zeros"));
        // Its place among the files kept open is given back.
        assert_eq!(storage.kept_open.load(Ordering::Relaxed), 0);
    }

    #[test]
    fn kept_files_open_at_once_are_capped_and_released() {
        let limits = Limits {
            kept_files_open: 1,
            ..Limits::default()
        };
        let storage = Storage::keeping_contents(None);
        let first = Assembler::new(limits, &storage);
        let second = Assembler::new(limits, &storage);
        assert!(second.unhashable.as_deref().unwrap().contains("at once"));
        let content = first.finish(0).content.unwrap();
        assert_eq!(storage.kept_open.load(Ordering::Relaxed), 1);
        drop(content);
        assert_eq!(storage.kept_open.load(Ordering::Relaxed), 0);
        let third = Assembler::new(limits, &storage);
        assert!(third.unhashable.is_none());
    }
}
