//! Seeking in a long session: a keyframe index of a log's terminals.
//!
//! The screen at a moment is what the terminal emulator shows after every
//! byte of output before it: without an index, the log is read and
//! emulated from its start. A [`KeyframeIndex`] is made by one full pass
//! over the log, which every [`IndexOptions::spacing`] bytes of terminal
//! output (2 MiB by default) takes a keyframe: where the next record of
//! the log starts (a byte offset: reading resumes there without decoding
//! what is before), the parser's state there, and each terminal's state
//! ([`ScreenKeyframe`]: avt's dump of the emulator, a character split by
//! the last chunk, the terminal's size). It also keeps what the whole log
//! tells and a moment needs: the session's span, its channels with their
//! labels and start times.
//!
//! [`KeyframeIndex::screens_at`] then starts from the last keyframe that
//! no output after the moment precedes, and reads only up to the first
//! keyframe after which nothing is at or before the moment: a few MiB
//! instead of the whole log. The screens are those a replay from the
//! start gives (same events, same emulator; the build checks that each
//! terminal's dump recreates the same terminal before keeping a keyframe).
//!
//! The index lives in a cache folder, never beside the log
//! ([`KeyframeIndex::open_or_build`]), in one file named after the log's
//! identity (its canonical path, its channel, the layout asked for, its
//! metadata's digest). It holds the log's size and SHA-256, checked
//! against the log on every use: a log that changed, or an index file
//! that is truncated, damaged or of another version, is rebuilt. The file
//! (docs/DESIGN.md, "Seek index") is the magic line, the keyframes'
//! snapshots (JSON, each with its SHA-256 in the header), the header (JSON)
//! and a fixed-size footer giving the header's place and SHA-256. Only one
//! snapshot is in memory at a time.
//!
//! Only a connection of one plain (uncompressed, seekable) log that reads
//! without a single problem is indexed: anything else is
//! [`IndexError::NotIndexable`], and the caller replays from the start (which
//! reports the problems as always).
//!
//! ```
//! use sshtrail::archive::{Archive, Discovery};
//! use sshtrail::replay::index::{IndexOptions, IndexOrigin, KeyframeIndex};
//!
//! let dir = tempfile::tempdir().unwrap();
//! let log = dir.path().join("0.hex");
//! std::fs::write(&log, "2023-06-07T17:32:29Z stdout 6f6e650d0a\n2023-06-07T17:32:31Z stdout 74776f\n").unwrap();
//! let archive = Archive::open(&[&log], &Discovery::standard(), &mut |p| panic!("{p}"));
//! let cache = dir.path().join("cache");
//! let options = IndexOptions::default();
//! let (index, origin) = KeyframeIndex::open_or_build(&archive.connections[0], None, &cache, &options).unwrap();
//! assert_eq!(origin, IndexOrigin::Built);
//! let (_, origin) = KeyframeIndex::open_or_build(&archive.connections[0], None, &cache, &options).unwrap();
//! assert_eq!(origin, IndexOrigin::Reused);
//! // The channel has no pty-req: no terminal, no screen.
//! assert!(index.screens_at(1_686_159_150_000_000_000).unwrap().is_empty());
//! ```

use std::collections::BTreeMap;
use std::fs::{self, File};
use std::io::{self, BufWriter, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::archive::{ConnectionSource, LogSource};
use crate::channel::{
    ChannelEvent, ChannelEventKind, ChannelSink, ConnectionBuilder, ReplayError, RequestKind,
    Stream,
};
use crate::connection::Context;
use crate::digest;
use crate::format::{Format, StreamReader};
use crate::replay::{Screen, ScreenKeyframe};
use crate::time::Nanos;

/// Terminal output between two keyframes by default: 2 MiB. Seeking then
/// emulates at most 2 MiB after the keyframe (about 50 ms; the whole
/// seek is then dominated by the SHA-256 of the log, which checks the
/// index), while a keyframe costs one screen's dump (a few KiB, at most
/// about a MiB for the largest, most coloured screen): an index is well
/// under 1 % of its log (a 256 MiB log of 166 MiB output: 78 keyframes,
/// 272 KB).
pub const DEFAULT_SPACING: u64 = 2 << 20;

/// The version of the index file, in its first line and its footer.
pub const FORMAT_VERSION: u32 = 1;

/// The first line of an index file.
const MAGIC: &[u8] = b"sshtrail seek index v1\n";
/// The footer's first bytes; then the header's offset and length (20
/// digits each), its SHA-256 (64 hex digits), and a line end.
const FOOTER_TAG: &[u8] = b"sshtrail-seek-footer-v1 ";
const FOOTER_LEN: usize = FOOTER_TAG.len() + 20 + 1 + 20 + 1 + 64 + 1;
/// The largest header read: thousands of keyframes and channels.
const MAX_HEADER: u64 = 64 << 20;
/// The largest snapshot read (a few channels of the largest screen).
const MAX_SNAPSHOT: u64 = 256 << 20;

/// How an index is built.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct IndexOptions {
    /// Bytes of terminal output between two keyframes (at least 1).
    pub spacing: u64,
}

impl Default for IndexOptions {
    fn default() -> Self {
        IndexOptions {
            spacing: DEFAULT_SPACING,
        }
    }
}

impl IndexOptions {
    /// Keyframes every `spacing` bytes of terminal output (tests use a few
    /// KiB, so that a small log has several).
    pub fn with_spacing(spacing: u64) -> Self {
        IndexOptions {
            spacing: spacing.max(1),
        }
    }
}

