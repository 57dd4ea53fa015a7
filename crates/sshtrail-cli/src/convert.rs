//! `sshtrail convert`: channels to asciicast, script, text, jsonl, hex, raw
//! (and SIEM records).
//!
//! One rule for `-o`: with one channel and one format it may name the output
//! file; otherwise it names a directory that receives
//! `<connection_id>/<channel_id>.<ext>`; without `-o`, a single output goes
//! to standard output.

use std::io::{self, Write};
use std::path::PathBuf;

use clap::{Args, ValueEnum};
use sshtrail::channel::Channel;
use sshtrail::connection::Context;
use sshtrail::encode::asciicast::{write_cast, CastOptions, CastVersion};
use sshtrail::encode::script::{write_script, ScriptFormat};
use sshtrail::encode::{
    EncodeError, Encoder, HexDumpEncoder, HexLineEncoder, JsonlEncoder, RawEncoder,
};
use sshtrail::siem::{SiemFormat, SiemOptions, TypedCommand};
use sshtrail::time::format_rfc3339;
use sshtrail::{Filter, SliceReader};

use crate::cat::parse_filter;
use crate::gather::{gather, ConnectionInput};
use crate::load::{channels, load_logs, LoadedLog};
use crate::output::{channel_path, write_atomically};
use crate::report::{self, Reporter};
use crate::FormatArg;

/// Output formats of `convert`.
#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ConvertFormat {
    /// asciicast v2 (asciinema).
    Asciicast,
    /// asciicast v3 (asciinema 3), with the exit status as an `x` event.
    AsciicastV3,
    /// util-linux typescript + `.timing` for scriptreplay.
    Script,
    /// typescript with both streams + advanced `.timing` (I, O, S SIGWINCH, H).
    ScriptAdvanced,
    /// Transcript rendered through a terminal emulator, scrolled and cleared text kept.
    Text,
    /// Canonical jsonl.
    Jsonl,
    /// Hex line layout.
    Hex,
    /// Hex dump layout.
    Hexdump,
    /// Decoded payloads back to back.
    Raw,
    /// SIEM: Elastic Common Schema 8.x documents, one a line.
    Ecs,
    /// SIEM: OCSF 1.3 events (SSH Activity, Process Activity), one a line.
    Ocsf,
    /// SIEM: ArcSight Common Event Format lines.
    Cef,
    /// SIEM: Splunk HTTP Event Collector envelopes.
    Hec,
}

impl ConvertFormat {
    /// File extension of the output.
    pub fn ext(self) -> &'static str {
        match self {
            ConvertFormat::Asciicast | ConvertFormat::AsciicastV3 => "cast",
            ConvertFormat::Script | ConvertFormat::ScriptAdvanced => "typescript",
            ConvertFormat::Text => "txt",
            ConvertFormat::Jsonl => "jsonl",
            ConvertFormat::Hex => "hex",
            ConvertFormat::Hexdump => "hexdump",
            ConvertFormat::Raw => "bin",
            ConvertFormat::Ecs => "ecs.ndjson",
            ConvertFormat::Ocsf => "ocsf.ndjson",
            ConvertFormat::Cef => "cef",
            ConvertFormat::Hec => "hec",
        }
    }

    /// The name `--to` takes.
    pub fn name(self) -> &'static str {
        match self {
            ConvertFormat::Asciicast => "asciicast",
            ConvertFormat::AsciicastV3 => "asciicast-v3",
            ConvertFormat::Script => "script",
            ConvertFormat::ScriptAdvanced => "script-advanced",
            ConvertFormat::Text => "text",
            ConvertFormat::Jsonl => "jsonl",
            ConvertFormat::Hex => "hex",
            ConvertFormat::Hexdump => "hexdump",
            ConvertFormat::Raw => "raw",
            ConvertFormat::Ecs => "ecs",
            ConvertFormat::Ocsf => "ocsf",
            ConvertFormat::Cef => "cef",
            ConvertFormat::Hec => "hec",
        }
    }

    /// The SIEM format, for the SIEM outputs.
    pub fn siem(self) -> Option<SiemFormat> {
        match self {
            ConvertFormat::Ecs => Some(SiemFormat::Ecs),
            ConvertFormat::Ocsf => Some(SiemFormat::Ocsf),
            ConvertFormat::Cef => Some(SiemFormat::Cef),
            ConvertFormat::Hec => Some(SiemFormat::Hec),
            _ => None,
        }
    }

    /// Whether the format is written event by event (so a log can be split
    /// and converted in pieces).
    pub fn is_event_format(self) -> bool {
        matches!(
            self,
            ConvertFormat::Jsonl | ConvertFormat::Hex | ConvertFormat::Hexdump | ConvertFormat::Raw
        )
    }

    /// The encoder of an event format; `first` says whether this piece starts
    /// the output (the hex dump layout writes a comment line first).
    pub fn event_encoder(self, first: bool) -> Box<dyn Encoder> {
        match self {
            ConvertFormat::Jsonl => Box::new(JsonlEncoder::default()),
            ConvertFormat::Hex => Box::new(HexLineEncoder::default()),
            ConvertFormat::Hexdump if first => Box::new(HexDumpEncoder::default()),
            ConvertFormat::Hexdump => Box::new(HexDumpEncoder::continuing()),
            _ => Box::new(RawEncoder),
        }
    }

    /// Whether the output is one stream (script writes two files).
    fn single_stream(self) -> bool {
        !matches!(self, ConvertFormat::Script | ConvertFormat::ScriptAdvanced)
    }
}

