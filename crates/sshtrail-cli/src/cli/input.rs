//! Reading what the user pointed at: the library's archive, with every
//! problem reported as it is found.

use std::collections::HashMap;
use std::io;
use std::path::PathBuf;

use sshtrail::archive::{Archive, Discovery, ReplayOptions};
use sshtrail::channel::ChannelSink;
use sshtrail::connection::Context;
use sshtrail::Format;

use super::report::Reporter;

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
