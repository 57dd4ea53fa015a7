//! JSON text: a scanner for the shapes trail events take (strings, any
//! value skipped with bounded nesting, object members), and JSON string
//! escaping for the writers.

use std::borrow::Cow;

use crate::error::describe;

/// Deepest nesting accepted in an extra value; serde_json's own limit is 128.
pub(crate) const MAX_DEPTH: usize = 128;

/// A scan failure: byte offset in the line and message.
pub(crate) type ScanError = (usize, String);

/// Which of the keys the reader cares about a member is.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Key {
    Type,
    Ts,
    Data,
    Other,
}

pub(crate) struct Scanner<'a> {
    pub(crate) b: &'a [u8],
    pub(crate) i: usize,
}

impl<'a> Scanner<'a> {
    pub(crate) fn peek(&self) -> Option<u8> {
        self.b.get(self.i).copied()
    }

    pub(crate) fn skip_ws(&mut self) {
        while let Some(b' ' | b'\t' | b'\r' | b'\n') = self.peek() {
            self.i += 1;
        }
    }

    pub(crate) fn err<T>(&self, expected: &str) -> Result<T, ScanError> {
        Err((
            self.i,
            format!("expected {expected}, found {}", describe(self.peek())),
        ))
    }

    pub(crate) fn expect(&mut self, c: u8, expected: &str) -> Result<(), ScanError> {
        if self.peek() == Some(c) {
            self.i += 1;
            Ok(())
        } else {
            self.err(expected)
        }
    }

    /// Scans a string at `self.i` (which must be `"`). Returns the content
    /// span and whether it holds escapes.
    pub(crate) fn string(&mut self) -> Result<(usize, usize, bool), ScanError> {
        self.expect(b'"', "'\"' (a JSON string)")?;
        let start = self.i;
        let mut escaped = false;
        loop {
            let rest = &self.b[self.i..];
            let Some(n) = memchr::memchr2(b'"', b'\\', rest) else {
                self.i = self.b.len();
                return Err((
                    self.i,
                    "expected '\"' to close the string, found end of line".into(),
                ));
            };
            self.i += n;
            if self.b[self.i] == b'"' {
                let end = self.i;
                self.i += 1;
                return Ok((start, end, escaped));
            }
            escaped = true;
            self.i += 1;
            match self.peek() {
                Some(b'"' | b'\\' | b'/' | b'b' | b'f' | b'n' | b'r' | b't') => self.i += 1,
                Some(b'u') => {
                    self.i += 1;
                    for _ in 0..4 {
                        match self.peek() {
                            Some(c) if c.is_ascii_hexdigit() => self.i += 1,
                            _ => return self.err("4 hex digits after '\\u'"),
                        }
                    }
                }
                _ => return self.err("an escape character after '\\'"),
            }
        }
    }

    /// Skips any JSON value and returns its span. Nesting is tracked with a
    /// counter, so hostile depth cannot overflow the stack; the text is then
    /// checked with serde_json.
    pub(crate) fn value(&mut self) -> Result<(usize, usize), ScanError> {
        let start = self.i;
        let mut depth = 0usize;
        loop {
            match self.peek() {
                Some(b'"') => {
                    self.string()?;
                    if depth == 0 {
                        break;
                    }
                }
                Some(b'{' | b'[') => {
                    depth += 1;
                    if depth > MAX_DEPTH {
                        return Err((
                            self.i,
                            format!("JSON nested deeper than {MAX_DEPTH} levels"),
                        ));
                    }
                    self.i += 1;
                }
                Some(b'}' | b']') if depth > 0 => {
                    depth -= 1;
                    self.i += 1;
                    if depth == 0 {
                        break;
                    }
                }
                Some(b',' | b':' | b' ' | b'\t' | b'\r' | b'\n') if depth > 0 => self.i += 1,
                Some(c) if c.is_ascii_alphanumeric() || matches!(c, b'-' | b'+' | b'.') => {
                    self.i += 1
                }
                _ => break,
            }
        }
        if self.i == start {
            return self.err("a JSON value");
        }
        let end = self.i;
        let raw = &self.b[start..end];
        if let Err(e) = serde_json::from_slice::<serde::de::IgnoredAny>(raw) {
            // serde_json columns are 1-based within `raw`, which is one line.
            let at = start + e.column().saturating_sub(1);
            return Err((at.min(end), format!("bad JSON value: {e}")));
        }
        Ok((start, end))
    }

    /// Classifies a key given its content span.
    pub(crate) fn key(&self, start: usize, end: usize, escaped: bool) -> Key {
        let raw = &self.b[start..end];
        let name: Cow<'_, [u8]> = if escaped {
            match serde_json::from_slice::<String>(&self.b[start - 1..end + 1]) {
                Ok(s) => Cow::Owned(s.into_bytes()),
                Err(_) => return Key::Other,
            }
        } else {
            Cow::Borrowed(raw)
        };
        match &*name {
            b"type" => Key::Type,
            b"ts" => Key::Ts,
            b"data" => Key::Data,
            _ => Key::Other,
        }
    }
}

