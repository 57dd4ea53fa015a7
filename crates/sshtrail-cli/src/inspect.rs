//! `sshtrail inspect`: who did what, where, and how it ended.

use std::collections::HashMap;
use std::fmt::Write as _;
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};

use clap::Args;
use sshtrail::archive::Archive;
use sshtrail::channel::{
    direction_name, ChannelSummary, ConnectionSummary, Outcome, SummaryCollector, Tee, Verdict,
};
use sshtrail::connection::Context;
use sshtrail::crosscheck::{FileChecker, FileReport};
use sshtrail::time::{human_duration, parse_rfc3339, reformat_rfc3339};

use crate::cli::args::Inputs;
use crate::cli::exit;
use crate::cli::input;
use crate::cli::report::{CommandResult, Reporter};
use crate::cli::text::person_line;

/// Arguments of `sshtrail inspect`.
#[derive(Args, Debug)]
pub struct InspectArgs {
    /// Print one JSON object instead of a report for people.
    #[arg(long)]
    json: bool,
    #[command(flatten)]
    inputs: Inputs,
}

/// Runs `sshtrail inspect`.
pub fn run(args: InspectArgs) -> CommandResult {
    let mut rep = Reporter::default();
    let archive = input::open(&args.inputs.paths, &mut rep);
    let mut summaries = SummaryCollector::default();
    // The files of sftp and scp channels, checked against the metadata's
    // transferred_files and the kept copies beside it.
    let mut files = FileChecker::default();
    if let Err(e) = input::replay(
        &archive,
        args.inputs.format.to_format(),
        &mut Tee(vec![&mut summaries, &mut files]),
        &mut rep,
    ) {
        return rep.output_failed(&e);
    }
    let partial = fetched_partial(&archive);
    let mut connections = summaries.into_connections();
    // What disagrees with the metadata goes into the integrity verdict.
    for ch in connections.iter_mut().flat_map(|c| c.channels.iter_mut()) {
        if let Some(report) = files.report(&ch.context) {
            report.apply_to(&mut ch.integrity);
        }
    }
    // A connection none of whose logs could be opened has nothing to show:
    // its error says it all.
    let known: Vec<&ConnectionSummary> = connections.iter().filter(|c| !c.is_unknown()).collect();
    let out = if args.json {
        let mut doc = serde_json::json!({ "connections": known });
        with_files(&mut doc, &known, &files);
        // A log `sshtrail fetch` downloaded with --filter: its filter.
        for (i, conn) in known.iter().enumerate() {
            for (j, ch) in conn.channels.iter().chain(&conn.global).enumerate() {
                if let Some(filter) = partial.get(&ch.context) {
                    let key = if j < conn.channels.len() {
                        ("channels", j)
                    } else {
                        ("global", j - conn.channels.len())
                    };
                    if let Some(o) = doc["connections"][i][key.0][key.1].as_object_mut() {
                        o.insert(
                            "partial_download".into(),
                            serde_json::json!({ "filter": filter }),
                        );
                    }
                }
            }
        }
        format!("{doc}\n")
    } else {
        let mut text = String::new();
        for conn in known {
            describe(&mut text, conn, &files, &partial);
        }
        text
    };
    let mut stdout = std::io::stdout().lock();
    if let Err(e) = stdout
        .write_all(out.as_bytes())
        .and_then(|()| stdout.flush())
    {
        return rep.output_failed(&e);
    }
    // A log that disagrees with the gateway's metadata fails the run; one
    // that cannot be checked (no metadata) does not, nor one downloaded
    // with a filter (it holds only some of the events the metadata counts).
    let mismatch = connections
        .iter()
        .flat_map(|c| c.channels.iter().chain(&c.global))
        .any(|ch| ch.integrity.verdict == Verdict::Mismatch && !partial.contains_key(&ch.context));
    if mismatch {
        return Ok(exit::code(exit::INPUT));
    }
    Ok(rep.code())
}

