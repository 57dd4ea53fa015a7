//! One output: one channel's conversion, or the SIEM records of every
//! connection, on standard output or into the file `-o` names.

use std::collections::HashSet;
use std::io::{self, Write};

use sshtrail::archive::{Archive, ReplayOptions};
use sshtrail::connection::Context;
use sshtrail::format::DEFAULT_MAX_RECORD;
use sshtrail::output::{ChannelWriter, Output, OutputFormat, SiemWriter, StreamOutput, Writing};
use sshtrail::StreamReader;

use super::pipeline::{convert_large, Large, Outcome};
use super::plan::{Plan, Target};
use crate::cli::blocks::Split;
use crate::cli::input;
use crate::cli::output::{same_file, DirOutput, FileOutput, Replace, Stamp};
use crate::cli::report::{
    note, note_redactions, note_warning, usage, CommandResult, Failure, Reporter,
};

/// The channels of the logs: each log's own, and any other that its
/// events name (a `channel_id` key). Standard input counts as one.
/// Large stored logs are searched by `threads` threads.
fn count_channels(archive: &Archive, format: Option<sshtrail::Format>, threads: usize) -> usize {
    let mut channels: HashSet<Context> = HashSet::new();
    for log in archive.connections.iter().flat_map(|c| c.logs.iter()) {
        channels.insert(log.context.clone());
        if log.path.as_os_str() == "-" {
            continue;
        }
        // No event names a channel without the key's bytes: looking for
        // them is several times faster than parsing the log.
        let mentioned = match file_mentions_channel_id(log, threads) {
            Some(mentioned) => mentioned,
            None => {
                let Ok(input) = log.open() else { continue };
                mentions_channel_id(input)
            }
        };
        if !mentioned {
            continue;
        }
        let Ok(input) = log.open() else { continue };
        let _ = StreamReader::with_format(input, format).for_each(|r| -> io::Result<()> {
            if let Ok(ev) = r {
                if let Some(id) = ev.channel_id() {
                    if *id != log.context.channel_id {
                        channels.insert(Context {
                            connection_id: log.context.connection_id.clone(),
                            channel_id: id.into_owned(),
                        });
                    }
                }
            }
            Ok(())
        });
    }
    channels.len()
}

/// Whether `input` holds the bytes `"channel_id"` (the key, with its
/// quotes, as [`sshtrail::Event::channel_id`] looks for it); `true` when it
/// cannot be read to the end, or has no line end in its first
/// [`DEFAULT_MAX_RECORD`] bytes (`/dev/zero`): the parse then decides, and
/// stops there as it does.
fn mentions_channel_id(mut input: impl io::Read) -> bool {
    const KEY: &[u8] = b"\"channel_id\"";
    let finder = memchr::memmem::Finder::new(KEY);
    let mut buf = vec![0u8; 256 << 10];
    // The last bytes of a chunk are kept before the next: a key cut by a
    // read is found whole.
    let mut kept = 0;
    let mut read = 0usize;
    let mut line_end = false;
    loop {
        let n = match input.read(&mut buf[kept..]) {
            Ok(0) => return false,
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(_) => return true,
        };
        let end = kept + n;
        if finder.find(&buf[..end]).is_some() {
            return true;
        }
        read = read.saturating_add(n);
        line_end = line_end || memchr::memchr(b'\n', &buf[kept..end]).is_some();
        if !line_end && read > DEFAULT_MAX_RECORD {
            return true;
        }
        kept = (KEY.len() - 1).min(end);
        buf.copy_within(end - kept..end, 0);
    }
}

/// A stored log at least this large is searched for the key by several
/// threads at once.
const SCAN_SPLIT_AT: u64 = 8 << 20;

