//! Readers for the trail log layouts, over a byte slice or an `io::Read`.
//!
//! Both readers share one parser that works on a window of bytes and says
//! when a record continues past the window; [`SliceReader`] gives it a whole
//! input held in memory, [`StreamReader`] a bounded buffer that it refills.

mod ahead;
mod blocks;
pub(crate) mod hex;
pub(crate) mod jsonl;

pub use ahead::{ReadAhead, AHEAD_BUFFER, AHEAD_DEPTH};
pub use blocks::{read_exact_at, record_boundary, Cut, ReaderState, RecordBlocks, RecordCuts};

use std::io;

use crate::error::{ParseError, ParseErrorKind, Severity};
use crate::event::Event;

/// An event or a located problem, as the readers yield them.
pub type Record<'a> = Result<Event<'a>, ParseError>;

/// The layout of a trail log.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Format {
    /// One JSON object a line (docs/FORMAT.md section 2).
    Jsonl,
    /// The hex line or dump layout, detected per event (section 3).
    Hex,
}

impl Format {
    /// Detects the layout from the start of a log: the first line that is
    /// neither blank nor a `#` comment starts with `{` in jsonl. `None` when
    /// there is no such line.
    ///
    /// ```
    /// use sshtrail::Format;
    /// assert_eq!(Format::detect(b"\n{\"type\":\"stdin\"}"), Some(Format::Jsonl));
    /// assert_eq!(Format::detect(b"# hex\n2023-06-07T17:32:29Z stdin 6c"), Some(Format::Hex));
    /// assert_eq!(Format::detect(b"  \n"), None);
    /// ```
    pub fn detect(start: &[u8]) -> Option<Format> {
        for line in start.split(|&c| c == b'\n') {
            if is_blank(line) {
                continue;
            }
            let t = trim_start(line);
            match t.first() {
                None | Some(b'#') => continue,
                Some(b'{') => return Some(Format::Jsonl),
                Some(_) => return Some(Format::Hex),
            }
        }
        None
    }
}

fn trim_start(line: &[u8]) -> &[u8] {
    let n = line
        .iter()
        .take_while(|c| matches!(c, b' ' | b'\t'))
        .count();
    &line[n..]
}

fn is_blank(line: &[u8]) -> bool {
    line.iter().all(|c| matches!(c, b' ' | b'\t' | b'\r'))
}

/// What the parser found at the current position.
pub(crate) enum Next<'a> {
    Record(Record<'a>),
    NeedMore,
    End,
}

/// The state shared by both readers: the layout and the line number.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Parser {
    format: Option<Format>,
    line: u64,
    times: crate::time::TimeCache,
    /// A hex dump record was read: the log is in the dump layout.
    seen_dump: bool,
    /// A valid record was read.
    seen_event: bool,
    /// A record that is not valid was read (or skipped as too long).
    seen_problem: bool,
    /// The input was judged at its end (no valid event: not a log).
    judged: bool,
}

impl Parser {
    pub(crate) fn new(format: Option<Format>) -> Self {
        Parser {
            format,
            line: 1,
            times: crate::time::TimeCache::default(),
            seen_dump: false,
            seen_event: false,
            seen_problem: false,
            judged: false,
        }
    }

