//! What users point at, opened and replayed: discovery in folders and
//! trees (sshtrail's own files are never logs), the connection's logs read
//! side by side in time order, each channel ending when its log does.

mod common;

use std::path::{Path, PathBuf};

use common::testdata;
use sshtrail::archive::{Archive, Discovery, LogSource, ProblemKind};
use sshtrail::channel::{ChannelEvent, ChannelEventKind, ChannelSink, SummaryCollector};
use sshtrail::connection::Context;
use sshtrail::time::Nanos;

const CONN: &str = "6f1c2b7e-0d3a-4c55-9e1f-2a3b4c5d6e7f";

fn scratch(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("sshtrail-archive-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        std::fs::copy(e.path(), to.join(e.file_name())).unwrap();
    }
}

fn logs(archive: &Archive) -> Vec<String> {
    let mut names: Vec<String> = archive
        .connections
        .iter()
        .flat_map(|c| c.logs.iter())
        .map(|l| l.path.file_name().unwrap().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

#[test]
fn own_files_in_a_tree_are_never_logs_but_a_named_file_always_is() {
    let root = scratch("own");
    let conn = root.join("archive").join(CONN);
    copy_dir(&testdata(&format!("conn/{CONN}")), &conn);
    // What an earlier conversion, a fetch or a crash leaves in a tree: all
    // of them hold valid trail lines.
    let line = std::fs::read(conn.join("0.jsonl")).unwrap();
    for own in [
        "manifest.jsonl",
        "manifest.jsonl.journal",
        ".0.jsonl.sshtrail-tmp-123",
        "run.lock",
        "index.json",
    ] {
        std::fs::write(root.join("archive").join(own), &line).unwrap();
    }
    std::fs::create_dir_all(conn.join("files")).unwrap();
    std::fs::write(conn.join("files/upload.jsonl"), &line).unwrap();

    let mut problems = Vec::new();
    let tree = Archive::open(&[root.join("archive")], &Discovery::trees(), &mut |p| {
        problems.push(p.to_string())
    });
    assert!(problems.is_empty(), "{problems:?}");
    assert_eq!(logs(&tree), ["0.jsonl", "1.jsonl", "2.hex"]);
    assert_eq!(tree.connections.len(), 1);
    assert_eq!(tree.connections[0].id.as_deref(), Some(CONN));
    assert!(tree.connections[0].meta.is_some());

    // Named on the command line, a file is a log whatever its name.
    let named = Archive::open(
        &[root.join("archive/manifest.jsonl")],
        &Discovery::trees(),
        &mut |p| panic!("{p}"),
    );
    assert_eq!(logs(&named), ["manifest.jsonl"]);
    std::fs::remove_dir_all(&root).unwrap();
}

#[test]
fn a_folder_without_logs_and_a_missing_path_are_problems_not_connections() {
    let root = scratch("empty");
    let mut problems = Vec::new();
    let archive = Archive::open(
        &[root.clone(), root.join("nothing.jsonl")],
        &Discovery::connection_folders(),
        &mut |p| problems.push(p),
    );
    assert!(archive.is_empty());
    assert!(
        matches!(problems[0].kind, ProblemKind::NoLogs),
        "{}",
        problems[0]
    );
    assert!(
        matches!(problems[1].kind, ProblemKind::Read(_)),
        "{}",
        problems[1]
    );
    assert!(problems[1].to_string().contains("nothing.jsonl"));
    std::fs::remove_dir_all(&root).unwrap();
}

/// Every channel event's channel and kind, in order.
#[derive(Default)]
struct Order(Vec<(String, &'static str, Nanos)>);

impl ChannelSink for Order {
    fn event(&mut self, ev: &ChannelEvent<'_>) -> std::io::Result<()> {
        let what = match ev.kind {
            ChannelEventKind::Started { .. } => "started",
            ChannelEventKind::Ended { .. } => "ended",
            ChannelEventKind::Logged { .. } => return Ok(()),
            _ => "event",
        };
        self.0
            .push((ev.channel.context.channel_id.clone(), what, ev.kind.ts()));
        Ok(())
    }
}

#[test]
fn the_logs_of_a_connection_are_read_side_by_side_in_time_order() {
    let archive = Archive::open(
        &[testdata(&format!("conn/{CONN}"))],
        &Discovery::connection_folders(),
        &mut |p| panic!("{p}"),
    );
    let mut order = Order::default();
    archive.replay(&mut order, &mut |p| panic!("{p}")).unwrap();
    let events = &order.0;
    // Time order across channels (each fixture log is in time order; the
    // made-up answers at a channel's end keep their request's time).
    let timed: Vec<Nanos> = events
        .iter()
        .filter(|e| e.1 != "ended")
        .map(|e| e.2)
        .collect();
    assert!(timed.windows(2).all(|w| w[0] <= w[1]), "{events:?}");
    // Each channel starts once and ends once, right after its last event
    // (its log ran out), not when the whole connection does.
    for ch in ["0", "1", "2"] {
        let of: Vec<_> = events.iter().filter(|e| e.0 == ch).collect();
        assert_eq!(of.first().unwrap().1, "started");
        assert_eq!(of.last().unwrap().1, "ended");
        assert_eq!(of.iter().filter(|e| e.1 == "started").count(), 1);
    }
    let end_of_0 = events
        .iter()
        .position(|e| e.0 == "0" && e.1 == "ended")
        .unwrap();
    let first_of_1 = events.iter().position(|e| e.0 == "1").unwrap();
    assert!(
        end_of_0 < first_of_1,
        "channel 0 (17:32) ends before channel 1 (17:40) starts"
    );
}

#[test]
fn events_naming_another_channel_go_to_it() {
    let log = b"{\"type\":\"stdout\",\"ts\":\"2023-06-07T17:32:00Z\",\"data\":\"aGk=\",\"channel_id\":\"7\"}\n\
{\"type\":\"stdout\",\"ts\":\"2023-06-07T17:32:01Z\",\"data\":\"aGk=\"}\n";
    let mut summaries = SummaryCollector::default();
    Archive::from_bytes("3.jsonl", log)
        .replay(&mut summaries, &mut |p| panic!("{p}"))
        .unwrap();
    let ids: Vec<&str> = summaries.connections()[0]
        .channels
        .iter()
        .map(|c| c.id.as_str())
        .collect();
    assert_eq!(ids, ["3", "7"]);
}

#[test]
fn a_log_given_as_a_reader_is_read_once() {
    let bytes = std::fs::read(testdata("session.jsonl")).unwrap();
    let log = LogSource::with_reader(
        Path::new("given.jsonl"),
        Context::channel("0"),
        Box::new(std::io::Cursor::new(bytes)),
    );
    let mut first = log.open().unwrap();
    let mut read = Vec::new();
    std::io::Read::read_to_end(&mut first, &mut read).unwrap();
    assert!(!read.is_empty());
    let again = log.open().err().expect("a reader can be read only once");
    assert!(again.to_string().contains("already read"), "{again}");
}

#[test]
fn a_log_in_memory_takes_metadata() {
    let meta = sshtrail::connection::Connection::from_json(
        &std::fs::read(testdata(&format!("conn/{CONN}/connection.json"))).unwrap(),
    )
    .unwrap();
    let archive = Archive::from_bytes("0.jsonl", std::fs::read(testdata("session.jsonl")).unwrap())
        .with_metadata(meta);
    assert_eq!(archive.connections[0].id.as_deref(), Some(CONN));
    let mut summaries = SummaryCollector::default();
    archive
        .replay(&mut summaries, &mut |p| panic!("{p}"))
        .unwrap();
    let ch = &summaries.connections()[0].channels[0];
    assert_eq!(ch.kind.as_deref(), Some("shell"), "from the metadata");
    assert!(ch.integrity.ok, "{:?}", ch.integrity.problems);
}

#[test]
fn a_folder_holding_a_channel_in_two_layouts_gives_one_log_or_an_error_naming_both() {
    // A real recording of three channels, each downloaded as jsonl and hex.
    const ID: &str = "971de967-6278-4d94-8056-bb57e6f8c6f7";
    let root = scratch("layouts");
    let conn = root.join(ID);
    copy_dir(&testdata(&format!("realtrail/{ID}")), &conn);
    for how in [Discovery::standard(), Discovery::trees()] {
        let mut problems = Vec::new();
        let archive = Archive::open(std::slice::from_ref(&root), &how, &mut |p| problems.push(p));
        assert_eq!(logs(&archive), ["0.jsonl", "1-2.jsonl", "1.jsonl"]);
        let set_aside: Vec<(String, PathBuf)> = problems
            .iter()
            .map(|p| match &p.kind {
                ProblemKind::SameChannelSetAside { set_aside } if p.is_warning() => {
                    (p.path.clone(), set_aside.clone())
                }
                _ => panic!("{p}"),
            })
            .collect();
        assert_eq!(
            set_aside,
            ["0", "1", "1-2"].map(|ch| (
                conn.join(format!("{ch}.jsonl")).display().to_string(),
                conn.join(format!("{ch}.hex"))
            ))
        );
        // Read once: the bytes are the metadata's, not twice them.
        let mut summaries = SummaryCollector::default();
        archive
            .replay(&mut summaries, &mut |p| panic!("{p}"))
            .unwrap();
        let shell = summaries.connections()[0]
            .channels
            .iter()
            .find(|c| c.id == "0")
            .unwrap();
        assert_eq!((shell.bytes.stdin, shell.bytes.stdout), (121, 647));
    }

    // One stdout byte of channel 1 changed in its hex layout only.
    let hex = conn.join("1.hex");
    let log = std::fs::read_to_string(&hex).unwrap();
    let at = log.lines().position(|l| l.contains(" stdout ")).unwrap();
    let changed: Vec<String> = log
        .lines()
        .enumerate()
        .map(|(i, l)| {
            if i == at {
                let (head, last) = l.split_at(l.len() - 1);
                format!("{head}{}", if last == "0" { "1" } else { "0" })
            } else {
                l.to_string()
            }
        })
        .collect();
    std::fs::write(&hex, changed.join("\n") + "\n").unwrap();
    let mut problems = Vec::new();
    let archive = Archive::open(
        std::slice::from_ref(&root),
        &Discovery::standard(),
        &mut |p| problems.push(p),
    );
    assert_eq!(logs(&archive), ["0.jsonl", "1-2.jsonl"]);
    let differ: Vec<String> = problems
        .iter()
        .filter(|p| matches!(p.kind, ProblemKind::LayoutsDiffer { .. }))
        .map(|p| p.to_string())
        .collect();
    let jsonl = conn.join("1.jsonl").display().to_string();
    assert_eq!(
        differ,
        [format!(
            "{jsonl}: the same channel is in {} too, in another layout, and the two differ: event {n} differs in its payloads ({jsonl}:{n} and {}:{n}); neither is read",
            hex.display(),
            hex.display(),
            n = at + 1
        )]
    );
    assert!(!problems.iter().any(|p| p.is_warning() && p.path == jsonl));
    std::fs::remove_dir_all(&root).unwrap();
}
