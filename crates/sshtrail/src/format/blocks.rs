//! Cutting a log into blocks of whole records, so that the blocks can be
//! parsed on several threads and their outputs joined in order.

use std::fs::File;
use std::io::{self, Read};
use std::os::unix::fs::FileExt;

use super::{is_blank, trim_start, Format, Parser, SliceReader, StreamReader};
use crate::codec::hex::is_dump_line;
use crate::error::{ParseError, ParseErrorKind};

/// The offset at which `buf`, the start of a longer log, can be cut so that
/// every record before the cut is whole: the start of the last line that is
/// known to begin a record. `None` when there is no such line after the
/// first byte.
///
/// A line begins a record in every layout unless it is a `hexdump -C` line
/// (8 hex digits and two spaces), which continues the record above it. The
/// line at the cut must be whole or at least 10 bytes long to tell. No cut
/// follows a line shaped like a dump header (`TS TYPE LENGTH`, a decimal
/// third field): at the end of a block it would read as a dump cut off,
/// which only the end of the log can be.
///
/// ```
/// use sshtrail::format::record_boundary;
/// let log = b"{\"type\":\"stdin\"}\n{\"type\":\"stdout\"}\n{\"type\":\"std";
/// assert_eq!(record_boundary(log), Some(35));
/// let dump = b"2023-06-07T17:32:29Z stdout 3\n00000000  6c 73 0d  |ls.|\n0000000";
/// assert_eq!(record_boundary(dump), None);
/// ```
pub fn record_boundary(buf: &[u8]) -> Option<usize> {
    let mut end = buf.len();
    while let Some(nl) = memchr::memrchr(b'\n', &buf[..end]) {
        let start = nl + 1;
        let line = &buf[start..];
        let line = memchr::memchr(b'\n', line).map_or(line, |n| &line[..n]);
        let whole = start + line.len() < buf.len();
        if (whole || line.len() >= 10) && !is_dump_line(line) {
            let before = &buf[..nl];
            let prev = memchr::memrchr(b'\n', before).map_or(before, |p| &before[p + 1..]);
            if !header_shaped(prev) {
                return Some(start);
            }
        }
        end = nl;
    }
    None
}

/// Whether `line` reads like a dump header: three fields, the third all
/// decimal digits.
fn header_shaped(line: &[u8]) -> bool {
    let line = line.strip_suffix(b"\r").unwrap_or(line);
    let mut fields = line
        .split(|&c| c == b' ' || c == b'\t')
        .filter(|f| !f.is_empty());
    let (Some(_), Some(_), Some(third), None) =
        (fields.next(), fields.next(), fields.next(), fields.next())
    else {
        return false;
    };
    third.iter().all(u8::is_ascii_digit)
}

/// Reads a log in blocks of whole records, each at least `target` bytes
/// (except the last), into buffers the caller reuses.
///
/// Every byte of the input lands in exactly one block, in order, so hashing
/// the blocks in order hashes the input. A record longer than `max` bytes is
/// an error (`InvalidData`) rather than a block without end.
///
/// ```
/// use sshtrail::format::RecordBlocks;
/// let log = "{\"type\":\"stdin\"}\n".repeat(1000);
/// let mut blocks = RecordBlocks::new(log.as_bytes(), 4096, 1 << 20);
/// let (mut block, mut joined, mut count) = (Vec::new(), Vec::new(), 0);
/// while blocks.next_block(&mut block).unwrap() {
///     assert!(block.ends_with(b"}\n"), "whole records only");
///     joined.extend_from_slice(&block);
///     count += 1;
/// }
/// assert_eq!(joined, log.as_bytes());
/// assert!(count > 1);
/// ```
pub struct RecordBlocks<R> {
    inner: R,
    /// Bytes read past the last cut: the start of the next block.
    carry: Vec<u8>,
    eof: bool,
    target: usize,
    max: usize,
    offset: u64,
}

