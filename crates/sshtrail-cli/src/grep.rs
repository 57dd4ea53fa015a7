//! `sshtrail grep`: search what sessions showed and the commands typed.

use std::collections::HashMap;
use std::io::{self, Write};

use clap::Args;
use regex::Regex;
use serde_json::json;
use sshtrail::channel::RequestKind;
use sshtrail::channel::{ChannelEvent, ChannelEventKind, ChannelSink, ConnectionRef, Stream};
use sshtrail::connection::Context;
use sshtrail::encode::escape_controls;
use sshtrail::replay::{strip_ansi, CommandRecognizer, Confidence, Screen};
use sshtrail::time::{format_rfc3339, write_rfc3339, Nanos, NANOS_PER_SEC};
use sshtrail::Utf8Joiner;

use crate::cli::args::{Inputs, Redaction};
use crate::cli::input;
use crate::cli::report::{usage, CommandResult, Reporter};
use crate::cli::spool::{ByChannel, Spool};
use crate::cli::text::{push_label, push_offset_text};
use sshtrail::redact::SecretFilter;

/// Arguments of `sshtrail grep`.
#[derive(Args, Debug)]
pub struct GrepArgs {
    /// A regular expression (Rust regex syntax).
    #[arg(value_name = "PATTERN")]
    pattern: String,
    /// Ignore case.
    #[arg(short = 'i', long)]
    ignore_case: bool,
    /// Search only the output, or only the typed commands.
    #[arg(long, value_enum)]
    only: Option<GrepWhat>,
    /// One JSON object per hit.
    #[arg(long)]
    json: bool,
    #[command(flatten)]
    redaction: Redaction,
    #[command(flatten)]
    inputs: Inputs,
}

/// What `grep` searches.
#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum GrepWhat {
    /// The text the session showed.
    Output,
    /// The commands typed.
    Commands,
}

/// One channel being searched.
#[derive(Default)]
struct Searching {
    start: Nanos,
    joiner: Utf8Joiner,
    text: String,
    /// Output text after the last line end (a channel without a terminal).
    line: String,
    /// What a terminal showed: its lines are searched as they leave it.
    screen: Option<Screen>,
    recognizer: CommandRecognizer,
    /// The hits among what the terminal showed, then among the output.
    hits: Spool,
    /// The hits among the commands typed, searched as the recognizer gives
    /// them (holding the commands until the channel ends grew with the
    /// log) and written after `hits` when the channel ends.
    command_hits: Spool,
    /// Output was shown on the terminal (the transcript has begun).
    shown: bool,
    /// A window change came before the first output: the recognizer's
    /// screen was resized, the transcript's starts at the `pty-req` size,
    /// so this channel's transcript has a screen of its own.
    own_screen: bool,
}

/// Searches each channel, writing its hits channel by channel.
struct Searcher {
    finder: Finder,
    output: bool,
    commands: bool,
    channels: HashMap<Context, Searching>,
    ended: ByChannel,
    out: io::BufWriter<io::StdoutLock<'static>>,
}

/// The pattern, and the hits as `grep` writes them: each line is built in
/// one reused string (five strings formatted anew for each hit were a
/// tenth of a search whose pattern most lines match).
struct Finder {
    re: Regex,
    json: bool,
    hits: u64,
    line: String,
    /// The text of the time `time_of`: the hits of one chunk share it.
    time: String,
    time_of: Option<Nanos>,
}

