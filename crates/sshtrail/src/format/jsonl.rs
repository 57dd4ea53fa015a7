//! The jsonl layout (docs/FORMAT.md section 2): one JSON object a line.
//!
//! A small scanner made for the shape of trail events, not a general JSON
//! parser: it finds `type`, `ts` and `data` in any order without building a
//! tree, borrows every string from the line and leaves extra keys as raw
//! text. Extra values are checked with serde_json (which bounds nesting).

use std::borrow::Cow;

use crate::codec::json::{text, Key, ScanError, Scanner, Str};
use crate::error::{describe, ParseError};
use crate::event::{Event, EventType, Extras, Payload};
use crate::time::TimeCache;

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
    let at = |(i, msg): ScanError| ParseError::syntax(lineno, i as u64 + 1, msg);
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
        ParseError::time(lineno, col as u64 + 1, e.message)
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
        assert!(e.message().contains("expected '{'"), "{}", e.message());
        let e = err(r#"{"ts":"2023-06-07T15:12:30Z","data":"aGVsbG8="}"#);
        assert!(e.message().contains("\"type\""), "{}", e.message());
        let e = err(r#"{"type":"stdin","ts":"2023-13-07T15:12:30Z","data":"YQ=="}"#);
        assert_eq!(e.column, 28);
        assert!(e.message().contains("month"), "{}", e.message());
        let e = err(r#"{"type":"stdin","type":"stdout","ts":"2023-06-07T15:12:30Z"}"#);
        assert!(
            e.message().contains("duplicate key \"type\""),
            "{}",
            e.message()
        );
        assert_eq!(e.column, 17);
        let e = err(r#"{"type":"stdin","x":1,"x":2,"ts":"2023-06-07T15:12:30Z"}"#);
        assert!(
            e.message().contains("duplicate key \"x\""),
            "{}",
            e.message()
        );
        let e = err(r#"{"type":"stdin","ts":"2023-06-07T15:12:30Z"} x"#);
        assert!(e.message().contains("end of the line"), "{}", e.message());
        let e = err(r#"{"type":"stdin","ts":"2023-06-07T15:12:30Z","data":5}"#);
        assert!(
            e.message().contains("base64 string or null"),
            "{}",
            e.message()
        );
        let e = err(r#"{"type":"stdin","ts":"2023-06-07T15:12:30Z","x":tru}"#);
        assert!(e.message().contains("bad JSON value"), "{}", e.message());
        let e = err(r#"{"type":"stdin","ts":"2023-06-07T15:12:30Z""#);
        assert!(
            e.message().contains("expected ',' or '}'"),
            "{}",
            e.message()
        );
        let e = err("{\"type\":\"st\tdin\",\"ts\":\"2023-06-07T15:12:30Z\"}");
        assert!(e.message().contains("control"), "{}", e.message());
    }

    #[test]
    fn bad_base64_points_at_the_character() {
        let line = r#"{"type":"stdout","ts":"2023-06-07T15:12:30Z","data":"aGVsb*8="}"#;
        let e = ev(line);
        let err = e.decode_payload(&mut Vec::new()).unwrap_err();
        assert_eq!(err.column as usize, line.find('*').unwrap() + 1);
        assert!(err.message().contains("found '*'"), "{}", err.message());
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
        assert!(err(&deep).message().contains("nested"));
    }
}