/// Why there is no index to seek with.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum IndexError {
    /// The log cannot be indexed (several logs, standard input, a
    /// compressed log, a problem in the log): replay it from the start.
    #[error("the log is not indexed: {0}")]
    NotIndexable(String),
    /// The cache folder or the index file in it cannot be written.
    #[error("the index cache {}: {source}", path.display())]
    Cache {
        /// The folder or file.
        path: PathBuf,
        /// Why.
        source: io::Error,
    },
    /// The log cannot be read.
    #[error("reading the log {}: {source}", path.display())]
    Log {
        /// The log.
        path: PathBuf,
        /// Why.
        source: io::Error,
    },
    /// The index file does not fit its log (it changed while in use).
    #[error("the index {}: {why}", path.display())]
    Unusable {
        /// The index file.
        path: PathBuf,
        /// What is wrong.
        why: String,
    },
}

/// Where the index [`KeyframeIndex::open_or_build`] gave comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum IndexOrigin {
    /// The cache held a valid index of the same log.
    Reused,
    /// There was none: it was built.
    Built,
    /// The cache held one that was stale or not valid (why): it was
    /// built again.
    Rebuilt(String),
}

/// What the whole log tells that a moment needs: the first event's time
/// (offsets count from it), the span of the events, and the channels as
/// they ended, in that order.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SessionFacts {
    /// The time of the first event of any kind.
    pub first_ts: Option<Nanos>,
    /// The first and last times of the events (channel starts aside).
    pub span: Option<(Nanos, Nanos)>,
    /// The channels, in the order they ended.
    pub channels: Vec<EndedChannel>,
}

/// A channel as it ended.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EndedChannel {
    /// Its connection id, when known.
    pub connection_id: Option<String>,
    /// Its channel id.
    pub channel_id: String,
    /// `connection/channel`.
    pub label: String,
    /// Its type, when known.
    pub kind: Option<String>,
    /// Whether it had a terminal (a `pty-req`).
    pub terminal: bool,
    /// When it started.
    pub start: Nanos,
    /// The first time of the span when it ended.
    pub span_start: Option<Nanos>,
}

impl EndedChannel {
    /// Its connection and channel.
    pub fn context(&self) -> Context {
        Context {
            connection_id: self.connection_id.clone(),
            channel_id: self.channel_id.clone(),
        }
    }
}

/// One keyframe, as the header lists it.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct KeyframeEntry {
    /// Where the log's next record starts.
    position: u64,
    /// The line number there, and whether a hex dump record came before.
    line: u64,
    seen_dump: bool,
    /// The latest time of an event that moves a screen (data, a resize,
    /// an exit) before it: the keyframe serves moments from then on.
    max_step_ts: Option<Nanos>,
    /// The earliest time of such an event after it: a seek to an earlier
    /// moment stops reading here.
    min_step_ts_after: Option<Nanos>,
    /// Its snapshot's place in the index file, length and SHA-256.
    snapshot_offset: u64,
    snapshot_len: u64,
    snapshot_sha256: String,
}

/// The index file's header.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct Header {
    version: u32,
    identity: String,
    log_size: u64,
    log_sha256: String,
    spacing: u64,
    /// `jsonl` or `hex`: the layout found.
    format: String,
    session: SessionFacts,
    keyframes: Vec<KeyframeEntry>,
}

/// The terminals at a keyframe.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
struct Snapshot {
    channels: Vec<ChannelSnapshot>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
struct ChannelSnapshot {
    connection_id: Option<String>,
    channel_id: String,
    /// The terminal's columns and rows as the pty-req asked.
    pty: (u32, u32),
    /// Its screen, once output or a resize made one.
    screen: Option<ScreenKeyframe>,
}

/// A log's keyframe index, its header in memory and its snapshots in the
/// index file.
#[derive(Debug)]
pub struct KeyframeIndex {
    path: PathBuf,
    log: PathBuf,
    context: Context,
    connection_id: Option<String>,
    requested_format: Option<Format>,
    header: Header,
}

fn format_name(f: Format) -> &'static str {
    match f {
        Format::Jsonl => "jsonl",
        Format::Hex => "hex",
    }
}

fn format_named(name: &str) -> Option<Format> {
    match name {
        "jsonl" => Some(Format::Jsonl),
        "hex" => Some(Format::Hex),
        _ => None,
    }
}

/// The one plain log of `source`, or why it has none.
fn plain_log(source: &ConnectionSource) -> Result<&LogSource, IndexError> {
    let [log] = source.logs.as_slice() else {
        return Err(IndexError::NotIndexable(format!(
            "{} logs (only a connection of one log is indexed)",
            source.logs.len()
        )));
    };
    if log.path.as_os_str() == "-" || !log.reopenable() || log.size.is_none() {
        return Err(IndexError::NotIndexable(
            "it is not a file that can be read again".to_string(),
        ));
    }
    if !fs::metadata(&log.path).is_ok_and(|m| m.is_file()) {
        return Err(IndexError::NotIndexable(format!(
            "{} is not a regular file",
            log.path.display()
        )));
    }
    match log.compression() {
        Ok(None) => Ok(log),
        Ok(Some(_)) => Err(IndexError::NotIndexable(
            "it is compressed (a compressed log cannot be read from the middle)".to_string(),
        )),
        Err(source) => Err(IndexError::Log {
            path: log.path.clone(),
            source,
        }),
    }
}

/// What names an index: the log's canonical path, its connection and
/// channel, the layout asked for and the metadata's digest. A log the
/// same at another path has its own index.
fn identity(
    source: &ConnectionSource,
    log: &LogSource,
    format: Option<Format>,
) -> Result<String, IndexError> {
    let canonical = fs::canonicalize(&log.path).map_err(|e| IndexError::Log {
        path: log.path.clone(),
        source: e,
    })?;
    let meta = match &source.meta_path {
        Some(p) => match digest::sha256_file(p) {
            Ok((_, d)) => digest::hex(&d),
            Err(e) => return Err(IndexError::NotIndexable(format!("{}: {e}", p.display()))),
        },
        None => "-".to_string(),
    };
    Ok(format!(
        "v{FORMAT_VERSION}\0{}\0{:?}\0{:?}\0{}\0{}\0{meta}\0{:?}",
        canonical.display(),
        source.id,
        log.context.connection_id,
        log.context.channel_id,
        format.map_or("auto", format_name),
        source.part.map(|p| (p.index, p.count))
    ))
}

