//! `sshtrail convert --to ocsf-parquet -o DIR --source S --region R
//! --account A`: the OCSF records of every connection the paths name, as
//! Parquet in the Amazon Security Lake layout (the library's
//! `sshtrail::lake`), one source a class:
//! `DIR/ext/<S>-<class_uid>/region=<R>/accountId=<A>/eventDay=<YYYYMMDD>/part-<run>.parquet`.
//!
//! A run holds the folder's lock for its whole length, writes each part
//! under a temporary name and renames it into place without ever replacing
//! a file (a later run adds parts), then appends one line to
//! `DIR/ocsf-parquet-manifest.jsonl`: the run, its inputs with their size
//! and SHA-256, its parts with their rows, size and SHA-256.

use std::fs::{self, OpenOptions};
use std::io::{self, BufWriter, Write};
use std::path::{Path, PathBuf};

use sshtrail::archive::{Archive, ReplayOptions};
use sshtrail::lake::{LakeLayout, OcsfLake};
use sshtrail::siem::SiemOptions;

use super::batch::lock::OutdirLock;
use super::plan::Plan;
use crate::cli::input;
use crate::cli::output::{create_dirs_under, AtomicFile};
use crate::cli::report::{note, note_redactions, usage, CommandResult, Failure, Reporter};

/// The manifest's name in the output folder.
pub const MANIFEST: &str = "ocsf-parquet-manifest.jsonl";

/// The run's id: its start in UTC to the microsecond and the process id
/// (`20230607T173200.123456Z-4242`); the rename that never replaces keeps
/// two runs of the same id apart all the same.
fn run_id() -> String {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as i128);
    let text = sshtrail::time::format_rfc3339(now);
    let compact: String = text.chars().filter(|c| *c != '-' && *c != ':').collect();
    format!("{compact}-{}", std::process::id())
}

/// Size and SHA-256 (hex) of a file.
fn hash_file(path: &Path) -> io::Result<(u64, String)> {
    let (size, sha) = sshtrail::digest::sha256_file(path)?;
    Ok((size, sshtrail::digest::hex(&sha)))
}

/// Runs the conversion.
pub fn run(plan: &Plan, layout: &LakeLayout, dir: &Path) -> CommandResult {
    let fail = |e: &dyn std::fmt::Display| Failure::Output(format!("{}: {e}", dir.display()));
    fs::create_dir_all(dir).map_err(|e| fail(&e))?;
    let _lock = OutdirLock::take(dir).map_err(Failure::Output)?;
    let mut rep = Reporter::default();
    let archive = input::open(&plan.paths, &mut rep);
    let selected = plan.selector.selected(&archive);
    if plan.selector.has_rules() && selected.is_empty() && !archive.is_empty() {
        note(&format!(
            "no connection matches --where, --since and --until (of {} found): nothing written",
            archive.connections.len()
        ));
        return Ok(rep.code());
    }
    // The records wait on the file system the parts go to.
    let mut lake = OcsfLake::new(Some(dir)).map_err(|e| fail(&e))?;
    let options = SiemOptions {
        io: plan.writer.io,
        io_max_bytes: plan.writer.io_max_bytes,
        ..SiemOptions::default()
    };
    let counts = lake
        .convert_with(
            &selected,
            &ReplayOptions::with_format(plan.input_format),
            options,
            plan.writer.redact.as_ref(),
            &mut |p| rep.problem(&p),
        )
        .map_err(|e| fail(&e))?;
    note_redactions(counts.redactions);
    let run = run_id();
    let mut parts = Vec::new();
    for group in lake.groups() {
        let rel = layout.part_path(group.class_uid, &group.day, &run);
        let path = dir.join(&rel);
        let written = write_part(&mut lake, &group, dir, &path, plan.fsync)
            .map_err(|e| Failure::Output(format!("writing {} failed: {e}", path.display())))?;
        let (bytes, sha256) = hash_file(&path).map_err(|e| fail(&e))?;
        parts.push(serde_json::json!({
            "path": rel.to_string_lossy(),
            "class_uid": group.class_uid,
            "event_day": group.day,
            "rows": written,
            "bytes": bytes,
            "sha256": sha256,
        }));
    }
    let inputs = inputs(&selected).map_err(|e| fail(&e))?;
    let line = serde_json::json!({
        "run": run,
        "format": "ocsf-parquet",
        "source": layout.source,
        "region": layout.region,
        "account": layout.account,
        "inputs": inputs,
        "parts": parts,
    });
    append_manifest(dir, &line, plan.fsync).map_err(|e| fail(&e))?;
    Ok(rep.code())
}

/// Writes one part: under a temporary name, then renamed into place,
/// never over an existing file.
fn write_part(
    lake: &mut OcsfLake,
    group: &sshtrail::lake::LakeGroup,
    dir: &Path,
    path: &Path,
    fsync: bool,
) -> io::Result<u64> {
    let parent = path.parent().unwrap_or(dir);
    create_dirs_under(dir, parent)?;
    let mut out = AtomicFile::create(path, false)?;
    let mut w = BufWriter::with_capacity(256 << 10, &mut out);
    let rows = lake.write_group(group, &mut w)?;
    w.flush()?;
    drop(w);
    out.commit(fsync)?;
    Ok(rows)
}

/// Every log of `archive` with its size and SHA-256.
fn inputs(archive: &Archive) -> io::Result<Vec<serde_json::Value>> {
    let mut rows = Vec::new();
    for conn in &archive.connections {
        for log in &conn.logs {
            if log.path.as_os_str() == "-" {
                continue;
            }
            let (size, sha256) = hash_file(&log.path)?;
            rows.push(serde_json::json!({
                "input": log.path.to_string_lossy(),
                "connection": log.context.connection_id,
                "channel": log.context.channel_id,
                "size": size,
                "sha256": sha256,
            }));
        }
    }
    Ok(rows)
}

/// Appends one line to the manifest (created on first use).
fn append_manifest(dir: &Path, line: &serde_json::Value, fsync: bool) -> io::Result<()> {
    let path: PathBuf = dir.join(MANIFEST);
    let mut f = OpenOptions::new().create(true).append(true).open(&path)?;
    let mut text = serde_json::to_vec(line).map_err(io::Error::other)?;
    text.push(b'\n');
    f.write_all(&text)?;
    if fsync {
        f.sync_all()?;
    }
    Ok(())
}

/// Checks the arguments of an `ocsf-parquet` conversion: the one format,
/// a folder, and the three names of the layout.
pub fn layout(
    formats: usize,
    output: Option<&Path>,
    source: Option<&str>,
    region: Option<&str>,
    account: Option<&str>,
) -> Result<(LakeLayout, PathBuf), Failure> {
    if formats > 1 {
        return Err(usage(
            "--to ocsf-parquet writes a folder of its own: give it alone",
        ));
    }
    let dir = match output {
        Some(d) if d.as_os_str() != "-" => d.to_path_buf(),
        _ => {
            return Err(usage(
                "--to ocsf-parquet writes files in folders: give -o FOLDER",
            ))
        }
    };
    let (Some(s), Some(r), Some(a)) = (source, region, account) else {
        return Err(usage(
            "--to ocsf-parquet needs --source, --region and --account (the Security Lake layout)",
        ));
    };
    let layout = LakeLayout::new(s, r, a).map_err(usage)?;
    Ok((layout, dir))
}
