//! `sshtrail fetch`: connections, trail logs and stored files from the
//! gateway's API into an archive that every other command reads.
//!
//! The protocol (token, search and paging, the two-step downloads, retries)
//! is the library's [`sshtrail::gateway`]; this module writes the archive:
//! `ARCHIVE/<connection_id>/connection.json`, `<channel_id>.<jsonl|hex>`,
//! `files/<file_id>` and `ARCHIVE/manifest.jsonl`, through the same safe
//! writing as `convert` (temporary file created new, then renamed; no
//! symbolic link followed; the folder locked for the run).

use std::collections::{BTreeMap, HashSet};
use std::fs;
use std::io::{self, IsTerminal, Read, Write};
use std::os::unix::fs::{MetadataExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use clap::{Args, ValueEnum};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use sshtrail::gateway::{
    ConnectionSummary, Credentials, Download, Gateway, LogFormat, Options, RetryPolicy, Search,
    Secret, Sink,
};

use crate::cli::exit;
use crate::cli::output::{create_dirs_under, existing_output, safe_component, AtomicFile, Replace};
use crate::cli::report::{self, usage, CommandResult, Failure};
use crate::convert::batch::lock::OutdirLock;

/// The event types the API's `filter` takes for SSH.
const FILTER_TYPES: [&str; 15] = [
    "stdin",
    "stdout",
    "stderr",
    "forward-request",
    "reverse-request",
    "forward-reply",
    "reverse-reply",
    "forward-global-request",
    "reverse-global-request",
    "forward-new-channel-request",
    "reverse-new-channel-request",
    "forward-global-reply",
    "reverse-global-reply",
    "forward-new-channel-reply",
    "reverse-new-channel-reply",
];

/// The most parallel downloads.
const MAX_JOBS: usize = 16;

/// The log format to download.
#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum FetchFormat {
    /// JSON lines.
    Jsonl,
    /// The hex layout.
    Hex,
}

/// `sshtrail fetch`'s options.
#[derive(Args, Debug)]
pub struct FetchArgs {
    /// The gateway's address: https://HOST[:PORT] (http:// only to a
    /// loopback address, else with --insecure).
    #[arg(long, value_name = "URL")]
    pub url: String,
    /// The archive folder: <connection_id>/connection.json,
    /// <connection_id>/<channel_id>.<jsonl|hex>, manifest.jsonl.
    #[arg(short = 'o', long = "output", value_name = "ARCHIVE")]
    pub output: PathBuf,
    /// The trail log layout to download.
    #[arg(long, value_enum, default_value_t = FetchFormat::Jsonl)]
    pub format: FetchFormat,
    /// Only these event types (comma separated: stdin,stdout,stderr,
    /// forward-request, …): the logs are marked partial.
    #[arg(long, value_name = "LIST")]
    pub filter: Option<String>,
    /// Connections that started at or after this RFC 3339 time.
    #[arg(long, value_name = "TIME")]
    pub since: Option<String>,
    /// Connections that started before this RFC 3339 time.
    #[arg(long, value_name = "TIME")]
    pub until: Option<String>,
    /// Words searched in every attribute of a connection.
    #[arg(long, value_name = "WORDS")]
    pub keywords: Option<String>,
    /// A user's display name; repeatable.
    #[arg(long = "user", value_name = "USER")]
    pub users: Vec<String>,
    /// A target host address; repeatable.
    #[arg(long = "host", value_name = "HOST")]
    pub hosts: Vec<String>,
    /// A connection status (CONNECTED, DISCONNECTED, …); repeatable.
    #[arg(long = "status", value_name = "STATUS")]
    pub statuses: Vec<String>,
    /// A tag; repeatable.
    #[arg(long = "tag", value_name = "TAG")]
    pub tags: Vec<String>,
    /// This connection (no search); repeatable.
    #[arg(long = "connection", value_name = "ID", conflicts_with_all = ["since", "until", "keywords", "users", "hosts", "statuses", "tags"])]
    pub connections: Vec<String>,
    /// Also the files stored from each channel, as files/<file_id>.
    #[arg(long)]
    pub files: bool,
    /// Add to an existing archive: skip what its manifest vouches for (same
    /// size and SHA-256 on disk), fetch the rest.
    #[arg(long)]
    pub resume: bool,
    /// Parallel downloads (at most 16).
    #[arg(short = 'j', long = "jobs", value_name = "N", default_value_t = 4)]
    pub jobs: usize,
    /// A PEM file of CA certificates trusted besides the bundled web roots.
    #[arg(long, value_name = "FILE")]
    pub ca_cert: Option<PathBuf>,
    /// Allow plain http:// to an address that is not loopback.
    #[arg(long)]
    pub insecure: bool,
    /// The credentials file, readable by its owner only (without it: the
    /// environment, else ~/.config/sshtrail/credentials.toml).
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// No progress bar.
    #[arg(short = 'q', long)]
    pub quiet: bool,
    /// Connections asked for per page.
    #[arg(long, hide = true, default_value_t = 100)]
    pub page_limit: u32,
}

