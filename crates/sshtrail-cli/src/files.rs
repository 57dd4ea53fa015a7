//! `sshtrail files`: the files uploaded and downloaded over SFTP and SCP,
//! or with `--ops` every file operation; with `--extract DIR` the files
//! themselves.

use std::collections::HashMap;
use std::io::{self, BufWriter, Write};
use std::path::{Path, PathBuf};

use clap::Args;
use serde_json::json;
use sshtrail::channel::{ChannelEvent, ChannelSink};
use sshtrail::connection::Context;
use sshtrail::output::{ChannelWriter, FilesWriter, PartKey, PartName};
use sshtrail::time::format_rfc3339;
use sshtrail::transfer::{FileOp, Found, OpStatus, RecoveredFile, TransferDecoder};

use crate::cli::args::Inputs;
use crate::cli::input;
use crate::cli::output::{part_path, AtomicFile, DirOutput};
use crate::cli::report::{say_error, usage, CommandResult, Reporter};
use crate::cli::text::{label, person_line};
use crate::convert::batch::lock::OutdirLock;

/// The list of what `--extract` wrote, at the top of its folder.
const EXTRACT_INDEX: &str = "files.jsonl";

/// Arguments of `sshtrail files`.
#[derive(Args, Debug)]
pub struct FilesArgs {
    /// One JSON object per line.
    #[arg(long)]
    json: bool,
    /// Every file operation (open, close, mkdir, rename, remove, stat, ...,
    /// failed ones with their status message) instead of the transfers.
    #[arg(long, conflicts_with = "extract")]
    ops: bool,
    /// Also write each file into DIR/<connection>/<channel>/NNN-NAME (NAME
    /// made safe from the remote path; `.partial` when not whole, the
    /// missing bytes as zeros) and DIR/files.jsonl listing them with the
    /// remote path and SHA-256. Nothing is overwritten without --force.
    #[arg(long, value_name = "DIR")]
    extract: Option<PathBuf>,
    /// With --extract: replace files a previous run wrote.
    #[arg(long, requires = "extract")]
    force: bool,
    #[command(flatten)]
    inputs: Inputs,
}

/// `--extract`: the files written, and their list.
struct Extraction {
    dir: PathBuf,
    writer: FilesWriter,
    out: DirOutput,
    index: BufWriter<AtomicFile>,
    /// Keeps a second run out of the folder until this one ends.
    _lock: OutdirLock,
}

/// Writes what the decoder finds as it finds it.
struct FileLister {
    json: bool,
    ops: bool,
    decoder: TransferDecoder,
    extraction: Option<Extraction>,
    /// The log of each channel, to locate a problem.
    logs: HashMap<Context, String>,
    /// Problems in the channels' data (the logs' own go to the run's reporter).
    rep: Reporter,
    out: io::BufWriter<io::StdoutLock<'static>>,
}

/// `0644`, or `null`.
fn mode_text(mode: Option<u32>) -> Option<String> {
    mode.map(|m| format!("{m:04o}"))
}

impl FileLister {
    fn file(&mut self, f: &RecoveredFile) -> io::Result<()> {
        if self.json {
            writeln!(self.out, "{}", f.to_json())
        } else {
            let state = match &f.why_incomplete {
                None if f.complete => "complete".to_string(),
                None => "incomplete".to_string(),
                Some(why) if f.complete => format!("complete ({why})"),
                Some(why) => format!("incomplete: {why}"),
            };
            person_line!(
                self.out,
                "{}  {}  {:<4}  {:<8}  {:>10}  {}  {}  {}  {}",
                format_rfc3339(f.started),
                label(&f.context),
                f.protocol.name(),
                f.direction.name(),
                f.size,
                f.sha256_hex().unwrap_or_else(|| "-".repeat(64)),
                mode_text(f.mode).unwrap_or_else(|| "----".into()),
                f.path,
                state
            )
        }
    }

    fn op(&mut self, o: &FileOp) -> io::Result<()> {
        let (code, message) = match &o.status {
            OpStatus::Failed { code, message } => (*code, Some(message.as_str())),
            _ => (None, None),
        };
        if self.json {
            let line = json!({
                "connection_id": o.context.connection_id,
                "channel_id": o.context.channel_id,
                "protocol": o.protocol.name(),
                "ts": format_rfc3339(o.ts),
                "op": o.op,
                "paths": o.paths,
                "detail": o.detail,
                "status": o.status.name(),
                "code": code,
                "message": message,
            });
            writeln!(self.out, "{line}")
        } else {
            let status = match message {
                Some(m) => format!("failed: {m}"),
                None => o.status.name().to_string(),
            };
            person_line!(
                self.out,
                "{}  {}  {:<4}  {:<12}  {}  {}{}{}",
                format_rfc3339(o.ts),
                label(&o.context),
                o.protocol.name(),
                o.op,
                o.paths.join(" -> "),
                status,
                if o.detail.is_empty() { "" } else { "  " },
                o.detail
            )
        }
    }
}

