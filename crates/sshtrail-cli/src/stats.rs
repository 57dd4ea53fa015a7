//! `sshtrail stats`: counts per type, time span and clock steps.

use std::io::{self, Seek, Write};

use clap::Args;
use sshtrail::stats::Stats;

use sshtrail::archive::{open_input, FileStream};
use sshtrail::{Filter, ParseError, Record, SliceReader, StreamReader};

use crate::cat::{display_name, Flow};
use crate::cli::args::{parse_filter, FormatArg, OnError};
use crate::cli::blocks::{self, for_each_block, Block, End, Split};
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
    /// Threads that read one large log (default: one per core); the
    /// statistics are the same for any number. Standard input and
    /// compressed logs are read on one thread.
    #[arg(short = 'j', long = "threads", value_name = "N")]
    threads: Option<usize>,
    /// Block size for splitting a log between threads (tests use small
    /// blocks to get many on a small log; any size splits every log).
    #[arg(long, value_name = "BYTES", hide = true)]
    block_size: Option<usize>,
    /// Trail logs to read; `-` is standard input.
    #[arg(required = true, value_name = "FILE")]
    files: Vec<String>,
}

/// What `stats` does with each record, whichever thread reads it.
struct Count {
    filter: Filter,
    stop: bool,
}

impl Count {
    /// Counts one record into `stats`, or hands its problem to `said`.
    fn record(
        &self,
        record: Record<'_>,
        stats: &mut Stats,
        payload: &mut Vec<u8>,
        said: &mut impl FnMut(&ParseError),
    ) -> Result<(), Flow> {
        let failed = match record {
            Ok(ev) => match ev.decode_payload(payload) {
                Ok(()) => {
                    if self.filter.matches(&ev.kind) {
                        stats.add(&ev, payload.len() as u64);
                    }
                    return Ok(());
                }
                Err(e) => e,
            },
            Err(e) => e,
        };
        said(&failed);
        if self.stop && !failed.is_warning() {
            Err(Flow::Halt)
        } else {
            Ok(())
        }
    }
}

/// A block's statistics and problems, in order.
struct Counted {
    stats: Stats,
    problems: Vec<ParseError>,
    halted: bool,
}

/// Runs `sshtrail stats`.
pub fn run(args: StatsArgs) -> CommandResult {
    let filter = parse_filter(args.filter.as_deref()).map_err(usage)?;
    if args.threads == Some(0) {
        return Err(usage("-j/--threads must be at least 1"));
    }
    let count = Count {
        filter,
        stop: args.on_error == OnError::Stop,
    };
    let stop = count.stop;
    let format = args.format.to_format();
    let split = Split::new(args.threads, args.block_size);
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
        let result = match split.log_to_split(path) {
            Some((file, len)) => {
                drop(input);
                let mut said = |e: &ParseError| rep.parse_error(name, e);
                count_split(
                    &count, path, file, len, format, split, &mut stats, &mut said,
                )
            }
            None => StreamReader::with_format(input, format).for_each(|record| {
                count.record(record, &mut stats, &mut payload, &mut |e| {
                    rep.parse_error(name, e)
                })
            }),
        };
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

/// The statistics of one log split into blocks counted on several threads
/// and joined in order: those of one pass.
#[allow(clippy::too_many_arguments)]
fn count_split(
    count: &Count,
    path: &str,
    file: std::fs::File,
    len: u64,
    format: Option<sshtrail::Format>,
    split: Split,
    stats: &mut Stats,
    said: &mut impl FnMut(&ParseError),
) -> Result<(), Flow> {
    let end = for_each_block(
        file,
        len,
        format,
        split,
        |block: &Block<'_>| {
            let mut counted = Counted {
                stats: Stats::default(),
                problems: Vec::new(),
                halted: false,
            };
            let mut payload = Vec::new();
            let mut reader = SliceReader::with_state(block.bytes, block.start);
            for record in reader.by_ref() {
                let mut keep = |e: &ParseError| counted.problems.push(e.clone());
                if count
                    .record(record, &mut counted.stats, &mut payload, &mut keep)
                    .is_err()
                {
                    counted.halted = true;
                    break;
                }
            }
            (counted, reader.state())
        },
        |counted: Counted, before| {
            stats.merge(&counted.stats);
            for mut e in counted.problems {
                e.line += before;
                said(&e);
            }
            if counted.halted {
                blocks::Flow::Stop
            } else {
                blocks::Flow::Continue
            }
        },
    );
    let mut payload = Vec::new();
    match end.map_err(Flow::Read)? {
        End::Stopped => Err(Flow::Halt),
        End::Done(mut state) => match state.judge_end() {
            Some(e) => count.record(Err(e), stats, &mut payload, said),
            None => Ok(()),
        },
        End::Rest { offset, state } => {
            let mut file = std::fs::File::open(path)?;
            file.seek(io::SeekFrom::Start(offset))?;
            let rest = FileStream::new(file, len.saturating_sub(offset));
            StreamReader::with_state(rest, state)
                .for_each(|record| count.record(record, stats, &mut payload, said))
        }
    }
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
