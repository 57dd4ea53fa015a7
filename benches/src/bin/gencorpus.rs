//! Writes a deterministic synthetic trail log, for measuring the CLI on a
//! large file.
//!
//! ```text
//! gencorpus OUT --mb N [--mix interactive|bulk] [--format jsonl|hex|hexdump]
//! ```
//!
//! `OUT` may be `-` for standard output.

use std::io::Write;
use std::process::ExitCode;

use sshtrail_benches::{generate, Layout, Mix};

const USAGE: &str =
    "usage: gencorpus OUT --mb N [--mix interactive|bulk] [--format jsonl|hex|hexdump]";

struct Args {
    out: String,
    mb: usize,
    mix: Mix,
    layout: Layout,
}

fn parse(mut args: impl Iterator<Item = String>) -> Result<Args, String> {
    let mut out = None;
    let mut mb = None;
    let mut mix = Mix::Interactive;
    let mut layout = Layout::Jsonl;
    while let Some(arg) = args.next() {
        let mut value = |name: &str| {
            args.next()
                .ok_or_else(|| format!("expected a value after {name}"))
        };
        match arg.as_str() {
            "-h" | "--help" => return Err(String::new()),
            "--mb" => {
                let v = value("--mb")?;
                mb = Some(v.parse::<usize>().ok().filter(|&n| n > 0).ok_or_else(|| {
                    format!("expected a positive number after --mb, found {v:?}")
                })?);
            }
            "--mix" => {
                let v = value("--mix")?;
                mix = Mix::from_name(&v).ok_or_else(|| {
                    format!("expected interactive or bulk after --mix, found {v:?}")
                })?;
            }
            "--format" => {
                let v = value("--format")?;
                layout = Layout::from_name(&v).ok_or_else(|| {
                    format!("expected jsonl, hex or hexdump after --format, found {v:?}")
                })?;
            }
            s if s.starts_with("--") => return Err(format!("unknown option {s:?}")),
            _ if out.is_none() => out = Some(arg),
            _ => return Err(format!("unexpected argument {arg:?}")),
        }
    }
    Ok(Args {
        out: out.ok_or("expected an output path (or -)")?,
        mb: mb.ok_or("expected --mb N")?,
        mix,
        layout,
    })
}

fn main() -> ExitCode {
    let args = match parse(std::env::args().skip(1)) {
        Ok(a) => a,
        Err(e) if e.is_empty() => {
            println!("{USAGE}");
            return ExitCode::SUCCESS;
        }
        Err(e) => {
            eprintln!("gencorpus: {e}\n{USAGE}");
            return ExitCode::from(2);
        }
    };
    let Some(target) = args.mb.checked_mul(1 << 20) else {
        eprintln!("gencorpus: --mb {} is too large", args.mb);
        return ExitCode::from(2);
    };
    let buf = generate(args.mix, target, args.layout);
    let written = if args.out == "-" {
        std::io::stdout().lock().write_all(&buf)
    } else {
        std::fs::write(&args.out, &buf)
    };
    if let Err(e) = written {
        eprintln!("gencorpus: {}: {e}", args.out);
        return ExitCode::FAILURE;
    }
    if args.out != "-" {
        eprintln!(
            "gencorpus: wrote {} bytes ({:?}, {:?}) to {}",
            buf.len(),
            args.mix,
            args.layout,
            args.out
        );
    }
    ExitCode::SUCCESS
}
