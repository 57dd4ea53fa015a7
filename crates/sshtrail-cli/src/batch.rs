//! Bulk conversion into an output directory: every log under the PATHs
//! (walked recursively), converted in parallel, written atomically, with a
//! manifest that records the chain of custody and lets `--resume` skip what
//! is done.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::io::{IsTerminal, Read};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use globset::{Glob, GlobMatcher};
use rayon::prelude::*;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};
use sshtrail::connection::{context_from_path, Connection, Context};
use sshtrail::time::{parse_rfc3339, Nanos};

use crate::convert::{convert_one, ConvertArgs, ConvertFormat, Dest};
use crate::gather::ConnectionInput;
use crate::load::{channels, load_logs};
use crate::output::{channel_path, write_atomically};
use crate::pipeline::{convert_large, Large, Outcome};
use crate::report::{self, Reporter};

/// File extensions taken as trail logs.
const LOG_EXTENSIONS: [&str; 5] = ["jsonl", "hex", "hexdump", "log", "trail"];

/// Set by Ctrl-C: workers stop taking new inputs.
static INTERRUPTED: AtomicBool = AtomicBool::new(false);

/// One input log and what is known about it before reading it.
#[derive(Debug, Clone)]
pub struct Job {
    pub path: PathBuf,
    pub context: Context,
    pub meta: Option<Arc<Connection>>,
    pub meta_path: Option<PathBuf>,
    pub size: u64,
}

/// A connection field `--where` can test.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Field {
    User,
    Host,
    Address,
    Account,
    Tag,
    Status,
}

/// The `--where`, `--since` and `--until` rules.
#[derive(Debug, Default)]
pub struct Selector {
    wheres: Vec<(Field, GlobMatcher)>,
    since: Option<Nanos>,
    until: Option<Nanos>,
}

impl Selector {
    /// Parses `FIELD=GLOB` rules and RFC 3339 bounds.
    pub fn new(
        wheres: &[String],
        since: Option<&str>,
        until: Option<&str>,
    ) -> Result<Selector, String> {
        let mut s = Selector::default();
        for w in wheres {
            let (field, glob) = w
                .split_once('=')
                .ok_or_else(|| format!("--where {w:?}: expected FIELD=GLOB"))?;
            let field = match field {
                "user" => Field::User,
                "host" => Field::Host,
                "address" => Field::Address,
                "account" => Field::Account,
                "tag" => Field::Tag,
                "status" => Field::Status,
                other => {
                    return Err(format!(
                    "--where: unknown field {other:?} (user, host, address, account, tag, status)"
                ))
                }
            };
            let glob = Glob::new(glob)
                .map_err(|e| format!("--where {w:?}: {e}"))?
                .compile_matcher();
            s.wheres.push((field, glob));
        }
        let time = |t: Option<&str>, name: &str| -> Result<Option<Nanos>, String> {
            t.map(|t| {
                parse_rfc3339(t.as_bytes(), true)
                    .map_err(|e| format!("--{name} {t:?}: {}", e.message))
            })
            .transpose()
        };
        s.since = time(since, "since")?;
        s.until = time(until, "until")?;
        Ok(s)
    }

    fn is_empty(&self) -> bool {
        self.wheres.is_empty() && self.since.is_none() && self.until.is_none()
    }

    /// Whether a connection passes every rule. Without metadata nothing can
    /// be tested, so any rule excludes it.
    pub fn matches(&self, meta: Option<&Connection>) -> bool {
        if self.is_empty() {
            return true;
        }
        let Some(m) = meta else {
            return false;
        };
        let one = |v: Option<&str>, g: &GlobMatcher| v.is_some_and(|v| g.is_match(v));
        let fields_ok = self.wheres.iter().all(|(f, g)| match f {
            Field::User => one(m.user(), g),
            Field::Host => one(m.host(), g),
            Field::Address => one(m.target_host_address.as_deref(), g),
            Field::Account => one(m.target_host_account.as_deref(), g),
            Field::Status => one(m.status.as_deref(), g),
            Field::Tag => m.tags.iter().any(|t| g.is_match(t)),
        });
        let at = m
            .connected
            .as_deref()
            .and_then(|c| parse_rfc3339(c.as_bytes(), true).ok());
        let time_ok = match (self.since, self.until) {
            (None, None) => true,
            _ => at.is_some_and(|t| {
                self.since.is_none_or(|s| t >= s) && self.until.is_none_or(|u| t <= u)
            }),
        };
        fields_ok && time_ok
    }
}

