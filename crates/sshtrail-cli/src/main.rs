//! `sshtrail`: inspect, replay and convert SSH trail logs.
//!
//! A thin shell over the `sshtrail` library: argument parsing, one module a
//! command, reporting problems and exit codes. Formats, channels and what
//! users point at live in the library.

mod cat;
mod cli;
mod commands;
mod convert;
mod fetch;
mod files;
mod grep;
mod inspect;
mod play;
mod report;
mod screen;
mod stats;
mod streams;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

use cli::exit;

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
    /// Convert channels to asciicast, script, text, jsonl, hex, raw or SIEM records.
    #[command(
        after_help = "Examples:\n  sshtrail convert --to asciicast session.jsonl -o session.cast\n  sshtrail convert --to asciicast-v3 --input --idle-limit 2 0.jsonl -o 0.cast\n  sshtrail convert --to script 0.jsonl -o 0.typescript     # then: scriptreplay -t 0.typescript.timing 0.typescript\n  sshtrail convert --to text,asciicast logs/<connection-id>/ -o out/\n  sshtrail convert --to asciicast,jsonl -j 2 -o out/ archive/          batch: a whole tree, with manifest.jsonl\n  sshtrail convert --to ecs logs/*/ > records.ndjson                   SIEM: ecs, ocsf, cef, hec\n\n-o names the output file when there is one channel and one format, else a directory\nthat receives <connection_id>/<channel_id>.<ext>; without -o a single output goes to stdout."
    )]
    Convert(convert::ConvertArgs),
    /// The command lines typed, with their times and how sure each is.
    #[command(
        after_help = "Examples:\n  sshtrail commands logs/<connection-id>/\n  sshtrail commands --json 0.jsonl | jq -r 'select(.command | test(\"sudo\")) | .ts'\n\nconfidence: exact (every key understood, echo agrees), echo (read off the screen after\ncompletion or history recall), uncertain (best guess). Lines typed without echo\n(passwords) and keys typed in full-screen programs are not commands."
    )]
    Commands(commands::CommandsArgs),
    /// Print the screen as it looked at a moment.
    #[command(
        after_help = "Examples:\n  sshtrail screen --at 1m30s 0.jsonl\n  sshtrail screen --at 2023-06-07T17:33:00Z logs/<connection-id>/"
    )]
    Screen(screen::ScreenArgs),
    /// Replay a session in the terminal, in real time.
    #[command(
        after_help = "Examples:\n  sshtrail play 0.jsonl\n  sshtrail play --speed 4 --idle-limit 1 --from 1m30s 0.jsonl"
    )]
    Play(play::PlayArgs),
    /// Search what sessions showed and the commands typed.
    #[command(
        after_help = "Examples:\n  sshtrail grep -i 'permission denied' logs/\n  sshtrail grep --only commands '^sudo ' logs/*/\n\nEach hit gives the channel, the offset into the session (usable with play --from) and\nthe time. Exit status: 0 hits, 1 no hit or an input error, 2 usage error."
    )]
    Grep(grep::GrepArgs),
    /// Who did what, where, and how it ended: connections and their channels.
    #[command(
        after_help = "Examples:\n  sshtrail inspect logs/30187a8e-7d54-538d-8116-f03995b6228b   a connection directory\n  sshtrail inspect --json 0.jsonl | jq '.connections[].channels[].exit_status'"
    )]
    Inspect(inspect::InspectArgs),
    /// The files uploaded and downloaded over SFTP and SCP: path, size, SHA-256.
    #[command(
        after_help = "Examples:\n  sshtrail files logs/<connection-id>/\n  sshtrail files --json logs/*/ | jq -r 'select(.direction == \"download\") | .path'\n  sshtrail files --ops 0.jsonl              every operation, failed ones with their message\n\nA file is complete when every byte was seen and the transfer ended well; sha256 is\ngiven when every byte of it was seen once. Problems in the SFTP or SCP data are\nreported as FILE:LINE (exit status 1)."
    )]
    Files(files::FilesArgs),
    /// The evidence report: a self-contained HTML page a connection, with a
    /// player, the commands typed, a search and the transcript.
    #[command(
        after_help = "Examples:\n  sshtrail report logs/<connection-id>/ -o connection.html\n  sshtrail report logs/ -o reports/          several connections: reports/index.html and a page each\n\nThe page needs no network: the player and the recordings are in it. Times on it are\noffsets from the connection's start, as screen --at takes them. Secrets typed at\nprompts are redacted unless --no-redact."
    )]
    Report(report::ReportArgs),
    /// Write each channel's stdin, stdout and stderr as raw files with a chunk index.
    #[command(
        after_help = "Examples:\n  sshtrail streams -o out/ logs/30187a8e-7d54-538d-8116-f03995b6228b\n  # then: less -R out/<connection>/<channel>/stdout"
    )]
    Streams(streams::StreamsArgs),
    /// Pull connections, trail logs and stored files from the gateway's API into an archive.
    #[command(
        after_help = "Examples:\n  export SSHTRAIL_API_CLIENT_ID=... SSHTRAIL_API_CLIENT_SECRET=... SSHTRAIL_OAUTH_CLIENT_ID=... SSHTRAIL_OAUTH_CLIENT_SECRET=...\n  sshtrail fetch --url https://gateway.example --since 2024-05-01T00:00:00Z -o archive/\n  sshtrail fetch --url https://gateway.example --resume -o archive/          add what is missing\n  sshtrail fetch --url https://gateway.example --connection ID --files -o archive/\n\nCredentials come from the environment (SSHTRAIL_TOKEN, or the four client variables)\nor from --config FILE (default ~/.config/sshtrail/credentials.toml, mode 600), never\nfrom the command line. Exit status: 0 all fetched, 1 something could not be fetched\n(listed), 2 usage error."
    )]
    Fetch(fetch::FetchArgs),
}

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            let _ = e.print();
            return exit::code(if e.use_stderr() {
                exit::USAGE
            } else {
                exit::OK
            });
        }
    };
    let result = match cli.command {
        Command::Cat(args) => cat::run(args),
        Command::Stats(args) => stats::run(args),
        Command::Inspect(args) => inspect::run(args),
        Command::Convert(args) => convert::run(args),
        Command::Commands(args) => commands::run(args),
        Command::Screen(args) => screen::run(args),
        Command::Play(args) => play::run(args),
        Command::Grep(args) => grep::run(args),
        Command::Streams(args) => streams::run(args),
        Command::Files(args) => files::run(args),
        Command::Fetch(args) => fetch::run(args),
        Command::Report(args) => report::run(args),
    };
    result.unwrap_or_else(|failure| failure.report())
}
