//! Converting one large log to event formats on every thread of the pool.
//!
//! The log goes through in blocks of whole records
//! ([`sshtrail::format::RecordBlocks`]). Each block passes five stages:
//! read, hash (the input's SHA-256), convert, write, and hash (each
//! output's SHA-256). Four of them are sequential: they must see the blocks
//! in order, and each is a gate one thread at a time passes. Every thread
//! takes the next block and carries it through all five stages itself,
//! waiting at a gate only until the block before has passed it; the threads
//! settle into a stagger where they rarely wait. Keeping a block on one
//! core matters more than anything else measured: handing blocks between
//! threads (a stage queue that any thread serves) did the same work but
//! ran 20% slower in half of the runs, moving every byte between caches.
//!
//! Anything unusual (a bad line, a payload that does not decode, an event
//! of another channel, a record longer than [`MAX_RECORD`]) stops the
//! pipeline and the caller takes the careful path, which reports it.

use std::collections::BTreeMap;
use std::fs::File;
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::{Condvar, Mutex, MutexGuard};

use sha2::{Digest, Sha256};
use sshtrail::archive::FileStream;
use sshtrail::format::RecordBlocks;
use sshtrail::output::{event_encoder, OutputFormat};
use sshtrail::stats::EventCounts;
use sshtrail::{Filter, Format, Payload, SliceReader};

use crate::cli::output::{AtomicFile, Replace};

/// The size a block aims at: a block and its outputs stay in the core's
/// cache from reading to hashing the output (measured on 2 threads: 256 KiB
/// and 1 MiB alike, 4 MiB 4% slower).
const BLOCK: usize = 1 << 20;
/// The longest record a block may hold.
const MAX_RECORD: usize = 64 << 20;

/// One large log to convert, and where to.
pub struct Large<'a> {
    pub path: &'a Path,
    /// The channel the log is of; events naming another take the careful path.
    pub channel_id: &'a str,
    /// The layout, when the user gave it.
    pub format: Option<Format>,
    pub formats: &'a [OutputFormat],
    pub filter: &'a Filter,
    /// One output path per format.
    pub outputs: &'a [PathBuf],
    /// Whether an existing output may be replaced.
    pub replace: Replace,
    /// Whether the input and outputs are hashed (a batch's manifest lists
    /// their SHA-256; a single conversion has no use for them).
    pub hashes: bool,
    pub fsync: bool,
    /// Called with the size of each block read.
    pub progress: &'a (dyn Fn(u64) + Sync),
    /// Polled before each block: true stops the conversion.
    pub interrupted: &'a (dyn Fn() -> bool + Sync),
}

/// A written output: path, SHA-256 and size.
pub struct Written {
    pub path: PathBuf,
    pub sha256: String,
    pub bytes: u64,
}

/// How a large conversion ended.
pub enum Outcome {
    Converted {
        size: u64,
        sha256: String,
        by_type: BTreeMap<String, u64>,
        outputs: Vec<Written>,
        /// A cut-off last line (`LINE:COLUMN: warning: ...`): its event is
        /// left out, as the careful path does.
        warning: Option<sshtrail::ParseError>,
    },
    /// Something needs the careful path; nothing was written.
    Careful,
    /// Reading the input or writing an output failed; nothing was written.
    Failed(String),
    /// Stopped by Ctrl-C; nothing was written.
    Interrupted,
}

/// The reader's state.
struct Reader {
    blocks: RecordBlocks<FileStream>,
    next: usize,
    format: Option<Format>,
    /// The input is exhausted.
    done: bool,
}

/// The writer's state.
struct Writer {
    files: Vec<AtomicFile>,
    lens: Vec<u64>,
    next: usize,
}

/// A sequential hash over blocks in order.
struct Hasher<H> {
    hash: H,
    next: usize,
}

enum Stop {
    Careful,
    Failed(String),
    Interrupted,
}

/// The four sequential stages; each is `None` while a thread holds it.
struct State {
    reader: Option<Reader>,
    hash_in: Option<Hasher<Sha256>>,
    writer: Option<Writer>,
    hash_out: Option<Hasher<Vec<Sha256>>>,
    counts: EventCounts,
    warning: Option<sshtrail::ParseError>,
    stop: Option<Stop>,
}

/// A stage of [`State`], for [`Pipe::gate`].
trait Stage: Sized {
    fn slot(st: &mut State) -> &mut Option<Self>;
    fn next(&self) -> usize;
}

