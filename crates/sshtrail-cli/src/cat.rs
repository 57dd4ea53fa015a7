//! `sshtrail cat`: print events, filtered, in any layout.

use std::io::{self, BufWriter, Write};

use clap::{Args, ValueEnum};
use sshtrail::archive::open_input;
use sshtrail::encode::{
    EncodeError, Encoder, HexDumpEncoder, HexLineEncoder, JsonlEncoder, PrettyEncoder, RawEncoder,
};
use sshtrail::{ParseError, StreamReader};

use std::collections::VecDeque;
use std::path::PathBuf;

use sshtrail::archive::{Archive, Discovery, ReplayOptions};
use sshtrail::channel::{ChannelEvent, ChannelEventKind, ChannelSink, Stream};
use sshtrail::connection::Context;
use sshtrail::redact::{SecretFilter, SecretRules};
use sshtrail::{Event, EventType, Filter, Payload};

use crate::cli::args::{parse_filter, FormatArg, OnError, Redaction};
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
    #[command(flatten)]
    redaction: Redaction,
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
    // The listing is for people: secrets typed at prompts are judged on
    // each channel and shown as `*`. The layouts are the evidence.
    if args.to == To::Pretty {
        if let Some(rules) = args.redaction.rules().map_err(usage)? {
            return judged_listing(&args, filter, rules);
        }
    }
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

/// `cat --to pretty` with secrets redacted: each file is replayed as
/// channels so that its keys can be judged against their echo; the listing
/// keeps the log's order.
fn judged_listing(args: &CatArgs, filter: Filter, rules: SecretRules) -> CommandResult {
    let stop = args.on_error == OnError::Stop;
    let mut rep = Reporter::default();
    let mut listing = Listing {
        encoder: PrettyEncoder::default(),
        filter,
        out: BufWriter::with_capacity(256 << 10, io::stdout().lock()),
        queue: VecDeque::new(),
        scratch: Vec::new(),
    };
    let mut options = ReplayOptions::with_format(args.format.to_format());
    if stop {
        options = options.stopping_at_error();
    }
    for path in &args.files {
        // cat reads files; a folder is not walked.
        if path != "-" && std::path::Path::new(path).is_dir() {
            rep.input_error(path, "is a directory, not a trail log");
            if stop {
                break;
            }
            continue;
        }
        let archive = Archive::open(&[PathBuf::from(path)], &Discovery::standard(), &mut |p| {
            rep.problem(&p)
        });
        let result = {
            let mut filter = SecretFilter::new(&mut listing, rules.clone());
            archive.replay_with(&options, &mut filter, &mut |p| rep.problem(&p))
        };
        let written = listing.flush_all();
        if let Err(e) = result.and(written) {
            return rep.output_failed(&e);
        }
        if stop && rep.errors > 0 {
            break;
        }
    }
    if let Err(e) = listing.out.flush() {
        return rep.output_failed(&e);
    }
    Ok(rep.code())
}

/// A line of the listing: written, or waiting for its data event's bytes
/// (held while its keys are judged).
enum Entry {
    Ready(Vec<u8>),
    Waiting {
        channel: Context,
        line: u64,
        ts: sshtrail::time::Nanos,
        ts_text: String,
        kind: EventType<'static>,
        shown: bool,
    },
}

/// The pretty listing of a connection's events, in log order, with each
/// data event's bytes as judged.
struct Listing<W: Write> {
    encoder: PrettyEncoder,
    filter: Filter,
    out: W,
    queue: VecDeque<Entry>,
    scratch: Vec<u8>,
}

impl<W: Write> Listing<W> {
    /// Writes the lines at the head of the queue that are ready.
    fn flush_ready(&mut self) -> io::Result<()> {
        while let Some(Entry::Ready(_)) = self.queue.front() {
            if let Some(Entry::Ready(bytes)) = self.queue.pop_front() {
                self.out.write_all(&bytes)?;
            }
        }
        Ok(())
    }

    /// Writes everything left (a data line never judged is shown empty).
    fn flush_all(&mut self) -> io::Result<()> {
        while let Some(entry) = self.queue.pop_front() {
            match entry {
                Entry::Ready(bytes) => self.out.write_all(&bytes)?,
                Entry::Waiting { .. } => {}
            }
        }
        Ok(())
    }

    fn render(&mut self, event: &Event<'_>, payload: &[u8]) -> io::Result<Vec<u8>> {
        self.scratch.clear();
        match self.encoder.event(&mut self.scratch, event, payload) {
            Ok(()) => Ok(std::mem::take(&mut self.scratch)),
            Err(EncodeError::Io(e)) => Err(e),
            Err(e) => Err(io::Error::other(e.to_string())),
        }
    }
}

impl<W: Write> ChannelSink for Listing<W> {
    fn event(&mut self, ev: &ChannelEvent<'_>) -> io::Result<()> {
        match ev.kind {
            ChannelEventKind::Logged { event, payload } => {
                let shown = self.filter.matches(&event.kind);
                if Stream::of(&event.kind).is_some() {
                    // Its bytes come with the data event, once judged.
                    self.queue.push_back(Entry::Waiting {
                        channel: ev.channel.context.clone(),
                        line: event.line,
                        ts: event.ts,
                        ts_text: event.ts_text.to_string(),
                        kind: event.kind.clone().into_owned(),
                        shown,
                    });
                } else if shown {
                    let line = self.render(event, payload)?;
                    self.queue.push_back(Entry::Ready(line));
                }
            }
            ChannelEventKind::Data { data, line, .. } => {
                let at = self.queue.iter().position(|e| {
                    matches!(e, Entry::Waiting { channel, line: l, .. }
                        if *l == line && *channel == ev.channel.context)
                });
                if let Some(at) = at {
                    let event = match &self.queue[at] {
                        Entry::Waiting {
                            ts,
                            ts_text,
                            kind,
                            shown: true,
                            line,
                            ..
                        } => Some(Event {
                            kind: kind.clone(),
                            ts_text: ts_text.clone().into(),
                            ts: *ts,
                            payload: Payload::Empty,
                            extras: Default::default(),
                            line: *line,
                        }),
                        _ => None,
                    };
                    let rendered = match event {
                        Some(event) => Some(self.render(&event, data)?),
                        None => None,
                    };
                    match rendered {
                        Some(bytes) => self.queue[at] = Entry::Ready(bytes),
                        None => {
                            self.queue.remove(at);
                        }
                    }
                }
            }
            _ => {}
        }
        self.flush_ready()
    }
}
