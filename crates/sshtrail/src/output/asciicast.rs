//! asciicast v2 and v3 (the asciinema recording formats) from a channel.
//!
//! v2: a header line, then `[time, code, data]` with absolute times in
//! seconds. v3: a header with a `term` object, then intervals since the
//! previous event, computed from whole microseconds of absolute time so that
//! rounding never accumulates.

use std::io;

use serde_json::{json, Map, Value};

use super::{ChannelPart, Note, Output, PartKey, PerChannel, WriterOptions};
use crate::channel::{ChannelEvent, ChannelEventKind, ChannelState, RequestKind, Stream};
use crate::codec::json::{push_serde_json_str, push_serde_json_str_contents};
use crate::connection::Context;
use crate::time::{Nanos, NANOS_PER_SEC};
use crate::utf8::Utf8Joiner;

/// Which asciicast version to write.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum CastVersion {
    /// asciicast v2 (what most players read).
    #[default]
    V2,
    /// asciicast v3 (asciinema 3).
    V3,
}

/// Microseconds, rounded to nearest, of a duration in nanoseconds.
fn micros(ns: Nanos) -> i128 {
    (ns + 500).div_euclid(1000)
}

/// Appends `us` microseconds as seconds with six decimals.
fn push_seconds(out: &mut Vec<u8>, us: i128) {
    let whole = us.div_euclid(1_000_000);
    let fraction = us.rem_euclid(1_000_000) as u32;
    match i64::try_from(whole) {
        Ok(whole) => out.extend_from_slice(itoa_i64(whole, &mut [0; 20])),
        // Beyond any clock: the slow way.
        Err(_) => out.extend_from_slice(whole.to_string().as_bytes()),
    }
    out.push(b'.');
    let mut digits = [b'0'; 6];
    let mut rest = fraction;
    for d in digits.iter_mut().rev() {
        *d = b'0' + (rest % 10) as u8;
        rest /= 10;
    }
    out.extend_from_slice(&digits);
}

/// The decimal digits of `n` (a sign first when negative), written at the
/// end of `buf`.
fn itoa_i64(n: i64, buf: &mut [u8; 20]) -> &[u8] {
    // At most 19 digits: room for the sign before them.
    let at = buf.len() - crate::codec::u64_digits(n.unsigned_abs(), buf).len();
    if n < 0 {
        buf[at - 1] = b'-';
        &buf[at - 1..]
    } else {
        &buf[at..]
    }
}

/// Writes each channel as an asciicast recording.
///
/// The header takes the terminal (`pty-req`), `TERM` and `SHELL`, the exec
/// command and the start time known when the first event is written (the
/// requests that set up a channel come before its output). Output pieces
/// are joined while an event boundary splits a UTF-8 sequence; consecutive
/// output pieces with the same time become one event; time never goes
/// backwards (a clock step becomes a zero gap).
pub struct CastWriter {
    channels: PerChannel<CastChannel>,
}

impl CastWriter {
    /// A writer of `version` with the asciicast settings of `options`.
    pub fn new(version: CastVersion, options: &WriterOptions) -> Self {
        CastWriter {
            channels: PerChannel::new(Settings {
                version,
                input: options.input,
                idle_time_limit: options.idle_time_limit,
                title: options.title.clone(),
            }),
        }
    }
}

super::per_channel_writer!(CastWriter);

/// The writer's settings, as each channel uses them.
#[derive(Debug, Clone)]
struct Settings {
    version: CastVersion,
    input: bool,
    idle_time_limit: Option<f64>,
    title: Option<String>,
}

/// One channel being written.
struct CastChannel {
    settings: Settings,
    /// `user@host` of the connection.
    conn_title: Option<String>,
    header_written: bool,
    start: Nanos,
    default_size: bool,
    /// Time of the last event written, in microseconds since the start.
    last_us: i128,
    joiners: [Utf8Joiner; 3],
    /// Output waiting to be written: its time and code, its text escaped
    /// into `line` as it comes, merged while the next piece has the same
    /// time.
    pending: Option<(i128, char)>,
    /// The event line being written, reused: one write a line, no
    /// allocation a line. While output is pending, its line so far.
    line: Vec<u8>,
    /// Where the pending output's text starts in `line`: none yet when it
    /// ends there (an event with no text is not written).
    pending_text_at: usize,
    replaced: u64,
}

impl ChannelPart for CastChannel {
    type Config = Settings;

