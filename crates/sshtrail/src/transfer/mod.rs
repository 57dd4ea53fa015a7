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
use std::io;
use std::ops::Range;

use sha2::{Digest, Sha256};

use crate::channel::{ChannelEvent, ChannelEventKind, ChannelSink, ChannelState};
use crate::connection::Context;
use crate::time::Nanos;

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
}

impl RecoveredFile {
    /// The SHA-256 in lowercase hex.
    pub fn sha256_hex(&self) -> Option<String> {
        self.sha256
            .map(|d| d.iter().map(|b| format!("{b:02x}")).collect())
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
    /// Bytes of a file that arrived ahead of a gap, held until the gap is
    /// filled (beyond: the file is reported as not hashable).
    pub out_of_order_bytes: u64,
    /// Separate pieces held ahead of gaps, per file.
    pub out_of_order_chunks: usize,
    /// SFTP requests waiting for their response, per channel.
    pub pending_requests: usize,
    /// Open SFTP handles, per channel.
    pub open_handles: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            out_of_order_bytes: 64 << 20,
            out_of_order_chunks: 4096,
            pending_requests: 4096,
            open_handles: 4096,
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

/// A file's contents, assembled by offset: hashed in order as contiguous
/// data arrives, the rest held (bounded) until the gap before it fills.
#[derive(Clone)]
pub struct Assembler {
    limits: Limits,
    hasher: Sha256,
    /// Bytes `0..contiguous` are hashed.
    contiguous: u64,
    /// The end of the furthest byte seen.
    end: u64,
    /// Pieces ahead of `contiguous`, by offset.
    ahead: BTreeMap<u64, Vec<u8>>,
    ahead_bytes: u64,
    /// Why the hash cannot be given, once it cannot.
    unhashable: Option<String>,
}

impl fmt::Debug for Assembler {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Assembler")
            .field("contiguous", &self.contiguous)
            .field("end", &self.end)
            .field("ahead_bytes", &self.ahead_bytes)
            .field("unhashable", &self.unhashable)
            .finish()
    }
}

impl Assembler {
    /// An empty file.
    pub fn new(limits: Limits) -> Self {
        Assembler {
            limits,
            hasher: Sha256::new(),
            contiguous: 0,
            end: 0,
            ahead: BTreeMap::new(),
            ahead_bytes: 0,
            unhashable: None,
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
        if offset < self.contiguous {
            // Written or read again: the hash already holds the first
            // bytes and cannot tell which version the file kept.
            self.give_up(format!(
                "bytes from offset {offset} were transferred twice; the hash cannot say which version the file kept"
            ));
            return;
        }
        if offset == self.contiguous {
            self.hasher.update(data);
            self.contiguous = data_end;
            self.drain_ahead();
            return;
        }
        // Ahead of a gap: overlapping pieces ahead make the order ambiguous too.
        let overlaps = self
            .ahead
            .range(..data_end)
            .next_back()
            .is_some_and(|(&o, d)| o + d.len() as u64 > offset);
        if overlaps {
            self.give_up(format!(
                "bytes from offset {offset} were transferred twice; the hash cannot say which version the file kept"
            ));
            return;
        }
        if self.ahead_bytes + data.len() as u64 > self.limits.out_of_order_bytes
            || self.ahead.len() >= self.limits.out_of_order_chunks
        {
            self.give_up(format!(
                "more than {} bytes or {} pieces arrived out of order: not held, so not hashed",
                self.limits.out_of_order_bytes, self.limits.out_of_order_chunks
            ));
            return;
        }
        self.ahead_bytes += data.len() as u64;
        self.ahead.insert(offset, data.to_vec());
    }

    fn drain_ahead(&mut self) {
        while let Some(entry) = self.ahead.first_entry() {
            if *entry.key() != self.contiguous {
                break;
            }
            let piece = entry.remove();
            self.ahead_bytes -= piece.len() as u64;
            self.hasher.update(&piece);
            self.contiguous += piece.len() as u64;
        }
    }

    fn give_up(&mut self, why: String) {
        if self.unhashable.is_none() {
            self.unhashable = Some(why);
        }
        self.ahead.clear();
        self.ahead_bytes = 0;
    }

    /// The ranges of `0..size` never seen (none listed once pieces were
    /// dropped).
    pub fn missing(&self, size: u64) -> Vec<Range<u64>> {
        if self.unhashable.is_some() {
            return Vec::new();
        }
        let mut gaps = Vec::new();
        let mut at = self.contiguous;
        for (&o, d) in &self.ahead {
            if o > at {
                gaps.push(at..o.min(size));
            }
            at = o + d.len() as u64;
        }
        if at < size {
            gaps.push(at..size);
        }
        gaps.retain(|g| g.start < g.end);
        gaps
    }

    /// The file as far as it goes: `(sha256 of 0..size if every byte was
    /// seen once, missing ranges, why it is not hashable)`.
    pub fn finish(self, size: u64) -> (Option<[u8; 32]>, Vec<Range<u64>>, Option<String>) {
        let missing = self.missing(size);
        let whole = self.unhashable.is_none() && self.contiguous == size && self.end == size;
        let digest = whole.then(|| self.hasher.finalize().into());
        (digest, missing, self.unhashable)
    }
}

/// The decoder of one channel.
#[derive(Debug)]
enum ChannelDecoder {
    /// Not a transfer channel.
    None,
    Sftp(Box<sftp::SftpDecoder>),
    Scp(Box<scp::ScpDecoder>),
}

/// Recovers file transfers from every SFTP and SCP channel it is fed; see
/// the [module](self) documentation.
#[derive(Debug, Default)]
pub struct TransferDecoder {
    limits: Limits,
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

