//! `sshtrail convert`: channels to every output format of the library.
//!
//! One rule for `-o`: with one channel and one format it may name the
//! output file; otherwise it names a directory that receives
//! `<connection_id>/<channel_id>.<ext>` and a manifest (a batch); without
//! `-o`, a single output goes to standard output.

pub mod batch;
mod lake;
mod pipeline;
pub mod plan;
mod single;

use std::path::{Path, PathBuf};

use clap::Args;
use sshtrail::archive::{Archive, Discovery};
use sshtrail::output::{OutputFormat, WriterOptions};

use crate::cli::args::{output_formats, parse_filter, FormatArg, Redaction, OCSF_PARQUET};
use crate::cli::report::{usage, CommandResult};
use batch::select::Selector;
use plan::{Plan, Target};

/// The most bytes of a line's text a SIEM record keeps with `--io`.
pub const IO_MAX_BYTES: usize = 4096;

/// Arguments of `sshtrail convert`.
#[derive(Args, Debug, Clone)]
pub struct ConvertArgs {
    /// Output format(s), comma separated.
    #[arg(
        long = "to",
        value_delimiter = ',',
        required = true,
        value_name = "FMT",
        value_parser = output_formats()
    )]
    pub to: Vec<String>,
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
    /// SIEM: also a record for each line of stdin, stdout and stderr, with
    /// its text (cut after 4096 bytes) and the time of its first byte.
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
    /// Worker threads (default: one per core): a batch's, or those that
    /// convert one large log into the file `-o` names.
    #[arg(short = 'j', long = "jobs", value_name = "N")]
    pub jobs: Option<usize>,
    /// Batch: no progress bar.
    #[arg(short = 'q', long)]
    pub quiet: bool,
    /// Batch: skip inputs whose size and SHA-256 match OUTDIR/manifest.jsonl
    /// and whose outputs are intact; redo the rest.
    #[arg(long)]
    pub resume: bool,
    /// Convert only connections whose FIELD matches GLOB (user, host,
    /// address, account, tag, status); repeatable, all must match.
    #[arg(long = "where", value_name = "FIELD=GLOB")]
    pub where_: Vec<String>,
    /// Only connections that started at or after this RFC 3339 time.
    #[arg(long, value_name = "TIME")]
    pub since: Option<String>,
    /// Only connections that started at or before this RFC 3339 time.
    #[arg(long, value_name = "TIME")]
    pub until: Option<String>,
    /// ocsf-parquet: the Security Lake custom source's name (each OCSF
    /// class is the source `<SOURCE>-<class_uid>`).
    #[arg(long, value_name = "SOURCE")]
    pub source: Option<String>,
    /// ocsf-parquet: the AWS region (`region=` partition).
    #[arg(long, value_name = "REGION")]
    pub region: Option<String>,
    /// ocsf-parquet: the AWS account id (`accountId=` partition).
    #[arg(long, value_name = "ACCOUNT")]
    pub account: Option<String>,
    #[command(flatten)]
    pub redaction: Redaction,
    /// Trail logs, connection directories or whole archive trees.
    #[arg(required = true, value_name = "PATH")]
    pub paths: Vec<String>,
}

/// True when the PATHs name one log: a file, or a connection folder (its
/// `connection.json` in it, no folder below it) where discovery finds a
/// single log. Discovery is the one every command uses: a channel kept in
/// two layouts counts once, and files that are not logs not at all; its
/// problems are reported when the conversion opens the paths. A tree is a
/// batch, whatever it holds.
fn single_log(paths: &[String]) -> bool {
    let [path] = paths else {
        return false;
    };
    let p = Path::new(path);
    if !p.is_dir() {
        return true;
    }
    let Ok(rd) = std::fs::read_dir(p) else {
        return false;
    };
    let connection_folder = p.join(sshtrail::archive::CONNECTION_FILE).is_file()
        && rd.filter_map(Result::ok).all(|e| e.path().is_file());
    if !connection_folder {
        return false;
    }
    let archive = Archive::open(&[path], &Discovery::standard(), &mut |_| {});
    matches!(archive.connections.as_slice(), [one] if one.logs.len() == 1)
}

