//! asciicast v2 and v3 (the asciinema recording formats) from a channel.
//!
//! v2: a header line, then `[time, code, data]` with absolute times in
//! seconds. v3: a header with a `term` object, then intervals since the
//! previous event, computed from whole microseconds of absolute time so that
//! rounding never accumulates.

use std::io::{self, Write};

use serde_json::{json, Map, Value};

use crate::channel::{Channel, Step, Stream};
use crate::time::{Nanos, NANOS_PER_SEC};
use crate::utf8::Utf8Joiner;

/// Which asciicast version to write.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum CastVersion {
    /// asciicast v2 (what most players read).
    #[default]
    V2,
    /// asciicast v3 (asciinema 3).
    V3,
}

/// Settings for [`write_cast`].
#[derive(Debug, Clone, Default)]
pub struct CastOptions {
    /// v2 or v3.
    pub version: CastVersion,
    /// Also write stdin as `i` events.
    pub input: bool,
    /// `idle_time_limit` in seconds.
    pub idle_time_limit: Option<f64>,
    /// `title`, e.g. `user@host` from the connection metadata.
    pub title: Option<String>,
}

/// What the conversion had to make up or repair.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CastReport {
    /// No pty-req: the size is the 80x24 default.
    pub default_size: bool,
    /// Bytes that were not UTF-8 and became U+FFFD.
    pub replaced_bytes: u64,
    /// Events written after the header.
    pub events: u64,
}

/// Microseconds, rounded to nearest, of a duration in nanoseconds.
fn micros(ns: Nanos) -> i128 {
    (ns + 500).div_euclid(1000)
}

fn seconds_text(us: i128) -> String {
    format!(
        "{}.{:06}",
        us.div_euclid(1_000_000),
        us.rem_euclid(1_000_000)
    )
}

/// Writes `ch` as an asciicast recording.
///
/// Output pieces are joined while an event boundary splits a UTF-8
/// sequence; consecutive output pieces with the same time become one event;
/// time never goes backwards (a clock step becomes a zero gap).
pub fn write_cast(
    ch: &Channel<'_>,
    opts: &CastOptions,
    out: &mut dyn Write,
) -> io::Result<CastReport> {
    let mut report = CastReport::default();
    let (cols, rows, term) = match &ch.pty {
        Some(p) => (p.cols, p.rows, Some(p.term.clone())),
        None => {
            report.default_size = true;
            (80, 24, None)
        }
    };
    let start = ch.started.as_ref().map_or(0, |s| s.0);
    let mut env = Map::new();
    if let Some(t) = &term {
        env.insert("TERM".into(), json!(t));
    }
    if let Some((_, shell)) = ch.env.iter().find(|(k, _)| k == "SHELL") {
        env.insert("SHELL".into(), json!(shell));
    }
    let timestamp = start.div_euclid(NANOS_PER_SEC);
    if opts.version == CastVersion::V3 {
        env.remove("TERM");
    }
    let v3 = opts.version == CastVersion::V3;
    let header = CastHeader {
        version: if v3 { 3 } else { 2 },
        width: (!v3).then_some(cols),
        height: (!v3).then_some(rows),
        term: v3.then(|| TermInfo {
            cols,
            rows,
            kind: term.clone(),
        }),
        timestamp,
        idle_time_limit: opts.idle_time_limit,
        command: ch.exec.clone(),
        title: opts.title.clone(),
        env: (!env.is_empty()).then_some(Value::Object(env)),
    };
    let header = serde_json::to_string(&header).map_err(io::Error::other)?;
    writeln!(out, "{header}")?;

    let mut w = EventWriter {
        out,
        version: opts.version,
        last_us: 0,
        report: &mut report,
    };
    let mut joiners = [
        Utf8Joiner::default(),
        Utf8Joiner::default(),
        Utf8Joiner::default(),
    ];
    let mut buf = Vec::new();
    // Output waiting to be written: its time and text, merged while the next
    // piece has the same time.
    let mut pending: Option<(Nanos, char, String)> = None;
    for step in ch.timeline() {
        let us = micros(step.ts() - start).max(0);
        match step {
            Step::Data(stream, chunk) => {
                let code = match stream {
                    Stream::Stdin if !opts.input => continue,
                    Stream::Stdin => 'i',
                    Stream::Stdout | Stream::Stderr => 'o',
                };
                chunk
                    .decode(&mut buf)
                    .map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e.to_string()))?;
                let mut text = String::new();
                joiners[stream as usize].push(&buf, &mut text);
                match &mut pending {
                    Some((t, c, s)) if *t == us && *c == code => s.push_str(&text),
                    _ => {
                        if let Some((t, c, s)) = pending.take() {
                            w.event(t, c, &s)?;
                        }
                        pending = Some((us, code, text));
                    }
                }
            }
            Step::Resize(r) => {
                if let Some((t, c, s)) = pending.take() {
                    w.event(t, c, &s)?;
                }
                w.event(us, 'r', &format!("{}x{}", r.cols, r.rows))?;
            }
            Step::Exit(_) => {
                if let Some((t, c, s)) = pending.take() {
                    w.event(t, c, &s)?;
                }
                if opts.version == CastVersion::V3 {
                    if let Some(status) = ch.exit_status {
                        w.event(us, 'x', &status.to_string())?;
                    }
                }
            }
        }
    }
    let mut tail = String::new();
    for (i, j) in joiners.iter_mut().enumerate() {
        j.finish(&mut tail);
        w.report.replaced_bytes += j.replaced();
        if !tail.is_empty() && (i != Stream::Stdin as usize || opts.input) {
            let t = pending.as_ref().map_or(w.last_us, |p| p.0);
            let code = if i == Stream::Stdin as usize {
                'i'
            } else {
                'o'
            };
            match &mut pending {
                Some((_, c, s)) if *c == code => s.push_str(&tail),
                _ => {
                    if let Some((pt, c, s)) = pending.take() {
                        w.event(pt, c, &s)?;
                    }
                    pending = Some((t, code, std::mem::take(&mut tail)));
                }
            }
        }
        tail.clear();
    }
    if let Some((t, c, s)) = pending.take() {
        w.event(t, c, &s)?;
    }
    Ok(report)
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
    timestamp: i128,
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

