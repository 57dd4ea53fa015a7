//! Hex payloads: the digits of the hex line layout and the lines of a
//! `hexdump -C` dump.

use crate::error::{describe, ParseError};

/// Decodes a full `hexdump -C` line (16 bytes in the canonical columns)
/// without a general scan; `None` for any other shape.
#[inline]
pub(crate) fn dump_line16(line: &[u8]) -> Option<[u8; 16]> {
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

pub(crate) fn hex_val(c: u8) -> Option<u8> {
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
    while let Some((line, next, _)) = super::line_at(text, pos, true) {
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
        return Err(ParseError::payload(line, column + at as u64, msg));
    }
    let start = out.len();
    out.resize(start + text.len() / 2, 0);
    if faster_hex::hex_decode(text, &mut out[start..]).is_err() {
        out.truncate(start);
        return Err(ParseError::payload(line, column, "bad hex digits"));
    }
    Ok(())
}

/// Why `text` is not an even run of hex digits, if it is not.
pub(crate) fn hex_problem(text: &[u8]) -> Option<(usize, String)> {
    if faster_hex::hex_check(text) && text.len().is_multiple_of(2) {
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