    /// Parses the next record of `buf` at `*pos`. `eof` says `buf` ends where
    /// the input ends. On `NeedMore`, `*pos` is the start of the unfinished
    /// record and nothing else changed.
    #[inline]
    pub(crate) fn next<'a>(&mut self, buf: &'a [u8], pos: &mut usize, eof: bool) -> Next<'a> {
        loop {
            let Some((line, next, has_eol)) = crate::codec::line_at(buf, *pos, eof) else {
                if !eof {
                    return Next::NeedMore;
                }
                // Lines, and not one of them an event: not a trail log
                // (`hello world`, random bytes, zeros), said once at the end.
                if self.seen_problem && !self.seen_event && !self.judged {
                    self.judged = true;
                    // At the last line read.
                    let last = self.line.saturating_sub(1).max(1);
                    let at = ParseError::new(last, 1, ParseErrorKind::NoEvent);
                    return Next::Record(Err(at));
                }
                return Next::End;
            };
            let lineno = self.line;
            let format = match self.format {
                Some(f) => f,
                None if is_blank(line) || trim_start(line).first() == Some(&b'#') => {
                    *pos = next;
                    self.line += 1;
                    continue;
                }
                None => {
                    let f = Format::detect(line).unwrap_or(Format::Hex);
                    self.format = Some(f);
                    f
                }
            };
            if is_blank(line) || (format == Format::Hex && line.first() == Some(&b'#')) {
                *pos = next;
                self.line += 1;
                continue;
            }
            let (record, next, lines) = match format {
                Format::Jsonl => (jsonl::parse_line(line, lineno, &mut self.times), next, 1),
                Format::Hex => {
                    let seen_dump = self.seen_dump;
                    match hex::parse_record(
                        buf,
                        line,
                        next,
                        eof,
                        lineno,
                        &mut self.times,
                        seen_dump,
                    ) {
                        hex::HexStep::NeedMore => return Next::NeedMore,
                        hex::HexStep::Done(r, next, lines) => {
                            self.seen_dump |= lines > 1;
                            (r, next, lines)
                        }
                    }
                }
            };
            *pos = next;
            self.line += lines;
            let record = record.map_err(|mut e| {
                // A last line without a line end that does not parse was cut
                // off while the log was written: a warning (docs/FORMAT.md section 5).
                let last_line = lineno + lines - 1;
                if eof
                    && next == buf.len()
                    && !buf.ends_with(b"\n")
                    && e.line == last_line
                    && (has_eol || lines == 1)
                {
                    e.severity = Severity::Warning;
                }
                e
            });
            match record {
                Ok(_) => self.seen_event = true,
                Err(_) => self.seen_problem = true,
            }
            return Next::Record(record);
        }
    }

    /// The number of the line the parser is at.
    pub(crate) fn line(&self) -> u64 {
        self.line
    }
}

/// Reads events from a byte slice, such as a small file read whole. Events
/// borrow from the slice.
///
/// ```
/// use sshtrail::{SliceReader, EventType};
/// let log = b"2023-06-07T17:32:29Z stdin 6c\n2023-06-07T17:32:30Z stdout 6c\n";
/// let kinds: Vec<_> = SliceReader::new(log).map(|r| r.unwrap().kind).collect();
/// assert_eq!(kinds, [EventType::Stdin, EventType::Stdout]);
/// ```
#[derive(Debug, Clone)]
pub struct SliceReader<'a> {
    buf: &'a [u8],
    pos: usize,
    parser: Parser,
}

impl<'a> SliceReader<'a> {
    /// A reader that detects the layout from the first line.
    pub fn new(buf: &'a [u8]) -> Self {
        Self::with_format(buf, None)
    }

    /// A reader for a known layout, or `None` to detect it.
    pub fn with_format(buf: &'a [u8], format: Option<Format>) -> Self {
        SliceReader {
            buf,
            pos: 0,
            parser: Parser::new(format),
        }
    }

    /// The layout, once the first event line has been seen.
    pub fn format(&self) -> Option<Format> {
        self.parser.format
    }
}

impl<'a> Iterator for SliceReader<'a> {
    type Item = Record<'a>;

    #[inline]
    fn next(&mut self) -> Option<Record<'a>> {
        match self.parser.next(self.buf, &mut self.pos, true) {
            Next::Record(r) => Some(r),
            Next::NeedMore | Next::End => None,
        }
    }
}

/// The largest record a [`StreamReader`] buffers by default: 16 MiB.
pub const DEFAULT_MAX_RECORD: usize = 16 << 20;

const READ_CHUNK: usize = 256 << 10;

/// Reads events from an `io::Read` (stdin, a pipe) with bounded memory: the
/// buffer holds at most one record plus one read chunk.
///
/// Events borrow from the reader's buffer, so they are handed to a closure.
///
/// ```
/// use sshtrail::StreamReader;
/// let input: &[u8] = b"{\"type\":\"stdin\",\"ts\":\"2023-06-07T17:32:29Z\",\"data\":\"bA==\"}\n";
/// let mut count = 0;
/// StreamReader::new(input).for_each(|r| -> std::io::Result<()> { r.unwrap(); count += 1; Ok(()) }).unwrap();
/// assert_eq!(count, 1);
/// ```
#[derive(Debug)]
pub struct StreamReader<R> {
    inner: R,
    buf: Vec<u8>,
    start: usize,
    end: usize,
    eof: bool,
    parser: Parser,
    max_record: usize,
    /// A whole record starts at `start` (the parser state unchanged since
    /// that was found), with this time.
    probed: Option<Option<crate::time::Nanos>>,
    /// A record found too long while peeking, handed out next.
    pending_error: Option<ParseError>,
    /// Whether any line end was read yet: an input without one in its
    /// first record's worth of bytes is not a trail log.
    seen_line_end: bool,
    /// Bytes of the input dropped from the front of `buf` so far: with
    /// `start`, where in the input the next record begins.
    ///
    /// Kept modulo 2^64: with [`StreamReader::read_ahead`], `buf` can start
    /// with room before the first byte of the input. `discarded + start`,
    /// always a real offset, is what is read.
    discarded: u64,
    /// The thread reading the input ahead ([`StreamReader::read_ahead`]);
    /// `inner` is then empty.
    ahead: Option<ReadAhead>,
}

