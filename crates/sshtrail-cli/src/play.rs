//! `sshtrail play`: a session replayed in the terminal, in real time.

use std::io::{self, Write};
use std::path::PathBuf;
use std::time::Duration;

use clap::Args;
use sshtrail::channel::{ChannelEvent, ChannelEventKind, ChannelSink, Stream};
use sshtrail::connection::Context;
use sshtrail::replay::index::{IndexError, KeyframeIndex, SessionFacts, DEFAULT_SPACING};
use sshtrail::time::{parse_rfc3339, Nanos, NANOS_PER_SEC};

use crate::cli::args::{parse_time_arg, FormatArg};
use crate::cli::input::{self, ChannelInfo, Survey};
use crate::cli::report::{usage, warn, CommandResult, Failure, Reporter};

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
    /// The folder of seek indexes, as `screen --index-dir`: with `--from`,
    /// the screen at the keyframe before it is drawn at once, and the log
    /// is read from there.
    #[arg(long, value_name = "DIR")]
    index_dir: Option<PathBuf>,
    /// Read the log from its start, without a seek index.
    #[arg(long, conflicts_with = "index_dir")]
    no_index: bool,
    /// Terminal output between two keyframes of an index built now (tests).
    #[arg(long, hide = true, value_name = "BYTES", default_value_t = DEFAULT_SPACING)]
    keyframe_spacing: u64,
    /// The terminal channel to play, when PATH holds several.
    #[arg(long, value_name = "ID")]
    channel: Option<String>,
    /// Input layout.
    #[arg(long, value_enum, default_value_t = FormatArg::Auto)]
    format: FormatArg,
    /// A trail log, a connection directory or a tree holding one connection.
    #[arg(value_name = "PATH")]
    path: String,
}

/// Plays the output of one terminal channel, chosen before playing (read
/// from standard input: the first terminal channel; a second is an error).
struct Player<'a> {
    args: &'a PlayArgs,
    channel: Option<Context>,
    several: bool,
    /// The connection's start: offsets count from it.
    start: Option<Nanos>,
    /// The moment played so far, and where playing stops.
    last: Nanos,
    to: Option<Nanos>,
    done: bool,
    out: &'a mut dyn Write,
}