/// One row of `ARCHIVE/manifest.jsonl`: a file of the archive.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct FetchRow {
    /// `connection`, `log` or `file`.
    pub kind: String,
    /// Its path, relative to the archive.
    pub path: String,
    /// `fetched`, `skipped` (vouched for by an earlier run) or `failed`.
    pub status: String,
    /// The connection.
    pub connection_id: String,
    /// The channel (logs and files).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub channel_id: Option<String>,
    /// The stored file (files).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub file_id: Option<String>,
    /// `jsonl` or `hex` (logs).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub format: Option<String>,
    /// The event types asked for (`--filter`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub filter: Option<String>,
    /// True when made with a filter: not every event of the channel.
    #[serde(default)]
    pub partial: bool,
    /// Its size in bytes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bytes: Option<u64>,
    /// Its SHA-256.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sha256: Option<String>,
    /// The connection was still CONNECTED: its logs may grow.
    #[serde(default)]
    pub still_connected: bool,
    /// The status the gateway gives the stored log or file, when not `OK`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub not_ok: Option<String>,
    /// Why it failed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

impl FetchRow {
    /// Whether what it describes was whole at the source: a `--resume`
    /// fetches again what was not.
    fn final_at_source(&self) -> bool {
        !self.still_connected && self.not_ok.is_none()
    }
}

/// A download to make.
struct Job {
    row: FetchRow,
}

/// Counters for the summary.
#[derive(Default)]
struct Totals {
    fetched: AtomicU64,
    skipped: AtomicU64,
    failed: AtomicU64,
    bytes: AtomicU64,
    flagged: AtomicU64,
}

/// What the workers share.
struct Run<'a> {
    gateway: &'a Gateway,
    archive: &'a Path,
    format: LogFormat,
    filter: Option<String>,
    resume: bool,
    old: BTreeMap<String, FetchRow>,
    manifest: Mutex<fs::File>,
    rows: Mutex<BTreeMap<String, FetchRow>>,
    failures: Mutex<Vec<String>>,
    totals: Totals,
    bar: indicatif::ProgressBar,
}

