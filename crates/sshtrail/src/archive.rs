//! What users point at: a log, a connection folder, or a tree of them,
//! opened as connections with their metadata and channel logs, and replayed
//! into channel events.
//!
//! A connection folder is what the gateway's API gives (docs/FORMAT.md section
//! 5): the connection object saved as `connection.json` beside one log per
//! channel, named by channel id (`<connection_id>/<channel_id>.jsonl`). A
//! log file finds its metadata beside it (`connection.json`,
//! `<connection_id>.json`, or `<connection_id>.json` beside its folder).
//!
//! Discovery lives only here: one set of log extensions, one metadata
//! reader, one way to walk ([`Discovery::standard`], what every command
//! uses). A folder holding one channel in two layouts (`0.jsonl` and
//! `0.hex`) gives one log: the jsonl, once the two are found to hold the
//! same events (see [`ProblemKind::SameChannelSetAside`] and
//! [`ProblemKind::LayoutsDiffer`]). In a tree, sshtrail's own files (a conversion's
//! `manifest.jsonl` and its journal, temporary and lock files, a
//! connection's `files/` folder) are never taken for logs; a file named on
//! the command line always is.
//!
//! ```
//! use sshtrail::archive::Archive;
//! use sshtrail::channel::SummaryCollector;
//!
//! let log = b"2023-06-07T17:32:29Z stdin 6c\n2023-06-07T17:32:30Z stdout 6c6c\n";
//! let mut summaries = SummaryCollector::default();
//! Archive::from_bytes("0.hex", log)
//!     .replay(&mut summaries, &mut |problem| panic!("{problem}"))
//!     .unwrap();
//! let channel = &summaries.connections()[0].channels[0];
//! assert_eq!((channel.bytes.stdin, channel.bytes.stdout), (1, 2));
//! ```

use std::collections::{BTreeMap, HashMap, HashSet};
use std::fmt;
use std::fs::File;
use std::io::{self, Read};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::channel::{ChannelSink, ConnectionBuilder, LogPart, ReplayError};
use crate::compression::{decompressing, without_compressed_extension, Compression};
use crate::connection::{context_from_path, Connection, ConnectionError, Context};
use crate::error::ParseError;
use crate::format::{Format, Record, StreamReader};
use crate::time::Nanos;

/// File extensions taken as trail logs in a folder.
pub const LOG_EXTENSIONS: [&str; 5] = ["jsonl", "hex", "hexdump", "log", "trail"];

/// The name of the connection metadata file in a connection folder.
pub const CONNECTION_FILE: &str = "connection.json";

/// The names of sshtrail's own files in an output folder: never logs.
const OWN_FILES: [&str; 3] = ["manifest.jsonl", "manifest.jsonl.journal", "index.json"];

/// The folder in a connection folder where fetched transferred files go.
const FILES_FOLDER: &str = "files";

/// Whether a file found in a folder is one of sshtrail's own.
fn is_own_file(name: &str) -> bool {
    OWN_FILES.contains(&name) || name.contains(".sshtrail-tmp-") || name.ends_with(".lock")
}

/// Whether a file found in a folder is taken as a trail log: a log
/// extension, compressed or not (`0.jsonl`, `0.jsonl.gz`).
fn is_log_name(path: &Path) -> bool {
    let Some(name) = path.file_name().map(|n| n.to_string_lossy()) else {
        return false;
    };
    let plain = without_compressed_extension(&name);
    Path::new(plain)
        .extension()
        .is_some_and(|x| LOG_EXTENSIONS.iter().any(|l| x == *l))
        && !is_own_file(&name)
}

/// A problem found while opening or reading what the user pointed at.
#[derive(Debug)]
#[non_exhaustive]
pub struct Problem {
    /// The path, as the user would recognize it (`<stdin>` for `-`).
    pub path: String,
    /// What is wrong.
    pub kind: ProblemKind,
}

/// What is wrong: see [`Problem`].
#[derive(Debug)]
#[non_exhaustive]
pub enum ProblemKind {
    /// A malformed record (or a cut-off last line, a warning).
    Parse(ParseError),
    /// The file could not be opened or read.
    Read(io::Error),
    /// The connection metadata does not parse.
    Metadata(ConnectionError),
    /// A folder holds no trail log.
    NoLogs,
    /// A symbolic link loop, not followed.
    Loop,
    /// A warning: the log's folder holds the same channel in another
    /// layout too (`0.jsonl` beside `0.hex`, as a download of both gives),
    /// with the same events; that one, `set_aside`, is not read.
    SameChannelSetAside {
        /// The other layout's file, not read.
        set_aside: PathBuf,
    },
    /// The log's folder holds the same channel in another layout too, and
    /// the two do not hold the same events: neither is read, since nothing
    /// tells which is the evidence.
    LayoutsDiffer {
        /// The other layout's file.
        other: PathBuf,
        /// The first difference, located in both files.
        difference: String,
    },
}

impl Problem {
    /// Whether the problem is only a warning (a cut-off last line).
    pub fn is_warning(&self) -> bool {
        match &self.kind {
            ProblemKind::Parse(e) => e.is_warning(),
            ProblemKind::SameChannelSetAside { .. } => true,
            _ => false,
        }
    }
}