fn read_meta(path: &Path, rep: &mut Reporter) -> Option<Arc<Connection>> {
    let bytes = std::fs::read(path)
        .map_err(|e| rep.input_error(&path.display().to_string(), &e.to_string()))
        .ok()?;
    match Connection::from_json(&bytes) {
        Ok(c) => Some(Arc::new(c)),
        Err(e) => {
            rep.connection_error(&path.display().to_string(), &e);
            None
        }
    }
}

/// Finds every log under `paths`. Symlink loops and unreadable folders are
/// reported and skipped.
pub fn discover(paths: &[String], rep: &mut Reporter) -> Vec<Job> {
    let mut files: Vec<PathBuf> = Vec::new();
    for arg in paths {
        let p = PathBuf::from(arg);
        if !p.is_dir() {
            files.push(p);
            continue;
        }
        for entry in walkdir::WalkDir::new(&p)
            .follow_links(true)
            .sort_by_file_name()
        {
            match entry {
                Ok(e)
                    if e.file_type().is_file()
                        && e.path()
                            .extension()
                            .is_some_and(|x| LOG_EXTENSIONS.iter().any(|l| x == *l)) =>
                {
                    files.push(e.into_path())
                }
                Ok(_) => {}
                Err(e) => {
                    let where_ = e
                        .path()
                        .map(|p| p.display().to_string())
                        .unwrap_or_else(|| arg.clone());
                    let msg = if e.loop_ancestor().is_some() {
                        "symbolic link loop: not followed".to_string()
                    } else {
                        e.to_string()
                    };
                    rep.input_error(&where_, &msg);
                }
            }
        }
    }
    let mut seen = HashSet::new();
    let mut metas: HashMap<PathBuf, Option<Arc<Connection>>> = HashMap::new();
    let mut jobs = Vec::new();
    for path in files {
        let real = std::fs::canonicalize(&path).unwrap_or_else(|_| path.clone());
        if !seen.insert(real) {
            continue;
        }
        let size = match std::fs::metadata(&path) {
            Ok(m) if m.is_dir() => {
                rep.input_error(&path.display().to_string(), "is a directory");
                continue;
            }
            Ok(m) => m.len(),
            Err(e) => {
                rep.input_error(&path.display().to_string(), &e.to_string());
                continue;
            }
        };
        let dir = path.parent().map(Path::to_path_buf).unwrap_or_default();
        let dir_meta = dir.join("connection.json");
        let mut context = context_from_path(&path, dir_meta.is_file());
        let meta_path = if dir_meta.is_file() {
            Some(dir_meta)
        } else {
            context
                .connection_id
                .as_ref()
                .map(|c| dir.join(format!("{c}.json")))
                .filter(|p| p.is_file())
        };
        let meta = match &meta_path {
            Some(mp) => metas
                .entry(mp.clone())
                .or_insert_with(|| read_meta(mp, rep))
                .clone(),
            None => None,
        };
        if let Some(id) = meta.as_ref().and_then(|m| m.id.clone()) {
            context.connection_id = Some(id);
        }
        jobs.push(Job {
            path,
            context,
            meta,
            meta_path,
            size,
        });
    }
    jobs
}

fn sha256_hex(bytes: &[u8]) -> String {
    format!("{:x}", Sha256::digest(bytes))
}

fn sha256_file(path: &Path) -> std::io::Result<String> {
    let mut f = std::fs::File::open(path)?;
    let mut h = Sha256::new();
    let mut buf = vec![0u8; 1 << 20];
    loop {
        let n = f.read(&mut buf)?;
        if n == 0 {
            return Ok(format!("{:x}", h.finalize()));
        }
        h.update(&buf[..n]);
    }
}

