//! `sshtrail cat`: print events, filtered, in any layout.

use std::io::{self, BufWriter, Write};

use clap::{Args, ValueEnum};
use sshtrail::archive::open_input;
use sshtrail::encode::{
    EncodeError, Encoder, HexDumpEncoder, HexLineEncoder, JsonlEncoder, PrettyEncoder, RawEncoder,
};
use sshtrail::{ParseError, StreamReader};

use crate::cli::args::{parse_filter, FormatArg, OnError};
use crate::cli::report::{self, usage, CommandResult, Reporter};

/// Arguments of `sshtrail cat`.
#[derive(Args, Debug)]
pub struct CatArgs {
    /// Keep only these event types, comma separated (the server's syntax),
    /// e.g. `stdin,stdout,reverse-request`.
    #[arg(long, value_name = "LIST")]
    filter: Option<String>,
    /// Output: a readable listing, a layout, or the payload bytes back to back.
    #[arg(long, value_enum, default_value_t = To::Pretty)]
    to: To,
    /// Input layout.
    #[arg(long, value_enum, default_value_t = FormatArg::Auto)]
    format: FormatArg,
    /// What to do at a malformed line.
    #[arg(long, value_enum, default_value_t = OnError::Stop)]
    on_error: OnError,
    /// Trail logs to read; `-` is standard input.
    #[arg(required = true, value_name = "FILE")]
    files: Vec<String>,
}

/// Output of `sshtrail cat`.
#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum To {
    /// Time, type, payload length and the payload as escaped text.
    Pretty,
    /// Canonical jsonl.
    Jsonl,
    /// The hex line layout.
    Hex,
    /// The hex dump layout.
    Hexdump,
    /// The decoded payloads back to back.
    Raw,
}

/// Why the record loop stopped early.
pub enum Flow {
    /// An input error under `--on-error stop`.
    Halt,
    /// Reading the input failed.
    Read(io::Error),
    /// Writing the output failed.
    Output(io::Error),
}

impl From<io::Error> for Flow {
    fn from(e: io::Error) -> Self {
        Flow::Read(e)
    }
}

/// The name used in messages for a path argument.
pub fn display_name(path: &str) -> &str {
    if path == "-" {
        "<stdin>"
    } else {
        path
    }
}

/// Runs `sshtrail cat`.
pub fn run(args: CatArgs) -> CommandResult {
    let filter = parse_filter(args.filter.as_deref()).map_err(usage)?;
    let mut encoder: Box<dyn Encoder> = match args.to {
        To::Pretty => Box::new(PrettyEncoder::default()),
        To::Jsonl => Box::new(JsonlEncoder::default()),
        To::Hex => Box::new(HexLineEncoder::default()),
        To::Hexdump => Box::new(HexDumpEncoder::default()),
        To::Raw => Box::new(RawEncoder),
    };
    let warn_extras = matches!(args.to, To::Hex | To::Hexdump);
    let stop = args.on_error == OnError::Stop;
    let format = args.format.to_format();
    let mut rep = Reporter::default();
    let mut out = BufWriter::with_capacity(256 << 10, io::stdout().lock());
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
        let mut extras_warned = false;
        let result = StreamReader::with_format(input, format).for_each(|record| {
            let event = match record {
                Ok(ev) => ev,
                Err(e) => {
                    rep.parse_error(name, &e);
                    return if stop && !e.is_warning() {
                        Err(Flow::Halt)
                    } else {
                        Ok(())
                    };
                }
            };
            if let Err(e) = event.decode_payload(&mut payload) {
                rep.parse_error(name, &e);
                return if stop { Err(Flow::Halt) } else { Ok(()) };
            }
            if !filter.matches(&event.kind) {
                return Ok(());
            }
            if warn_extras && !extras_warned && !event.extras.is_empty() {
                extras_warned = true;
                let keys: Vec<&str> = event.extras.iter().map(|(k, _)| k).collect();
                report::warn(&format!("{name}:{}: extra keys ({}) cannot be written in the hex layouts and are dropped from this file's output", event.line, keys.join(", ")));
            }
            match encoder.event(&mut out, &event, &payload) {
                Ok(()) => Ok(()),
                Err(EncodeError::Io(e)) => Err(Flow::Output(e)),
                Err(e) => {
                    rep.parse_error(name, &ParseError::syntax(event.line, 1, e.to_string()));
                    if stop {
                        Err(Flow::Halt)
                    } else {
                        Ok(())
                    }
                }
            }
        });
        match result {
            Ok(()) => {}
            Err(Flow::Halt) => break,
            Err(Flow::Read(e)) => {
                rep.input_error(name, &format!("reading failed: {e}"));
                if stop {
                    break;
                }
            }
            Err(Flow::Output(e)) => return rep.output_failed(&e),
        }
    }
    let finished = match encoder.finish(&mut out) {
        Ok(()) => out.flush(),
        Err(EncodeError::Io(e)) => Err(e),
        Err(e) => Err(io::Error::other(e.to_string())),
    };
    if let Err(e) = finished {
        return rep.output_failed(&e);
    }
    Ok(rep.code())
}