impl ChannelSink for Player<'_> {
    fn event(&mut self, ev: &ChannelEvent<'_>) -> io::Result<()> {
        let ch = ev.channel;
        if self.start.is_none() {
            // Logs are replayed in time order: the first event starts the
            // connection.
            let start = ev.kind.ts();
            self.start = Some(start);
            let parse = |t: &Option<String>| t.as_ref().and_then(|t| parse_time_arg(t, start).ok());
            self.last = parse(&self.args.from).unwrap_or(start);
            self.to = parse(&self.args.to);
        }
        if ch.pty.is_none() {
            return Ok(());
        }
        match &self.channel {
            None => self.channel = Some(ch.context.clone()),
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
    if let (Some(from), Some(to)) = (&args.from, &args.to) {
        // Two offsets compare as they are; with a time, once the start is
        // known (below).
        let offset = |t: &str| parse_rfc3339(t.as_bytes(), true).is_err();
        if offset(from) && offset(to) && parse_time_arg(from, 0) > parse_time_arg(to, 0) {
            return Err(usage(format!("--from {from} comes after --to {to}")));
        }
    }
    let mut rep = Reporter::default();
    let archive = input::open(std::slice::from_ref(&args.path), &mut rep);
    // A path that names no log has said so: nothing else to say.
    if archive.is_empty() {
        return Ok(rep.code());
    }
    // Decide before playing: which terminal channel, and whether the times
    // make sense (offsets count from the connection's start).
    let format = args.format.to_format();
    // With --from, what came before is drawn from the keyframe before it.
    let index = match (&args.from, args.no_index) {
        (Some(_), false) => crate::screen::open_index(
            &archive,
            format,
            args.index_dir.as_ref(),
            args.keyframe_spacing,
        ),
        _ => None,
    };
    let surveyed = match &index {
        Some(index) => Some(survey_of(index.session())),
        None => input::survey(&archive, format),
    };
    let mut channel = None;
    if let Some(survey) = surveyed {
        let terminals = survey.terminals();
        let all: Vec<_> = survey.channels.iter().collect();
        channel = Some(match (&args.channel, terminals.as_slice()) {
            (Some(id), _) => match terminals.iter().find(|c| c.context.channel_id == *id) {
                Some(c) => c.context.clone(),
                None => {
                    return Err(usage(format!(
                        "--channel {id}: no terminal channel of that id in {}; its channels: {}",
                        args.path,
                        Survey::listing(&all)
                    )))
                }
            },
            (None, [one]) => one.context.clone(),
            (None, []) if all.is_empty() => {
                // No channel at all: the log could not be read (not a trail
                // log, unreadable). Its problems are the message.
                let mut none = Survey::default();
                if input::replay(&archive, format, &mut none, &mut rep).is_ok() && rep.errors > 0 {
                    return Ok(rep.code());
                }
                return Err(Failure::Output(format!(
                    "{}: no terminal channel to play (its channels: none); `convert --to jsonl` or `streams` keep their data",
                    args.path
                )));
            }
            (None, []) => {
                return Err(Failure::Output(format!(
                    "{}: no terminal channel to play (its channels: {}); `convert --to jsonl` or `streams` keep their data",
                    args.path,
                    Survey::listing(&all)
                )))
            }
            (None, several) => {
                return Err(usage(format!(
                    "{} holds {} terminal channels: give --channel ID ({})",
                    args.path,
                    several.len(),
                    Survey::listing(several)
                )))
            }
        });
        if let (Some(start), Some(from), Some(to)) =
            (survey.span.map(|s| s.0), &args.from, &args.to)
        {
            let (f, t) = (parse_time_arg(from, start), parse_time_arg(to, start));
            if let (Ok(f), Ok(t)) = (f, t) {
                if f > t {
                    return Err(usage(format!("--from {from} comes after --to {to}")));
                }
            }
        }
    }
    let mut out = io::stdout().lock();
    let mut player = Player {
        args: &args,
        channel: channel.clone(),
        several: false,
        start: None,
        last: 0,
        to: None,
        done: false,
        out: &mut out,
    };
    let resumed = match (&index, &channel) {
        (Some(index), Some(channel)) => play_from_keyframe(index, channel, &mut player),
        _ => None,
    };
    let result = match resumed {
        Some(result) => result,
        None => input::replay(&archive, format, &mut player, &mut rep),
    };
    if player.several && args.channel.is_none() {
        return Err(usage(
            "standard input holds several terminal channels: give one channel's log",
        ));
    }
    match result.and_then(|()| out.flush()) {
        Ok(()) => Ok(rep.code()),
        Err(e) => rep.output_failed(&e),
    }
}

/// What a first pass would tell, from the index.
fn survey_of(session: &SessionFacts) -> Survey {
    Survey {
        channels: session
            .channels
            .iter()
            .map(|c| ChannelInfo {
                context: c.context(),
                kind: c.kind.clone(),
                terminal: c.terminal,
            })
            .collect(),
        span: session.span,
        errors: 0,
    }
}

/// Plays `channel` from `--from` with the index: a full reset, the screen
/// at the keyframe before the moment (what the output before it drew),
/// then the log from that keyframe on, as the replay from the start plays
/// it. `None` when the index cannot (warned about): the replay from the
/// start plays.
fn play_from_keyframe(
    index: &KeyframeIndex,
    channel: &Context,
    player: &mut Player<'_>,
) -> Option<io::Result<()>> {
    let start = index.session().first_ts?;
    let from = parse_time_arg(player.args.from.as_ref()?, start).ok()?;
    let resumption = match index.resume_before(from) {
        Ok(r) => r,
        Err(e) => {
            warn(&format!("{e}; playing without a seek index"));
            return None;
        }
    };
    player.start = Some(start);
    player.last = from;
    player.to = player
        .args
        .to
        .as_ref()
        .and_then(|t| parse_time_arg(t, start).ok());
    if let Some(screen) = resumption.screens.get(channel) {
        let drawn = player
            .out
            .write_all(b"\x1bc")
            .and_then(|()| player.out.write_all(screen.dump().as_bytes()));
        if let Err(e) = drawn {
            return Some(Err(e));
        }
    }
    Some(index.replay_rest(&resumption, player).map_err(|e| match e {
        IndexError::Log { source, .. } => source,
        other => io::Error::other(other.to_string()),
    }))
}