/// The index file's name in the cache folder: the identity's digest.
fn file_name(identity: &str) -> String {
    let d = Sha256::digest(identity.as_bytes());
    format!("{}.seek", &digest::hex(&d)[..40])
}

/// One terminal channel being replayed.
struct Tracked {
    pty: (u32, u32),
    screen: Option<Screen>,
    /// An event after the moment came: the screen is as it was.
    past: bool,
}

/// The terminals of a replay up to a moment (`Nanos::MAX`: all of it), as
/// `sshtrail screen` replays them: a channel's output and resizes are fed
/// until its first output, resize or exit after the moment.
struct Terminals {
    at: Nanos,
    channels: BTreeMap<Context, Tracked>,
}

/// Whether an event moves a screen (output, a resize, the exit), so a
/// replay to a moment stops at the first one after it: `screen --at` with
/// or without the index.
pub fn is_step(kind: &ChannelEventKind<'_>) -> bool {
    match kind {
        ChannelEventKind::Data { .. } => true,
        ChannelEventKind::Request(req) => matches!(
            req.kind,
            RequestKind::WindowChange { .. }
                | RequestKind::ExitStatus { .. }
                | RequestKind::ExitSignal(_)
        ),
        _ => false,
    }
}

impl Terminals {
    fn new(at: Nanos) -> Self {
        Terminals {
            at,
            channels: BTreeMap::new(),
        }
    }

    /// Feeds one event; returns the terminal output bytes it fed.
    fn event(&mut self, ev: &ChannelEvent<'_>) -> u64 {
        let ch = ev.channel;
        // A replay resumed from a keyframe starts with channel states that
        // know nothing before it: the keyframe tells which had a terminal.
        let known = self.channels.get(&ch.context).map(|t| t.pty);
        let Some(pty) = ch.pty.as_ref().map(|p| (p.cols, p.rows)).or(known) else {
            return 0;
        };
        let t = self
            .channels
            .entry(ch.context.clone())
            .or_insert_with(|| Tracked {
                pty,
                screen: None,
                past: false,
            });
        t.pty = pty;
        if is_step(&ev.kind) && !t.past && ev.kind.ts() > self.at {
            t.past = true;
        }
        if t.past {
            return 0;
        }
        let (cols, rows) = t.pty;
        match ev.kind {
            ChannelEventKind::Data {
                stream: Stream::Stdout | Stream::Stderr,
                data,
                ..
            } => {
                t.screen
                    .get_or_insert_with(|| Screen::new(cols, rows))
                    .feed(data);
                data.len() as u64
            }
            ChannelEventKind::Request(req) => {
                if let RequestKind::WindowChange { cols: c, rows: r } = req.kind {
                    t.screen
                        .get_or_insert_with(|| Screen::new(cols, rows))
                        .resize(c, r);
                }
                0
            }
            _ => 0,
        }
    }

    /// The terminals as a snapshot; `None` when a dump does not recreate
    /// its terminal (the keyframe is then not taken).
    fn snapshot(&self) -> Option<Snapshot> {
        let mut channels = Vec::with_capacity(self.channels.len());
        for (context, t) in &self.channels {
            let screen = match &t.screen {
                Some(s) => {
                    let kf = s.keyframe()?;
                    let again = Screen::from_keyframe(&kf);
                    if again.keyframe().as_ref() != Some(&kf)
                        || again.view() != s.view()
                        || again.cursor() != s.cursor()
                    {
                        return None;
                    }
                    Some(kf)
                }
                None => None,
            };
            channels.push(ChannelSnapshot {
                connection_id: context.connection_id.clone(),
                channel_id: context.channel_id.clone(),
                pty: t.pty,
                screen,
            });
        }
        Some(Snapshot { channels })
    }

    fn from_snapshot(at: Nanos, snapshot: Snapshot) -> Self {
        let mut terminals = Terminals::new(at);
        for c in snapshot.channels {
            terminals.channels.insert(
                Context {
                    connection_id: c.connection_id,
                    channel_id: c.channel_id,
                },
                Tracked {
                    pty: c.pty,
                    screen: c.screen.as_ref().map(Screen::from_keyframe),
                    past: false,
                },
            );
        }
        terminals
    }

    fn views(&self) -> BTreeMap<Context, Vec<String>> {
        self.channels
            .iter()
            .filter_map(|(c, t)| t.screen.as_ref().map(|s| (c.clone(), s.view())))
            .collect()
    }
}

/// The full pass that builds an index.
struct Building {
    terminals: Terminals,
    session: SessionFacts,
    /// Terminal output since the last keyframe.
    output_since: u64,
    max_step_ts: Option<Nanos>,
    /// The earliest step time since the last keyframe.
    segment_min: Option<Nanos>,
}

impl ChannelSink for Building {
    fn event(&mut self, ev: &ChannelEvent<'_>) -> io::Result<()> {
        let ts = ev.kind.ts();
        let s = &mut self.session;
        s.first_ts.get_or_insert(ts);
        if !matches!(ev.kind, ChannelEventKind::Started { .. }) {
            s.span = Some(match s.span {
                Some((a, b)) => (a.min(ts), b.max(ts)),
                None => (ts, ts),
            });
        }
        if is_step(&ev.kind) {
            self.max_step_ts = Some(self.max_step_ts.map_or(ts, |m| m.max(ts)));
            self.segment_min = Some(self.segment_min.map_or(ts, |m| m.min(ts)));
        }
        if let ChannelEventKind::Ended { .. } = ev.kind {
            let ch = ev.channel;
            s.channels.push(EndedChannel {
                connection_id: ch.context.connection_id.clone(),
                channel_id: ch.context.channel_id.clone(),
                label: ch.label(),
                kind: ch.kind.clone(),
                terminal: ch.pty.is_some(),
                start: ch.start(),
                span_start: s.span.map(|s| s.0),
            });
        }
        self.output_since += self.terminals.event(ev);
        Ok(())
    }
}