/// Runs `sshtrail fetch`.
pub fn run(args: FetchArgs) -> CommandResult {
    let started = Instant::now();
    let search = Search {
        keywords: args.keywords.clone(),
        users: args.users.clone(),
        hosts: args.hosts.clone(),
        statuses: args.statuses.clone(),
        tags: args.tags.clone(),
        since: args.since.clone(),
        until: args.until.clone(),
    };
    search.validate().map_err(|e| usage(e.to_string()))?;
    let filter = match &args.filter {
        Some(list) => Some(check_filter(list).map_err(usage)?),
        None => None,
    };
    if args.jobs == 0 {
        return Err(usage("-j must be at least 1"));
    }
    let jobs = args.jobs.min(MAX_JOBS);
    if jobs < args.jobs {
        report::note(&format!(
            "-j {}: at most {MAX_JOBS} downloads at once",
            args.jobs
        ));
    }
    for id in &args.connections {
        if !safe_component(id) {
            return Err(usage(format!(
                "--connection {id:?} is not a connection id (a plain name, no / or leading .)"
            )));
        }
    }
    let credentials = load_credentials(args.config.as_deref()).map_err(Failure::Output)?;
    let ca_pem = match &args.ca_cert {
        Some(p) => Some(
            fs::read(p).map_err(|e| Failure::Output(format!("--ca-cert {}: {e}", p.display())))?,
        ),
        None => None,
    };
    let options = Options {
        ca_pem,
        insecure: args.insecure,
        retry: retry_policy(),
        page_limit: args.page_limit,
        read_timeout: env_millis("SSHTRAIL_FETCH_READ_TIMEOUT_MS")
            .unwrap_or(Options::default().read_timeout),
        ..Options::default()
    };
    let gateway =
        Gateway::new(&args.url, credentials, &options).map_err(|e| usage(e.to_string()))?;
    if gateway.is_plain_remote() {
        report::warn(&format!(
            "{}: plain HTTP to a remote address (--insecure): the token and the trails cross the network unencrypted",
            args.url
        ));
    }

    // The archive: created, locked, empty unless resuming.
    let archive = args.output.as_path();
    fs::create_dir_all(archive)
        .map_err(|e| Failure::Output(format!("{}: {e}", archive.display())))?;
    let _lock = OutdirLock::take(archive).map_err(Failure::Output)?;
    let manifest_path = archive.join("manifest.jsonl");
    let old = if args.resume {
        // What a killed run was writing: its temporary files.
        for p in crate::convert::batch::journal::remove_stale_temporaries(archive) {
            report::note(&format!(
                "removed {} (left by a run that did not finish)",
                p.display()
            ));
        }
        read_manifest(&manifest_path).map_err(Failure::Output)?
    } else {
        let mut entries = fs::read_dir(archive)
            .map_err(|e| Failure::Output(format!("{}: {e}", archive.display())))?;
        if entries.next().is_some() {
            return Err(usage(format!(
                "{} is not empty: --resume adds to an archive",
                archive.display()
            )));
        }
        BTreeMap::new()
    };
    let manifest = fs::OpenOptions::new()
        .append(true)
        .create(true)
        .custom_flags(libc::O_NOFOLLOW)
        .open(&manifest_path)
        .map_err(|e| Failure::Output(format!("{}: {e}", manifest_path.display())))?;

    let show = !args.quiet && io::stderr().is_terminal();
    let bar = if show {
        indicatif::ProgressBar::new(0)
    } else {
        indicatif::ProgressBar::hidden()
    };
    bar.set_style(
        indicatif::ProgressStyle::with_template(
            "{spinner} [{elapsed_precise}] {bar:30} {pos}/{len} {binary_bytes_per_sec} {msg}",
        )
        .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
    );
    let run = Run {
        gateway: &gateway,
        archive,
        format: match args.format {
            FetchFormat::Jsonl => LogFormat::Jsonl,
            FetchFormat::Hex => LogFormat::Hex,
        },
        filter,
        resume: args.resume,
        old,
        manifest: Mutex::new(manifest),
        rows: Mutex::new(BTreeMap::new()),
        failures: Mutex::new(Vec::new()),
        totals: Totals::default(),
        bar,
    };

    // The connections: named, or searched for.
    let ids: Vec<String> = if args.connections.is_empty() {
        bar_message(&run.bar, "searching");
        match gateway.connections(&search) {
            Ok(list) => {
                let mut seen = HashSet::new();
                let mut ids = Vec::new();
                for c in list {
                    let id = c.get("id").and_then(|v| v.as_str()).unwrap_or_default();
                    if !safe_component(id) {
                        run.fail(format!(
                            "the server listed a connection id {id:?} that is not a plain file name: refused"
                        ));
                    } else if seen.insert(id.to_string()) {
                        ids.push(id.to_string());
                    }
                }
                ids
            }
            Err(e) => {
                run.fail(e.to_string());
                Vec::new()
            }
        }
    } else {
        let mut seen = HashSet::new();
        args.connections
            .iter()
            .filter(|id| seen.insert(id.to_string()))
            .cloned()
            .collect()
    };

    // Each connection's object, then its downloads.
    bar_message(&run.bar, "connections");
    run.bar.set_length(ids.len() as u64);
    let planned: Vec<Vec<Job>> = parallel(jobs, &ids, |id| run.connection(id, args.files));
    let downloads: Vec<Job> = planned.into_iter().flatten().collect();
    run.bar.set_position(0);
    run.bar.set_length(downloads.len() as u64);
    bar_message(&run.bar, "downloads");
    parallel(jobs, &downloads, |job| run.download(job));
    run.bar.finish_and_clear();

    // The manifest: the rows of this run and the earlier ones it kept.
    let rows = std::mem::take(&mut *run.rows.lock().unwrap_or_else(|e| e.into_inner()));
    let mut all = run.old.clone();
    all.extend(rows);
    let written = crate::cli::output::write_atomically(&manifest_path, true, true, |w| {
        for row in all.values() {
            serde_json::to_writer(&mut *w, row)?;
            w.write_all(b"\n")?;
        }
        Ok(())
    });
    if let Err(e) = written {
        run.fail(format!("{}: {e}", manifest_path.display()));
    }

    let t = &run.totals;
    let failed = t.failed.load(Ordering::Relaxed);
    let failures = run.failures.into_inner().unwrap_or_else(|e| e.into_inner());
    let secs = started.elapsed().as_secs_f64();
    let bytes = t.bytes.load(Ordering::Relaxed);
    report::note(&format!(
        "fetched {} file(s) of {} connection(s), skipped {} already in the archive, failed {}; {} bytes in {:.2} s ({:.1} MB/s){}{}",
        t.fetched.load(Ordering::Relaxed),
        ids.len(),
        t.skipped.load(Ordering::Relaxed),
        failures.len().max(failed as usize),
        bytes,
        secs,
        bytes as f64 / 1e6 / secs.max(1e-9),
        match t.flagged.load(Ordering::Relaxed) {
            0 => String::new(),
            n => format!("; {n} still connected or not OK at the gateway (flagged in the manifest, fetched again by --resume)"),
        },
        if run.filter.is_some() { "; logs are partial (--filter)" } else { "" },
    ));
    if failures.is_empty() {
        Ok(exit::code(exit::OK))
    } else {
        for f in &failures {
            report::say_error(f);
        }
        Ok(ExitCode::from(exit::INPUT))
    }
}

