//! `sshtrail cat`: print events, filtered, in any layout.

use std::io::{self, BufWriter, Seek, Write};

use clap::{Args, ValueEnum};
use sshtrail::archive::{open_input, FileStream};
use sshtrail::encode::{
    EncodeError, Encoder, HexDumpEncoder, HexLineEncoder, JsonlEncoder, PrettyEncoder, RawEncoder,
};
use sshtrail::{ParseError, SliceReader, StreamReader};

use std::collections::VecDeque;
use std::path::PathBuf;
use std::sync::Mutex;

use sshtrail::archive::{Archive, Discovery, ReplayOptions};
use sshtrail::channel::{ChannelEvent, ChannelEventKind, ChannelSink, Stream};
use sshtrail::connection::Context;
use sshtrail::redact::{SecretFilter, SecretRules};
use sshtrail::{Event, EventType, Filter, Payload};

use crate::cli::args::{parse_filter, FormatArg, OnError, Redaction};
use crate::cli::blocks::{self, for_each_block, Block, End, Split};
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
    /// Threads that decode one large log (default: one per core); the
    /// output is the same for any number. Standard input, compressed logs
    /// and `--to hexdump` (and the redacted listing) are read on one thread.
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

/// What `cat` does with each record, whichever thread reads it.
struct Cat {
    filter: Filter,
    stop: bool,
    /// The output drops extra keys: say so once a file.
    warn_extras: bool,
}

/// What is said about a file, in order: right away in one pass, after the
/// block's output when blocks are read on several threads.
trait Says {
    fn parse_error(&mut self, e: &ParseError);
    /// The first event of the block (or file) whose extra keys are dropped.
    fn extras(&mut self, line: u64, keys: &[&str]);
}

/// Says it right away.
struct SayNow<'a> {
    rep: &'a mut Reporter,
    name: &'a str,
    extras_warned: bool,
}

impl Says for SayNow<'_> {
    fn parse_error(&mut self, e: &ParseError) {
        self.rep.parse_error(self.name, e);
    }

    fn extras(&mut self, line: u64, keys: &[&str]) {
        if !self.extras_warned {
            self.extras_warned = true;
            report::warn(&format!("{}:{line}: extra keys ({}) cannot be written in the hex layouts and are dropped from this file's output", self.name, keys.join(", ")));
        }
    }
}

/// Something said about a block, kept until the block's turn.
enum Said {
    Parse(ParseError),
    Extras { line: u64, keys: String },
}

/// Keeps what is said about a block.
#[derive(Default)]
struct SayLater {
    said: Vec<Said>,
    extras_kept: bool,
}

impl Says for SayLater {
    fn parse_error(&mut self, e: &ParseError) {
        self.said.push(Said::Parse(e.clone()));
    }

    fn extras(&mut self, line: u64, keys: &[&str]) {
        // Only a file's first is said: a block's first is enough.
        if !self.extras_kept {
            self.extras_kept = true;
            self.said.push(Said::Extras {
                line,
                keys: keys.join(", "),
            });
        }
    }
}

impl SayLater {
    /// Says it all now, in order, the block's line numbers moved past the
    /// `before` lines before it.
    fn say(self, now: &mut SayNow<'_>, before: u64) {
        for said in self.said {
            match said {
                Said::Parse(mut e) => {
                    e.line += before;
                    now.parse_error(&e)
                }
                Said::Extras { line, keys } => now.extras(before + line, &[keys.as_str()]),
            }
        }
    }
}

impl Cat {
    /// Writes one record's event with `encoder` into `out`, or says what
    /// is wrong with it.
    fn record(
        &self,
        record: sshtrail::Record<'_>,
        encoder: &mut dyn Encoder,
        out: &mut dyn Write,
        payload: &mut Vec<u8>,
        says: &mut impl Says,
    ) -> Result<(), Flow> {
        let event = match record {
            Ok(ev) => ev,
            Err(e) => {
                says.parse_error(&e);
                return if self.stop && !e.is_warning() {
                    Err(Flow::Halt)
                } else {
                    Ok(())
                };
            }
        };
        if let Err(e) = event.decode_payload(payload) {
            says.parse_error(&e);
            return if self.stop { Err(Flow::Halt) } else { Ok(()) };
        }
        if !self.filter.matches(&event.kind) {
            return Ok(());
        }
        if self.warn_extras && !event.extras.is_empty() {
            let keys: Vec<&str> = event.extras.iter().map(|(k, _)| k).collect();
            says.extras(event.line, &keys);
        }
        match encoder.event(out, &event, payload) {
            Ok(()) => Ok(()),
            Err(EncodeError::Io(e)) => Err(Flow::Output(e)),
            Err(e) => {
                says.parse_error(&ParseError::syntax(event.line, 1, e.to_string()));
                if self.stop {
                    Err(Flow::Halt)
                } else {
                    Ok(())
                }
            }
        }
    }
}

