//! One log read on several threads (`cat -j`, `stats -j`, `convert -j`):
//! the same output bytes, the same messages and the same exit status as on
//! one thread, wherever the blocks are cut. Small blocks (the hidden
//! `--block-size`) give small logs many blocks.

mod common;

use std::path::{Path, PathBuf};

use common::{sshtrail, testdata_path};

/// A jsonl log of `lines` events: keystrokes, echoes, output of every
/// size, other types, extra keys and a clock that steps back now and then;
/// the lines in `bad` are malformed.
fn generated(lines: usize, bad: &[usize]) -> String {
    let mut log = String::new();
    let mut state: u64 = 0x9e37_79b9_7f4a_7c15;
    for n in 1..=lines {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        // Every 97th event is a second earlier than the one before.
        let second = if n.is_multiple_of(97) {
            n / 10
        } else {
            n / 10 + 1
        };
        let ts = format!(
            "2023-06-07T17:{:02}:{:02}.{:06}Z",
            (second / 60) % 60,
            second % 60,
            n % 1_000_000
        );
        if bad.contains(&n) {
            log.push_str(&format!(
                "{{\"type\":\"stdout\",\"ts\":\"{ts}\",\"data\":\"@@@\"}}\n"
            ));
            continue;
        }
        let len = match state % 10 {
            0..=5 => 1 + (state % 3) as usize,
            6..=8 => 10 + (state % 200) as usize,
            _ => 1000 + (state % 3000) as usize,
        };
        let data: Vec<u8> = (0..len).map(|i| (state as usize + i) as u8).collect();
        let data = base64::Engine::encode(&base64::engine::general_purpose::STANDARD, data);
        let kind = match state % 16 {
            0..=5 => "stdin",
            6..=12 => "stdout",
            13 => "stderr",
            14 => "x-session-note",
            _ => "forward-request",
        };
        if state.is_multiple_of(50) {
            log.push_str(&format!(
                "{{\"type\":\"{kind}\",\"ts\":\"{ts}\",\"data\":\"{data}\",\"who\":\"op{n}\"}}\n"
            ));
        } else {
            log.push_str(&format!(
                "{{\"type\":\"{kind}\",\"ts\":\"{ts}\",\"data\":\"{data}\"}}\n"
            ));
        }
    }
    log
}

/// Writes `log` as `name` in a new folder.
fn keep(dir: &Path, name: &str, log: &str) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, log).unwrap();
    path
}

/// Standard output, standard error and exit status of `sshtrail ARGS`.
fn run(args: &[&str]) -> (Vec<u8>, String, Option<i32>) {
    let out = sshtrail(args);
    (
        out.stdout,
        String::from_utf8_lossy(&out.stderr).into_owned(),
        out.status.code(),
    )
}

/// `sshtrail COMMAND... -j N [--block-size B] LOG` gives what `-j 1` gives,
/// for several thread counts and block sizes; that result.
fn same_on_any_threads(command: &[&str], log: &Path) -> (Vec<u8>, String, Option<i32>) {
    let log = log.to_str().unwrap();
    let with = |extra: &[&str]| {
        let mut args = command.to_vec();
        args.extend_from_slice(extra);
        args.push(log);
        run(&args)
    };
    let one = with(&["-j", "1"]);
    for (threads, block) in [("2", "4096"), ("4", "1000"), ("2", "333"), ("3", "65536")] {
        let other = with(&["-j", threads, "--block-size", block]);
        assert!(
            one == other,
            "{command:?} -j {threads} --block-size {block} {log}: differs from -j 1\nstderr -j 1: {}\nstderr -j {threads}: {}",
            one.1,
            other.1
        );
    }
    // The default split (one thread a core, logs of a few MiB and up).
    assert!(with(&[]) == one, "{command:?} {log} by default");
    one
}

const CAT_OUTPUTS: [&[&str]; 7] = [
    &["cat", "--to", "jsonl"],
    &["cat", "--to", "hex"],
    &["cat", "--to", "raw"],
    &["cat", "--to", "pretty"],
    &["cat", "--to", "hexdump"],
    &["cat", "--filter", "stdout", "--to", "raw"],
    &["cat", "--filter", "stdin,x-session-note", "--to", "hex"],
];

const STATS: [&[&str]; 3] = [
    &["stats", "--json"],
    &["stats"],
    &["stats", "--json", "--filter", "stdout"],
];

#[test]
fn cat_and_stats_of_a_generated_log_are_the_same_on_any_number_of_threads() {
    let dir = tempfile::tempdir().unwrap();
    let jsonl = keep(dir.path(), "big.jsonl", &generated(3000, &[]));
    let (hex, _, status) = run(&["cat", "--to", "hex", "-j", "1", jsonl.to_str().unwrap()]);
    assert_eq!(status, Some(0));
    let hex = keep(dir.path(), "big.hex", &String::from_utf8(hex).unwrap());
    for log in [&jsonl, &hex] {
        for command in CAT_OUTPUTS.iter().chain(&STATS) {
            let (out, _, status) = same_on_any_threads(command, log);
            assert_eq!(status, Some(0), "{command:?} {}", log.display());
            assert!(!out.is_empty());
        }
    }
    let (stats, _, _) = run(&["stats", "--json", "-j", "1", jsonl.to_str().unwrap()]);
    let stats: serde_json::Value = serde_json::from_slice(&stats).unwrap();
    assert_eq!(stats["events"], 3000);
    assert!(stats["backwards_steps"].as_u64().unwrap() >= 20, "{stats}");
}

