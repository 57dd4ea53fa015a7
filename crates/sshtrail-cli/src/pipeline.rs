//! Converting one large log to event formats on every thread of the pool.
//!
//! The log goes through in blocks of whole records
//! ([`sshtrail::format::RecordBlocks`]). Each block passes five stages:
//! read, hash (the input's SHA-256), convert, write and hash (each output's
//! SHA-256). Converting runs on any number of blocks at once; the other four
//! are sequential chains that must see the blocks in order, and each is a
//! role that one thread at a time holds. Every thread loops: it takes the
//! most urgent work available (the chains first, oldest block first, then a
//! conversion), and waits only when all of it is held by other threads.
//! Keeping the chains apart matters: hashing alone is half of the work, and
//! the two hashes must not queue behind each other.
//!
//! Anything unusual (a bad line, a payload that does not decode, an event
//! of another channel, a record longer than [`MAX_RECORD`]) stops the
//! pipeline and the caller takes the careful path, which reports it.

use std::collections::BTreeMap;
use std::fs::File;
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};

use sha2::{Digest, Sha256};
use sshtrail::format::RecordBlocks;
use sshtrail::{EventType, Filter, Format, SliceReader};

use crate::convert::ConvertFormat;
use crate::output::AtomicFile;

/// The size a block aims at: small enough that a block and its outputs are
/// still in the cache when they are hashed and written, large enough that
/// handing blocks between threads costs nothing measurable.
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
    pub formats: &'a [ConvertFormat],
    pub filter: &'a Filter,
    /// One output path per format.
    pub outputs: &'a [PathBuf],
    pub force: bool,
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
    },
    /// Something needs the careful path; nothing was written.
    Careful,
    /// Reading the input or writing an output failed; nothing was written.
    Failed(String),
    /// Stopped by Ctrl-C; nothing was written.
    Interrupted,
}

/// Events per type, without allocating for the known ones.
#[derive(Default)]
struct Counts {
    known: [u64; EventType::KNOWN.len()],
    other: BTreeMap<String, u64>,
}

impl Counts {
    fn add(&mut self, kind: &EventType<'_>) {
        match kind.known_index() {
            Some(i) => self.known[i] += 1,
            None => match self.other.get_mut(kind.name()) {
                Some(n) => *n += 1,
                None => {
                    self.other.insert(kind.name().to_string(), 1);
                }
            },
        }
    }

    fn merge(&mut self, other: &mut Counts) {
        for (a, b) in self.known.iter_mut().zip(other.known.iter_mut()) {
            *a += std::mem::take(b);
        }
        for (k, n) in std::mem::take(&mut other.other) {
            *self.other.entry(k).or_default() += n;
        }
    }

    fn into_map(self) -> BTreeMap<String, u64> {
        let mut map = self.other;
        for (name, n) in EventType::NAMES.iter().zip(self.known) {
            if n > 0 {
                *map.entry(name.to_string()).or_default() += n;
            }
        }
        map
    }
}

/// A block between its stages.
struct Slot {
    /// Shared by the input hash and the conversion.
    input: Arc<Vec<u8>>,
    format: Format,
    /// The outputs, one per format, once converted; shared by the writer
    /// and the output hash.
    outputs: Option<Arc<Vec<Vec<u8>>>>,
    hashed_in: bool,
    written: bool,
    hashed_out: bool,
}

/// The reader's state.
struct Reader {
    blocks: RecordBlocks<File>,
    next: usize,
    format: Option<Format>,
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

/// Work a thread took: the role or block it holds while working unlocked.
enum Task {
    Read(Reader, Vec<u8>),
    HashIn(Hasher<Sha256>, Arc<Vec<u8>>),
    Convert(usize, Arc<Vec<u8>>, Format, Vec<Vec<u8>>),
    Write(Writer, Arc<Vec<Vec<u8>>>),
    HashOut(Hasher<Vec<Sha256>>, Arc<Vec<Vec<u8>>>),
}

/// What a task gives back.
enum Done {
    Read(Reader, Vec<u8>, io::Result<bool>),
    HashIn(Hasher<Sha256>),
    Convert(usize, Vec<Vec<u8>>, Option<Counts>),
    Write(Writer, Result<(), String>),
    HashOut(Hasher<Vec<Sha256>>),
}

struct State {
    /// Each role is `None` while a thread holds it.
    reader: Option<Reader>,
    hash_in: Option<Hasher<Sha256>>,
    writer: Option<Writer>,
    hash_out: Option<Hasher<Vec<Sha256>>>,
    reading_done: bool,
    /// The next block to convert: blocks are taken in order.
    next_convert: usize,
    /// Blocks read and not yet through every stage.
    slots: BTreeMap<usize, Slot>,
    counts: Counts,
    free_inputs: Vec<Vec<u8>>,
    free_outputs: Vec<Vec<Vec<u8>>>,
    stop: Option<Stop>,
}

struct Pipe<'a> {
    job: &'a Large<'a>,
    state: Mutex<State>,
    changed: Condvar,
    /// Blocks in flight at most: slack so that every thread finds work
    /// while the chains run. On 2 threads anything from 4 to 16 measured
    /// the same within noise; the peak stays near 25 MiB.
    limit: usize,
}

