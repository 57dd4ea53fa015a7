//! The jsonl layout (FORMAT.md section 2): one JSON object a line.
//!
//! A small scanner made for the shape of trail events, not a general JSON
//! parser: it finds `type`, `ts` and `data` in any order without building a
//! tree, borrows every string from the line and leaves extra keys as raw
//! text. Extra values are checked with serde_json (which bounds nesting).

use std::borrow::Cow;

use crate::error::{describe, ParseError};
use crate::event::{Event, EventType, Extras, Payload};
use crate::time::TimeCache;

/// Deepest nesting accepted in an extra value; serde_json's own limit is 128.
const MAX_DEPTH: usize = 128;

/// A scan failure: byte offset in the line and message.
type ScanError = (usize, String);

/// Which of the keys the reader cares about a member is.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Key {
    Type,
    Ts,
    Data,
    Other,
}

struct Scanner<'a> {
    b: &'a [u8],
    i: usize,
}

impl<'a> Scanner<'a> {
    fn peek(&self) -> Option<u8> {
        self.b.get(self.i).copied()
    }

    fn skip_ws(&mut self) {
        while let Some(b' ' | b'\t' | b'\r' | b'\n') = self.peek() {
            self.i += 1;
        }
    }

    fn err<T>(&self, expected: &str) -> Result<T, ScanError> {
        Err((
            self.i,
            format!("expected {expected}, found {}", describe(self.peek())),
        ))
    }

    fn expect(&mut self, c: u8, expected: &str) -> Result<(), ScanError> {
        if self.peek() == Some(c) {
            self.i += 1;
            Ok(())
        } else {
            self.err(expected)
        }
    }

    /// Scans a string at `self.i` (which must be `"`). Returns the content
    /// span and whether it holds escapes.
    fn string(&mut self) -> Result<(usize, usize, bool), ScanError> {
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
    fn value(&mut self) -> Result<(usize, usize), ScanError> {
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
    fn key(&self, start: usize, end: usize, escaped: bool) -> Key {
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
struct Str {
    start: usize,
    end: usize,
    escaped: bool,
}

/// Parses one line (without its line end) into an event.
#[inline]
pub(crate) fn parse_line<'a>(
    line: &'a [u8],
    lineno: u64,
    times: &mut TimeCache,
) -> Result<Event<'a>, ParseError> {
    if let Some(event) = parse_canonical(line, lineno, times) {
        return Ok(event);
    }
    parse_general(line, lineno, times)
}

/// The fast path: a line exactly in the canonical shape
/// `{"type":"T","ts":"TS","data":"B64"}` with no escapes, which is what the
/// gateway writes. Anything else (or anything wrong) returns `None` and
/// goes through the general parser, which also finds the errors.
#[inline]
fn parse_canonical<'a>(line: &'a [u8], lineno: u64, times: &mut TimeCache) -> Option<Event<'a>> {
    let rest = line.strip_prefix(b"{\"type\":\"")?;
    let ty_len = memchr::memchr(b'"', rest)?;
    let (ty, rest) = rest.split_at(ty_len);
    let rest = rest.strip_prefix(b"\",\"ts\":\"")?;
    let ts_len = memchr::memchr(b'"', rest)?;
    let (ts, rest) = rest.split_at(ts_len);
    let data = rest.strip_prefix(b"\",\"data\":\"")?.strip_suffix(b"\"}")?;
    // A timestamp with an escape or a control character fails to parse, so
    // only the type needs the check.
    if ty.iter().any(|&c| c == b'\\' || c < 0x20) || memchr::memchr2(b'"', b'\\', data).is_some() {
        return None;
    }
    let nanos = times.parse(ts, true).ok()?;
    let ty = std::str::from_utf8(ty).ok()?;
    let ts_text = std::str::from_utf8(ts).ok()?;
    let payload = if data.is_empty() {
        Payload::Empty
    } else {
        Payload::Base64 {
            text: data,
            escaped: false,
            line: lineno,
            column: (line.len() - 2 - data.len()) as u64 + 1,
        }
    };
    Some(Event {
        kind: EventType::from_name(Cow::Borrowed(ty)),
        ts_text: Cow::Borrowed(ts_text),
        ts: nanos,
        payload,
        extras: Extras::default(),
        line: lineno,
    })
}

