//! Cutting a log into blocks of whole records, so that the blocks can be
//! parsed on several threads and their outputs joined in order.

use std::io::{self, Read};

use crate::codec::hex::is_dump_line;

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

    /// Fills `block` (cleared first) with the next records. `Ok(false)` when
    /// the input is exhausted and `block` is empty.
    pub fn next_block(&mut self, block: &mut Vec<u8>) -> io::Result<bool> {
        block.clear();
        block.append(&mut self.carry);
        let mut want = self.target;
        loop {
            while !self.eof && block.len() < want {
                let need = want - block.len();
                // Room first, so that `read_to_end` reads straight into it
                // rather than probing and growing the buffer.
                block.reserve(need);
                if (&mut self.inner).take(need as u64).read_to_end(block)? == 0 {
                    self.eof = true;
                }
            }
            if self.eof {
                self.offset += block.len() as u64;
                return Ok(!block.is_empty());
            }
            if let Some(cut) = record_boundary(block) {
                self.carry.extend_from_slice(&block[cut..]);
                block.truncate(cut);
                self.offset += cut as u64;
                return Ok(true);
            }
            if block.len() > self.max {
                return Err(io::Error::new(
                    io::ErrorKind::InvalidData,
                    format!(
                        "a record at byte {} is longer than {} bytes",
                        self.offset, self.max
                    ),
                ));
            }
            // No record starts after the first one yet: read twice as much.
            want = block.len().saturating_mul(2);
        }
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
}