/// [`mentions_channel_id`] of a stored log that is not compressed, read by
/// one thread a part (`pread`): the search reads the whole log before the
/// conversion reads it again, and on one thread the kernel's copy of it
/// was a tenth of an asciicast conversion. `None` when the log is not such
/// a file, is small, or has no line end in its first read, or when
/// `threads` (`-j`) is one: then the straight search decides.
fn file_mentions_channel_id(log: &sshtrail::archive::LogSource, threads: usize) -> Option<bool> {
    const WINDOW: usize = 256 << 10;
    if threads < 2 {
        return None;
    }
    log.size.filter(|&n| n >= SCAN_SPLIT_AT)?;
    if !log.reopenable() || log.path.as_os_str() == "-" || !matches!(log.compression(), Ok(None)) {
        return None;
    }
    let file = std::fs::File::open(&log.path).ok()?;
    // Its size now, as a straight search would read it to its end.
    let len = file.metadata().ok()?.len();
    // A line end in the first window: the straight search's "no line end
    // in the first record's worth" cannot apply.
    let mut first = vec![0u8; WINDOW];
    sshtrail::format::read_exact_at(&file, &mut first, 0, len).ok()?;
    memchr::memchr(b'\n', &first)?;
    Some(parts_mention_channel_id(&file, len, threads.min(8) as u64))
}

/// Whether the first `len` bytes of `file` hold the key, searched by
/// `threads` threads, one part each; `true` when a part cannot be read.
fn parts_mention_channel_id(file: &std::fs::File, len: u64, threads: u64) -> bool {
    use std::sync::atomic::{AtomicBool, Ordering};
    const KEY_LEN: u64 = b"\"channel_id\"".len() as u64;
    const WINDOW: usize = 256 << 10;
    let part = len.div_ceil(threads.max(1));
    let found = AtomicBool::new(false);
    let finder = memchr::memmem::Finder::new(b"\"channel_id\"");
    std::thread::scope(|scope| {
        for t in 0..threads {
            let (found, finder) = (&found, &finder);
            scope.spawn(move || {
                // A part's last window reaches a key's length past its end,
                // so that a key across two parts is found by the first.
                let (start, end) = (t * part, ((t + 1) * part + KEY_LEN - 1).min(len));
                let mut buf = vec![0u8; WINDOW];
                let mut at = start;
                while at < end && !found.load(Ordering::Relaxed) {
                    let n = (end - at).min(WINDOW as u64) as usize;
                    // Unreadable (or shrunk): the parse decides.
                    if sshtrail::format::read_exact_at(file, &mut buf[..n], at, len).is_err()
                        || finder.find(&buf[..n]).is_some()
                    {
                        found.store(true, Ordering::Relaxed);
                        return;
                    }
                    if at + n as u64 >= end {
                        return;
                    }
                    // Windows overlap by a key's length less one byte.
                    at += n as u64 - (KEY_LEN - 1);
                }
            });
        }
    });
    found.into_inner()
}

/// Converts the one channel the paths name (one format); a log holding
/// several channels (events naming their channel) goes to a folder `-o`
/// names, one file a channel.
pub fn channel(plan: &Plan) -> CommandResult {
    let format = plan.formats[0];
    let mut rep = Reporter::default();
    let archive = input::open(&plan.paths, &mut rep);
    let Some(selected) = select(plan, &archive) else {
        return Ok(rep.code());
    };
    // A transcript is of what a terminal showed: without one there is
    // nothing to write, and saying so beats an empty file.
    if format == OutputFormat::Text {
        if let Some(survey) = input::survey(&selected, plan.input_format) {
            // A log with errors gets its own messages from the pass that
            // converts it.
            if survey.terminals().is_empty() && !survey.channels.is_empty() && survey.errors == 0 {
                let all: Vec<_> = survey.channels.iter().collect();
                return Err(Failure::Output(format!(
                    "no terminal channel: no transcript (its channels: {}); `convert --to jsonl` or `streams` keep their data",
                    input::Survey::listing(&all)
                )));
            }
        }
    }
    if let Some(done) = one_large_log(plan, &archive, &selected, &mut rep) {
        return done;
    }
    let threads = plan.jobs.unwrap_or_else(|| {
        std::thread::available_parallelism().map_or(1, std::num::NonZeroUsize::get)
    });
    let channels = count_channels(&selected, plan.input_format, threads);
    match &plan.target {
        Target::Stdout if channels > 1 => {
            return Err(usage(format!(
                "{channels} outputs ({channels} channels x 1 formats): give -o DIR"
            )))
        }
        Target::Stdout if !format.extra_parts().is_empty() => {
            return Err(usage(format!(
                "--to {format} writes two files: give -o FILE"
            )))
        }
        Target::File(dir) if channels > 1 => {
            return into_folder(plan, &archive, &selected, dir, &mut rep)
        }
        _ => {}
    }
    write(plan, &archive, &selected, &mut rep, false)
}