/// What the previous manifest says of an input, for `--resume`.
fn intact(row: &Value, size: u64, sha: &str, outdir: &Path) -> bool {
    row["size"] == size
        && row["sha256"] == sha
        && row["status"] != "failed"
        && row["outputs"].as_array().is_some_and(|outs| {
            outs.iter().all(|o| {
                let p = outdir.join(o["path"].as_str().unwrap_or_default());
                sha256_file(&p).is_ok_and(|h| o["sha256"] == h.as_str())
            })
        })
}

/// The record of finished inputs while a batch runs.
const JOURNAL: &str = "manifest.jsonl.journal";

/// The rows of a running batch: appended to the journal file as inputs
/// finish; kept in memory only if the journal cannot be written.
struct Journal {
    file: Option<std::fs::File>,
    /// Where this run's rows start in the file, and how many bytes of
    /// whole rows it has written.
    start: u64,
    written: u64,
    /// Rows the file could not take.
    spill: Vec<String>,
}

impl Journal {
    fn open(path: &Path) -> std::io::Result<Journal> {
        let file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)?;
        let start = file.metadata()?.len();
        Ok(Journal {
            file: Some(file),
            start,
            written: 0,
            spill: Vec::new(),
        })
    }

    /// Appends one row. On an error the file is given up (reported once by
    /// the caller) and this row and the next ones stay in memory.
    fn append(&mut self, row: &str, fsync: bool) -> std::io::Result<()> {
        if let Some(file) = self.file.as_mut() {
            let mut line = Vec::with_capacity(row.len() + 1);
            line.extend_from_slice(row.as_bytes());
            line.push(b'\n');
            let result = std::io::Write::write_all(file, &line).and_then(|()| {
                if fsync {
                    file.sync_data()
                } else {
                    Ok(())
                }
            });
            match result {
                Ok(()) => {
                    self.written += line.len() as u64;
                    return Ok(());
                }
                Err(e) => {
                    self.file = None;
                    self.spill.push(row.to_string());
                    return Err(e);
                }
            }
        }
        self.spill.push(row.to_string());
        Ok(())
    }

    /// Writes this run's rows, in the order they finished.
    fn rows(&self, path: &Path, out: &mut dyn std::io::Write) -> std::io::Result<()> {
        if self.written > 0 {
            let mut file = std::fs::File::open(path)?;
            std::io::Seek::seek(&mut file, std::io::SeekFrom::Start(self.start))?;
            let copied = std::io::copy(&mut Read::take(file, self.written), out)?;
            if copied != self.written {
                return Err(std::io::Error::other(format!(
                    "{} shrank while the batch ran",
                    path.display()
                )));
            }
        }
        for row in &self.spill {
            out.write_all(row.as_bytes())?;
            out.write_all(b"\n")?;
        }
        Ok(())
    }
}

/// Removes the temporary outputs (`.NAME.sshtrail-tmp-PID`) under
/// `outdir` whose process is gone: what a crash or a kill left behind.
/// Those of a live process (another run into the same folder) are kept.
fn remove_stale_temporaries(outdir: &Path) -> Vec<PathBuf> {
    let mut removed = Vec::new();
    // Whether a process is alive is read from /proc: without it, keep all.
    if !Path::new("/proc/self").exists() {
        return removed;
    }
    for entry in walkdir::WalkDir::new(outdir)
        .max_depth(2)
        .into_iter()
        .flatten()
    {
        let name = entry.file_name().to_string_lossy();
        let Some((_, pid)) = name.rsplit_once(".sshtrail-tmp-") else {
            continue;
        };
        let Ok(pid) = pid.parse::<u32>() else {
            continue;
        };
        let alive = pid == std::process::id() || Path::new(&format!("/proc/{pid}")).exists();
        if entry.file_type().is_file()
            && name.starts_with('.')
            && !alive
            && std::fs::remove_file(entry.path()).is_ok()
        {
            removed.push(entry.path().to_path_buf());
        }
    }
    removed
}

/// Counters for the summary.
#[derive(Default)]
struct Totals {
    converted: AtomicU64,
    failed: AtomicU64,
    skipped: AtomicU64,
    events: AtomicU64,
    bytes: AtomicU64,
}

