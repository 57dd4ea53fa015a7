//! Bulk conversion into an output directory: every log under the PATHs
//! (walked recursively), converted in parallel, written atomically, with a
//! manifest that records the chain of custody and lets `--resume` skip what
//! is done.

pub mod journal;
pub mod lock;
pub mod manifest;
pub mod select;

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::io::{self, IsTerminal, Read};
use std::path::{Component, Path, PathBuf};
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use rayon::prelude::*;
use sha2::{Digest, Sha256};
use sshtrail::archive::{ConnectionSource, LogSource, ReplayOptions};
use sshtrail::channel::{ChannelEvent, ChannelEventKind, ChannelSink, ConnectionRef};
use sshtrail::connection::Context;
use sshtrail::output::{ChannelWriter, Output, OutputFormat, PartKey, PartName};
use sshtrail::stats::EventCounts;

use super::pipeline::{convert_large, Large, Outcome};
use super::plan::Plan;
use crate::cli::exit;
use crate::cli::input;
use crate::cli::output::{
    channel_path, create_dirs_under, existing, existing_output, open_no_follow, part_path,
    write_atomically, Claims, DirOutput, Existing, Finished, Replace,
};
use crate::cli::report::{self, note_warning, usage, CommandResult, Failure, Reporter};
use journal::{remove_stale_temporaries, Journal, JOURNAL};
use manifest::{AnyRow, Lost, OutputRow, Redacted, Resume, Row, Status, Unread};

/// Set by Ctrl-C: workers stop taking new inputs.
static INTERRUPTED: AtomicBool = AtomicBool::new(false);

/// Logs at least this large are converted in blocks on every thread.
const SPLIT_THRESHOLD: u64 = 16 << 20;

/// One input log: its connection, with only this log.
struct Job {
    conn: ConnectionSource,
    log: LogSource,
    size: u64,
    /// Why it is not converted: another input writes the same output.
    collision: Option<String>,
    /// The whole connection, for the job of its first log when the batch
    /// writes the evidence report (one page of all its logs).
    whole: Option<ConnectionSource>,
}

impl Job {
    fn input(&self) -> String {
        self.log.path.display().to_string()
    }

    /// The folder its outputs go under: the output folder for a log of a
    /// known connection (`<connection>/<channel>.<ext>`), else the log's
    /// own folder below the path it was found under, so that `a/0.jsonl`
    /// and `b/0.jsonl` stay apart.
    fn base(&self, outdir: &Path) -> Result<PathBuf, String> {
        if self.log.context.connection_id.is_some() {
            return Ok(outdir.to_path_buf());
        }
        let sub = &self.log.subfolder;
        if sub.components().all(|c| matches!(c, Component::Normal(_))) {
            Ok(outdir.join(sub))
        } else {
            Err(format!(
                "refusing to write under the folder {:?}: it is not a plain path",
                sub.display()
            ))
        }
    }

    /// Its main output files, one for each of `formats`.
    fn outputs(&self, formats: &[OutputFormat], outdir: &Path) -> Result<Vec<PathBuf>, String> {
        let base = self.base(outdir)?;
        let context = &self.log.context;
        formats
            .iter()
            .map(|fmt| {
                channel_path(
                    &base,
                    context.connection_id.as_deref(),
                    &context.channel_id,
                    fmt.ext(),
                )
            })
            .collect()
    }
}

