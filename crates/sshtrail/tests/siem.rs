//! SIEM records (issue #5): what `siem::events` makes of the fixtures, and
//! the four writers' invariants. The checks against independent
//! implementations (OCSF JSON schema, CEF parsers) are in
//! `crates/sshtrail-cli/tests/siem.rs`; the ECS field reference check is
//! here too, in Rust, against the vendored `testdata/siem/ecs-8.11-fields.tsv`.

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use sshtrail::archive::{Archive, Discovery};
use sshtrail::replay::{Command, Confidence};
use sshtrail::siem::{
    self, Action, EventOutcome, FileAction, RecordSink, Severity, SiemEvent, SiemFormat,
    SiemOptions,
};
use sshtrail::time::parse_rfc3339;

const FIXTURE: &str = "conn/6f1c2b7e-0d3a-4c55-9e1f-2a3b4c5d6e7f";
const TRICKY: &str = "siem/conn-tricky/0b5e7c1a-3d2f-4e6a-8b9c-1d2e3f4a5b6c";

fn testdata(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../testdata")
        .join(name)
}

fn opts(io: bool) -> SiemOptions {
    SiemOptions {
        io,
        product_version: "0.1.0",
        // The commands come from each test.
        recognize_commands: false,
        ..SiemOptions::default()
    }
}

fn command(ts: &str, text: &str, confidence: &str) -> Command {
    Command {
        ts: parse_rfc3339(ts.as_bytes(), false).unwrap(),
        command: text.to_string(),
        confidence: match confidence {
            "exact" => Confidence::Exact,
            "echo" => Confidence::Echo,
            _ => Confidence::Uncertain,
        },
    }
}

/// Every record of a connection folder (or one log) with `opts`; `cmds`
/// gives each channel's typed commands.
fn records_with(
    name: &str,
    opts: SiemOptions,
    cmds: &dyn Fn(&str) -> Vec<Command>,
) -> Vec<SiemEvent> {
    records_in(&testdata(name), opts, cmds)
}

/// Every record of the connection folder (or log) at `path`.
fn records_in(
    path: &Path,
    opts: SiemOptions,
    cmds: &dyn Fn(&str) -> Vec<Command>,
) -> Vec<SiemEvent> {
    let archive = Archive::open(&[path], &Discovery::connection_folders(), &mut |p| {
        panic!("{p}")
    });
    let mut out = Vec::new();
    let mut sink = RecordSink::new(opts, |r| {
        out.push(r.clone());
        Ok(())
    })
    .with_commands(|ch| cmds(&ch.context.channel_id));
    // A cut-off last line is a warning: the records say so.
    archive
        .replay(&mut sink, &mut |p| assert!(p.is_warning(), "{p}"))
        .unwrap();
    drop(sink);
    out
}

/// Every record of a connection, in time order; `cmds` gives each
/// channel's typed commands.
fn records(name: &str, io: bool, cmds: &dyn Fn(&str) -> Vec<Command>) -> Vec<SiemEvent> {
    records_with(name, opts(io), cmds)
}

fn no_commands(_: &str) -> Vec<Command> {
    Vec::new()
}

fn actions(evs: &[SiemEvent], channel: &str) -> Vec<&'static str> {
    evs.iter()
        .filter(|e| e.channel_id.as_deref() == Some(channel))
        .map(|e| e.action.name())
        .collect()
}

fn written(evs: &[SiemEvent], format: SiemFormat) -> Vec<u8> {
    let mut out = Vec::new();
    for e in evs {
        siem::write(format, e, &mut out);
    }
    out
}