impl fmt::Display for Problem {
    /// `PATH:LINE:COLUMN: MESSAGE` for a located problem, else `PATH: MESSAGE`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.kind {
            ProblemKind::Parse(e) => write!(f, "{}:{e}", self.path),
            ProblemKind::Read(e) => write!(f, "{}: {e}", self.path),
            ProblemKind::Metadata(e) => write!(f, "{}:{e}", self.path),
            ProblemKind::NoLogs => write!(
                f,
                "{}: no trail logs (*.jsonl, *.hex, *.hexdump, or those compressed: *.jsonl.gz, *.hex.zst) in this directory",
                self.path
            ),
            ProblemKind::Loop => write!(f, "{}: symbolic link loop: not followed", self.path),
            ProblemKind::SameChannelSetAside { .. } | ProblemKind::LayoutsDiffer { .. } => {
                write!(
                    f,
                    "{}: {}",
                    self.path,
                    self.kind.message().unwrap_or_default()
                )
            }
        }
    }
}

impl std::error::Error for Problem {}

impl ProblemKind {
    /// What is wrong, without the path it is about, for the kinds whose
    /// message names another file (the two layouts of one channel);
    /// `None` for the others, which [`Problem`]'s `Display` words.
    pub fn message(&self) -> Option<String> {
        Some(match self {
            ProblemKind::SameChannelSetAside { set_aside } => format!(
                "the same channel is in {} too, in another layout, with the same events: that file is set aside, this one is read",
                set_aside.display()
            ),
            ProblemKind::LayoutsDiffer { other, difference } => format!(
                "the same channel is in {} too, in another layout, and the two differ: {difference}; neither is read",
                other.display()
            ),
            _ => return None,
        })
    }
}

/// One log of a connection.
#[derive(Debug, Clone)]
pub struct LogSource {
    /// Where it is (`-` for standard input).
    pub path: PathBuf,
    /// Its connection and channel.
    pub context: Context,
    /// Its size when found (`None` for standard input, pipes and devices).
    pub size: Option<u64>,
    /// The folder it lies in, relative to the folder named that it was
    /// found under: empty for a log named itself or lying directly in the
    /// folder named. Outputs of logs of no known connection go there, so
    /// that `a/0.jsonl` and `b/0.jsonl` stay apart.
    pub subfolder: PathBuf,
    /// The log itself, when it is in memory.
    bytes: Option<Arc<[u8]>>,
    /// A reader given by the caller, taken by the first open.
    reader: Option<GivenReader>,
}

impl crate::channel::LogFiles for Vec<LogSource> {
    fn log_paths(&self) -> Vec<&Path> {
        self.iter().map(|l| l.path.as_path()).collect()
    }
}

/// A reader a caller hands to a [`LogSource`], taken once.
#[derive(Clone)]
struct GivenReader(Arc<std::sync::Mutex<Option<Box<dyn Read + Send>>>>);

impl fmt::Debug for GivenReader {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("GivenReader")
    }
}

impl LogSource {
    /// Whether it can be opened again and read from its start: a regular
    /// file or bytes in memory, not standard input, a pipe or a reader
    /// given once.
    pub fn reopenable(&self) -> bool {
        self.reader.is_none()
            && (self.bytes.is_some() || (self.size.is_some() && self.path.as_os_str() != "-"))
    }

    /// The name problems give it: the path, or `<stdin>`.
    pub fn name(&self) -> String {
        if self.path.as_os_str() == "-" {
            "<stdin>".to_string()
        } else {
            self.path.display().to_string()
        }
    }

    /// A log read from `reader` (once), known as `path`: for a caller
    /// that reads the bytes itself, to hash them on the way.
    pub fn with_reader(path: &Path, context: Context, reader: Box<dyn Read + Send>) -> Self {
        LogSource {
            path: path.to_path_buf(),
            context,
            size: None,
            subfolder: PathBuf::new(),
            bytes: None,
            reader: Some(GivenReader(Arc::new(std::sync::Mutex::new(Some(reader))))),
        }
    }

    /// Opens it for reading: the log's text, decompressed when it is
    /// compressed (see [`decompressing`]; a given reader too).
    pub fn open(&self) -> io::Result<Box<dyn Read + Send>> {
        if let Some(r) = &self.reader {
            let given =
                r.0.lock()
                    .map_err(|_| io::Error::other("the reader was poisoned"))?
                    .take()
                    .ok_or_else(|| io::Error::other("the log was already read"))?;
            return decompressing(given);
        }
        match &self.bytes {
            Some(b) => decompressing(Box::new(io::Cursor::new(Arc::clone(b)))),
            None => open_input(&self.path),
        }
    }

    /// Opens it for reading as it is stored, not decompressed: for a
    /// caller that hashes the file's own bytes and hands them back with
    /// [`LogSource::with_reader`]. Bytes in memory and a given reader are
    /// given as they are.
    pub fn open_raw(&self) -> io::Result<Box<dyn Read + Send>> {
        match (&self.reader, &self.bytes) {
            (None, Some(b)) => Ok(Box::new(io::Cursor::new(Arc::clone(b)))),
            (None, None) => open_stored(&self.path),
            (Some(_), _) => Err(io::Error::other(
                "the log was given as a reader: it has no stored bytes to open",
            )),
        }
    }