fn between(a: Option<&str>, b: Option<&str>) -> String {
    match (a, b) {
        (Some(a), Some(b)) => {
            let d = match (
                parse_rfc3339(a.as_bytes(), true),
                parse_rfc3339(b.as_bytes(), true),
            ) {
                (Ok(x), Ok(y)) => format!(" ({})", human_duration(y - x)),
                _ => String::new(),
            };
            format!("{} -> {}{d}", reformat_rfc3339(a), reformat_rfc3339(b))
        }
        (Some(a), None) => format!("{} -> ?", reformat_rfc3339(a)),
        (None, Some(b)) => format!("? -> {}", reformat_rfc3339(b)),
        (None, None) => "?".into(),
    }
}

/// Adds each channel's `files` (and `files_unlisted`) to the JSON document
/// of `connections`.
fn with_files(
    doc: &mut serde_json::Value,
    connections: &[&ConnectionSummary],
    files: &FileChecker,
) {
    let Some(docs) = doc["connections"].as_array_mut() else {
        return;
    };
    for (conn, conn_doc) in connections.iter().zip(docs) {
        let Some(chans) = conn_doc["channels"].as_array_mut() else {
            continue;
        };
        for (ch, ch_doc) in conn.channels.iter().zip(chans) {
            let (list, unlisted) = match files.report(&ch.context) {
                Some(r) => (serde_json::json!(r.files), r.unlisted),
                None => (serde_json::json!([]), 0),
            };
            if let Some(o) = ch_doc.as_object_mut() {
                o.insert("files".into(), list);
                o.insert("files_unlisted".into(), unlisted.into());
            }
        }
    }
}

/// The logs of `archive` that `sshtrail fetch` downloaded with `--filter`
/// (partial: only some event types), by channel, with the filter: read from
/// the `manifest.jsonl` of the archive the log's connection folder is in,
/// when its row names the log's path and size.
fn fetched_partial(archive: &Archive) -> HashMap<Context, String> {
    let mut manifests: HashMap<PathBuf, HashMap<String, (u64, String)>> = HashMap::new();
    let mut out = HashMap::new();
    for log in archive.connections.iter().flat_map(|c| c.logs.iter()) {
        let (Some(file), Some(folder)) = (log.path.file_name(), log.path.parent()) else {
            continue;
        };
        let (Some(conn), Some(root)) = (folder.file_name(), folder.parent()) else {
            continue;
        };
        let rows = manifests
            .entry(root.to_path_buf())
            .or_insert_with(|| partial_rows(&root.join("manifest.jsonl")));
        let rel = format!("{}/{}", conn.to_string_lossy(), file.to_string_lossy());
        if let Some((bytes, filter)) = rows.get(&rel) {
            if log.size == Some(*bytes) {
                out.insert(log.context.clone(), filter.clone());
            }
        }
    }
    out
}

/// The rows of a fetch manifest for partial logs: path → (size, filter).
fn partial_rows(path: &Path) -> HashMap<String, (u64, String)> {
    #[derive(serde::Deserialize)]
    struct Row {
        kind: String,
        path: String,
        #[serde(default)]
        partial: bool,
        #[serde(default)]
        filter: Option<String>,
        #[serde(default)]
        bytes: Option<u64>,
    }
    let Ok(file) = crate::cli::output::open_no_follow(path) else {
        return HashMap::new();
    };
    BufReader::new(file)
        .lines()
        .map_while(Result::ok)
        .filter_map(|l| serde_json::from_str::<Row>(&l).ok())
        .filter(|r| r.kind == "log" && r.partial)
        .filter_map(|r| Some((r.path, (r.bytes?, r.filter.unwrap_or_default()))))
        .collect()
}