impl<R: Read> RecordBlocks<R> {
    /// Blocks of about `target` bytes; records up to `max` bytes.
    pub fn new(inner: R, target: usize, max: usize) -> Self {
        RecordBlocks {
            inner,
            carry: Vec::new(),
            eof: false,
            target: target.max(1),
            max: max.max(1),
            offset: 0,
        }
    }

    /// The input offset of the next block's first byte.
    pub fn offset(&self) -> u64 {
        self.offset
    }

    /// Whether the input is exhausted: the block just read was the last.
    pub fn is_done(&self) -> bool {
        self.eof && self.carry.is_empty()
    }

    /// Fills `block` (whatever it held is replaced) with the next records.
    /// `Ok(false)` when the input is exhausted and `block` is empty.
    pub fn next_block(&mut self, block: &mut Vec<u8>) -> io::Result<bool> {
        // The buffer is read into in place, past the bytes carried over:
        // growing it to the size wanted then zeroes only what it did not
        // hold last time (zeroing a whole block again each time was 5% of
        // a 2-thread `cat`).
        let mut filled = self.carry.len();
        if block.len() < filled {
            block.resize(filled, 0);
        }
        block[..filled].copy_from_slice(&self.carry);
        self.carry.clear();
        let mut want = self.target;
        loop {
            while !self.eof && filled < want {
                if block.len() < want {
                    block.resize(want, 0);
                }
                match self.inner.read(&mut block[filled..want]) {
                    Ok(0) => self.eof = true,
                    Ok(n) => filled += n,
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                    Err(e) => {
                        block.truncate(filled);
                        return Err(e);
                    }
                }
            }
            if self.eof {
                block.truncate(filled);
                self.offset += filled as u64;
                return Ok(filled > 0);
            }
            if let Some(cut) = record_boundary(&block[..filled]) {
                self.carry.extend_from_slice(&block[cut..filled]);
                block.truncate(cut);
                self.offset += cut as u64;
                return Ok(true);
            }
            if filled > self.max {
                block.truncate(filled);
                return Err(io::Error::new(
                    io::ErrorKind::InvalidData,
                    format!(
                        "a record at byte {} is longer than {} bytes",
                        self.offset, self.max
                    ),
                ));
            }
            // No record starts after the first one yet: read twice as much.
            want = filled.saturating_mul(2);
        }
    }
}

/// Where [`RecordCuts`] cut next.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cut {
    /// Whole records from byte `start` up to `end` (exclusive).
    Range {
        /// The first byte.
        start: u64,
        /// The byte after the last.
        end: u64,
    },
    /// Too near the end of the file, as it was opened, for a whole block:
    /// the rest, from byte `start`, is to be read as a stream (it may have
    /// grown since).
    Rest {
        /// The first byte of the rest.
        start: u64,
    },
    /// A record from byte `offset` is longer than the longest one allowed.
    TooLong {
        /// Where the record starts.
        offset: u64,
    },
}

/// Cuts a file into ranges of whole records, reading only the bytes around
/// each cut (with `pread`), so that the ranges themselves can be read by
/// several threads at once: with [`RecordBlocks`], one reader at a time
/// copies every byte, and that copy was a quarter of a 2-thread `stats`.
///
/// The cuts are those [`RecordBlocks`] makes with the same `target` and
/// `max`, up to the rest: a block is the bytes up to the last record start
/// in the `target` bytes from its start, or in what the previous block read
/// past its cut if that is more (twice as many while there is none), found
/// by [`record_boundary`] on a window of the block's end that grows until
/// the answer cannot depend on what lies before it.
///
/// ```
/// use sshtrail::format::{Cut, RecordCuts};
/// use std::io::Write;
/// let log = "{\"type\":\"stdin\"}\n".repeat(1000);
/// let mut file = tempfile::tempfile().unwrap();
/// file.write_all(log.as_bytes()).unwrap();
/// let mut cuts = RecordCuts::new(log.len() as u64, 4096, 1 << 20);
/// let Cut::Range { start, end } = cuts.next_cut(&file).unwrap() else { panic!() };
/// assert_eq!((start, end % 17), (0, 0), "whole records only");
/// ```
#[derive(Debug)]
pub struct RecordCuts {
    /// The start of the next range.
    offset: u64,
    /// The file's size when it was opened.
    expected: u64,
    /// The end of the furthest window looked at.
    read_end: u64,
    target: u64,
    max: u64,
    window: Vec<u8>,
}