impl Run<'_> {
    /// Records a failure, for the list printed at the end.
    fn fail(&self, message: String) {
        self.totals.failed.fetch_add(1, Ordering::Relaxed);
        self.failures
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(message);
    }

    /// Records a row: appended to the manifest at once (a run cut short
    /// leaves what it finished for --resume), kept for the final manifest.
    fn record(&self, row: FetchRow) {
        if let Ok(line) = serde_json::to_string(&row) {
            let mut m = self.manifest.lock().unwrap_or_else(|e| e.into_inner());
            if let Err(e) = writeln!(m, "{line}") {
                drop(m);
                self.fail(format!("manifest.jsonl: {e}"));
            }
        }
        self.rows
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(row.path.clone(), row);
    }

    /// Gets connection `id`, writes its `connection.json` (when new or
    /// changed), and gives its downloads.
    fn connection(&self, id: &str, files: bool) -> Vec<Job> {
        self.bar.inc(1);
        let rel = format!("{id}/connection.json");
        let mut row = FetchRow {
            kind: "connection".into(),
            path: rel.clone(),
            status: "fetched".into(),
            connection_id: id.to_string(),
            channel_id: None,
            file_id: None,
            format: None,
            filter: None,
            partial: false,
            bytes: None,
            sha256: None,
            still_connected: false,
            not_ok: None,
            error: None,
        };
        let failed = |mut row: FetchRow, message: String| {
            self.fail(format!("{rel}: {message}"));
            row.status = "failed".into();
            row.error = Some(message);
            self.record(row);
            Vec::new()
        };
        let bytes = match self.gateway.connection(id) {
            Ok(b) => b,
            Err(e) => return failed(row, e.to_string()),
        };
        let summary = match ConnectionSummary::parse(&bytes) {
            Ok(s) => s,
            Err(e) => return failed(row, format!("the connection object does not parse: {e}")),
        };
        if summary.id != id {
            return failed(
                row,
                format!("the server answered with connection {:?}", summary.id),
            );
        }
        let dir = self.archive.join(id);
        if let Err(e) = create_dirs_under(self.archive, &dir) {
            return failed(row, e.to_string());
        }
        let sha256 = hex_sha256(&bytes);
        row.bytes = Some(bytes.len() as u64);
        row.sha256 = Some(sha256.clone());
        row.still_connected = summary.status.eq_ignore_ascii_case("CONNECTED");
        let path = dir.join("connection.json");
        let same = existing_output(self.archive, &rel)
            .ok()
            .and_then(|p| hash_file(&p).ok())
            .is_some_and(|(n, h)| n == bytes.len() as u64 && h == sha256);
        if same {
            row.status = "skipped".into();
        } else {
            let replace = if self.resume {
                Replace::Always
            } else {
                Replace::Never
            };
            let written = AtomicFile::create_with(&path, replace).and_then(|mut f| {
                f.write_all(&bytes)?;
                f.commit(true)
            });
            if let Err(e) = written {
                return failed(row, e.to_string());
            }
        }
        let still_connected = row.still_connected;
        self.record(row);

        let mut jobs = Vec::new();
        let mut paths = HashSet::new();
        let ext = self.format.as_str();
        for channel in summary.channels() {
            let ch = channel.id.as_str();
            if !paths.insert(format!("{ch}.{ext}")) {
                self.fail(format!(
                    "{id}: the server lists channel {ch:?} twice: fetched once"
                ));
                continue;
            }
            let not_ok = channel
                .status()
                .filter(|s| !s.eq_ignore_ascii_case("OK"))
                .map(str::to_string);
            if !safe_component(ch) {
                self.fail(format!(
                    "{id}: the server gave a channel id {ch:?} that is not a plain file name: refused"
                ));
                continue;
            }
            jobs.push(Job {
                row: FetchRow {
                    kind: "log".into(),
                    path: format!("{id}/{ch}.{ext}"),
                    status: String::new(),
                    connection_id: id.to_string(),
                    channel_id: Some(ch.to_string()),
                    file_id: None,
                    format: Some(ext.to_string()),
                    filter: self.filter.clone(),
                    partial: self.filter.is_some(),
                    bytes: None,
                    sha256: None,
                    still_connected,
                    not_ok,
                    error: None,
                },
            });
            if !files {
                continue;
            }
            for file in &channel.transferred_files {
                let fid = file.id.as_str();
                if !paths.insert(format!("files/{fid}")) {
                    continue;
                }
                if !safe_component(fid) {
                    self.fail(format!(
                        "{id}: the server gave a file id {fid:?} that is not a plain file name: refused"
                    ));
                    continue;
                }
                jobs.push(Job {
                    row: FetchRow {
                        kind: "file".into(),
                        path: format!("{id}/files/{fid}"),
                        status: String::new(),
                        connection_id: id.to_string(),
                        channel_id: Some(ch.to_string()),
                        file_id: Some(fid.to_string()),
                        format: None,
                        filter: None,
                        partial: false,
                        bytes: None,
                        sha256: None,
                        still_connected,
                        not_ok: file
                            .status
                            .as_deref()
                            .filter(|s| !s.eq_ignore_ascii_case("OK"))
                            .map(str::to_string),
                        error: None,
                    },
                });
            }
        }
        jobs
    }

    /// Makes one download (or skips it when the manifest of an earlier
    /// run vouches for the file on disk).
    fn download(&self, job: &Job) {
        let mut row = job.row.clone();
        if self.vouched(&row) {
            let old = &self.old[&row.path];
            row.bytes = old.bytes;
            row.sha256 = old.sha256.clone();
            row.status = "skipped".into();
            self.totals.skipped.fetch_add(1, Ordering::Relaxed);
            self.record(row);
            self.bar.inc(1);
            return;
        }
        if !row.final_at_source() {
            self.totals.flagged.fetch_add(1, Ordering::Relaxed);
        }
        match self.fetch_into_archive(&row) {
            Ok((bytes, sha256)) => {
                row.status = "fetched".into();
                row.bytes = Some(bytes);
                row.sha256 = Some(sha256);
                self.totals.fetched.fetch_add(1, Ordering::Relaxed);
                self.totals.bytes.fetch_add(bytes, Ordering::Relaxed);
            }
            Err(message) => {
                self.fail(format!("{}: {message}", row.path));
                row.status = "failed".into();
                row.error = Some(message);
            }
        }
        self.record(row);
        self.bar.inc(1);
    }

    /// Whether an earlier run's row vouches for `row`'s file: fetched the
    /// same way, whole at the source, and on disk with its size and
    /// SHA-256.
    fn vouched(&self, row: &FetchRow) -> bool {
        let Some(old) = self.old.get(&row.path) else {
            return false;
        };
        if !matches!(old.status.as_str(), "fetched" | "skipped")
            || !old.final_at_source()
            || !row.final_at_source()
            || old.filter != row.filter
            || old.kind != row.kind
        {
            return false;
        }
        let (Some(bytes), Some(sha)) = (old.bytes, old.sha256.as_deref()) else {
            return false;
        };
        existing_output(self.archive, &row.path)
            .ok()
            .and_then(|p| hash_file(&p).ok())
            .is_some_and(|(n, h)| n == bytes && h == sha)
    }

    /// Streams `row`'s download into a temporary file beside its place,
    /// renamed into place when whole.
    fn fetch_into_archive(&self, row: &FetchRow) -> Result<(u64, String), String> {
        let path = self.archive.join(&row.path);
        let dir = path.parent().unwrap_or(self.archive);
        create_dirs_under(self.archive, dir).map_err(|e| e.to_string())?;
        let replace = if self.resume {
            Replace::Always
        } else {
            Replace::Never
        };
        let out = AtomicFile::create_with(&path, replace).map_err(|e| e.to_string())?;
        let connection_id = row.connection_id.as_str();
        let channel_id = row.channel_id.as_deref().unwrap_or_default();
        let what = match &row.file_id {
            Some(file_id) => Download::File {
                connection_id,
                channel_id,
                file_id,
            },
            None => Download::Log {
                connection_id,
                channel_id,
                format: self.format,
                filter: row.filter.as_deref(),
            },
        };
        let mut sink = FileSink(out.file());
        let done = self
            .gateway
            .download(&what, &mut sink)
            .map_err(|e| e.to_string())?;
        out.commit(true).map_err(|e| e.to_string())?;
        Ok((done.bytes, done.sha256))
    }
}

