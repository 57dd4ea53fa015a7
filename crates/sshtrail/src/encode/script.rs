//! util-linux `script` recordings that `scriptreplay` plays: a typescript
//! (the output bytes between a "Script started" and a "Script done" line)
//! and a timing file, classic (`DELAY BYTES`) or advanced (`O`/`I` data,
//! `S` SIGWINCH on resizes, `H` header facts).

use std::io::{self, Write};

use crate::channel::{Channel, Step, Stream};
use crate::time::{format_rfc3339, Nanos};

/// Which timing format to write.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ScriptFormat {
    /// `DELAY BYTES` lines; output only.
    Classic,
    /// `O|I DELAY BYTES`, `S DELAY SIGWINCH ROWS=R COLS=C`, `H DELAY NAME VALUE`;
    /// input and output both go to the one log, as `script -B` writes them.
    Advanced,
}

fn script_time(ns: Nanos) -> String {
    // "2023-06-07 17:32:00+00:00", as script(1) prints it.
    let t = format_rfc3339(ns);
    format!("{} {}+00:00", &t[..10], &t[11..19])
}

fn delay(ns: Nanos) -> String {
    let us = (ns.max(0) + 500) / 1000;
    format!("{}.{:06}", us / 1_000_000, us % 1_000_000)
}

/// Writes the typescript to `log` and the timing to `timing`.
///
/// ```
/// use sshtrail::{channel::ChannelBuilder, connection::Context, SliceReader};
/// use sshtrail::encode::script::{write_script, ScriptFormat};
/// let mut b = ChannelBuilder::new(Context::default());
/// let mut buf = Vec::new();
/// for ev in SliceReader::new(b"2023-06-07T17:32:00Z stdout 6869\n2023-06-07T17:32:01.5Z stdout 0d0a\n") {
///     b.push(&ev.unwrap(), &mut buf).unwrap();
/// }
/// let (mut log, mut timing) = (Vec::new(), Vec::new());
/// write_script(&b.finish(None), ScriptFormat::Classic, &mut log, &mut timing).unwrap();
/// assert_eq!(String::from_utf8(timing).unwrap(), "0.000000 2\n1.500000 2\n");
/// ```
pub fn write_script(
    ch: &Channel<'_>,
    format: ScriptFormat,
    log: &mut dyn Write,
    timing: &mut dyn Write,
) -> io::Result<()> {
    let start = ch.started.as_ref().map_or(0, |s| s.0);
    let end = ch.ended.as_ref().map_or(start, |s| s.0);
    let (cols, rows, term) = ch
        .pty
        .as_ref()
        .map_or((80, 24, None), |p| (p.cols, p.rows, Some(p.term.as_str())));
    let mut facts = Vec::new();
    if let Some(t) = term {
        facts.push(format!("TERM=\"{t}\""));
    }
    if let Some(cmd) = &ch.exec {
        facts.push(format!("COMMAND={cmd:?}"));
    }
    facts.push(format!("COLUMNS=\"{cols}\" LINES=\"{rows}\""));
    writeln!(
        log,
        "Script started on {} [{}]",
        script_time(start),
        facts.join(" ")
    )?;
    if format == ScriptFormat::Advanced {
        writeln!(timing, "H 0.000000 START_TIME {}", script_time(start))?;
        if let Some(t) = term {
            writeln!(timing, "H 0.000000 TERM {t}")?;
        }
        if let Some((_, shell)) = ch.env.iter().find(|(k, _)| k == "SHELL") {
            writeln!(timing, "H 0.000000 SHELL {shell}")?;
        }
        if let Some(cmd) = &ch.exec {
            writeln!(timing, "H 0.000000 COMMAND {cmd}")?;
        }
        writeln!(timing, "H 0.000000 COLUMNS {cols}")?;
        writeln!(timing, "H 0.000000 LINES {rows}")?;
    }
    let mut last = start;
    let mut buf = Vec::new();
    for step in ch.timeline() {
        let at = step.ts().max(last);
        match step {
            Step::Data(stream, chunk) => {
                let code = match (format, stream) {
                    (ScriptFormat::Classic, Stream::Stdin) => continue,
                    (_, Stream::Stdin) => "I ",
                    (ScriptFormat::Classic, _) => "",
                    (ScriptFormat::Advanced, _) => "O ",
                };
                chunk
                    .decode(&mut buf)
                    .map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e.to_string()))?;
                if buf.is_empty() {
                    continue;
                }
                log.write_all(&buf)?;
                writeln!(timing, "{code}{} {}", delay(at - last), buf.len())?;
            }
            Step::Resize(r) if format == ScriptFormat::Advanced => {
                writeln!(
                    timing,
                    "S {} SIGWINCH ROWS={} COLS={}",
                    delay(at - last),
                    r.rows,
                    r.cols
                )?;
            }
            Step::Resize(_) | Step::Exit(_) => continue,
        }
        last = at;
    }
    let exit = ch
        .exit_status
        .map_or_else(|| "unknown".to_string(), |s| s.to_string());
    write!(
        log,
        "\nScript done on {} [COMMAND_EXIT_CODE=\"{exit}\"]\n",
        script_time(end)
    )?;
    if format == ScriptFormat::Advanced {
        writeln!(timing, "H 0.000000 DURATION {}", delay(end - start))?;
        writeln!(timing, "H 0.000000 EXIT_CODE {exit}")?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::channel::ChannelBuilder;
    use crate::connection::Context;
    use crate::SliceReader;

    #[test]
    fn advanced_timing_has_streams_signals_and_headers() {
        let log = b"2023-06-07T17:32:00Z forward-request 6200000000000000077074792d72657101000000057874657374000000640000001e000000000000000000000000\n\
2023-06-07T17:32:01Z stdin 6c\n2023-06-07T17:32:01.25Z stdout 6c\n\
2023-06-07T17:32:02Z forward-request 62000000000000000d77696e646f772d6368616e67650000000078000000280000000000000000\n\
2023-06-07T17:32:03Z reverse-request 62000000000000000b657869742d7374617475730000000002\n";
        let mut b = ChannelBuilder::new(Context::default());
        let mut buf = Vec::new();
        for ev in SliceReader::new(log) {
            b.push(&ev.unwrap(), &mut buf).unwrap();
        }
        let ch = b.finish(None);
        let (mut out, mut timing) = (Vec::new(), Vec::new());
        write_script(&ch, ScriptFormat::Advanced, &mut out, &mut timing).unwrap();
        let timing = String::from_utf8(timing).unwrap();
        assert_eq!(
            timing,
            "H 0.000000 START_TIME 2023-06-07 17:32:00+00:00\nH 0.000000 TERM xtest\nH 0.000000 COLUMNS 100\nH 0.000000 LINES 30\nI 1.000000 1\nO 0.250000 1\nS 0.750000 SIGWINCH ROWS=40 COLS=120\nH 0.000000 DURATION 3.000000\nH 0.000000 EXIT_CODE 2\n"
        );
        let out = String::from_utf8(out).unwrap();
        assert!(out.starts_with("Script started on 2023-06-07 17:32:00+00:00 [TERM=\"xtest\" COLUMNS=\"100\" LINES=\"30\"]\nll\nScript done on 2023-06-07 17:32:03+00:00 [COMMAND_EXIT_CODE=\"2\"]\n"), "{out}");
    }
}