/// The first window looked at for a cut: the last lines of a block.
const CUT_WINDOW: u64 = 16 * 1024;

impl RecordCuts {
    /// Cuts of a file of `expected` bytes into blocks of about `target`
    /// bytes, with records of up to `max` bytes.
    pub fn new(expected: u64, target: usize, max: usize) -> Self {
        RecordCuts {
            offset: 0,
            expected,
            read_end: 0,
            target: target.max(1) as u64,
            max: max.max(1) as u64,
            window: Vec::new(),
        }
    }

    /// The start of the next range.
    pub fn offset(&self) -> u64 {
        self.offset
    }

    /// Goes on from byte `offset`, a record start (where a block read
    /// otherwise ended).
    pub fn skip_to(&mut self, offset: u64) {
        self.offset = offset;
        self.read_end = self.read_end.max(offset);
    }

    /// The next cut. A [`Cut::Range`] moves past its range; the other cuts
    /// are final (asking again gives them again).
    pub fn next_cut(&mut self, file: &File) -> io::Result<Cut> {
        let start = self.offset;
        // As far as a stream reader would have read: the bytes it carries
        // over from the block before are looked at too.
        let mut want = self.target.max(self.read_end - start);
        loop {
            if start.saturating_add(want) >= self.expected {
                return Ok(Cut::Rest { start });
            }
            let end = start + want;
            self.read_end = self.read_end.max(end);
            let mut window = CUT_WINDOW.min(want);
            loop {
                let from = end - window;
                self.window.resize(window as usize, 0);
                read_exact_at(file, &mut self.window, from, self.expected)?;
                let cut = record_boundary(&self.window);
                // A cut is certain when the line before it starts inside
                // the window (the line before is looked at too), or when
                // the window is the whole block.
                let certain = |c: usize| {
                    window == want || memchr::memrchr(b'\n', &self.window[..c - 1]).is_some()
                };
                match cut {
                    Some(c) if certain(c) => {
                        self.offset = from + c as u64;
                        return Ok(Cut::Range {
                            start,
                            end: self.offset,
                        });
                    }
                    _ if window == want => break,
                    _ => window = (window * 2).min(want),
                }
            }
            if want > self.max {
                return Ok(Cut::TooLong { offset: start });
            }
            want = want.saturating_mul(2);
        }
    }
}

