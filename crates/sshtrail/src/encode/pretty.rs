//! A listing for people: time, type, payload length and the payload as
//! escaped text.

use std::io::Write;

use super::{EncodeError, Encoder};
use crate::event::Event;

/// Writes one readable line per event.
#[derive(Debug, Clone)]
pub struct PrettyEncoder {
    line: Vec<u8>,
    /// Payload bytes shown per event; the rest is summarised.
    pub max_payload: usize,
}

impl Default for PrettyEncoder {
    fn default() -> Self {
        PrettyEncoder {
            line: Vec::new(),
            max_payload: 512,
        }
    }
}

/// Appends `bytes` with control characters and invalid UTF-8 escaped
/// (`\n`, `\e`, `\x07`), keeping printable UTF-8 as it is.
pub fn push_escaped(out: &mut Vec<u8>, bytes: &[u8]) {
    for chunk in bytes.utf8_chunks() {
        for c in chunk.valid().chars() {
            match c {
                '\n' => out.extend_from_slice(b"\\n"),
                '\r' => out.extend_from_slice(b"\\r"),
                '\t' => out.extend_from_slice(b"\\t"),
                '\\' => out.extend_from_slice(b"\\\\"),
                '\x1b' => out.extend_from_slice(b"\\e"),
                c if c.is_control() => {
                    out.extend_from_slice(format!("\\x{:02x}", c as u32).as_bytes())
                }
                c => {
                    let mut b = [0; 4];
                    out.extend_from_slice(c.encode_utf8(&mut b).as_bytes());
                }
            }
        }
        for b in chunk.invalid() {
            out.extend_from_slice(format!("\\x{b:02x}").as_bytes());
        }
    }
}

impl Encoder for PrettyEncoder {
    fn event(
        &mut self,
        out: &mut dyn Write,
        event: &Event<'_>,
        payload: &[u8],
    ) -> Result<(), EncodeError> {
        let line = &mut self.line;
        line.clear();
        line.extend_from_slice(
            format!(
                "{}  {:<27} {:>6}",
                event.ts_text,
                event.kind.name(),
                payload.len()
            )
            .as_bytes(),
        );
        if !payload.is_empty() {
            line.extend_from_slice(b"  ");
            let shown = &payload[..payload.len().min(self.max_payload)];
            push_escaped(line, shown);
            if shown.len() < payload.len() {
                line.extend_from_slice(
                    format!(" … (+{} bytes)", payload.len() - shown.len()).as_bytes(),
                );
            }
        }
        line.push(b'\n');
        out.write_all(line)?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_controls_and_bad_utf8() {
        let mut out = Vec::new();
        push_escaped(&mut out, b"h\xc3\xa9\x1b[K\r\n\x07\xff\\");
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "hé\\e[K\\r\\n\\x07\\xff\\\\"
        );
    }

    #[test]
    fn one_line_per_event_with_length() {
        let ev = crate::SliceReader::new(b"2023-06-07T17:32:29Z stdout 6c0a")
            .next()
            .unwrap()
            .unwrap();
        let mut out = Vec::new();
        let mut enc = PrettyEncoder {
            max_payload: 1,
            ..PrettyEncoder::default()
        };
        enc.event(&mut out, &ev, b"l\n").unwrap();
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "2023-06-07T17:32:29Z  stdout                           2  l … (+1 bytes)\n"
        );
    }
}
