//! The codecs the readers, the event model and the writers share: base64,
//! hex and hex dump lines, JSON strings and values, and splitting a buffer
//! into lines. A leaf: it depends on nothing else in the crate but the
//! error type, so the event model and the layout readers both build on it.

pub(crate) mod base64;
pub(crate) mod hex;
pub(crate) mod json;

/// The decimal digits of `n`, written at the end of `buf` (what `{n}`
/// formats, without `fmt`: records and cast events write several numbers
/// each).
pub(crate) fn u64_digits(mut n: u64, buf: &mut [u8; 20]) -> &[u8] {
    let mut at = buf.len();
    loop {
        at -= 1;
        buf[at] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    &buf[at..]
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
