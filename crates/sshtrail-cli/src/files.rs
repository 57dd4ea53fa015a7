//! `sshtrail files`: the files uploaded and downloaded over SFTP and SCP,
//! or with `--ops` every file operation.

use std::collections::HashMap;
use std::io::{self, Write};

use clap::Args;
use serde_json::json;
use sshtrail::channel::{ChannelEvent, ChannelSink};
use sshtrail::connection::Context;
use sshtrail::time::format_rfc3339;
use sshtrail::transfer::{FileOp, Found, OpStatus, RecoveredFile, TransferDecoder};

use crate::cli::args::Inputs;
use crate::cli::input;
use crate::cli::report::{CommandResult, Reporter};
use crate::cli::text::{label, person_line};

/// Arguments of `sshtrail files`.
#[derive(Args, Debug)]
pub struct FilesArgs {
    /// One JSON object per line.
    #[arg(long)]
    json: bool,
    /// Every file operation (open, close, mkdir, rename, remove, stat, ...,
    /// failed ones with their status message) instead of the transfers.
    #[arg(long)]
    ops: bool,
    #[command(flatten)]
    inputs: Inputs,
}

/// Writes what the decoder finds as it finds it.
struct FileLister {
    json: bool,
    ops: bool,
    decoder: TransferDecoder,
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
            let missing: Vec<[u64; 2]> = f.missing.iter().map(|r| [r.start, r.end]).collect();
            let line = json!({
                "connection_id": f.context.connection_id,
                "channel_id": f.context.channel_id,
                "protocol": f.protocol.name(),
                "direction": f.direction.name(),
                "path": f.path,
                "size": f.size,
                "sha256": f.sha256_hex(),
                "complete": f.complete,
                "started": format_rfc3339(f.started),
                "ended": format_rfc3339(f.ended),
                "mode": mode_text(f.mode),
                "missing": missing,
                "why_incomplete": f.why_incomplete,
            });
            writeln!(self.out, "{line}")
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

impl ChannelSink for FileLister {
    fn event(&mut self, ev: &ChannelEvent<'_>) -> io::Result<()> {
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

/// Runs `sshtrail files`.
pub fn run(args: FilesArgs) -> CommandResult {
    let mut rep = Reporter::default();
    let archive = input::open(&args.inputs.paths, &mut rep);
    let mut lister = FileLister {
        json: args.json,
        ops: args.ops,
        decoder: TransferDecoder::default(),
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
    rep.errors += lister.rep.errors;
    input::finish(result, &mut lister.out, &rep)
}
