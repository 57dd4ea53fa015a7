//! `sshtrail`: inspect, replay and convert SSH trail logs.
//!
//! A thin shell over the `sshtrail` library: argument parsing, opening
//! inputs, reporting problems and exit codes. Formats live in the library.

mod cat;
mod gather;
mod input;
mod inspect;
mod load;
mod report;
mod stats;
mod streams;

use std::process::ExitCode;

use clap::{Parser, Subcommand, ValueEnum};

/// Exit status when every input was read without error.
pub const EXIT_OK: u8 = 0;
/// Exit status when an input had a malformed line or could not be read.
pub const EXIT_INPUT: u8 = 1;
/// Exit status for a usage error.
pub const EXIT_USAGE: u8 = 2;

#[derive(Parser, Debug)]
#[command(name = "sshtrail", version, about = "Decode, inspect and convert SSH trail logs (jsonl or hex)", long_about = None)]
#[command(
    after_help = "Exit status: 0 all went well, 1 an input had errors, 2 usage error.\n\nExamples:\n  sshtrail cat session.jsonl\n  sshtrail cat --filter stdout --to raw session.jsonl > stdout.bin\n  sshtrail stats --json session.hex"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Print the events of trail logs, filtered and in any layout.
    #[command(
        after_help = "Examples:\n  sshtrail cat session.jsonl                          readable listing\n  sshtrail cat --filter stdout --to raw s.jsonl > out  pull the output stream out\n  sshtrail cat --to hex session.jsonl > session.hex   convert jsonl to hex\n  curl ... | sshtrail cat --to jsonl -                 read standard input\n  sshtrail cat --on-error skip broken.jsonl            report every bad line, keep going"
    )]
    Cat(cat::CatArgs),
    /// Count events and payload bytes per type, time span and clock steps.
    #[command(
        after_help = "Examples:\n  sshtrail stats session.jsonl\n  sshtrail stats --json logs/*.jsonl | jq .by_type"
    )]
    Stats(stats::StatsArgs),
    /// Who did what, where, and how it ended: connections and their channels.
    #[command(
        after_help = "Examples:\n  sshtrail inspect logs/30187a8e-7d54-538d-8116-f03995b6228b   a connection directory\n  sshtrail inspect --json 0.jsonl | jq '.connections[].channels[].exit_status'"
    )]
    Inspect(inspect::InspectArgs),
    /// Write each channel's stdin, stdout and stderr as raw files with a chunk index.
    #[command(
        after_help = "Examples:\n  sshtrail streams -o out/ logs/30187a8e-7d54-538d-8116-f03995b6228b\n  # then: less -R out/<connection>/<channel>/stdout"
    )]
    Streams(streams::StreamsArgs),
}

/// Input layout choice on the command line.
#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum FormatArg {
    /// Detect from the first line of each file.
    Auto,
    /// One JSON object a line.
    Jsonl,
    /// Hex line or dump layout.
    Hex,
}

impl FormatArg {
    fn to_format(self) -> Option<sshtrail::Format> {
        match self {
            FormatArg::Auto => None,
            FormatArg::Jsonl => Some(sshtrail::Format::Jsonl),
            FormatArg::Hex => Some(sshtrail::Format::Hex),
        }
    }
}

/// What to do at a malformed line.
#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum OnError {
    /// Stop at the first error (exit status 1).
    Stop,
    /// Report every bad line and keep going (exit status still 1).
    Skip,
}

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            let _ = e.print();
            return ExitCode::from(if e.use_stderr() { EXIT_USAGE } else { EXIT_OK });
        }
    };
    let status = match cli.command {
        Command::Cat(args) => cat::run(args),
        Command::Stats(args) => stats::run(args),
        Command::Inspect(args) => inspect::run(args),
        Command::Streams(args) => streams::run(args),
    };
    ExitCode::from(status)
}