/// Arguments of `sshtrail convert`.
#[derive(Args, Debug, Clone)]
pub struct ConvertArgs {
    /// Output format(s), comma separated.
    #[arg(
        long = "to",
        value_enum,
        value_delimiter = ',',
        required = true,
        value_name = "FMT"
    )]
    pub to: Vec<ConvertFormat>,
    /// Output file (one channel, one format) or directory.
    #[arg(short = 'o', long = "output", value_name = "PATH")]
    pub output: Option<PathBuf>,
    /// asciicast: also record stdin as `i` events.
    #[arg(long)]
    pub input: bool,
    /// asciicast: `idle_time_limit` in seconds.
    #[arg(long, value_name = "SECONDS")]
    pub idle_limit: Option<f64>,
    /// jsonl, hex, hexdump, raw: keep only these event types.
    #[arg(long, value_name = "LIST")]
    pub filter: Option<String>,
    /// SIEM: also a record for each stdin, stdout and stderr chunk, with its
    /// text cut after 4096 bytes.
    #[arg(long)]
    pub io: bool,
    /// Replace existing output files.
    #[arg(long)]
    pub force: bool,
    /// Sync each output file to disk before renaming it into place.
    #[arg(long)]
    pub fsync: bool,
    /// Input layout.
    #[arg(long, value_enum, default_value_t = FormatArg::Auto)]
    pub format: FormatArg,
    /// Batch: worker threads (default: one per core).
    #[arg(short = 'j', long = "jobs", value_name = "N")]
    pub jobs: Option<usize>,
    /// Batch: no progress bar.
    #[arg(short = 'q', long)]
    pub quiet: bool,
    /// Batch: skip inputs whose size and SHA-256 match OUTDIR/manifest.jsonl
    /// and whose outputs are intact; redo the rest.
    #[arg(long)]
    pub resume: bool,
    /// Batch: convert only connections whose FIELD matches GLOB (user, host,
    /// address, account, tag, status); repeatable, all must match.
    #[arg(long = "where", value_name = "FIELD=GLOB")]
    pub where_: Vec<String>,
    /// Batch: only connections that started at or after this RFC 3339 time.
    #[arg(long, value_name = "TIME")]
    pub since: Option<String>,
    /// Batch: only connections that started at or before this RFC 3339 time.
    #[arg(long, value_name = "TIME")]
    pub until: Option<String>,
    /// Trail logs, connection directories or whole archive trees.
    #[arg(required = true, value_name = "PATH")]
    pub paths: Vec<String>,
}

/// Where one output goes.
pub enum Dest {
    Stdout,
    /// A file the user named with `-o`: replaced, as a shell redirection would.
    Named(PathBuf),
    /// A file under the output directory: kept unless `--force`.
    InDir(PathBuf),
}

