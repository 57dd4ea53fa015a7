//! The codecs the readers, the event model and the writers share: base64,
//! hex and hex dump lines, JSON strings and values, and splitting a buffer
//! into lines. A leaf: it depends on nothing else in the crate but the
//! error type, so the event model and the layout readers both build on it.

pub(crate) mod base64;
pub(crate) mod hex;
pub(crate) mod json;

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
