//! The hex layouts (FORMAT.md section 3): one event a line
//! (`TS TYPE [HEX]`), or a header line followed by `hexdump -C` style lines.

use std::borrow::Cow;

use crate::error::{describe, ParseError};
use crate::event::{Event, EventType, Extras, Payload};
use crate::time::TimeCache;

/// Splits a header line into its fields at runs of spaces and tabs, giving
/// each field's start offset.
fn fields(line: &[u8]) -> impl Iterator<Item = (usize, &[u8])> {
    let mut i = 0;
    std::iter::from_fn(move || {
        while i < line.len() && matches!(line[i], b' ' | b'\t') {
            i += 1;
        }
        if i == line.len() {
            return None;
        }
        let start = i;
        // The payload field can be long: find its end with memchr.
        i = memchr::memchr2(b' ', b'\t', &line[i..]).map_or(line.len(), |n| i + n);
        Some((start, &line[start..i]))
    })
}

/// Decodes a full `hexdump -C` line (16 bytes in the canonical columns)
/// without a general scan; `None` for any other shape.
#[inline]
fn dump_line16(line: &[u8]) -> Option<[u8; 16]> {
    // 16 pairs end at column 58, each followed by a space (the last one
    // before the gutter); shorter lines take the general path.
    let cells = line.get(..59)?;
    let mut digits = [0u8; 32];
    let mut spaces = true;
    for k in 0..16 {
        let at = 10 + 3 * k + usize::from(k >= 8);
        digits[2 * k] = cells[at];
        digits[2 * k + 1] = cells[at + 1];
        spaces &= cells[at + 2] == b' ';
    }
    if !spaces || cells[33] != b' ' || cells[34] != b' ' {
        return None;
    }
    let mut out = [0u8; 16];
    faster_hex::hex_decode(&digits, &mut out).ok()?;
    Some(out)
}

/// True for a dump line: 8 hex digits of offset and two spaces.
pub(crate) fn is_dump_line(line: &[u8]) -> bool {
    line.len() >= 10 && line[..8].iter().all(u8::is_ascii_hexdigit) && &line[8..10] == b"  "
}

fn hex_val(c: u8) -> Option<u8> {
    match c {
        b'0'..=b'9' => Some(c - b'0'),
        b'a'..=b'f' => Some(c - b'a' + 10),
        b'A'..=b'F' => Some(c - b'A' + 10),
        _ => None,
    }
}

/// Parses one dump line: its offset and byte count, appending the bytes to
/// `out` when given. Errors carry a 0-based offset into the line.
pub(crate) fn dump_line(
    line: &[u8],
    mut out: Option<&mut Vec<u8>>,
) -> Result<(u64, usize), (usize, String)> {
    if !is_dump_line(line) {
        return Err((
            0,
            "expected a dump line (8 hex digits of offset, two spaces)".into(),
        ));
    }
    let offset = line[..8].iter().fold(0u64, |acc, &c| {
        acc * 16 + u64::from(hex_val(c).unwrap_or(0))
    });
    if let Some(bytes) = dump_line16(line) {
        if let Some(out) = out {
            out.extend_from_slice(&bytes);
        }
        return Ok((offset, 16));
    }
    let mut i = 10;
    let mut count = 0usize;
    loop {
        while i < line.len() && line[i] == b' ' {
            i += 1;
        }
        if i == line.len() || line[i] == b'|' {
            break;
        }
        if count == 16 {
            return Err((
                i,
                format!(
                    "expected at most 16 bytes on a dump line, found {}",
                    describe(Some(line[i]))
                ),
            ));
        }
        let hi = hex_val(line[i]);
        let lo = line.get(i + 1).copied().and_then(hex_val);
        let (Some(hi), Some(lo)) = (hi, lo) else {
            let bad = if hi.is_none() { i } else { i + 1 };
            return Err((
                bad,
                format!(
                    "expected a hex byte pair or the '|' gutter, found {}",
                    describe(line.get(bad).copied())
                ),
            ));
        };
        if let Some(c) = line.get(i + 2) {
            if *c != b' ' && *c != b'|' {
                return Err((
                    i + 2,
                    format!(
                        "expected a space after the byte pair, found {}",
                        describe(Some(*c))
                    ),
                ));
            }
        }
        if let Some(out) = out.as_deref_mut() {
            out.push(hi << 4 | lo);
        }
        count += 1;
        i += 2;
    }
    if count == 0 {
        return Err((
            i,
            format!(
                "expected at least one hex byte pair, found {}",
                describe(line.get(i).copied())
            ),
        ));
    }
    Ok((offset, count))
}