/// Any JSON object on one line, keys in any order, with escapes and extras.
fn parse_general<'a>(
    line: &'a [u8],
    lineno: u64,
    times: &mut TimeCache,
) -> Result<Event<'a>, ParseError> {
    let at = |(i, msg): ScanError| ParseError::new(lineno, i as u64 + 1, msg);
    let mut s = Scanner { b: line, i: 0 };
    s.skip_ws();
    if s.peek() != Some(b'{') {
        return Err(at((
            s.i,
            format!(
                "expected '{{' (a JSON object), found {}",
                describe(s.peek())
            ),
        )));
    }
    s.i += 1;
    let object_start = s.i - 1;
    let mut ty: Option<Str> = None;
    let mut ts: Option<Str> = None;
    let mut data: Option<Option<Str>> = None;
    let mut extras = 0u32;
    // Keys of extras, for the duplicate check; a small list scanned linearly
    // because events rarely carry more than one or two.
    let mut extra_keys: std::collections::HashSet<Cow<'_, [u8]>> = std::collections::HashSet::new();
    s.skip_ws();
    if s.peek() == Some(b'}') {
        s.i += 1;
    } else {
        loop {
            s.skip_ws();
            let key_at = s.i;
            let (ks, ke, kesc) = s.string().map_err(at)?;
            s.skip_ws();
            s.expect(b':', "':' after the key").map_err(at)?;
            s.skip_ws();
            let kind = s.key(ks, ke, kesc);
            let dup = |name: &str| at((key_at, format!("duplicate key \"{name}\"")));
            match kind {
                Key::Type | Key::Ts => {
                    let value_at = s.i;
                    if s.peek() != Some(b'"') {
                        let name = if kind == Key::Type { "type" } else { "ts" };
                        return Err(at((
                            value_at,
                            format!(
                                "expected a string for \"{name}\", found {}",
                                describe(s.peek())
                            ),
                        )));
                    }
                    let (vs, ve, vesc) = s.string().map_err(at)?;
                    let slot = if kind == Key::Type { &mut ty } else { &mut ts };
                    if slot.is_some() {
                        return Err(dup(if kind == Key::Type { "type" } else { "ts" }));
                    }
                    *slot = Some(Str {
                        start: vs,
                        end: ve,
                        escaped: vesc,
                    });
                }
                Key::Data => {
                    if data.is_some() {
                        return Err(dup("data"));
                    }
                    if line[s.i..].starts_with(b"null") {
                        s.i += 4;
                        data = Some(None);
                    } else if s.peek() == Some(b'"') {
                        let (vs, ve, vesc) = s.string().map_err(at)?;
                        data = Some(Some(Str {
                            start: vs,
                            end: ve,
                            escaped: vesc,
                        }));
                    } else {
                        return Err(at((
                            s.i,
                            format!(
                                "expected a base64 string or null for \"data\", found {}",
                                describe(s.peek())
                            ),
                        )));
                    }
                }
                Key::Other => {
                    let key: Cow<'_, [u8]> = if kesc {
                        serde_json::from_slice::<String>(&line[ks - 1..ke + 1])
                            .map(|k| Cow::Owned(k.into_bytes()))
                            .unwrap_or(Cow::Borrowed(&line[ks..ke]))
                    } else {
                        Cow::Borrowed(&line[ks..ke])
                    };
                    if std::str::from_utf8(&line[ks..ke]).is_err()
                        || line[ks..ke].iter().any(|&c| c < 0x20)
                    {
                        return Err(at((
                            ks,
                            "expected UTF-8 text without control characters in the key".into(),
                        )));
                    }
                    if extra_keys.contains(&key) {
                        return Err(at((
                            key_at,
                            format!("duplicate key \"{}\"", String::from_utf8_lossy(&key)),
                        )));
                    }
                    let (vs, ve) = s.value().map_err(at)?;
                    if std::str::from_utf8(&line[vs..ve]).is_err() {
                        return Err(at((vs, "expected UTF-8 text in the value".into())));
                    }
                    extra_keys.insert(key);
                    extras += 1;
                }
            }
            s.skip_ws();
            match s.peek() {
                Some(b',') => s.i += 1,
                Some(b'}') => {
                    s.i += 1;
                    break;
                }
                _ => {
                    return Err(at((
                        s.i,
                        format!("expected ',' or '}}', found {}", describe(s.peek())),
                    )))
                }
            }
        }
    }
    let object_end = s.i;
    s.skip_ws();
    if s.i < line.len() {
        return Err(at((
            s.i,
            format!(
                "expected the end of the line after the object, found {}",
                describe(s.peek())
            ),
        )));
    }
    let missing = |name: &str| {
        at((
            object_end - 1,
            format!("expected key \"{name}\", found the end of the object without it"),
        ))
    };
    let ty = ty.ok_or_else(|| missing("type"))?;
    let ts = ts.ok_or_else(|| missing("ts"))?;

    let ty_text = text(line, ty).map_err(|m| at((ty.start, m)))?;
    let ts_text = text(line, ts).map_err(|m| at((ts.start, m)))?;
    let nanos = times.parse(ts_text.as_bytes(), true).map_err(|e| {
        // Map the offset back into the line; exact unless the text had escapes.
        let col = if ts.escaped {
            ts.start
        } else {
            ts.start + e.offset
        };
        at((col, e.message))
    })?;
    let payload = match data.flatten() {
        Some(d) if d.end > d.start => Payload::Base64 {
            text: &line[d.start..d.end],
            escaped: d.escaped,
            line: lineno,
            column: d.start as u64 + 1,
        },
        _ => Payload::Empty,
    };
    let object = if extras > 0 {
        // The scanner checked UTF-8 of every span extras() will hand out; the
        // object as a whole may still hold non-UTF-8 bytes inside `data`,
        // which fails base64 anyway, so fall back to the lossless check.
        std::str::from_utf8(&line[object_start..object_end])
            .map_err(|e| at((object_start + e.valid_up_to(), "expected UTF-8 text".into())))?
    } else {
        ""
    };
    Ok(Event {
        kind: EventType::from_name(ty_text),
        ts_text,
        ts: nanos,
        payload,
        extras: Extras::new(object, extras),
        line: lineno,
    })
}