/// Converts one large log of one channel into the file `-o` names on
/// every thread (the batch's pipeline), when that is what the command
/// asks: one log (not standard input, not compressed) of at least
/// [`SPLIT_AT`](crate::cli::blocks::SPLIT_AT) bytes, one evidence format, a file (not a device) that is
/// not the log, and more than one thread. `None` when the careful path
/// must do it: not such a conversion, a log that holds anything unusual
/// (a bad line, an event of another channel), or a failure (an output that
/// exists): the pipeline then leaves without writing anything.
fn one_large_log(
    plan: &Plan,
    archive: &Archive,
    selected: &Archive,
    rep: &mut Reporter,
) -> Option<CommandResult> {
    let Target::File(path) = &plan.target else {
        return None;
    };
    let ([format], [connection]) = (plan.formats.as_slice(), selected.connections.as_slice())
    else {
        return None;
    };
    let [log] = connection.logs.as_slice() else {
        return None;
    };
    let split = Split::new(plan.jobs, None);
    let large_enough =
        std::fs::metadata(&log.path).is_ok_and(|m| m.is_file() && m.len() >= split.min_size);
    let plain_file = !path.exists() || path.is_file();
    if !format.is_evidence()
        || split.threads < 2
        || !large_enough
        || !plain_file
        || !matches!(log.compression(), Ok(None))
        || rep.errors > 0
        || rep.warnings > 0
        || archive
            .connections
            .iter()
            .flat_map(|c| c.logs.iter())
            .any(|l| same_file(path, &l.path))
    {
        return None;
    }
    let replace = replace_rule(plan, archive);
    let outputs = [path.clone()];
    let large = Large {
        path: &log.path,
        channel_id: &log.context.channel_id,
        format: plan.input_format,
        formats: &plan.formats,
        filter: &plan.writer.filter,
        outputs: &outputs,
        replace,
        hashes: false,
        fsync: plan.fsync,
        progress: &|_| {},
        interrupted: &|| false,
    };
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(split.threads)
        .build()
        .ok()?;
    match pool.install(|| convert_large(&large)) {
        Outcome::Converted { warning, .. } => {
            // Said as the careful path says it.
            if let Some(w) = &warning {
                rep.parse_error(&log.name(), w);
            }
            Some(Ok(rep.code()))
        }
        // Nothing was written: the careful path tries again and reports
        // what fails in its own words (an existing output, a read error).
        Outcome::Failed(_) | Outcome::Careful | Outcome::Interrupted => None,
    }
}

/// The connections `--where`, `--since` and `--until` select, as the batch
/// selects them (a connection without metadata passes no rule); `None`,
/// with a note, when rules leave out every connection found: nothing is
/// written, not even an empty file.
fn select(plan: &Plan, archive: &Archive) -> Option<Archive> {
    let selected = plan.selector.selected(archive);
    if plan.selector.has_rules() && selected.is_empty() && !archive.is_empty() {
        note(&format!(
            "no connection matches --where, --since and --until (of {} found): nothing written",
            archive.connections.len()
        ));
        return None;
    }
    Some(selected)
}

/// One file a channel of `selected` under `dir`,
/// `<connection>/<channel>.<ext>`; no output replaces a log of `archive`.
fn into_folder(
    plan: &Plan,
    archive: &Archive,
    selected: &Archive,
    dir: &std::path::Path,
    rep: &mut Reporter,
) -> CommandResult {
    let mut writer = plan.formats[0].writer(&plan.writer);
    let mut out =
        DirOutput::under(dir, dir, plan.force, &input::claims(archive), "").fsync(plan.fsync);
    if let Err(e) = input::replay(
        selected,
        plan.input_format,
        &mut writer.writing_into(&mut out),
        rep,
    ) {
        return Err(Failure::Output(format!("{}: {e}", dir.display())));
    }
    let logs = input::log_paths(selected);
    for note in writer.take_notes() {
        note_warning(&note, logs.get(&note.channel).map(String::as_str));
    }
    note_redactions(writer.redactions());
    for refused in out.take_refused() {
        rep.input_error(&dir.display().to_string(), &refused);
    }
    if let Err((path, e)) = out.commit(plan.fsync) {
        rep.input_error(&path.display().to_string(), &e.to_string());
    }
    Ok(rep.code())
}