    /// How the log is compressed, told by its first bytes (`None` for a
    /// log that is not, and for one that cannot be read again: standard
    /// input, a pipe, a reader given once).
    pub fn compression(&self) -> io::Result<Option<Compression>> {
        if !self.reopenable() {
            return Ok(None);
        }
        let mut head = [0u8; 4];
        let mut got = 0;
        let mut raw = self.open_raw()?;
        while got < head.len() {
            match raw.read(&mut head[got..]) {
                Ok(0) => break,
                Ok(n) => got += n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
        Ok(Compression::detect(&head[..got]))
    }
}

/// Opens a log for reading its text: [`open_stored`], decompressed when
/// its first bytes say it is compressed (see [`decompressing`]), and an
/// error when they say it is binary data of another kind.
pub fn open_input(path: &Path) -> io::Result<Box<dyn Read + Send>> {
    decompressing(open_stored(path)?)
}

/// Opens a log for reading as it is stored: `-` is standard input; a
/// regular file is read with a check that it does not shrink meanwhile;
/// pipes and devices are read as they are. Files are read, never
/// memory-mapped: a mapped file that another process truncates raises
/// SIGBUS, which kills the process without a message.
pub fn open_stored(path: &Path) -> io::Result<Box<dyn Read + Send>> {
    if path.as_os_str() == "-" {
        return Ok(Box::new(io::stdin()));
    }
    let file = File::open(path)?;
    let meta = file.metadata()?;
    if meta.is_dir() {
        return Err(io::Error::other("is a directory, not a trail log"));
    }
    if !meta.is_file() {
        // A FIFO, a character device, /dev/stdin on a pipe: no size to check.
        return Ok(Box::new(file));
    }
    Ok(Box::new(FileStream::new(file, meta.len())))
}

/// A regular file read from its start, that knows the size it had when it
/// was opened: reaching its end before that size means another process
/// truncated it while it was read, and is an error rather than a silently
/// short log. A file that grows is read to its new end.
#[derive(Debug)]
pub struct FileStream {
    file: File,
    /// The size when opened.
    expected: u64,
    /// Bytes read so far.
    done: u64,
}

impl FileStream {
    /// Wraps `file`, whose size was `expected` when it was opened.
    pub fn new(file: File, expected: u64) -> Self {
        FileStream {
            file,
            expected,
            done: 0,
        }
    }

    /// Wraps `file`, whose size was `expected` when it was opened and which
    /// is read on from byte `done` (where `file` stands).
    pub fn resumed(file: File, expected: u64, done: u64) -> Self {
        FileStream {
            file,
            expected,
            done,
        }
    }

    fn shrank(&self) -> io::Error {
        io::Error::new(
            io::ErrorKind::UnexpectedEof,
            format!(
                "the file shrank while it was read: it had {} bytes when opened, only {} could be read (truncated by another process?)",
                self.expected, self.done
            ),
        )
    }
}

impl Read for FileStream {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.file.read(buf)?;
        if n == 0 && !buf.is_empty() && self.done < self.expected {
            return Err(self.shrank());
        }
        self.done += n as u64;
        Ok(n)
    }
}

/// One connection: its metadata and its logs.
#[derive(Debug, Clone, Default)]
pub struct ConnectionSource {
    /// The connection id, when known.
    pub id: Option<String>,
    /// The metadata, when found.
    pub meta: Option<Arc<Connection>>,
    /// Where the metadata came from.
    pub meta_path: Option<PathBuf>,
    /// Its logs.
    pub logs: Vec<LogSource>,
    /// Set when these are one of the connection's logs only (see
    /// [`ConnectionSource::only`]).
    pub part: Option<LogPart>,
}

/// How to find logs under the paths given.
#[derive(Debug, Clone, Copy, Default)]
#[non_exhaustive]
pub struct Discovery {
    /// Walk folders recursively (following symbolic links, reporting
    /// loops), rather than taking a folder as one connection folder.
    pub walk: bool,
    /// A folder named on the command line names its connection by its own
    /// name when neither its metadata nor a UUID name does.
    pub folder_names: bool,
}

impl Discovery {
    /// How every command finds logs: folders are walked recursively (a
    /// connection folder and a tree of them alike), and a folder named on
    /// the command line names the connection of the logs lying directly in
    /// it when neither its metadata nor a UUID name does.
    pub fn standard() -> Self {
        Discovery {
            walk: true,
            folder_names: true,
        }
    }

    /// Each folder named is one connection folder, named after itself.
    pub fn connection_folders() -> Self {
        Discovery {
            walk: false,
            folder_names: true,
        }
    }

    /// Folders are walked recursively, as [`Discovery::standard`] walks
    /// them; logs without metadata or a UUID folder belong to no connection
    /// (a batch places their outputs where they lie instead).
    pub fn trees() -> Self {
        Discovery {
            walk: true,
            folder_names: false,
        }
    }
}

/// Settings of a replay.
#[derive(Debug, Clone, Copy, Default)]
#[non_exhaustive]
pub struct ReplayOptions {
    /// The log layout, when the user gave it (else detected per log).
    pub format: Option<Format>,
    /// End the replay at the first error (`--on-error stop`): the
    /// connection's channels end there. Warnings go on.
    pub stop_at_error: bool,
    /// Replay on the calling thread alone: no thread reads a log ahead
    /// (what `-j 1` asks, and what a pool of replays already on every core
    /// wants).
    pub one_thread: bool,
}

impl ReplayOptions {
    /// Logs in `format`, or detected when `None`.
    pub fn with_format(format: Option<Format>) -> Self {
        ReplayOptions {
            format,
            stop_at_error: false,
            one_thread: false,
        }
    }

    /// The same, on the calling thread alone ([`ReplayOptions::one_thread`]).
    pub fn on_one_thread(self) -> Self {
        ReplayOptions {
            one_thread: true,
            ..self
        }
    }

    /// The same, ending at the first error.
    pub fn stopping_at_error(self) -> Self {
        ReplayOptions {
            stop_at_error: true,
            ..self
        }
    }
}

/// Counts of what a replay reported.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ReplayCounts {
    /// Malformed records, undecodable payloads and unreadable logs.
    pub errors: u64,
    /// Cut-off last lines.
    pub warnings: u64,
}

