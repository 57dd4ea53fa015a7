//! `sshtrail streams`: each channel's stdin, stdout and stderr as raw files,
//! with an index of every chunk's time and offset.

use std::collections::BTreeSet;
use std::path::PathBuf;

use clap::Args;
use sshtrail::output::{ChannelWriter, StreamsWriter};

use crate::cli::args::Inputs;
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
    #[command(flatten)]
    inputs: Inputs,
}

/// Runs `sshtrail streams`.
pub fn run(args: StreamsArgs) -> CommandResult {
    let mut rep = Reporter::default();
    let archive = input::open(&args.inputs.paths, &mut rep);
    let claims = input::claims(&archive);
    let mut out = DirOutput::under(&args.output, &args.output, args.force, &claims, "");
    let mut writer = StreamsWriter::default();
    if let Err(e) = input::replay(
        &archive,
        args.inputs.format.to_format(),
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