/// The text of a string value: borrowed when it has no escapes.
fn text(line: &[u8], s: Str) -> Result<Cow<'_, str>, String> {
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

/// Decodes base64 (standard alphabet, padding optional) into `out`.
pub(crate) fn decode_base64(
    text: &[u8],
    escaped: bool,
    line: u64,
    column: u64,
    out: &mut Vec<u8>,
) -> Result<(), ParseError> {
    let unescaped;
    let src: &[u8] = if escaped {
        let mut quoted = Vec::with_capacity(text.len() + 2);
        quoted.push(b'"');
        quoted.extend_from_slice(text);
        quoted.push(b'"');
        unescaped = serde_json::from_slice::<String>(&quoted)
            .map_err(|e| ParseError::new(line, column, format!("bad JSON string: {e}")))?;
        unescaped.as_bytes()
    } else {
        text
    };
    let engine = if src.len() % 4 == 0 {
        base64_simd::STANDARD
    } else {
        base64_simd::STANDARD_NO_PAD
    };
    if engine.decode_append(src, out).is_ok() {
        return Ok(());
    }
    out.clear();
    let (offset, message) = base64_problem(src);
    let raw_offset = if escaped {
        raw_offset(text, offset)
    } else {
        offset
    };
    Err(ParseError::new(line, column + raw_offset as u64, message))
}

/// Finds why `src` is not base64: the offset of the first bad character and
/// what is wrong there.
fn base64_problem(src: &[u8]) -> (usize, String) {
    let pad_start = src.iter().rposition(|&c| c != b'=').map_or(0, |p| p + 1);
    for (i, &c) in src.iter().enumerate() {
        let ok = c.is_ascii_alphanumeric() || c == b'+' || c == b'/';
        if c == b'=' && i >= pad_start {
            continue;
        }
        if !ok {
            return (
                i,
                format!(
                    "bad base64: expected A-Z, a-z, 0-9, '+', '/' or '=' padding, found {}",
                    describe(Some(c))
                ),
            );
        }
    }
    let pads = src.len() - pad_start;
    if pads > 2 || (pads > 0 && src.len() % 4 != 0) {
        return (
            pad_start,
            format!(
                "bad base64: {pads} '=' padding character(s) do not fit a length of {}",
                src.len()
            ),
        );
    }
    if pad_start % 4 == 1 {
        return (
            pad_start.saturating_sub(1),
            "bad base64: a single character left over at the end (truncated data?)".into(),
        );
    }
    (
        pad_start.saturating_sub(1),
        "bad base64: the last character has bits that do not belong to the data (not canonical)"
            .into(),
    )
}