/// Runs a batch conversion into `outdir`.
pub fn run(
    args: &ConvertArgs,
    formats: &[ConvertFormat],
    outdir: &Path,
    filter: &sshtrail::Filter,
) -> u8 {
    let selector = match Selector::new(&args.where_, args.since.as_deref(), args.until.as_deref()) {
        Ok(s) => s,
        Err(m) => return report::usage(&m),
    };
    let manifest_path = outdir.join("manifest.jsonl");
    let journal_path = outdir.join(JOURNAL);
    if !args.force && !args.resume {
        if let Some(held) = [&manifest_path, &journal_path]
            .into_iter()
            .find(|p| p.exists())
        {
            return report::usage(&format!(
                "{} already holds a conversion ({}): use --resume to continue it or --force to redo it",
                outdir.display(),
                held.display()
            ));
        }
    }
    // Rows of earlier runs, by input, as written (parsed when their input
    // comes up: a Value per row would be several times larger).
    let mut old: BTreeMap<String, String> = BTreeMap::new();
    if args.resume {
        // The journal of a run that did not finish comes after the manifest:
        // its rows are newer.
        for path in [&manifest_path, &journal_path] {
            let Ok(file) = std::fs::File::open(path) else {
                continue;
            };
            for line in std::io::BufRead::lines(std::io::BufReader::new(file)).map_while(Result::ok)
            {
                #[derive(serde::Deserialize)]
                struct Input {
                    input: String,
                }
                if let Ok(row) = serde_json::from_str::<Input>(&line) {
                    old.insert(row.input, line);
                }
            }
        }
    }
    if args.force && !args.resume {
        let _ = std::fs::remove_file(&journal_path);
    }
    if args.force || args.resume {
        for stale in remove_stale_temporaries(outdir) {
            report::note(&format!(
                "removed {}, a partial output left by a run that did not finish",
                stale.display()
            ));
        }
    }
    if let Err(e) = std::fs::create_dir_all(outdir) {
        return report::usage(&format!("{}: {e}", outdir.display()));
    }
    // Rows are appended as inputs finish, so that a crash leaves a record
    // of the finished work for --resume; the manifest replaces it at the end.
    let journal = match Journal::open(&journal_path) {
        Ok(j) => Mutex::new(j),
        Err(e) => return report::usage(&format!("{}: {e}", journal_path.display())),
    };
    let _ = ctrlc::set_handler(|| {
        if INTERRUPTED.swap(true, Ordering::SeqCst) {
            std::process::exit(130);
        }
    });
    let started = Instant::now();
    let mut rep = Reporter::default();
    let jobs: Vec<Job> = discover(&args.paths, &mut rep)
        .into_iter()
        .filter(|j| selector.matches(j.meta.as_deref()))
        .collect();
    let discovery_errors = rep.errors;
    let total_bytes: u64 = jobs.iter().map(|j| j.size).sum();
    let show = !args.quiet && std::io::stderr().is_terminal();
    let bar = if show {
        indicatif::ProgressBar::new(total_bytes)
    } else {
        indicatif::ProgressBar::hidden()
    };
    bar.set_style(indicatif::ProgressStyle::with_template("{spinner} [{elapsed_precise}] {bar:30} {bytes}/{total_bytes} {binary_bytes_per_sec} eta {eta} {msg}").unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()));
    let totals = Totals::default();
    let files_done = AtomicU64::new(0);
    let errors = Mutex::new(0u64);
    let pool = match rayon::ThreadPoolBuilder::new()
        .num_threads(args.jobs.unwrap_or(0))
        .build()
    {
        Ok(p) => p,
        Err(e) => return report::usage(&format!("-j: {e}")),
    };
    pool.install(|| {
        jobs.par_iter().for_each(|job| {
            if INTERRUPTED.load(Ordering::SeqCst) {
                return;
            }
            let Some(row) = convert_job(
                args, formats, outdir, filter, job, &old, &totals, &errors, &bar,
            ) else {
                return;
            };
            let mut journal = journal.lock().unwrap_or_else(|e| e.into_inner());
            if let Err(e) = journal.append(&row.to_string(), args.fsync) {
                report::warn(&format!("{}: {e}", journal_path.display()));
                *errors.lock().unwrap_or_else(|e| e.into_inner()) += 1;
            }
            drop(journal);
            let n = files_done.fetch_add(1, Ordering::Relaxed) + 1;
            bar.set_message(format!("{n}/{} files", jobs.len()));
        })
    });
    bar.finish_and_clear();
    let interrupted = INTERRUPTED.load(Ordering::SeqCst);
    // The manifest: this run's rows, copied from the journal.
    let journal = journal.into_inner().unwrap_or_else(|e| e.into_inner());
    let written = write_atomically(&manifest_path, true, args.fsync, |w| {
        journal.rows(&journal_path, w)
    });
    match written {
        Ok(()) => {
            drop(journal);
            if let Err(e) = std::fs::remove_file(&journal_path) {
                report::warn(&format!("{}: {e}", journal_path.display()));
            }
        }
        Err(e) => rep.input_error(&manifest_path.display().to_string(), &e.to_string()),
    }
    let secs = started.elapsed().as_secs_f64();
    let bytes = totals.bytes.load(Ordering::Relaxed);
    report::note(&format!(
        "{}converted {} file(s), failed {}, skipped {}; {} events; {} bytes in {:.2} s ({:.1} MB/s){}",
        if interrupted { "interrupted: " } else { "" },
        totals.converted.load(Ordering::Relaxed),
        totals.failed.load(Ordering::Relaxed),
        totals.skipped.load(Ordering::Relaxed),
        totals.events.load(Ordering::Relaxed),
        bytes,
        secs,
        bytes as f64 / 1e6 / secs.max(1e-9),
        if discovery_errors > 0 { format!("; {discovery_errors} path(s) could not be read") } else { String::new() },
    ));
    if interrupted {
        130
    } else if totals.failed.load(Ordering::Relaxed) > 0
        || rep.errors > 0
        || *errors.lock().unwrap_or_else(|e| e.into_inner()) > 0
    {
        crate::EXIT_INPUT
    } else {
        crate::EXIT_OK
    }
}