impl Stage for Reader {
    fn slot(st: &mut State) -> &mut Option<Self> {
        &mut st.reader
    }
    fn next(&self) -> usize {
        self.next
    }
}

impl Stage for Hasher<Sha256> {
    fn slot(st: &mut State) -> &mut Option<Self> {
        &mut st.hash_in
    }
    fn next(&self) -> usize {
        self.next
    }
}

impl Stage for Writer {
    fn slot(st: &mut State) -> &mut Option<Self> {
        &mut st.writer
    }
    fn next(&self) -> usize {
        self.next
    }
}

impl Stage for Hasher<Vec<Sha256>> {
    fn slot(st: &mut State) -> &mut Option<Self> {
        &mut st.hash_out
    }
    fn next(&self) -> usize {
        self.next
    }
}

struct Pipe<'a> {
    job: &'a Large<'a>,
    state: Mutex<State>,
    changed: Condvar,
}

/// Converts `job` on the threads of the current rayon pool.
pub fn convert_large(job: &Large<'_>) -> Outcome {
    // Read with the size it had when opened: a file that shrinks while it
    // is read is an error here as on every other path.
    let input = match File::open(job.path).and_then(|f| {
        let len = f.metadata()?.len();
        Ok(FileStream::new(f, len))
    }) {
        Ok(f) => f,
        Err(e) => return Outcome::Failed(e.to_string()),
    };
    convert_stream(job, input)
}

/// [`convert_large`] of the opened input.
fn convert_stream(job: &Large<'_>, input: FileStream) -> Outcome {
    let mut files = Vec::new();
    for path in job.outputs {
        match AtomicFile::create_with(path, job.replace.clone()) {
            Ok(f) => files.push(f),
            Err(e) => return Outcome::Failed(format!("{}: {e}", path.display())),
        }
    }
    let n = job.formats.len();
    let pipe = Pipe {
        job,
        state: Mutex::new(State {
            reader: Some(Reader {
                blocks: RecordBlocks::new(input, BLOCK, MAX_RECORD),
                next: 0,
                format: job.format,
                done: false,
            }),
            hash_in: Some(Hasher {
                hash: Sha256::new(),
                next: 0,
            }),
            writer: Some(Writer {
                files,
                lens: vec![0; n],
                next: 0,
            }),
            hash_out: Some(Hasher {
                hash: vec![Sha256::new(); n],
                next: 0,
            }),
            counts: EventCounts::default(),
            warning: None,
            stop: None,
        }),
        changed: Condvar::new(),
    };
    rayon::scope(|s| {
        for _ in 0..rayon::current_num_threads() {
            s.spawn(|_| pipe.work());
        }
    });
    let state = pipe.state.into_inner().unwrap_or_else(|e| e.into_inner());
    match state.stop {
        Some(Stop::Careful) => return Outcome::Careful,
        Some(Stop::Failed(m)) => return Outcome::Failed(m),
        Some(Stop::Interrupted) => return Outcome::Interrupted,
        None => {}
    }
    let unfinished = || Outcome::Failed("the conversion did not finish".to_string());
    let (Some(reader), Some(hash_in), Some(writer), Some(hash_out)) =
        (state.reader, state.hash_in, state.writer, state.hash_out)
    else {
        return unfinished();
    };
    let blocks = reader.next;
    if !reader.done || hash_in.next != blocks || writer.next != blocks || hash_out.next != blocks {
        return unfinished();
    }
    let mut outputs = Vec::new();
    for ((file, hash), (len, path)) in writer
        .files
        .into_iter()
        .zip(hash_out.hash)
        .zip(writer.lens.into_iter().zip(job.outputs))
    {
        if let Err(e) = file.commit(job.fsync) {
            return Outcome::Failed(format!("{}: {e}", path.display()));
        }
        outputs.push(Written {
            path: path.clone(),
            sha256: format!("{:x}", hash.finalize()),
            bytes: len,
        });
    }
    Outcome::Converted {
        size: reader.blocks.offset(),
        sha256: format!("{:x}", hash_in.hash.finalize()),
        by_type: state.counts.to_map(),
        warning: state.warning,
        outputs,
    }
}