#[test]
fn the_fixture_connection_gives_each_happening_once() {
    let evs = records(FIXTURE, false, &no_commands);
    assert_eq!(
        actions(&evs, "0"),
        [
            "ssh-channel-open",
            "ssh-pty",
            "ssh-env",
            "ssh-shell",
            "ssh-exit-status",
            "ssh-channel-close"
        ],
        "the keepalive's failure is routine, window-change and eow are not security events"
    );
    assert_eq!(
        actions(&evs, "1"),
        [
            "ssh-channel-open",
            "ssh-env",
            "ssh-exec",
            "ssh-exit-status",
            "ssh-channel-close"
        ]
    );
    assert_eq!(
        actions(&evs, "2"),
        ["ssh-channel-open", "ssh-tcpip-forward", "ssh-channel-close"]
    );
    for e in &evs {
        let c = &e.conn;
        assert_eq!(c.user.as_deref(), Some("alice@example.com"));
        assert_eq!(c.host.as_deref(), Some("db-prod-01"));
        assert_eq!(c.host_address.as_deref(), Some("10.20.30.40"));
        assert_eq!(c.account.as_deref(), Some("alice"));
        assert_eq!(c.remote_address.as_deref(), Some("203.0.113.9"));
        assert_eq!(c.authentication_method, ["PASSWORD", "MFA"]);
        assert_eq!(c.tags, ["prod", "db"]);
        assert_eq!(
            c.connection_id.as_deref(),
            Some("6f1c2b7e-0d3a-4c55-9e1f-2a3b4c5d6e7f")
        );
    }
    let exec = evs.iter().find(|e| e.action == Action::Exec).unwrap();
    let p = exec.process.as_ref().unwrap();
    assert_eq!(
        p.command_line.as_deref(),
        Some("sudo systemctl restart postgresql")
    );
    assert_eq!(p.args, ["sudo", "systemctl", "restart", "postgresql"]);
    assert_eq!(
        (p.name.as_deref(), p.privileged, p.interactive),
        (Some("sudo"), true, false)
    );
    assert_eq!(exec.severity, Severity::Low);

    let close: Vec<_> = evs
        .iter()
        .filter(|e| e.action == Action::ChannelClose)
        .collect();
    let s = close[0].session.as_ref().unwrap();
    assert_eq!(
        (s.bytes_client_to_server(), s.bytes_server_to_client()),
        (14, 434)
    );
    assert_eq!(s.duration(), 2_288_300_000);
    assert!(s.integrity_ok);
    let s = close[1].session.as_ref().unwrap();
    assert_eq!(
        (s.bytes_client_to_server(), s.bytes_server_to_client()),
        (8, 56)
    );

    let fwd = evs
        .iter()
        .find(|e| e.action == Action::TcpipForward)
        .unwrap();
    let f = fwd.forward.as_ref().unwrap();
    assert_eq!(
        (f.address.as_deref(), f.port),
        (Some("0.0.0.0"), Some(40123)),
        "the bound port"
    );
    let open2 = evs
        .iter()
        .find(|e| e.channel_id.as_deref() == Some("2") && e.action == Action::ChannelOpen)
        .unwrap();
    let f = open2.forward.as_ref().unwrap();
    assert_eq!(
        (
            f.kind.name(),
            f.address.as_deref(),
            f.port,
            f.originator.as_deref(),
            f.originator_port
        ),
        (
            "direct-tcpip",
            Some("db.internal"),
            Some(5432),
            Some("127.0.0.1"),
            Some(50000)
        )
    );
    let exit = evs
        .iter()
        .find(|e| e.channel_id.as_deref() == Some("0") && e.action == Action::ExitStatus)
        .unwrap();
    assert_eq!(exit.process.as_ref().unwrap().exit_code, Some(127));
    assert_eq!(exit.outcome, EventOutcome::Failure);
}

#[test]
fn records_are_in_time_order_with_stable_ids() {
    let evs = records(FIXTURE, true, &|c| {
        if c == "0" {
            vec![command("2023-06-07T17:32:00.7645Z", "ls -l", "exact")]
        } else {
            Vec::new()
        }
    });
    for ch in ["0", "1", "2"] {
        let of: Vec<_> = evs
            .iter()
            .filter(|e| e.channel_id.as_deref() == Some(ch))
            .collect();
        assert!(
            of.windows(2).all(|w| w[0].ts <= w[1].ts),
            "channel {ch} out of order"
        );
        assert_eq!(of.first().unwrap().action, Action::ChannelOpen);
        assert_eq!(
            of.last().unwrap().action,
            Action::ChannelClose,
            "close is last even at a tie"
        );
        assert!(of.iter().enumerate().all(|(i, e)| e.seq == i as u64));
    }
    let ids: BTreeSet<_> = evs.iter().map(|e| e.id.as_str()).collect();
    assert_eq!(ids.len(), evs.len(), "ids are unique");
    assert!(ids.contains("6f1c2b7e-0d3a-4c55-9e1f-2a3b4c5d6e7f/0/open"));
    assert!(ids.contains("6f1c2b7e-0d3a-4c55-9e1f-2a3b4c5d6e7f/0/cmd-1"));
    assert!(ids.contains("6f1c2b7e-0d3a-4c55-9e1f-2a3b4c5d6e7f/0/stdout@0"));
    // The same records without --io keep their ids.
    let plain = records(FIXTURE, false, &no_commands);
    assert!(plain.iter().all(|e| ids.contains(e.id.as_str())));
}

#[test]
fn output_is_deterministic() {
    let cmds = |c: &str| {
        if c == "0" {
            vec![command("2023-06-07T17:32:00.7645Z", "ls -l", "exact")]
        } else {
            Vec::new()
        }
    };
    for format in SiemFormat::ALL {
        let a = written(&records(FIXTURE, true, &cmds), format);
        let b = written(&records(FIXTURE, true, &cmds), format);
        assert_eq!(a, b, "{format}");
        assert!(a.ends_with(b"\n"));
        assert_eq!(
            a.iter().filter(|&&b| b == b'\n').count(),
            records(FIXTURE, true, &cmds).len(),
            "{format}: one record a line"
        );
    }
}

