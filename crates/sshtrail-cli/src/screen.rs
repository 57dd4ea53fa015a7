//! `sshtrail screen`: the screen as it looked at a moment.

use std::collections::{BTreeMap, HashMap};
use std::io::{self, Write};
use std::path::PathBuf;

use clap::Args;
use sshtrail::archive::Archive;
use sshtrail::channel::{
    ChannelEvent, ChannelEventKind, ChannelSink, ConnectionRef, RequestKind, Stream,
};
use sshtrail::connection::Context;
use sshtrail::replay::index::{IndexError, IndexOptions, KeyframeIndex, DEFAULT_SPACING};
use sshtrail::replay::Screen;
use sshtrail::time::{format_rfc3339, Nanos};

use crate::cli::args::{parse_time_arg, Inputs};
use crate::cli::input;
use crate::cli::report::{usage, warn, CommandResult, Failure, Reporter};
use crate::cli::text::offset_text;
use sshtrail::encode::escape_controls;

/// Arguments of `sshtrail screen`.
#[derive(Args, Debug)]
pub struct ScreenArgs {
    /// The moment: an offset from the connection's start (`1m30s`, `90`)
    /// or an RFC 3339 time.
    #[arg(long, value_name = "TIME")]
    at: String,
    /// The folder of seek indexes: a log's keyframes, built by the first
    /// `screen` or `play` of it and used by the next ones (default:
    /// `$XDG_CACHE_HOME/sshtrail`, else `~/.cache/sshtrail`). Never beside
    /// the log.
    #[arg(long, value_name = "DIR")]
    pub index_dir: Option<PathBuf>,
    /// Replay the log from its start, without a seek index.
    #[arg(long, conflicts_with = "index_dir")]
    pub no_index: bool,
    /// Terminal output between two keyframes of an index built now (tests
    /// use a few KiB).
    #[arg(long, hide = true, value_name = "BYTES", default_value_t = DEFAULT_SPACING)]
    pub keyframe_spacing: u64,
    #[command(flatten)]
    inputs: Inputs,
}

/// The folder of seek indexes when none is given: `$XDG_CACHE_HOME/sshtrail`,
/// else `$HOME/.cache/sshtrail` (the XDG base directory rules: a relative
/// `XDG_CACHE_HOME` is ignored). `None` without either.
pub fn default_index_dir() -> Option<PathBuf> {
    let absolute = |v: std::ffi::OsString| {
        let p = PathBuf::from(v);
        p.is_absolute().then_some(p)
    };
    if let Some(dir) = std::env::var_os("XDG_CACHE_HOME").and_then(absolute) {
        return Some(dir.join("sshtrail"));
    }
    std::env::var_os("HOME")
        .and_then(absolute)
        .map(|h| h.join(".cache").join("sshtrail"))
}

/// The seek index of `archive`'s one log, from the cache (built there
/// first when needed); `None` when there is none to use: several logs, a
/// log that is not indexed, a cache that cannot be written (warned about).
pub fn open_index(
    archive: &Archive,
    format: Option<sshtrail::Format>,
    index_dir: Option<&PathBuf>,
    spacing: u64,
) -> Option<KeyframeIndex> {
    let [conn] = archive.connections.as_slice() else {
        return None;
    };
    let dir = match index_dir {
        Some(d) => d.clone(),
        None => default_index_dir()?,
    };
    match KeyframeIndex::open_or_build(conn, format, &dir, &IndexOptions::with_spacing(spacing)) {
        Ok((index, _)) => Some(index),
        // The replay from the start says what is wrong with the log.
        Err(IndexError::NotIndexable(_)) => None,
        Err(e) => {
            warn(&format!("{e}; replaying without a seek index"));
            None
        }
    }
}

/// The text shown for one channel's screen.
fn channel_text(label: &str, at: Nanos, start: Nanos, mut view: Vec<String>) -> String {
    let mut text = format!(
        "== {} at {} (+{})\n",
        escape_controls(label),
        format_rfc3339(at),
        offset_text(at - start)
    );
    while view.last().is_some_and(String::is_empty) {
        view.pop();
    }
    for l in view {
        text.push_str(&escape_controls(&l));
        text.push('\n');
    }
    text
}

