//! The hex layouts (docs/FORMAT.md section 3): one event a line
//! (`TS TYPE [HEX]`), or a header line followed by `hexdump -C` style lines.

use std::borrow::Cow;

use crate::codec::hex::{dump_line, hex_problem, is_dump_line};
use crate::codec::line_at;
use crate::error::ParseError;
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

/// One step of the hex reader.
pub(crate) enum HexStep<'a> {
    /// An event (or an error), and where the next record starts with how
    /// many lines were consumed.
    Done(Result<Event<'a>, ParseError>, usize, u64),
    /// The record continues past the end of the buffer.
    NeedMore,
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
    seen_dump: bool,
) -> HexStep<'a> {
    let at = |col: usize, msg: String| ParseError::syntax(lineno, col as u64 + 1, msg);
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
        Err(e) => {
            return done(Err(ParseError::time(
                lineno,
                (ts_at + e.offset) as u64 + 1,
                e.message,
            )))
        }
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
            // The input ends right after what reads as a dump header, in a
            // log of dumps: the dump was cut off, and the field is its
            // length, not a payload.
            None if seen_dump => {
                return done(Err(at(
                    p_at,
                    format!(
                    "expected the dump of {} bytes after this header, found the end of the input",
                    String::from_utf8_lossy(p)
                ),
                )))
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
                    problem = Some(ParseError::syntax(
                        here,
                        1,
                        format!("expected dump offset {total:08x}, found {offset:08x}"),
                    ))
                }
                Err((col, msg)) => {
                    let mut e = ParseError::syntax(here, col as u64 + 1, msg);
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
        let e = ParseError::syntax(
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
    use crate::codec::hex::dump_line16;

    fn one(buf: &str) -> Result<Event<'_>, ParseError> {
        let (line, next, _) = line_at(buf.as_bytes(), 0, true).unwrap();
        match parse_record(
            buf.as_bytes(),
            line,
            next,
            true,
            1,
            &mut TimeCache::default(),
            false,
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
        assert!(e.message().contains("5 bytes"), "{}", e.message());
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
        assert!(e.message().contains("even"), "{}", e.message());
        let e = one("2023-06-07T15:12:30Z\n").unwrap_err();
        assert!(e.message().contains("event type"), "{}", e.message());
        let e = one("2023-06-07T15:12:30Z stdout 6c 1b\n").unwrap_err();
        assert!(e.message().contains("fourth"), "{}", e.message());
        let e = one("2023-06-07 15:12:30Z stdout\n").unwrap_err();
        assert_eq!(e.column, 11);
    }

    #[test]
    fn a_dump_header_cut_off_at_the_end_of_a_log_of_dumps_is_an_error() {
        let log = b"2023-06-07T17:32:29Z stdout 2\n00000000  68 69                                             |hi|\n2023-06-07T17:32:30Z stdout 66\n";
        let got: Vec<_> = crate::SliceReader::new(log).collect();
        assert!(got[0].is_ok());
        let e = got[1].as_ref().unwrap_err();
        assert_eq!((e.line, e.column), (3, 29));
        assert!(e.message().contains("expected the dump of 66 bytes"), "{e}");
        // In the line layout the same line is a one-byte payload.
        let line = b"2023-06-07T17:32:29Z stdout 68\n2023-06-07T17:32:30Z stdout 66\n";
        assert!(crate::SliceReader::new(line).all(|r| r.is_ok()));
    }

    #[test]
    fn waits_for_the_line_after_a_decimal_field() {
        let buf = b"2023-06-07T17:32:29Z stdout 4\n0000";
        let (line, next, _) = line_at(buf, 0, false).unwrap();
        assert!(matches!(
            parse_record(buf, line, next, false, 1, &mut TimeCache::default(), false),
            HexStep::NeedMore
        ));
    }
}