impl Finder {
    /// Writes a hit in the channel `context` (which started at `start`)
    /// into `out`: `what` (`output` or `command`) showed `text` at `ts`.
    fn hit(
        &mut self,
        out: &mut Spool,
        (context, start): (&Context, Nanos),
        what: &str,
        ts: Nanos,
        text: &str,
    ) -> io::Result<()> {
        self.hits += 1;
        if self.json {
            let v = json!({"connection_id": context.connection_id, "channel_id": context.channel_id, "ts": format_rfc3339(ts), "offset_s": (ts - start) as f64 / NANOS_PER_SEC as f64, "in": what, "text": text});
            return writeln!(out, "{v}");
        }
        if self.time_of != Some(ts) {
            self.time.clear();
            write_rfc3339(ts, &mut self.time);
            self.time_of = Some(ts);
        }
        let line = &mut self.line;
        line.clear();
        push_label(context, line);
        line.push_str("  +");
        push_offset_text(ts - start, line);
        line.push_str("  ");
        line.push_str(&self.time);
        line.push_str("  ");
        line.push_str(what);
        line.push_str(": ");
        line.push_str(text);
        // As `person_line!` writes a line: controls escaped.
        out.write_all(escape_controls(line).as_bytes())?;
        out.write_all(b"\n")
    }

    /// The hits among lines a screen showed (the markers around a
    /// full-screen program are not searched).
    fn screen_hits(
        &mut self,
        out: &mut Spool,
        channel: (&Context, Nanos),
        lines: Vec<(String, Nanos)>,
    ) -> io::Result<()> {
        for (line, ts) in lines {
            if line.starts_with("\u{2500}\u{2500} ") && line.ends_with(" \u{2500}\u{2500}") {
                continue;
            }
            if self.re.is_match(&line) {
                self.hit(out, channel, "output", ts, &line)?;
            }
        }
        Ok(())
    }
}

impl ChannelSink for Searcher {
    fn event(&mut self, ev: &ChannelEvent<'_>) -> io::Result<()> {
        let ch = ev.channel;
        // One lookup for most events; the channel's key is copied only for
        // its first.
        let s = match self.channels.get_mut(&ch.context) {
            Some(s) => s,
            None => self.channels.entry(ch.context.clone()).or_default(),
        };
        s.start = ch.start();
        let channel = (&ch.context, s.start);
        let finder = &mut self.finder;
        // Searching both, what the terminal showed is the transcript of the
        // recognizer's screen: the emulator runs once, not twice.
        let shared = self.output && self.commands && !s.own_screen;
        let mut from_recognizer = false;
        if shared {
            match ev.kind {
                ChannelEventKind::Data {
                    stream: Stream::Stdout | Stream::Stderr,
                    ts,
                    ..
                } if ch.pty.is_some() => {
                    let screen = s.recognizer.screen_mut(ev);
                    if !s.shown {
                        // It has shown nothing: the same as a new screen
                        // with a transcript.
                        screen.keep_transcript();
                        s.shown = true;
                    }
                    screen.set_time(ts);
                    from_recognizer = true;
                }
                ChannelEventKind::Request(r)
                    if matches!(r.kind, RequestKind::WindowChange { .. }) =>
                {
                    if s.shown {
                        s.recognizer.screen_mut(ev).set_time(r.ts);
                        from_recognizer = true;
                    } else {
                        s.own_screen = true;
                    }
                }
                _ => {}
            }
        }
        if self.commands {
            s.recognizer.event(ev);
            for c in s.recognizer.take() {
                // Lines given up never ran: not searched as commands.
                if c.confidence != Confidence::Abandoned && finder.re.is_match(&c.command) {
                    finder.hit(&mut s.command_hits, channel, "command", c.ts, &c.command)?;
                }
            }
        }
        if from_recognizer {
            let lines = s.recognizer.screen_mut(ev).take_timed_transcript();
            return finder.screen_hits(&mut s.hits, channel, lines);
        }
        match ev.kind {
            // A terminal: what the screen showed, line by line, the
            // alternate screen included, each line as it was last seen.
            ChannelEventKind::Data {
                stream: Stream::Stdout | Stream::Stderr,
                data,
                ts,
                ..
            } if self.output && ch.pty.is_some() => {
                let screen = s.screen.get_or_insert_with(|| {
                    let (cols, rows) = ch.pty.as_ref().map_or((80, 24), |p| (p.cols, p.rows));
                    Screen::with_transcript(cols, rows)
                });
                screen.set_time(ts);
                screen.feed(data);
                let lines = screen.take_timed_transcript();
                finder.screen_hits(&mut s.hits, channel, lines)?;
            }
            ChannelEventKind::Request(r) if self.output => {
                if let (RequestKind::WindowChange { cols, rows }, Some(screen)) =
                    (&r.kind, s.screen.as_mut())
                {
                    screen.set_time(r.ts);
                    screen.resize(*cols, *rows);
                    let lines = screen.take_timed_transcript();
                    finder.screen_hits(&mut s.hits, channel, lines)?;
                }
            }
            ChannelEventKind::Data {
                stream: Stream::Stdout | Stream::Stderr,
                data,
                ts,
                ..
            } if self.output => {
                s.text.clear();
                s.joiner.push(data, &mut s.text);
                strip_ansi(&s.text, &mut s.line);
                let mut found = Vec::new();
                while let Some(nl) = s.line.find('\n') {
                    if finder.re.is_match(&s.line[..nl]) {
                        found.push(s.line[..nl].to_string());
                    }
                    s.line.drain(..=nl);
                }
                if s.line.len() > 1 << 16 {
                    s.line.drain(..s.line.len() - (1 << 15));
                }
                for text in found {
                    finder.hit(&mut s.hits, channel, "output", ts, &text)?;
                }
            }
            ChannelEventKind::Ended { .. } => {
                let ended = ch.ended.as_ref().map_or(s.start, |e| e.ts);
                let rest = std::mem::take(&mut s.line);
                let screen = if shared && s.shown {
                    s.recognizer.take_screen()
                } else {
                    s.screen.take()
                };
                if let Some(screen) = screen {
                    let lines = screen.into_timed_transcript();
                    finder.screen_hits(&mut s.hits, channel, lines)?;
                }
                if self.output && finder.re.is_match(&rest) {
                    finder.hit(&mut s.hits, channel, "output", ended, &rest)?;
                }
                if let Some(mut s) = self.channels.remove(&ch.context) {
                    std::mem::take(&mut s.command_hits).drain_into(&mut s.hits)?;
                    self.ended.ended(&ch.context, s.hits)?;
                }
            }
            _ => {}
        }
        Ok(())
    }

