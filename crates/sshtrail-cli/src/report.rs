//! `sshtrail report`: the evidence report, one self-contained HTML page a
//! connection (the library's [`sshtrail::output::report`]); several connections
//! give a folder with an `index.html` and a page each.

use std::collections::HashMap;
use std::fs;
use std::io::{self, Write};
use std::path::{Path, PathBuf};

use clap::Args;
use sshtrail::output::report::{page_name, write_index, HtmlWriter, ReportOptions};
use sshtrail::output::{ChannelWriter, Output, PartKey, RedactingWriter, WriterOptions};

use crate::cli::args::{Inputs, Redaction};
use crate::cli::input;
use crate::cli::output::{write_atomically, AtomicFile};
use crate::cli::report::{self, usage, CommandResult, Failure, Reporter};

/// Arguments of `sshtrail report`.
#[derive(Args, Debug)]
pub struct ReportArgs {
    /// Where to write: the page (`.html`) for one connection, else a folder
    /// that receives `index.html` and one page a connection.
    #[arg(short = 'o', long = "output", value_name = "OUT")]
    output: PathBuf,
    /// Replace existing pages.
    #[arg(long)]
    force: bool,
    /// The player's default cap on idle gaps, in seconds (adjustable on
    /// the page).
    #[arg(long, value_name = "SECONDS", default_value_t = sshtrail::output::report::DEFAULT_IDLE_LIMIT)]
    idle_limit: f64,
    /// The most bytes of recording one part of the player holds; a longer
    /// recording is split into parts with a part selector.
    #[arg(long, value_name = "BYTES", default_value_t = sshtrail::output::report::DEFAULT_PART_BYTES)]
    part_size: usize,
    #[command(flatten)]
    redaction: Redaction,
    #[command(flatten)]
    inputs: Inputs,
}

/// Each connection's page into its own file, put in place when complete.
struct Pages {
    /// One connection: the file itself; several: the folder.
    single: Option<PathBuf>,
    dir: PathBuf,
    force: bool,
    open: HashMap<Option<String>, (PathBuf, AtomicFile)>,
    /// Each page closed, in order: where it went, or why it did not.
    closed: Vec<Result<PathBuf, String>>,
    n: usize,
}

impl Output for Pages {
    fn part(&mut self, key: &PartKey<'_>) -> io::Result<&mut dyn Write> {
        let id = key.connection.map(str::to_string);
        if !self.open.contains_key(&id) {
            self.n += 1;
            let path = match &self.single {
                Some(p) => p.clone(),
                None => self.dir.join(page_name(key.connection, self.n)),
            };
            let file = AtomicFile::create(&path, self.force)
                .map_err(|e| io::Error::new(e.kind(), format!("{}: {e}", path.display())))?;
            self.open.insert(id.clone(), (path, file));
        }
        Ok(&mut self.open.get_mut(&id).expect("just made").1)
    }

    fn close(&mut self, key: &PartKey<'_>) -> io::Result<()> {
        let id = key.connection.map(str::to_string);
        if let Some((path, file)) = self.open.remove(&id) {
            self.closed.push(match file.commit(false) {
                Ok(()) => Ok(path),
                Err(e) => Err(format!("{}: {e}", path.display())),
            });
        }
        Ok(())
    }
}

/// Runs `sshtrail report`.
pub fn run(args: ReportArgs) -> CommandResult {
    if !(args.idle_limit >= 0.0 && args.idle_limit.is_finite()) {
        return Err(usage(
            "--idle-limit: expected a number of seconds, 0 or more",
        ));
    }
    if args.part_size < 1024 {
        return Err(usage("--part-size: expected at least 1024 bytes"));
    }
    let rules = args.redaction.rules().map_err(usage)?;
    let mut rep = Reporter::default();
    let archive = input::open(&args.inputs.paths, &mut rep);
    let count = archive.connections.len();
    if count == 0 {
        return Ok(rep.code());
    }
    let single = (count == 1).then(|| args.output.clone());
    if single.is_none() {
        if let Err(e) = fs::create_dir_all(&args.output) {
            return Err(Failure::Output(format!("{}: {e}", args.output.display())));
        }
    }
    let mut pages = Pages {
        single,
        dir: args.output.clone(),
        force: args.force,
        open: HashMap::new(),
        closed: Vec::new(),
        n: 0,
    };
    let wopts = WriterOptions {
        redact: rules.clone(),
        ..WriterOptions::default()
    };
    let ropts = ReportOptions {
        idle_time_limit: args.idle_limit,
        part_bytes: args.part_size,
        ..ReportOptions::default()
    };
    let html = HtmlWriter::new(&wopts, ropts);
    let mut writer: Writer = match rules {
        Some(rules) => Writer::Redacting(RedactingWriter::new(html, rules)),
        None => Writer::Plain(html),
    };
    let format = args.inputs.format.to_format();
    let result = match &mut writer {
        Writer::Redacting(w) => {
            input::replay(&archive, format, &mut w.writing_into(&mut pages), &mut rep)
        }
        Writer::Plain(w) => {
            input::replay(&archive, format, &mut w.writing_into(&mut pages), &mut rep)
        }
    };
    if let Err(e) = result {
        return Err(Failure::Output(e.to_string()));
    }
    for f in pages.closed.iter().filter_map(|c| c.as_ref().err()) {
        rep.input_error(&args.output.display().to_string(), f);
    }
    let summaries = match &mut writer {
        Writer::Redacting(w) => w.inner_mut().take_pages(),
        Writer::Plain(w) => w.take_pages(),
    };
    if pages.single.is_none() {
        let links: Vec<_> = summaries
            .into_iter()
            .zip(pages.closed.iter())
            .filter_map(|(s, p)| Some((s, file_name(p.as_ref().ok()?))))
            .collect();
        let index = args.output.join("index.html");
        if let Err(e) =
            write_atomically(&index, args.force, false, |w| write_index(w, &links, None))
        {
            return Err(Failure::Output(format!("{}: {e}", index.display())));
        }
        report::note(&format!("wrote {}", index.display()));
    }
    for p in pages.closed.iter().filter_map(|c| c.as_ref().ok()) {
        report::note(&format!("wrote {}", p.display()));
    }
    Ok(rep.code())
}

fn file_name(p: &Path) -> String {
    p.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default()
}

/// The writer, redacting or not.
enum Writer {
    Redacting(RedactingWriter<HtmlWriter>),
    Plain(HtmlWriter),
}
