//! Base64 payloads of the jsonl layout (standard alphabet, padding optional).

use crate::error::{describe, ParseError};

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
            .map_err(|e| ParseError::payload(line, column, format!("bad JSON string: {e}")))?;
        unescaped.as_bytes()
    } else {
        text
    };
    let engine = if src.len().is_multiple_of(4) {
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
    Err(ParseError::payload(
        line,
        column + raw_offset as u64,
        message,
    ))
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
    if pads > 2 || (pads > 0 && !src.len().is_multiple_of(4)) {
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