/// Appends the bytes of dump lines the reader has already checked.
pub(crate) fn decode_dump(text: &[u8], out: &mut Vec<u8>) {
    let mut pos = 0;
    while let Some((line, next, _)) = line_at(text, pos, true) {
        if !line.is_empty() {
            // Checked by the reader; a failure here cannot happen, and would
            // only shorten the payload.
            let _ = dump_line(line, Some(out));
        }
        pos = next;
    }
}

/// Decodes the hex digits of the line layout into `out`.
pub(crate) fn decode_hex(
    text: &[u8],
    line: u64,
    column: u64,
    out: &mut Vec<u8>,
) -> Result<(), ParseError> {
    if let Some((at, msg)) = hex_problem(text) {
        return Err(ParseError::new(line, column + at as u64, msg));
    }
    let start = out.len();
    out.resize(start + text.len() / 2, 0);
    if faster_hex::hex_decode(text, &mut out[start..]).is_err() {
        out.truncate(start);
        return Err(ParseError::new(line, column, "bad hex digits"));
    }
    Ok(())
}

/// Why `text` is not an even run of hex digits, if it is not.
fn hex_problem(text: &[u8]) -> Option<(usize, String)> {
    if faster_hex::hex_check(text) && text.len() % 2 == 0 {
        return None;
    }
    if let Some(i) = text.iter().position(|c| !c.is_ascii_hexdigit()) {
        return Some((
            i,
            format!("expected a hex digit, found {}", describe(Some(text[i]))),
        ));
    }
    Some((
        text.len() - 1,
        format!(
            "expected an even number of hex digits, found {}",
            text.len()
        ),
    ))
}

/// One step of the hex reader.
pub(crate) enum HexStep<'a> {
    /// An event (or an error), and where the next record starts with how
    /// many lines were consumed.
    Done(Result<Event<'a>, ParseError>, usize, u64),
    /// The record continues past the end of the buffer.
    NeedMore,
}

/// A line of the buffer: content without the line end, the start of the next
/// line, and whether a line end was there.
pub(crate) fn line_at(buf: &[u8], pos: usize, eof: bool) -> Option<(&[u8], usize, bool)> {
    if pos >= buf.len() {
        return None;
    }
    match memchr::memchr(b'\n', &buf[pos..]) {
        Some(n) => {
            let line = &buf[pos..pos + n];
            Some((line.strip_suffix(b"\r").unwrap_or(line), pos + n + 1, true))
        }
        None if eof => {
            let line = &buf[pos..];
            Some((line.strip_suffix(b"\r").unwrap_or(line), buf.len(), false))
        }
        None => None,
    }
}