fn describe(
    t: &mut String,
    conn: &ConnectionSummary,
    files: &FileChecker,
    partial: &HashMap<Context, String>,
) {
    let chans = &conn.channels;
    let m = conn.meta.as_ref();
    let _ = person_line!(
        t,
        "connection {}",
        conn.id.as_deref().unwrap_or("(unknown)")
    );
    match m {
        Some(m) => {
            let auth = if m.authentication_method.is_empty() {
                String::new()
            } else {
                format!("  auth {}", m.authentication_method.join(","))
            };
            let _ = person_line!(
                t,
                "  who      {} from {}{auth}",
                m.user().unwrap_or("?"),
                m.remote_address.as_deref().unwrap_or("?")
            );
            let _ = person_line!(
                t,
                "  where    {}@{} ({})",
                m.target_host_account.as_deref().unwrap_or("?"),
                m.host().unwrap_or("?"),
                m.target_host_address.as_deref().unwrap_or("?")
            );
            let _ = person_line!(
                t,
                "  when     {}",
                between(m.connected.as_deref(), m.disconnected.as_deref())
            );
            let mut status = m.status.clone().unwrap_or_else(|| "?".into());
            if !m.tags.is_empty() {
                status.push_str(&format!("  tags {}", m.tags.join(",")));
            }
            let _ = person_line!(t, "  status   {status}");
        }
        None => {
            let (a, b) = conn.span();
            let _ = person_line!(t, "  (no connection metadata found)");
            let _ = person_line!(t, "  when     {}", between(a.as_deref(), b.as_deref()));
        }
    }
    for g in &conn.global {
        global(t, g);
        if let Some(filter) = partial.get(&g.context) {
            let _ = person_line!(
                t,
                "    partial  downloaded with --filter {filter}: only those events are in the log"
            );
        }
    }
    for ch in chans {
        let mut head = format!(
            "  channel {}  {}",
            ch.context.channel_id,
            ch.kind.as_deref().unwrap_or("(type unknown)")
        );
        match (&ch.exit_status, &ch.exit_signal) {
            (Some(s), _) => head.push_str(&format!("  exit {s}")),
            (None, Some(sig)) => head.push_str(&format!(
                "  killed by SIG{}{}{}",
                sig.signal,
                if sig.core_dumped {
                    " (core dumped)"
                } else {
                    ""
                },
                if sig.message.is_empty() {
                    String::new()
                } else {
                    format!(": {}", sig.message)
                }
            )),
            (None, None) => head.push_str("  no exit status"),
        }
        let _ = person_line!(t, "{head}");
        if let Some(p) = &ch.pty {
            let modes: Vec<String> = p
                .modes
                .iter()
                .filter(|(k, _)| {
                    matches!(
                        k.as_str(),
                        "ECHO" | "ICANON" | "ISPEED" | "OSPEED" | "IUTF8"
                    )
                })
                .map(|(k, v)| format!("{k}={v}"))
                .collect();
            let _ = person_line!(
                t,
                "    pty      {} {}x{}  {}",
                p.term,
                p.cols,
                p.rows,
                modes.join(" ")
            );
        }
        if let (Some(first), Some(last)) = (ch.resizes.first(), &ch.last_resize) {
            let _ = person_line!(
                t,
                "    resizes  {} (first {}x{} at {}, last {}x{} at {})",
                ch.resize_count,
                first.cols,
                first.rows,
                first.ts,
                last.cols,
                last.rows,
                last.ts
            );
        }
        if let Some(cmd) = &ch.exec {
            let _ = person_line!(t, "    exec     {cmd}");
        }
        if let Some(s) = &ch.subsystem {
            let _ = person_line!(t, "    subsys   {s}");
        }
        if !ch.env.is_empty() {
            let env: Vec<String> = ch.env.iter().map(|(k, v)| format!("{k}={v}")).collect();
            let _ = person_line!(t, "    env      {}", env.join(" "));
        }
        let _ = person_line!(
            t,
            "    time     {}",
            between(ch.started.as_deref(), ch.ended.as_deref())
        );
        let _ = person_line!(
            t,
            "    bytes    stdin {}  stdout {}  stderr {}",
            ch.bytes.stdin,
            ch.bytes.stdout,
            ch.bytes.stderr
        );
        // Refused requests by name, counted: eight keepalives are one entry.
        let refused: u64 = ch.request_counts.iter().map(|r| r.refused).sum();
        let failed: Vec<String> = ch
            .request_counts
            .iter()
            .filter(|r| r.refused > 0)
            .map(|r| r.label(r.refused))
            .collect();
        let _ = person_line!(
            t,
            "    requests {}{}",
            ch.request_count,
            if failed.is_empty() {
                String::new()
            } else {
                format!(" ({refused} refused: {})", failed.join(", "))
            }
        );
        forwards(t, ch);
        if !ch.signals.is_empty() {
            let _ = person_line!(t, "    signals  {}", ch.signals.join(" "));
        }
        if let Some(report) = files.report(&ch.context) {
            transfers(t, report);
        }
        if let Some(filter) = partial.get(&ch.context) {
            let _ = person_line!(
                t,
                "    partial  downloaded with --filter {filter}: only those events are in the log"
            );
        }
        undecoded_and_integrity(t, ch);
    }
    t.push('\n');
}