/// What a probe of the buffer found.
enum Probe {
    Record(Option<crate::time::Nanos>),
    End,
}

impl StreamReader<Box<dyn io::Read + Send>> {
    /// Reads the rest of the input on a thread of its own ([`ReadAhead`]),
    /// so that the kernel's copy of the next bytes overlaps the work on
    /// these. What was read already stays; records, errors and offsets are
    /// the same.
    pub fn read_ahead(&mut self) {
        if self.ahead.is_none() {
            let inner = std::mem::replace(&mut self.inner, Box::new(io::empty()));
            self.ahead = Some(ReadAhead::new(inner));
        }
    }

    /// [`StreamReader::read_ahead`] with buffers of `chunk` bytes and
    /// `headroom` bytes of room before them (tests cut the input small).
    #[cfg(test)]
    fn read_ahead_in(&mut self, headroom: usize, chunk: usize) {
        let inner = std::mem::replace(&mut self.inner, Box::new(io::empty()));
        self.ahead = Some(ReadAhead::with_sizes(inner, headroom, chunk));
    }
}

impl<R: io::Read> StreamReader<R> {
    /// A reader that detects the layout from the first line.
    pub fn new(inner: R) -> Self {
        Self::with_format(inner, None)
    }

    /// A reader for a known layout, or `None` to detect it.
    pub fn with_format(inner: R, format: Option<Format>) -> Self {
        StreamReader {
            inner,
            buf: Vec::new(),
            start: 0,
            end: 0,
            eof: false,
            parser: Parser::new(format),
            max_record: DEFAULT_MAX_RECORD,
            probed: None,
            pending_error: None,
            seen_line_end: false,
            discarded: 0,
            ahead: None,
        }
    }

    // Only the seek index (feature `terminal`) resumes a replay.
    #[cfg(feature = "terminal")]
    /// A reader of an input that starts in the middle of a log, at a
    /// record boundary a previous reader gave ([`StreamReader::position`]):
    /// its layout, the line number there, and whether a hex dump record
    /// came before (the parser's state at that point).
    pub(crate) fn resuming(inner: R, format: Format, line: u64, seen_dump: bool) -> Self {
        let mut reader = Self::with_format(inner, Some(format));
        reader.parser.line = line;
        reader.parser.seen_dump = seen_dump;
        reader.parser.seen_event = true;
        reader.seen_line_end = true;
        reader
    }

    // Only the seek index (feature `terminal`) resumes a replay.
    #[cfg(feature = "terminal")]
    /// The input, given back (what it read stays read).
    pub(crate) fn into_inner(self) -> R {
        self.inner
    }

    /// Where the next record starts: the bytes of the input taken so far
    /// (records, blank lines and comments), from where this reader began.
    pub(crate) fn position(&self) -> u64 {
        self.discarded.wrapping_add(self.start as u64)
    }

    /// Sets the largest record (one event's lines) kept in memory; a longer
    /// one is reported as an error and skipped.
    pub fn max_record(mut self, bytes: usize) -> Self {
        self.max_record = bytes.max(1);
        self
    }

    /// The layout, once the first event line has been seen.
    pub fn format(&self) -> Option<Format> {
        self.parser.format
    }