/// Claims every job's outputs before anything is converted; two jobs with
/// one output (or an output that is an input) are both marked, and neither
/// is converted.
fn claim_outputs(jobs: &mut [Job], plan: &Plan, outdir: &Path, claims: &Claims) {
    let mut first: HashMap<PathBuf, usize> = HashMap::new();
    let mut clashes: Vec<(usize, String)> = Vec::new();
    for (i, job) in jobs.iter().enumerate() {
        // Ids that may not name a file are refused when converting.
        let Ok(paths) = job.outputs(&plan.formats, outdir) else {
            continue;
        };
        let input = job.input();
        for path in paths {
            match first.get(&path) {
                Some(&j) => {
                    let other = jobs[j].input();
                    let why = |b: &str| {
                        format!(
                            "its output {} would be an output of {b} too: neither is converted (give each its own connection id, or convert them into separate folders)",
                            path.display()
                        )
                    };
                    clashes.push((i, why(&other)));
                    clashes.push((j, why(&input)));
                }
                None => {
                    first.insert(path.clone(), i);
                    if let Err(m) = claims.claim(&path, &input) {
                        clashes.push((i, m));
                    }
                }
            }
        }
    }
    for (i, why) in clashes {
        jobs[i].collision.get_or_insert(why);
    }
}

/// Worker threads: as `-j` asks (else one per core), but no more than one
/// per input (never fewer than the cores, which share a large log) and
/// four per core; a note says when `-j` was capped.
fn threads(asked: Option<usize>, inputs: usize) -> usize {
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let cap = inputs.max(cores).min(4 * cores);
    match asked {
        None | Some(0) => cores.min(cap),
        Some(n) if n > cap => {
            report::note(&format!(
                "-j {n} capped at {cap} threads ({inputs} input(s), {cores} core(s))"
            ));
            cap
        }
        Some(n) => n,
    }
}

fn sha256_file(path: &Path) -> io::Result<String> {
    sshtrail::digest::sha256_file(path).map(|(_, sha)| sshtrail::digest::hex(&sha))
}

/// Counters for the summary.
#[derive(Default)]
struct Totals {
    converted: AtomicU64,
    failed: AtomicU64,
    skipped: AtomicU64,
    events: AtomicU64,
    bytes: AtomicU64,
    /// Secrets typed at prompts redacted in derived outputs.
    secrets: AtomicU64,
}

/// What every job shares.
struct Batch<'a> {
    plan: &'a Plan,
    outdir: &'a Path,
    /// Rows of earlier runs, by input, as written (parsed when their input
    /// comes up).
    old: BTreeMap<String, String>,
    totals: Totals,
    /// Outputs or the journal that could not be written.
    errors: AtomicU64,
    /// Every output path, with the input it is of.
    claims: Claims,
    /// The warnings discovery printed about each input (another layout of
    /// its channel set aside), as printed: they count in its row.
    found: HashMap<String, Vec<String>>,
    bar: indicatif::ProgressBar,
}

