//! Reading what the user pointed at: the library's archive, with every
//! problem reported as it is found.

use std::collections::HashMap;
use std::io::{self, Write};
use std::path::PathBuf;

use sshtrail::archive::{Archive, Discovery, ReplayOptions};
use sshtrail::channel::ChannelSink;
use sshtrail::connection::Context;
use sshtrail::Format;

use super::args::Inputs;
use super::output::Claims;
use super::report::{CommandResult, Reporter};

/// Finds the connections under `paths`, reporting problems. Every command
/// finds its logs here, the one way the library walks
/// ([`Discovery::standard`]): a log, a connection folder or a tree of them
/// alike, and one log a channel when a folder holds it in two layouts.
pub fn open(paths: &[String], rep: &mut Reporter) -> Archive {
    let paths: Vec<PathBuf> = paths.iter().map(PathBuf::from).collect();
    Archive::open(&paths, &Discovery::standard(), &mut |p| rep.problem(&p))
}

/// [`open`] for a batch, also giving the warnings printed about each log
/// found (by its path as printed; the lines as printed), which its
/// manifest counts per input. The walk is the same; only a log of no known
/// connection lying directly in a folder named is not named after that
/// folder ([`Discovery::trees`]): a batch writes such a log's outputs where
/// it lies below the folder named, `OUTDIR/0.jsonl` for `in/0.jsonl`.
pub fn open_noting_warnings(
    paths: &[String],
    rep: &mut Reporter,
) -> (Archive, HashMap<String, Vec<String>>) {
    let paths: Vec<PathBuf> = paths.iter().map(PathBuf::from).collect();
    let mut warnings: HashMap<String, Vec<String>> = HashMap::new();
    let archive = Archive::open(&paths, &Discovery::trees(), &mut |p| {
        if p.is_warning() {
            let message = match p.kind.message() {
                Some(m) => format!("{}: warning: {m}", p.path),
                None => p.to_string(),
            };
            warnings.entry(p.path.clone()).or_default().push(message);
        }
        rep.problem(&p)
    });
    (archive, warnings)
}

/// Replays every connection of `archive` into `sink`, reporting problems.
pub fn replay(
    archive: &Archive,
    format: Option<Format>,
    sink: &mut dyn ChannelSink,
    rep: &mut Reporter,
) -> io::Result<()> {
    replay_with(archive, &ReplayOptions::with_format(format), sink, rep)
}

/// [`replay`] with `options`.
pub fn replay_with(
    archive: &Archive,
    options: &ReplayOptions,
    sink: &mut dyn ChannelSink,
    rep: &mut Reporter,
) -> io::Result<()> {
    archive
        .replay_with(options, sink, &mut |p| rep.problem(&p))
        .map(|_| ())
}

/// The log each channel comes from, for messages about one of its lines.
pub fn log_paths(archive: &Archive) -> HashMap<Context, String> {
    archive
        .connections
        .iter()
        .flat_map(|c| c.logs.iter())
        .map(|l| (l.context.clone(), l.name()))
        .collect()
}

/// Claims on the output paths of a run over `archive`, which never
/// replace one of its logs.
pub fn claims(archive: &Archive) -> Claims {
    Claims::new(
        archive
            .connections
            .iter()
            .flat_map(|c| c.logs.iter())
            .filter(|l| l.path.as_os_str() != "-")
            .map(|l| l.path.as_path()),
    )
}

/// What a first pass tells of a channel.
#[derive(Debug, Clone)]
pub struct ChannelInfo {
    pub context: Context,
    /// Its type (`shell`, `sftp`, `direct-tcpip`), when known.
    pub kind: Option<String>,
    /// Whether it had a terminal (a `pty-req`).
    pub terminal: bool,
}

/// What a first pass over an archive tells: its channels and the span of
/// its events. `None` for standard input, which cannot be read twice.
#[derive(Debug, Clone, Default)]
pub struct Survey {
    pub channels: Vec<ChannelInfo>,
    /// The first and last event times of all connections.
    pub span: Option<(sshtrail::time::Nanos, sshtrail::time::Nanos)>,
    /// Errors the pass met (reported by the pass that follows, not by it).
    pub errors: u64,
}

impl Survey {
    /// The channels with a terminal.
    pub fn terminals(&self) -> Vec<&ChannelInfo> {
        self.channels.iter().filter(|c| c.terminal).collect()
    }

    /// `0 (shell), 1 (sftp)`: the channels, for a message.
    pub fn listing(channels: &[&ChannelInfo]) -> String {
        channels
            .iter()
            .map(|c| {
                format!(
                    "{} ({})",
                    super::text::label(&c.context),
                    c.kind.as_deref().unwrap_or("type unknown")
                )
            })
            .collect::<Vec<_>>()
            .join(", ")
    }
}

impl ChannelSink for Survey {
    fn event(&mut self, ev: &sshtrail::channel::ChannelEvent<'_>) -> io::Result<()> {
        let ts = ev.kind.ts();
        if !matches!(ev.kind, sshtrail::channel::ChannelEventKind::Started { .. }) {
            self.span = Some(match self.span {
                Some((a, b)) => (a.min(ts), b.max(ts)),
                None => (ts, ts),
            });
        }
        if let sshtrail::channel::ChannelEventKind::Ended { .. } = ev.kind {
            self.channels.push(ChannelInfo {
                context: ev.channel.context.clone(),
                kind: ev.channel.kind.clone(),
                terminal: ev.channel.pty.is_some(),
            });
        }
        Ok(())
    }
}

/// Reads `archive` once to survey it (problems are reported by the real
/// pass, not this one); `None` when it reads standard input.
pub fn survey(archive: &Archive, format: Option<Format>) -> Option<Survey> {
    if archive
        .connections
        .iter()
        .flat_map(|c| c.logs.iter())
        .any(|l| l.path.as_os_str() == "-")
    {
        return None;
    }
    let mut survey = Survey::default();
    let counts = archive
        .replay_with(
            &ReplayOptions::with_format(format),
            &mut survey,
            &mut |_| {},
        )
        .ok()?;
    survey.errors = counts.errors;
    Some(survey)
}

/// Finds the connections `inputs` name and replays them into `sink`,
/// reporting problems.
pub fn replay_inputs(
    inputs: &Inputs,
    sink: &mut dyn ChannelSink,
    rep: &mut Reporter,
) -> io::Result<()> {
    let archive = open(&inputs.paths, rep);
    replay(&archive, inputs.format.to_format(), sink, rep)
}

/// Standard output, buffered.
pub fn stdout() -> io::BufWriter<io::StdoutLock<'static>> {
    io::BufWriter::with_capacity(256 << 10, io::stdout().lock())
}

/// Ends a command that wrote to `out`: flushes it, and gives the exit code
/// for what was reported (a closed pipe ends the run quietly).
pub fn finish(result: io::Result<()>, out: &mut dyn Write, rep: &Reporter) -> CommandResult {
    match result.and_then(|()| out.flush()) {
        Ok(()) => Ok(rep.code()),
        Err(e) => rep.output_failed(&e),
    }
}