/// The connections that paths name.
#[derive(Debug, Clone, Default)]
pub struct Archive {
    /// The connections, in order: those with an id sorted by id and folder,
    /// then those without, in the order their logs were given.
    pub connections: Vec<ConnectionSource>,
}

/// The metadata file for a log of connection `conn` at `path`, if one
/// exists: `<dir>/connection.json`, `<dir>/<conn>.json` or, for
/// `<conn>/<chan>.ext`, `<conn>.json` beside the folder.
fn meta_for(path: &Path, conn: Option<&str>) -> Option<PathBuf> {
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    let mut candidates = vec![dir.join(CONNECTION_FILE)];
    if let Some(c) = conn {
        candidates.push(dir.join(format!("{c}.json")));
        if dir.file_name().is_some_and(|d| d == c) {
            if let Some(up) = dir.parent() {
                candidates.push(up.join(format!("{c}.json")));
            }
        }
    }
    candidates.into_iter().find(|p| p.is_file())
}

/// Reads a connection metadata file.
pub fn read_metadata(path: &Path) -> Result<Connection, ProblemKind> {
    let bytes = std::fs::read(path).map_err(ProblemKind::Read)?;
    Connection::from_json(&bytes).map_err(ProblemKind::Metadata)
}

/// What discovery gathers before grouping.
#[derive(Default)]
struct Gathering<'p> {
    groups: BTreeMap<(Option<String>, PathBuf), ConnectionSource>,
    loose: Vec<ConnectionSource>,
    seen: HashSet<PathBuf>,
    metas: HashMap<PathBuf, Option<Arc<Connection>>>,
    problems: Option<&'p mut dyn FnMut(Problem)>,
    /// The folder named that logs are being found under.
    root: Option<PathBuf>,
}

impl Gathering<'_> {
    fn problem(&mut self, path: &Path, kind: ProblemKind) {
        if let Some(p) = self.problems.as_mut() {
            p(Problem {
                path: path.display().to_string(),
                kind,
            });
        }
    }

    fn meta(&mut self, path: &Path) -> Option<Arc<Connection>> {
        if let Some(m) = self.metas.get(path) {
            return m.clone();
        }
        let meta = match read_metadata(path) {
            Ok(m) => Some(Arc::new(m)),
            Err(kind) => {
                self.problem(path, kind);
                None
            }
        };
        self.metas.insert(path.to_path_buf(), meta.clone());
        meta
    }

    /// Adds one log; `named_folder` is the folder given on the command line
    /// when the log lies directly in it and folders name connections.
    fn log(&mut self, path: PathBuf, named_folder: bool) {
        if path.as_os_str() == "-" {
            self.loose.push(ConnectionSource {
                logs: vec![LogSource {
                    path,
                    context: Context::channel("-"),
                    size: None,
                    subfolder: PathBuf::new(),
                    bytes: None,
                    reader: None,
                }],
                ..ConnectionSource::default()
            });
            return;
        }
        let real = std::fs::canonicalize(&path).unwrap_or_else(|_| path.clone());
        if !self.seen.insert(real) {
            return;
        }
        let size = match std::fs::metadata(&path) {
            Ok(m) if m.is_dir() => {
                self.problem(&path, ProblemKind::Read(io::Error::other("is a directory")));
                return;
            }
            Ok(m) if m.is_file() => Some(m.len()),
            Ok(_) => None,
            Err(e) => {
                self.problem(&path, ProblemKind::Read(e));
                return;
            }
        };
        let dir = match path.parent() {
            Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
            _ => PathBuf::from("."),
        };
        let dir_meta = dir.join(CONNECTION_FILE).is_file();
        let mut context = context_from_path(&path, dir_meta || named_folder);
        let meta_path = meta_for(&path, context.connection_id.as_deref());
        let meta = meta_path.as_ref().and_then(|p| self.meta(p));
        if let Some(id) = meta.as_ref().and_then(|m| m.id.clone()) {
            context.connection_id = Some(id);
        }
        let subfolder = self
            .root
            .as_deref()
            .and_then(|root| dir.strip_prefix(root).ok())
            .map(Path::to_path_buf)
            .unwrap_or_default();
        let log = LogSource {
            path,
            context,
            size,
            subfolder,
            bytes: None,
            reader: None,
        };
        let Some(id) = log.context.connection_id.clone() else {
            self.loose.push(ConnectionSource {
                id: None,
                meta,
                meta_path,
                logs: vec![log],
                part: None,
            });
            return;
        };
        let home = std::fs::canonicalize(&dir).unwrap_or(dir);
        let group = self
            .groups
            .entry((Some(id.clone()), home))
            .or_insert_with(|| ConnectionSource {
                id: Some(id),
                ..ConnectionSource::default()
            });
        if group.meta.is_none() && meta.is_some() {
            group.meta = meta;
            group.meta_path = meta_path;
        }
        group.logs.push(log);
    }

    fn folder(&mut self, dir: &Path, how: &Discovery) {
        let mut files: Vec<PathBuf> = Vec::new();
        if how.walk {
            let walker = walkdir::WalkDir::new(dir)
                .follow_links(true)
                .sort_by_file_name()
                .into_iter()
                .filter_entry(|e| {
                    !(e.depth() > 0 && e.file_type().is_dir() && e.file_name() == FILES_FOLDER)
                });
            for entry in walker {
                match entry {
                    Ok(e) if e.file_type().is_file() && is_log_name(e.path()) => {
                        files.push(e.into_path())
                    }
                    Ok(_) => {}
                    Err(e) => {
                        let at = e
                            .path()
                            .map_or_else(|| dir.to_path_buf(), Path::to_path_buf);
                        let kind = if e.loop_ancestor().is_some() {
                            ProblemKind::Loop
                        } else {
                            ProblemKind::Read(
                                e.into_io_error()
                                    .unwrap_or_else(|| io::Error::other("cannot be walked")),
                            )
                        };
                        self.problem(&at, kind);
                    }
                }
            }
        } else {
            match std::fs::read_dir(dir) {
                Ok(rd) => {
                    files = rd
                        .filter_map(Result::ok)
                        .map(|e| e.path())
                        .filter(|p| p.is_file() && is_log_name(p))
                        .collect();
                    files.sort();
                }
                Err(e) => {
                    self.problem(dir, ProblemKind::Read(e));
                    return;
                }
            }
        }
        if files.is_empty() {
            self.problem(dir, ProblemKind::NoLogs);
        }
        let files = self.one_layout_each(files);
        for file in files {
            let named = how.folder_names && file.parent() == Some(dir);
            self.log(file, named);
        }
    }
}