#[test]
fn typed_commands_become_process_records() {
    let evs = records(FIXTURE, false, &|c| match c {
        "0" => vec![
            command("2023-06-07T17:32:00.7645Z", "ls -l", "exact"),
            command(
                "2023-06-07T17:32:01.9Z",
                "LC_ALL=C sudo -u postgres psql -c 'select 1|2'",
                "echo",
            ),
        ],
        // The recovery may list the exec command itself: left out.
        "1" => vec![command(
            "2023-06-07T17:40:00.003Z",
            "sudo systemctl restart postgresql",
            "exact",
        )],
        _ => Vec::new(),
    });
    let cmds: Vec<_> = evs.iter().filter(|e| e.action == Action::Command).collect();
    assert_eq!(cmds.len(), 2);
    let ls = cmds[0].process.as_ref().unwrap();
    assert_eq!(
        (ls.name.as_deref(), ls.privileged, ls.interactive),
        (Some("ls"), false, true)
    );
    assert_eq!(ls.confidence, Some(Confidence::Exact));
    assert_eq!(cmds[0].severity, Severity::Informational);
    assert_eq!(
        cmds[0].pty.as_ref().map(|p| (p.cols, p.rows)),
        Some((120, 40))
    );
    let sudo = cmds[1].process.as_ref().unwrap();
    assert_eq!(sudo.name.as_deref(), Some("sudo"));
    assert!(sudo.privileged);
    assert_eq!(
        sudo.args,
        [
            "LC_ALL=C",
            "sudo",
            "-u",
            "postgres",
            "psql",
            "-c",
            "select 1|2"
        ]
    );
    assert_eq!(
        sudo.entity_id,
        "6f1c2b7e-0d3a-4c55-9e1f-2a3b4c5d6e7f/0/cmd-2"
    );
    assert_eq!(cmds[1].severity, Severity::Low);
    // In time order among the channel's records: after the shell, before the exit.
    let ch0 = actions(&evs, "0");
    assert_eq!(
        ch0,
        [
            "ssh-channel-open",
            "ssh-pty",
            "ssh-env",
            "ssh-shell",
            "ssh-command",
            "ssh-command",
            "ssh-exit-status",
            "ssh-channel-close"
        ]
    );
}

#[test]
fn the_tricky_connection_covers_every_record_type() {
    let evs = records(TRICKY, true, &no_commands);
    let ch0: Vec<_> = actions(&evs, "0")
        .into_iter()
        .filter(|a| !matches!(*a, "ssh-stdin" | "ssh-stdout" | "ssh-stderr"))
        .collect();
    assert_eq!(
        ch0,
        [
            "ssh-channel-open",
            "ssh-pty",
            "ssh-env",
            "ssh-env",
            "ssh-x11-forward",
            "ssh-agent-forward",
            "ssh-shell",
            "ssh-signal",
            "ssh-request-failed",
            "ssh-tcpip-forward",
            "ssh-cancel-tcpip-forward",
            "ssh-streamlocal-forward",
            "ssh-agent-forward",
            "ssh-exit-signal",
            "ssh-channel-close"
        ]
    );
    let by_action = |a: Action| evs.iter().filter(move |e| e.action == a);
    let envs: Vec<_> = by_action(Action::Env)
        .map(|e| e.env.clone().unwrap())
        .collect();
    assert_eq!(
        envs,
        [
            ("LANG".to_string(), "C.UTF-8".to_string()),
            ("PS1".to_string(), "a=b|c\\d\ne \u{fc} \u{2603}".to_string())
        ]
    );
    let x11 = by_action(Action::X11Forward).next().unwrap();
    assert_eq!(
        (x11.outcome, x11.severity),
        (EventOutcome::Failure, Severity::Low)
    );
    let agents: Vec<_> = by_action(Action::AgentForward).collect();
    assert_eq!(agents[0].outcome, EventOutcome::Success);
    assert_eq!(agents[1].outcome, EventOutcome::Failure);
    assert_eq!(
        agents[1].reason.as_deref(),
        Some("administratively prohibited (agent forwarding disabled)")
    );
    assert_eq!(agents[1].origin_name(), Some("server"));
    let failed = by_action(Action::RequestFailed).next().unwrap();
    assert_eq!(failed.request.as_deref(), Some("nobody@example.com"));
    let sig = by_action(Action::Signal).next().unwrap();
    assert_eq!(sig.signal.as_ref().unwrap().name, "INT");
    let fwd = by_action(Action::TcpipForward)
        .next()
        .unwrap()
        .forward
        .clone()
        .unwrap();
    assert_eq!(
        (fwd.address.as_deref(), fwd.port),
        (Some("127.0.0.1"), Some(40000))
    );
    let cancel = by_action(Action::CancelTcpipForward).next().unwrap();
    assert_eq!(cancel.forward.as_ref().unwrap().port, Some(40000));
    let sl = by_action(Action::Streamlocal).next().unwrap();
    assert_eq!(sl.outcome, EventOutcome::Failure);
    let killed = by_action(Action::ExitSignal).next().unwrap();
    let s = killed.signal.as_ref().unwrap();
    assert_eq!(
        (s.name.as_str(), s.core_dumped, s.message.as_deref()),
        ("KILL", Some(false), Some("killed|by=admin\\now"))
    );
    assert_eq!(killed.outcome, EventOutcome::Failure);

    // A refused open has no close; an ONGOING trail neither.
    assert_eq!(actions(&evs, "1"), ["ssh-channel-open"]);
    let refused = evs
        .iter()
        .find(|e| e.channel_id.as_deref() == Some("1"))
        .unwrap();
    assert_eq!(refused.outcome, EventOutcome::Failure);
    assert_eq!(
        refused.reason.as_deref(),
        Some("connect failed (connect failed: Connection refused)")
    );
    let f = refused.forward.as_ref().unwrap();
    assert_eq!(
        (f.address.as_deref(), f.port, f.originator.as_deref()),
        (Some("intranet.example"), Some(443), Some("::1"))
    );
    assert_eq!(
        actions(&evs, "2"),
        [
            "ssh-channel-open",
            "ssh-subsystem",
            "ssh-stdin",
            "ssh-file-other",
            "ssh-stdout"
        ]
    );
    let sub = by_action(Action::Subsystem).next().unwrap();
    assert_eq!(sub.subsystem.as_deref(), Some("sftp"));
    // The SFTP channel's version exchange, a file record at the server's
    // answer (before the line of output that starts then).
    let init = by_action(Action::File(FileAction::Other)).next().unwrap();
    let f = init.file.as_ref().unwrap();
    assert_eq!((f.op.as_str(), f.path.as_deref()), ("init", None));
    assert_eq!(f.detail, "client version 3, server version 3");
}

