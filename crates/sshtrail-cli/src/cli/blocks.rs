//! One large log read on every thread: cut into blocks of whole records
//! ([`sshtrail::format::RecordBlocks`], the cut the batch pipeline uses),
//! each block decoded on whichever thread read it, and the results taken
//! in the log's order, so that what the caller writes is what one pass
//! over the log writes.
//!
//! Every thread of the pool loops: read the next block, work on it, hand
//! the result over. Where a block ends is found one thread at a time, by
//! reading only the lines around the cut ([`sshtrail::format::RecordCuts`]);
//! the block itself is read by its thread, alongside the others. The first
//! block (which tells the layout) and the end of the log (which may still
//! grow) are read one thread at a time, as a stream. The calling thread takes the
//! results in order (it holds what cannot move between threads, such as
//! the locked standard output). Memory stays bounded: at most two blocks a
//! thread are read and not yet taken.
//!
//! A block's lines count from its own start, so that no thread waits for
//! the line ends before its block to be counted: the taker, which knows
//! them, hands each result over with the number of lines before its block.

use std::collections::BTreeMap;
use std::fs::File;
use std::io::{self, Seek, SeekFrom};
use std::path::Path;
use std::sync::{Condvar, Mutex, MutexGuard};

use sshtrail::archive::FileStream;
use sshtrail::compression::Compression;
use sshtrail::format::{
    read_exact_at, Cut, ReaderState, RecordBlocks, RecordCuts, DEFAULT_MAX_RECORD,
};
use sshtrail::Format;

/// The size a block aims at: a block and its output stay in the core's
/// cache (the batch pipeline measured 256 KiB and 1 MiB alike).
pub const BLOCK: usize = 1 << 20;

/// A log smaller than this is read in one pass: the threads would have
/// too few blocks to share.
pub const SPLIT_AT: u64 = 4 * BLOCK as u64;

/// One block, as the work function gets it.
pub struct Block<'a> {
    /// Whole records, in the log's order.
    pub bytes: &'a [u8],
    /// Where a reader of the whole log is at the block's start: the layout
    /// (lines count from the block's first).
    pub start: ReaderState,
}

/// Whether to go on after a block's result was taken.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Flow {
    Continue,
    Stop,
}

/// How the blocks ended.
pub enum End {
    /// Every block was taken. The state is the one at the end of the log,
    /// before the verdict on the whole input ([`ReaderState::judge_end`]).
    Done(ReaderState),
    /// The taker said stop.
    Stopped,
    /// A record longer than a stream reader holds starts at byte `offset`:
    /// the blocks before it were taken, and the rest of the log is for a
    /// stream reader that goes on from `state`, which reports the record as
    /// one pass does.
    Rest { offset: u64, state: ReaderState },
}

/// How to cut the log.
#[derive(Debug, Clone, Copy)]
pub struct Split {
    /// Threads (at least 2; one thread is the single pass).
    pub threads: usize,
    /// The size a block aims at.
    pub block: usize,
    /// The smallest log that is split.
    pub min_size: u64,
    /// The longest record a block holds: from a longer one on, the log is
    /// read by a stream reader (which holds as much, and reports a record
    /// longer than that as one pass does).
    pub max_record: usize,
}

impl Split {
    /// `threads` threads (`None`: one a core) and blocks of `block` bytes
    /// (`None`: [`BLOCK`], and logs under [`SPLIT_AT`] are not split; a
    /// block size given splits every log, for tests).
    pub fn new(threads: Option<usize>, block: Option<usize>) -> Self {
        let threads = threads
            .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()))
            .max(1);
        Split {
            threads,
            block: block.unwrap_or(BLOCK).max(1),
            min_size: if block.is_some() { 0 } else { SPLIT_AT },
            max_record: DEFAULT_MAX_RECORD,
        }
    }

    /// The open file and its size when `path` is a log to split: a regular
    /// file (not standard input, not compressed) of at least the size to
    /// split, and more than one thread.
    pub fn log_to_split(&self, path: &str) -> Option<(File, u64)> {
        if self.threads < 2 || path == "-" {
            return None;
        }
        // Looked at before it is opened: opening a FIFO whose writer is
        // gone would wait for another one.
        let meta = std::fs::metadata(Path::new(path)).ok()?;
        if !meta.is_file() || meta.len() < self.min_size.max(1) {
            return None;
        }
        let mut file = File::open(Path::new(path)).ok()?;
        // Replaced by something else meanwhile: read as it is.
        let meta = file.metadata().ok()?;
        if !meta.is_file() || meta.len() < self.min_size.max(1) {
            return None;
        }
        let mut head = [0u8; 4];
        let n = io::Read::read(&mut file, &mut head).ok()?;
        if Compression::detect(&head[..n]).is_some() {
            return None;
        }
        file.seek(SeekFrom::Start(0)).ok()?;
        Some((file, meta.len()))
    }
}

