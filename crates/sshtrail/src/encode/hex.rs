//! The hex layouts: one event a line, or a header and `hexdump -C` lines.

use std::io::Write;

use super::{EncodeError, Encoder};
use crate::event::Event;

/// Checks that the type and time fit in a whitespace-separated header and
/// appends `TS TYPE` (a jsonl space between date and time becomes `T`).
fn push_header(line: &mut Vec<u8>, event: &Event<'_>) -> Result<(), EncodeError> {
    let name = event.kind.name();
    if name.is_empty() || name.bytes().any(|c| c.is_ascii_whitespace() || c < 0x20) {
        return Err(EncodeError::Unrepresentable(format!("event type {name:?} cannot be written in the hex layouts, whose fields are separated by spaces")));
    }
    line.extend(
        event
            .ts_text
            .bytes()
            .map(|c| if c == b' ' { b'T' } else { c }),
    );
    line.push(b' ');
    line.extend_from_slice(name.as_bytes());
    Ok(())
}

fn push_hex(line: &mut Vec<u8>, payload: &[u8]) {
    let start = line.len();
    line.resize(start + payload.len() * 2, 0);
    // The destination is exactly twice the source, which is all hex_encode needs.
    let _ = faster_hex::hex_encode(payload, &mut line[start..]);
}

/// Writes the hex line layout: `TS TYPE HEX`, lower-case, single spaces.
#[derive(Debug, Default, Clone)]
pub struct HexLineEncoder {
    line: Vec<u8>,
}

impl Encoder for HexLineEncoder {
    fn event(
        &mut self,
        out: &mut dyn Write,
        event: &Event<'_>,
        payload: &[u8],
    ) -> Result<(), EncodeError> {
        let line = &mut self.line;
        line.clear();
        push_header(line, event)?;
        if !payload.is_empty() {
            line.push(b' ');
            push_hex(line, payload);
        }
        line.push(b'\n');
        out.write_all(line)?;
        Ok(())
    }
}

/// Writes the hex dump layout: a `TS TYPE LENGTH` header and 16 bytes a
/// line as `hexdump -C` prints them.
#[derive(Debug, Default, Clone)]
pub struct HexDumpEncoder {
    buf: Vec<u8>,
    started: bool,
}

impl HexDumpEncoder {
    /// An encoder for output that continues a dump already started (no
    /// leading comment line).
    pub fn continuing() -> Self {
        HexDumpEncoder {
            buf: Vec::new(),
            started: true,
        }
    }
}

impl Encoder for HexDumpEncoder {
    fn event(
        &mut self,
        out: &mut dyn Write,
        event: &Event<'_>,
        payload: &[u8],
    ) -> Result<(), EncodeError> {
        let buf = &mut self.buf;
        buf.clear();
        if !self.started {
            buf.extend_from_slice(b"# hex dump layout\n");
        }
        push_header(buf, event)?;
        if !payload.is_empty() {
            buf.extend_from_slice(format!(" {}", payload.len()).as_bytes());
        }
        buf.push(b'\n');
        for (n, chunk) in payload.chunks(16).enumerate() {
            buf.extend_from_slice(format!("{:08x}  ", n * 16).as_bytes());
            for i in 0..16 {
                match chunk.get(i) {
                    Some(b) => {
                        push_hex(buf, &[*b]);
                        buf.push(b' ');
                    }
                    None => buf.extend_from_slice(b"   "),
                }
                if i == 7 {
                    buf.push(b' ');
                }
            }
            buf.extend_from_slice(b" |");
            buf.extend(
                chunk
                    .iter()
                    .map(|&c| if (0x20..0x7f).contains(&c) { c } else { b'.' }),
            );
            buf.extend_from_slice(b"|\n");
        }
        out.write_all(buf)?;
        self.started = true;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::SliceReader;

    fn encode(enc: &mut dyn Encoder, input: &str) -> Result<String, EncodeError> {
        let mut out = Vec::new();
        let mut payload = Vec::new();
        for ev in SliceReader::new(input.as_bytes()) {
            let ev = ev.unwrap();
            ev.decode_payload(&mut payload).unwrap();
            enc.event(&mut out, &ev, &payload)?;
        }
        Ok(String::from_utf8(out).unwrap())
    }

    #[test]
    fn line_layout() {
        let got = encode(&mut HexLineEncoder::default(), "{\"type\":\"stdout\",\"ts\":\"2023-06-07 17:32:29Z\",\"data\":\"bBtbSw==\"}\n{\"type\":\"reverse-reply\",\"ts\":\"2023-06-07T17:32:29.6Z\"}").unwrap();
        assert_eq!(
            got,
            "2023-06-07T17:32:29Z stdout 6c1b5b4b\n2023-06-07T17:32:29.6Z reverse-reply\n"
        );
    }

    #[test]
    fn dump_layout_matches_hexdump_c() {
        let got = encode(&mut HexDumpEncoder::default(), "2023-06-07T15:12:28.000000Z forward-new-channel-request 5a0000000773657373696f6e000000000020000000008000\n2023-06-07T15:12:28Z x\n").unwrap();
        assert_eq!(
            got,
            "# hex dump layout\n2023-06-07T15:12:28.000000Z forward-new-channel-request 24\n00000000  5a 00 00 00 07 73 65 73  73 69 6f 6e 00 00 00 00  |Z....session....|\n00000010  00 20 00 00 00 00 80 00                           |. ......|\n2023-06-07T15:12:28Z x\n"
        );
    }

    #[test]
    fn types_with_spaces_are_refused() {
        let err = encode(
            &mut HexLineEncoder::default(),
            r#"{"type":"my type","ts":"2023-06-07T17:32:29Z"}"#,
        )
        .unwrap_err();
        assert!(err.to_string().contains("\"my type\""), "{err}");
    }
}