/// Converts `job` on the threads of the current rayon pool.
pub fn convert_large(job: &Large<'_>) -> Outcome {
    let input = match File::open(job.path) {
        Ok(f) => f,
        Err(e) => return Outcome::Failed(format!("{}: {e}", job.path.display())),
    };
    let mut files = Vec::new();
    for path in job.outputs {
        match AtomicFile::create(path, job.force) {
            Ok(f) => files.push(f),
            Err(e) => return Outcome::Failed(format!("{}: {e}", path.display())),
        }
    }
    let n = job.formats.len();
    let threads = rayon::current_num_threads();
    let pipe = Pipe {
        job,
        state: Mutex::new(State {
            reader: Some(Reader {
                blocks: RecordBlocks::new(input, BLOCK, MAX_RECORD),
                next: 0,
                format: job.format,
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
            reading_done: false,
            next_convert: 0,
            slots: BTreeMap::new(),
            counts: Counts::default(),
            free_inputs: Vec::new(),
            free_outputs: Vec::new(),
            stop: None,
        }),
        changed: Condvar::new(),
        limit: 4 * threads + 8,
    };
    rayon::scope(|s| {
        for _ in 0..threads {
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
    let unfinished =
        || Outcome::Failed(format!("{}: conversion did not finish", job.path.display()));
    let (Some(reader), Some(hash_in), Some(writer), Some(hash_out)) =
        (state.reader, state.hash_in, state.writer, state.hash_out)
    else {
        return unfinished();
    };
    if !state.reading_done || !state.slots.is_empty() || writer.next != reader.next {
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
        by_type: state.counts.into_map(),
        outputs,
    }
}

impl Pipe<'_> {
    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Takes work until there is none left, waiting while all of it is
    /// held by other threads.
    fn work(&self) {
        let mut st = self.lock();
        loop {
            if st.stop.is_some() || (st.reading_done && st.slots.is_empty()) {
                self.changed.notify_all();
                return;
            }
            match self.take(&mut st) {
                Some(task) => {
                    drop(st);
                    let done = self.run(task);
                    st = self.lock();
                    self.finish(&mut st, done);
                    self.changed.notify_all();
                }
                // Taking work can stop the pipeline (Ctrl-C): no waiting then.
                None if st.stop.is_some() => {}
                None => st = self.changed.wait(st).unwrap_or_else(|e| e.into_inner()),
            }
        }
    }

    /// The most urgent work available: the chains nearest the end first, so
    /// that blocks leave and memory is recycled, then reading, then
    /// converting.
    fn take(&self, st: &mut State) -> Option<Task> {
        let converted = |st: &State, k: usize| st.slots.get(&k).and_then(|s| s.outputs.clone());
        if let Some(k) = st.writer.as_ref().map(|w| w.next) {
            if let Some(outputs) = converted(st, k) {
                return st.writer.take().map(|w| Task::Write(w, outputs));
            }
        }
        if let Some(k) = st.hash_out.as_ref().map(|h| h.next) {
            if let Some(outputs) = converted(st, k) {
                return st.hash_out.take().map(|h| Task::HashOut(h, outputs));
            }
        }
        if let Some(k) = st.hash_in.as_ref().map(|h| h.next) {
            if let Some(input) = st.slots.get(&k).map(|s| s.input.clone()) {
                return st.hash_in.take().map(|h| Task::HashIn(h, input));
            }
        }
        if !st.reading_done && st.slots.len() < self.limit && st.reader.is_some() {
            if (self.job.interrupted)() {
                st.stop.get_or_insert(Stop::Interrupted);
                return None;
            }
            let block = st.free_inputs.pop().unwrap_or_default();
            return st.reader.take().map(|r| Task::Read(r, block));
        }
        let k = st.next_convert;
        if let Some(slot) = st.slots.get(&k) {
            let (input, format) = (slot.input.clone(), slot.format);
            st.next_convert += 1;
            let outputs = st
                .free_outputs
                .pop()
                .unwrap_or_else(|| vec![Vec::new(); self.job.formats.len()]);
            return Some(Task::Convert(k, input, format, outputs));
        }
        None
    }

    /// Does a task, unlocked.
    fn run(&self, task: Task) -> Done {
        match task {
            Task::Read(mut reader, mut block) => {
                let got = reader.blocks.next_block(&mut block);
                if let Ok(true) = got {
                    (self.job.progress)(block.len() as u64);
                    if reader.format.is_none() {
                        reader.format = Format::detect(&block[..block.len().min(1 << 16)]);
                    }
                }
                Done::Read(reader, block, got)
            }
            Task::HashIn(mut h, input) => {
                h.hash.update(&input[..]);
                Done::HashIn(h)
            }
            Task::Convert(k, input, format, mut outputs) => {
                let mut counts = Counts::default();
                let ok = convert_block(self.job, &input, k == 0, format, &mut outputs, &mut counts);
                Done::Convert(k, outputs, ok.then_some(counts))
            }
            Task::Write(mut w, outputs) => {
                let mut result = Ok(());
                for (i, out) in outputs.iter().enumerate() {
                    // Modest writes: one huge write() makes the kernel
                    // throttle dirty pages.
                    let mut file = w.files[i].file();
                    if let Err(e) = out.chunks(1 << 20).try_for_each(|c| file.write_all(c)) {
                        result = Err(format!("{}: {e}", self.job.outputs[i].display()));
                        break;
                    }
                    w.lens[i] += out.len() as u64;
                }
                Done::Write(w, result)
            }
            Task::HashOut(mut h, outputs) => {
                for (hash, out) in h.hash.iter_mut().zip(outputs.iter()) {
                    hash.update(out);
                }
                Done::HashOut(h)
            }
        }
    }

    /// Records what a task did, under the lock.
    fn finish(&self, st: &mut State, done: Done) {
        let k = match done {
            Done::Read(mut reader, block, got) => {
                match got {
                    Ok(true) => match reader.format {
                        Some(format) => {
                            st.slots.insert(
                                reader.next,
                                Slot {
                                    input: Arc::new(block),
                                    format,
                                    outputs: None,
                                    hashed_in: false,
                                    written: false,
                                    hashed_out: false,
                                },
                            );
                            reader.next += 1;
                        }
                        // A log whose layout cannot be told from its start.
                        None => {
                            st.stop.get_or_insert(Stop::Careful);
                        }
                    },
                    Ok(false) => st.reading_done = true,
                    // A record too long for a block.
                    Err(e) if e.kind() == io::ErrorKind::InvalidData => {
                        st.stop.get_or_insert(Stop::Careful);
                    }
                    Err(e) => {
                        let m = format!("{}: {e}", self.job.path.display());
                        st.stop.get_or_insert(Stop::Failed(m));
                    }
                }
                st.reader = Some(reader);
                return;
            }
            Done::HashIn(mut h) => {
                let k = h.next;
                h.next += 1;
                st.hash_in = Some(h);
                if let Some(slot) = st.slots.get_mut(&k) {
                    slot.hashed_in = true;
                }
                k
            }
            Done::Convert(k, outputs, counts) => {
                let Some(mut counts) = counts else {
                    st.stop.get_or_insert(Stop::Careful);
                    return;
                };
                st.counts.merge(&mut counts);
                if let Some(slot) = st.slots.get_mut(&k) {
                    slot.outputs = Some(Arc::new(outputs));
                }
                return;
            }
            Done::Write(mut w, result) => {
                let k = w.next;
                w.next += 1;
                st.writer = Some(w);
                if let Err(m) = result {
                    st.stop.get_or_insert(Stop::Failed(m));
                    return;
                }
                if let Some(slot) = st.slots.get_mut(&k) {
                    slot.written = true;
                }
                k
            }
            Done::HashOut(mut h) => {
                let k = h.next;
                h.next += 1;
                st.hash_out = Some(h);
                if let Some(slot) = st.slots.get_mut(&k) {
                    slot.hashed_out = true;
                }
                k
            }
        };
        // A block through every stage leaves; its buffers are reused.
        if st
            .slots
            .get(&k)
            .is_some_and(|s| s.hashed_in && s.written && s.hashed_out)
        {
            if let Some(slot) = st.slots.remove(&k) {
                if let Ok(mut input) = Arc::try_unwrap(slot.input) {
                    input.clear();
                    st.free_inputs.push(input);
                }
                if let Some(Ok(mut outputs)) = slot.outputs.map(Arc::try_unwrap) {
                    outputs.iter_mut().for_each(Vec::clear);
                    st.free_outputs.push(outputs);
                }
            }
        }
    }
}

/// Converts one block into `outputs` (one per format). False when the
/// block needs the careful path.
fn convert_block(
    job: &Large<'_>,
    block: &[u8],
    first: bool,
    format: Format,
    outputs: &mut [Vec<u8>],
    counts: &mut Counts,
) -> bool {
    let mut encoders: Vec<_> = job.formats.iter().map(|f| f.event_encoder(first)).collect();
    let mut payload = Vec::new();
    for record in SliceReader::with_format(block, Some(format)) {
        let Ok(ev) = record else {
            return false;
        };
        if ev.channel_id().is_some_and(|id| id != job.channel_id) {
            return false;
        }
        if ev.decode_payload(&mut payload).is_err() {
            return false;
        }
        counts.add(&ev.kind);
        if !job.filter.matches(&ev.kind) {
            continue;
        }
        for (enc, out) in encoders.iter_mut().zip(outputs.iter_mut()) {
            if enc.event(out, &ev, &payload).is_err() {
                return false;
            }
        }
    }
    true
}