/// The reading side: one thread at a time.
struct Reading {
    /// Where the next blocks end, read around the cuts only.
    cuts: RecordCuts,
    /// The first block, and the rest of the log from where the cuts gave
    /// over, read as a stream; `base` is where it starts in the log.
    stream: Option<(RecordBlocks<FileStream>, u64)>,
    /// The file's size when it was opened.
    len: u64,
    split: Split,
    /// The index the next block gets.
    next: usize,
    /// The layout at the next block's start.
    format: Option<Format>,
    done: bool,
}

/// What a thread made of a block, or why reading stopped there.
enum Made<R> {
    Block {
        result: R,
        start: ReaderState,
        ended: ReaderState,
        /// The last block keeps its bytes: it may be read again.
        last: Option<Vec<u8>>,
    },
    /// A record too long for a block starts at this offset.
    TooLong {
        offset: u64,
    },
    Failed(io::Error),
    /// The log ended before this block.
    End,
}

/// Results waiting for their turn, and how far the taker is.
struct Ready<R> {
    made: BTreeMap<usize, Made<R>>,
    /// Blocks taken.
    taken: usize,
    /// Nothing more is read (the taker stopped or the blocks ended).
    stopped: bool,
}

/// Reads the log `file` of `len` bytes in blocks on `split.threads`
/// threads: `work` turns each block into a result and the state its reader
/// ended in, and `take`, on the calling thread, gets the results in the
/// log's order with the number of lines before each block (add it to the
/// block's line numbers). At most two blocks a thread are read and not yet taken.
///
/// Errors are reading errors (after the blocks before them were taken) and
/// a thread pool that cannot be built.
pub fn for_each_block<R, W, T>(
    file: File,
    len: u64,
    format: Option<Format>,
    split: Split,
    work: W,
    mut take: T,
) -> io::Result<End>
where
    R: Send,
    W: Fn(&Block<'_>) -> (R, ReaderState) + Sync,
    T: FnMut(R, u64) -> Flow,
{
    let reading = Mutex::new(Reading {
        cuts: RecordCuts::new(len, split.block, split.max_record),
        stream: None,
        len,
        split,
        next: 0,
        format,
        done: false,
    });
    let ready = Mutex::new(Ready {
        made: BTreeMap::new(),
        taken: 0,
        stopped: false,
    });
    let changed = Condvar::new();
    let in_flight = 2 * split.threads;
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(split.threads)
        .build()
        .map_err(io::Error::other)?;
    let worker = || {
        let mut bytes = Vec::new();
        loop {
            // Wait for room: the taker is not more than `in_flight` behind.
            {
                let mut g = lock(&ready);
                loop {
                    if g.stopped {
                        return;
                    }
                    if lock(&reading).next < g.taken + in_flight {
                        break;
                    }
                    g = changed.wait(g).unwrap_or_else(|e| e.into_inner());
                }
            }
            let (index, made) = match read(&reading, &file, &mut bytes) {
                None => return,
                Some((index, Ok((start, last)))) => {
                    // A thread that panics must not leave the taker
                    // waiting for its block.
                    let worked = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                        work(&Block {
                            bytes: &bytes,
                            start,
                        })
                    }));
                    let Ok((result, ended)) = worked else {
                        lock(&ready)
                            .made
                            .insert(index, Made::Failed(io::Error::other("a thread failed")));
                        changed.notify_all();
                        return;
                    };
                    let last = last.then(|| std::mem::take(&mut bytes));
                    let made = Made::Block {
                        result,
                        start,
                        ended,
                        last,
                    };
                    (index, made)
                }
                Some((index, Err(made))) => (index, made),
            };
            lock(&ready).made.insert(index, made);
            changed.notify_all();
        }
    };
    pool.in_place_scope(|s| {
        for _ in 0..split.threads {
            s.spawn(|_| worker());
        }
        let end = take_in_order(&ready, &changed, &work, &mut take, format);
        lock(&ready).stopped = true;
        changed.notify_all();
        end
    })
}

