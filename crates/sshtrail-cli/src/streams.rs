//! `sshtrail streams`: each channel's stdin, stdout and stderr as raw files,
//! with an index of every chunk's time and offset.

use std::collections::BTreeSet;
use std::path::PathBuf;

use clap::Args;
use sshtrail::archive::Discovery;
use sshtrail::output::{ChannelWriter, StreamsWriter};

use crate::cli::args::FormatArg;
use crate::cli::input;
use crate::cli::output::DirOutput;
use crate::cli::report::{self, CommandResult, Reporter};

/// Arguments of `sshtrail streams`.
#[derive(Args, Debug)]
pub struct StreamsArgs {
    /// Directory to write `<connection>/<channel>/{stdin,stdout,stderr,index.json}` into.
    #[arg(short = 'o', long = "output", value_name = "DIR")]
    output: PathBuf,
    /// Replace existing stream files.
    #[arg(long)]
    force: bool,
    /// Input layout.
    #[arg(long, value_enum, default_value_t = FormatArg::Auto)]
    format: FormatArg,
    /// Trail logs, or connection directories.
    #[arg(required = true, value_name = "PATH")]
    paths: Vec<String>,
}

/// Runs `sshtrail streams`.
pub fn run(args: StreamsArgs) -> CommandResult {
    let mut rep = Reporter::default();
    let archive = input::open(&args.paths, Discovery::connection_folders(), &mut rep);
    let mut out = DirOutput::new(&args.output, args.force);
    let mut writer = StreamsWriter::default();
    if let Err(e) = input::replay(
        &archive,
        args.format.to_format(),
        &mut writer.writing_into(&mut out),
        &mut rep,
    ) {
        return Err(report::Failure::Output(format!(
            "{}: {e}",
            args.output.display()
        )));
    }
    for refused in out.take_refused() {
        rep.input_error(&args.output.display().to_string(), &refused);
    }
    match out.commit(false) {
        Ok(files) => {
            // One line a channel folder written.
            let folders: BTreeSet<PathBuf> = files
                .iter()
                .filter_map(|f| f.path.parent().map(PathBuf::from))
                .collect();
            for dir in folders {
                report::note(&format!("wrote {}", dir.display()));
            }
        }
        Err((path, e)) => rep.input_error(&path.display().to_string(), &e.to_string()),
    }
    Ok(rep.code())
}