/// A string value: content span and whether it has escapes.
#[derive(Clone, Copy)]
pub(crate) struct Str {
    pub(crate) start: usize,
    pub(crate) end: usize,
    pub(crate) escaped: bool,
}

/// The text of a string value: borrowed when it has no escapes.
pub(crate) fn text(line: &[u8], s: Str) -> Result<Cow<'_, str>, String> {
    let raw = &line[s.start..s.end];
    if let Some(i) = raw.iter().position(|&c| c < 0x20) {
        return Err(format!(
            "expected a character, found control {} inside a string",
            describe(Some(raw[i]))
        ));
    }
    if !s.escaped {
        return std::str::from_utf8(raw)
            .map(Cow::Borrowed)
            .map_err(|_| "expected UTF-8 text in the string".to_string());
    }
    serde_json::from_slice::<String>(&line[s.start - 1..s.end + 1])
        .map(Cow::Owned)
        .map_err(|e| format!("bad JSON string: {e}"))
}

/// Walks the members of an object the reader already accepted, yielding the
/// key span (with quotes) and the value span, minus `type`, `ts` and `data`.
pub(crate) struct Members<'a> {
    s: Scanner<'a>,
    done: bool,
}

/// A span of bytes: start and end offsets.
pub(crate) type Span = (usize, usize);

impl<'a> Members<'a> {
    pub(crate) fn new(object: &'a [u8]) -> Self {
        let mut s = Scanner { b: object, i: 0 };
        s.skip_ws();
        // Checked without `expect`: its error message would be formatted
        // (and allocated) for every event without extras.
        let done = s.peek() != Some(b'{');
        if !done {
            s.i += 1;
        }
        Members { s, done }
    }

    fn member(&mut self) -> Result<Option<(Span, Span)>, ScanError> {
        loop {
            self.s.skip_ws();
            if matches!(self.s.peek(), Some(b'}') | None) {
                return Ok(None);
            }
            let key_start = self.s.i;
            let (ks, ke, kesc) = self.s.string()?;
            let key = (key_start, self.s.i);
            self.s.skip_ws();
            self.s.expect(b':', ":")?;
            self.s.skip_ws();
            let kind = self.s.key(ks, ke, kesc);
            let value = if kind == Key::Other {
                self.s.value()?
            } else if self.s.peek() == Some(b'"') {
                let v = self.s.i;
                self.s.string()?;
                (v, self.s.i)
            } else {
                let v = self.s.i;
                self.s.value()?;
                (v, self.s.i)
            };
            self.s.skip_ws();
            if self.s.peek() == Some(b',') {
                self.s.i += 1;
            }
            if kind == Key::Other {
                return Ok(Some((key, value)));
            }
        }
    }
}

impl Iterator for Members<'_> {
    type Item = (Span, Span);

    fn next(&mut self) -> Option<Self::Item> {
        if self.done {
            return None;
        }
        match self.member() {
            Ok(Some(m)) => Some(m),
            _ => {
                self.done = true;
                None
            }
        }
    }
}

/// Appends `s` as a JSON string with quotes, escaping only what JSON requires:
/// `"`, `\\`, `\n`, `\r`, `\t`, and every other control byte as `\u00xx`
/// (the evidence formats' escaping, which stays as it was written).
pub(crate) fn push_json_str(out: &mut Vec<u8>, s: &str) {
    push_escaped(out, s, false);
}

/// Appends `s` as a JSON string with quotes, byte for byte as `serde_json`
/// writes it: as [`push_json_str`], but backspace and form feed are `\b` and
/// `\f`. The asciicast writer's escaping: asciinema writes its casts so.
pub(crate) fn push_serde_json_str(out: &mut Vec<u8>, s: &str) {
    push_escaped(out, s, true);
}

/// Whether any of the eight bytes of `word` must be escaped in a JSON
/// string: a control byte (below 0x20), `"` or `\\`. Exact for "any"; the
/// lowest flagged byte (see [`push_escaped`]) is the first such byte.
#[inline]
fn escape_mask(word: u64) -> u64 {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGH: u64 = 0x8080_8080_8080_8080;
    let below_space = word.wrapping_sub(ONES * 0x20) & !word;
    let quote = word ^ (ONES * b'"' as u64);
    let quote = quote.wrapping_sub(ONES) & !quote;
    let backslash = word ^ (ONES * b'\\' as u64);
    let backslash = backslash.wrapping_sub(ONES) & !backslash;
    (below_space | quote | backslash) & HIGH
}