    fn start(settings: &Settings, state: &ChannelState, title: Option<&str>) -> Self {
        CastChannel {
            settings: settings.clone(),
            conn_title: title.map(str::to_string),
            header_written: false,
            start: state.start(),
            default_size: false,
            last_us: 0,
            joiners: Default::default(),
            pending: None,
            line: Vec::new(),
            pending_text_at: 0,
            replaced: 0,
        }
    }

    fn event(&mut self, ev: &ChannelEvent<'_>, out: &mut dyn Output) -> io::Result<()> {
        let v3 = self.settings.version == CastVersion::V3;
        let ts = ev.kind.ts();
        let us = micros(ts - self.start).max(0);
        match ev.kind {
            ChannelEventKind::Started { ts } => self.start = ts,
            ChannelEventKind::Data { stream, data, .. } => {
                let code = match stream {
                    Stream::Stdin if !self.settings.input => return Ok(()),
                    Stream::Stdin => 'i',
                    Stream::Stdout | Stream::Stderr => 'o',
                };
                self.header(ev.channel, out)?;
                match self.pending {
                    Some((t, c)) if t == us && c == code => {}
                    _ => {
                        self.flush(ev.channel, out)?;
                        self.start_pending(us, code);
                    }
                }
                let line = &mut self.line;
                self.joiners[stream as usize]
                    .push_pieces(data, |text| push_serde_json_str_contents(line, text));
            }
            ChannelEventKind::Request(r) => match &r.kind {
                RequestKind::WindowChange { cols, rows } => {
                    self.header(ev.channel, out)?;
                    self.flush(ev.channel, out)?;
                    self.write(ev.channel, out, us, 'r', &format!("{cols}x{rows}"))?;
                }
                RequestKind::ExitStatus { status } => {
                    self.header(ev.channel, out)?;
                    self.flush(ev.channel, out)?;
                    if v3 {
                        self.write(ev.channel, out, us, 'x', &status.to_string())?;
                    }
                }
                RequestKind::ExitSignal(_) => {
                    self.header(ev.channel, out)?;
                    self.flush(ev.channel, out)?;
                }
                _ => {}
            },
            ChannelEventKind::Ended { .. } => self.end(ev.channel, out)?,
            _ => {}
        }
        Ok(())
    }

    fn notes(&mut self, channel: &Context) -> Vec<Note> {
        let mut notes = Vec::new();
        let note = |message: String| Note {
            channel: channel.clone(),
            line: None,
            message,
        };
        if self.default_size {
            notes.push(note(
                "no pty-req, so the terminal size is the 80x24 default".into(),
            ));
        }
        if self.replaced > 0 {
            notes.push(note(format!(
                "{} byte(s) of output were not UTF-8 and became U+FFFD",
                self.replaced
            )));
        }
        notes
    }
}

impl CastChannel {
    /// Writes the header, once, from what the channel asked for so far.
    fn header(&mut self, ch: &ChannelState, out: &mut dyn Output) -> io::Result<()> {
        if self.header_written {
            return Ok(());
        }
        self.header_written = true;
        let (cols, rows, term) = match &ch.pty {
            Some(p) => (p.cols, p.rows, Some(p.term.clone())),
            None => {
                self.default_size = true;
                (80, 24, None)
            }
        };
        let v3 = self.settings.version == CastVersion::V3;
        let mut env = Map::new();
        if let Some(t) = &term {
            if !v3 {
                env.insert("TERM".into(), json!(t));
            }
        }
        if let Some((_, shell)) = ch.env.iter().find(|(k, _)| k == "SHELL") {
            env.insert("SHELL".into(), json!(shell));
        }
        let header = CastHeader {
            version: if v3 { 3 } else { 2 },
            width: (!v3).then_some(cols),
            height: (!v3).then_some(rows),
            term: v3.then(|| TermInfo {
                cols,
                rows,
                kind: term.clone(),
            }),
            // A channel with no event has no start time: asciicast (v2 and
            // v3) makes the field optional, and 0 would claim 1970.
            timestamp: ch
                .started
                .is_some()
                .then(|| self.start.div_euclid(NANOS_PER_SEC)),
            idle_time_limit: self.settings.idle_time_limit,
            command: ch.exec.clone(),
            title: self
                .settings
                .title
                .clone()
                .or_else(|| self.conn_title.clone()),
            env: (!env.is_empty()).then_some(Value::Object(env)),
        };
        let header = serde_json::to_string(&header).map_err(io::Error::other)?;
        let w = out.part(&PartKey::main(&ch.context, "cast"))?;
        writeln!(w, "{header}")
    }

    /// Begins the line of output at `us` (microseconds since the start):
    /// its time and code now, its text as it comes. Nothing else is
    /// written before it is flushed, so the time written is the time it
    /// would have when flushed.
    fn start_pending(&mut self, us: i128, code: char) {
        self.pending = Some((us, code));
        self.begin_line(us, code);
        self.line.push(b'"');
        self.pending_text_at = self.line.len();
    }