/// Reads through, hashing what it reads.
struct Hashing<R> {
    inner: R,
    hasher: Sha256,
    size: u64,
}

impl<R: Read> Read for Hashing<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.hasher.update(&buf[..n]);
        self.size += n as u64;
        Ok(n)
    }
}

/// Why a cached index was not used.
enum LoadFailure {
    Missing,
    Unusable(String),
}

fn unusable(why: impl Into<String>) -> LoadFailure {
    LoadFailure::Unusable(why.into())
}

/// Reads exactly `len` bytes at `offset` of `file`.
fn read_at(file: &mut File, offset: u64, len: u64) -> io::Result<Vec<u8>> {
    file.seek(SeekFrom::Start(offset))?;
    let mut buf = Vec::new();
    file.take(len).read_to_end(&mut buf)?;
    if buf.len() as u64 != len {
        return Err(io::Error::new(
            io::ErrorKind::UnexpectedEof,
            "the file is shorter than it says",
        ));
    }
    Ok(buf)
}

/// Reads and checks an index file's header; what is wrong, if anything.
fn load_header(path: &Path) -> Result<Header, LoadFailure> {
    let meta = match fs::symlink_metadata(path) {
        Ok(m) => m,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Err(LoadFailure::Missing),
        Err(e) => return Err(unusable(e.to_string())),
    };
    if !meta.is_file() {
        return Err(unusable("not a regular file"));
    }
    let mut file = File::open(path).map_err(|e| unusable(e.to_string()))?;
    let len = file.metadata().map_err(|e| unusable(e.to_string()))?.len();
    if len < (MAGIC.len() + FOOTER_LEN) as u64 {
        return Err(unusable("too short to be an index"));
    }
    let magic = read_at(&mut file, 0, MAGIC.len() as u64).map_err(|e| unusable(e.to_string()))?;
    if magic != MAGIC {
        return Err(unusable("not an index of this version"));
    }
    let footer_at = len - FOOTER_LEN as u64;
    let footer =
        read_at(&mut file, footer_at, FOOTER_LEN as u64).map_err(|e| unusable(e.to_string()))?;
    let Some(fields) = footer.strip_prefix(FOOTER_TAG) else {
        return Err(unusable("no footer: the file was cut or damaged"));
    };
    let text = std::str::from_utf8(fields).map_err(|_| unusable("the footer is damaged"))?;
    let parts: Vec<&str> = text.trim_end_matches('\n').split(' ').collect();
    let [offset, size, sha] = parts.as_slice() else {
        return Err(unusable("the footer is damaged"));
    };
    let (Ok(offset), Ok(size)) = (offset.parse::<u64>(), size.parse::<u64>()) else {
        return Err(unusable("the footer is damaged"));
    };
    if offset < MAGIC.len() as u64 || offset.checked_add(size) != Some(footer_at) {
        return Err(unusable("the footer does not fit the file"));
    }
    if size > MAX_HEADER {
        return Err(unusable("the header is too large"));
    }
    let header = read_at(&mut file, offset, size).map_err(|e| unusable(e.to_string()))?;
    if digest::hex(&Sha256::digest(&header)) != *sha {
        return Err(unusable("the header's digest does not match"));
    }
    let header: Header =
        serde_json::from_slice(&header).map_err(|e| unusable(format!("the header: {e}")))?;
    if header.version != FORMAT_VERSION {
        return Err(unusable("another version"));
    }
    if format_named(&header.format).is_none() {
        return Err(unusable("an unknown layout"));
    }
    let mut last = None;
    for k in &header.keyframes {
        let end = k.snapshot_offset.checked_add(k.snapshot_len);
        if k.snapshot_offset < MAGIC.len() as u64
            || end.is_none_or(|e| e > offset)
            || k.snapshot_len > MAX_SNAPSHOT
            || k.position > header.log_size
            || last.is_some_and(|p| p >= k.position)
        {
            return Err(unusable("a keyframe out of place"));
        }
        last = Some(k.position);
    }
    // Every snapshot is checked now, one at a time: damage anywhere means
    // a rebuild, not a failure at some later seek.
    for (i, k) in header.keyframes.iter().enumerate() {
        let bytes = read_at(&mut file, k.snapshot_offset, k.snapshot_len)
            .map_err(|e| unusable(e.to_string()))?;
        if digest::hex(&Sha256::digest(&bytes)) != k.snapshot_sha256 {
            return Err(unusable(format!("keyframe {i}: its digest does not match")));
        }
    }
    Ok(header)
}

impl KeyframeIndex {
    /// The index of `source`'s log from the cache folder `cache_dir`, built
    /// there first when it holds none, or none valid for the log as it is
    /// now (its size and SHA-256, computed again each time, must be those
    /// the index was built from). `format` is the layout asked for (`None`:
    /// detected), as the replay it stands for would read the log.
    ///
    /// The index is written under a temporary name in `cache_dir` (created
    /// new, unpredictable) and renamed into place: a reader never sees half
    /// an index. Errors: [`IndexError::NotIndexable`] for a log that is not
    /// indexed, [`IndexError::Cache`] when the cache cannot be written.
    pub fn open_or_build(
        source: &ConnectionSource,
        format: Option<Format>,
        cache_dir: &Path,
        options: &IndexOptions,
    ) -> Result<(KeyframeIndex, IndexOrigin), IndexError> {
        let log = plain_log(source)?;
        let identity = identity(source, log, format)?;
        let path = cache_dir.join(file_name(&identity));
        let make = |header: Header| KeyframeIndex {
            path: path.clone(),
            log: log.path.clone(),
            context: log.context.clone(),
            connection_id: source.id.clone(),
            requested_format: format,
            header,
        };
        let why = match load_header(&path) {
            Ok(header) => {
                let (size, sha) = digest::sha256_file(&log.path).map_err(|e| IndexError::Log {
                    path: log.path.clone(),
                    source: e,
                })?;
                if header.identity != identity {
                    Some("made for another log".to_string())
                } else if header.log_size != size || header.log_sha256 != digest::hex(&sha) {
                    Some("the log changed".to_string())
                } else if header.spacing != options.spacing {
                    Some("another keyframe spacing".to_string())
                } else {
                    return Ok((make(header), IndexOrigin::Reused));
                }
            }
            Err(LoadFailure::Missing) => None,
            Err(LoadFailure::Unusable(why)) => Some(why),
        };
        let header = build(source, log, format, identity, cache_dir, &path, options)?;
        let origin = why.map_or(IndexOrigin::Built, IndexOrigin::Rebuilt);
        Ok((make(header), origin))
    }

