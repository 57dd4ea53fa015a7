//! `sshtrail screen`: the screen as it looked at a moment.

use std::collections::{BTreeMap, HashMap};
use std::io::{self, Write};

use clap::Args;
use sshtrail::channel::{
    ChannelEvent, ChannelEventKind, ChannelSink, ConnectionRef, RequestKind, Stream,
};
use sshtrail::connection::Context;
use sshtrail::replay::Screen;
use sshtrail::time::{format_rfc3339, Nanos};

use crate::cli::args::{parse_time_arg, Inputs};
use crate::cli::input;
use crate::cli::report::{usage, CommandResult, Failure, Reporter};
use crate::cli::text::offset_text;
use sshtrail::encode::escape_controls;

/// Arguments of `sshtrail screen`.
#[derive(Args, Debug)]
pub struct ScreenArgs {
    /// The moment: an offset from the connection's start (`1m30s`, `90`)
    /// or an RFC 3339 time.
    #[arg(long, value_name = "TIME")]
    at: String,
    #[command(flatten)]
    inputs: Inputs,
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
        let step = match ev.kind {
            ChannelEventKind::Data { .. } => true,
            ChannelEventKind::Request(req) => matches!(
                req.kind,
                RequestKind::WindowChange { .. }
                    | RequestKind::ExitStatus { .. }
                    | RequestKind::ExitSignal(_)
            ),
            _ => false,
        };
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
            let mut text = format!(
                "== {} at {} (+{})\n",
                escape_controls(&ch.label()),
                format_rfc3339(at),
                offset_text(at - start)
            );
            let mut view = screen(&mut r, ch).view();
            while view.last().is_some_and(String::is_empty) {
                view.pop();
            }
            for l in view {
                text.push_str(&escape_controls(&l));
                text.push('\n');
            }
            self.shown.insert(ch.context.clone(), text);
        }
        Ok(())
    }

    fn connection_end(&mut self, _conn: &ConnectionRef<'_>) -> io::Result<()> {
        let shown = std::mem::take(&mut self.shown);
        if let (Some((first, last)), Some(at)) = (self.span, self.at) {
            if at < first || at > last {
                // Outside the session: no screen is what it showed.
                self.refused = Some(format!(
                    "--at {}: the session runs from {} to {} (+{} to +{})",
                    self.at_text,
                    format_rfc3339(first),
                    format_rfc3339(last),
                    offset_text(0),
                    offset_text(last - first)
                ));
                return Ok(());
            }
        }
        for (_, text) in shown {
            if !self.first {
                writeln!(self.out)?;
            }
            self.first = false;
            self.out.write_all(text.as_bytes())?;
        }
        Ok(())
    }
}

/// Runs `sshtrail screen`.
pub fn run(args: ScreenArgs) -> CommandResult {
    parse_time_arg(&args.at, 0).map_err(usage)?;
    let mut rep = Reporter::default();
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
    let result = input::replay_inputs(&args.inputs, &mut sink, &mut rep);
    // No terminal at all says more than a moment outside the session.
    if sink.terminals == 0 && !sink.not_terminals.is_empty() {
        return Err(Failure::Output(format!(
            "no terminal channel: nothing was shown on a screen (channels: {})",
            sink.not_terminals.join(", ")
        )));
    }
    if let Some(why) = sink.refused.take() {
        return Err(Failure::Output(why));
    }
    input::finish(result, &mut sink.out, &rep)
}
