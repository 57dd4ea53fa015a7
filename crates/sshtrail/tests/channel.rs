//! Channel reconstruction over the connection fixture in `testdata/conn`:
//! a shell, an exec and a direct-tcpip channel with their connection JSON,
//! and a tampered copy whose byte counts and status disagree.

mod common;

use common::read;
use sshtrail::channel::{
    ChannelBuilder, ChannelEvent, ChannelEventKind, ChannelSink, ChannelState, ChannelSummary,
    ForwardKind, Outcome, Scope, Stream, SummaryCollector, Verdict,
};
use sshtrail::connection::{Connection, Context};
use sshtrail::time::Nanos;
use sshtrail::{Direction, SliceReader};

const CONN: &str = "6f1c2b7e-0d3a-4c55-9e1f-2a3b4c5d6e7f";

/// A data event as a sink sees it.
struct Chunk {
    stream: Stream,
    ts: Nanos,
    offset: u64,
    data: Vec<u8>,
}

/// Collects the summary and every data chunk.
#[derive(Default)]
struct Collect {
    summary: SummaryCollector,
    chunks: Vec<Chunk>,
}

impl ChannelSink for Collect {
    fn event(&mut self, ev: &ChannelEvent<'_>) -> std::io::Result<()> {
        if let ChannelEventKind::Data {
            stream,
            ts,
            offset,
            data,
            ..
        } = ev.kind
        {
            self.chunks.push(Chunk {
                stream,
                ts,
                offset,
                data: data.to_vec(),
            });
        }
        self.summary.event(ev)
    }
}

/// The channel's summary, final state and data chunks.
fn build(
    log: &[u8],
    channel: &str,
    meta: Option<&Connection>,
) -> (ChannelSummary, ChannelState, Vec<Chunk>) {
    let mut b = ChannelBuilder::new(
        Context {
            connection_id: Some(CONN.into()),
            channel_id: channel.into(),
        },
        meta,
    );
    let mut sink = Collect::default();
    for ev in SliceReader::new(log) {
        b.push(&ev.unwrap(), &mut sink).unwrap();
    }
    let state = b.finish(meta, &mut sink).unwrap();
    let summary = sink.summary.connections()[0].channels[0].clone();
    (summary, state, sink.chunks)
}

fn meta(folder: &str) -> Connection {
    Connection::from_json(&read(&format!("{folder}/{CONN}/connection.json"))).unwrap()
}

#[test]
fn shell_channel() {
    let log = read(&format!("conn/{CONN}/0.jsonl"));
    let m = meta("conn");
    let (ch, state, _) = build(&log, "0", Some(&m));
    assert_eq!(ch.kind.as_deref(), Some("shell"));
    assert_eq!(state.open_type.as_deref(), Some("session"));
    let pty = ch.pty.as_ref().unwrap();
    assert_eq!(
        (pty.term.as_str(), pty.cols, pty.rows),
        ("xterm-256color", 120, 40)
    );
    assert_eq!(
        pty.modes,
        vec![
            ("VINTR".to_string(), 3),
            ("ECHO".into(), 1),
            ("ISPEED".into(), 38400),
            ("OSPEED".into(), 38400)
        ]
    );
    assert_eq!(
        ch.resizes
            .iter()
            .map(|r| (r.cols, r.rows))
            .collect::<Vec<_>>(),
        [(100, 30)]
    );
    assert_eq!(ch.env, [("LANG".to_string(), "en_US.UTF-8".to_string())]);
    assert!(ch.shell);
    assert_eq!(ch.exit_status, Some(127));
    assert_eq!(state.bytes, [14, 406, 28]);
    assert_eq!(ch.undecoded, 0);
    // Replies paired in order: pty-req and shell succeeded, the keepalive failed.
    let outcomes: Vec<(&str, &Outcome)> = ch
        .requests
        .iter()
        .filter(|r| r.want_reply)
        .map(|r| (r.name.as_str(), &r.outcome))
        .collect();
    assert_eq!(
        outcomes,
        [
            ("session", &Outcome::Success),
            ("pty-req", &Outcome::Success),
            ("shell", &Outcome::Success),
            ("keepalive@openssh.com", &Outcome::Failure(None))
        ]
    );
    assert_eq!(
        ch.requests
            .iter()
            .filter(|r| r.scope == Scope::Global)
            .count(),
        1
    );
    assert_eq!(ch.unmatched_replies, 0);
    assert!(ch.integrity.ok, "{:?}", ch.integrity.problems);
    assert_eq!(ch.started.as_deref(), Some("2023-06-07T17:32:00.001000Z"));
}

#[test]
fn streams_are_timed_chunks_that_rebuild_the_stream() {
    let log = read("session.jsonl");
    let (ch, _, chunks) = build(&log, "0", None);
    let mut stdout = Vec::new();
    let mut offset = 0;
    for c in chunks.iter().filter(|c| c.stream == Stream::Stdout) {
        assert_eq!(c.offset, offset);
        stdout.extend_from_slice(&c.data);
        offset += c.data.len() as u64;
    }
    assert_eq!(stdout, read("session.stdout.bin"));
    let stdin: Vec<&Chunk> = chunks
        .iter()
        .filter(|c| c.stream == Stream::Stdin)
        .collect();
    assert!(!stdin.is_empty());
    assert!(stdin.windows(2).all(|w| w[0].ts <= w[1].ts));
    // Without metadata the verdict says so instead of claiming success.
    assert!(!ch.integrity.ok);
    assert_eq!(ch.integrity.verdict, Verdict::Unknown);
    assert!(ch.integrity.unchecked[0].contains("no connection metadata"));
    assert_eq!(
        ch.kind.as_deref(),
        Some("shell"),
        "inferred from the shell request"
    );
}