/// A download's temporary file as a [`Sink`].
struct FileSink<'a>(&'a fs::File);

impl Write for FileSink<'_> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        (&mut &*self.0).write(buf)
    }

    fn flush(&mut self) -> io::Result<()> {
        (&mut &*self.0).flush()
    }
}

impl Sink for FileSink<'_> {
    fn restart(&mut self) -> io::Result<()> {
        use std::io::Seek;
        self.0.set_len(0)?;
        (&mut &*self.0).seek(io::SeekFrom::Start(0)).map(|_| ())
    }
}

/// Runs `f` on every item on `jobs` threads, giving the results in order.
fn parallel<T: Sync, R: Send>(jobs: usize, items: &[T], f: impl Fn(&T) -> R + Sync) -> Vec<R> {
    let next = AtomicU64::new(0);
    let results: Mutex<Vec<Option<R>>> = Mutex::new((0..items.len()).map(|_| None).collect());
    std::thread::scope(|s| {
        for _ in 0..jobs.min(items.len()).max(1) {
            s.spawn(|| loop {
                let i = next.fetch_add(1, Ordering::Relaxed) as usize;
                let Some(item) = items.get(i) else { break };
                let r = f(item);
                results.lock().unwrap_or_else(|e| e.into_inner())[i] = Some(r);
            });
        }
    });
    results
        .into_inner()
        .unwrap_or_else(|e| e.into_inner())
        .into_iter()
        .flatten()
        .collect()
}