/// Why nothing is shown at `at`: it lies outside the session.
fn outside(at_text: &str, at: Nanos, span: Option<(Nanos, Nanos)>) -> Option<String> {
    let (first, last) = span?;
    (at < first || at > last).then(|| {
        format!(
            "--at {at_text}: the session runs from {} to {} (+{} to +{})",
            format_rfc3339(first),
            format_rfc3339(last),
            offset_text(0),
            offset_text(last - first)
        )
    })
}

/// Writes the screens, a blank line between two.
fn write_shown(
    out: &mut dyn Write,
    shown: BTreeMap<Context, String>,
    first: &mut bool,
) -> io::Result<()> {
    for (_, text) in shown {
        if !*first {
            writeln!(out)?;
        }
        *first = false;
        out.write_all(text.as_bytes())?;
    }
    Ok(())
}

/// One terminal channel's screen being replayed up to the moment.
struct Replaying {
    screen: Option<Screen>,
    /// An event after the moment came: the screen is as it was.
    past: bool,
}

/// Replays each terminal channel's output up to the moment and keeps its
/// screen; the moment counts from the connection's start.
struct ScreenAt<'a> {
    at_text: &'a str,
    /// The moment, once the connection's first event gave its start.
    at: Option<Nanos>,
    /// The connection's first and last event times.
    span: Option<(Nanos, Nanos)>,
    channels: HashMap<Context, Replaying>,
    shown: BTreeMap<Context, String>,
    /// Channels without a terminal, by label and type.
    not_terminals: Vec<String>,
    /// Channels with a terminal, once ended.
    terminals: usize,
    /// Why nothing can be shown (the moment is outside the session).
    refused: Option<String>,
    out: io::BufWriter<io::StdoutLock<'static>>,
    first: bool,
}

impl ChannelSink for ScreenAt<'_> {
    fn connection_start(&mut self, _conn: &ConnectionRef<'_>) -> io::Result<()> {
        self.at = None;
        self.span = None;
        Ok(())
    }

    fn event(&mut self, ev: &ChannelEvent<'_>) -> io::Result<()> {
        let ch = ev.channel;
        let ts = ev.kind.ts();
        if !matches!(ev.kind, ChannelEventKind::Started { .. }) {
            self.span = Some(match self.span {
                Some((a, b)) => (a.min(ts), b.max(ts)),
                None => (ts, ts),
            });
        }
        // Logs are replayed in time order: the first event starts the
        // connection. (Checked before the replay: only the start changes it.)
        let at = *self
            .at
            .get_or_insert_with(|| parse_time_arg(self.at_text, ts).unwrap_or(Nanos::MAX));
        if ch.pty.is_none() {
            if let ChannelEventKind::Ended { .. } = ev.kind {
                self.not_terminals.push(format!(
                    "{} ({})",
                    ch.label(),
                    ch.kind.as_deref().unwrap_or("type unknown")
                ));
            }
            return Ok(());
        }
        let r = self
            .channels
            .entry(ch.context.clone())
            .or_insert_with(|| Replaying {
                screen: None,
                past: false,
            });
        fn screen<'r>(
            r: &'r mut Replaying,
            ch: &sshtrail::channel::ChannelState,
        ) -> &'r mut Screen {
            r.screen.get_or_insert_with(|| {
                let (cols, rows) = ch.pty.as_ref().map_or((80, 24), |p| (p.cols, p.rows));
                Screen::new(cols, rows)
            })
        }
        let step = sshtrail::replay::index::is_step(&ev.kind);
        if step && !r.past && ts > at {
            r.past = true;
        }
        if !r.past {
            match ev.kind {
                ChannelEventKind::Data {
                    stream: Stream::Stdout | Stream::Stderr,
                    data,
                    ..
                } => screen(r, ch).feed(data),
                ChannelEventKind::Request(req) => {
                    if let RequestKind::WindowChange { cols, rows } = req.kind {
                        screen(r, ch).resize(cols, rows);
                    }
                }
                _ => {}
            }
        }
        if let ChannelEventKind::Ended { .. } = ev.kind {
            self.terminals += 1;
            let Some(mut r) = self.channels.remove(&ch.context) else {
                return Ok(());
            };
            // A channel opened after the moment showed nothing yet.
            if ch.start() > at {
                return Ok(());
            }
            let start = self.span.map_or(ch.start(), |s| s.0);
            let view = screen(&mut r, ch).view();
            let text = channel_text(&ch.label(), at, start, view);
            self.shown.insert(ch.context.clone(), text);
        }
        Ok(())
    }

    fn connection_end(&mut self, _conn: &ConnectionRef<'_>) -> io::Result<()> {
        let shown = std::mem::take(&mut self.shown);
        if let Some(at) = self.at {
            if let Some(why) = outside(self.at_text, at, self.span) {
                // Outside the session: no screen is what it showed.
                self.refused = Some(why);
                return Ok(());
            }
        }
        write_shown(&mut self.out, shown, &mut self.first)
    }
}