#[allow(clippy::too_many_arguments)]
fn convert_job(
    args: &ConvertArgs,
    formats: &[ConvertFormat],
    outdir: &Path,
    filter: &sshtrail::Filter,
    job: &Job,
    old: &BTreeMap<String, String>,
    totals: &Totals,
    errors: &Mutex<u64>,
    bar: &indicatif::ProgressBar,
) -> Option<Value> {
    let input = job.path.display().to_string();
    let failed_row = |m: &str| {
        totals.failed.fetch_add(1, Ordering::Relaxed);
        report::warn(m);
        json!({"input": input, "size": job.size, "sha256": null, "status": "failed", "errors": 1, "messages": [m], "outputs": []})
    };
    if let Some(prev) = old
        .get(&input)
        .and_then(|line| serde_json::from_str::<Value>(line).ok())
    {
        // Resuming: an input whose size and hash match and whose outputs
        // are intact is done.
        let sha = match sha256_file(&job.path) {
            Ok(h) => h,
            Err(e) => return Some(failed_row(&format!("{input}: {e}"))),
        };
        if intact(&prev, job.size, &sha, outdir) {
            totals.skipped.fetch_add(1, Ordering::Relaxed);
            bar.inc(job.size);
            let mut row = prev;
            row["status"] = json!("skipped");
            return Some(row);
        }
    }
    // Large logs in event formats: converted in blocks on every thread.
    let mut counted = 0;
    if formats.iter().all(|f| f.is_event_format()) && job.size >= SPLIT_THRESHOLD as u64 {
        let mut paths = Vec::new();
        for &fmt in formats {
            match channel_path(
                outdir,
                job.context.connection_id.as_deref(),
                &job.context.channel_id,
                fmt.ext(),
            ) {
                Ok(p) => paths.push(p),
                Err(m) => return Some(failed_row(&format!("{input}: {m}"))),
            }
        }
        let read = AtomicU64::new(0);
        let large = Large {
            path: &job.path,
            channel_id: &job.context.channel_id,
            format: args.format.to_format(),
            formats,
            filter,
            outputs: &paths,
            force: args.force || args.resume,
            fsync: args.fsync,
            progress: &|n| {
                read.fetch_add(n, Ordering::Relaxed);
                bar.inc(n);
            },
            interrupted: &|| INTERRUPTED.load(Ordering::SeqCst),
        };
        let outcome = convert_large(&large);
        counted = read.load(Ordering::Relaxed);
        match outcome {
            Outcome::Converted {
                size,
                sha256,
                by_type,
                outputs,
                warning,
            } => {
                // Reported like the careful path reports it.
                let mut rep = Reporter::default();
                if let Some(w) = &warning {
                    rep.parse_error(&input, w);
                }
                let events: u64 = by_type.values().sum();
                let outputs: Vec<Value> = outputs
                    .iter()
                    .zip(formats)
                    .map(|(w, fmt)| {
                        let rel = w.path.strip_prefix(outdir).unwrap_or(&w.path);
                        json!({"path": rel.display().to_string(), "format": fmt.name(), "sha256": w.sha256, "bytes": w.bytes})
                    })
                    .collect();
                totals.converted.fetch_add(1, Ordering::Relaxed);
                totals.events.fetch_add(events, Ordering::Relaxed);
                totals.bytes.fetch_add(size, Ordering::Relaxed);
                bar.inc(job.size.saturating_sub(counted));
                return Some(json!({
                    "input": input, "size": size, "sha256": sha256,
                    "connection_id": job.context.connection_id, "channel_id": job.context.channel_id,
                    "channels": [job.context.channel_id], "events": events, "by_type": by_type,
                    "warnings": rep.warnings, "errors": 0, "messages": rep.messages, "outputs": outputs, "status": "converted",
                }));
            }
            Outcome::Failed(m) => {
                *errors.lock().unwrap_or_else(|e| e.into_inner()) += 1;
                return Some(failed_row(&m));
            }
            Outcome::Interrupted => return None,
            Outcome::Careful => {}
        }
    }
    let row = convert_careful(args, formats, outdir, filter, job, totals, errors);
    bar.inc(job.size.saturating_sub(counted));
    Some(row)
}