/// Reads `buf.len()` bytes of `file` from `offset`; the file had `expected`
/// bytes when opened, and having fewer now is an error that says so.
pub fn read_exact_at(file: &File, buf: &mut [u8], offset: u64, expected: u64) -> io::Result<()> {
    let mut done = 0;
    while done < buf.len() {
        match file.read_at(&mut buf[done..], offset + done as u64) {
            Ok(0) => {
                return Err(io::Error::new(
                    io::ErrorKind::UnexpectedEof,
                    format!(
                        "the file shrank while it was read: it had {expected} bytes when opened, only {} could be read (truncated by another process?)",
                        offset + done as u64
                    ),
                ))
            }
            Ok(n) => done += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

/// What a reader knows at a point of a log: the layout, the line number and
/// what it has seen (a dump, an event, a problem). A block of whole records
/// ([`RecordBlocks`]) read from [`ReaderState::block`] gives the records a
/// reader of the whole log gives, provided the layout at the block's start
/// is known ([`ReaderState::detect_format`] of the blocks before it); its
/// line numbers count from the block's first line (add the lines before
/// it: `line() - 1` of the state before it), so that blocks can be read
/// before the ones ahead of them are counted. What was seen is joined
/// afterwards, in order, with [`ReaderState::then`].
///
/// Two things only the whole log can tell are left to the caller: whether
/// the log as a whole held no event ([`ReaderState::judge_end`], once, after
/// the last block), and whether the log's last record, shaped like a dump
/// header with no dump after it, is a dump cut off, which depends on whether
/// an earlier block held a dump (read the last block again from
/// [`ReaderState::with_seen_dump`] when [`ReaderState::seen_dump`] of the
/// blocks before it differs from its own).
///
/// ```
/// use sshtrail::format::{ReaderState, RecordBlocks};
/// use sshtrail::SliceReader;
/// let log = "{\"type\":\"stdin\",\"ts\":\"2023-06-07T17:32:29Z\"}\n".repeat(100);
/// let mut blocks = RecordBlocks::new(log.as_bytes(), 200, 1 << 20);
/// let (mut block, mut state, mut lines) = (Vec::new(), ReaderState::start(None), Vec::new());
/// while blocks.next_block(&mut block).unwrap() {
///     let start = ReaderState::block(state.format().or(ReaderState::detect_format(&block)));
///     let mut reader = SliceReader::with_state(&block, start);
///     let before = state.line() - 1;
///     lines.extend(reader.by_ref().map(|r| before + r.unwrap().line));
///     state = state.then(&reader.state());
/// }
/// assert_eq!(lines, (1..=100).collect::<Vec<u64>>());
/// assert_eq!(state.line(), 101);
/// ```
#[derive(Debug, Clone, Copy)]
pub struct ReaderState {
    parser: Parser,
}

impl ReaderState {
    /// The state at the start of a log of layout `format` (`None`: detected).
    pub fn start(format: Option<Format>) -> Self {
        ReaderState {
            parser: Parser::new(format),
        }
    }

    /// The state for reading one block of a log whose layout is `format`
    /// at the block's start: lines counted from the block's first, nothing
    /// seen yet, and no verdict on the whole input at the block's end.
    pub fn block(format: Option<Format>) -> Self {
        let mut parser = Parser::new(format);
        parser.judged = true;
        ReaderState { parser }
    }

    /// The same state, with a dump seen before it (or not).
    pub fn with_seen_dump(mut self, seen: bool) -> Self {
        self.parser.seen_dump = seen;
        self
    }

    /// The layout a reader at the start of `block` with no layout yet
    /// settles on: that of the first line that is neither blank nor a
    /// comment, as the readers detect it. `None` when there is no such line.
    pub fn detect_format(block: &[u8]) -> Option<Format> {
        let mut pos = 0;
        while let Some((line, next, _)) = crate::codec::line_at(block, pos, true) {
            if !(is_blank(line) || trim_start(line).first() == Some(&b'#')) {
                return Some(Format::detect(line).unwrap_or(Format::Hex));
            }
            pos = next;
        }
        None
    }

    /// The layout, once known.
    pub fn format(&self) -> Option<Format> {
        self.parser.format
    }

    /// The number of the line the reader is at.
    pub fn line(&self) -> u64 {
        self.parser.line
    }

    /// Whether a hex dump record was read.
    pub fn seen_dump(&self) -> bool {
        self.parser.seen_dump
    }

    /// Whether a valid event was read.
    pub fn seen_event(&self) -> bool {
        self.parser.seen_event
    }

    /// Whether a record that is not valid was read.
    pub fn seen_problem(&self) -> bool {
        self.parser.seen_problem
    }

    /// The state after this one and then `block`, the state a reader of the
    /// block that follows, started from [`ReaderState::block`], ended in.
    pub fn then(self, block: &ReaderState) -> Self {
        let mut parser = self.parser;
        parser.format = block.parser.format.or(parser.format);
        parser.line += block.parser.line.saturating_sub(1);
        parser.seen_dump |= block.parser.seen_dump;
        parser.seen_event |= block.parser.seen_event;
        parser.seen_problem |= block.parser.seen_problem;
        ReaderState { parser }
    }

    /// The verdict at the end of the input that a reader of the whole log
    /// gives once: lines were read and not one of them was an event, so
    /// the input is not a trail log.
    pub fn judge_end(&mut self) -> Option<ParseError> {
        let p = &mut self.parser;
        if p.seen_problem && !p.seen_event && !p.judged {
            p.judged = true;
            let last = p.line.saturating_sub(1).max(1);
            return Some(ParseError::new(last, 1, ParseErrorKind::NoEvent));
        }
        None
    }
}

impl<'a> SliceReader<'a> {
    /// A reader of `buf` that goes on from `state`: a block of a longer log,
    /// or the rest of one.
    pub fn with_state(buf: &'a [u8], state: ReaderState) -> Self {
        SliceReader {
            buf,
            pos: 0,
            parser: state.parser,
        }
    }

    /// Where the reader is.
    pub fn state(&self) -> ReaderState {
        ReaderState {
            parser: self.parser,
        }
    }
}

impl<R: Read> StreamReader<R> {
    /// A reader of `inner`, the rest of a log, that goes on from `state`
    /// (what a reader of the log up to there knew).
    pub fn with_state(inner: R, state: ReaderState) -> Self {
        let mut reader = StreamReader::with_format(inner, state.parser.format);
        reader.parser = state.parser;
        // Line ends were read before: the input is not judged on its first
        // bytes alone.
        reader.seen_line_end = state.parser.line > 1;
        reader
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::SliceReader;

    #[test]
    fn boundaries_never_split_a_dump() {
        assert_eq!(record_boundary(b""), None);
        assert_eq!(record_boundary(b"abc\n"), None, "the next line is unknown");
        assert_eq!(record_boundary(b"abc\nde"), None, "too short to tell");
        assert_eq!(record_boundary(b"abc\nde\n"), Some(4));
        assert_eq!(record_boundary(b"abc\n0123456789"), Some(4));
        let dump = b"T stdout 17\n00000000  61 61 61 61 61 61 61 61  61 61 61 61 61 61 61 61  |aaaaaaaaaaaaaaaa|\n00000010  61  |a|\n";
        assert_eq!(record_boundary(dump), None);
        let mut two = dump.to_vec();
        two.extend_from_slice(b"T stdin 0\n");
        assert_eq!(record_boundary(&two), Some(dump.len()));
    }

    /// Each event as text: type, time and decoded payload.
    fn events(log: &[u8], format: Option<crate::Format>) -> Vec<String> {
        let mut buf = Vec::new();
        SliceReader::with_format(log, format)
            .map(|r| {
                let e = r.unwrap();
                e.decode_payload(&mut buf).unwrap();
                format!("{} {} {:?}", e.kind.name(), e.ts, buf)
            })
            .collect()
    }

    /// Blocks of every size join to the input and parse to the same events.
    #[test]
    fn blocks_join_to_the_input_and_parse_alike() {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../testdata");
        for name in ["session.jsonl", "session.hex", "session.hexdump"] {
            let log = std::fs::read(root.join(name)).unwrap();
            let format = crate::Format::detect(&log);
            let whole = events(&log, format);
            assert!(whole.len() > 10, "{name}");
            for target in [1, 7, 100, 4096, 1 << 20] {
                let mut blocks = RecordBlocks::new(&log[..], target, 1 << 20);
                let mut block = Vec::new();
                let mut joined = Vec::new();
                let mut parsed = Vec::new();
                while blocks.next_block(&mut block).unwrap() {
                    joined.extend_from_slice(&block);
                    parsed.extend(events(&block, format));
                }
                assert_eq!(joined, log, "{name} at {target}");
                assert_eq!(blocks.offset(), log.len() as u64);
                // Parse errors carry line numbers, which differ per block;
                // the fixtures have none.
                assert_eq!(parsed, whole, "{name} at {target}");
            }
        }
    }

    #[test]
    fn an_endless_record_is_an_error() {
        let log = vec![b'x'; 5000];
        let mut blocks = RecordBlocks::new(&log[..], 10, 1000);
        let err = blocks.next_block(&mut Vec::new()).unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::InvalidData);
        // One long line at the end of the input is a block, whatever its size.
        let mut blocks = RecordBlocks::new(&log[..], 10, 10_000);
        let mut block = Vec::new();
        assert!(blocks.next_block(&mut block).unwrap());
        assert_eq!(block.len(), 5000);
        assert!(!blocks.next_block(&mut block).unwrap());
    }

    /// Every cut of `log` that [`RecordCuts`] makes before the rest, and
    /// how it ends.
    fn cuts(log: &[u8], target: usize, max: usize) -> (Vec<u64>, Cut) {
        use std::io::Write;
        let mut file = tempfile::tempfile().unwrap();
        file.write_all(log).unwrap();
        let mut cuts = RecordCuts::new(log.len() as u64, target, max);
        let mut at = Vec::new();
        loop {
            match cuts.next_cut(&file).unwrap() {
                Cut::Range { start, end } => {
                    assert_eq!(start, at.last().copied().unwrap_or(0));
                    assert!(end > start);
                    at.push(end);
                }
                end => {
                    assert_eq!(cuts.next_cut(&file).unwrap(), end, "the end is final");
                    return (at, end);
                }
            }
        }
    }

    /// The cuts made by reading around them are those of reading
    /// everything, in every layout (dumps, whose continuation lines are no
    /// record start, included), at block sizes under and over the window.
    #[test]
    fn cuts_read_around_are_the_cuts_of_blocks_read_whole() {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../testdata");
        for name in ["session.jsonl", "session.hex", "session.hexdump"] {
            let one = std::fs::read(root.join(name)).unwrap();
            // Long enough for blocks larger than the first window.
            let log = one.repeat((200_000 / one.len()).max(1) + 1);
            for target in [1, 7, 100, 4096, 20_000, 70_000] {
                let (at, end) = cuts(&log, target, 1 << 20);
                let Cut::Rest { start } = end else {
                    panic!("{name} at {target}: {end:?}")
                };
                assert_eq!(start, at.last().copied().unwrap_or(0));
                let mut blocks = RecordBlocks::new(&log[..], target, 1 << 20);
                let mut block = Vec::new();
                let mut whole = Vec::new();
                while blocks.next_block(&mut block).unwrap() {
                    whole.push(blocks.offset());
                }
                assert!(at.len() > 1 || target > 4096, "{name} at {target}");
                assert_eq!(at[..], whole[..at.len()], "{name} at {target}");
            }
        }
    }

    #[test]
    fn a_record_longer_than_allowed_stops_the_cuts_where_it_starts() {
        let mut log = b"{\"type\":\"stdin\"}\n".repeat(10);
        log.extend(vec![b'x'; 50_000]);
        log.extend(b"\n{\"type\":\"stdin\"}\n".repeat(10));
        let (at, end) = cuts(&log, 64, 1000);
        assert_eq!(end, Cut::TooLong { offset: 170 });
        assert_eq!(at.last(), Some(&170));
    }

    #[test]
    fn a_file_that_shrank_is_an_error_saying_so() {
        let file = tempfile::tempfile().unwrap();
        file.set_len(100).unwrap();
        let mut cuts = RecordCuts::new(1000, 10, 1000);
        file.set_len(5).unwrap();
        let err = cuts.next_cut(&file).unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::UnexpectedEof);
        assert!(err.to_string().contains("shrank"), "{err}");
    }
}