fn bar_message(bar: &indicatif::ProgressBar, message: &'static str) {
    bar.set_message(message);
}

/// The earlier runs' rows, the last for each path.
fn read_manifest(path: &Path) -> Result<BTreeMap<String, FetchRow>, String> {
    let mut rows = BTreeMap::new();
    let text = match crate::cli::output::open_no_follow(path) {
        Ok(mut f) => {
            let mut s = String::new();
            f.read_to_string(&mut s)
                .map_err(|e| format!("{}: {e}", path.display()))?;
            s
        }
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(rows),
        Err(e) => return Err(format!("{}: {e}", path.display())),
    };
    for (n, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        match serde_json::from_str::<FetchRow>(line) {
            Ok(row) => {
                rows.insert(row.path.clone(), row);
            }
            // A line cut by a run that was killed: what it described is
            // fetched again.
            Err(_) => report::warn(&format!(
                "{}:{}: not a row of sshtrail fetch: ignored (what it described is fetched again)",
                path.display(),
                n + 1
            )),
        }
    }
    Ok(rows)
}

/// `list` checked against the event types the API takes.
fn check_filter(list: &str) -> Result<String, String> {
    let kinds: Vec<&str> = list.split(',').map(str::trim).collect();
    for k in &kinds {
        if !FILTER_TYPES.contains(k) {
            return Err(format!(
                "--filter: unknown event type {k:?} (one of {})",
                FILTER_TYPES.join(", ")
            ));
        }
    }
    Ok(kinds.join(","))
}