/// Maps an offset into unescaped text back to the raw JSON string content.
fn raw_offset(raw: &[u8], unescaped_offset: usize) -> usize {
    let (mut r, mut u) = (0, 0);
    while r < raw.len() && u < unescaped_offset {
        r += match raw[r] {
            b'\\' if raw.get(r + 1) == Some(&b'u') => 6,
            b'\\' => 2,
            _ => 1,
        };
        u += 1;
    }
    r
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ev(line: &str) -> Event<'_> {
        parse_line(line.as_bytes(), 1, &mut TimeCache::default()).unwrap()
    }

    fn err(line: &str) -> ParseError {
        parse_line(line.as_bytes(), 3, &mut TimeCache::default()).unwrap_err()
    }

    fn payload(e: &Event<'_>) -> Vec<u8> {
        let mut out = Vec::new();
        e.decode_payload(&mut out).unwrap();
        out
    }

    #[test]
    fn fast_and_general_paths_agree() {
        for line in [
            r#"{"type":"stdin","ts":"2023-06-07T17:32:29.512344Z","data":"bA=="}"#,
            r#"{"type":"x-y","ts":"2023-06-07 17:32:29Z","data":""}"#,
            r#"{"type":"stdout","ts":"2023-06-07T17:32:29Z","data":"aGVsb*8="}"#,
        ] {
            let fast = parse_canonical(line.as_bytes(), 9, &mut TimeCache::default()).unwrap();
            assert_eq!(
                fast,
                parse_general(line.as_bytes(), 9, &mut TimeCache::default()).unwrap(),
                "{line}"
            );
        }
        for line in [
            r#"{"type":"stdin","ts":"2023-06-07T17:32:29Z","data":"b\/A="}"#,
            r#"{"type":"std\u0069n","ts":"2023-06-07T17:32:29Z","data":"bA=="}"#,
            r#"{"type":"stdin","ts":"2023-13-07T17:32:29Z","data":"bA=="}"#,
            r#"{"type":"stdin","ts":"2023-06-07T17:32:29Z","data":"bA==","x":1}"#,
            r#"{"type":"stdin","ts":"2023-06-07T17:32:29Z","data":"bA"}  "#,
            "{\"type\":\"st\tdin\",\"ts\":\"2023-06-07T17:32:29Z\",\"data\":\"bA==\"}",
        ] {
            assert!(
                parse_canonical(line.as_bytes(), 1, &mut TimeCache::default()).is_none(),
                "{line}"
            );
        }
    }

    #[test]
    fn canonical_line() {
        let e = ev(r#"{"type":"stdin","ts":"2023-06-07T17:32:29.512344Z","data":"bA=="}"#);
        assert_eq!(e.kind, EventType::Stdin);
        assert_eq!(e.ts_text, "2023-06-07T17:32:29.512344Z");
        assert!(matches!(e.ts_text, Cow::Borrowed(_)));
        assert_eq!(payload(&e), b"l");
        assert!(e.extras.is_empty());
    }

    #[test]
    fn any_order_spaces_escapes_and_missing_padding() {
        let e =
            ev(r#"  { "data" : "YWJj\/w" , "ts":"2023-06-07 17:32:29Z" ,"type":"std\u006fut" }  "#);
        assert_eq!(e.kind, EventType::Stdout);
        assert_eq!(payload(&e), b"abc\xff");
        assert_eq!(e.ts_text, "2023-06-07 17:32:29Z");
    }

    #[test]
    fn data_may_be_absent_null_or_empty() {
        for l in [
            r#"{"type":"x","ts":"2023-06-07T17:32:29Z"}"#,
            r#"{"type":"x","ts":"2023-06-07T17:32:29Z","data":null}"#,
            r#"{"type":"x","ts":"2023-06-07T17:32:29Z","data":""}"#,
        ] {
            assert_eq!(ev(l).payload, Payload::Empty, "{l}");
        }
    }

    #[test]
    fn extras_are_kept_verbatim_in_order() {
        let line = r#"{"command":"ls -la \"x\"","ts":"2023-06-07T17:32:29Z","meta":{"a":[1,2,{"b":null}],"c":"\u00e9"},"type":"stdin","n":-1.5e3}"#;
        let e = ev(line);
        let got: Vec<_> = e.extras.iter().collect();
        assert_eq!(
            got,
            vec![
                ("\"command\"", r#""ls -la \"x\"""#),
                ("\"meta\"", r#"{"a":[1,2,{"b":null}],"c":"\u00e9"}"#),
                ("\"n\"", "-1.5e3")
            ]
        );
        assert_eq!(e.extras.len(), 3);
    }

    #[test]
    fn channel_id_from_string_or_number() {
        assert_eq!(
            ev(r#"{"type":"x","ts":"2023-06-07T17:32:29Z","channel_id":"abc"}"#)
                .channel_id()
                .as_deref(),
            Some("abc")
        );
        assert_eq!(
            ev(r#"{"type":"x","ts":"2023-06-07T17:32:29Z","channel_id":7}"#)
                .channel_id()
                .as_deref(),
            Some("7")
        );
        assert_eq!(
            ev(r#"{"type":"x","ts":"2023-06-07T17:32:29Z"}"#).channel_id(),
            None
        );
    }

    #[test]
    fn errors_name_the_column() {
        let e = err(r#"["stdin","2023-06-07T15:12:30Z","YQ=="]"#);
        assert_eq!((e.line, e.column), (3, 1));
        assert!(e.message.contains("expected '{'"), "{}", e.message);
        let e = err(r#"{"ts":"2023-06-07T15:12:30Z","data":"aGVsbG8="}"#);
        assert!(e.message.contains("\"type\""), "{}", e.message);
        let e = err(r#"{"type":"stdin","ts":"2023-13-07T15:12:30Z","data":"YQ=="}"#);
        assert_eq!(e.column, 28);
        assert!(e.message.contains("month"), "{}", e.message);
        let e = err(r#"{"type":"stdin","type":"stdout","ts":"2023-06-07T15:12:30Z"}"#);
        assert!(
            e.message.contains("duplicate key \"type\""),
            "{}",
            e.message
        );
        assert_eq!(e.column, 17);
        let e = err(r#"{"type":"stdin","x":1,"x":2,"ts":"2023-06-07T15:12:30Z"}"#);
        assert!(e.message.contains("duplicate key \"x\""), "{}", e.message);
        let e = err(r#"{"type":"stdin","ts":"2023-06-07T15:12:30Z"} x"#);
        assert!(e.message.contains("end of the line"), "{}", e.message);
        let e = err(r#"{"type":"stdin","ts":"2023-06-07T15:12:30Z","data":5}"#);
        assert!(e.message.contains("base64 string or null"), "{}", e.message);
        let e = err(r#"{"type":"stdin","ts":"2023-06-07T15:12:30Z","x":tru}"#);
        assert!(e.message.contains("bad JSON value"), "{}", e.message);
        let e = err(r#"{"type":"stdin","ts":"2023-06-07T15:12:30Z""#);
        assert!(e.message.contains("expected ',' or '}'"), "{}", e.message);
        let e = err("{\"type\":\"st\tdin\",\"ts\":\"2023-06-07T15:12:30Z\"}");
        assert!(e.message.contains("control"), "{}", e.message);
    }

    #[test]
    fn bad_base64_points_at_the_character() {
        let line = r#"{"type":"stdout","ts":"2023-06-07T15:12:30Z","data":"aGVsb*8="}"#;
        let e = ev(line);
        let err = e.decode_payload(&mut Vec::new()).unwrap_err();
        assert_eq!(err.column as usize, line.find('*').unwrap() + 1);
        assert!(err.message.contains("found '*'"), "{}", err.message);
        let line = r#"{"type":"stdout","ts":"2023-06-07T15:12:30Z","data":"a\/*A"}"#;
        let err = ev(line).decode_payload(&mut Vec::new()).unwrap_err();
        assert_eq!(err.column as usize, line.find('*').unwrap() + 1);
        for bad in ["YR==", "Y===", "YQ=", "Y"] {
            let line = format!(r#"{{"type":"stdout","ts":"2023-06-07T15:12:30Z","data":"{bad}"}}"#);
            assert!(ev(&line).decode_payload(&mut Vec::new()).is_err(), "{bad}");
        }
    }

    #[test]
    fn deep_nesting_is_an_error_not_a_crash() {
        let deep = format!(
            r#"{{"type":"x","ts":"2023-06-07T15:12:30Z","x":{}{}}}"#,
            "[".repeat(100_000),
            "]".repeat(100_000)
        );
        assert!(err(&deep).message.contains("nested"));
    }
}