    /// Writes the pending output's line, if it has text.
    fn flush(&mut self, ch: &ChannelState, out: &mut dyn Output) -> io::Result<()> {
        if let Some((us, _)) = self.pending.take() {
            if self.line.len() == self.pending_text_at {
                return Ok(());
            }
            self.last_us = us.max(self.last_us);
            self.line.extend_from_slice(b"\"]\n");
            out.part(&PartKey::main(&ch.context, "cast"))?
                .write_all(&self.line)?;
        }
        Ok(())
    }

    /// Starts `line` afresh with an event's time and code, up to its data:
    /// `[time, "code", `.
    fn begin_line(&mut self, us: i128, code: char) {
        let us = us.max(self.last_us);
        let line = &mut self.line;
        line.clear();
        line.push(b'[');
        let seconds = match self.settings.version {
            CastVersion::V2 => us,
            // The interval between rounded absolute times: no drift.
            CastVersion::V3 => us - self.last_us,
        };
        push_seconds(line, seconds);
        line.extend_from_slice(b", \"");
        let mut code_utf8 = [0; 4];
        line.extend_from_slice(code.encode_utf8(&mut code_utf8).as_bytes());
        line.extend_from_slice(b"\", ");
    }

    fn write(
        &mut self,
        ch: &ChannelState,
        out: &mut dyn Output,
        us: i128,
        code: char,
        data: &str,
    ) -> io::Result<()> {
        if data.is_empty() {
            return Ok(());
        }
        self.begin_line(us, code);
        self.last_us = us.max(self.last_us);
        let line = &mut self.line;
        push_serde_json_str(line, data);
        line.extend_from_slice(b"]\n");
        out.part(&PartKey::main(&ch.context, "cast"))?
            .write_all(line)
    }

    fn end(&mut self, ch: &ChannelState, out: &mut dyn Output) -> io::Result<()> {
        self.header(ch, out)?;
        let mut tail = String::new();
        for i in 0..3 {
            self.joiners[i].finish(&mut tail);
            self.replaced += self.joiners[i].replaced();
            if !tail.is_empty() && (i != Stream::Stdin as usize || self.settings.input) {
                let t = self.pending.as_ref().map_or(self.last_us, |p| p.0);
                let code = if i == Stream::Stdin as usize {
                    'i'
                } else {
                    'o'
                };
                match self.pending {
                    Some((_, c)) if c == code => {}
                    _ => {
                        self.flush(ch, out)?;
                        self.start_pending(t, code);
                    }
                }
                push_serde_json_str_contents(&mut self.line, &tail);
            }
            tail.clear();
        }
        self.flush(ch, out)
    }
}

/// The header, in the field order asciinema writes.
#[derive(serde::Serialize)]
struct CastHeader {
    version: u8,
    #[serde(skip_serializing_if = "Option::is_none")]
    width: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    height: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    term: Option<TermInfo>,
    #[serde(skip_serializing_if = "Option::is_none")]
    timestamp: Option<i128>,
    #[serde(skip_serializing_if = "Option::is_none")]
    idle_time_limit: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    command: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    title: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    env: Option<Value>,
}

#[derive(serde::Serialize)]
struct TermInfo {
    cols: u32,
    rows: u32,
    #[serde(rename = "type", skip_serializing_if = "Option::is_none")]
    kind: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::output::{convert_log, ChannelWriter};

    #[test]
    fn seconds_are_written_as_format_writes_them() {
        for us in [
            0,
            1,
            999_999,
            1_000_000,
            -1,
            -1_000_001,
            i128::from(i64::MAX) * 1_000_000 + 999_999,
            i128::from(i64::MIN) * 1_000_000,
            i128::from(i64::MAX) * 2_000_000,
        ] {
            let mut out = Vec::new();
            push_seconds(&mut out, us);
            let want = format!(
                "{}.{:06}",
                us.div_euclid(1_000_000),
                us.rem_euclid(1_000_000)
            );
            assert_eq!(String::from_utf8(out).unwrap(), want, "{us}");
        }
    }