impl Pipe<'_> {
    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Stops the pipeline (the first reason wins) and wakes every thread.
    fn stop(&self, why: Stop) {
        self.lock().stop.get_or_insert(why);
        self.changed.notify_all();
    }

    /// Waits until stage `S` is free and at block `k` (`None`: any block),
    /// then runs `f` on it unlocked. `None` when the pipeline stopped.
    fn gate<S: Stage, R>(&self, k: Option<usize>, f: impl FnOnce(&mut S) -> R) -> Option<R> {
        let mut st = self.lock();
        let mut stage = loop {
            if st.stop.is_some() {
                return None;
            }
            if S::slot(&mut st)
                .as_ref()
                .is_some_and(|s| k.is_none_or(|k| s.next() == k))
            {
                if let Some(stage) = S::slot(&mut st).take() {
                    break stage;
                }
            }
            st = self.changed.wait(st).unwrap_or_else(|e| e.into_inner());
        };
        drop(st);
        let out = f(&mut stage);
        *S::slot(&mut self.lock()) = Some(stage);
        self.changed.notify_all();
        Some(out)
    }

    /// Takes blocks one at a time and carries each through every stage, so
    /// that a block stays in the cache of the core that read it. The
    /// sequential stages are gates that see the blocks in order.
    fn work(&self) {
        let mut input = Vec::new();
        let mut outputs = vec![Vec::new(); self.job.formats.len()];
        loop {
            // Read the next block, whichever it is.
            let read = self.gate(None, |r: &mut Reader| {
                if r.done {
                    return None;
                }
                if (self.job.interrupted)() {
                    return Some(Err(Stop::Interrupted));
                }
                let start = r.blocks.offset();
                let got = match r.blocks.next_block(&mut input) {
                    Ok(true) => {
                        (self.job.progress)(input.len() as u64);
                        if r.format.is_none() {
                            r.format = Format::detect(&input[..input.len().min(1 << 16)]);
                        }
                        // A log whose layout cannot be told from its start.
                        let last = r.blocks.is_done();
                        r.format
                            .map(|f| (r.next, start, f, last))
                            .ok_or(Stop::Careful)
                    }
                    Ok(false) => {
                        r.done = true;
                        return None;
                    }
                    // A record too long for a block.
                    Err(e) if e.kind() == io::ErrorKind::InvalidData => Err(Stop::Careful),
                    Err(e) => Err(Stop::Failed(format!("reading failed: {e}"))),
                };
                r.next += 1;
                Some(got)
            });
            let (k, start, format, last) = match read {
                None | Some(None) => return,
                Some(Some(Ok(block))) => block,
                Some(Some(Err(why))) => return self.stop(why),
            };
            let hashed = self.gate(Some(k), |h: &mut Hasher<Sha256>| {
                if self.job.hashes {
                    h.hash.update(&input);
                }
                h.next += 1;
            });
            if hashed.is_none() {
                return;
            }
            outputs.iter_mut().for_each(Vec::clear);
            let mut counts = EventCounts::default();
            let block = Block {
                bytes: &input,
                first: k == 0,
                last,
                format,
            };
            match convert_block(self.job, &block, &mut outputs, &mut counts) {
                BlockEnd::Done => {}
                BlockEnd::Careful => return self.stop(Stop::Careful),
                // Only the last block can end in a cut-off line: locate it
                // in the whole log.
                BlockEnd::CutOff(mut warning) => match lines_before(self.job.path, start) {
                    Ok(n) => {
                        warning.line += n;
                        self.lock().warning = Some(warning);
                    }
                    Err(e) => return self.stop(Stop::Failed(format!("reading failed: {e}"))),
                },
            }
            self.lock().counts.merge(&counts);
            let written = self.gate(Some(k), |w: &mut Writer| {
                w.next += 1;
                for (i, out) in outputs.iter().enumerate() {
                    // Modest writes: one huge write() makes the kernel
                    // throttle dirty pages.
                    let mut file = w.files[i].file();
                    if let Err(e) = out.chunks(1 << 20).try_for_each(|c| file.write_all(c)) {
                        return Err(format!("{}: {e}", self.job.outputs[i].display()));
                    }
                    w.lens[i] += out.len() as u64;
                }
                Ok(())
            });
            match written {
                None => return,
                Some(Err(m)) => return self.stop(Stop::Failed(m)),
                Some(Ok(())) => {}
            }
            let hashed = self.gate(Some(k), |h: &mut Hasher<Vec<Sha256>>| {
                if self.job.hashes {
                    for (hash, out) in h.hash.iter_mut().zip(&outputs) {
                        hash.update(out);
                    }
                }
                h.next += 1;
            });
            if hashed.is_none() {
                return;
            }
        }
    }
}