/// Runs `sshtrail convert`.
pub fn run(args: ConvertArgs) -> u8 {
    if let Some(limit) = args.idle_limit {
        if !(limit.is_finite() && limit > 0.0) {
            return report::usage("--idle-limit must be a positive number of seconds");
        }
    }
    let filter = match parse_filter(args.filter.as_deref()) {
        Ok(f) => f,
        Err(m) => return report::usage(&m),
    };
    let mut formats = args.to.clone();
    formats.dedup();
    // An output folder: an existing directory, or more outputs than one
    // file can hold (several formats; several logs but for SIEM records,
    // which form one stream).
    let batch = args.output.as_ref().filter(|out| {
        out.is_dir()
            || formats.len() > 1
            || (formats[0].siem().is_none() && !single_log(&args.paths))
    });
    if let Some(outdir) = batch {
        return crate::batch::run(&args, &formats, outdir, &filter);
    }
    if let Some(siem) = formats[0].siem() {
        // SIEM records of every channel form one stream: stdout or -o FILE.
        return crate::siem::run(
            siem,
            &args.paths,
            args.output.as_deref(),
            args.io,
            &typed_commands,
        );
    }
    let mut rep = Reporter::default();
    let conns = gather(&args.paths, &mut rep);
    let logs: Vec<Vec<LoadedLog>> = conns.iter().map(|c| load_logs(c, &mut rep)).collect();
    let mut chans: Vec<(usize, Channel<'_>)> = Vec::new();
    for (i, conn) in conns.iter().enumerate() {
        chans.extend(
            channels(&logs[i], conn, args.format.to_format(), &mut rep)
                .into_iter()
                .map(|c| (i, c)),
        );
    }
    let outputs = chans.len() * formats.len();
    let single = outputs == 1;
    let to_dir = match &args.output {
        None if outputs > 1 => {
            return report::usage(&format!(
                "{outputs} outputs ({} channels x {} formats): give -o DIR",
                chans.len(),
                formats.len()
            ))
        }
        None if single && !formats[0].single_stream() => {
            return report::usage("--to script writes two files: give -o FILE")
        }
        None => None,
        Some(o) if single && !o.is_dir() => None,
        Some(o) => Some(o.clone()),
    };
    for (ci, ch) in &chans {
        let conn = &conns[*ci];
        for &fmt in &formats {
            let dest = match (&to_dir, &args.output) {
                (Some(dir), _) => match channel_path(
                    dir,
                    ch.context.connection_id.as_deref(),
                    &ch.context.channel_id,
                    fmt.ext(),
                ) {
                    Ok(p) => Dest::InDir(p),
                    Err(m) => {
                        rep.input_error(&dir.display().to_string(), &m);
                        continue;
                    }
                },
                (None, Some(file)) => Dest::Named(file.clone()),
                (None, None) => Dest::Stdout,
            };
            let name = dest_name(&dest);
            if let Err(e) = convert_one(&args, fmt, conn, &logs[*ci], ch, &filter, &dest) {
                if e.kind() == io::ErrorKind::BrokenPipe {
                    return rep.status();
                }
                rep.input_error(&name, &e.to_string());
            }
        }
    }
    rep.status()
}

/// True when the PATHs name one log: a file, or a connection directory
/// holding a single log.
fn single_log(paths: &[String]) -> bool {
    let [path] = paths else {
        return false;
    };
    let p = std::path::Path::new(path);
    if !p.is_dir() {
        return true;
    }
    let Ok(rd) = std::fs::read_dir(p) else {
        return false;
    };
    let entries: Vec<_> = rd.filter_map(Result::ok).map(|e| e.path()).collect();
    p.join("connection.json").is_file()
        && entries.iter().all(|e| e.is_file())
        && entries
            .iter()
            .filter(|e| e.extension().is_some_and(|x| x != "json"))
            .count()
            == 1
}

fn dest_name(dest: &Dest) -> String {
    match dest {
        Dest::Stdout => "<stdout>".into(),
        Dest::Named(p) | Dest::InDir(p) => p.display().to_string(),
    }
}

fn write_to(
    dest: &Dest,
    args: &ConvertArgs,
    fill: impl FnOnce(&mut dyn Write) -> io::Result<()>,
) -> io::Result<()> {
    match dest {
        Dest::Stdout => {
            let mut out = io::BufWriter::with_capacity(256 << 10, io::stdout().lock());
            fill(&mut out)?;
            out.flush()
        }
        Dest::Named(p) => write_atomically(p, true, args.fsync, fill),
        Dest::InDir(p) => write_atomically(p, args.force, args.fsync, fill),
    }
}

fn channel_label(ch: &Channel<'_>) -> String {
    match &ch.context.connection_id {
        Some(c) => format!("{c}/{}", ch.context.channel_id),
        None => ch.context.channel_id.clone(),
    }
}

/// The commands typed in a channel, as the SIEM records carry them.
fn typed_commands(ch: &Channel<'_>) -> Vec<TypedCommand> {
    sshtrail::commands::commands(ch)
        .unwrap_or_default()
        .into_iter()
        .map(|c| TypedCommand {
            ts: c.ts,
            ts_text: format_rfc3339(c.ts),
            command: c.command,
            confidence: c.confidence.name().to_string(),
        })
        .collect()
}

pub fn convert_one(
    args: &ConvertArgs,
    fmt: ConvertFormat,
    conn: &ConnectionInput,
    logs: &[LoadedLog],
    ch: &Channel<'_>,
    filter: &Filter,
    dest: &Dest,
) -> io::Result<()> {
    match fmt {
        ConvertFormat::Asciicast | ConvertFormat::AsciicastV3 => {
            let title = conn.meta.as_ref().and_then(|m| match (m.user(), m.host()) {
                (Some(u), Some(h)) => Some(format!("{u}@{h}")),
                _ => None,
            });
            let opts = CastOptions {
                version: if fmt == ConvertFormat::Asciicast {
                    CastVersion::V2
                } else {
                    CastVersion::V3
                },
                input: args.input,
                idle_time_limit: args.idle_limit,
                title,
            };
            let mut summary = None;
            write_to(dest, args, |w| {
                summary = Some(write_cast(ch, &opts, w)?);
                Ok(())
            })?;
            if let Some(s) = summary {
                if s.default_size {
                    report::warn(&format!(
                        "channel {}: no pty-req, so the terminal size is the 80x24 default",
                        channel_label(ch)
                    ));
                }
                if s.replaced_bytes > 0 {
                    report::warn(&format!(
                        "channel {}: {} byte(s) of output were not UTF-8 and became U+FFFD",
                        channel_label(ch),
                        s.replaced_bytes
                    ));
                }
            }
            Ok(())
        }
        ConvertFormat::Script | ConvertFormat::ScriptAdvanced => {
            let (path, force) = match dest {
                Dest::Named(p) => (p, true),
                Dest::InDir(p) => (p, args.force),
                Dest::Stdout => return Err(io::Error::other("script output needs -o")),
            };
            let format = if fmt == ConvertFormat::Script {
                ScriptFormat::Classic
            } else {
                ScriptFormat::Advanced
            };
            let mut timing = Vec::new();
            let timing_path = PathBuf::from(format!("{}.timing", path.display()));
            if !force && timing_path.exists() {
                return Err(io::Error::new(
                    io::ErrorKind::AlreadyExists,
                    format!(
                        "{} exists (use --force to replace it)",
                        timing_path.display()
                    ),
                ));
            }
            write_atomically(path, force, args.fsync, |w| {
                write_script(ch, format, w, &mut timing)
            })?;
            write_atomically(&timing_path, force, args.fsync, |w| w.write_all(&timing))
        }
        ConvertFormat::Text => {
            let screen = sshtrail::screen::replay(ch, None)
                .map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e.to_string()))?;
            let replaced = screen.replaced_bytes();
            let lines = screen.into_transcript();
            write_to(dest, args, |w| {
                for l in &lines {
                    writeln!(w, "{l}")?;
                }
                Ok(())
            })?;
            if replaced > 0 {
                report::warn(&format!(
                    "channel {}: {replaced} byte(s) of output were not UTF-8 and became U+FFFD",
                    channel_label(ch)
                ));
            }
            Ok(())
        }
        ConvertFormat::Ecs | ConvertFormat::Ocsf | ConvertFormat::Cef | ConvertFormat::Hec => {
            // One channel's records, in time order (the SIEM runner merges
            // the channels of a connection into one stream).
            let opts = SiemOptions {
                io: args.io,
                io_max_bytes: crate::siem::IO_MAX_BYTES,
                product_version: env!("CARGO_PKG_VERSION"),
            };
            let mut events = sshtrail::siem::events(
                conn.id.as_deref(),
                conn.meta.as_ref(),
                ch,
                &typed_commands(ch),
                &opts,
            );
            events.sort_by_key(|e| e.ts);
            let format = fmt.siem().unwrap_or(SiemFormat::Ecs);
            write_to(dest, args, |w| {
                let mut line = Vec::new();
                for ev in &events {
                    line.clear();
                    sshtrail::siem::write(format, ev, &mut line);
                    w.write_all(&line)?;
                }
                Ok(())
            })
        }
        ConvertFormat::Jsonl | ConvertFormat::Hex | ConvertFormat::Hexdump | ConvertFormat::Raw => {
            let mut encoder = fmt.event_encoder(true);
            write_to(dest, args, |w| {
                write_events(logs, &ch.context, args, filter, encoder.as_mut(), w)
            })
        }
    }
}

