//! `sshtrail play`: a session replayed in the terminal, in real time.

use std::io::{self, Write};
use std::time::Duration;

use clap::Args;
use sshtrail::archive::Discovery;
use sshtrail::channel::{ChannelEvent, ChannelEventKind, ChannelSink, Stream};
use sshtrail::connection::Context;
use sshtrail::time::{Nanos, NANOS_PER_SEC};

use crate::cli::args::{parse_time_arg, FormatArg};
use crate::cli::input;
use crate::cli::report::{usage, CommandResult, Reporter};

/// Arguments of `sshtrail play`.
#[derive(Args, Debug)]
pub struct PlayArgs {
    /// Playback speed factor.
    #[arg(long, default_value_t = 1.0)]
    speed: f64,
    /// Longest pause, in seconds.
    #[arg(long, value_name = "SECONDS")]
    idle_limit: Option<f64>,
    /// Start here (offset or RFC 3339); what came before is drawn at once.
    #[arg(long, value_name = "TIME")]
    from: Option<String>,
    /// Stop here (offset or RFC 3339).
    #[arg(long, value_name = "TIME")]
    to: Option<String>,
    /// Input layout.
    #[arg(long, value_enum, default_value_t = FormatArg::Auto)]
    format: FormatArg,
    /// A trail log (or a connection directory with one channel).
    #[arg(value_name = "PATH")]
    path: String,
}

/// Plays the output of the first channel; a second channel is an error.
struct Player<'a> {
    args: &'a PlayArgs,
    channel: Option<Context>,
    several: bool,
    /// The moment played so far, and where playing stops.
    last: Nanos,
    to: Option<Nanos>,
    done: bool,
    out: &'a mut dyn Write,
}

impl ChannelSink for Player<'_> {
    fn event(&mut self, ev: &ChannelEvent<'_>) -> io::Result<()> {
        let ch = ev.channel;
        match &self.channel {
            None => {
                self.channel = Some(ch.context.clone());
                let start = ch.start();
                let parse =
                    |t: &Option<String>| t.as_ref().and_then(|t| parse_time_arg(t, start).ok());
                self.last = parse(&self.args.from).unwrap_or(start);
                self.to = parse(&self.args.to);
            }
            Some(c) if *c != ch.context => {
                self.several = true;
                return Ok(());
            }
            Some(_) => {}
        }
        if self.done {
            return Ok(());
        }
        let ts = ev.kind.ts();
        let timed = matches!(ev.kind, ChannelEventKind::Data { .. })
            || matches!(ev.kind, ChannelEventKind::Request(r) if matches!(r.kind, sshtrail::channel::RequestKind::WindowChange { .. } | sshtrail::channel::RequestKind::ExitStatus { .. } | sshtrail::channel::RequestKind::ExitSignal(_)));
        if timed && self.to.is_some_and(|t| ts > t) {
            self.done = true;
            return self.out.flush();
        }
        let ChannelEventKind::Data { stream, data, .. } = ev.kind else {
            return Ok(());
        };
        if stream == Stream::Stdin {
            return Ok(());
        }
        if ts > self.last {
            let mut gap = (ts - self.last) as f64 / NANOS_PER_SEC as f64 / self.args.speed;
            if let Some(limit) = self.args.idle_limit {
                gap = gap.min(limit);
            }
            self.out.flush()?;
            std::thread::sleep(Duration::from_secs_f64(gap.min(86_400.0)));
            self.last = ts;
        }
        self.out.write_all(data)
    }
}

/// Runs `sshtrail play`.
pub fn run(args: PlayArgs) -> CommandResult {
    if !(args.speed.is_finite() && args.speed > 0.0) {
        return Err(usage("--speed must be a positive number"));
    }
    if args
        .idle_limit
        .is_some_and(|l| !(l.is_finite() && l >= 0.0))
    {
        return Err(usage("--idle-limit must be a number of seconds"));
    }
    for t in [&args.from, &args.to].into_iter().flatten() {
        parse_time_arg(t, 0).map_err(usage)?;
    }
    let mut rep = Reporter::default();
    let archive = input::open(
        std::slice::from_ref(&args.path),
        Discovery::connection_folders(),
        &mut rep,
    );
    let mut out = io::stdout().lock();
    let mut player = Player {
        args: &args,
        channel: None,
        several: false,
        last: 0,
        to: None,
        done: false,
        out: &mut out,
    };
    let result = input::replay(&archive, args.format.to_format(), &mut player, &mut rep);
    if player.several {
        return Err(usage("PATH holds several channels: give one channel's log"));
    }
    match result.and_then(|()| out.flush()) {
        Ok(()) => Ok(rep.code()),
        Err(e) => rep.output_failed(&e),
    }
}
