//! util-linux `script` recordings that `scriptreplay` plays: a typescript
//! (the output bytes between a "Script started" and a "Script done" line)
//! and a timing file, classic (`DELAY BYTES`) or advanced (`O`/`I` data,
//! `S` SIGWINCH on resizes, `H` header facts).

use std::io;

use super::{ChannelPart, Output, PartKey, PartName, PerChannel};
use crate::channel::{ChannelEvent, ChannelEventKind, ChannelState, RequestKind, Stream};
use crate::time::{format_rfc3339, Nanos};

/// Which timing format to write.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
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

/// Writes each channel as a typescript (the main part) and its timing (the
/// part `timing` beside it).
///
/// The header line and the timing file's `H` lines take the terminal, the
/// exec command and `SHELL` known when the first piece is written; the
/// closing line the channel's end and exit status.
pub struct ScriptWriter {
    channels: PerChannel<ScriptChannel>,
}

impl ScriptWriter {
    /// A writer of typescripts with timing in `format`.
    pub fn new(format: ScriptFormat) -> Self {
        ScriptWriter {
            channels: PerChannel::new(format),
        }
    }
}

super::per_channel_writer!(ScriptWriter);

/// One channel being written.
struct ScriptChannel {
    format: ScriptFormat,
    start: Nanos,
    last: Nanos,
    header_written: bool,
}

const EXT: &str = "typescript";

impl ChannelPart for ScriptChannel {
    type Config = ScriptFormat;

    fn start(format: &ScriptFormat, state: &ChannelState, _title: Option<&str>) -> Self {
        ScriptChannel {
            format: *format,
            start: state.start(),
            last: state.start(),
            header_written: false,
        }
    }

    fn event(&mut self, ev: &ChannelEvent<'_>, out: &mut dyn Output) -> io::Result<()> {
        let ch = ev.channel;
        let key = PartKey::main(&ch.context, EXT);
        let timing_key = key.with(PartName::Suffix("timing"));
        let at = ev.kind.ts().max(self.last);
        match ev.kind {
            ChannelEventKind::Started { ts } => {
                self.start = ts;
                self.last = ts;
            }
            ChannelEventKind::Data { stream, data, .. } => {
                let code = match (self.format, stream) {
                    (ScriptFormat::Classic, Stream::Stdin) => return Ok(()),
                    (_, Stream::Stdin) => "I ",
                    (ScriptFormat::Classic, _) => "",
                    (ScriptFormat::Advanced, _) => "O ",
                };
                if data.is_empty() {
                    return Ok(());
                }
                self.header(ch, out)?;
                out.part(&key)?.write_all(data)?;
                writeln!(
                    out.part(&timing_key)?,
                    "{code}{} {}",
                    delay(at - self.last),
                    data.len()
                )?;
                self.last = at;
            }
            ChannelEventKind::Request(r) => {
                if let RequestKind::WindowChange { cols, rows } = r.kind {
                    if self.format == ScriptFormat::Advanced {
                        self.header(ch, out)?;
                        writeln!(
                            out.part(&timing_key)?,
                            "S {} SIGWINCH ROWS={rows} COLS={cols}",
                            delay(at - self.last)
                        )?;
                        self.last = at;
                    }
                }
            }
            ChannelEventKind::Ended { .. } => {
                self.header(ch, out)?;
                let end = ch.ended.as_ref().map_or(self.start, |s| s.ts);
                let exit = ch
                    .exit_status
                    .map_or_else(|| "unknown".to_string(), |s| s.to_string());
                write!(
                    out.part(&key)?,
                    "\nScript done on {} [COMMAND_EXIT_CODE=\"{exit}\"]\n",
                    script_time(end)
                )?;
                let timing = out.part(&timing_key)?;
                if self.format == ScriptFormat::Advanced {
                    writeln!(timing, "H 0.000000 DURATION {}", delay(end - self.start))?;
                    writeln!(timing, "H 0.000000 EXIT_CODE {exit}")?;
                }
            }
            _ => {}
        }
        Ok(())
    }
}

impl ScriptChannel {
    /// The typescript's first line and the timing's `H` lines, once.
    fn header(&mut self, ch: &ChannelState, out: &mut dyn Output) -> io::Result<()> {
        if self.header_written {
            return Ok(());
        }
        self.header_written = true;
        let key = PartKey::main(&ch.context, EXT);
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
            out.part(&key)?,
            "Script started on {} [{}]",
            script_time(self.start),
            facts.join(" ")
        )?;
        // The timing file exists even when nothing is timed.
        let timing = out.part(&key.with(PartName::Suffix("timing")))?;
        if self.format == ScriptFormat::Advanced {
            writeln!(timing, "H 0.000000 START_TIME {}", script_time(self.start))?;
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
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::output::convert_log;

    #[test]
    fn advanced_timing_has_streams_signals_and_headers() {
        let log = b"2023-06-07T17:32:00Z forward-request 6200000000000000077074792d72657101000000057874657374000000640000001e000000000000000000000000\n\
2023-06-07T17:32:01Z stdin 6c\n2023-06-07T17:32:01.25Z stdout 6c\n\
2023-06-07T17:32:02Z forward-request 62000000000000000d77696e646f772d6368616e67650000000078000000280000000000000000\n\
2023-06-07T17:32:03Z reverse-request 62000000000000000b657869742d7374617475730000000002\n";
        let mut writer = ScriptWriter::new(ScriptFormat::Advanced);
        let (parts, _) = convert_log(log, &mut writer);
        let part = |name: Option<&str>| {
            let (_, bytes) = parts
                .parts()
                .find(|(k, _)| k.name.as_deref() == name)
                .unwrap();
            String::from_utf8(bytes.to_vec()).unwrap()
        };
        let (out, timing) = (part(None), part(Some("timing")));
        assert_eq!(
            timing,
            "H 0.000000 START_TIME 2023-06-07 17:32:00+00:00\nH 0.000000 TERM xtest\nH 0.000000 COLUMNS 100\nH 0.000000 LINES 30\nI 1.000000 1\nO 0.250000 1\nS 0.750000 SIGWINCH ROWS=40 COLS=120\nH 0.000000 DURATION 3.000000\nH 0.000000 EXIT_CODE 2\n"
        );
        assert!(out.starts_with("Script started on 2023-06-07 17:32:00+00:00 [TERM=\"xtest\" COLUMNS=\"100\" LINES=\"30\"]\nll\nScript done on 2023-06-07 17:32:03+00:00 [COMMAND_EXIT_CODE=\"2\"]\n"), "{out}");
    }
}
