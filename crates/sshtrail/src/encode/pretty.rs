//! A listing for people: time, type, payload length and the payload as
//! escaped text.

use std::io::Write;

use super::{EncodeError, Encoder};
use crate::event::{Event, EventType};
use crate::ssh::{self, Decoded};

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
            if c == '\\' {
                out.extend_from_slice(b"\\\\");
            } else if let Some(escaped) = control_escape(c) {
                out.extend_from_slice(escaped.as_bytes());
            } else {
                let mut b = [0; 4];
                out.extend_from_slice(c.encode_utf8(&mut b).as_bytes());
            }
        }
        for b in chunk.invalid() {
            out.extend_from_slice(format!("\\x{b:02x}").as_bytes());
        }
    }
}

/// How a control character (C0, DEL, C1) is shown: `\n`, `\e`, `\x9b`;
/// `None` for any other character.
pub(crate) fn control_escape(c: char) -> Option<std::borrow::Cow<'static, str>> {
    Some(match c {
        '\n' => "\\n".into(),
        '\r' => "\\r".into(),
        '\t' => "\\t".into(),
        '\x1b' => "\\e".into(),
        c if c.is_control() => format!("\\x{:02x}", c as u32).into(),
        _ => return None,
    })
}

/// `text` with its control characters escaped as the listing of `cat` does
/// (backslashes kept as they are): a file name, an id or a message from
/// an input, made safe to print on a terminal, where ESC, BEL or a line
/// end could set the title or forge a line.
///
/// ```
/// use sshtrail::encode::escape_controls;
/// assert_eq!(escape_controls("a\x1b]0;pwned\x07\nb"), "a\\e]0;pwned\\x07\\nb");
/// assert_eq!(escape_controls("plain/ok"), "plain/ok");
/// ```
pub fn escape_controls(text: &str) -> std::borrow::Cow<'_, str> {
    if !text.chars().any(char::is_control) {
        return std::borrow::Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        match control_escape(c) {
            Some(escaped) => out.push_str(&escaped),
            None => out.push(c),
        }
    }
    std::borrow::Cow::Owned(out)
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
                escape_controls(event.kind.name()),
                payload.len()
            )
            .as_bytes(),
        );
        let is_data = matches!(
            event.kind,
            EventType::Stdin | EventType::Stdout | EventType::Stderr
        );
        if !is_data && event.kind.direction().is_some() {
            // Requests and replies: the decoded SSH message, not its bytes.
            let hint = ssh::request_hint(event);
            if let Decoded::Message { message, .. } =
                ssh::decode(&event.kind, payload, hint.as_deref())
            {
                // An exec command or an environment value may hold
                // control characters: shown escaped, like payloads.
                line.extend_from_slice(
                    format!("  {}\n", escape_controls(&message.to_string())).as_bytes(),
                );
                out.write_all(line)?;
                return Ok(());
            }
            line.extend_from_slice(b"  (undecoded)");
        }
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
    fn requests_show_their_decoded_message() {
        let log = b"2023-06-07T17:32:29Z forward-request 62000000000000000d77696e646f772d6368616e676500000000640000001e0000000000000000\n2023-06-07T17:32:30Z reverse-reply\n";
        let mut out = Vec::new();
        let mut enc = PrettyEncoder::default();
        let mut buf = Vec::new();
        for ev in crate::SliceReader::new(log) {
            let ev = ev.unwrap();
            ev.decode_payload(&mut buf).unwrap();
            enc.event(&mut out, &ev, &buf).unwrap();
        }
        let text = String::from_utf8(out).unwrap();
        assert!(
            text.lines()
                .next()
                .unwrap()
                .ends_with("  window-change 100x30"),
            "{text}"
        );
        assert!(
            text.lines().nth(1).unwrap().ends_with("0  (undecoded)"),
            "{text}"
        );
    }

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