#[test]
fn io_text_is_cut_at_a_character_boundary_with_a_flag() {
    let evs = records(TRICKY, true, &no_commands);
    let outs: Vec<_> = evs.iter().filter_map(|e| e.io.as_ref()).collect();
    let big = outs.iter().find(|io| io.len == 5000).unwrap();
    assert!(big.truncated);
    assert_eq!(big.kept, 4095, "the snowman at 4095..4098 is not split");
    assert_eq!(big.text, "x".repeat(4095));
    let first = outs
        .iter()
        .find(|io| io.offset == 0 && io.stream.name() == "stdout")
        .unwrap();
    // The prompt and the command echoed after it: one line of the screen.
    assert_eq!(first.text, "m\u{fc}ller@db:~$ ls");
    assert!(!first.truncated && first.line_end);
    assert!(!big.line_end, "the channel ended in the middle of it");
    let err = outs.iter().find(|io| io.stream.name() == "stderr").unwrap();
    assert!(err.text.contains("caf\u{e9}|=\\"));
    // Binary data is decoded lossily, never an error.
    let sftp: Vec<_> = evs
        .iter()
        .filter(|e| e.channel_id.as_deref() == Some("2") && e.io.is_some())
        .collect();
    assert_eq!(sftp.len(), 2);
    // Small limits.
    let tiny = SiemOptions {
        io_max_bytes: 2,
        ..opts(true)
    };
    let evs = records_with(TRICKY, tiny, &no_commands);
    let first = evs
        .iter()
        .filter(|e| e.channel_id.as_deref() == Some("0"))
        .find_map(|e| e.io.as_ref())
        .unwrap();
    assert_eq!(
        (first.text.as_str(), first.kept, first.truncated),
        ("m", 1, true)
    );
}

#[test]
fn without_metadata_records_still_come() {
    let evs = records("session.jsonl", true, &no_commands);
    assert_eq!(evs[0].action, Action::ConnectionStart);
    assert_eq!(evs[1].action, Action::ChannelOpen);
    assert!(evs.iter().all(|e| *e.conn == siem::ConnInfo::default()));
    let close = evs
        .iter()
        .find(|e| e.action == Action::ChannelClose)
        .unwrap();
    assert_eq!(
        close.severity,
        Severity::Informational,
        "no metadata is not a mismatch"
    );
    assert!(!close.session.as_ref().unwrap().integrity_ok);
    let ocsf = written(&evs[..1], SiemFormat::Ocsf);
    let v: serde_json::Value = serde_json::from_slice(&ocsf).unwrap();
    assert_eq!(v["device"]["name"], "unknown");
    assert_eq!(v["dst_endpoint"]["svc_name"], "ssh");
    assert!(v.get("src_endpoint").is_none());
}

#[test]
fn an_integrity_mismatch_raises_the_close_severity() {
    let evs = records(
        "conn-tampered/6f1c2b7e-0d3a-4c55-9e1f-2a3b4c5d6e7f",
        false,
        &no_commands,
    );
    let close = evs
        .iter()
        .rfind(|e| e.channel_id.as_deref() == Some("0"))
        .unwrap();
    assert_eq!(close.action, Action::ChannelClose);
    assert_eq!(close.severity, Severity::Medium);
    assert!(close.message.contains("UNCLEAN_CLOSE"), "{}", close.message);
}

