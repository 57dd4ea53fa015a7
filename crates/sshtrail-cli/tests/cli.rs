//! The `sshtrail` binary end to end: outputs, messages and exit statuses.

mod common;
use common::{sshtrail, testdata};

use std::io::Write;
use std::process::{Command, Output, Stdio};

fn sshtrail_stdin(args: &[&str], input: &[u8]) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_sshtrail"))
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    let input = input.to_vec();
    let writer = std::thread::spawn(move || {
        let _ = stdin.write_all(&input);
    });
    let out = child.wait_with_output().unwrap();
    writer.join().unwrap();
    out
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

#[test]
fn raw_streams_from_every_layout_and_stdin() {
    for input in [
        "session.jsonl",
        "session.hex",
        "session.hexdump",
        "variant.jsonl",
        "variant.hex",
    ] {
        for stream in ["stdin", "stdout", "stderr"] {
            let want = std::fs::read(testdata(&format!("session.{stream}.bin"))).unwrap();
            let o = sshtrail(&["cat", "--filter", stream, "--to", "raw", &testdata(input)]);
            assert_eq!(o.status.code(), Some(0), "{input}: {}", stderr(&o));
            assert_eq!(o.stdout, want, "{input} {stream}");
            let o = sshtrail_stdin(
                &["cat", "--filter", stream, "--to", "raw", "-"],
                &std::fs::read(testdata(input)).unwrap(),
            );
            assert_eq!(o.status.code(), Some(0), "{input}: {}", stderr(&o));
            assert_eq!(o.stdout, want, "stdin {input} {stream}");
        }
    }
}

#[test]
fn conversions_match_the_golden_files() {
    let jsonl = std::fs::read(testdata("session.jsonl")).unwrap();
    let hex = std::fs::read(testdata("session.hex")).unwrap();
    let dump = std::fs::read(testdata("session.hexdump")).unwrap();
    assert_eq!(
        sshtrail(&["cat", "--to", "jsonl", &testdata("session.jsonl")]).stdout,
        jsonl
    );
    assert_eq!(
        sshtrail(&["cat", "--to", "hex", &testdata("session.jsonl")]).stdout,
        hex
    );
    assert_eq!(
        sshtrail(&["cat", "--to", "hexdump", &testdata("session.jsonl")]).stdout,
        dump
    );
    assert_eq!(
        sshtrail(&["cat", "--to", "jsonl", &testdata("session.hexdump")]).stdout,
        jsonl
    );
    assert_eq!(
        sshtrail(&[
            "cat",
            "--to",
            "jsonl",
            "--format",
            "hex",
            &testdata("session.hex")
        ])
        .stdout,
        jsonl
    );
}

#[test]
fn every_bad_file_is_reported_as_path_line_column() {
    let expect = std::fs::read_to_string(testdata("bad/EXPECT.tsv")).unwrap();
    for row in expect.lines() {
        let cols: Vec<&str> = row.split('\t').collect();
        let path = testdata(&format!("bad/{}", cols[0]));
        let o = sshtrail(&["cat", "--to", "raw", &path]);
        let err = stderr(&o);
        let level = if cols[2] == "warn" {
            "warning"
        } else {
            "error"
        };
        let prefix = format!("{path}:{}:", cols[1]);
        let line = err
            .lines()
            .find(|l| l.starts_with(&prefix))
            .unwrap_or_else(|| panic!("{path}: no {prefix} in {err}"));
        let rest = &line[prefix.len()..];
        let (col, msg) = rest.split_once(": ").unwrap();
        assert!(col.parse::<u64>().unwrap() >= 1, "{line}");
        assert!(msg.starts_with(&format!("{level}: ")), "{line}");
        assert!(
            msg.contains("expected") || msg.contains("does not exist") || msg.contains("duplicate"),
            "message says what was expected: {line}"
        );
        assert_eq!(
            o.status.code(),
            Some(if level == "warning" { 0 } else { 1 }),
            "{path}"
        );
        assert!(!err.contains("panicked"));
    }
}

#[test]
fn stop_keeps_what_was_written_and_skip_reports_every_bad_line() {
    let bad = testdata("bad/bad-base64.jsonl");
    let good = testdata("session.jsonl");
    // Stop (the default): everything before the bad line is written.
    let o = sshtrail(&["cat", "--to", "jsonl", &bad, &good]);
    assert_eq!(o.status.code(), Some(1));
    assert_eq!(o.stdout.iter().filter(|&&c| c == b'\n').count(), 6);
    assert_eq!(stderr(&o).lines().count(), 1, "{}", stderr(&o));
    // Skip: both bad files are reported, every good event is written.
    let bad2 = testdata("bad/odd-hex.hex");
    let o = sshtrail(&[
        "cat",
        "--to",
        "jsonl",
        "--on-error",
        "skip",
        &bad,
        &bad2,
        &good,
    ]);
    assert_eq!(o.status.code(), Some(1));
    let err = stderr(&o);
    assert!(
        err.contains(&format!("{bad}:7:")) && err.contains(&format!("{bad2}:5:")),
        "{err}"
    );
    let events = std::fs::read_to_string(testdata("session.jsonl"))
        .unwrap()
        .lines()
        .count();
    assert_eq!(o.stdout.iter().filter(|&&c| c == b'\n').count(), events * 3);
}