impl FileLister {
    /// `--extract`: the writer takes the event; what it wrote is listed.
    fn extract(&mut self, ev: &ChannelEvent<'_>) -> io::Result<()> {
        let Some(mut x) = self.extraction.take() else {
            return Ok(());
        };
        let result = self.extract_into(&mut x, ev);
        self.extraction = Some(x);
        result
    }

    fn extract_into(&mut self, x: &mut Extraction, ev: &ChannelEvent<'_>) -> io::Result<()> {
        x.writer.event(ev, &mut x.out)?;
        let notes = x.writer.take_notes();
        let refused = x.out.take_refused();
        let extracted = x.writer.take_extracted();
        let closed = x.out.take_closed();
        for m in refused {
            say_error(&m);
            self.rep.errors += 1;
        }
        for note in notes {
            let log = self.logs.get(&note.channel).cloned();
            let log = log.unwrap_or_else(|| label(&note.channel));
            self.rep
                .data_error(&log, note.line.unwrap_or(0), &note.message);
        }
        for mut e in extracted {
            // Listed as written only if it is in place, with the bytes hashed
            // as they went out.
            let written = e.name.as_deref().and_then(|name| {
                let key = PartKey::main(&e.file.context, "").with(PartName::InFolder(name));
                let path = part_path(&x.dir, &key).ok()?;
                closed.iter().find(|f| f.path == path).cloned()
            });
            if written.is_none() {
                e.name = None;
            }
            let mut line = e.to_json();
            if let (Some(o), Some(w)) = (line.as_object_mut(), &written) {
                o.insert("written_sha256".into(), w.sha256.clone().into());
                o.insert("written_bytes".into(), w.bytes.into());
            }
            writeln!(x.index, "{line}")?;
            self.file(&e.file)?;
        }
        Ok(())
    }
}

impl ChannelSink for FileLister {
    fn event(&mut self, ev: &ChannelEvent<'_>) -> io::Result<()> {
        if self.extraction.is_some() {
            return self.extract(ev);
        }
        self.decoder.event(ev)?;
        for found in self.decoder.take() {
            match found {
                Found::File(f) if !self.ops => self.file(&f)?,
                Found::Op(o) if self.ops => self.op(&o)?,
                Found::Problem(p) => {
                    let log = self
                        .logs
                        .get(&p.context)
                        .cloned()
                        .unwrap_or_else(|| label(&p.context));
                    self.rep.data_error(&log, p.line, &p.kind.to_string());
                }
                _ => {}
            }
        }
        Ok(())
    }
}

/// Prepares `--extract DIR`: the folder (created if need be) locked, and
/// its list refused if it exists, unless `force`.
fn extraction(dir: &Path, force: bool) -> Result<Extraction, String> {
    let fail = |e: &dyn std::fmt::Display| format!("{}: {e}", dir.display());
    match std::fs::create_dir(dir) {
        Ok(()) => {}
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {}
        Err(e) => return Err(fail(&e)),
    }
    let lock = OutdirLock::take(dir)?;
    let index_path = dir.join(EXTRACT_INDEX);
    let index = AtomicFile::create(&index_path, force).map_err(|e| e.to_string())?;
    Ok(Extraction {
        dir: dir.to_path_buf(),
        writer: FilesWriter::new(false, Some(dir)),
        out: DirOutput::new(dir, force),
        index: BufWriter::with_capacity(64 << 10, index),
        _lock: lock,
    })
}

impl Extraction {
    /// Puts the list in place once the files it names are.
    fn finish(self) -> io::Result<()> {
        let Extraction { out, index, .. } = self;
        out.commit(false)
            .map_err(|(path, e)| io::Error::new(e.kind(), format!("{}: {e}", path.display())))?;
        let index = index.into_inner().map_err(|e| e.into_error())?;
        index.commit(false)
    }
}

/// Runs `sshtrail files`.
pub fn run(args: FilesArgs) -> CommandResult {
    let mut rep = Reporter::default();
    let extraction = match &args.extract {
        Some(dir) => Some(extraction(dir, args.force).map_err(usage)?),
        None => None,
    };
    let archive = input::open(&args.inputs.paths, &mut rep);
    let mut lister = FileLister {
        json: args.json,
        ops: args.ops,
        decoder: TransferDecoder::default(),
        extraction,
        logs: input::log_paths(&archive),
        rep: Reporter::default(),
        out: input::stdout(),
    };
    let result = input::replay(
        &archive,
        args.inputs.format.to_format(),
        &mut lister,
        &mut rep,
    );
    // The files written stay, and their list is put in place, even when
    // the input had errors: what was recovered is not lost.
    let result = match lister.extraction.take() {
        Some(x) => {
            let finished = x.finish();
            result.and(finished)
        }
        None => result,
    };
    rep.errors += lister.rep.errors;
    input::finish(result, &mut lister.out, &rep)
}