/// Converts one log with everything in memory, reporting every problem.
fn convert_careful(
    args: &ConvertArgs,
    formats: &[ConvertFormat],
    outdir: &Path,
    filter: &sshtrail::Filter,
    job: &Job,
    totals: &Totals,
    errors: &Mutex<u64>,
) -> Value {
    let input = job.path.display().to_string();
    let mut rep = Reporter::default();
    let conn = ConnectionInput {
        id: job.context.connection_id.clone(),
        meta: job.meta.as_deref().cloned(),
        meta_path: job.meta_path.clone(),
        logs: vec![(job.path.clone(), job.context.clone())],
    };
    let logs = load_logs(&conn, &mut rep);
    let Some(log) = logs.first() else {
        totals.failed.fetch_add(1, Ordering::Relaxed);
        return json!({"input": input, "size": job.size, "sha256": null, "status": "failed", "errors": 1, "messages": rep.messages, "outputs": []});
    };
    let sha = sha256_hex(&log.bytes);
    let chans = channels(&logs, &conn, args.format.to_format(), &mut rep);
    let mut by_type: BTreeMap<String, u64> = BTreeMap::new();
    for ch in &chans {
        for (k, n) in &ch.events {
            *by_type.entry(k.clone()).or_default() += n;
        }
    }
    let events: u64 = by_type.values().sum();
    let warnings = chans.iter().map(|c| c.log_warnings).sum::<u64>();
    let log_errors = chans.iter().map(|c| c.log_errors).sum::<u64>();
    let mut row = json!({
        "input": input,
        "size": log.bytes.len(),
        "sha256": sha,
        "connection_id": job.context.connection_id,
        "channel_id": job.context.channel_id,
        "channels": chans.iter().map(|c| c.context.channel_id.clone()).collect::<Vec<_>>(),
        "events": events,
        "by_type": by_type,
        "warnings": warnings,
        "errors": log_errors,
        "outputs": [],
    });
    if log_errors > 0 || rep.errors > 0 {
        // A corrupt file is recorded and left unconverted; the batch goes on.
        totals.failed.fetch_add(1, Ordering::Relaxed);
        row["status"] = json!("failed");
        row["messages"] = json!(rep.messages);
        return row;
    }
    let mut outputs = Vec::new();
    let mut failed = false;
    let force_args;
    let args = if args.resume && !args.force {
        // Resuming redoes outputs the manifest could not vouch for.
        force_args = ConvertArgs {
            force: true,
            ..args.clone()
        };
        &force_args
    } else {
        args
    };
    for ch in &chans {
        for &fmt in formats {
            let path = match channel_path(
                outdir,
                ch.context.connection_id.as_deref(),
                &ch.context.channel_id,
                fmt.ext(),
            ) {
                Ok(p) => p,
                Err(m) => {
                    rep.input_error(&input, &m);
                    failed = true;
                    continue;
                }
            };
            match convert_one(
                args,
                fmt,
                &conn,
                &logs,
                ch,
                filter,
                &Dest::InDir(path.clone()),
            ) {
                Ok(()) => {
                    let mut files = vec![path.clone()];
                    if matches!(fmt, ConvertFormat::Script | ConvertFormat::ScriptAdvanced) {
                        files.push(PathBuf::from(format!("{}.timing", path.display())));
                    }
                    for f in files {
                        let rel = f.strip_prefix(outdir).unwrap_or(&f).display().to_string();
                        let (hash, len) = (
                            sha256_file(&f).unwrap_or_default(),
                            std::fs::metadata(&f).map(|m| m.len()).unwrap_or(0),
                        );
                        outputs.push(json!({"path": rel, "format": fmt.name(), "sha256": hash, "bytes": len}));
                    }
                }
                Err(e) => {
                    rep.input_error(&path.display().to_string(), &e.to_string());
                    failed = true;
                }
            }
        }
    }
    row["outputs"] = json!(outputs);
    if failed {
        totals.failed.fetch_add(1, Ordering::Relaxed);
        row["status"] = json!("failed");
        *errors.lock().unwrap_or_else(|e| e.into_inner()) += 1;
    } else {
        totals.converted.fetch_add(1, Ordering::Relaxed);
        totals.events.fetch_add(events, Ordering::Relaxed);
        totals
            .bytes
            .fetch_add(log.bytes.len() as u64, Ordering::Relaxed);
        row["status"] = json!("converted");
    }
    row["messages"] = json!(rep.messages);
    row
}