/// The retry policy; `SSHTRAIL_FETCH_RETRY_MS` (the first wait) and
/// `SSHTRAIL_FETCH_TRIES` change it (undocumented: for tests).
fn retry_policy() -> RetryPolicy {
    let mut p = RetryPolicy::default();
    if let Some(d) = env_millis("SSHTRAIL_FETCH_RETRY_MS") {
        p.base_delay = d;
    }
    if let Some(t) = std::env::var("SSHTRAIL_FETCH_TRIES")
        .ok()
        .and_then(|v| v.parse().ok())
    {
        p.tries = t;
    }
    p
}

fn env_millis(name: &str) -> Option<Duration> {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .map(Duration::from_millis)
}

/// The SHA-256 of `bytes`, in hex.
fn hex_sha256(bytes: &[u8]) -> String {
    sshtrail::digest::hex(&Sha256::digest(bytes))
}

/// The size and SHA-256 of the file at `path` (never through a link).
fn hash_file(path: &Path) -> io::Result<(u64, String)> {
    let (n, sha) = sshtrail::digest::sha256_reader(&mut crate::cli::output::open_no_follow(path)?)?;
    Ok((n, sshtrail::digest::hex(&sha)))
}

/// The environment variables of the credentials.
const ENV_TOKEN: &str = "SSHTRAIL_TOKEN";
const ENV_CLIENTS: [&str; 4] = [
    "SSHTRAIL_API_CLIENT_ID",
    "SSHTRAIL_API_CLIENT_SECRET",
    "SSHTRAIL_OAUTH_CLIENT_ID",
    "SSHTRAIL_OAUTH_CLIENT_SECRET",
];
/// The keys of the credentials file, in the order of [`ENV_CLIENTS`].
const FILE_KEYS: [&str; 4] = [
    "api_client_id",
    "api_client_secret",
    "oauth_client_id",
    "oauth_client_secret",
];