#[test]
fn stats_json_counts_every_type() {
    let o = sshtrail(&["stats", "--json", &testdata("session.jsonl")]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let text = std::fs::read_to_string(testdata("session.jsonl")).unwrap();
    assert_eq!(v["events"], text.lines().count());
    assert_eq!(
        v["by_type"]["stdout"]["bytes"],
        std::fs::read(testdata("session.stdout.bin")).unwrap().len()
    );
    assert_eq!(
        v["by_type"]["stdin"]["events"],
        text.lines().filter(|l| l.contains("\"stdin\"")).count()
    );
    assert_eq!(v["by_type"]["session-note"]["events"], 1);
    assert_eq!(v["first_ts"], "2023-06-07T17:32:00.001000Z");
    assert!(v["duration_s"].as_f64().unwrap() > 1.0);
    assert_eq!(v["backwards_steps"], 0);
    assert_eq!(v["warnings"], 0);
    assert_eq!(v["errors"], 0);
    let o = sshtrail(&[
        "stats",
        "--json",
        &testdata("bad/truncated.jsonl"),
        &testdata("bad/bad-ts.jsonl"),
    ]);
    assert_eq!(o.status.code(), Some(1));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(
        (v["warnings"].as_u64(), v["errors"].as_u64()),
        (Some(1), Some(1))
    );
    let table = String::from_utf8(sshtrail(&["stats", &testdata("session.hex")]).stdout).unwrap();
    assert!(
        table.contains("stdout") && table.contains("backwards steps"),
        "{table}"
    );
}

#[test]
fn usage_errors_exit_2() {
    for args in [
        &["cat"][..],
        &["cat", "--to", "yaml", "x"],
        &["cat", "--filter", "stdin,,stdout", "x"],
        &["nope"],
        &["stats", "--on-error", "maybe", "x"],
    ] {
        let o = sshtrail(args);
        assert_eq!(o.status.code(), Some(2), "{args:?}: {}", stderr(&o));
    }
    let help = sshtrail(&["cat", "--help"]);
    assert_eq!(help.status.code(), Some(0));
    assert!(String::from_utf8_lossy(&help.stdout).contains("Examples:"));
}

#[test]
fn unknown_filter_names_warn_with_a_hint() {
    let o = sshtrail(&[
        "cat",
        "--filter",
        "stdn,session-note",
        "--to",
        "jsonl",
        &testdata("session.jsonl"),
    ]);
    assert_eq!(o.status.code(), Some(0));
    let err = stderr(&o);
    assert!(
        err.contains("\"stdn\"") && err.contains("did you mean \"stdin\""),
        "{err}"
    );
    // The unknown type is still filterable.
    assert_eq!(String::from_utf8(o.stdout).unwrap().lines().count(), 1);
}

#[test]
fn inputs_that_cannot_be_read() {
    let dir = testdata("bad");
    let o = sshtrail(&["cat", &dir]);
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).contains("is a directory"), "{}", stderr(&o));
    let o = sshtrail(&["cat", "/nonexistent/trail.jsonl"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(
        stderr(&o).starts_with("/nonexistent/trail.jsonl: error:"),
        "{}",
        stderr(&o)
    );
}

#[test]
fn hex_output_warns_when_extras_are_dropped() {
    let o = sshtrail(&["cat", "--to", "hex", &testdata("variant.jsonl")]);
    assert_eq!(o.status.code(), Some(0));
    assert!(stderr(&o).contains("\"command\""), "{}", stderr(&o));
    let o = sshtrail(&["cat", "--to", "hex", &testdata("session.jsonl")]);
    assert!(o.stderr.is_empty());
}

#[test]
fn pretty_listing_shows_time_type_length_and_text() {
    let o = sshtrail(&["cat", &testdata("session.jsonl")]);
    assert_eq!(o.status.code(), Some(0));
    let text = String::from_utf8(o.stdout).unwrap();
    let line = text
        .lines()
        .find(|l| l.contains("bash: f: command not found"))
        .unwrap();
    assert!(line.starts_with("2023-06-07T17:32:"), "{line}");
    assert!(
        line.contains(" stderr ") && line.contains(" 28 ") && line.ends_with("found\\r\\n"),
        "{line}"
    );
}

#[test]
fn a_closed_pipe_is_not_an_error() {
    let mut child = Command::new(env!("CARGO_BIN_EXE_sshtrail"))
        .args([
            "cat",
            "--to",
            "hexdump",
            &testdata("session.jsonl"),
            &testdata("session.jsonl"),
            &testdata("session.jsonl"),
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    drop(child.stdout.take());
    let o = child.wait_with_output().unwrap();
    assert!(!stderr(&o).contains("panicked"), "{}", stderr(&o));
    assert_eq!(o.status.code(), Some(0));
}
