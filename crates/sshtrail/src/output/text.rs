//! A transcript of what each channel showed, rendered through a terminal
//! emulator: what scrolled away, every screen that was cleared or left, and
//! the last screen.

use std::io::{self, Write};

use super::{ChannelPart, Note, Output, PartKey, PerChannel};
use crate::channel::{ChannelEvent, ChannelEventKind, ChannelState, RequestKind, Stream};
use crate::connection::Context;
use crate::replay::Screen;

/// Writes each channel's transcript, line by line as lines leave the
/// emulated screen, so memory stays at one screen whatever the length of
/// the session.
pub struct TextWriter {
    channels: PerChannel<TextChannel>,
}

impl Default for TextWriter {
    fn default() -> Self {
        TextWriter {
            channels: PerChannel::new(()),
        }
    }
}

super::per_channel_writer!(TextWriter);

/// One channel being rendered.
struct TextChannel {
    screen: Option<Screen>,
    /// Blank lines taken but not written yet: trailing blank lines of the
    /// transcript are left out, so they wait for a line after them.
    blank: usize,
    replaced: u64,
    /// The channel had no terminal: its type, for the note.
    not_terminal: Option<String>,
}

impl ChannelPart for TextChannel {
    type Config = ();

    fn start(_: &(), _state: &ChannelState, _title: Option<&str>) -> Self {
        TextChannel {
            screen: None,
            blank: 0,
            replaced: 0,
            not_terminal: None,
        }
    }

    fn event(&mut self, ev: &ChannelEvent<'_>, out: &mut dyn Output) -> io::Result<()> {
        if ev.channel.pty.is_none() {
            // Not a terminal (sftp, a tunnel, an exec without -t): no
            // screen showed its bytes, so there is no transcript.
            if let ChannelEventKind::Ended { .. } = ev.kind {
                self.not_terminal = Some(
                    ev.channel
                        .kind
                        .clone()
                        .unwrap_or_else(|| "type unknown".to_string()),
                );
            }
            return Ok(());
        }
        match ev.kind {
            ChannelEventKind::Data {
                stream: Stream::Stdout | Stream::Stderr,
                data,
                ts,
                ..
            } => {
                let start = ev.channel.start();
                let screen = self.screen(ev.channel);
                // Markers around a full-screen program give offsets from
                // the channel's start.
                screen.set_time(ts - start);
                screen.feed(data);
                self.write_taken(ev.channel, out)
            }
            ChannelEventKind::Request(r) => match r.kind {
                RequestKind::WindowChange { cols, rows } => {
                    self.screen(ev.channel).resize(cols, rows);
                    self.write_taken(ev.channel, out)
                }
                _ => Ok(()),
            },
            ChannelEventKind::Ended { .. } => {
                let screen = self.screen(ev.channel);
                let mut lines = screen.take_transcript();
                let replaced = screen.replaced_bytes();
                if let Some(s) = self.screen.take() {
                    lines.extend(s.into_transcript());
                }
                self.replaced = replaced;
                let w = out.part(&PartKey::main(&ev.channel.context, "txt"))?;
                // The transcript's end is trimmed: blank lines count only
                // before a line with text.
                while lines.last().is_some_and(String::is_empty) {
                    lines.pop();
                }
                write_lines(w, &mut self.blank, &lines)?;
                Ok(())
            }
            _ => Ok(()),
        }
    }

    fn notes(&mut self, channel: &Context) -> Vec<Note> {
        if let Some(kind) = self.not_terminal.take() {
            return vec![Note {
                channel: channel.clone(),
                line: None,
                message: format!(
                    "not a terminal ({kind}): no transcript (the evidence formats and `streams` keep its data)"
                ),
            }];
        }
        if self.replaced == 0 {
            return Vec::new();
        }
        vec![Note {
            channel: channel.clone(),
            line: None,
            message: format!(
                "{} byte(s) of output were not UTF-8 and became U+FFFD",
                self.replaced
            ),
        }]
    }
}

impl TextChannel {
    fn screen(&mut self, ch: &ChannelState) -> &mut Screen {
        self.screen.get_or_insert_with(|| {
            let (cols, rows) = ch.pty.as_ref().map_or((80, 24), |p| (p.cols, p.rows));
            // The transcript's lines are written without their times.
            Screen::with_untimed_transcript(cols, rows)
        })
    }

    fn write_taken(&mut self, ch: &ChannelState, out: &mut dyn Output) -> io::Result<()> {
        let lines = self.screen(ch).take_transcript();
        if lines.is_empty() {
            return Ok(());
        }
        let w = out.part(&PartKey::main(&ch.context, "txt"))?;
        write_lines(w, &mut self.blank, &lines)
    }
}

/// Writes `lines`, holding back a run of blank lines at their end (counted
/// in `blank`) until a line with text follows.
fn write_lines(w: &mut dyn Write, blank: &mut usize, lines: &[String]) -> io::Result<()> {
    for line in lines {
        if line.is_empty() {
            *blank += 1;
            continue;
        }
        for _ in 0..*blank {
            w.write_all(b"\n")?;
        }
        *blank = 0;
        w.write_all(line.as_bytes())?;
        w.write_all(b"\n")?;
    }
    Ok(())
}