    fn connection_end(&mut self, _conn: &ConnectionRef<'_>) -> io::Result<()> {
        self.ended.drain_into(&mut self.out)
    }
}

/// Runs `sshtrail grep`.
pub fn run(args: GrepArgs) -> CommandResult {
    let re = regex::RegexBuilder::new(&args.pattern)
        .case_insensitive(args.ignore_case)
        .size_limit(1 << 24)
        .build()
        .map_err(|e| usage(format!("bad PATTERN: {e}")))?;
    let mut rep = Reporter::default();
    let mut searcher = Searcher {
        finder: Finder {
            re,
            json: args.json,
            hits: 0,
            line: String::new(),
            time: String::new(),
            time_of: None,
        },
        output: args.only != Some(GrepWhat::Commands),
        commands: args.only != Some(GrepWhat::Output),
        channels: HashMap::new(),
        ended: ByChannel::default(),
        out: input::stdout(),
    };
    let rules = args.redaction.rules().map_err(usage)?;
    let result = match rules {
        Some(rules) => {
            let mut filter = SecretFilter::new(&mut searcher, rules);
            input::replay_inputs(&args.inputs, &mut filter, &mut rep)
        }
        None => input::replay_inputs(&args.inputs, &mut searcher, &mut rep),
    };
    let code = input::finish(result, &mut searcher.out, &rep)?;
    if rep.errors > 0 {
        return Ok(code);
    }
    // Like grep: 1 when nothing matched.
    Ok(crate::cli::exit::code(u8::from(searcher.finder.hits == 0)))
}