    /// The index file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// How many keyframes it has.
    pub fn keyframes(&self) -> usize {
        self.header.keyframes.len()
    }

    /// What the whole log tells: the first time, the span, the channels.
    pub fn session(&self) -> &SessionFacts {
        &self.header.session
    }

    /// Each terminal channel's visible lines (right-trimmed) at `at`, as a
    /// replay from the start that feeds each channel's output and resizes
    /// until its first output, resize or exit after `at` shows them.
    /// Channels that showed nothing yet are absent.
    pub fn screens_at(&self, at: Nanos) -> Result<BTreeMap<Context, Vec<String>>, IndexError> {
        let keyframes = &self.header.keyframes;
        let from = self.keyframe_before(at);
        // Nothing after this keyframe is at or before the moment: stop.
        let stop = keyframes
            .iter()
            .skip(from.unwrap_or(0))
            .find(|k| k.min_step_ts_after.is_none_or(|m| m > at))
            .map_or(self.header.log_size, |k| k.position);
        let mut terminals = match from {
            Some(i) => Terminals::from_snapshot(at, self.snapshot(i)?),
            None => Terminals::new(at),
        };
        self.replay_between(
            from,
            stop,
            &terminals_pty(&terminals),
            &mut Resumed(&mut terminals),
        )?;
        Ok(terminals.views())
    }

    /// The last keyframe before which every output, resize and exit is at
    /// or before `at`.
    fn keyframe_before(&self, at: Nanos) -> Option<usize> {
        self.header
            .keyframes
            .iter()
            .rposition(|k| k.max_step_ts.is_none_or(|m| m <= at))
    }

    /// Where a replay that reaches `at` can start: the last keyframe before
    /// which every output, resize and exit is at or before `at` (or the
    /// log's start), with each terminal channel's screen there.
    pub fn resume_before(&self, at: Nanos) -> Result<Resumption, IndexError> {
        let keyframe = self.keyframe_before(at);
        let mut screens = BTreeMap::new();
        let mut ptys = BTreeMap::new();
        if let Some(i) = keyframe {
            for c in self.snapshot(i)?.channels {
                let context = Context {
                    connection_id: c.connection_id,
                    channel_id: c.channel_id,
                };
                ptys.insert(context.clone(), c.pty);
                if let Some(kf) = c.screen {
                    screens.insert(context, kf);
                }
            }
        }
        Ok(Resumption {
            keyframe,
            screens,
            ptys,
        })
    }

    /// Replays the log from `resumption`'s keyframe to its end into `sink`
    /// (a new channel state for each channel, that knows the terminals the
    /// keyframe knew; channels do not end).
    pub fn replay_rest(
        &self,
        resumption: &Resumption,
        sink: &mut dyn ChannelSink,
    ) -> Result<(), IndexError> {
        self.replay_between(
            resumption.keyframe,
            self.header.log_size,
            &resumption.ptys,
            sink,
        )
    }

    /// Replays the log from keyframe `from` (`None`: the start) up to the
    /// byte `stop` into `sink`.
    fn replay_between(
        &self,
        from: Option<usize>,
        stop: u64,
        ptys: &BTreeMap<Context, (u32, u32)>,
        sink: &mut dyn ChannelSink,
    ) -> Result<(), IndexError> {
        let keyframes = &self.header.keyframes;
        let position = from.map_or(0, |i| keyframes[i].position);
        if stop <= position {
            return Ok(());
        }
        let unusable = |why: String| IndexError::Unusable {
            path: self.path.clone(),
            why,
        };
        let log_error = |e: io::Error| IndexError::Log {
            path: self.log.clone(),
            source: e,
        };
        let mut file = File::open(&self.log).map_err(log_error)?;
        file.seek(SeekFrom::Start(position)).map_err(log_error)?;
        let input = file.take(stop - position);
        let format = format_named(&self.header.format)
            .ok_or_else(|| unusable("an unknown layout".to_string()))?;
        let mut reader = match from {
            Some(i) => {
                StreamReader::resuming(input, format, keyframes[i].line, keyframes[i].seen_dump)
            }
            None => StreamReader::with_format(input, self.requested_format),
        };
        let mut conn = ConnectionBuilder::new(self.connection_id.as_deref(), None);
        conn.open_log(0, &self.context);
        for (context, &(cols, rows)) in ptys {
            conn.assume_terminal(context, cols, rows);
        }
        let context = &self.context;
        let read = reader.for_each_at(|record, _, _| -> Result<(), Halt> {
            let event =
                record.map_err(|e| Halt::Index(unusable(format!("the log now reads: {e}"))))?;
            match conn.push(0, context, &event, sink) {
                Ok(()) => Ok(()),
                Err(ReplayError::Payload(e)) => {
                    Err(Halt::Index(unusable(format!("the log now reads: {e}"))))
                }
                Err(ReplayError::Io(e)) => Err(Halt::Index(log_error(e))),
            }
        });
        match read {
            Ok(()) => Ok(()),
            Err(Halt::Read(e)) => Err(log_error(e)),
            Err(Halt::Index(e)) => Err(e),
        }
    }