/// Runs a batch conversion into `outdir`.
pub fn run(plan: &Plan, outdir: &Path) -> CommandResult {
    let manifest_path = outdir.join("manifest.jsonl");
    let journal_path = outdir.join(JOURNAL);
    let started = Instant::now();
    let mut rep = Reporter::default();
    let (archive, found) = input::open_noting_warnings(&plan.paths, &mut rep);
    let mut jobs: Vec<Job> = archive
        .connections
        .iter()
        .filter(|c| plan.selector.matches(c.meta.as_deref()))
        .flat_map(|c| {
            let report = plan.formats.contains(&OutputFormat::Html);
            (0..c.logs.len()).map(move |i| Job {
                conn: c.only(i),
                log: c.logs[i].clone(),
                size: c.logs[i].size.unwrap_or(0),
                collision: None,
                whole: (report && i == 0).then(|| c.clone()),
            })
        })
        .collect();
    if jobs.is_empty() && rep.errors > 0 {
        // Nothing to convert, and the paths were wrong: no folder is made.
        return Ok(rep.code());
    }
    // The output folder, held for the whole run: a second run into it
    // would tear the journal and race for the outputs.
    if let Err(e) = std::fs::create_dir_all(outdir) {
        return Err(Failure::Output(format!("{}: {e}", outdir.display())));
    }
    let _lock = lock::OutdirLock::take(outdir).map_err(Failure::Output)?;
    if !plan.force && !plan.resume {
        if let Some(held) = [&manifest_path, &journal_path]
            .into_iter()
            .find(|p| !matches!(existing(p), Ok(Existing::Nothing)))
        {
            return Err(usage(format!(
                "{} already holds a conversion ({}): use --resume to continue it or --force to redo it",
                outdir.display(),
                held.display()
            )));
        }
    }
    let mut old: BTreeMap<String, String> = BTreeMap::new();
    if plan.resume {
        // The journal of a run that did not finish comes after the manifest:
        // its rows are newer. Neither is read through a symbolic link.
        for path in [&manifest_path, &journal_path] {
            let file = match open_no_follow(path) {
                Ok(f) => f,
                Err(e) if e.kind() == io::ErrorKind::NotFound => continue,
                Err(e) => return Err(Failure::Output(format!("{}: {e}", path.display()))),
            };
            if !file.metadata().is_ok_and(|m| m.is_file()) {
                return Err(Failure::Output(format!(
                    "{}: not a regular file",
                    path.display()
                )));
            }
            for line in io::BufRead::lines(io::BufReader::new(file)).map_while(Result::ok) {
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
    if plan.force && !plan.resume {
        if let Ok(Existing::File) = existing(&journal_path) {
            let _ = std::fs::remove_file(&journal_path);
        }
    }
    if plan.force || plan.resume {
        for stale in remove_stale_temporaries(outdir) {
            report::note(&format!(
                "removed {}, a partial output left by a run that did not finish",
                stale.display()
            ));
        }
    }
    // Every input's outputs are claimed before anything is converted: two
    // inputs that would write one file are both left unconverted.
    let claims = input::claims(&archive);
    claim_outputs(&mut jobs, plan, outdir, &claims);
    let discovery_errors = rep.errors;
    let total_bytes: u64 = jobs.iter().map(|j| j.size).sum();
    let show = !plan.quiet && io::stderr().is_terminal();
    let bar = if show {
        indicatif::ProgressBar::new(total_bytes)
    } else {
        indicatif::ProgressBar::hidden()
    };
    bar.set_style(indicatif::ProgressStyle::with_template("{spinner} [{elapsed_precise}] {bar:30} {bytes}/{total_bytes} {binary_bytes_per_sec} eta {eta} {msg}").unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()));
    let batch = Batch {
        plan,
        outdir,
        old,
        claims,
        found,
        totals: Totals::default(),
        errors: AtomicU64::new(0),
        bar,
    };
    let files_done = AtomicU64::new(0);
    let pool = match rayon::ThreadPoolBuilder::new()
        .num_threads(threads(plan.jobs, jobs.len()))
        .build()
    {
        Ok(p) => p,
        Err(e) => return Err(Failure::Output(format!("starting the threads failed: {e}"))),
    };
    // Rows are appended as inputs finish, so that a crash leaves a record
    // of the finished work for --resume; the manifest replaces it at the end.
    let journal = match Journal::open(&journal_path) {
        Ok(j) => Mutex::new(j),
        Err(e) => return Err(Failure::Output(format!("{}: {e}", journal_path.display()))),
    };
    let _ = ctrlc::set_handler(|| {
        if INTERRUPTED.swap(true, Ordering::SeqCst) {
            std::process::exit(i32::from(exit::INTERRUPTED));
        }
    });
    pool.install(|| {
        jobs.par_iter().for_each(|job| {
            if INTERRUPTED.load(Ordering::SeqCst) {
                return;
            }
            let Some(row) = batch.job(job) else {
                return;
            };
            let mut journal = journal.lock().unwrap_or_else(|e| e.into_inner());
            if let Err(e) = journal.append(&row.to_line(), plan.fsync) {
                report::warn(&format!("{}: {e}", journal_path.display()));
                batch.errors.fetch_add(1, Ordering::Relaxed);
            }
            drop(journal);
            let n = files_done.fetch_add(1, Ordering::Relaxed) + 1;
            batch.bar.set_message(format!("{n}/{} files", jobs.len()));
        })
    });
    batch.bar.finish_and_clear();
    let interrupted = INTERRUPTED.load(Ordering::SeqCst);
    // The manifest: this run's rows, copied from the journal.
    let journal = journal.into_inner().unwrap_or_else(|e| e.into_inner());
    let written = write_atomically(&manifest_path, true, plan.fsync, |w| {
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
    let totals = &batch.totals;
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
    let secrets = totals.secrets.load(Ordering::Relaxed);
    if secrets > 0 {
        report::note(&format!(
            "redacted {secrets} secret(s) typed at prompts in derived outputs (counted per input in the manifest); --no-redact keeps them"
        ));
    }
    let status = if interrupted {
        exit::INTERRUPTED
    } else if totals.failed.load(Ordering::Relaxed) > 0
        || rep.errors > 0
        || batch.errors.load(Ordering::Relaxed) > 0
    {
        exit::INPUT
    } else {
        exit::OK
    };
    Ok(ExitCode::from(status))
}

impl Batch<'_> {
    /// The row of an input left unconverted, `message` saying why (printed
    /// as `INPUT: error: MESSAGE`).
    fn failed_row(&self, job: &Job, message: &str) -> AnyRow {
        self.totals.failed.fetch_add(1, Ordering::Relaxed);
        let mut rep = Reporter::default();
        rep.input_error(&job.input(), message);
        AnyRow::Unread(Unread::new(
            &job.input(),
            job.size,
            std::mem::take(&mut rep.messages),
        ))
    }

    /// Converts one input; `None` when interrupted.
    fn job(&self, job: &Job) -> Option<AnyRow> {
        let input = job.input();
        if let Some(why) = &job.collision {
            self.bar.inc(job.size);
            return Some(self.failed_row(job, why));
        }
        // What is said about the input goes in its row: first what
        // discovery printed (not printed again).
        let mut rep = Reporter::default();
        for line in self.found.get(&input).into_iter().flatten() {
            rep.warnings += 1;
            rep.messages.push(line.clone());
        }
        let mut formats: Vec<OutputFormat> = self.plan.formats.clone();
        // The row of an earlier run whose outputs stay, when this run only
        // adds formats to it.
        let mut earlier: Option<Row> = None;
        if let Some(prev) = self
            .old
            .get(&input)
            .and_then(|line| serde_json::from_str::<AnyRow>(line).ok())
        {
            // Resuming: an input whose size and hash match and whose outputs
            // are intact is done, but for formats added since.
            let sha = match sha256_file(&job.log.path) {
                Ok(h) => h,
                Err(e) => return Some(self.failed_row(job, &e.to_string())),
            };
            // Paths read back are checked as when they were created: a row
            // naming `../x`, `/dev/zero` or a link vouches for nothing.
            let hash = |rel: &str| match existing_output(self.outdir, rel) {
                Ok(p) => sha256_file(&p).map_err(|e| Lost::Unusable(e.to_string())),
                Err(_) if matches!(existing(&self.outdir.join(rel)), Ok(Existing::Nothing)) => {
                    Err(Lost::Missing)
                }
                Err(e) => Err(Lost::Unusable(e.to_string())),
            };
            let names: Vec<&str> = formats.iter().map(|f| f.name()).collect();
            match prev.resume(job.size, &sha, &names, hash) {
                Resume::Intact { missing } if missing.is_empty() => {
                    self.totals.skipped.fetch_add(1, Ordering::Relaxed);
                    self.bar.inc(job.size);
                    let mut row = prev;
                    if let AnyRow::Read(r) = &mut row {
                        r.status = Status::Skipped;
                    }
                    return Some(row);
                }
                Resume::Intact { missing } => {
                    formats.retain(|f| missing.iter().any(|m| m == f.name()));
                    if let AnyRow::Read(r) = prev {
                        earlier = Some(r);
                    }
                }
                Resume::Tampered(lost) => {
                    // Never silently: the user may be looking for who
                    // touched the output folder.
                    for (rel, why) in lost {
                        rep.warning(
                            &input,
                            &format!(
                                "its output {} {}: converted again",
                                self.outdir.join(rel).display(),
                                why.reason()
                            ),
                        );
                    }
                }
                Resume::Redo => {}
            }
        }
        let row = self.convert(job, &formats, rep);
        Some(match (row?, earlier) {
            (AnyRow::Read(mut row), Some(earlier)) => {
                // The earlier outputs stay: the row lists them first.
                let mut done = earlier.formats_done();
                let mut outputs = earlier.outputs;
                outputs.append(&mut row.outputs);
                row.outputs = outputs;
                for f in row.formats.drain(..) {
                    if !done.contains(&f) {
                        done.push(f);
                    }
                }
                row.formats = done;
                AnyRow::Read(row)
            }
            (row, _) => row,
        })
    }

    /// Converts one input to `formats`, `rep` holding what was said of it
    /// already; `None` when interrupted.
    fn convert(&self, job: &Job, formats: &[OutputFormat], mut rep: Reporter) -> Option<AnyRow> {
        let input = job.input();
        // Large logs in evidence formats: converted in blocks on every thread.
        let mut counted = 0;
        // A compressed log is one stream: it takes the streaming path.
        let compressed = matches!(job.log.compression(), Ok(Some(_)));
        if formats.iter().all(|f| f.is_evidence()) && job.size >= SPLIT_THRESHOLD && !compressed {
            let context = &job.log.context;
            let paths = match job.outputs(formats, self.outdir) {
                Ok(p) => p,
                Err(m) => return Some(self.failed_row(job, &m)),
            };
            for p in &paths {
                if let Err(m) = self.claims.claim(p, &input) {
                    return Some(self.failed_row(job, &m));
                }
                let dir = p.parent().unwrap_or(self.outdir);
                if let Err(e) = create_dirs_under(self.outdir, dir) {
                    return Some(self.failed_row(job, &e.to_string()));
                }
            }
            let read = AtomicU64::new(0);
            let large = Large {
                path: &job.log.path,
                channel_id: &context.channel_id,
                format: self.plan.input_format,
                formats,
                filter: &self.plan.writer.filter,
                outputs: &paths,
                replace: Replace::force(self.plan.force || self.plan.resume),
                hashes: true,
                fsync: self.plan.fsync,
                progress: &|n| {
                    read.fetch_add(n, Ordering::Relaxed);
                    self.bar.inc(n);
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
                    if let Some(w) = &warning {
                        rep.parse_error(&input, w);
                    }
                    let events: u64 = by_type.values().sum();
                    let outputs: Vec<OutputRow> = outputs
                        .iter()
                        .zip(formats)
                        .map(|(w, fmt)| OutputRow {
                            bytes: w.bytes,
                            format: fmt.name().to_string(),
                            path: relative(&w.path, self.outdir),
                            sha256: w.sha256.clone(),
                        })
                        .collect();
                    self.totals.converted.fetch_add(1, Ordering::Relaxed);
                    self.totals.events.fetch_add(events, Ordering::Relaxed);
                    self.totals.bytes.fetch_add(size, Ordering::Relaxed);
                    self.bar.inc(job.size.saturating_sub(counted));
                    return Some(AnyRow::Read(Row {
                        by_type,
                        channel_id: context.channel_id.clone(),
                        channels: vec![context.channel_id.clone()],
                        connection_id: context.connection_id.clone(),
                        errors: 0,
                        events,
                        formats: formats.iter().map(|f| f.name().to_string()).collect(),
                        input,
                        messages: std::mem::take(&mut rep.messages),
                        outputs,
                        redactions: Redacted::default(),
                        sha256,
                        size,
                        status: Status::Converted,
                        warnings: rep.warnings,
                    }));
                }
                Outcome::Failed(m) => {
                    self.errors.fetch_add(1, Ordering::Relaxed);
                    return Some(self.failed_row(job, &m));
                }
                Outcome::Interrupted => return None,
                Outcome::Careful => {}
            }
        }
        let row = self.careful(job, formats, rep);
        self.bar.inc(job.size.saturating_sub(counted));
        Some(row)
    }

    /// Converts one log as a stream of channel events, reporting every
    /// problem; a log with any error is recorded as failed and nothing of
    /// it is written.
    fn careful(&self, job: &Job, formats: &[OutputFormat], mut rep: Reporter) -> AnyRow {
        let input = job.input();
        // The stored bytes are hashed (the manifest vouches for the file as
        // it is kept); the replay decompresses them.
        let file = match sshtrail::archive::open_stored(&job.log.path) {
            Ok(f) => f,
            Err(e) => {
                rep.input_error(&input, &e.to_string());
                self.totals.failed.fetch_add(1, Ordering::Relaxed);
                return AnyRow::Unread(Unread::new(
                    &input,
                    job.size,
                    std::mem::take(&mut rep.messages),
                ));
            }
        };
        let hashed = Arc::new(Mutex::new((Sha256::new(), 0u64)));
        let reader = Hashing {
            inner: file,
            hash: Arc::clone(&hashed),
        };
        let mut conn = job.conn.clone();
        conn.logs = vec![LogSource::with_reader(
            &job.log.path,
            job.log.context.clone(),
            Box::new(reader),
        )];
        // Resuming redoes outputs the manifest could not vouch for.
        let force = self.plan.force || self.plan.resume;
        let base = match job.base(self.outdir) {
            Ok(b) => b,
            Err(m) => {
                rep.input_error(&input, &m);
                self.totals.failed.fetch_add(1, Ordering::Relaxed);
                return AnyRow::Unread(Unread::new(
                    &input,
                    job.size,
                    std::mem::take(&mut rep.messages),
                ));
            }
        };
        let mut out = DirOutput::under(self.outdir, &base, force, &self.claims, &input)
            .fsync(self.plan.fsync);
        // The report is of the whole connection: written apart, below.
        let mut writers: Vec<Box<dyn ChannelWriter>> = formats
            .iter()
            .filter(|f| **f != OutputFormat::Html)
            .map(|f| f.writer(&self.plan.writer))
            .collect();
        // The pool already has a job on every core: no reading ahead.
        let options = ReplayOptions::with_format(self.plan.input_format).on_one_thread();
        let mut tally = Tally::default();
        let replayed = {
            let mut tee = Tee {
                writers: &mut writers,
                out: &mut out,
                tally: &mut tally,
            };
            conn.replay(&options, &mut tee, &mut |p| rep.problem(&p))
        };
        // The evidence report: the job of a connection's first log writes
        // the page of all its logs (their own jobs report their problems).
        let report = match (&job.whole, formats.contains(&OutputFormat::Html)) {
            (Some(whole), true) => {
                let mut writer = OutputFormat::Html.writer(&self.plan.writer);
                let mut quiet = Tally::default();
                let mut tee = Tee {
                    writers: std::slice::from_mut(&mut writer),
                    out: &mut out,
                    tally: &mut quiet,
                };
                whole.replay(&options, &mut tee, &mut |_| {})
            }
            _ => Ok(Default::default()),
        };
        if let Err(e) = report {
            rep.input_error(&input, &format!("the evidence report: {e}"));
        }
        let (hash, size) = {
            let h = hashed.lock().unwrap_or_else(|e| e.into_inner());
            (format!("{:x}", h.0.clone().finalize()), h.1)
        };
        let context = &job.log.context;
        let mut row = Row {
            by_type: tally.events.to_map(),
            channel_id: context.channel_id.clone(),
            channels: tally
                .channels
                .iter()
                .map(|c| c.channel_id.clone())
                .collect(),
            connection_id: context.connection_id.clone(),
            errors: tally.errors,
            events: tally.events.total(),
            formats: formats.iter().map(|f| f.name().to_string()).collect(),
            input: input.clone(),
            messages: Vec::new(),
            outputs: Vec::new(),
            redactions: Redacted::default(),
            sha256: hash,
            size,
            status: Status::Failed,
            warnings: tally.warnings,
        };
        if let Err(e) = replayed {
            rep.input_error(&input, &e.to_string());
        }
        if tally.errors > 0 || rep.errors > 0 {
            // A corrupt file is recorded and left unconverted; the batch goes on.
            self.totals.failed.fetch_add(1, Ordering::Relaxed);
            if row.size < job.size {
                // Reading stopped early (not a log, a read error): the hash
                // of a part would pass for the file's.
                return AnyRow::Unread(Unread::new(
                    &input,
                    job.size,
                    std::mem::take(&mut rep.messages),
                ));
            }
            row.messages = std::mem::take(&mut rep.messages);
            row.warnings = rep.warnings.max(tally.warnings);
            return AnyRow::Read(row);
        }
        let logs: std::collections::HashMap<Context, String> =
            [(context.clone(), input.clone())].into_iter().collect();
        // What the writers had to make up or leave out is printed as a
        // warning about this input, and counted as one.
        let mut notes = 0;
        for w in &mut writers {
            for note in w.take_notes() {
                let text = note_warning(&note, logs.get(&note.channel).map(String::as_str));
                rep.keep(format!("warning: {text}"));
                notes += 1;
            }
        }
        // Each derived format judged the same keys: one count, not a sum.
        let redacted = writers
            .iter()
            .map(|w| w.redactions())
            .max_by_key(|r| (r.secrets, r.bytes))
            .unwrap_or_default();
        row.redactions = redacted.into();
        let refused = out.take_refused();
        let mut failed = !refused.is_empty();
        for m in refused {
            rep.input_error(&input, &m);
        }
        if !failed {
            match out.commit(self.plan.fsync) {
                Ok(files) => row.outputs = self.output_rows(&tally, formats, &files),
                Err((path, e)) => {
                    rep.input_error(&path.display().to_string(), &e.to_string());
                    failed = true;
                }
            }
        }
        if failed {
            self.totals.failed.fetch_add(1, Ordering::Relaxed);
            self.errors.fetch_add(1, Ordering::Relaxed);
        } else if row.outputs.is_empty() && notes > 0 {
            // Every format declined it, saying why (a transcript of a
            // channel without a terminal): nothing converted, nothing
            // failed.
            self.totals.skipped.fetch_add(1, Ordering::Relaxed);
            row.status = Status::Skipped;
        } else {
            self.totals.converted.fetch_add(1, Ordering::Relaxed);
            self.totals.events.fetch_add(row.events, Ordering::Relaxed);
            self.totals.bytes.fetch_add(size, Ordering::Relaxed);
            self.totals
                .secrets
                .fetch_add(redacted.secrets, Ordering::Relaxed);
            row.status = Status::Converted;
        }
        row.messages = std::mem::take(&mut rep.messages);
        // Every warning printed about the input: the log's own (which the
        // reporter counted as it printed them), the writers' notes, and
        // what discovery and resuming said.
        row.warnings = rep.warnings.max(tally.warnings) + notes;
        AnyRow::Read(row)
    }

    /// The manifest's outputs: channel by channel (in order of their ids),
    /// format by format, each format's files in order.
    fn output_rows(
        &self,
        tally: &Tally,
        formats: &[OutputFormat],
        files: &[Finished],
    ) -> Vec<OutputRow> {
        let mut rows = Vec::new();
        let mut listed: BTreeSet<PathBuf> = BTreeSet::new();
        for ch in &tally.channels {
            for &fmt in formats {
                let key = PartKey::main(ch, fmt.ext());
                let names = std::iter::once(PartName::Main)
                    .chain(fmt.extra_parts().iter().map(|s| PartName::Suffix(s)));
                for name in names {
                    let Ok(path) = part_path(self.outdir, &key.with(name)) else {
                        continue;
                    };
                    if let Some(f) = files.iter().find(|f| f.path == path) {
                        listed.insert(path);
                        rows.push(OutputRow {
                            bytes: f.bytes,
                            format: fmt.name().to_string(),
                            path: relative(&f.path, self.outdir),
                            sha256: f.sha256.clone(),
                        });
                    }
                }
            }
        }
        // The connection's evidence report.
        if formats.contains(&OutputFormat::Html) {
            let connections: BTreeSet<Option<&str>> = tally
                .channels
                .iter()
                .map(|c| c.connection_id.as_deref())
                .collect();
            for connection in connections {
                let key = PartKey {
                    connection,
                    channel: None,
                    ext: OutputFormat::Html.ext(),
                    name: PartName::Main,
                };
                let Ok(path) = part_path(self.outdir, &key) else {
                    continue;
                };
                if let Some(f) = files.iter().find(|f| f.path == path) {
                    listed.insert(path);
                    rows.push(OutputRow {
                        bytes: f.bytes,
                        format: OutputFormat::Html.name().to_string(),
                        path: relative(&f.path, self.outdir),
                        sha256: f.sha256.clone(),
                    });
                }
            }
        }
        // Anything else written (files in channel folders), in order.
        for f in files.iter().filter(|f| !listed.contains(&f.path)) {
            rows.push(OutputRow {
                bytes: f.bytes,
                format: String::new(),
                path: relative(&f.path, self.outdir),
                sha256: f.sha256.clone(),
            });
        }
        rows
    }
}

fn relative(path: &Path, outdir: &Path) -> String {
    path.strip_prefix(outdir)
        .unwrap_or(path)
        .display()
        .to_string()
}

/// Reads through, hashing what it reads and counting it.
struct Hashing {
    inner: Box<dyn Read + Send>,
    hash: Arc<Mutex<(Sha256, u64)>>,
}

impl Read for Hashing {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        let mut h = self.hash.lock().unwrap_or_else(|e| e.into_inner());
        h.0.update(&buf[..n]);
        h.1 += n as u64;
        Ok(n)
    }
}

/// What the manifest says of a log's channels.
#[derive(Default)]
struct Tally {
    /// The channels, in order of their ids.
    channels: BTreeSet<Context>,
    events: EventCounts,
    errors: u64,
    warnings: u64,
}

impl ChannelSink for Tally {
    fn event(&mut self, ev: &ChannelEvent<'_>) -> io::Result<()> {
        if let ChannelEventKind::Ended { .. } = ev.kind {
            let ch = ev.channel;
            self.channels.insert(ch.context.clone());
            self.events.merge(&ch.events);
            self.errors += ch.log_errors;
            self.warnings += ch.log_warnings;
        }
        Ok(())
    }
}

/// Every writer of the batch's formats, writing into one output, and the
/// tally.
struct Tee<'a> {
    writers: &'a mut [Box<dyn ChannelWriter>],
    out: &'a mut dyn Output,
    tally: &'a mut Tally,
}

impl ChannelSink for Tee<'_> {
    fn connection_start(&mut self, conn: &ConnectionRef<'_>) -> io::Result<()> {
        for w in self.writers.iter_mut() {
            w.connection_start(conn, self.out)?;
        }
        self.tally.connection_start(conn)
    }

    fn event(&mut self, ev: &ChannelEvent<'_>) -> io::Result<()> {
        for w in self.writers.iter_mut() {
            w.event(ev, self.out)?;
        }
        self.tally.event(ev)
    }

    fn connection_end(&mut self, conn: &ConnectionRef<'_>) -> io::Result<()> {
        for w in self.writers.iter_mut() {
            w.connection_end(conn, self.out)?;
        }
        self.tally.connection_end(conn)
    }
}