    /// Hands every record to `f`, in order, until the input ends or `f`
    /// returns an error. Read errors are returned as `E`.
    pub fn for_each<E: From<io::Error>>(
        &mut self,
        mut f: impl FnMut(Record<'_>) -> Result<(), E>,
    ) -> Result<(), E> {
        self.for_each_at(|record, _, _| f(record))
    }

    /// [`StreamReader::for_each`], also giving `f` where the next record
    /// starts (as [`StreamReader::position`]) and the parser's state there
    /// (the line number, whether a hex dump record was read: what
    /// [`StreamReader::resuming`] takes back): each record is parsed once, as
    /// `for_each` does, where pulling with `next_record` parses it twice.
    pub(crate) fn for_each_at<E: From<io::Error>>(
        &mut self,
        mut f: impl FnMut(Record<'_>, u64, (u64, bool)) -> Result<(), E>,
    ) -> Result<(), E> {
        loop {
            let mut pos = 0;
            loop {
                let window = &self.buf[self.start..self.end];
                match self.parser.next(window, &mut pos, self.eof) {
                    Next::Record(r) => {
                        let at = self.discarded.wrapping_add((self.start + pos) as u64);
                        f(r, at, (self.parser.line, self.parser.seen_dump))?
                    }
                    Next::End => return Ok(()),
                    Next::NeedMore => break,
                }
            }
            self.start += pos;
            if self.end - self.start > self.max_record {
                if !self.seen_line_end {
                    return Err(self.not_a_log().into());
                }
                let line = self.parser.line();
                self.skip_line()?;
                self.parser.line += 1;
                self.parser.seen_problem = true;
                let at = self.position();
                f(
                    Err(ParseError::new(
                        line,
                        1,
                        ParseErrorKind::TooLong {
                            max: self.max_record,
                        },
                    )),
                    at,
                    (self.parser.line, self.parser.seen_dump),
                )?;
                continue;
            }
            self.fill()?;
        }
    }

    /// The next record, pulled: for reading several logs side by side.
    /// `Ok(None)` at the end of the input.
    ///
    /// ```
    /// use sshtrail::StreamReader;
    /// let mut r = StreamReader::new(&b"2023-06-07T17:32:29Z stdin 6c\n2023-06-07T17:32:30Z stdout 6c\n"[..]);
    /// assert_eq!(r.peek_ts().unwrap(), Some(Some(1_686_159_149_000_000_000)));
    /// assert_eq!(r.next_record().unwrap().unwrap().unwrap().line, 1);
    /// assert_eq!(r.next_record().unwrap().unwrap().unwrap().line, 2);
    /// assert!(r.next_record().unwrap().is_none());
    /// ```
    pub fn next_record(&mut self) -> io::Result<Option<Record<'_>>> {
        match self.probe()? {
            Ok(Probe::End) => return Ok(None),
            Ok(Probe::Record(_)) => {}
            Err(too_long) => return Ok(Some(Err(too_long))),
        }
        self.probed = None;
        let mut pos = 0;
        match self
            .parser
            .next(&self.buf[self.start..self.end], &mut pos, self.eof)
        {
            Next::Record(r) => {
                self.start += pos;
                Ok(Some(r))
            }
            // The probe found a whole record with the same state and bytes.
            Next::NeedMore | Next::End => Err(io::Error::other(
                "the stream reader lost its place (please report this)",
            )),
        }
    }

    /// The time of the next record without taking it: `Some(Some(ts))` for
    /// an event, `Some(None)` for a malformed record, `None` at the end.
    pub fn peek_ts(&mut self) -> io::Result<Option<Option<crate::time::Nanos>>> {
        Ok(match self.probe()? {
            Ok(Probe::Record(ts)) => Some(ts),
            Ok(Probe::End) => None,
            // Reported when taken: the record is skipped, so nothing waits.
            Err(e) => {
                self.pending_error = Some(e);
                Some(None)
            }
        })
    }

    /// Reads until a whole record starts at `start` or the input ends.
    fn probe(&mut self) -> io::Result<Result<Probe, ParseError>> {
        if let Some(e) = self.pending_error.take() {
            return Ok(Err(e));
        }
        if let Some(ts) = self.probed {
            return Ok(Ok(Probe::Record(ts)));
        }
        loop {
            let mut probe = self.parser;
            let mut pos = 0;
            let found = match probe.next(&self.buf[self.start..self.end], &mut pos, self.eof) {
                Next::Record(r) => Some(Probe::Record(r.ok().map(|e| e.ts))),
                Next::End => Some(Probe::End),
                Next::NeedMore => None,
            };
            match found {
                Some(p) => {
                    if let Probe::Record(ts) = p {
                        self.probed = Some(ts);
                    }
                    return Ok(Ok(p));
                }
                None => {
                    // Blank lines and comments before the unfinished record
                    // are done with.
                    self.parser = probe;
                    self.start += pos;
                }
            }
            if self.end - self.start > self.max_record {
                if !self.seen_line_end {
                    return Err(self.not_a_log());
                }
                let line = self.parser.line();
                self.skip_line()?;
                self.parser.line += 1;
                self.parser.seen_problem = true;
                return Ok(Err(ParseError::new(
                    line,
                    1,
                    ParseErrorKind::TooLong {
                        max: self.max_record,
                    },
                )));
            }
            self.fill()?;
        }
    }

    /// The error of an input with no line end in its first `max_record`
    /// bytes (`/dev/zero`, a binary file): reading further would only read
    /// more of the same.
    fn not_a_log(&self) -> io::Error {
        let max = self.max_record;
        let size = if max.is_multiple_of(1 << 20) {
            format!("{} MiB", max >> 20)
        } else {
            format!("{max} bytes")
        };
        io::Error::new(
            io::ErrorKind::InvalidData,
            format!("no line end in the first {size}: not a trail log"),
        )
    }

    /// Reads more input after compacting the buffer, growing it only when one
    /// record does not fit.
    fn fill(&mut self) -> io::Result<()> {
        if self.ahead.is_some() {
            return self.fill_ahead();
        }
        if self.start > 0 {
            self.discarded = self.discarded.wrapping_add(self.start as u64);
            self.buf.copy_within(self.start..self.end, 0);
            self.end -= self.start;
            self.start = 0;
        }
        // Ask for at least as much as is already buffered: a long record is
        // then rescanned a logarithmic number of times, not once per chunk.
        let want = READ_CHUNK.max(self.end);
        if self.buf.len() < self.end + want {
            self.buf.resize(self.end + want, 0);
        }
        // Keep reading until a line end arrives or the unfinished record has
        // at least doubled (or the input ended): pipes hand out 64 KiB a
        // read, and parsing a long line again after each would be quadratic,
        // while a live pipe still gets each complete line at once.
        let pending = self.end;
        let mut got = 0;
        loop {
            match self.inner.read(&mut self.buf[self.end..]) {
                Ok(0) => {
                    self.eof = true;
                    return Ok(());
                }
                Ok(n) => {
                    let new = &self.buf[self.end..self.end + n];
                    let line_end = memchr::memchr(b'\n', new).is_some();
                    self.seen_line_end |= line_end;
                    self.end += n;
                    got += n;
                    if line_end || got >= pending || self.end == self.buf.len() {
                        return Ok(());
                    }
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                // Hand over what did arrive first; the error comes back on
                // the next read.
                Err(_) if got > 0 => return Ok(()),
                Err(e) => return Err(e),
            }
        }
    }

    /// [`StreamReader::fill`] from the reading thread's buffers: the
    /// unfinished record held, when it fits in a buffer's headroom, is put
    /// there and the buffer becomes this reader's, so the bytes read are
    /// not copied again; a longer one gets the bytes read appended.
    fn fill_ahead(&mut self) -> io::Result<()> {
        let pending = self.end - self.start;
        let mut got = 0;
        while let Some(ahead) = self.ahead.as_mut() {
            let (mut read, n) = match ahead.next_filled() {
                Ok(Some(filled)) => filled,
                Ok(None) => {
                    self.eof = true;
                    return Ok(());
                }
                // Hand over what did arrive first; the reading thread says
                // the error again on the next fill.
                Err(_) if got > 0 => return Ok(()),
                Err(e) => return Err(e),
            };
            let head = ahead.headroom();
            let held = self.end - self.start;
            let new = if held <= head {
                let at = head - held;
                read[at..head].copy_from_slice(&self.buf[self.start..self.end]);
                // buf[at] is the byte buf[start] was (see `discarded`).
                self.discarded = self
                    .discarded
                    .wrapping_add(self.start as u64)
                    .wrapping_sub(at as u64);
                ahead.give_back(std::mem::replace(&mut self.buf, read));
                self.start = at;
                self.end = head + n;
                head
            } else {
                self.discarded = self.discarded.wrapping_add(self.start as u64);
                self.buf.copy_within(self.start..self.end, 0);
                self.end -= self.start;
                self.start = 0;
                if self.buf.len() < self.end + n {
                    self.buf.resize(self.end + n, 0);
                }
                self.buf[self.end..self.end + n].copy_from_slice(&read[head..head + n]);
                ahead.give_back(read);
                self.end += n;
                self.end - n
            };
            let line_end = memchr::memchr(b'\n', &self.buf[new..self.end]).is_some();
            self.seen_line_end |= line_end;
            got += n;
            // As `fill`: on until a line end or the unfinished record has
            // doubled.
            if line_end || got >= pending {
                return Ok(());
            }
        }
        Ok(())
    }

    /// Drops input up to and including the next line end.
    fn skip_line(&mut self) -> io::Result<()> {
        loop {
            if let Some(n) = memchr::memchr(b'\n', &self.buf[self.start..self.end]) {
                self.start += n + 1;
                return Ok(());
            }
            self.start = self.end;
            if self.eof {
                return Ok(());
            }
            self.fill()?;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::EventType;

    const JSONL: &str = "{\"type\":\"stdin\",\"ts\":\"2023-06-07T17:32:29Z\",\"data\":\"bA==\"}\r\n\n  \t\n{\"type\":\"x-note\",\"ts\":\"2023-06-07T17:32:30Z\"}\n";

    struct Dribble<'a>(&'a [u8], usize);

    impl io::Read for Dribble<'_> {
        fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
            let n = self.1.min(buf.len()).min(self.0.len());
            buf[..n].copy_from_slice(&self.0[..n]);
            self.0 = &self.0[n..];
            Ok(n)
        }
    }

    fn show(r: Record<'_>, payload: &mut Vec<u8>) -> String {
        match r {
            Ok(e) => {
                e.decode_payload(payload).unwrap();
                format!("{}:{}:{:?}", e.line, e.kind, payload)
            }
            Err(e) => format!("{}:{}: {}: {}", e.line, e.column, e.severity.name(), e.kind),
        }
    }

    fn collect_stream(input: &[u8], chunk: usize) -> Vec<String> {
        let mut out = Vec::new();
        let mut payload = Vec::new();
        StreamReader::new(Dribble(input, chunk))
            .for_each(|r| -> io::Result<()> {
                out.push(show(r, &mut payload));
                Ok(())
            })
            .unwrap();
        out
    }

    /// The records pulled one at a time, peeking at each time first.
    fn collect_pulled(input: &[u8], chunk: usize) -> Vec<String> {
        let mut out = Vec::new();
        let mut payload = Vec::new();
        let mut r = StreamReader::new(Dribble(input, chunk)).max_record(64 << 10);
        loop {
            let peeked = r
                .peek_ts()
                .unwrap_or_else(|e| panic!("chunk {chunk}, {} bytes: {e}", input.len()));
            assert_eq!(
                r.peek_ts().unwrap(),
                peeked,
                "peeking twice changes nothing"
            );
            let Some(record) = r.next_record().unwrap() else {
                assert_eq!(peeked, None, "the end was peeked");
                break;
            };
            assert_eq!(peeked, Some(record.as_ref().ok().map(|e| e.ts)));
            out.push(show(record, &mut payload));
        }
        out
    }

    #[test]
    fn pulling_records_gives_what_pushing_gives() {
        let logs: [&[u8]; 4] = [
            include_bytes!("../../../../testdata/session.jsonl"),
            include_bytes!("../../../../testdata/variant.jsonl"),
            include_bytes!("../../../../testdata/session.hexdump"),
            include_bytes!("../../../../testdata/variant.hex"),
        ];
        for log in logs {
            let whole = collect_stream(log, 1 << 20);
            assert!(whole.len() > 10);
            for chunk in [1, 3, 64, 4096] {
                assert_eq!(collect_pulled(log, chunk), whole, "reads of {chunk}");
            }
        }
        // Problems come in place: a bad line, a cut-off last line.
        let bad =
            b"2023-06-07T17:32:29Z stdin 6c\nnot a record\n2023-06-07T17:32:30Z stdout 6c\n{\"type";
        assert_eq!(collect_pulled(bad, 2), collect_stream(bad, 2));
        // A record over the limit inside a log is reported and skipped.
        let long = format!(
            "2023-06-07T17:32:28Z stdout 6c\n2023-06-07T17:32:29Z stdin {}\n2023-06-07T17:32:30Z stdout 6c\n",
            "6c".repeat(150 << 10)
        );
        let got = collect_pulled(long.as_bytes(), 4096);
        assert_eq!(got.len(), 3);
        assert_eq!(got[0], "1:stdout:[108]");
        assert!(
            got[1].contains("at most 65536 bytes"),
            "{}",
            &got[1][..80.min(got[1].len())]
        );
        assert_eq!(got[2], "3:stdout:[108]");
    }

    /// Gives at most `chunk` bytes a read.
    struct Dribbled {
        data: Vec<u8>,
        at: usize,
        chunk: usize,
    }

    impl io::Read for Dribbled {
        fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
            let n = self.chunk.min(buf.len()).min(self.data.len() - self.at);
            buf[..n].copy_from_slice(&self.data[self.at..self.at + n]);
            self.at += n;
            Ok(n)
        }
    }