/// How a block's conversion ended.
enum BlockEnd {
    Done,
    /// The block ends in a cut-off line: the warning, located in the block.
    CutOff(sshtrail::ParseError),
    /// The block needs the careful path.
    Careful,
}

/// The number of line ends in the first `offset` bytes of the file.
fn lines_before(path: &Path, offset: u64) -> io::Result<u64> {
    let mut file = io::Read::take(File::open(path)?, offset);
    let mut buf = vec![0u8; 1 << 20];
    let mut lines = 0;
    loop {
        let n = io::Read::read(&mut file, &mut buf)?;
        if n == 0 {
            return Ok(lines);
        }
        lines += memchr::memchr_iter(b'\n', &buf[..n]).count() as u64;
    }
}

/// A block of whole records.
struct Block<'a> {
    bytes: &'a [u8],
    /// The log's first block.
    first: bool,
    /// The log's last block.
    last: bool,
    format: Format,
}

/// Converts one block into `outputs` (one per format).
fn convert_block(
    job: &Large<'_>,
    block: &Block<'_>,
    outputs: &mut [Vec<u8>],
    counts: &mut EventCounts,
) -> BlockEnd {
    let mut encoders: Vec<_> = job
        .formats
        .iter()
        .map(|&f| event_encoder(f, block.first))
        .collect();
    let mut payload = Vec::new();
    let mut last_decimal = false;
    for record in SliceReader::with_format(block.bytes, Some(block.format)) {
        let ev = match record {
            Ok(ev) => ev,
            // A warning is a cut-off last line: the last record there is.
            Err(e) if e.is_warning() => return BlockEnd::CutOff(e),
            Err(_) => return BlockEnd::Careful,
        };
        last_decimal = matches!(ev.payload, Payload::Hex { text, .. }
            if !text.is_empty() && text.iter().all(u8::is_ascii_digit));
        if ev.channel_id().is_some_and(|id| id != job.channel_id) {
            return BlockEnd::Careful;
        }
        if ev.decode_payload(&mut payload).is_err() {
            return BlockEnd::Careful;
        }
        counts.add(&ev.kind);
        if !job.filter.matches(&ev.kind) {
            continue;
        }
        for (enc, out) in encoders.iter_mut().zip(outputs.iter_mut()) {
            if enc.event(out, &ev, &payload).is_err() {
                return BlockEnd::Careful;
            }
        }
    }
    // The log's last line shaped like a dump header (a decimal third
    // field) may be a dump cut off, which only the whole log can tell (its
    // earlier dumps): the careful path reads it.
    if block.last && last_decimal {
        return BlockEnd::Careful;
    }
    BlockEnd::Done
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_file_that_shrinks_while_read_fails_and_writes_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let log = dir.path().join("0.jsonl");
        let line = "{\"type\":\"stdout\",\"ts\":\"2023-06-07T17:32:29Z\",\"data\":\"bA==\"}\n";
        std::fs::write(&log, line.repeat(40_000)).unwrap();
        let out = dir.path().join("out.jsonl");
        let outputs = [out.clone()];
        let job = Large {
            path: &log,
            channel_id: "0",
            format: None,
            formats: &[OutputFormat::Jsonl],
            filter: &Filter::default(),
            outputs: &outputs,
            replace: Replace::Never,
            hashes: true,
            fsync: false,
            progress: &|_| {},
            interrupted: &|| false,
        };
        // What another process truncating the file looks like: the file
        // ends before the size it had when it was opened.
        let file = File::open(&log).unwrap();
        let had = file.metadata().unwrap().len() + 1000;
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(2)
            .build()
            .unwrap();
        let outcome = pool.install(|| convert_stream(&job, FileStream::new(file, had)));
        match outcome {
            Outcome::Failed(m) => assert!(
                m.starts_with("reading failed: the file shrank while it was read: it had "),
                "{m}"
            ),
            _ => panic!("a shrunk file must fail"),
        }
        assert_eq!(
            std::fs::read_dir(dir.path()).unwrap().count(),
            1,
            "no output, no temporary"
        );
    }
}