impl Gathering<'_> {
    /// Of the logs found in a folder, one file a channel: a channel saved
    /// in several layouts (`0.jsonl` and `0.hex` side by side, as users get
    /// when they download both) would otherwise be read twice and merged,
    /// doubling its bytes and its commands. The first layout in
    /// [`LOG_EXTENSIONS`] order (jsonl first) is read and the others are
    /// set aside with a warning, once their events are found to be the
    /// same (compared in lockstep: memory holds one event of each); when
    /// they differ, that is an error naming both and neither is read.
    /// `files` keep their order.
    fn one_layout_each(&mut self, files: Vec<PathBuf>) -> Vec<PathBuf> {
        let rank = |p: &Path| {
            p.extension()
                .and_then(|x| LOG_EXTENSIONS.iter().position(|l| x == *l))
                .unwrap_or(LOG_EXTENSIONS.len())
        };
        let mut names: BTreeMap<(PathBuf, std::ffi::OsString), Vec<usize>> = BTreeMap::new();
        for (i, f) in files.iter().enumerate() {
            let dir = f.parent().map(Path::to_path_buf).unwrap_or_default();
            let stem = f.file_stem().map(ToOwned::to_owned).unwrap_or_default();
            names.entry((dir, stem)).or_default().push(i);
        }
        let mut dropped = vec![false; files.len()];
        for mut same in names.into_values().filter(|v| v.len() > 1) {
            same.sort_by_key(|&i| (rank(&files[i]), i));
            let kept = &files[same[0]];
            for &i in &same[1..] {
                match compare_layouts(kept, &files[i]) {
                    None => {
                        dropped[i] = true;
                        self.problem(
                            kept,
                            ProblemKind::SameChannelSetAside {
                                set_aside: files[i].clone(),
                            },
                        );
                    }
                    Some(difference) => {
                        dropped[i] = true;
                        dropped[same[0]] = true;
                        self.problem(
                            kept,
                            ProblemKind::LayoutsDiffer {
                                other: files[i].clone(),
                                difference,
                            },
                        );
                    }
                }
            }
        }
        files
            .into_iter()
            .zip(dropped)
            .filter_map(|(f, d)| (!d).then_some(f))
            .collect()
    }
}

/// One event of a log, as compared across layouts: its time, type and
/// decoded payload (buffers reused from one event to the next).
#[derive(Default)]
struct Compared {
    ts: Nanos,
    kind: String,
    payload: Vec<u8>,
    line: u64,
}

/// Reads the next event of `reader` into `into`; malformed records are
/// skipped (the replay of the log that is read reports them). `false` at
/// the end.
fn next_compared<R: Read>(reader: &mut StreamReader<R>, into: &mut Compared) -> io::Result<bool> {
    loop {
        let event = match reader.next_record()? {
            None => return Ok(false),
            Some(Err(_)) => continue,
            Some(Ok(event)) => event,
        };
        if event.decode_payload(&mut into.payload).is_err() {
            continue;
        }
        into.ts = event.ts;
        into.kind.clear();
        into.kind.push_str(event.kind.name());
        into.line = event.line;
        return Ok(true);
    }
}

/// Whether the logs `a` and `b` (one channel in two layouts) hold the same
/// events, read side by side: `None` when they do, else the first
/// difference, located in both. Extra jsonl keys are not compared: the
/// hex layouts have no room for them.
fn compare_layouts(a: &Path, b: &Path) -> Option<String> {
    let open = |p: &Path| {
        open_input(p)
            .map(|r| StreamReader::with_format(r, None))
            .map_err(|e| format!("{} cannot be read: {e}", p.display()))
    };
    let (mut ra, mut rb) = match (open(a), open(b)) {
        (Ok(ra), Ok(rb)) => (ra, rb),
        (Err(e), _) | (_, Err(e)) => return Some(e),
    };
    let (mut ea, mut eb) = (Compared::default(), Compared::default());
    let mut n: u64 = 0;
    loop {
        let more_a = match next_compared(&mut ra, &mut ea) {
            Ok(m) => m,
            Err(e) => return Some(format!("{} cannot be read: {e}", a.display())),
        };
        let more_b = match next_compared(&mut rb, &mut eb) {
            Ok(m) => m,
            Err(e) => return Some(format!("{} cannot be read: {e}", b.display())),
        };
        n += 1;
        let at = |p: &Path, e: &Compared| format!("{}:{}", p.display(), e.line);
        match (more_a, more_b) {
            (false, false) => return None,
            (true, false) => {
                return Some(format!(
                    "event {n} ({}) has no counterpart: {} ends before it",
                    at(a, &ea),
                    b.display()
                ))
            }
            (false, true) => {
                return Some(format!(
                    "event {n} ({}) has no counterpart: {} ends before it",
                    at(b, &eb),
                    a.display()
                ))
            }
            (true, true) => {
                let what = if ea.ts != eb.ts {
                    "times"
                } else if ea.kind != eb.kind {
                    "types"
                } else if ea.payload != eb.payload {
                    "payloads"
                } else {
                    continue;
                };
                return Some(format!(
                    "event {n} differs in its {what} ({} and {})",
                    at(a, &ea),
                    at(b, &eb)
                ));
            }
        }
    }
}