/// The ECS 8.11 field reference (flat name -> type), vendored from the npm
/// package @elastic/ecs 8.11.5.
fn ecs_fields() -> BTreeMap<String, String> {
    let text = std::fs::read_to_string(testdata("siem/ecs-8.11-fields.tsv")).unwrap();
    text.lines()
        .filter(|l| !l.starts_with('#'))
        .map(|l| {
            let mut cols = l.split('\t');
            (
                cols.next().unwrap().to_string(),
                cols.next().unwrap().to_string(),
            )
        })
        .collect()
}

fn leaves(v: &serde_json::Value, prefix: &str, out: &mut Vec<(String, serde_json::Value)>) {
    match v {
        serde_json::Value::Object(m) => {
            for (k, v) in m {
                let p = if prefix.is_empty() {
                    k.clone()
                } else {
                    format!("{prefix}.{k}")
                };
                leaves(v, &p, out);
            }
        }
        serde_json::Value::Array(a) if a.iter().all(|x| x.is_object()) && !a.is_empty() => {
            for x in a {
                leaves(x, prefix, out);
            }
        }
        _ => out.push((prefix.to_string(), v.clone())),
    }
}

#[test]
fn every_ecs_field_is_in_the_official_reference() {
    let fields = ecs_fields();
    assert!(fields.len() > 1500, "the vendored reference is whole");
    let mut seen = BTreeSet::new();
    for name in [FIXTURE, TRICKY, "session.jsonl"] {
        let evs = records(name, true, &|_| {
            vec![command("2023-06-07T17:32:00.7645Z", "sudo -i", "uncertain")]
        });
        for line in written(&evs, SiemFormat::Ecs)
            .split(|&b| b == b'\n')
            .filter(|l| !l.is_empty())
        {
            let doc: serde_json::Value = serde_json::from_slice(line).unwrap();
            let mut flat = Vec::new();
            leaves(&doc, "", &mut flat);
            for (path, value) in flat {
                if path.starts_with("sshtrail.") {
                    continue;
                }
                let ty = fields
                    .get(&path)
                    .unwrap_or_else(|| panic!("{path} is not an ECS 8.11 field: {doc}"));
                let ok = match ty.as_str() {
                    "keyword" | "wildcard" | "match_only_text" | "constant_keyword" | "date"
                    | "ip" => {
                        value.is_string()
                            || value
                                .as_array()
                                .is_some_and(|a| a.iter().all(|x| x.is_string()))
                    }
                    "long" => value.is_i64() || value.is_u64(),
                    "boolean" => value.is_boolean(),
                    other => panic!("{path}: unexpected ECS type {other}"),
                };
                assert!(ok, "{path}={value} is not a {ty}");
                seen.insert(path);
            }
        }
    }
    for f in [
        "@timestamp",
        "event.kind",
        "event.category",
        "event.type",
        "event.action",
        "event.outcome",
        "event.dataset",
        "event.module",
        "event.duration",
        "user.name",
        "host.name",
        "destination.address",
        "destination.ip",
        "destination.domain",
        "source.ip",
        "process.command_line",
        "process.args",
        "process.interactive",
        "process.exit_code",
        "process.io.text",
        "related.user",
        "related.ip",
        "tags",
    ] {
        assert!(seen.contains(f), "no record has {f}");
    }
}

#[test]
fn cef_lines_have_eight_header_fields_and_escape_values() {
    let evs = records(TRICKY, true, &|_| {
        vec![command(
            "2024-02-29T23:00:00.2Z",
            "echo a|b=c\\d\nü",
            "exact",
        )]
    });
    let out = String::from_utf8(written(&evs, SiemFormat::Cef)).unwrap();
    for line in out.lines() {
        assert!(
            line.starts_with("CEF:0|sshtrail|sshtrail|0.1.0|ssh-"),
            "{line}"
        );
        // The split check.sh does: on pipes not preceded by a backslash.
        let mut parts = 1;
        let b = line.as_bytes();
        for i in 0..b.len() {
            if b[i] == b'|' && (i == 0 || b[i - 1] != b'\\') && parts < 8 {
                parts += 1;
            }
        }
        assert_eq!(parts, 8, "{line}");
        assert!(!line.contains('\n') && !line.contains('\r'));
    }
    assert!(
        out.contains(r"cs6Label=command cs6=echo a|b\=c\\d\nü"),
        "{out}"
    );
    assert!(out.contains(r"suser=Jörg|ops\=admin\\x"), "{out}");
    assert!(out.contains(r"cs3=prod|eu,pci\=yes,line\nbreak"), "{out}");
    // A header value with a pipe or backslash is escaped.
    let mut ev = evs
        .iter()
        .find(|e| e.action == Action::ChannelOpen)
        .unwrap()
        .clone();
    ev.product_version = "1|2\\3";
    let mut line = Vec::new();
    siem::write(SiemFormat::Cef, &ev, &mut line);
    assert!(line.starts_with(br"CEF:0|sshtrail|sshtrail|1\|2\\3|ssh-channel-open|"));
}