/// Writes the events of one channel (problems were reported when the
/// channel was built, so they are skipped silently here).
fn write_events(
    logs: &[LoadedLog],
    target: &Context,
    args: &ConvertArgs,
    filter: &Filter,
    encoder: &mut dyn Encoder,
    w: &mut dyn Write,
) -> io::Result<()> {
    let mut buf = Vec::new();
    for log in logs {
        for ev in SliceReader::with_format(&log.bytes, args.format.to_format()).flatten() {
            let in_channel = match ev.channel_id() {
                Some(id) => {
                    id == target.channel_id && log.context.connection_id == target.connection_id
                }
                None => log.context == *target,
            };
            if !in_channel || !filter.matches(&ev.kind) || ev.decode_payload(&mut buf).is_err() {
                continue;
            }
            match encoder.event(w, &ev, &buf) {
                Ok(()) => {}
                Err(EncodeError::Io(e)) => return Err(e),
                Err(EncodeError::Unrepresentable(m)) => report::warn(&format!(
                    "{}:{}: {m}; event skipped",
                    log.path.display(),
                    ev.line
                )),
            }
        }
    }
    match encoder.finish(w) {
        Ok(()) => Ok(()),
        Err(EncodeError::Io(e)) => Err(e),
        Err(EncodeError::Unrepresentable(m)) => Err(io::Error::other(m)),
    }
}