impl Archive {
    /// Finds the connections under `paths`; problems (unreadable paths, bad
    /// metadata, symbolic link loops, folders without logs) go to
    /// `problems` and the rest goes on.
    pub fn open<P: AsRef<Path>>(
        paths: &[P],
        how: &Discovery,
        problems: &mut dyn FnMut(Problem),
    ) -> Archive {
        let mut g = Gathering {
            problems: Some(problems),
            ..Gathering::default()
        };
        for p in paths {
            let path = p.as_ref();
            if path.as_os_str() != "-" && path.is_dir() {
                g.root = Some(path.to_path_buf());
                g.folder(path, how);
                g.root = None;
            } else {
                g.log(path.to_path_buf(), false);
            }
        }
        let mut connections: Vec<ConnectionSource> =
            std::mem::take(&mut g.groups).into_values().collect();
        connections.append(&mut g.loose);
        Archive { connections }
    }

    /// One log held in memory, named `name` (its channel comes from the
    /// name, as for a file).
    pub fn from_bytes(name: &str, bytes: impl AsRef<[u8]>) -> Archive {
        let path = PathBuf::from(name);
        let context = context_from_path(&path, false);
        Archive {
            connections: vec![ConnectionSource {
                id: context.connection_id.clone(),
                meta: None,
                meta_path: None,
                logs: vec![LogSource {
                    path,
                    context,
                    size: None,
                    subfolder: PathBuf::new(),
                    bytes: Some(Arc::from(bytes.as_ref())),
                    reader: None,
                }],
                part: None,
            }],
        }
    }

    /// Gives every connection metadata (for logs held in memory).
    pub fn with_metadata(mut self, meta: Connection) -> Archive {
        let meta = Arc::new(meta);
        for c in &mut self.connections {
            if c.id.is_none() {
                c.id = meta.id.clone();
                for log in &mut c.logs {
                    log.context.connection_id = meta.id.clone();
                }
            }
            c.meta = Some(Arc::clone(&meta));
        }
        self
    }

    /// Whether no log was found.
    pub fn is_empty(&self) -> bool {
        self.connections.iter().all(|c| c.logs.is_empty())
    }

    /// Replays every connection into `sink`, in order; see
    /// [`ConnectionSource::replay`].
    pub fn replay(
        &self,
        sink: &mut dyn ChannelSink,
        problems: &mut dyn FnMut(Problem),
    ) -> io::Result<ReplayCounts> {
        self.replay_with(&ReplayOptions::default(), sink, problems)
    }

    /// [`Archive::replay`] with options.
    pub fn replay_with(
        &self,
        options: &ReplayOptions,
        sink: &mut dyn ChannelSink,
        problems: &mut dyn FnMut(Problem),
    ) -> io::Result<ReplayCounts> {
        let mut counts = ReplayCounts::default();
        for c in &self.connections {
            let one = c.replay(options, sink, problems)?;
            counts.errors += one.errors;
            counts.warnings += one.warnings;
        }
        Ok(counts)
    }
}

/// One log being read during a replay.
struct Reading {
    reader: Option<StreamReader<Box<dyn Read + Send>>>,
    name: String,
    context: Context,
}

impl ConnectionSource {
    /// The same connection with only its log number `i` (marked as a
    /// [`LogPart`] when it has others).
    pub fn only(&self, i: usize) -> ConnectionSource {
        ConnectionSource {
            logs: self.logs.get(i).cloned().into_iter().collect(),
            part: (self.logs.len() > 1).then_some(LogPart {
                index: i,
                count: self.logs.len(),
            }),
            ..self.clone()
        }
    }

    /// Reads every log of the connection and pushes what happened into
    /// `sink`: events go to the channel they name (a `channel_id` key), else
    /// to the channel of their log. Several logs are read side by side, in
    /// time order, so that the channels' events interleave as they
    /// happened. Memory holds one record a log, whatever their size.
    ///
    /// Problems (a malformed record, a payload that does not decode, a log
    /// that cannot be read) go to `problems` and count against the channel's
    /// integrity verdict; the rest goes on. Only the sink failing stops the
    /// replay.
    pub fn replay(
        &self,
        options: &ReplayOptions,
        sink: &mut dyn ChannelSink,
        problems: &mut dyn FnMut(Problem),
    ) -> io::Result<ReplayCounts> {
        let mut replay = ConnectionReplay::start(self, options, sink, problems)?;
        replay.run(sink, problems)?;
        replay.finish(sink)
    }