#[test]
fn hec_envelopes_carry_time_host_source_and_event() {
    let evs = records(FIXTURE, false, &no_commands);
    let out = written(&evs, SiemFormat::Hec);
    let first = out.split(|&b| b == b'\n').next().unwrap();
    assert!(first.starts_with(b"{\"time\":1686159120.000000,\"host\":\"db-prod-01\",\"source\":\"sshtrail\",\"sourcetype\":\"sshtrail:ssh\",\"event\":{"));
    let mut n = 0;
    for v in serde_json::Deserializer::from_slice(&out).into_iter::<serde_json::Value>() {
        let v = v.unwrap();
        assert!(v["time"].is_f64() && v["event"].is_object());
        n += 1;
    }
    assert_eq!(n, evs.len());
}

#[test]
fn ocsf_events_carry_the_required_attributes() {
    let evs = records(TRICKY, true, &|_| {
        vec![command("2024-02-29T23:00:00.2Z", "id", "exact")]
    });
    let mut classes = BTreeSet::new();
    for line in written(&evs, SiemFormat::Ocsf)
        .split(|&b| b == b'\n')
        .filter(|l| !l.is_empty())
    {
        let v: serde_json::Value = serde_json::from_slice(line).unwrap();
        let class = v["class_uid"].as_u64().unwrap();
        let activity = v["activity_id"].as_u64().unwrap();
        classes.insert((class, activity));
        assert_eq!(v["type_uid"].as_u64().unwrap(), class * 100 + activity);
        assert_eq!(v["metadata"]["product"]["name"], "sshtrail");
        assert_eq!(v["metadata"]["version"], "1.3.0");
        assert!(v["time"].is_i64() && v["severity_id"].is_u64() && v["category_uid"].is_u64());
        assert_eq!(v["actor"]["user"]["name"], "J\u{f6}rg|ops=admin\\x");
        if class == 4007 {
            assert_eq!(v["dst_endpoint"]["hostname"], "db-01.internal.example");
            assert_eq!(v["src_endpoint"]["ip"], "2001:db8::7");
        }
    }
    // Open, refuse, close, listen, traffic, other; launch, terminate.
    for c in [
        (4007, 1),
        (4007, 2),
        (4007, 5),
        (4007, 6),
        (4007, 7),
        (4007, 99),
        (1007, 1),
        (1007, 2),
    ] {
        assert!(classes.contains(&c), "no {c:?} in {classes:?}");
    }
}

#[test]
fn an_ongoing_channel_has_no_close_and_paths_do_not_matter() {
    // The same logs read from a copy elsewhere give the same records.
    let evs = records(TRICKY, false, &no_commands);
    assert!(!evs
        .iter()
        .any(|e| e.channel_id.as_deref() == Some("2") && e.action == Action::ChannelClose));
    assert!(Path::new(&testdata(TRICKY))
        .join("connection.json")
        .is_file());
}

#[test]
fn a_connections_records_are_in_time_order_across_its_channels() {
    // Three channels in three logs, read side by side: one stream in time
    // order, channels in order of their ids at equal times.
    let evs = records(FIXTURE, true, &no_commands);
    assert!(
        evs.windows(2).all(|w| w[0].ts <= w[1].ts),
        "out of time order"
    );
    let channels: BTreeSet<&str> = evs.iter().filter_map(|e| e.channel_id.as_deref()).collect();
    assert_eq!(channels.len(), 3);
    for w in evs.windows(2) {
        if w[0].ts == w[1].ts && w[0].channel_id != w[1].channel_id {
            assert!(w[0].channel_id < w[1].channel_id, "ties by channel id");
        }
    }
}

/// `ssh -N -L` recorded through a relay: the connection's global requests
/// are logged apart as a pseudo-channel `global`, which is no channel: no
/// open, no close.
#[test]
fn global_requests_get_no_channel_open_or_close() {
    let (_dir, conn) =
        common::real_connection("56461fdd-d065-4ddb-b56c-a3ea79593e58", "jsonl", true);
    let evs = records_in(&conn, opts(false), &no_commands);
    assert_eq!(actions(&evs, "global"), Vec::<&str>::new());
    for ch in ["1", "1-2"] {
        let a = actions(&evs, ch);
        assert_eq!(a.first(), Some(&"ssh-channel-open"), "{ch}");
        assert_eq!(a.last(), Some(&"ssh-channel-close"), "{ch}");
    }
    // Its requests still make records where they mean something: a remote
    // forward asked for (`ssh -R`, taken from another real recording).
    let agent = std::fs::read_to_string(testdata(
        "realtrail/971de967-6278-4d94-8056-bb57e6f8c6f7/0.jsonl",
    ))
    .unwrap();
    let lines: Vec<&str> = agent.lines().collect();
    assert!(
        lines[0].contains("forward-global-request") && lines[4].contains("reverse-global-reply")
    );
    std::fs::write(
        conn.join("global.jsonl"),
        format!("{}\n{}\n{}\n", lines[0], lines[1], lines[4]),
    )
    .unwrap();
    let evs = records_in(&conn, opts(false), &no_commands);
    assert_eq!(actions(&evs, "global"), ["ssh-tcpip-forward"]);
    let fwd = evs
        .iter()
        .find(|e| e.channel_id.as_deref() == Some("global"))
        .unwrap();
    assert_eq!(fwd.outcome, EventOutcome::Success);
    let f = fwd.forward.as_ref().unwrap();
    assert_eq!(
        (f.address.as_deref(), f.port),
        (Some("127.0.0.1"), Some(19090))
    );
}