    /// Each record with where it starts and the parser's state there, and
    /// how the reading ended: read straight `chunk` bytes at a time, or
    /// ahead by a thread reading `chunk` bytes at a time into buffers with
    /// `headroom` bytes of room before them.
    fn collect_at(input: &[u8], max: usize, chunk: usize, headroom: Option<usize>) -> Vec<String> {
        let mut out = Vec::new();
        let mut payload = Vec::new();
        let boxed: Box<dyn io::Read + Send> = Box::new(Dribbled {
            data: input.to_vec(),
            at: 0,
            chunk,
        });
        let mut r = StreamReader::new(boxed).max_record(max);
        if let Some(headroom) = headroom {
            r.read_ahead_in(headroom, chunk);
        }
        let ended = r.for_each_at(|record, at, (line, dump)| -> io::Result<()> {
            out.push(format!("{at} {line} {dump} {}", show(record, &mut payload)));
            Ok(())
        });
        out.push(format!("{ended:?} at {}", r.position()));
        out
    }

    #[test]
    fn reading_ahead_gives_the_records_offsets_and_errors_of_reading_straight() {
        let long = format!(
            "2023-06-07T17:32:28Z stdout 6c\n2023-06-07T17:32:29Z stdin {}\n2023-06-07T17:32:30Z stdout 6c\n",
            "6c".repeat(3000)
        );
        let logs: [&[u8]; 8] = [
            include_bytes!("../../../../testdata/session.jsonl"),
            include_bytes!("../../../../testdata/variant.jsonl"),
            include_bytes!("../../../../testdata/session.hexdump"),
            include_bytes!("../../../../testdata/variant.hex"),
            b"2023-06-07T17:32:29Z stdin 6c\nnot a record\n2023-06-07T17:32:30Z stdout 6c\n{\"type",
            long.as_bytes(),
            b"",
            b"no line end at all",
        ];
        for log in logs {
            for max in [1000, 64 << 10] {
                // Reads of a byte, a few, a line's worth and the whole log;
                // headroom smaller and larger than the records held.
                for chunk in [1, 7, 64, 4096, 1 << 20] {
                    let straight = collect_at(log, max, chunk, None);
                    for headroom in [0, 5, 100, 10_000] {
                        assert_eq!(
                            collect_at(log, max, chunk, Some(headroom)),
                            straight,
                            "max {max}, headroom {headroom}, chunk {chunk}, {} bytes",
                            log.len()
                        );
                    }
                }
            }
        }
        // The comparison sees records: the long one is refused, the rest
        // read, and the end is where the log ends.
        let got = collect_at(long.as_bytes(), 1000, 64, Some(5));
        assert_eq!(got.len(), 4);
        assert!(got[1].contains("at most 1000 bytes"), "{}", got[1]);
        assert_eq!(got[3], format!("Ok(()) at {}", long.len()));
    }

