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
use crate::cli::report::{usage, CommandResult, Reporter};
use crate::cli::text::offset_text;
use sshtrail::encode::escape_controls;

/// Arguments of `sshtrail screen`.
#[derive(Args, Debug)]
pub struct ScreenArgs {
    /// The moment: an offset from the channel's start (`1m30s`, `90`) or an RFC 3339 time.
    #[arg(long, value_name = "TIME")]
    at: String,
    #[command(flatten)]
    inputs: Inputs,
}

/// One channel's screen being replayed up to the moment.
struct Replaying {
    screen: Option<Screen>,
    at: Nanos,
    /// An event after the moment came: the screen is as it was.
    past: bool,
}

/// Replays each channel's output up to the moment and keeps its screen.
struct ScreenAt<'a> {
    at: &'a str,
    channels: HashMap<Context, Replaying>,
    shown: BTreeMap<Context, String>,
    out: io::BufWriter<io::StdoutLock<'static>>,
    first: bool,
}

impl ChannelSink for ScreenAt<'_> {
    fn event(&mut self, ev: &ChannelEvent<'_>) -> io::Result<()> {
        let ch = ev.channel;
        let at = self.at;
        let r = self
            .channels
            .entry(ch.context.clone())
            .or_insert_with(|| Replaying {
                screen: None,
                // Checked before the replay: only the start can change it.
                at: parse_time_arg(at, ch.start()).unwrap_or(Nanos::MAX),
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
        if step && !r.past && ev.kind.ts() > r.at {
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
            let mut r = self.channels.remove(&ch.context).unwrap_or(Replaying {
                screen: None,
                at: 0,
                past: false,
            });
            let mut text = format!(
                "== {} at {} (+{})\n",
                escape_controls(&ch.label()),
                format_rfc3339(r.at),
                offset_text(r.at - ch.start())
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
        for (_, text) in std::mem::take(&mut self.shown) {
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
        at: &args.at,
        channels: HashMap::new(),
        shown: BTreeMap::new(),
        out: input::stdout(),
        first: true,
    };
    let result = input::replay_inputs(&args.inputs, &mut sink, &mut rep);
    input::finish(result, &mut sink.out, &rep)
}