/// Takes the blocks' results in order on the calling thread.
fn take_in_order<R, W, T>(
    ready: &Mutex<Ready<R>>,
    changed: &Condvar,
    work: &W,
    take: &mut T,
    format: Option<Format>,
) -> io::Result<End>
where
    W: Fn(&Block<'_>) -> (R, ReaderState) + Sync,
    T: FnMut(R, u64) -> Flow,
{
    let mut state = ReaderState::start(format);
    loop {
        let made = {
            let mut g = lock(ready);
            loop {
                let next = g.taken;
                if let Some(made) = g.made.remove(&next) {
                    g.taken += 1;
                    break made;
                }
                g = changed.wait(g).unwrap_or_else(|e| e.into_inner());
            }
        };
        changed.notify_all();
        match made {
            Made::Block {
                result,
                start,
                ended,
                last,
            } => {
                // Only the whole log tells whether its last record, shaped
                // like a dump header, is a dump cut off: the last block is
                // read again knowing that an earlier one held a dump.
                let (result, ended) = match &last {
                    Some(bytes) if state.seen_dump() && !ended.seen_dump() => work(&Block {
                        bytes,
                        start: start.with_seen_dump(true),
                    }),
                    _ => (result, ended),
                };
                let before = state.line() - 1;
                state = state.then(&ended);
                if take(result, before) == Flow::Stop {
                    return Ok(End::Stopped);
                }
                if last.is_some() {
                    return Ok(End::Done(state));
                }
            }
            Made::TooLong { offset } => return Ok(End::Rest { offset, state }),
            Made::Failed(e) => return Err(e),
            Made::End => return Ok(End::Done(state)),
        }
    }
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// Reads the next block into `bytes`: its index, and its start state and
/// whether it is the last, or why there is none. `None` at the end.
#[allow(clippy::type_complexity)]
fn read<R>(
    reading: &Mutex<Reading>,
    file: &File,
    bytes: &mut Vec<u8>,
) -> Option<(usize, Result<(ReaderState, bool), Made<R>>)> {
    let mut r = lock(reading);
    if r.done {
        return None;
    }
    let index = r.next;
    r.next += 1;
    // Once the layout is known, a range of whole records is cut here and
    // read outside the lock.
    if r.stream.is_none() && r.format.is_some() {
        match r.cuts.next_cut(file) {
            Ok(Cut::Range { start, end }) => {
                let state = ReaderState::block(r.format);
                let len = r.len;
                drop(r);
                // A range is at most twice the longest record.
                bytes.resize((end - start) as usize, 0);
                return match read_exact_at(file, bytes, start, len) {
                    Ok(()) => Some((index, Ok((state, false)))),
                    Err(error) => {
                        lock(reading).done = true;
                        Some((index, Err(Made::Failed(error))))
                    }
                };
            }
            Ok(Cut::TooLong { offset }) => {
                r.done = true;
                return Some((index, Err(Made::TooLong { offset })));
            }
            Ok(Cut::Rest { start }) => match opened_at(file, start) {
                Ok(f) => {
                    let rest = FileStream::resumed(f, r.len, start);
                    r.stream = Some((
                        RecordBlocks::new(rest, r.split.block, r.split.max_record),
                        start,
                    ));
                }
                Err(error) => {
                    r.done = true;
                    return Some((index, Err(Made::Failed(error))));
                }
            },
            Err(error) => {
                r.done = true;
                return Some((index, Err(Made::Failed(error))));
            }
        }
    }
    read_stream(&mut r, file, index, bytes)
}

/// `file` again, read from byte `offset` on (the stream parts of the log).
fn opened_at(file: &File, offset: u64) -> io::Result<File> {
    let mut f = file.try_clone()?;
    f.seek(SeekFrom::Start(offset))?;
    Ok(f)
}

/// Reads the next block of the stream part of the log under the lock: the
/// first block, or the rest.
#[allow(clippy::type_complexity)]
fn read_stream<R>(
    r: &mut Reading,
    file: &File,
    index: usize,
    bytes: &mut Vec<u8>,
) -> Option<(usize, Result<(ReaderState, bool), Made<R>>)> {
    if r.stream.is_none() {
        // The first block: read from the start of the log.
        match opened_at(file, 0) {
            Ok(f) => {
                r.stream = Some((
                    RecordBlocks::new(FileStream::new(f, r.len), r.split.block, r.split.max_record),
                    0,
                ))
            }
            Err(error) => {
                r.done = true;
                return Some((index, Err(Made::Failed(error))));
            }
        }
    }
    let format = r.format;
    let (blocks, base) = r.stream.as_mut()?;
    let base = *base;
    match blocks.next_block(bytes) {
        Ok(true) => {
            let start = ReaderState::block(format);
            let last = blocks.is_done();
            let read_to = base + blocks.offset();
            if format.is_none() {
                r.format = ReaderState::detect_format(bytes);
                // The layout is known: the blocks after this one are cut
                // from where this one ended.
                if r.format.is_some() && !last {
                    r.cuts.skip_to(read_to);
                    r.stream = None;
                }
            }
            r.done = last;
            Some((index, Ok((start, last))))
        }
        Ok(false) => {
            r.done = true;
            Some((index, Err(Made::End)))
        }
        Err(error) => {
            r.done = true;
            let made = if error.kind() == io::ErrorKind::InvalidData {
                Made::TooLong {
                    offset: base + blocks.offset(),
                }
            } else {
                Made::Failed(error)
            };
            Some((index, Err(made)))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use sshtrail::{Record, SliceReader, StreamReader};

    /// A record as its line number and what it says.
    fn show(r: Record<'_>, payload: &mut Vec<u8>) -> (u64, String) {
        match r {
            Ok(e) => match e.decode_payload(payload) {
                Ok(()) => (e.line, format!("{} {} {:?}", e.kind, e.ts, payload)),
                Err(e) => (e.line, format!("{}: {}", e.column, e.kind)),
            },
            Err(e) => (
                e.line,
                format!("{}: {}: {}", e.column, e.severity.name(), e.kind),
            ),
        }
    }

    /// What one pass says of `log`.
    fn whole(log: &[u8], format: Option<Format>) -> Vec<(u64, String)> {
        let mut out = Vec::new();
        let mut payload = Vec::new();
        StreamReader::with_format(log, format)
            .for_each(|r| -> io::Result<()> {
                out.push(show(r, &mut payload));
                Ok(())
            })
            .unwrap();
        out
    }

    /// What the blocks say of the log at `path`.
    fn split_of(path: &Path, format: Option<Format>, split: Split) -> Vec<(u64, String)> {
        let file = File::open(path).unwrap();
        let len = file.metadata().unwrap().len();
        let mut out = Vec::new();
        let end = for_each_block(
            file,
            len,
            format,
            split,
            |block| {
                let mut payload = Vec::new();
                let mut reader = SliceReader::with_state(block.bytes, block.start);
                let said: Vec<_> = reader.by_ref().map(|r| show(r, &mut payload)).collect();
                (said, reader.state())
            },
            |said, before| {
                out.extend(said.into_iter().map(|(line, s)| (before + line, s)));
                Flow::Continue
            },
        )
        .unwrap();
        let mut payload = Vec::new();
        match end {
            End::Done(mut state) => {
                out.extend(state.judge_end().map(|e| show(Err(e), &mut payload)))
            }
            End::Rest { offset, state } => {
                let mut file = File::open(path).unwrap();
                file.seek(SeekFrom::Start(offset)).unwrap();
                StreamReader::with_state(FileStream::new(file, len - offset), state)
                    .for_each(|r| -> io::Result<()> {
                        out.push(show(r, &mut payload));
                        Ok(())
                    })
                    .unwrap();
            }
            End::Stopped => panic!("never stopped"),
        }
        out
    }

    /// Small logs with what only the whole log tells: bad lines, blank and
    /// comment lines, a cut-off last line, dumps and a last header with no
    /// dump, a log of no event at all.
    fn logs() -> Vec<(&'static str, Vec<u8>)> {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../testdata");
        let read = |name: &str| std::fs::read(root.join(name)).unwrap();
        let jsonl = "{\"type\":\"stdin\",\"ts\":\"2023-06-07T17:32:29Z\",\"data\":\"bA==\"}\n";
        let mut bad = String::new();
        for i in 0..12 {
            bad.push_str(jsonl);
            match i {
                3 => bad.push_str("{\"type\":\"stdout\",\"ts\":\"2023-06-07T17:32:2Z\"}\n"),
                5 => bad.push_str("\n  \r\n"),
                7 => bad.push_str(
                    "{\"type\":\"x-note\",\"ts\":\"2023-06-07T17:32:31Z\",\"who\":\"a\"}\n",
                ),
                9 => bad.push_str(
                    "{\"type\":\"stdout\",\"data\":\"@@\",\"ts\":\"2023-06-07T17:32:30Z\"}\n",
                ),
                _ => {}
            }
        }
        bad.push_str("{\"type\":\"stdout\",\"ts\":\"2023-06");
        let mut dumps = read("session.hexdump");
        dumps.extend_from_slice(b"2023-06-07T17:40:00Z stdout 12\n");
        let mut dumps_then_lines = read("session.hexdump");
        dumps_then_lines.extend_from_slice(&read("session.hex")[..600]);
        dumps_then_lines.extend_from_slice(b"\n2023-06-07T17:40:00Z stdout 12\n");
        let mut hex = b"# a comment\n\n".to_vec();
        hex.extend_from_slice(&read("session.hex")[..1500]);
        vec![
            ("bad lines", bad.into_bytes()),
            ("dumps, a header last", dumps),
            ("dumps, then lines, a header last", dumps_then_lines),
            ("hex, cut", hex),
            ("no event", b"hello world\nnot a log\n\nat all".to_vec()),
        ]
    }

    /// Every block size, from one byte to the whole log, cuts the log
    /// somewhere else; the records, lines and problems are those of one
    /// pass.
    #[test]
    fn every_cut_reads_as_one_pass() {
        let dir = tempfile::tempdir().unwrap();
        for (name, log) in logs() {
            let path = dir.path().join("log");
            std::fs::write(&path, &log).unwrap();
            let format = None;
            let one = whole(&log, format);
            assert!(one.len() > 2, "{name}");
            for block in 1..=log.len() + 1 {
                // Three threads take the blocks in other orders.
                let threads = if block % 7 == 0 { 3 } else { 2 };
                let split = Split {
                    threads,
                    block,
                    min_size: 0,
                    max_record: DEFAULT_MAX_RECORD,
                };
                assert_eq!(
                    split_of(&path, format, split),
                    one,
                    "{name}, blocks of {block}"
                );
            }
        }
    }

    /// From a record longer than a block may hold, a stream reader reads
    /// the rest, as one pass.
    #[test]
    fn a_long_record_hands_the_rest_to_a_stream_reader() {
        let dir = tempfile::tempdir().unwrap();
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../testdata");
        let log = std::fs::read(root.join("session.jsonl")).unwrap();
        let path = dir.path().join("log");
        std::fs::write(&path, &log).unwrap();
        let one = whole(&log, None);
        for max_record in [64, 300, 4096] {
            let split = Split {
                threads: 2,
                block: 100,
                min_size: 0,
                max_record,
            };
            assert_eq!(
                split_of(&path, None, split),
                one,
                "records up to {max_record}"
            );
        }
    }
}