    /// Gives `first` bytes, then fails once, then gives the rest.
    struct FailsOnce {
        data: Vec<u8>,
        at: usize,
        first: usize,
        failed: bool,
    }

    impl io::Read for FailsOnce {
        fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
            if self.at == self.first && !self.failed {
                self.failed = true;
                return Err(io::Error::new(
                    io::ErrorKind::BrokenPipe,
                    "the disk went away",
                ));
            }
            let end = if self.at < self.first {
                self.first
            } else {
                self.data.len()
            };
            let n = buf.len().min(end - self.at);
            buf[..n].copy_from_slice(&self.data[self.at..self.at + n]);
            self.at += n;
            Ok(n)
        }
    }

    /// The records read before `session.jsonl` fails half-way through,
    /// and the error, read straight or ahead.
    fn read_until_failure(ahead: bool) -> (Vec<String>, String) {
        let log = include_bytes!("../../../../testdata/session.jsonl");
        let boxed: Box<dyn io::Read + Send> = Box::new(FailsOnce {
            data: log.to_vec(),
            at: 0,
            first: log.len() / 2,
            failed: false,
        });
        let mut r = StreamReader::new(boxed);
        if ahead {
            r.read_ahead_in(16, 100);
        }
        let (mut taken, mut payload) = (Vec::new(), Vec::new());
        let e = r
            .for_each(|record| -> io::Result<()> {
                taken.push(show(record, &mut payload));
                Ok(())
            })
            .unwrap_err();
        (taken, e.to_string())
    }

    #[test]
    fn reading_ahead_hands_over_what_came_before_an_error_then_stops_at_it() {
        let straight = read_until_failure(false);
        assert_eq!(straight.1, "the disk went away");
        assert!(straight.0.len() > 3, "records came before the error");
        assert_eq!(read_until_failure(true), straight);
    }

    fn collect_slice(input: &[u8]) -> Vec<String> {
        let mut payload = Vec::new();
        SliceReader::new(input)
            .map(|r| match r {
                Ok(e) => {
                    e.decode_payload(&mut payload).unwrap();
                    format!("{}:{}:{:?}", e.line, e.kind, payload)
                }
                Err(e) => format!("{}:{}: {}: {}", e.line, e.column, e.severity.name(), e.kind),
            })
            .collect()
    }

    #[test]
    fn blank_lines_and_crlf_are_skipped_with_line_numbers_kept() {
        let got = collect_slice(JSONL.as_bytes());
        assert_eq!(got, ["1:stdin:[108]", "4:x-note:[]"]);
    }

    #[test]
    fn stream_and_slice_agree_whatever_the_chunk_size() {
        let hex = "# c\n2023-06-07T17:32:29Z stdout 3\n00000000  61 62 63  |abc|\n2023-06-07T17:32:29Z stdin 28\n2023-06-07T17:32:29Z stdin 6c\n";
        for input in [JSONL, hex] {
            let want = collect_slice(input.as_bytes());
            assert!(!want.is_empty());
            for chunk in [1, 2, 3, 7, 64, 4096] {
                assert_eq!(
                    collect_stream(input.as_bytes(), chunk),
                    want,
                    "chunk {chunk}"
                );
            }
        }
    }

    #[test]
    fn truncated_last_line_is_a_warning() {
        let input = "{\"type\":\"stdin\",\"ts\":\"2023-06-07T17:32:29Z\"}\n{\"type\":\"std";
        let got = collect_slice(input.as_bytes());
        assert_eq!(got.len(), 2);
        assert!(got[1].starts_with("2:13: warning:"), "{}", got[1]);
        // The same line with a line end is an error.
        let got = collect_slice(format!("{input}\n").as_bytes());
        assert!(got[1].starts_with("2:13: error:"), "{}", got[1]);
    }

    #[test]
    fn a_record_over_the_limit_is_an_error_and_skipped() {
        let short = "{\"type\":\"stdin\",\"ts\":\"2023-06-07T17:32:28Z\"}\n";
        let long = format!("{{\"type\":\"stdout\",\"ts\":\"2023-06-07T17:32:29Z\",\"data\":\"{}\"}}\n{{\"type\":\"stdin\",\"ts\":\"2023-06-07T17:32:29Z\"}}\n", "QUFB".repeat(100_000));
        let mut got = Vec::new();
        StreamReader::new(format!("{short}{long}").as_bytes())
            .max_record(1000)
            .for_each(|r| -> io::Result<()> {
                got.push(
                    r.map(|e| (e.line, e.kind.into_owned()))
                        .map_err(|e| (e.line, e.column)),
                );
                Ok(())
            })
            .unwrap();
        assert_eq!(
            got,
            vec![
                Ok((1, EventType::Stdin)),
                Err((2, 1)),
                Ok((3, EventType::Stdin))
            ]
        );
        // No line end at all in the first record's worth: not a trail log,
        // and nothing more is read.
        let e = StreamReader::new(long.as_bytes())
            .max_record(1000)
            .for_each(|_| -> io::Result<()> { Ok(()) })
            .unwrap_err();
        assert_eq!(
            e.to_string(),
            "no line end in the first 1000 bytes: not a trail log"
        );
        let e = StreamReader::new(io::repeat(0))
            .for_each(|_| -> io::Result<()> { Ok(()) })
            .unwrap_err();
        assert_eq!(
            e.to_string(),
            "no line end in the first 16 MiB: not a trail log"
        );
    }

    #[test]
    fn forced_format_reports_lines_of_the_other_layout() {
        let got: Vec<_> =
            SliceReader::with_format(b"2023-06-07T17:32:29Z stdin 6c\n", Some(Format::Jsonl))
                .collect();
        assert!(got[0]
            .as_ref()
            .unwrap_err()
            .message()
            .contains("expected '{'"));
    }
}
