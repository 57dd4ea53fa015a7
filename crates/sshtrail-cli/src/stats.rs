//! `sshtrail stats`: counts per type, time span and clock steps.

use std::io::{self, Write};

use clap::Args;
use sshtrail::stats::Stats;

use sshtrail::archive::open_input;
use sshtrail::StreamReader;

use crate::cat::{display_name, Flow};
use crate::cli::args::{parse_filter, FormatArg, OnError};
use crate::cli::report::{usage, CommandResult, Reporter};
use sshtrail::encode::escape_controls;

/// Arguments of `sshtrail stats`.
#[derive(Args, Debug)]
pub struct StatsArgs {
    /// Print one JSON object instead of a table.
    #[arg(long)]
    json: bool,
    /// Count only these event types, comma separated.
    #[arg(long, value_name = "LIST")]
    filter: Option<String>,
    /// Input layout.
    #[arg(long, value_enum, default_value_t = FormatArg::Auto)]
    format: FormatArg,
    /// What to do at a malformed line. Statistics count every problem, so
    /// the default is to keep going; the exit status is 1 either way.
    #[arg(long, value_enum, default_value_t = OnError::Skip)]
    on_error: OnError,
    /// Trail logs to read; `-` is standard input.
    #[arg(required = true, value_name = "FILE")]
    files: Vec<String>,
}

/// Runs `sshtrail stats`.
pub fn run(args: StatsArgs) -> CommandResult {
    let filter = parse_filter(args.filter.as_deref()).map_err(usage)?;
    let stop = args.on_error == OnError::Stop;
    let format = args.format.to_format();
    let mut rep = Reporter::default();
    let mut stats = Stats::default();
    let mut payload = Vec::new();
    for path in &args.files {
        let name = display_name(path);
        let input = match open_input(path.as_ref()) {
            Ok(i) => i,
            Err(e) => {
                rep.input_error(name, &e.to_string());
                if stop {
                    break;
                }
                continue;
            }
        };
        stats.start_log();
        let result = StreamReader::with_format(input, format).for_each(|record| {
            let failed = match record {
                Ok(ev) => match ev.decode_payload(&mut payload) {
                    Ok(()) => {
                        if filter.matches(&ev.kind) {
                            stats.add(&ev, payload.len() as u64);
                        }
                        return Ok(());
                    }
                    Err(e) => e,
                },
                Err(e) => e,
            };
            rep.parse_error(name, &failed);
            if stop && !failed.is_warning() {
                Err(Flow::Halt)
            } else {
                Ok(())
            }
        });
        match result {
            Ok(()) | Err(Flow::Output(_)) => {}
            Err(Flow::Halt) => break,
            Err(Flow::Read(e)) => {
                rep.input_error(name, &format!("reading failed: {e}"));
                if stop {
                    break;
                }
            }
        }
    }
    stats.warnings = rep.warnings;
    stats.errors = rep.errors;
    let mut out = io::BufWriter::new(io::stdout().lock());
    let written = if args.json {
        stats
            .write_json(&mut out)
            .map_err(io::Error::from)
            .and_then(|()| out.write_all(b"\n"))
    } else {
        out.write_all(table(&stats).as_bytes())
    };
    if let Err(e) = written.and_then(|()| out.flush()) {
        return rep.output_failed(&e);
    }
    Ok(rep.code())
}

/// The statistics as a table for people.
fn table(stats: &Stats) -> String {
    let mut t = String::new();
    t.push_str(&format!(
        "{:<28} {:>12} {:>16}\n",
        "TYPE", "EVENTS", "BYTES"
    ));
    let by_type = stats.by_type();
    for (name, c) in &by_type {
        let name = escape_controls(name);
        t.push_str(&format!("{:<28} {:>12} {:>16}\n", name, c.events, c.bytes));
    }
    let bytes: u64 = by_type.values().map(|c| c.bytes).sum();
    t.push_str(&format!(
        "{:<28} {:>12} {:>16}\n\n",
        "total", stats.events, bytes
    ));
    t.push_str(&format!(
        "first event      {}\n",
        stats.first_ts().unwrap_or("-")
    ));
    t.push_str(&format!(
        "last event       {}\n",
        stats.last_ts().unwrap_or("-")
    ));
    t.push_str(&format!("duration         {:.3} s\n", stats.duration_s()));
    t.push_str(&format!("backwards steps  {}\n", stats.backwards_steps));
    t.push_str(&format!("warnings         {}\n", stats.warnings));
    t.push_str(&format!("errors           {}\n", stats.errors));
    t
}