    /// Reads and checks keyframe `i`'s snapshot.
    fn snapshot(&self, i: usize) -> Result<Snapshot, IndexError> {
        let k = &self.header.keyframes[i];
        let unusable = |why: String| IndexError::Unusable {
            path: self.path.clone(),
            why,
        };
        let mut file = File::open(&self.path).map_err(|e| unusable(e.to_string()))?;
        let bytes = read_at(&mut file, k.snapshot_offset, k.snapshot_len)
            .map_err(|e| unusable(e.to_string()))?;
        if digest::hex(&Sha256::digest(&bytes)) != k.snapshot_sha256 {
            return Err(unusable(format!("keyframe {i}: its digest does not match")));
        }
        serde_json::from_slice(&bytes).map_err(|e| unusable(format!("keyframe {i}: {e}")))
    }
}

/// The terminals' sizes, for a replay resumed with them.
fn terminals_pty(terminals: &Terminals) -> BTreeMap<Context, (u32, u32)> {
    terminals
        .channels
        .iter()
        .map(|(c, t)| (c.clone(), t.pty))
        .collect()
}

/// Where a replay resumes ([`KeyframeIndex::resume_before`]).
#[derive(Debug)]
pub struct Resumption {
    keyframe: Option<usize>,
    /// Each terminal channel's screen at the keyframe (none before the
    /// first keyframe, nor for a channel that showed nothing yet).
    pub screens: BTreeMap<Context, ScreenKeyframe>,
    ptys: BTreeMap<Context, (u32, u32)>,
}

/// Why reading a log stopped early.
enum Halt {
    Read(io::Error),
    Index(IndexError),
}

impl From<io::Error> for Halt {
    fn from(e: io::Error) -> Self {
        Halt::Read(e)
    }
}

/// The sink of a resumed replay.
struct Resumed<'a>(&'a mut Terminals);

impl ChannelSink for Resumed<'_> {
    fn event(&mut self, ev: &ChannelEvent<'_>) -> io::Result<()> {
        self.0.event(ev);
        Ok(())
    }
}

/// Creates the cache folder (private to its owner: it tells what logs
/// were looked at).
fn create_cache_dir(dir: &Path) -> io::Result<()> {
    let mut builder = fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
    builder.create(dir)
}