/// The connection's global requests (a pseudo-channel in the logs): when,
/// which (each name counted, with its refusals), the forwards they asked
/// for, and the verdict on their log.
fn global(t: &mut String, g: &ChannelSummary) {
    let _ = person_line!(t, "  global requests (log {})", g.context.channel_id);
    let _ = person_line!(
        t,
        "    time     {}",
        between(g.started.as_deref(), g.ended.as_deref())
    );
    let listed: Vec<String> = g
        .request_counts
        .iter()
        .map(|r| {
            let mut s = r.label(r.count);
            match r.refused {
                0 => {}
                n if n == r.count => s.push_str(" refused"),
                n => s.push_str(&format!(" ({n} refused)")),
            }
            s
        })
        .collect();
    let _ = person_line!(
        t,
        "    requests {}{}",
        g.request_count,
        if listed.is_empty() {
            String::new()
        } else {
            format!(": {}", listed.join(", "))
        }
    );
    forwards(t, g);
    undecoded_and_integrity(t, g);
}

/// The forwards a channel (or the global requests) asked for.
fn forwards(t: &mut String, ch: &ChannelSummary) {
    for f in &ch.forwards {
        let mut what = f.kind.to_string();
        if let (Some(a), Some(p)) = (&f.address, f.port) {
            what.push_str(&format!(" {a}:{p}"));
        }
        if let (Some(a), Some(p)) = (&f.originator, f.originator_port) {
            what.push_str(&format!(" from {a}:{p}"));
        }
        if let Some(s) = &f.socket_path {
            what.push_str(&format!(" {s}"));
        }
        let outcome = match &f.outcome {
            Outcome::Failure(Some(why)) => format!("refused: {why}"),
            o => o.name().to_string(),
        };
        let _ = person_line!(
            t,
            "    forward  {what} by {}  {outcome}",
            direction_name(f.direction)
        );
    }
}

/// The files moved over the channel, each with its transferred_files
/// entry and kept copy.
fn transfers(t: &mut String, report: &FileReport) {
    for f in &report.files {
        let _ = person_line!(
            t,
            "    file     {} {} bytes  {}  {}  {}",
            f.direction,
            f.size,
            f.sha256.as_deref().unwrap_or("(no sha256)"),
            f.path,
            if f.complete { "complete" } else { "incomplete" }
        );
        let entry = match (&f.entry, &f.entry_name) {
            (Some(id), _) => format!("transferred_files {id}"),
            (None, Some(name)) => format!("transferred_files entry {name} (no id)"),
            (None, None) if f.metadata_lists_files => "no transferred_files entry".into(),
            (None, None) => "not checked: the metadata lists no transferred_files".into(),
        };
        let mut facts = vec![entry];
        facts.extend(f.differences.iter().cloned());
        if let Some(c) = &f.stored_copy {
            facts.push(match c.verdict {
                "matches" => format!("stored copy {} matches", c.path),
                "differs" => format!("stored copy {} differs", c.path),
                v => format!("stored copy {} {v}", c.path),
            });
        }
        let _ = person_line!(t, "             {}", facts.join("; "));
    }
    if report.unlisted > 0 {
        let _ = person_line!(t, "    files    {} more not listed", report.unlisted);
    }
}

fn undecoded_and_integrity(t: &mut String, ch: &ChannelSummary) {
    if ch.undecoded > 0 {
        let _ = person_line!(
            t,
            "    undecoded {} event(s) (first at line {})",
            ch.undecoded,
            ch.undecoded_events.first().map_or(0, |u| u.line)
        );
    }
    let _ = person_line!(t, "    integrity {}", ch.integrity.describe());
}