    /// The time of the connection's first record, as far as it can be
    /// known without keeping its logs open: the earliest of `connected`
    /// (the metadata) and each log's first event. `None` when a log can be
    /// read only once (standard input, a pipe): it must be read from the
    /// start.
    pub fn first_time(&self, options: &ReplayOptions) -> Option<Nanos> {
        let mut first = self
            .meta
            .as_ref()
            .and_then(|m| m.connected.as_ref())
            .and_then(|t| crate::time::parse_rfc3339(t.as_bytes(), true).ok());
        for log in &self.logs {
            if !log.reopenable() {
                return None;
            }
            let Ok(input) = log.open() else { continue };
            let mut reader = StreamReader::with_format(input, options.format);
            // The first event: malformed records before it are skipped.
            let ts = loop {
                match reader.peek_ts() {
                    Ok(Some(Some(ts))) => break Some(ts),
                    Ok(Some(None)) => {
                        if !matches!(reader.next_record(), Ok(Some(_))) {
                            break None;
                        }
                    }
                    Ok(None) | Err(_) => break None,
                }
            };
            if let Some(ts) = ts {
                first = Some(first.map_or(ts, |f: Nanos| f.min(ts)));
            }
        }
        first
    }
}

/// A connection being replayed one record at a time, so that several can
/// be read side by side: [`ConnectionSource::replay`] is
/// [`ConnectionReplay::start`], [`ConnectionReplay::run`] and
/// [`ConnectionReplay::finish`]; [`ConnectionReplay::step`] folds in one
/// record.
///
/// ```
/// use sshtrail::archive::{Archive, ConnectionReplay, ReplayOptions};
/// use sshtrail::channel::SummaryCollector;
///
/// let archive = Archive::from_bytes("0.hex", b"2023-06-07T17:32:29Z stdin 6c\n2023-06-07T17:32:30Z stdout 6c6c\n");
/// let mut sink = SummaryCollector::default();
/// let mut problems = |p| panic!("{p}");
/// let conn = &archive.connections[0];
/// let mut replay = ConnectionReplay::start(conn, &ReplayOptions::default(), &mut sink, &mut problems).unwrap();
/// let mut steps = 0;
/// while replay.step(&mut sink, &mut problems).unwrap() {
///     steps += 1;
/// }
/// replay.finish(&mut sink).unwrap();
/// assert_eq!(steps, 2);
/// assert_eq!(sink.connections()[0].channels[0].bytes.stdout, 2);
/// ```
pub struct ConnectionReplay<'a> {
    source: &'a ConnectionSource,
    conn: ConnectionBuilder<'a>,
    logs: Vec<Reading>,
    counts: ReplayCounts,
    /// End at the first error ([`ReplayOptions::stop_at_error`]).
    stop_at_error: bool,
    /// No thread reads ahead ([`ReplayOptions::one_thread`]).
    one_thread: bool,
    /// An error ended the replay.
    halted: bool,
}