const SHELL_EDITOR: &str = "1c0eb6a5-9524-455b-bc54-0e310f597329";

/// A real shell session resized from 90x28 to 110x34 while vim ran: each
/// record with a terminal has the size in force at its time.
#[test]
fn records_carry_the_terminal_size_in_force() {
    let (_dir, conn) = common::real_connection(SHELL_EDITOR, "jsonl", true);
    let resize = parse_rfc3339(b"2026-12-01T00:38:38.891569Z", false).unwrap();
    let evs = records_in(
        &conn,
        SiemOptions {
            recognize_commands: true,
            ..opts(true)
        },
        &no_commands,
    );
    let mut sizes = BTreeSet::new();
    for e in evs.iter().filter(|e| e.pty.is_some()) {
        let p = e.pty.as_ref().unwrap();
        let want = if e.ts < resize { (90, 28) } else { (110, 34) };
        assert_eq!(
            (p.cols, p.rows),
            want,
            "{} at {}",
            e.action.name(),
            e.ts_text
        );
        sizes.insert(want);
    }
    assert_eq!(sizes.len(), 2, "records before and after the resize");
    let after: Vec<SiemEvent> = evs
        .iter()
        .filter(|e| e.action == Action::Command && e.ts > resize)
        .cloned()
        .collect();
    assert!(!after.is_empty());
    let ecs = String::from_utf8(written(&after, SiemFormat::Ecs)).unwrap();
    assert!(
        ecs.contains("\"tty\":{\"columns\":110,\"rows\":34}"),
        "{ecs}"
    );
    let ocsf = String::from_utf8(written(&after, SiemFormat::Ocsf)).unwrap();
    assert!(
        ocsf.contains("\"pty\":{\"columns\":110,\"rows\":34,"),
        "{ocsf}"
    );
}

/// The same real session cut off mid-session (mid-line, and at a line
/// end before the shell exited): its close is a failure that says why.
#[test]
fn a_cut_off_log_closes_with_a_failure_and_the_reason() {
    let whole = records_in(
        &common::real_connection(SHELL_EDITOR, "jsonl", false).1,
        opts(false),
        &no_commands,
    );
    let close = whole
        .iter()
        .find(|e| e.action == Action::ChannelClose)
        .unwrap();
    assert_eq!(
        (close.outcome, close.reason.as_deref()),
        (EventOutcome::Success, None)
    );

    let (_dir, conn) = common::real_connection(SHELL_EDITOR, "jsonl", false);
    let log = std::fs::read(conn.join("0.jsonl")).unwrap();
    let lines: Vec<&[u8]> = log.split_inclusive(|&b| b == b'\n').collect();
    let kept = lines.len() * 2 / 3;
    let mut cut = lines[..kept].concat();
    cut.extend_from_slice(&lines[kept][..lines[kept].len() / 2]);
    std::fs::write(conn.join("0.jsonl"), &cut).unwrap();
    let evs = records_in(&conn, opts(false), &no_commands);
    let close = evs.iter().rfind(|e| e.channel_id.is_some()).unwrap();
    assert_eq!(close.action, Action::ChannelClose);
    assert_eq!(close.outcome, EventOutcome::Failure);
    assert_eq!(
        close.reason.as_deref(),
        Some("the log's last line is cut off; no exit status or signal: the log stops before the remote process ended")
    );
    assert!(
        close
            .message
            .contains("; cut off: the log's last line is cut off"),
        "{}",
        close.message
    );

    // Cut at a line end: only the missing exit tells.
    std::fs::write(conn.join("0.jsonl"), lines[..kept].concat()).unwrap();
    let evs = records_in(&conn, opts(false), &no_commands);
    let close = evs.iter().rfind(|e| e.channel_id.is_some()).unwrap();
    assert_eq!(
        (close.action, close.outcome),
        (Action::ChannelClose, EventOutcome::Failure)
    );
    assert_eq!(
        close.reason.as_deref(),
        Some("no exit status or signal: the log stops before the remote process ended")
    );
    let ecs = String::from_utf8(written(std::slice::from_ref(close), SiemFormat::Ecs)).unwrap();
    assert!(
        ecs.contains("\"outcome\":\"failure\"") && ecs.contains("\"reason\":\"no exit status"),
        "{ecs}"
    );
}