/// Runs `sshtrail screen`.
pub fn run(args: ScreenArgs) -> CommandResult {
    parse_time_arg(&args.at, 0).map_err(usage)?;
    let mut rep = Reporter::default();
    let archive = input::open(&args.inputs.paths, &mut rep);
    let format = args.inputs.format.to_format();
    if !args.no_index {
        let index = open_index(
            &archive,
            format,
            args.index_dir.as_ref(),
            args.keyframe_spacing,
        );
        if let Some(done) = index.and_then(|i| screens_with_index(&args, &i, &rep)) {
            return done;
        }
    }
    let mut sink = ScreenAt {
        at_text: &args.at,
        at: None,
        span: None,
        channels: HashMap::new(),
        shown: BTreeMap::new(),
        not_terminals: Vec::new(),
        terminals: 0,
        refused: None,
        out: input::stdout(),
        first: true,
    };
    let result = input::replay(&archive, format, &mut sink, &mut rep);
    // No terminal at all says more than a moment outside the session.
    if sink.terminals == 0 && !sink.not_terminals.is_empty() {
        return Err(no_terminal(&sink.not_terminals));
    }
    if let Some(why) = sink.refused.take() {
        return Err(Failure::Output(why));
    }
    input::finish(result, &mut sink.out, &rep)
}

fn no_terminal(not_terminals: &[String]) -> Failure {
    Failure::Output(format!(
        "no terminal channel: nothing was shown on a screen (channels: {})",
        not_terminals.join(", ")
    ))
}

/// The screens at the moment from the seek index: what the replay from
/// the start shows, from the keyframe before the moment on. `None` when
/// the index cannot answer (warned about): the replay from the start does.
fn screens_with_index(
    args: &ScreenArgs,
    index: &KeyframeIndex,
    rep: &Reporter,
) -> Option<CommandResult> {
    let session = index.session();
    // No event: the replay says what that means.
    let first = session.first_ts?;
    let at = parse_time_arg(&args.at, first).unwrap_or(Nanos::MAX);
    let screens = match index.screens_at(at) {
        Ok(s) => s,
        Err(e) => {
            warn(&format!("{e}; replaying without it"));
            return None;
        }
    };
    let mut shown = BTreeMap::new();
    let mut not_terminals = Vec::new();
    let mut terminals = 0;
    for ch in &session.channels {
        if !ch.terminal {
            not_terminals.push(format!(
                "{} ({})",
                ch.label,
                ch.kind.as_deref().unwrap_or("type unknown")
            ));
            continue;
        }
        terminals += 1;
        // A channel opened after the moment showed nothing yet.
        if ch.start > at {
            continue;
        }
        let context = ch.context();
        let view = screens.get(&context).cloned().unwrap_or_default();
        let start = ch.span_start.unwrap_or(ch.start);
        shown.insert(context, channel_text(&ch.label, at, start, view));
    }
    if terminals == 0 && !not_terminals.is_empty() {
        return Some(Err(no_terminal(&not_terminals)));
    }
    if let Some(why) = outside(&args.at, at, session.span) {
        return Some(Err(Failure::Output(why)));
    }
    let mut out = input::stdout();
    let result = write_shown(&mut out, shown, &mut true);
    Some(input::finish(result, &mut out, rep))
}