/// A fresh encoder for `to`, one a block: those of the split layouts keep
/// nothing from one event to the next.
fn encoder_for(to: To) -> Box<dyn Encoder> {
    match to {
        To::Pretty => Box::new(PrettyEncoder::default()),
        To::Jsonl => Box::new(JsonlEncoder::default()),
        To::Hex => Box::new(HexLineEncoder::default()),
        To::Hexdump => Box::new(HexDumpEncoder::default()),
        To::Raw => Box::new(RawEncoder),
    }
}

/// A block's output and what was said about it.
struct CatBlock {
    out: Vec<u8>,
    said: SayLater,
    halted: bool,
}

/// Runs `sshtrail cat`.
pub fn run(args: CatArgs) -> CommandResult {
    if args.threads == Some(0) {
        return Err(usage("-j/--threads must be at least 1"));
    }
    let filter = parse_filter(args.filter.as_deref()).map_err(usage)?;
    // The listing is for people: secrets typed at prompts are judged on
    // each channel and shown as `*`. The layouts are the evidence.
    if args.to == To::Pretty {
        if let Some(rules) = args.redaction.rules().map_err(usage)? {
            return judged_listing(&args, filter, rules);
        }
    }
    let mut encoder = encoder_for(args.to);
    let cat = Cat {
        filter,
        stop: args.on_error == OnError::Stop,
        warn_extras: matches!(args.to, To::Hex | To::Hexdump),
    };
    let stop = cat.stop;
    let format = args.format.to_format();
    // The hex dump layout opens the output with a comment line: one pass.
    let split = Split::new(
        if args.to == To::Hexdump {
            Some(1)
        } else {
            args.threads
        },
        args.block_size,
    );
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
        let mut now = SayNow {
            rep: &mut rep,
            name,
            extras_warned: false,
        };
        let result = match split.log_to_split(path) {
            Some((file, len)) => {
                drop(input);
                cat_split(&cat, args.to, file, len, format, split, &mut out, &mut now)
            }
            None => StreamReader::with_format(input, format).for_each(|record| {
                cat.record(record, encoder.as_mut(), &mut out, &mut payload, &mut now)
            }),
        };
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

/// `cat` of one log split into blocks read on several threads; the output
/// and what is said are those of one pass.
#[allow(clippy::too_many_arguments)]
fn cat_split(
    cat: &Cat,
    to: To,
    file: std::fs::File,
    len: u64,
    format: Option<sshtrail::Format>,
    split: Split,
    out: &mut dyn Write,
    now: &mut SayNow<'_>,
) -> Result<(), Flow> {
    let mut failed = None;
    // The outputs' buffers go round: the taker gives them back emptied.
    let spare: Mutex<Vec<Vec<u8>>> = Mutex::new(Vec::new());
    let end = for_each_block(
        file,
        len,
        format,
        split,
        |block: &Block<'_>| {
            let mut encoder = encoder_for(to);
            let out = spare
                .lock()
                .ok()
                .and_then(|mut s| s.pop())
                .unwrap_or_default();
            let mut result = CatBlock {
                out,
                said: SayLater::default(),
                halted: false,
            };
            let mut payload = Vec::new();
            let mut reader = SliceReader::with_state(block.bytes, block.start);
            for record in reader.by_ref() {
                let done = cat.record(
                    record,
                    encoder.as_mut(),
                    &mut result.out,
                    &mut payload,
                    &mut result.said,
                );
                if done.is_err() {
                    result.halted = true;
                    break;
                }
            }
            (result, reader.state())
        },
        |block: CatBlock, before| {
            if let Err(e) = out.write_all(&block.out) {
                failed = Some(e);
                return blocks::Flow::Stop;
            }
            let mut buffer = block.out;
            buffer.clear();
            if let Ok(mut s) = spare.lock() {
                s.push(buffer);
            }
            block.said.say(now, before);
            if block.halted {
                blocks::Flow::Stop
            } else {
                blocks::Flow::Continue
            }
        },
    );
    if let Some(e) = failed {
        return Err(Flow::Output(e));
    }
    let mut encoder = encoder_for(to);
    let mut payload = Vec::new();
    match end {
        Ok(End::Stopped) => Err(Flow::Halt),
        Ok(End::Done(mut state)) => match state.judge_end() {
            Some(e) => cat.record(Err(e), encoder.as_mut(), out, &mut payload, now),
            None => Ok(()),
        },
        Ok(End::Rest { offset, state }) => {
            let mut file = std::fs::File::open(now.name)?;
            file.seek(io::SeekFrom::Start(offset))?;
            let rest = FileStream::new(file, len.saturating_sub(offset));
            StreamReader::with_state(rest, state)
                .for_each(|record| cat.record(record, encoder.as_mut(), out, &mut payload, now))
        }
        Err(e) => Err(Flow::Read(e)),
    }
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
