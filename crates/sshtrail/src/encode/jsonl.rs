//! Canonical jsonl: `{"type":…,"ts":…,"data":…}` then the extra keys in their
//! original order, compact, one line, LF. Reading canonical jsonl and
//! writing it again gives the same bytes.

use std::io::Write;

use super::{EncodeError, Encoder};
use crate::codec::json::push_json_str;
use crate::event::Event;

/// Writes canonical jsonl.
#[derive(Debug, Default, Clone)]
pub struct JsonlEncoder {
    line: Vec<u8>,
}

impl Encoder for JsonlEncoder {
    fn event(
        &mut self,
        out: &mut dyn Write,
        event: &Event<'_>,
        payload: &[u8],
    ) -> Result<(), EncodeError> {
        let line = &mut self.line;
        line.clear();
        line.extend_from_slice(b"{\"type\":");
        push_json_str(line, event.kind.name());
        line.extend_from_slice(b",\"ts\":");
        push_json_str(line, &event.ts_text);
        line.extend_from_slice(b",\"data\":\"");
        base64_simd::STANDARD.encode_append(payload, line);
        line.push(b'"');
        for (key, value) in event.extras.iter() {
            line.push(b',');
            line.extend_from_slice(key.as_bytes());
            line.push(b':');
            line.extend_from_slice(value.as_bytes());
        }
        line.extend_from_slice(b"}\n");
        out.write_all(line)?;
        Ok(())
    }

    fn keeps_extras(&self) -> bool {
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::SliceReader;

    fn rewrite(input: &str) -> String {
        let mut enc = JsonlEncoder::default();
        let mut out = Vec::new();
        let mut payload = Vec::new();
        for ev in SliceReader::new(input.as_bytes()) {
            let ev = ev.unwrap();
            ev.decode_payload(&mut payload).unwrap();
            enc.event(&mut out, &ev, &payload).unwrap();
        }
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn canonical_input_is_written_unchanged() {
        let canonical = "{\"type\":\"stdin\",\"ts\":\"2023-06-07T17:32:29.512344Z\",\"data\":\"bA==\"}\n{\"type\":\"x-note\",\"ts\":\"2023-06-07T17:32:29Z\",\"data\":\"\",\"command\":\"ls -la \\\"x\\\"\",\"meta\":{\"a\":[1,{\"b\":null}]}}\n";
        assert_eq!(rewrite(canonical), canonical);
    }

    #[test]
    fn variants_become_canonical() {
        let got = rewrite(
            r#" { "data" : "YWJj\/w" , "n": 1, "ts":"2023-06-07 17:32:29Z" ,"type":"std\u006fut" } "#,
        );
        assert_eq!(
            got,
            "{\"type\":\"stdout\",\"ts\":\"2023-06-07 17:32:29Z\",\"data\":\"YWJj/w==\",\"n\":1}\n"
        );
    }
}