/// Reads one hex record whose header line is `line` (line number `lineno`,
/// next line at `next`).
pub(crate) fn parse_record<'a>(
    buf: &'a [u8],
    line: &'a [u8],
    next: usize,
    eof: bool,
    lineno: u64,
    times: &mut TimeCache,
) -> HexStep<'a> {
    let at = |col: usize, msg: String| ParseError::new(lineno, col as u64 + 1, msg);
    let done = |r| HexStep::Done(r, next, 1);
    let mut f = fields(line);
    let Some((ts_at, ts)) = f.next() else {
        return done(Err(at(
            0,
            "expected a timestamp, found an empty line".into(),
        )));
    };
    let nanos = match times.parse(ts, false) {
        Ok(n) => n,
        Err(e) => return done(Err(at(ts_at + e.offset, e.message))),
    };
    let Some((ty_at, ty)) = f.next() else {
        return done(Err(at(
            line.len(),
            "expected an event type after the timestamp, found end of line".into(),
        )));
    };
    let third = f.next();
    if let Some((extra_at, _)) = f.next() {
        return done(Err(at(
            extra_at,
            "expected at most three fields (TS TYPE HEX), found a fourth".into(),
        )));
    }
    let (Ok(ts_text), Ok(ty_text)) = (std::str::from_utf8(ts), std::str::from_utf8(ty)) else {
        return done(Err(at(
            ty_at,
            "expected UTF-8 text in the event type".into(),
        )));
    };
    let event = |payload| Event {
        kind: EventType::from_name(Cow::Borrowed(ty_text)),
        ts_text: Cow::Borrowed(ts_text),
        ts: nanos,
        payload,
        extras: Extras::default(),
        line: lineno,
    };
    let Some((p_at, p)) = third else {
        return done(Ok(event(Payload::Empty)));
    };
    if p.iter().all(u8::is_ascii_digit) {
        // A decimal third field is a dump header when a dump line follows.
        match line_at(buf, next, eof) {
            None if !eof => return HexStep::NeedMore,
            Some((l, _, _)) if is_dump_line(l) => {
                return parse_dump(buf, next, eof, lineno, event, (p_at, p))
            }
            _ => {}
        }
        if p == b"0" {
            return done(Ok(event(Payload::Empty)));
        }
    }
    match hex_problem(p) {
        None => done(Ok(event(Payload::Hex {
            text: p,
            line: lineno,
            column: p_at as u64 + 1,
        }))),
        Some((i, msg)) => done(Err(at(p_at + i, msg))),
    }
}