    /// What was found since the last call, in the order it was found.
    pub fn take(&mut self) -> Vec<Found> {
        std::mem::take(&mut self.found)
    }

    fn decoder_for(channel: &ChannelState, limits: Limits) -> ChannelDecoder {
        let context = channel.context.clone();
        let sftp_exec = channel.exec.as_deref().is_some_and(|c| {
            c.split_whitespace()
                .next()
                .is_some_and(|w| w.rsplit('/').next() == Some("sftp-server"))
        });
        if channel.subsystem.as_deref() == Some("sftp")
            || (channel.subsystem.is_none() && channel.kind.as_deref() == Some("sftp"))
            || sftp_exec
        {
            return ChannelDecoder::Sftp(Box::new(sftp::SftpDecoder::new(context, limits)));
        }
        if let Some(command) = channel.exec.as_deref().and_then(scp::ScpCommand::parse) {
            return ChannelDecoder::Scp(Box::new(scp::ScpDecoder::new(context, command, limits)));
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
                let limits = self.limits;
                let decoder = self
                    .channels
                    .entry(ev.channel.context.clone())
                    .or_insert_with(|| Self::decoder_for(ev.channel, limits));
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

    #[test]
    fn assembler_hashes_out_of_order_pieces() {
        let data: Vec<u8> = (0..100u8).collect();
        let mut a = Assembler::new(Limits::default());
        a.add(50, &data[50..]);
        a.add(10, &data[10..50]);
        assert_eq!(a.missing(100).first(), Some(&(0..10)));
        assert_eq!(a.missing(100).len(), 1);
        a.add(0, &data[..10]);
        let (digest, missing, why) = a.finish(100);
        assert_eq!(digest, Some(sha(&data)));
        assert!(missing.is_empty());
        assert_eq!(why, None);
    }

    #[test]
    fn assembler_reports_gaps_and_gives_up_beyond_its_cap() {
        let mut a = Assembler::new(Limits {
            out_of_order_bytes: 10,
            ..Limits::default()
        });
        a.add(20, &[1; 5]);
        assert_eq!(a.missing(30), vec![0..20, 25..30]);
        a.add(40, &[1; 6]);
        let (digest, missing, why) = a.finish(46);
        assert_eq!(digest, None);
        assert!(missing.is_empty());
        assert!(why.unwrap().contains("out of order"));
    }

    #[test]
    fn assembler_refuses_to_hash_rewritten_bytes() {
        let mut a = Assembler::new(Limits::default());
        a.add(0, b"abcd");
        a.add(2, b"XY");
        let (digest, _, why) = a.finish(4);
        assert_eq!(digest, None);
        assert!(why.unwrap().contains("twice"));
    }
}