#[test]
fn exec_channel() {
    let log = read(&format!("conn/{CONN}/1.jsonl"));
    let (ch, state, _) = build(&log, "1", None);
    assert_eq!(
        ch.kind.as_deref(),
        Some("exec"),
        "inferred without metadata"
    );
    assert_eq!(
        ch.exec.as_deref(),
        Some("sudo systemctl restart postgresql")
    );
    assert_eq!(ch.env, [("LC_ALL".to_string(), "C".to_string())]);
    assert_eq!(ch.exit_status, Some(0));
    assert_eq!(state.bytes, [8, 29, 27]);
    assert!(ch.pty.is_none());
}

#[test]
fn direct_tcpip_channel_and_port_forward() {
    let log = read(&format!("conn/{CONN}/2.hex"));
    let m = meta("conn");
    let (ch, state, _) = build(&log, "2", Some(&m));
    assert_eq!(ch.kind.as_deref(), Some("direct-tcpip"));
    assert_eq!(state.kind.as_deref(), Some("direct-tcpip"));
    assert_eq!(ch.forwards.len(), 2);
    let direct = &ch.forwards[0];
    assert_eq!(
        (direct.kind, direct.address.as_deref(), direct.port),
        (
            ForwardKind::DirectTcpip.name(),
            Some("db.internal"),
            Some(5432)
        )
    );
    assert_eq!(
        (
            direct.originator.as_deref(),
            direct.originator_port,
            &direct.outcome
        ),
        (Some("127.0.0.1"), Some(50000), &Outcome::Success)
    );
    let fwd = &ch.forwards[1];
    assert_eq!(
        (fwd.kind, fwd.address.as_deref()),
        (ForwardKind::TcpipForward.name(), Some("0.0.0.0"))
    );
    assert_eq!(
        fwd.port,
        Some(40123),
        "the port the server bound replaces port 0"
    );
    assert_eq!(fwd.direction, Direction::ClientToServer);
    assert!(ch.integrity.ok, "{:?}", ch.integrity.problems);
}

#[test]
fn tampered_metadata_is_caught_and_named() {
    let log = read(&format!("conn-tampered/{CONN}/0.jsonl"));
    let m = meta("conn-tampered");
    let (ch, _, _) = build(&log, "0", Some(&m));
    assert!(!ch.integrity.ok);
    assert_eq!(ch.integrity.verdict, Verdict::Mismatch);
    let p = &ch.integrity.problems;
    assert_eq!(p.len(), 3, "{p:?}");
    assert!(
        p[0].contains("stdin has 14 bytes") && p[0].contains("bytes_client_to_server is 21"),
        "{p:?}"
    );
    assert!(
        p[1].contains("434 bytes") && p[1].contains("bytes_server_to_client is 433"),
        "{p:?}"
    );
    assert!(p[2].contains("UNCLEAN_CLOSE"), "{p:?}");
    // A channel the metadata does not list.
    let (ch, _, _) = build(&log, "9", Some(&m));
    assert!(
        ch.integrity.unchecked[0].contains("not listed"),
        "{:?}",
        ch.integrity.unchecked
    );
    assert_eq!(ch.integrity.verdict, Verdict::Unknown);
}

#[test]
fn replies_without_requests_are_counted_not_paired() {
    let log = b"2023-06-07T17:32:29Z reverse-reply 6300000000\n2023-06-07T17:32:29Z forward-request 6200000000000000057368656c6c01\n2023-06-07T17:32:30Z reverse-reply 6400000000\n";
    let (ch, _, _) = build(log, "0", None);
    assert_eq!(ch.unmatched_replies, 1);
    assert_eq!(ch.requests[0].outcome, Outcome::Failure(None));
}

#[test]
fn json_has_the_inspect_schema() {
    let log = read(&format!("conn/{CONN}/0.jsonl"));
    let m = meta("conn");
    let j = serde_json::to_value(build(&log, "0", Some(&m)).0).unwrap();
    for key in [
        "id",
        "type",
        "pty",
        "resizes",
        "env",
        "exec",
        "subsystem",
        "exit_status",
        "exit_signal",
        "started",
        "ended",
        "bytes",
        "events",
        "forwards",
        "undecoded",
        "integrity",
    ] {
        assert!(j.get(key).is_some(), "missing {key}");
    }
    assert_eq!(j["pty"]["term"], "xterm-256color");
    assert_eq!(j["pty"]["modes"]["ECHO"], 1);
    assert_eq!(j["resizes"][0]["cols"], 100);
    assert_eq!(j["env"]["LANG"], "en_US.UTF-8");
    assert_eq!(j["bytes"]["stderr"], 28);
    assert_eq!(j["events"]["stdin"], 12);
    assert_eq!(j["integrity"]["ok"], true);
}