/// Writes the SIEM records of every connection the paths name, in time
/// order across all of them (a k-way merge of the connections' record
/// streams, see `sshtrail::siem::merge_records`).
pub fn records(plan: &Plan) -> CommandResult {
    let mut rep = Reporter::default();
    let archive = input::open(&plan.paths, &mut rep);
    let Some(selected) = select(plan, &archive) else {
        return Ok(rep.code());
    };
    write(plan, &archive, &selected, &mut rep, true)
}

/// Replays `archive` through `writer` into `out`; SIEM records of several
/// connections (`merge`) go through the library's merge, in time order
/// across connections.
fn replay_into(
    plan: &Plan,
    archive: &Archive,
    writer: &mut dyn ChannelWriter,
    out: &mut dyn Output,
    rep: &mut Reporter,
    merge: bool,
) -> io::Result<()> {
    // `-j 1`: the conversion keeps to one thread (no reading ahead).
    let mut options = ReplayOptions::with_format(plan.input_format);
    if plan.jobs == Some(1) {
        options = options.on_one_thread();
    }
    if let (true, Some(format)) = (merge, plan.formats[0].siem_format()) {
        let mut siem = SiemWriter::new(format, &plan.writer).redacting(plan.writer.redact.clone());
        let merged = siem.write_merged(archive, &options, out, &mut |p| rep.problem(&p));
        note_redactions(siem.redactions());
        return merged.map(|_| ());
    }
    input::replay_with(archive, &options, &mut Writing::new(writer, out), rep)
}

/// Writes the conversion of `selected` to standard output or the file
/// `-o` names, which is never a log of `archive` (selected or not).
fn write(
    plan: &Plan,
    archive: &Archive,
    selected: &Archive,
    rep: &mut Reporter,
    merge: bool,
) -> CommandResult {
    let mut writer = plan.formats[0].writer(&plan.writer);
    let logs = input::log_paths(selected);
    let result = match &plan.target {
        Target::File(path) => {
            // A file the user named: a regular file is replaced only with
            // --force, the input never; a device or FIFO is written to.
            if let Some(log) = archive
                .connections
                .iter()
                .flat_map(|c| c.logs.iter())
                .find(|log| same_file(path, &log.path))
            {
                return Err(Failure::Output(format!(
                    "{} is the input log {}: refusing to write over it",
                    path.display(),
                    log.name()
                )));
            }
            let replace = replace_rule(plan, archive);
            let mut out = FileOutput::new(path, replace, merge);
            let replayed = replay_into(plan, selected, &mut writer, &mut out, rep, merge);
            match replayed {
                Ok(()) => out
                    .commit(plan.fsync)
                    .map_err(|e| (path.display().to_string(), e)),
                Err(e) => Err((path.display().to_string(), e)),
            }
        }
        _ => {
            let stdout = io::BufWriter::with_capacity(256 << 10, io::stdout().lock());
            let mut out = if merge {
                StreamOutput::merged(stdout)
            } else {
                StreamOutput::new(stdout)
            };
            let replayed = replay_into(plan, selected, &mut writer, &mut out, rep, merge);
            replayed
                .and_then(|()| out.into_inner().flush())
                .map_err(|e| ("standard output".to_string(), e))
        }
    };
    for note in writer.take_notes() {
        note_warning(&note, logs.get(&note.channel).map(String::as_str));
    }
    note_redactions(writer.redactions());
    match result {
        Ok(()) => Ok(rep.code()),
        Err((_, e)) if e.kind() == io::ErrorKind::BrokenPipe => Ok(rep.code()),
        Err((target, e)) => Err(Failure::Output(format!("writing {target} failed: {e}"))),
    }
}