/// The real `-L` recording: the connection itself has a start and an end
/// record, from connection.json, and from the logs without it.
#[test]
fn the_connection_has_start_and_end_records() {
    let (_dir, conn) =
        common::real_connection("56461fdd-d065-4ddb-b56c-a3ea79593e58", "jsonl", true);
    let evs = records_in(&conn, opts(false), &no_commands);
    let (start, end) = (&evs[0], evs.last().unwrap());
    assert_eq!(
        (start.action, end.action),
        (Action::ConnectionStart, Action::ConnectionEnd)
    );
    assert_eq!(
        evs.iter()
            .filter(|e| e.channel_id.is_none())
            .map(|e| (e.action.name(), e.seq, e.id.as_str()))
            .collect::<Vec<_>>(),
        [
            (
                "ssh-connection-start",
                0,
                "56461fdd-d065-4ddb-b56c-a3ea79593e58/connection-start"
            ),
            (
                "ssh-connection-end",
                1,
                "56461fdd-d065-4ddb-b56c-a3ea79593e58/connection-end"
            )
        ]
    );
    assert_eq!(start.ts_text, "2026-12-01T00:38:47.729117Z", "connected");
    assert_eq!(end.ts_text, "2026-12-01T00:38:50.865549Z", "disconnected");
    assert_eq!(
        start.message,
        "connection of trailuser@realtrail.test from 127.0.0.1 to trailuser@realtrail-sshd (127.0.0.1) authenticated by PUBLICKEY"
    );
    let c = &start.conn;
    assert_eq!(
        (
            c.user.as_deref(),
            c.remote_address.as_deref(),
            c.host.as_deref(),
            c.host_address.as_deref(),
            c.account.as_deref()
        ),
        (
            Some("trailuser@realtrail.test"),
            Some("127.0.0.1"),
            Some("realtrail-sshd"),
            Some("127.0.0.1"),
            Some("trailuser")
        )
    );
    assert_eq!(c.authentication_method, ["PUBLICKEY"]);
    let f = end.connection.as_ref().unwrap();
    assert_eq!(f.duration(), Some(3_136_432_000));
    assert_eq!(
        (f.bytes_client_to_server, f.bytes_server_to_client),
        (Some(34), Some(34))
    );
    assert_eq!(
        (f.status.as_deref(), f.channels),
        (Some("DISCONNECTED"), Some(2))
    );
    assert_eq!(end.outcome, EventOutcome::Success);
    // Each format says it.
    let pair = [start.clone(), end.clone()];
    let ecs = String::from_utf8(written(&pair, SiemFormat::Ecs)).unwrap();
    let docs: Vec<serde_json::Value> = ecs
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(docs[0]["event"]["action"], "ssh-connection-start");
    assert_eq!(docs[1]["event"]["duration"], 3_136_432_000_i64);
    assert_eq!(docs[1]["source"]["bytes"], 34);
    assert_eq!(docs[1]["sshtrail"]["connection"]["status"], "DISCONNECTED");
    assert!(docs[1]["sshtrail"].get("channel_id").is_none());
    let ocsf = String::from_utf8(written(&pair, SiemFormat::Ocsf)).unwrap();
    let docs: Vec<serde_json::Value> = ocsf
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(
        (
            docs[0]["class_uid"].as_u64(),
            docs[0]["activity_id"].as_u64()
        ),
        (Some(4007), Some(1))
    );
    assert_eq!(
        (
            docs[1]["class_uid"].as_u64(),
            docs[1]["activity_id"].as_u64()
        ),
        (Some(4007), Some(2))
    );
    assert_eq!(docs[1]["traffic"]["bytes_out"], 34);
    assert_eq!(docs[1]["auth_type"], "Public Key");
    let cef = String::from_utf8(written(&pair, SiemFormat::Cef)).unwrap();
    assert!(
        cef.contains("|ssh-connection-end|SSH connection end|1|")
            && cef.contains(" in=34 out=34")
            && cef.contains("cn2=3136"),
        "{cef}"
    );
    let hec = String::from_utf8(written(&pair, SiemFormat::Hec)).unwrap();
    assert!(
        hec.contains("\"action\":\"ssh-connection-end\"") && hec.contains("\"duration_ms\":3136"),
        "{hec}"
    );

    // Without metadata: what the logs tell.
    let (_dir, conn) =
        common::real_connection("56461fdd-d065-4ddb-b56c-a3ea79593e58", "hex", false);
    let evs = records_in(&conn, opts(false), &no_commands);
    let (start, end) = (&evs[0], evs.last().unwrap());
    assert_eq!(start.action, Action::ConnectionStart);
    assert_eq!(
        start.ts_text, "2026-12-01T00:38:47.806617Z",
        "the first event"
    );
    assert_eq!(end.ts_text, "2026-12-01T00:38:48.841211Z", "the last event");
    let f = end.connection.as_ref().unwrap();
    assert_eq!(
        (
            f.bytes_client_to_server,
            f.bytes_server_to_client,
            f.status.as_deref(),
            f.channels
        ),
        (Some(34), Some(34), None, Some(2))
    );
}