#[test]
fn real_sessions_are_the_same_on_any_number_of_threads() {
    let mut logs: Vec<PathBuf> = [
        "session.jsonl",
        "session.hex",
        "session.hexdump",
        "variant.jsonl",
        "variant.hex",
    ]
    .iter()
    .map(|n| testdata_path(n))
    .collect();
    for entry in walk(&testdata_path("realtrail")) {
        let name = entry.to_string_lossy();
        if name.ends_with(".jsonl") || name.ends_with(".hex") {
            logs.push(entry);
        }
    }
    assert!(logs.len() > 8, "{logs:?}");
    for log in &logs {
        for command in CAT_OUTPUTS.iter().chain(&STATS) {
            same_on_any_threads(command, log);
        }
    }
}

/// Every file under `dir`.
fn walk(dir: &Path) -> Vec<PathBuf> {
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            files.extend(walk(&path));
        } else {
            files.push(path);
        }
    }
    files.sort();
    files
}

#[test]
fn a_bad_line_in_a_later_block_is_reported_where_it_is() {
    let dir = tempfile::tempdir().unwrap();
    let log = keep(dir.path(), "bad.jsonl", &generated(3000, &[2500, 2700]));
    let name = log.to_str().unwrap();
    // At 1000-byte blocks line 2500 is hundreds of blocks in.
    let at = format!("{name}:2500:");
    for command in [
        &["cat", "--to", "jsonl"][..],
        &["cat", "--to", "raw", "--on-error", "skip"],
        &["cat", "--to", "hex", "--on-error", "stop"],
        &["stats", "--json"],
        &["stats", "--on-error", "stop"],
    ] {
        let (out, err, status) = same_on_any_threads(command, &log);
        assert_eq!(status, Some(1), "{command:?}: {err}");
        assert!(err.contains(&at), "{command:?}: {err}");
        let later = format!("{name}:2700:");
        let skips = command.contains(&"skip") || command == ["stats", "--json"];
        assert_eq!(err.contains(&later), skips, "{command:?}: {err}");
        if command == ["cat", "--to", "jsonl"] {
            // Everything before the bad line, nothing after it.
            let text = String::from_utf8(out).unwrap();
            assert_eq!(text.lines().count(), 2499);
        }
    }
}

#[test]
fn every_block_size_on_a_small_log_gives_one_pass() {
    let dir = tempfile::tempdir().unwrap();
    let mut text = generated(40, &[17]);
    // A cut-off last line: a warning.
    text.push_str("{\"type\":\"stdout\",\"ts\":\"2023-06");
    let log = keep(dir.path(), "small.jsonl", &text);
    let name = log.to_str().unwrap();
    let commands: [&[&str]; 3] = [
        &["cat", "--to", "jsonl", "--on-error", "skip"],
        &["cat", "--to", "jsonl"],
        &["stats", "--json"],
    ];
    for command in commands {
        let mut args = command.to_vec();
        args.extend(["-j", "1", name]);
        let one = run(&args);
        // Small sizes cut after each line in turn; the library's and the
        // splitter's own tests try every size on several layouts.
        for block in (1..150).chain((150..text.len() + 2).step_by(61)) {
            let block = block.to_string();
            let mut args = command.to_vec();
            args.extend(["-j", "2", "--block-size", &block, name]);
            assert!(run(&args) == one, "{command:?} at blocks of {block}");
        }
    }
}

#[test]
fn convert_of_one_large_log_is_the_same_on_any_number_of_threads() {
    let dir = tempfile::tempdir().unwrap();
    // Past the size from which one log is split (4 MiB).
    let good = keep(dir.path(), "good.jsonl", &generated(12_000, &[]));
    let bad = keep(dir.path(), "bad.jsonl", &generated(12_000, &[9000]));
    assert!(std::fs::metadata(&good).unwrap().len() > 5 << 20);
    for log in [&good, &bad] {
        for to in ["jsonl", "hex", "raw", "hexdump"] {
            let mut seen = Vec::new();
            for threads in ["1", "2", "4"] {
                let out = dir.path().join(format!("out-{to}"));
                let _ = std::fs::remove_file(&out);
                let result = run(&[
                    "convert",
                    log.to_str().unwrap(),
                    "--to",
                    to,
                    "-j",
                    threads,
                    "-o",
                    out.to_str().unwrap(),
                ]);
                let written = std::fs::read(&out).ok();
                seen.push((result, written));
            }
            assert!(
                seen.iter().all(|s| *s == seen[0]),
                "{} --to {to}: {:?}",
                log.display(),
                seen.iter().map(|s| &s.0 .1).collect::<Vec<_>>()
            );
        }
    }
}

#[test]
fn zero_threads_is_a_usage_error() {
    let log = testdata_path("session.jsonl");
    for command in ["cat", "stats"] {
        let (_, err, status) = run(&[command, "-j", "0", log.to_str().unwrap()]);
        assert_eq!(status, Some(2), "{err}");
        assert!(err.contains("-j"), "{err}");
    }
}