/// What an existing output may be replaced by: anything with `--force`;
/// otherwise only what the same conversion of these inputs wrote (running
/// it again replaces its own output).
fn replace_rule(plan: &Plan, archive: &Archive) -> Replace {
    if plan.force {
        Replace::Always
    } else {
        Replace::OwnOutput(Stamp::of(
            archive
                .connections
                .iter()
                .flat_map(|c| c.logs.iter())
                .map(|l| l.path.as_path()),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Hands out `step` bytes a read.
    struct Dribble<'a>(&'a [u8], usize);

    impl io::Read for Dribble<'_> {
        fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
            let n = self.1.min(buf.len()).min(self.0.len());
            buf[..n].copy_from_slice(&self.0[..n]);
            self.0 = &self.0[n..];
            Ok(n)
        }
    }

    /// The search of a stored log of `bytes`.
    fn searched(bytes: &[u8]) -> (Option<bool>, bool) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("trail.jsonl");
        std::fs::write(&path, bytes).unwrap();
        let archive = Archive::open(&[&path], &Default::default(), &mut |p| panic!("{p}"));
        let log = &archive.connections[0].logs[0];
        (
            file_mentions_channel_id(log, 2),
            mentions_channel_id(std::fs::File::open(&path).unwrap()),
        )
    }

    #[test]
    fn a_large_log_is_searched_in_parts_as_it_would_be_straight() {
        let line = br#"{"type":"stdin","ts":"2023-06-07T17:32:29Z","data":"bA=="}"#;
        let mut log = Vec::new();
        while log.len() < SCAN_SPLIT_AT as usize * 2 {
            log.extend_from_slice(line);
            log.push(b'\n');
        }
        assert_eq!(searched(&log), (Some(false), false));
        let key = br#""channel_id""#;
        // The key at the start, across a window's end, at the end: found
        // as the straight search finds it.
        for at in [0, (256 << 10) - 5, log.len() - key.len()] {
            let mut with_key = log.clone();
            with_key[at..at + key.len()].copy_from_slice(key);
            assert_eq!(searched(&with_key), (Some(true), true), "the key at {at}");
        }
        // Across each byte where two threads' parts meet, for 2 to 4
        // threads, and not found in a log without it.
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("trail.jsonl");
        let len = log.len() as u64;
        for threads in 1..=4u64 {
            std::fs::write(&path, &log).unwrap();
            let file = std::fs::File::open(&path).unwrap();
            assert!(!parts_mention_channel_id(&file, len, threads));
            let part = len.div_ceil(threads) as usize;
            for meet in (1..threads as usize).map(|t| t * part) {
                for at in meet + 1 - key.len()..meet {
                    let mut with_key = log.clone();
                    with_key[at..at + key.len()].copy_from_slice(key);
                    std::fs::write(&path, &with_key).unwrap();
                    let file = std::fs::File::open(&path).unwrap();
                    assert!(
                        parts_mention_channel_id(&file, len, threads),
                        "{threads} threads, the key at {at}, parts meeting at {meet}"
                    );
                }
            }
        }
        // One thread (`-j 1`), small, or no line end in the first window:
        // the straight search.
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("trail.jsonl");
        std::fs::write(&path, &log).unwrap();
        let archive = Archive::open(&[&path], &Default::default(), &mut |p| panic!("{p}"));
        assert_eq!(
            file_mentions_channel_id(&archive.connections[0].logs[0], 1),
            None
        );
        assert_eq!(searched(&log[..1 << 20]).0, None);
        let mut endless = vec![b'x'; log.len()];
        endless[1 << 20] = b'\n';
        assert_eq!(searched(&endless), (None, false));
    }

    #[test]
    fn the_channel_id_key_is_found_across_reads() {
        let log = br#"{"type":"stdin","ts":"2023-06-07T17:32:29Z","data":"bA==","channel_id":"1"}"#;
        for step in 1..log.len() {
            assert!(mentions_channel_id(Dribble(log, step)), "step {step}");
        }
        // An endless input without line ends is left to the parser, which
        // stops after its first record's worth.
        assert!(mentions_channel_id(io::repeat(0)));
        let plain = br#"{"type":"stdin","ts":"2023-06-07T17:32:29Z","data":"bA==","channel":"1"}"#;
        for step in 1..plain.len() {
            assert!(!mentions_channel_id(Dribble(plain, step)), "step {step}");
        }
    }
}