impl<'a> ConnectionReplay<'a> {
    /// Tells `sink` the connection begins and opens its logs (one that
    /// cannot be opened goes to `problems`).
    pub fn start(
        source: &'a ConnectionSource,
        options: &ReplayOptions,
        sink: &mut dyn ChannelSink,
        problems: &mut dyn FnMut(Problem),
    ) -> io::Result<ConnectionReplay<'a>> {
        let mut counts = ReplayCounts::default();
        let mut conn = ConnectionBuilder::new(source.id.as_deref(), source.meta.as_deref())
            .with_meta_path(source.meta_path.as_deref())
            .with_part(source.part)
            .with_logs(&source.logs);
        conn.start(sink)?;
        let mut logs: Vec<Reading> = Vec::with_capacity(source.logs.len());
        for (i, log) in source.logs.iter().enumerate() {
            let reader = match log.open() {
                Ok(r) => {
                    conn.open_log(i, &log.context);
                    Some(StreamReader::with_format(r, options.format))
                }
                Err(e) => {
                    counts.errors += 1;
                    problems(Problem {
                        path: log.name(),
                        kind: ProblemKind::Read(e),
                    });
                    None
                }
            };
            logs.push(Reading {
                reader,
                name: log.name(),
                context: log.context.clone(),
            });
        }
        Ok(ConnectionReplay {
            source,
            conn,
            logs,
            counts,
            stop_at_error: options.stop_at_error,
            one_thread: options.one_thread,
            halted: false,
        })
    }

    /// Folds in the next record: the earliest of the logs' next records
    /// (ties: the first log). `false` once every log is over.
    pub fn step(
        &mut self,
        sink: &mut dyn ChannelSink,
        problems: &mut dyn FnMut(Problem),
    ) -> io::Result<bool> {
        if self.halted {
            return Ok(false);
        }
        let mut best: Option<(usize, Option<Nanos>)> = None;
        for i in 0..self.logs.len() {
            let Some(reader) = self.logs[i].reader.as_mut() else {
                continue;
            };
            match reader.peek_ts() {
                Ok(Some(ts)) => {
                    // A malformed record goes first: reported at once.
                    let earlier = match (best, ts) {
                        (None, _) => true,
                        (Some((_, None)), _) => false,
                        (Some(_), None) => true,
                        (Some((_, Some(b))), Some(t)) => t < b,
                    };
                    if earlier {
                        best = Some((i, ts));
                    }
                }
                Ok(None) => self.end_log(i, None, sink, problems)?,
                Err(e) => self.end_log(i, Some(e), sink, problems)?,
            }
        }
        let Some((i, _)) = best else {
            return Ok(false);
        };
        let context = &self.source.logs[i].context;
        let r = &mut self.logs[i];
        let Some(reader) = r.reader.as_mut() else {
            return Ok(true);
        };
        match reader.next_record() {
            Ok(Some(record)) => {
                let mut tally = Tally {
                    counts: &mut self.counts,
                    problems,
                    stop_at_error: self.stop_at_error,
                };
                match take(
                    &mut self.conn,
                    i,
                    context,
                    record,
                    &r.name,
                    sink,
                    &mut tally,
                ) {
                    Ok(()) => {}
                    Err(Stop::Halt) => {
                        self.halted = true;
                        return Ok(false);
                    }
                    Err(Stop::Sink(e) | Stop::Read(e)) => return Err(e),
                }
            }
            Ok(None) => self.end_log(i, None, sink, problems)?,
            Err(e) => self.end_log(i, Some(e), sink, problems)?,
        }
        Ok(true)
    }

    /// Folds in every record that is left.
    pub fn run(
        &mut self,
        sink: &mut dyn ChannelSink,
        problems: &mut dyn FnMut(Problem),
    ) -> io::Result<()> {
        if self.logs.len() != 1 {
            while self.step(sink, problems)? {}
            return Ok(());
        }
        // One log: read it straight through.
        let context = &self.source.logs[0].context;
        if let Some(mut reader) = self.logs[0].reader.take() {
            // A file is read on a thread of its own while this one works:
            // bytes in memory need no reading, and a pipe's reader could
            // be left blocked after the replay.
            let log = &self.source.logs[0];
            if !self.one_thread && log.reopenable() && log.bytes.is_none() {
                reader.read_ahead();
            }
            let name = &self.logs[0].name;
            let mut tally = Tally {
                counts: &mut self.counts,
                problems,
                stop_at_error: self.stop_at_error,
            };
            let conn = &mut self.conn;
            let read = reader.for_each(|record: Record<'_>| -> Result<(), Stop> {
                take(conn, 0, context, record, name, sink, &mut tally)
            });
            match read {
                Ok(()) => {}
                Err(Stop::Halt) => self.halted = true,
                Err(Stop::Sink(e)) => return Err(e),
                Err(Stop::Read(e)) => tally.report(
                    Problem {
                        path: name.clone(),
                        kind: ProblemKind::Read(e),
                    },
                    conn,
                    context,
                ),
            }
        }
        self.conn.log_ended(0, sink)
    }

    /// Ends every channel and the connection; what was reported, counted.
    pub fn finish(self, sink: &mut dyn ChannelSink) -> io::Result<ReplayCounts> {
        self.conn.finish(sink)?;
        Ok(self.counts)
    }

    /// Log number `i` has no more records (or could not be read further,
    /// with `error`): its channels end.
    fn end_log(
        &mut self,
        i: usize,
        error: Option<io::Error>,
        sink: &mut dyn ChannelSink,
        problems: &mut dyn FnMut(Problem),
    ) -> io::Result<()> {
        let r = &mut self.logs[i];
        r.reader = None;
        if let Some(e) = error {
            let problem = Problem {
                path: r.name.clone(),
                kind: ProblemKind::Read(e),
            };
            Tally {
                counts: &mut self.counts,
                problems,
                stop_at_error: false,
            }
            .report(problem, &mut self.conn, &r.context);
        }
        self.conn.log_ended(i, sink)
    }
}

/// Where a replay's problems go, counted.
struct Tally<'t> {
    counts: &'t mut ReplayCounts,
    problems: &'t mut dyn FnMut(Problem),
    /// An error ends the replay.
    stop_at_error: bool,
}

impl Tally<'_> {
    /// Counts a problem (against its channel's integrity verdict when it is
    /// a malformed record) and hands it on.
    fn report(&mut self, problem: Problem, conn: &mut ConnectionBuilder<'_>, context: &Context) {
        if let ProblemKind::Parse(e) = &problem.kind {
            conn.problem(context, e);
        }
        if problem.is_warning() {
            self.counts.warnings += 1;
        } else {
            self.counts.errors += 1;
        }
        (self.problems)(problem);
    }
}

/// Why reading a log stopped early.
enum Stop {
    /// The sink failed: the replay stops.
    Sink(io::Error),
    /// Reading the log failed.
    Read(io::Error),
    /// An error, with [`ReplayOptions::stop_at_error`].
    Halt,
}

impl From<io::Error> for Stop {
    fn from(e: io::Error) -> Self {
        Stop::Read(e)
    }
}

/// Folds one record of log `i` in; an error ends the replay when the
/// tally says so.
fn take(
    conn: &mut ConnectionBuilder<'_>,
    i: usize,
    context: &Context,
    record: Record<'_>,
    name: &str,
    sink: &mut dyn ChannelSink,
    tally: &mut Tally<'_>,
) -> Result<(), Stop> {
    let mut reported = |e: ParseError, conn: &mut ConnectionBuilder<'_>| {
        let fatal = !e.is_warning();
        tally.report(
            Problem {
                path: name.to_string(),
                kind: ProblemKind::Parse(e),
            },
            conn,
            context,
        );
        if tally.stop_at_error && fatal {
            Err(Stop::Halt)
        } else {
            Ok(())
        }
    };
    match record {
        Ok(event) => match conn.push(i, context, &event, sink) {
            Ok(()) => Ok(()),
            Err(ReplayError::Payload(e)) => reported(e, conn),
            Err(ReplayError::Io(e)) => Err(Stop::Sink(e)),
        },
        Err(e) => reported(e, conn),
    }
}