fn parse_dump<'a>(
    buf: &'a [u8],
    first: usize,
    eof: bool,
    lineno: u64,
    event: impl FnOnce(Payload<'a>) -> Event<'a>,
    (len_at, len_text): (usize, &[u8]),
) -> HexStep<'a> {
    let mut pos = first;
    let mut lines = 1u64;
    let mut total = 0u64;
    let mut problem: Option<ParseError> = None;
    loop {
        let Some((l, next, eol)) = line_at(buf, pos, eof) else {
            if !eof {
                return HexStep::NeedMore;
            }
            break;
        };
        if !eol && !eof {
            return HexStep::NeedMore;
        }
        if !is_dump_line(l) {
            break;
        }
        let here = lineno + lines;
        if problem.is_none() {
            match dump_line(l, None) {
                Ok((offset, n)) if offset == total => total += n as u64,
                Ok((offset, _)) => {
                    problem = Some(ParseError::new(
                        here,
                        1,
                        format!("expected dump offset {total:08x}, found {offset:08x}"),
                    ))
                }
                Err((col, msg)) => {
                    let mut e = ParseError::new(here, col as u64 + 1, msg);
                    if !eol {
                        e.severity = crate::error::Severity::Warning;
                    }
                    problem = Some(e);
                }
            }
        }
        pos = next;
        lines += 1;
    }
    if let Some(e) = problem {
        return HexStep::Done(Err(e), pos, lines);
    }
    let declared = std::str::from_utf8(len_text)
        .ok()
        .and_then(|t| t.parse::<u64>().ok());
    if declared != Some(total) {
        let e = ParseError::new(
            lineno,
            len_at as u64 + 1,
            format!(
                "expected the dump to hold {} bytes as the header says, found {total}",
                String::from_utf8_lossy(len_text)
            ),
        );
        return HexStep::Done(Err(e), pos, lines);
    }
    let payload = Payload::HexDump {
        text: &buf[first..pos],
        len: total as usize,
    };
    HexStep::Done(Ok(event(payload)), pos, lines)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn one(buf: &str) -> Result<Event<'_>, ParseError> {
        let (line, next, _) = line_at(buf.as_bytes(), 0, true).unwrap();
        match parse_record(
            buf.as_bytes(),
            line,
            next,
            true,
            1,
            &mut TimeCache::default(),
        ) {
            HexStep::Done(r, _, _) => r,
            HexStep::NeedMore => panic!("need more at eof"),
        }
    }

    fn bytes(e: &Event<'_>) -> Vec<u8> {
        let mut v = Vec::new();
        e.decode_payload(&mut v).unwrap();
        v
    }

    #[test]
    fn line_layout() {
        let e = one("2023-06-07T17:32:29.513101Z stdout 6C1b5b4B\n").unwrap();
        assert_eq!(e.kind, EventType::Stdout);
        assert_eq!(bytes(&e), b"l\x1b[K");
        let e = one("2023-06-07T17:32:29.6Z\t reverse-reply \r\n").unwrap();
        assert_eq!(e.payload, Payload::Empty);
        // A decimal payload not followed by a dump line is hex.
        assert_eq!(
            bytes(&one("2023-06-07T17:32:29Z stdin 28\n").unwrap()),
            b"("
        );
    }

    #[test]
    fn dump_layout() {
        let text = "2023-06-07T17:32:29.513101Z stdout 18\n00000000  6c 1b 5b 4b 00 01 02 03  04 05 06 07 08 09 0a 0b  |l.[K............|\n00000010  0c 0d                                             |..|\nnext\n";
        let e = one(text).unwrap();
        assert_eq!(
            bytes(&e),
            b"l\x1b[K\x00\x01\x02\x03\x04\x05\x06\x07\x08\x09\x0a\x0b\x0c\x0d"
        );
        assert_eq!(e.payload_len_hint(), 18);
        let zero = one("2023-06-07T17:32:29.513101Z reverse-reply 0\n").unwrap();
        assert_eq!(zero.payload, Payload::Empty);
    }

    #[test]
    fn the_16_byte_fast_path_agrees_with_the_general_one() {
        let full =
            b"00000010  01 20 00 00 00 00 80 00  61 62 63 64 65 66 67 68  |. ......abcdefgh|";
        let mut fast = Vec::new();
        assert_eq!(dump_line(full, Some(&mut fast)).unwrap(), (16, 16));
        assert_eq!(dump_line16(full).unwrap().to_vec(), fast);
        assert_eq!(fast[..3], [1, 0x20, 0]);
        for odd in [
            &b"00000010  01 20 00 00 00 00 80 00 61 62 63 64 65 66 67 68 |x|"[..],
            b"00000010  01 20 00 00 00 00 80 00  61 62 63 64 65 66 67 6x  |x|",
            b"00000010  01 20 00 00 00 00 80 00  61 62 63 64 65 66 67",
            b"00000010  01 20 00 00 00 00 80 00  61 62 63 64 65 66 67 68",
        ] {
            assert!(dump_line16(odd).is_none());
        }
    }

    #[test]
    fn dump_errors() {
        let e = one("2023-06-07T17:32:29Z stdout 5\n00000000  6c 1b\n").unwrap_err();
        assert!(e.message.contains("5 bytes"), "{}", e.message);
        assert_eq!((e.line, e.column), (1, 29));
        let e =
            one("2023-06-07T17:32:29Z stdout 4\n00000000  6c 1b\n00000003  5b 4b\n").unwrap_err();
        assert_eq!((e.line, e.column), (3, 1));
        let e = one("2023-06-07T17:32:29Z stdout 4\n00000000  6c 1x 5b 4b\n").unwrap_err();
        assert_eq!((e.line, e.column), (2, 15));
        let e = one("2023-06-07T17:32:29Z stdout 2\n00000000  6c1b\n").unwrap_err();
        assert_eq!((e.line, e.column), (2, 13));
    }

    #[test]
    fn line_errors() {
        let e = one("2023-06-07T15:12:30Z stdout 6cxz\n").unwrap_err();
        assert_eq!(e.column, 31);
        let e = one("2023-06-07T15:12:30Z stdout 6c1\n").unwrap_err();
        assert!(e.message.contains("even"), "{}", e.message);
        let e = one("2023-06-07T15:12:30Z\n").unwrap_err();
        assert!(e.message.contains("event type"), "{}", e.message);
        let e = one("2023-06-07T15:12:30Z stdout 6c 1b\n").unwrap_err();
        assert!(e.message.contains("fourth"), "{}", e.message);
        let e = one("2023-06-07 15:12:30Z stdout\n").unwrap_err();
        assert_eq!(e.column, 11);
    }

    #[test]
    fn waits_for_the_line_after_a_decimal_field() {
        let buf = b"2023-06-07T17:32:29Z stdout 4\n0000";
        let (line, next, _) = line_at(buf, 0, false).unwrap();
        assert!(matches!(
            parse_record(buf, line, next, false, 1, &mut TimeCache::default()),
            HexStep::NeedMore
        ));
    }
}