/// The credentials: `--config FILE` when given; else the environment
/// (`SSHTRAIL_TOKEN`, or the four client variables); else the default
/// file. No message holds a credential.
fn load_credentials(config: Option<&Path>) -> Result<Credentials, String> {
    if let Some(path) = config {
        return read_credentials_file(path);
    }
    let env = |k: &str| std::env::var(k).ok().filter(|v| !v.is_empty());
    if let Some(t) = env(ENV_TOKEN) {
        return Ok(Credentials::Token(Secret::new(t)));
    }
    let values: Vec<Option<String>> = ENV_CLIENTS.iter().map(|k| env(k)).collect();
    if values.iter().all(Option::is_some) {
        let mut v = values
            .into_iter()
            .map(|v| Secret::new(v.unwrap_or_default()));
        let mut next = || v.next().unwrap_or_else(|| Secret::new(""));
        return Ok(Credentials::Clients {
            api_client_id: next(),
            api_client_secret: next(),
            oauth_client_id: next(),
            oauth_client_secret: next(),
        });
    }
    if values.iter().any(Option::is_some) {
        let missing: Vec<&str> = ENV_CLIENTS
            .iter()
            .zip(&values)
            .filter(|(_, v)| v.is_none())
            .map(|(k, _)| *k)
            .collect();
        return Err(format!(
            "credentials: {} not set (the four client variables go together)",
            missing.join(", ")
        ));
    }
    let default = std::env::var_os("HOME")
        .map(|h| PathBuf::from(h).join(".config/sshtrail/credentials.toml"));
    match default {
        Some(p) if p.exists() => read_credentials_file(&p),
        _ => Err(format!(
            "no credentials: set {ENV_TOKEN}, or {}, or write ~/.config/sshtrail/credentials.toml (mode 600) or give --config FILE",
            ENV_CLIENTS.join(", ")
        )),
    }
}

/// Reads a credentials file: `token = "…"`, or the four client keys.
/// Refused when group or others may read or write it.
fn read_credentials_file(path: &Path) -> Result<Credentials, String> {
    let shown = path.display();
    let mut f = fs::File::open(path).map_err(|e| format!("{shown}: {e}"))?;
    let meta = f.metadata().map_err(|e| format!("{shown}: {e}"))?;
    if !meta.is_file() {
        return Err(format!("{shown}: not a regular file"));
    }
    if meta.mode() & 0o077 != 0 {
        return Err(format!(
            "{shown}: readable or writable by group or others (mode {:o}): refused; chmod 600 {shown}",
            meta.mode() & 0o777
        ));
    }
    let mut text = String::new();
    f.read_to_string(&mut text)
        .map_err(|e| format!("{shown}: {e}"))?;
    // The parser's message quotes the file: only the line is given.
    let table: toml::Table = text.parse().map_err(|e: toml::de::Error| {
        let line = e
            .span()
            .map(|s| text[..s.start.min(text.len())].matches('\n').count() + 1);
        format!(
            "{shown}: not valid TOML{}",
            line.map(|l| format!(" (line {l})")).unwrap_or_default()
        )
    })?;
    let get = |key: &str| -> Result<Option<Secret>, String> {
        match table.get(key) {
            None => Ok(None),
            Some(toml::Value::String(s)) if !s.is_empty() => Ok(Some(Secret::new(s.clone()))),
            Some(_) => Err(format!("{shown}: {key} must be a non-empty string")),
        }
    };
    for key in table.keys() {
        if key != "token" && !FILE_KEYS.contains(&key.as_str()) {
            return Err(format!(
                "{shown}: unknown key {key:?} (token, or {})",
                FILE_KEYS.join(", ")
            ));
        }
    }
    if let Some(t) = get("token")? {
        return Ok(Credentials::Token(t));
    }
    let mut v = Vec::new();
    for key in FILE_KEYS {
        match get(key)? {
            Some(s) => v.push(s),
            None => return Err(format!("{shown}: {key} is missing")),
        }
    }
    let mut v = v.into_iter();
    let mut next = || v.next().unwrap_or_else(|| Secret::new(""));
    Ok(Credentials::Clients {
        api_client_id: next(),
        api_client_secret: next(),
        oauth_client_id: next(),
        oauth_client_secret: next(),
    })
}
