//! A stream cut into lines of text, for the `--io` records: one record a
//! line, as a reader of a SIEM reads a session, not one a keystroke or an
//! output chunk.
//!
//! The rule: each stream of a channel (stdin, stdout, stderr) is cut on its
//! own. A line ends at a line feed, a carriage return, or both in that
//! order (one end, even when an event boundary falls between them). Its
//! time is that of its first byte. A line with nothing before its end
//! makes no record. A line still open when its channel ends is written
//! then, marked as having no end. Nothing is cut when the other direction
//! speaks: a typed line is echoed key by key, so a stdout line is the
//! prompt and the command as the screen showed them, a stdin line what
//! was typed up to Enter. A line keeps the first `io_max_bytes` bytes of its
//! text (cut at a character boundary); its length counts on.

use crate::time::Nanos;

/// A line, finished (or cut off at its channel's end). Its bytes are lent
/// from the [`Lines`] that gathered them, which keeps its buffer for the
/// next line: a line a record, a new buffer grown byte by byte for each was
/// several allocations a record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Line<'a> {
    /// The time of its first byte.
    pub ts: Nanos,
    /// The offset of its first byte in the stream.
    pub offset: u64,
    /// Its first bytes (at most the limit and a character's worth more).
    pub kept: &'a [u8],
    /// The bytes of its text (its end not counted).
    pub text_len: u64,
    /// The bytes of its end: 1 (LF or CR), 2 (CR LF), 0 (none: the
    /// channel ended first).
    pub end_len: u64,
    /// Some of its bytes were redacted.
    pub redacted: bool,
}

/// The line of a stream being gathered.
#[derive(Debug, Default)]
pub(crate) struct Lines {
    /// Time and offset of the line's first byte, once it has one.
    start: Option<(Nanos, u64)>,
    kept: Vec<u8>,
    text_len: u64,
    /// The last byte seen was a CR that ended a line: a LF next is part of
    /// that end.
    after_cr: bool,
    /// Some bytes of the line were redacted.
    redacted: bool,
}

impl Lines {
    /// When the line being gathered began, if one is.
    pub fn since(&self) -> Option<Nanos> {
        self.start.map(|(ts, _)| ts)
    }

    fn add(&mut self, ts: Nanos, offset: u64, bytes: &[u8], max: usize, redacted: bool) {
        if bytes.is_empty() {
            return;
        }
        self.redacted |= redacted;
        self.start.get_or_insert((ts, offset));
        // A character's worth past the limit, to cut at its boundary.
        let room = (max + 4).saturating_sub(self.kept.len());
        self.kept.extend_from_slice(&bytes[..bytes.len().min(room)]);
        self.text_len += bytes.len() as u64;
    }

    /// Hands the line gathered, if any, to `done`, ended by `end_len` bytes.
    fn take(&mut self, end_len: u64, done: &mut dyn FnMut(Line<'_>)) {
        let Some((ts, offset)) = self.start.take() else {
            return;
        };
        let text_len = std::mem::take(&mut self.text_len);
        let redacted = std::mem::take(&mut self.redacted);
        done(Line {
            ts,
            offset,
            kept: &self.kept,
            text_len,
            end_len,
            redacted,
        });
        self.kept.clear();
    }

    /// Adds the chunk `data` that starts at `offset` in the stream, at
    /// `ts` (`redacted`: its secret bytes show as `*`); every line it ends
    /// goes to `done`.
    pub fn push(
        &mut self,
        (ts, offset): (Nanos, u64),
        data: &[u8],
        redacted: bool,
        max: usize,
        done: &mut dyn FnMut(Line<'_>),
    ) {
        let mut pos = 0;
        if std::mem::take(&mut self.after_cr) && data.first() == Some(&b'\n') {
            pos = 1;
        }
        while pos < data.len() {
            let rest = &data[pos..];
            let Some(i) = memchr::memchr2(b'\r', b'\n', rest) else {
                self.add(ts, offset + pos as u64, rest, max, redacted);
                return;
            };
            self.add(ts, offset + pos as u64, &rest[..i], max, redacted);
            let end = match (rest[i], rest.get(i + 1)) {
                (b'\r', Some(b'\n')) => 2,
                (b'\r', None) => {
                    self.after_cr = true;
                    1
                }
                _ => 1,
            };
            self.take(end, done);
            pos += i + end as usize;
        }
    }

    /// The channel ended: the line still open, if any, goes to `done`.
    pub fn flush(&mut self, done: &mut dyn FnMut(Line<'_>)) {
        self.after_cr = false;
        self.take(0, done)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lines(chunks: &[(Nanos, &[u8])]) -> Vec<(Nanos, u64, String, u64)> {
        let mut l = Lines::default();
        let mut out = Vec::new();
        let mut offset = 0;
        let mut owned = |x: Line<'_>| {
            out.push((
                x.ts,
                x.offset,
                String::from_utf8_lossy(x.kept).into_owned(),
                x.end_len,
            ))
        };
        for (ts, data) in chunks {
            l.push((*ts, offset), data, false, 8, &mut owned);
            offset += data.len() as u64;
        }
        l.flush(&mut owned);
        out
    }

    #[test]
    fn keys_make_one_line_with_the_first_keys_time() {
        let keys: Vec<(Nanos, &[u8])> =
            vec![(1, b"l"), (2, b"s"), (3, b"\r"), (4, b"p"), (5, b"w")];
        assert_eq!(
            lines(&keys),
            [(1, 0, "ls".into(), 1), (4, 3, "pw".into(), 0)]
        );
    }

    #[test]
    fn cr_lf_is_one_end_even_across_chunks_and_empty_lines_make_nothing() {
        let out: Vec<(Nanos, &[u8])> = vec![(1, b"a\r"), (2, b"\nb\r\n\r\n\nc\rd"), (3, b"\n")];
        assert_eq!(
            lines(&out),
            [
                (1, 0, "a".into(), 1),
                (2, 3, "b".into(), 2),
                (2, 9, "c".into(), 1),
                (2, 11, "d".into(), 1)
            ]
        );
    }

    #[test]
    fn a_long_line_keeps_its_first_bytes_and_counts_the_rest() {
        let mut l = Lines::default();
        let mut out = Vec::new();
        let mut owned = |x: Line<'_>| out.push((x.ts, x.text_len, x.kept.len()));
        l.push((7, 0), &[b'x'; 100], false, 8, &mut owned);
        l.push((8, 100), b"y\n", false, 8, &mut owned);
        assert_eq!(out.len(), 1);
        assert_eq!(out[0], (7, 101, 12));
    }
}