/// Resolves the command line into what the conversion will do.
fn plan(args: ConvertArgs) -> Result<Plan, String> {
    if let Some(limit) = args.idle_limit {
        if !(limit.is_finite() && limit > 0.0) {
            return Err("--idle-limit must be a positive number of seconds".into());
        }
    }
    let filter = parse_filter(args.filter.as_deref())?;
    let mut formats: Vec<OutputFormat> = Vec::new();
    for name in &args.to {
        let f = name.parse::<OutputFormat>().map_err(|e| e.to_string())?;
        if !formats.contains(&f) {
            formats.push(f);
        }
    }
    let selector = Selector::new(&args.where_, args.since.as_deref(), args.until.as_deref())?;
    // An output folder: an existing directory, or more outputs than one
    // file can hold (several formats; several logs but for SIEM records,
    // which form one stream).
    let target = match &args.output {
        // `-o -`: standard output, as without -o.
        Some(out) if out.as_os_str() == "-" => {
            if let Some(f) = formats.iter().find(|f| f.needs_folder()) {
                return Err(format!("--to {f} writes files in folders: give -o FOLDER"));
            }
            if formats.len() > 1 {
                return Err("-o - is standard output, which takes one format".into());
            }
            Target::Stdout
        }
        Some(out)
            if out.is_dir()
                || formats.len() > 1
                || formats.iter().any(|f| f.needs_folder())
                || (!formats[0].is_record_stream() && !single_log(&args.paths)) =>
        {
            Target::Folder(out.clone())
        }
        Some(out) => Target::File(out.clone()),
        None => match formats.iter().find(|f| f.needs_folder()) {
            Some(f) => return Err(format!("--to {f} writes files in folders: give -o FOLDER")),
            None => Target::Stdout,
        },
    };
    let writer = WriterOptions {
        input: args.input,
        idle_time_limit: args.idle_limit,
        filter,
        io: args.io,
        io_max_bytes: IO_MAX_BYTES,
        redact: args.redaction.rules()?,
        // Recovered files wait on the file system they go to (the system's
        // temporary folder may be memory).
        temp_dir: match &target {
            Target::Folder(dir) => Some(dir.clone()),
            _ => None,
        },
        ..WriterOptions::default()
    };
    Ok(Plan {
        paths: args.paths,
        formats,
        writer,
        input_format: args.format.to_format(),
        target,
        force: args.force,
        fsync: args.fsync,
        jobs: args.jobs,
        quiet: args.quiet,
        resume: args.resume,
        selector,
    })
}

/// Runs `sshtrail convert`.
pub fn run(mut args: ConvertArgs) -> CommandResult {
    if args.to.iter().any(|t| t == OCSF_PARQUET) {
        args.to.sort();
        args.to.dedup();
        // A run adds its own parts and never replaces one, in one pass.
        for (given, option) in [
            (args.force, "--force"),
            (args.resume, "--resume"),
            (args.jobs.is_some(), "-j"),
        ] {
            if given {
                return Err(usage(format!(
                    "{option} does not apply to --to ocsf-parquet: each run adds its own parts and never replaces one"
                )));
            }
        }
        let (layout, dir) = lake::layout(
            args.to.len(),
            args.output.as_deref(),
            args.source.as_deref(),
            args.region.as_deref(),
            args.account.as_deref(),
        )?;
        // The records are OCSF's; the folder is the lake's own.
        args.to = vec![OutputFormat::Ocsf.name().to_string()];
        args.output = None;
        let plan = plan(args).map_err(usage)?;
        return lake::run(&plan, &layout, &dir);
    }
    if args.source.is_some() || args.region.is_some() || args.account.is_some() {
        return Err(usage(
            "--source, --region and --account go with --to ocsf-parquet",
        ));
    }
    let plan = plan(args).map_err(usage)?;
    match &plan.target {
        Target::Folder(dir) => batch::run(&plan, dir),
        Target::Stdout | Target::File(_) if plan.formats[0].is_record_stream() => {
            single::records(&plan)
        }
        Target::Stdout | Target::File(_) => single::channel(&plan),
    }
}