struct EventWriter<'o, 'r> {
    out: &'o mut dyn Write,
    version: CastVersion,
    /// Time of the last event written, in microseconds since the start.
    last_us: i128,
    report: &'r mut CastReport,
}

impl EventWriter<'_, '_> {
    fn event(&mut self, us: i128, code: char, data: &str) -> io::Result<()> {
        if data.is_empty() {
            return Ok(());
        }
        let us = us.max(self.last_us);
        let time = match self.version {
            CastVersion::V2 => seconds_text(us),
            // The interval between rounded absolute times: no drift.
            CastVersion::V3 => seconds_text(us - self.last_us),
        };
        self.last_us = us;
        self.report.events += 1;
        writeln!(
            self.out,
            "[{time}, \"{code}\", {}]",
            Value::String(data.to_string())
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::channel::ChannelBuilder;
    use crate::connection::Context;
    use crate::SliceReader;

    fn channel(log: &[u8]) -> Channel<'_> {
        let mut b = ChannelBuilder::new(Context::default());
        let mut buf = Vec::new();
        for ev in SliceReader::new(log) {
            b.push(&ev.unwrap(), &mut buf).unwrap();
        }
        b.finish(None)
    }

    fn cast(log: &[u8], opts: &CastOptions) -> (String, CastReport) {
        let ch = channel(log);
        let mut out = Vec::new();
        let report = write_cast(&ch, opts, &mut out).unwrap();
        (String::from_utf8(out).unwrap(), report)
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
        let (text, report) = cast(LOG, &CastOptions::default());
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
        assert!(!report.default_size);
        assert_eq!(report.replaced_bytes, 0);
    }

    #[test]
    fn v3_intervals_input_and_exit() {
        let opts = CastOptions {
            version: CastVersion::V3,
            input: true,
            idle_time_limit: Some(2.5),
            title: Some("alice@db".into()),
        };
        let (text, _) = cast(LOG, &opts);
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
        let opts = CastOptions {
            version: CastVersion::V3,
            ..CastOptions::default()
        };
        let (text, report) = cast(log.as_bytes(), &opts);
        assert!(report.default_size);
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
        let (text, report) = cast(
            b"2023-06-07T17:32:00Z stdout 61ff62\n2023-06-07T17:32:01Z stdout e29c\n",
            &CastOptions::default(),
        );
        assert!(text.contains("\"a\u{fffd}b\""), "{text}");
        assert!(text.lines().last().unwrap().contains("\u{fffd}"));
        assert_eq!(report.replaced_bytes, 3);
    }
}