    /// The cast of `log` and the notes: whether the size is the default,
    /// how many bytes were replaced.
    fn cast(log: &[u8], version: CastVersion, opts: &WriterOptions) -> (String, bool, u64) {
        let mut writer = CastWriter::new(version, opts);
        let (out, notes) = convert_log(log, &mut writer as &mut dyn ChannelWriter);
        let text = String::from_utf8(out.main("0").unwrap().to_vec()).unwrap();
        let default_size = notes.iter().any(|n| n.message.contains("80x24 default"));
        let replaced = notes
            .iter()
            .find_map(|n| {
                n.message
                    .strip_suffix(" byte(s) of output were not UTF-8 and became U+FFFD")
            })
            .map_or(0, |n| n.parse().unwrap());
        (text, default_size, replaced)
    }

    const LOG: &[u8] = b"2023-06-07T17:32:00Z forward-request 6200000000000000077074792d72657101000000057874657374000000640000001e000000000000000000000000\n\
2023-06-07T17:32:01.5Z stdout 68c3\n\
2023-06-07T17:32:01.5Z stdout a9\n\
2023-06-07T17:32:02.25Z stdin 78\n\
2023-06-07T17:32:03.000001Z forward-request 62000000000000000d77696e646f772d6368616e67650000000078000000280000000000000000\n\
2023-06-07T17:32:02Z stdout 21\n\
2023-06-07T17:32:04Z reverse-request 62000000000000000b657869742d7374617475730000000002\n";

    #[test]
    fn v2_joins_split_characters_and_never_goes_back() {
        let (text, default_size, replaced) = cast(LOG, CastVersion::V2, &WriterOptions::default());
        let lines: Vec<&str> = text.lines().collect();
        let header: Value = serde_json::from_str(lines[0]).unwrap();
        assert_eq!(header["version"], 2);
        assert_eq!(
            (header["width"].as_u64(), header["height"].as_u64()),
            (Some(100), Some(30))
        );
        assert_eq!(header["timestamp"], 1_686_159_120);
        assert_eq!(header["env"]["TERM"], "xtest");
        assert_eq!(lines[1], "[1.500000, \"o\", \"h\u{e9}\"]");
        assert_eq!(lines[2], "[3.000001, \"r\", \"120x40\"]");
        assert_eq!(
            lines[3], "[3.000001, \"o\", \"!\"]",
            "a clock step back is a zero gap"
        );
        assert_eq!(
            lines.len(),
            4,
            "no exit event in v2, no input without --input"
        );
        assert!(!default_size);
        assert_eq!(replaced, 0);
    }

    #[test]
    fn v3_intervals_input_and_exit() {
        let opts = WriterOptions {
            input: true,
            idle_time_limit: Some(2.5),
            title: Some("alice@db".into()),
            ..WriterOptions::default()
        };
        let (text, _, _) = cast(LOG, CastVersion::V3, &opts);
        let lines: Vec<&str> = text.lines().collect();
        let header: Value = serde_json::from_str(lines[0]).unwrap();
        assert_eq!(header["term"]["cols"], 100);
        assert_eq!(header["term"]["type"], "xtest");
        assert_eq!(header["idle_time_limit"], 2.5);
        assert_eq!(header["title"], "alice@db");
        assert_eq!(
            &lines[1..],
            [
                "[1.500000, \"o\", \"h\u{e9}\"]",
                "[0.750000, \"i\", \"x\"]",
                "[0.750001, \"r\", \"120x40\"]",
                "[0.000000, \"o\", \"!\"]",
                "[0.999999, \"x\", \"2\"]"
            ]
        );
    }

    #[test]
    fn v3_intervals_do_not_drift() {
        // 10,000 events a third of a millisecond apart: the intervals add up
        // to the exact rounded end time.
        let mut log = String::new();
        for i in 0..10_000u64 {
            let ns = i * 333_333;
            log.push_str(&format!(
                "2023-06-07T17:32:{:02}.{:09}Z stdout 61\n",
                ns / 1_000_000_000,
                ns % 1_000_000_000
            ));
        }
        let (text, default_size, _) =
            cast(log.as_bytes(), CastVersion::V3, &WriterOptions::default());
        assert!(default_size);
        let total: i128 = text
            .lines()
            .skip(1)
            .map(|l| {
                let t = l[1..l.find(',').unwrap()].replace('.', "");
                t.parse::<i128>().unwrap()
            })
            .sum();
        assert_eq!(total, micros(9_999 * 333_333));
    }

    #[test]
    fn invalid_bytes_are_replaced_and_counted() {
        let (text, _, replaced) = cast(
            b"2023-06-07T17:32:00Z stdout 61ff62\n2023-06-07T17:32:01Z stdout e29c\n",
            CastVersion::V2,
            &WriterOptions::default(),
        );
        assert!(text.contains("\"a\u{fffd}b\""), "{text}");
        assert!(text.lines().last().unwrap().contains("\u{fffd}"));
        assert_eq!(replaced, 3);
    }
}