/// One full pass over `log`: the keyframes go to a temporary file in
/// `cache_dir` as they are taken, the header after them, and the file is
/// renamed to `path`.
fn build(
    source: &ConnectionSource,
    log: &LogSource,
    format: Option<Format>,
    identity: String,
    cache_dir: &Path,
    path: &Path,
    options: &IndexOptions,
) -> Result<Header, IndexError> {
    let cache_error = |e: io::Error| IndexError::Cache {
        path: cache_dir.to_path_buf(),
        source: e,
    };
    let log_error = |e: io::Error| IndexError::Log {
        path: log.path.clone(),
        source: e,
    };
    create_cache_dir(cache_dir).map_err(cache_error)?;
    // Created new (O_EXCL) under a random name: nothing planted there is
    // followed or overwritten.
    let tmp = tempfile::Builder::new()
        .prefix(".seek.")
        .suffix(".tmp")
        .rand_bytes(12)
        .tempfile_in(cache_dir)
        .map_err(cache_error)?;
    let mut out = BufWriter::with_capacity(256 << 10, tmp.as_file());
    out.write_all(MAGIC).map_err(cache_error)?;
    let mut written = MAGIC.len() as u64;

    let file = File::open(&log.path).map_err(log_error)?;
    let size_before = file.metadata().map_err(log_error)?.len();
    let hashing = Hashing {
        inner: file,
        hasher: Sha256::new(),
        size: 0,
    };
    let mut reader = StreamReader::with_format(hashing, format);
    let mut conn = ConnectionBuilder::new(source.id.as_deref(), source.meta.as_deref())
        .with_meta_path(source.meta_path.as_deref())
        .with_part(source.part)
        .with_logs(&source.logs);
    let mut sink = Building {
        terminals: Terminals::new(Nanos::MAX),
        session: SessionFacts::default(),
        output_since: 0,
        max_step_ts: None,
        segment_min: None,
    };
    conn.start(&mut sink).map_err(log_error)?;
    conn.open_log(0, &log.context);
    let mut keyframes: Vec<KeyframeEntry> = Vec::new();
    // The earliest step time of each stretch between keyframes.
    let mut segments: Vec<Option<Nanos>> = Vec::new();
    let read = reader.for_each_at(|record, position, (line, seen_dump)| -> Result<(), Halt> {
        let not_indexed =
            |e: &dyn std::fmt::Display| Halt::Index(IndexError::NotIndexable(format!("line {e}")));
        let event = record.map_err(|e| not_indexed(&e))?;
        match conn.push(0, &log.context, &event, &mut sink) {
            Ok(()) => {}
            Err(ReplayError::Payload(e)) => return Err(not_indexed(&e)),
            Err(ReplayError::Io(e)) => return Err(Halt::Index(log_error(e))),
        }
        if sink.output_since < options.spacing {
            return Ok(());
        }
        // A dump that would not recreate its terminal: try at the next
        // record.
        let Some(snapshot) = sink.terminals.snapshot() else {
            return Ok(());
        };
        let bytes =
            serde_json::to_vec(&snapshot).map_err(|e| Halt::Index(cache_error(e.into())))?;
        out.write_all(&bytes)
            .map_err(|e| Halt::Index(cache_error(e)))?;
        segments.push(sink.segment_min.take());
        keyframes.push(KeyframeEntry {
            position,
            line,
            seen_dump,
            max_step_ts: sink.max_step_ts,
            min_step_ts_after: None,
            snapshot_offset: written,
            snapshot_len: bytes.len() as u64,
            snapshot_sha256: digest::hex(&Sha256::digest(&bytes)),
        });
        written += bytes.len() as u64;
        sink.output_since = 0;
        Ok(())
    });
    match read {
        Ok(()) => {}
        Err(Halt::Read(e)) => return Err(IndexError::NotIndexable(e.to_string())),
        Err(Halt::Index(e)) => return Err(e),
    }
    conn.log_ended(0, &mut sink).map_err(log_error)?;
    conn.finish(&mut sink).map_err(log_error)?;
    segments.push(sink.segment_min.take());
    // segments[i + 1..] follow keyframe i.
    let mut after: Option<Nanos> = None;
    for i in (0..keyframes.len()).rev() {
        if let Some(m) = segments[i + 1] {
            after = Some(after.map_or(m, |a| a.min(m)));
        }
        keyframes[i].min_step_ts_after = after;
    }
    let found = reader.format().or(format);
    let hashing = reader.into_inner();
    let size = hashing.size;
    let size_now = fs::metadata(&log.path).map_err(log_error)?.len();
    if size != size_before || size_now != size {
        return Err(IndexError::NotIndexable(
            "the log changed while it was read".to_string(),
        ));
    }
    let Some(found) = found else {
        return Err(IndexError::NotIndexable("it holds no event".to_string()));
    };
    let header = Header {
        version: FORMAT_VERSION,
        identity,
        log_size: size,
        log_sha256: digest::hex(&hashing.hasher.finalize()),
        spacing: options.spacing,
        format: format_name(found).to_string(),
        session: sink.session,
        keyframes,
    };
    let bytes = serde_json::to_vec(&header).map_err(|e| cache_error(e.into()))?;
    out.write_all(&bytes).map_err(cache_error)?;
    let footer = format!(
        "{:020} {:020} {}\n",
        written,
        bytes.len(),
        digest::hex(&Sha256::digest(&bytes))
    );
    out.write_all(FOOTER_TAG).map_err(cache_error)?;
    out.write_all(footer.as_bytes()).map_err(cache_error)?;
    out.flush().map_err(cache_error)?;
    drop(out);
    tmp.persist(path).map_err(|e| IndexError::Cache {
        path: path.to_path_buf(),
        source: e.error,
    })?;
    Ok(header)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::archive::{Archive, Discovery};

    /// A shell session of `events` outputs: the fixture's channel open,
    /// pty-req and shell, then coloured lines, a full-screen program with a
    /// scroll region and the line-drawing set, output cut inside
    /// characters and sequences, and a resize every 50 outputs.
    fn session(dir: &Path, events: usize) -> PathBuf {
        let fixture = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../testdata/session.jsonl");
        let mut log: String = fs::read_to_string(fixture)
            .unwrap()
            .lines()
            .take(7)
            .map(|l| format!("{l}\n"))
            .collect();
        let mut out = Vec::new();
        for i in 0..events {
            let chunk = match i % 7 {
                0 => format!("\x1b[3{}mline {i} caf\u{e9} \u{65e5}\x1b[0m\r\n", i % 8),
                1 => "\x1b[?1049h\x1b[H\x1b[2;20r\x1b7".to_string(),
                2 => format!("\x1b[{};5H\x1b(0lqk\x1b(B {i}\n\n", i % 30 + 1),
                3 => "\x1b8\x1b[r".to_string(),
                4 if i % 3 == 0 => "\x1b[?1049l".to_string(),
                _ => format!("$ echo {}\r\n", "y".repeat(i % 90)),
            };
            out.extend_from_slice(chunk.as_bytes());
        }
        let mut at = 0;
        let mut i = 0u64;
        while at < out.len() {
            let n = (1 + (i * 37 % 200) as usize).min(out.len() - at);
            let ms = 10_000 + i * 3;
            let ts = format!("2023-06-07T17:33:{:02}.{:03}Z", ms / 1000 % 60, ms % 1000);
            if i % 50 == 25 {
                let mut m = vec![98, 0, 0, 0, 0, 0, 0, 0, 13];
                m.extend_from_slice(b"window-change\0");
                for v in [60 + (i % 50) as u32, 15 + (i % 20) as u32, 0, 0] {
                    m.extend_from_slice(&v.to_be_bytes());
                }
                log.push_str(&format!(
                    "{{\"type\":\"forward-request\",\"ts\":\"{ts}\",\"data\":\"{}\"}}\n",
                    encode_base64(&m)
                ));
            }
            log.push_str(&format!(
                "{{\"type\":\"stdout\",\"ts\":\"{ts}\",\"data\":\"{}\"}}\n",
                encode_base64(&out[at..at + n])
            ));
            at += n;
            i += 1;
        }
        let path = dir.join("0.jsonl");
        fs::write(&path, log).unwrap();
        path
    }

    fn encode_base64(bytes: &[u8]) -> String {
        use base64::Engine;
        base64::engine::general_purpose::STANDARD.encode(bytes)
    }

    fn archive(log: &Path) -> Archive {
        Archive::open(&[log], &Discovery::standard(), &mut |p| panic!("{p}"))
    }

    /// The screens at `at` replayed from the start, the whole log read.
    fn replayed(archive: &Archive, at: Nanos) -> BTreeMap<Context, Vec<String>> {
        let mut terminals = Terminals::new(at);
        archive
            .replay(&mut Resumed(&mut terminals), &mut |p| panic!("{p}"))
            .unwrap();
        terminals.views()
    }

    fn times(log: &Path) -> Vec<Nanos> {
        let bytes = fs::read(log).unwrap();
        crate::SliceReader::new(&bytes)
            .map(|r| r.unwrap().ts)
            .collect()
    }

    #[test]
    fn seeking_gives_the_replay_s_screens_at_every_event_time() {
        let dir = tempfile::tempdir().unwrap();
        let log = session(dir.path(), 3000);
        let archive = archive(&log);
        let cache = dir.path().join("cache");
        let options = IndexOptions::with_spacing(2048);
        let (index, origin) =
            KeyframeIndex::open_or_build(&archive.connections[0], None, &cache, &options).unwrap();
        assert_eq!(origin, IndexOrigin::Built);
        assert!(index.keyframes() > 10, "{} keyframes", index.keyframes());
        let mut moments = times(&log);
        moments.dedup();
        let step = moments.len() / 150;
        let mut checked: Vec<Nanos> = moments.iter().step_by(step.max(1)).copied().collect();
        // Exactly at each keyframe, just before and after, and out of range.
        for k in &index.header.keyframes {
            let m = k.max_step_ts.unwrap();
            checked.extend([m - 1, m, m + 1]);
        }
        checked.extend([Nanos::MIN, 0, Nanos::MAX]);
        for at in checked {
            assert_eq!(
                index.screens_at(at).unwrap(),
                replayed(&archive, at),
                "at {at}"
            );
        }
        // Reused, with the same keyframes.
        let (again, origin) =
            KeyframeIndex::open_or_build(&archive.connections[0], None, &cache, &options).unwrap();
        assert_eq!(origin, IndexOrigin::Reused);
        assert_eq!(again.keyframes(), index.keyframes());
        assert_eq!(
            fs::read_dir(dir.path()).unwrap().count(),
            2,
            "the log and the cache"
        );
    }

    #[test]
    fn a_changed_log_or_a_damaged_index_is_rebuilt() {
        let dir = tempfile::tempdir().unwrap();
        let log = session(dir.path(), 600);
        let cache = dir.path().join("cache");
        let options = IndexOptions::with_spacing(1024);
        let open = || {
            let archive = archive(&log);
            KeyframeIndex::open_or_build(&archive.connections[0], None, &cache, &options).unwrap()
        };
        let (index, _) = open();
        let path = index.path().to_path_buf();
        assert!(index.keyframes() > 2);

        // Same size, one byte of a payload changed.
        let text = fs::read_to_string(&log).unwrap();
        let at = text.rfind("\"data\":\"").unwrap() + 8;
        let mut bytes = text.into_bytes();
        bytes[at] = if bytes[at] == b'A' { b'B' } else { b'A' };
        fs::write(&log, &bytes).unwrap();
        assert_eq!(
            open().1,
            IndexOrigin::Rebuilt("the log changed".to_string())
        );

        let good = fs::read(&path).unwrap();
        let damaged: Vec<(&str, Vec<u8>)> = vec![
            ("empty", Vec::new()),
            ("cut", good[..good.len() - 10].to_vec()),
            ("magic", {
                let mut b = good.clone();
                b[0] = b'X';
                b
            }),
            ("snapshot", {
                let mut b = good.clone();
                b[MAGIC.len() + 5] ^= 1;
                b
            }),
            ("footer", {
                let mut b = good.clone();
                let n = b.len();
                b[n - 70] = b'9';
                b
            }),
            (
                "random",
                (0..5000u32).map(|i| (i * 7919 % 251) as u8).collect(),
            ),
        ];
        for (what, bytes) in damaged {
            fs::write(&path, &bytes).unwrap();
            let (index, origin) = open();
            assert!(
                matches!(origin, IndexOrigin::Rebuilt(_)),
                "{what}: {origin:?}"
            );
            assert_eq!(fs::read(index.path()).unwrap(), good, "{what}");
        }

        // A header that says what is not so, with a valid digest.
        let mut header = load_header(&path).ok().unwrap();
        header.keyframes[0].snapshot_offset = u64::MAX - 1;
        let body = serde_json::to_vec(&header).unwrap();
        let offset = header.keyframes[0].snapshot_len; // anything in range
        let mut hostile = MAGIC.to_vec();
        hostile.extend(std::iter::repeat_n(b' ', offset as usize));
        let at = hostile.len();
        hostile.extend_from_slice(&body);
        hostile.extend_from_slice(FOOTER_TAG);
        hostile.extend_from_slice(
            format!(
                "{at:020} {:020} {}\n",
                body.len(),
                digest::hex(&Sha256::digest(&body))
            )
            .as_bytes(),
        );
        fs::write(&path, &hostile).unwrap();
        assert!(matches!(load_header(&path), Err(LoadFailure::Unusable(_))));
        assert!(matches!(open().1, IndexOrigin::Rebuilt(_)));
        // A symbolic link in its place is not followed.
        fs::remove_file(&path).unwrap();
        std::os::unix::fs::symlink(&log, &path).unwrap();
        assert!(matches!(open().1, IndexOrigin::Rebuilt(_)));
        assert!(!fs::symlink_metadata(&path).unwrap().is_symlink());
    }

    #[test]
    fn several_logs_standard_input_and_problems_are_not_indexed() {
        let dir = tempfile::tempdir().unwrap();
        let log = dir.path().join("0.hex");
        fs::write(&log, "2023-06-07T17:32:29Z stdout 6c\nnot a record\n").unwrap();
        let archive = Archive::open(&[&log], &Discovery::standard(), &mut |_| {});
        let cache = dir.path().join("cache");
        let r = KeyframeIndex::open_or_build(
            &archive.connections[0],
            None,
            &cache,
            &IndexOptions::default(),
        );
        assert!(matches!(r, Err(IndexError::NotIndexable(_))), "{r:?}");
        assert_eq!(fs::read_dir(&cache).unwrap().count(), 0, "no file left");
        let from_bytes = Archive::from_bytes("0.hex", b"2023-06-07T17:32:29Z stdout 6c\n");
        let r = KeyframeIndex::open_or_build(
            &from_bytes.connections[0],
            None,
            &cache,
            &IndexOptions::default(),
        );
        assert!(matches!(r, Err(IndexError::NotIndexable(_))), "{r:?}");
    }
}