/// Logs at least this large are converted in blocks on every thread.
const SPLIT_THRESHOLD: usize = 16 << 20;

#[cfg(test)]
mod tests {
    use super::*;

    fn meta(json: &str) -> Connection {
        Connection::from_json(json.as_bytes()).unwrap()
    }

    #[test]
    fn where_rules() {
        let m = meta(
            r#"{"user_data":{"display_name":"alice@example.com"},"target_host_data":{"common_name":"db-prod-01"},"target_host_address":"10.0.0.5","target_host_account":"postgres","status":"DISCONNECTED","tags":["prod","db"],"connected":"2023-06-07T15:12:28Z"}"#,
        );
        let sel = |w: &[&str], s: Option<&str>, u: Option<&str>| {
            Selector::new(&w.iter().map(|x| x.to_string()).collect::<Vec<_>>(), s, u).unwrap()
        };
        assert!(sel(&[], None, None).matches(None));
        assert!(sel(&["user=alice@*", "host=db-prod-*", "tag=db"], None, None).matches(Some(&m)));
        assert!(!sel(&["host=web-*"], None, None).matches(Some(&m)));
        assert!(sel(
            &["address=10.0.0.*", "account=postgres", "status=DISC*"],
            None,
            None
        )
        .matches(Some(&m)));
        assert!(!sel(&["tag=staging"], None, None).matches(Some(&m)));
        assert!(
            !sel(&["user=*"], None, None).matches(None),
            "no metadata, no match"
        );
        assert!(sel(
            &[],
            Some("2023-06-07T00:00:00Z"),
            Some("2023-06-08T00:00:00Z")
        )
        .matches(Some(&m)));
        assert!(!sel(&[], Some("2023-06-08T00:00:00Z"), None).matches(Some(&m)));
        assert!(Selector::new(&["colour=red".into()], None, None).is_err());
        assert!(Selector::new(&["user".into()], None, None).is_err());
        assert!(Selector::new(&[], Some("yesterday"), None).is_err());
    }
}
