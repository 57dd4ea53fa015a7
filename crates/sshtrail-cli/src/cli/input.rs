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

/// Finds the connections under `paths`, reporting problems.
pub fn open(paths: &[String], how: Discovery, rep: &mut Reporter) -> Archive {
    let paths: Vec<PathBuf> = paths.iter().map(PathBuf::from).collect();
    Archive::open(&paths, &how, &mut |p| rep.problem(&p))
}

/// Replays every connection of `archive` into `sink`, reporting problems.
pub fn replay(
    archive: &Archive,
    format: Option<Format>,
    sink: &mut dyn ChannelSink,
    rep: &mut Reporter,
) -> io::Result<()> {
    archive
        .replay_with(&ReplayOptions::with_format(format), sink, &mut |p| {
            rep.problem(&p)
        })
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

/// Finds the connections `inputs` name (each folder a connection folder)
/// and replays them into `sink`, reporting problems.
pub fn replay_inputs(
    inputs: &Inputs,
    sink: &mut dyn ChannelSink,
    rep: &mut Reporter,
) -> io::Result<()> {
    let archive = open(&inputs.paths, Discovery::connection_folders(), rep);
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