/// The one escaper behind [`push_json_str`] and [`push_serde_json_str`]:
/// terminal text is mostly plain runs between escape sequences and line
/// ends, so runs are skipped eight bytes at a time and copied whole.
fn push_escaped(out: &mut Vec<u8>, s: &str, short_b_f: bool) {
    out.reserve(s.len() + 2);
    out.push(b'"');
    push_escaped_contents(out, s, short_b_f);
    out.push(b'"');
}

/// Appends the inside of [`push_serde_json_str`]'s string, without the
/// quotes: a string written in pieces (each whole characters) is escaped
/// as the pieces joined would be, with no copy of them joined.
pub(crate) fn push_serde_json_str_contents(out: &mut Vec<u8>, s: &str) {
    push_escaped_contents(out, s, true);
}

/// [`push_escaped`] without the quotes.
#[inline]
fn push_escaped_contents(out: &mut Vec<u8>, s: &str, short_b_f: bool) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let bytes = s.as_bytes();
    out.reserve(bytes.len());
    let (mut start, mut i) = (0, 0);
    while i < bytes.len() {
        if let Some(chunk) = bytes[i..].first_chunk::<8>() {
            let mask = escape_mask(u64::from_le_bytes(*chunk));
            if mask == 0 {
                i += 8;
                continue;
            }
            // A borrow only carries upwards: the lowest flag is a real one.
            i += (mask.trailing_zeros() / 8) as usize;
        }
        let c = bytes[i];
        let escape: &[u8] = match c {
            b'"' => b"\\\"",
            b'\\' => b"\\\\",
            b'\n' => b"\\n",
            b'\r' => b"\\r",
            b'\t' => b"\\t",
            0x08 if short_b_f => b"\\b",
            0x0c if short_b_f => b"\\f",
            0..=0x1f => b"",
            _ => {
                i += 1;
                continue;
            }
        };
        out.extend_from_slice(&bytes[start..i]);
        if escape.is_empty() {
            out.extend_from_slice(&[
                b'\\',
                b'u',
                b'0',
                b'0',
                HEX[usize::from(c >> 4)],
                HEX[usize::from(c & 0xf)],
            ]);
        } else {
            out.extend_from_slice(escape);
        }
        i += 1;
        start = i;
    }
    out.extend_from_slice(&bytes[start..]);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_strings_escape_what_json_requires() {
        let mut out = Vec::new();
        push_json_str(&mut out, "a\"b\\c\nd\u{1}é/");
        assert_eq!(
            String::from_utf8(out.clone()).unwrap(),
            r#""a\"b\\c\nd\u0001é/""#
        );
        let back: String = serde_json::from_slice(&out).unwrap();
        assert_eq!(back, "a\"b\\c\nd\u{1}é/");
    }

    /// The escaping as it was written before runs were skipped a word at a
    /// time: every byte looked at alone.
    fn escaped_bytewise(s: &str, short_b_f: bool) -> Vec<u8> {
        let mut out = vec![b'"'];
        for c in s.bytes() {
            match c {
                b'"' => out.extend_from_slice(b"\\\""),
                b'\\' => out.extend_from_slice(b"\\\\"),
                b'\n' => out.extend_from_slice(b"\\n"),
                b'\r' => out.extend_from_slice(b"\\r"),
                b'\t' => out.extend_from_slice(b"\\t"),
                0x08 if short_b_f => out.extend_from_slice(b"\\b"),
                0x0c if short_b_f => out.extend_from_slice(b"\\f"),
                0..=0x1f => out.extend_from_slice(format!("\\u{c:04x}").as_bytes()),
                _ => out.push(c),
            }
        }
        out.push(b'"');
        out
    }

    proptest::proptest! {
        /// Every byte value at every place in a word: the word-at-a-time
        /// skip never misses a byte to escape, and the serde flavour is
        /// serde_json's own bytes.
        #[test]
        fn escaping_matches_bytewise_and_serde_json(
            chars in proptest::collection::vec(
                proptest::prop_oneof![
                    0u32..0x80,
                    proptest::sample::select(vec![0x7f, 0xe9, 0x2028, 0xfffd, 0x1f600]),
                ],
                0..64,
            )
        ) {
            let s: String = chars.into_iter().filter_map(char::from_u32).collect();
            let mut ours = Vec::new();
            push_json_str(&mut ours, &s);
            proptest::prop_assert_eq!(&ours, &escaped_bytewise(&s, false));
            let mut serde_like = Vec::new();
            push_serde_json_str(&mut serde_like, &s);
            proptest::prop_assert_eq!(&serde_like, &escaped_bytewise(&s, true));
            proptest::prop_assert_eq!(&serde_like, &serde_json::to_vec(&s).unwrap());
        }
    }
}
