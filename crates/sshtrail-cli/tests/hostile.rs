//! Hostile input through the `sshtrail` binary: huge lines through a file and
//! through standard input, SSH lengths claiming 4 GiB, deep JSON, NUL bytes,
//! bad UTF-8, mixed line ends, extreme timestamps, empty and blank files,
//! FIFOs, `/dev/stdin`, directories, and a file truncated while it is read.
//! Each case gets an exact result or an exact located message and exit
//! status; none may end in a panic or a signal.
//!
//! Peak memory is checked in `hostile_memory.rs`, a test binary of its own
//! (the `RUSAGE_CHILDREN` high-water mark is shared by every child of a
//! process).

mod common;
use common::testdata_path as testdata;

use std::fs;
use std::io::{Read, Write};
use std::os::unix::process::ExitStatusExt;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus, Output, Stdio};

const BIN: &str = env!("CARGO_BIN_EXE_sshtrail");

/// The error the streamed readers give for an event over 16 MiB.
const TOO_LONG: &str = "expected an event of at most 16777216 bytes, found a longer one (streamed input keeps one event in memory)";

/// A directory under the system temp dir, removed when dropped.
struct TempDir(PathBuf);

impl TempDir {
    fn new(name: &str) -> TempDir {
        let dir =
            std::env::temp_dir().join(format!("sshtrail-hostile-{}-{name}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(&dir).unwrap();
        TempDir(dir)
    }

    /// Writes `bytes` to `name` in the directory and returns its path.
    fn file(&self, name: &str, bytes: &[u8]) -> String {
        let path = self.0.join(name);
        fs::write(&path, bytes).unwrap();
        path.to_string_lossy().into_owned()
    }

    fn path(&self, name: &str) -> String {
        self.0.join(name).to_string_lossy().into_owned()
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.0);
    }
}

fn run(args: &[&str]) -> Output {
    Command::new(BIN).args(args).output().unwrap()
}

/// Runs with `input` written to standard input (a pipe) by a thread.
fn run_piped(args: &[&str], input: Vec<u8>) -> Output {
    let mut child = Command::new(BIN)
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    let writer = std::thread::spawn(move || {
        // The child may stop reading early (an error under --on-error stop).
        let _ = stdin.write_all(&input);
    });
    let out = child.wait_with_output().unwrap();
    writer.join().unwrap();
    out
}

/// Runs with standard input redirected from the file at `path`.
fn run_stdin_file(args: &[&str], path: &str) -> Output {
    Command::new(BIN)
        .args(args)
        .stdin(Stdio::from(fs::File::open(path).unwrap()))
        .output()
        .unwrap()
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// Asserts the process ended with `code` (not a signal) and the exact
/// standard error.
fn assert_status(o: &Output, code: i32, stderr: &str) {
    assert_no_signal(o.status);
    assert_eq!(text(&o.stderr), stderr, "stderr");
    assert_eq!(o.status.code(), Some(code), "exit status");
}

fn assert_no_signal(status: ExitStatus) {
    assert!(
        status.signal().is_none(),
        "killed by signal {:?}{}",
        status.signal(),
        if status.core_dumped() {
            " (core dumped)"
        } else {
            ""
        }
    );
}

fn stats_json(o: &Output) -> serde_json::Value {
    serde_json::from_slice(&o.stdout).unwrap_or_else(|e| panic!("{e}: {}", text(&o.stdout)))
}

// ---------------------------------------------------------------------------
// A single 100 MB line.

/// One small event, a 100 MB jsonl line (75 MB of payload), then the small
/// event again. (A first line with no end in 16 MiB is not a trail log at
/// all: attack.rs.)
fn huge_jsonl() -> (Vec<u8>, &'static str) {
    let small = "{\"type\":\"stdin\",\"ts\":\"2023-06-07T17:32:30Z\",\"data\":\"bA==\"}\n";
    let mut log = small.as_bytes().to_vec();
    log.extend_from_slice(b"{\"type\":\"stdout\",\"ts\":\"2023-06-07T17:32:29Z\",\"data\":\"");
    log.extend_from_slice(&b"bBtb".repeat(25_000_000));
    log.extend_from_slice(b"\"}\n");
    log.extend_from_slice(small.as_bytes());
    (log, small)
}

/// One small event, a 100 MB hex line (50 MB of payload), then the small
/// event again.
fn huge_hex() -> (Vec<u8>, &'static str) {
    let small = "2023-06-07T17:32:30Z stdin 6c\n";
    let mut log = small.as_bytes().to_vec();
    log.extend_from_slice(b"2023-06-07T17:32:29Z stdout ");
    log.extend_from_slice(&b"6c1b5b4b".repeat(12_500_000));
    log.extend_from_slice(b"\n");
    log.extend_from_slice(small.as_bytes());
    (log, small)
}

#[test]
fn a_100_mb_jsonl_line_is_a_located_error_from_a_file_and_from_stdin() {
    // (Through a pipe, with peak memory, in hostile_memory.rs.)
    let dir = TempDir::new("huge-jsonl");
    let (log, small) = huge_jsonl();
    let path = dir.file("huge.jsonl", &log);
    drop(log);
    let want_jsonl = small.repeat(2);
    // File path: the event is reported where it starts and skipped; the
    // next one is read.
    let o = run(&["cat", "--on-error", "skip", "--to", "jsonl", &path]);
    assert_status(&o, 1, &format!("{path}:2:1: error: {TOO_LONG}\n"));
    assert_eq!(text(&o.stdout), want_jsonl);
    // The default --on-error stop stops there.
    let o = run(&["cat", "--to", "raw", &path]);
    assert_status(&o, 1, &format!("{path}:2:1: error: {TOO_LONG}\n"));
    assert_eq!(o.stdout, b"l");
    // Standard input redirected from the file.
    let o = run_stdin_file(&["cat", "--on-error", "skip", "--to", "jsonl", "-"], &path);
    assert_status(&o, 1, &format!("<stdin>:2:1: error: {TOO_LONG}\n"));
    assert_eq!(text(&o.stdout), want_jsonl);
    // stats counts the error and the event after it.
    let o = run(&["stats", "--json", &path]);
    assert_eq!(o.status.code(), Some(1));
    let j = stats_json(&o);
    assert_eq!(
        (j["events"].as_u64(), j["errors"].as_u64()),
        (Some(2), Some(1))
    );
    assert_eq!(j["by_type"]["stdin"]["bytes"], 2);
}

#[test]
fn a_100_mb_hex_line_is_a_located_error_from_a_file_and_from_stdin() {
    // (Through a pipe, with peak memory, in hostile_memory.rs.)
    let dir = TempDir::new("huge-hex");
    let (log, small) = huge_hex();
    let path = dir.file("huge.hex", &log);
    drop(log);
    let o = run(&["cat", "--on-error", "skip", "--to", "hex", &path]);
    assert_status(&o, 1, &format!("{path}:2:1: error: {TOO_LONG}\n"));
    assert_eq!(text(&o.stdout), small.repeat(2));
    let o = run_stdin_file(&["cat", "--on-error", "skip", "--to", "hex", "-"], &path);
    assert_status(&o, 1, &format!("<stdin>:2:1: error: {TOO_LONG}\n"));
    assert_eq!(text(&o.stdout), small.repeat(2));
}

// ---------------------------------------------------------------------------
// SSH wire strings claiming 4 GiB.

#[test]
fn ssh_strings_claiming_4_gib_are_undecoded_not_allocated() {
    let dir = TempDir::new("ssh-4g");
    // CHANNEL_REQUEST whose request type claims 0xffffffff bytes; an exec
    // whose command does; GLOBAL_REQUEST hostkeys whose blob does; a
    // CHANNEL_OPEN whose type claims 0x80000000.
    let log = "2023-06-07T17:32:29Z forward-request 6200000000ffffffff65786563\n\
               2023-06-07T17:32:29Z forward-request 620000000000000004657865630100ffffff6c73\n\
               2023-06-07T17:32:29Z reverse-global-request 5000000017686f73746b6579732d3030406f70656e7373682e636f6d00ffffffff00\n\
               2023-06-07T17:32:29Z forward-new-channel-request 5a800000000000000000\n";
    let path = dir.file("0.hex", log.as_bytes());
    let o = run(&["cat", &path]);
    assert_status(&o, 0, "");
    let lines: Vec<String> = text(&o.stdout).lines().map(str::to_string).collect();
    assert_eq!(
        lines,
        [
            "2023-06-07T17:32:29Z  forward-request                 13  (undecoded)  b\\x00\\x00\\x00\\x00\\xff\\xff\\xff\\xffexec",
            "2023-06-07T17:32:29Z  forward-request                 20  (undecoded)  b\\x00\\x00\\x00\\x00\\x00\\x00\\x00\\x04exec\\x01\\x00\\xff\\xff\\xffls",
            "2023-06-07T17:32:29Z  reverse-global-request          34  (undecoded)  P\\x00\\x00\\x00\\x17hostkeys-00@openssh.com\\x00\\xff\\xff\\xff\\xff\\x00",
            "2023-06-07T17:32:29Z  forward-new-channel-request     10  (undecoded)  Z\\x80\\x00\\x00\\x00\\x00\\x00\\x00\\x00\\x00",
        ]
    );
    let o = run(&["inspect", "--json", &path]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o.stderr));
    let j: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let ch = &j["connections"][0]["channels"][0];
    assert_eq!(ch["undecoded"], 4);
    assert_eq!(ch["requests"].as_array().map(Vec::len), Some(0));
}

// ---------------------------------------------------------------------------
// Deep JSON.

#[test]
fn deeply_nested_extra_keys_are_a_located_error_not_a_stack_overflow() {
    let dir = TempDir::new("deep");
    let deep = format!(
        "{{\"type\":\"x\",\"ts\":\"2023-06-07T17:32:29Z\",\"x\":{}{}}}\n",
        "[".repeat(1_000_000),
        "]".repeat(1_000_000)
    );
    let ok128 = format!(
        "{{\"type\":\"y\",\"ts\":\"2023-06-07T17:32:29Z\",\"data\":\"\",\"x\":{}{}}}\n",
        "[".repeat(128),
        "]".repeat(128)
    );
    let path = dir.file("deep.jsonl", format!("{deep}{ok128}").as_bytes());
    let o = run(&["cat", "--on-error", "skip", "--to", "jsonl", &path]);
    // Column 173 is the 129th '['.
    assert_status(
        &o,
        1,
        &format!("{path}:1:173: error: JSON nested deeper than 128 levels\n"),
    );
    assert_eq!(text(&o.stdout), ok128, "128 levels are kept verbatim");
    // A connection JSON nested a million deep (inspect reads it).
    let conn = TempDir::new("deep-conn");
    let logdir = conn.0.join("c1");
    fs::create_dir(&logdir).unwrap();
    fs::write(
        logdir.join("connection.json"),
        format!(
            "{{\"id\":\"c1\",\"x\":{}{}}}",
            "[".repeat(1_000_000),
            "]".repeat(1_000_000)
        ),
    )
    .unwrap();
    fs::write(logdir.join("0.hex"), "2023-06-07T17:32:29Z stdin 6c\n").unwrap();
    let o = run(&["inspect", "--json", &logdir.to_string_lossy()]);
    assert_no_signal(o.status);
    let j: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(j["connections"][0]["channels"][0]["bytes"]["stdin"], 1);
}

// ---------------------------------------------------------------------------
// NUL bytes, overlong and surrogate UTF-8.

#[test]
fn nul_bytes_are_located_errors_or_kept_exactly() {
    let dir = TempDir::new("nul");
    let log = b"{\"type\":\"std\0in\",\"ts\":\"2023-06-07T17:32:29Z\"}\n\
{\"type\":\"stdin\",\"ts\":\"2023-06-07T17:32:29Z\",\"data\":\"bA\0=\"}\n\
{\"type\":\"std\\u0000in\",\"ts\":\"2023-06-07T17:32:29Z\",\"data\":\"AGwA\"}\n\
\0\n";
    let path = dir.file("nul.jsonl", log);
    let o = run(&["cat", "--on-error", "skip", "--to", "jsonl", &path]);
    assert_status(
        &o,
        1,
        &format!(
            "{path}:1:10: error: expected a character, found control byte 0x00 inside a string\n\
             {path}:2:55: error: bad base64: expected A-Z, a-z, 0-9, '+', '/' or '=' padding, found byte 0x00\n\
             {path}:4:1: error: expected '{{' (a JSON object), found byte 0x00\n"
        ),
    );
    // An escaped NUL in a type name is a legal (unknown) type, written back
    // escaped; the NUL bytes of the payload come out as they were.
    assert_eq!(
        text(&o.stdout),
        "{\"type\":\"std\\u0000in\",\"ts\":\"2023-06-07T17:32:29Z\",\"data\":\"AGwA\"}\n"
    );
    let o = run(&["cat", "--on-error", "skip", "--to", "raw", &path]);
    assert_eq!(o.stdout, b"\0l\0");
    // The hex layouts cannot hold that name: a located error, not a
    // corrupt line.
    let o = run(&["cat", "--on-error", "skip", "--to", "hex", &path]);
    assert!(
        text(&o.stderr).contains(&format!(
            "{path}:3:1: error: event type \"std\\0in\" cannot be written in the hex layouts"
        )),
        "{}",
        text(&o.stderr)
    );
    assert_eq!(o.stdout, b"");
    // A file of NUL bytes and no line end reads as a cut-off last line (a
    // warning, docs/FORMAT.md section 5) in a file without one event: an
    // error, exit status 1 (issue 13; it was the warning alone, exit 0).
    let path = dir.file("zeros.bin", &[0u8; 64]);
    let o = run(&["cat", &path]);
    assert_status(
        &o,
        1,
        &format!(
            "{path}:1:1: warning: bad timestamp: expected a 4-digit year, found byte 0x00\n\
             {path}:1:1: error: the input ended without one valid event: not a trail log\n"
        ),
    );
    // Hex: a NUL in the payload.
    let path = dir.file("nul.hex", b"2023-06-07T17:32:29Z stdin 6c\x0000\n");
    let o = run(&["cat", &path]);
    assert_status(
        &o,
        1,
        &format!("{path}:1:30: error: expected a hex digit, found byte 0x00\n"),
    );
}

#[test]
fn overlong_and_surrogate_utf8_are_located_errors_and_binary_payloads_survive() {
    let dir = TempDir::new("utf8");
    let log = b"{\"type\":\"\xc0\xaf\",\"ts\":\"2023-06-07T17:32:29Z\"}\n\
{\"type\":\"\xed\xa0\x80\",\"ts\":\"2023-06-07T17:32:29Z\"}\n\
{\"type\":\"x\",\"ts\":\"2023-06-07T17:32:29Z\",\"\xf4\x90\x80\x80\":1}\n\
{\"type\":\"x\",\"ts\":\"2023-06-07T17:32:29Z\",\"k\":\"\xed\xbf\xbf\"}\n\
{\"type\":\"\\ud800\",\"ts\":\"2023-06-07T17:32:29Z\"}\n\
{\"type\":\"stdout\",\"ts\":\"2023-06-07T17:32:29Z\",\"data\":\"wK/toIA=\"}\n";
    let path = dir.file("utf8.jsonl", log);
    let o = run(&["cat", "--on-error", "skip", &path]);
    assert_status(
        &o,
        1,
        &format!(
            "{path}:1:10: error: expected UTF-8 text in the string\n\
             {path}:2:10: error: expected UTF-8 text in the string\n\
             {path}:3:42: error: expected UTF-8 text without control characters in the key\n\
             {path}:4:45: error: expected UTF-8 text in the value\n\
             {path}:5:10: error: bad JSON string: unexpected end of hex escape at line 1 column 8\n"
        ),
    );
    // The same bytes as a payload are data: shown escaped, written exactly.
    assert_eq!(
        text(&o.stdout),
        "2023-06-07T17:32:29Z  stdout                           5  \\xc0\\xaf\\xed\\xa0\\x80\n"
    );
    let o = run(&["cat", "--on-error", "skip", "--to", "raw", &path]);
    assert_eq!(o.stdout, b"\xc0\xaf\xed\xa0\x80");
    // Hex: an overlong type name.
    let path = dir.file("utf8.hex", b"2023-06-07T17:32:29Z \xc0\xaf 6c\n");
    let o = run(&["cat", &path]);
    assert_status(
        &o,
        1,
        &format!("{path}:1:22: error: expected UTF-8 text in the event type\n"),
    );
}

// ---------------------------------------------------------------------------
// Line ends, timestamps, empty files.

#[test]
fn mixed_crlf_and_lf_keep_line_numbers_and_write_lf() {
    let dir = TempDir::new("crlf");
    let log = "{\"type\":\"stdin\",\"ts\":\"2023-06-07T17:32:29Z\",\"data\":\"bA==\"}\r\n\
               \r\n\
               {\"type\":\"stdout\",\"ts\":\"2023-06-07T17:32:29Z\",\"data\":\"bA==\"}\n  \r\n\
               {\"type\":\"stdin\",\"ts\":\"2023-06-07T17:32:30Z\"}\r\r\n\
               {\"type\":\"stdout\",\"ts\":\"2023-06-07T17:32:31Z\",\"data\":\"DQo=\"}";
    let path = dir.file("crlf.jsonl", log.as_bytes());
    let o = run(&["cat", "--to", "jsonl", &path]);
    assert_status(&o, 0, "");
    assert_eq!(
        text(&o.stdout),
        "{\"type\":\"stdin\",\"ts\":\"2023-06-07T17:32:29Z\",\"data\":\"bA==\"}\n\
         {\"type\":\"stdout\",\"ts\":\"2023-06-07T17:32:29Z\",\"data\":\"bA==\"}\n\
         {\"type\":\"stdin\",\"ts\":\"2023-06-07T17:32:30Z\",\"data\":\"\"}\n\
         {\"type\":\"stdout\",\"ts\":\"2023-06-07T17:32:31Z\",\"data\":\"DQo=\"}\n"
    );
    let hex = "2023-06-07T17:32:29Z stdin 6c\r\n\r\n2023-06-07T17:32:29Z stdout 6c\n  \r\n\
               2023-06-07T17:32:29Z stdout 4\r\n00000000  6c 1b 5b 4b  |l.[K|\r\n\
               2023-06-07T17:32:30Z stdin 6c\r\r\n2023-06-07T17:32:30Z stdin";
    let path = dir.file("crlf.hex", hex.as_bytes());
    let o = run(&["cat", "--on-error", "skip", "--to", "hex", &path]);
    // A second CR is not part of a line end: in the hex layout it is a bad
    // digit, at its column.
    assert_status(
        &o,
        1,
        &format!("{path}:7:30: error: expected a hex digit, found byte 0x0d\n"),
    );
    assert_eq!(
        text(&o.stdout),
        "2023-06-07T17:32:29Z stdin 6c\n2023-06-07T17:32:29Z stdout 6c\n\
         2023-06-07T17:32:29Z stdout 6c1b5b4b\n2023-06-07T17:32:30Z stdin\n"
    );
}

#[test]
fn timestamps_at_years_0000_and_9999_leap_seconds_and_extreme_offsets() {
    let dir = TempDir::new("times");
    let log = "0000-01-01T00:00:00Z stdin 61\n\
               0000-02-29T12:00:00Z stdin 62\n\
               2016-12-31T23:59:60Z stdin 63\n\
               2017-01-01T00:00:00Z stdin 64\n\
               9999-12-31T23:59:60.999999999-23:59 stdin 65\n\
               9999-12-31T23:59:59+23:59 stdin 66\n";
    let path = dir.file("times.hex", log.as_bytes());
    let o = run(&["stats", "--json", &path]);
    assert_status(&o, 0, "");
    let j = stats_json(&o);
    assert_eq!(j["events"], 6);
    assert_eq!(j["first_ts"], "0000-01-01T00:00:00Z");
    assert_eq!(j["last_ts"], "9999-12-31T23:59:59+23:59");
    // The leap second equals the next second (no step back); the +23:59
    // time after the -23:59 one is one step back.
    assert_eq!(j["backwards_steps"], 1);
    // 9999-12-31T00:00:59Z - 0000-01-01T00:00:00Z.
    assert_eq!(j["duration_s"].as_f64(), Some(315_569_433_659.0));
    // Outputs copy the time text unchanged.
    let o = run(&["cat", "--to", "jsonl", &path]);
    assert_status(&o, 0, "");
    let ts: Vec<String> = text(&o.stdout)
        .lines()
        .map(|l| {
            serde_json::from_str::<serde_json::Value>(l).unwrap()["ts"]
                .as_str()
                .unwrap()
                .to_string()
        })
        .collect();
    assert_eq!(
        ts,
        [
            "0000-01-01T00:00:00Z",
            "0000-02-29T12:00:00Z",
            "2016-12-31T23:59:60Z",
            "2017-01-01T00:00:00Z",
            "9999-12-31T23:59:60.999999999-23:59",
            "9999-12-31T23:59:59+23:59"
        ]
    );
    // Out of range: located errors.
    let bad = "1900-02-29T00:00:00Z stdin\n2023-06-07T17:32:29-24:00 stdin\n2023-06-07T17:32:29+23:60 stdin\n2023-06-07T23:59:61Z stdin\n10000-01-01T00:00:00Z stdin\n";
    let path = dir.file("bad-times.hex", bad.as_bytes());
    let o = run(&["cat", "--on-error", "skip", &path]);
    assert_status(
        &o,
        1,
        &format!(
            "{path}:1:9: error: bad timestamp: day 29 does not exist in 1900-02\n\
             {path}:2:21: error: bad timestamp: offset hour 24 is out of range 00-23\n\
             {path}:3:24: error: bad timestamp: offset minute 60 is out of range 00-59\n\
             {path}:4:18: error: bad timestamp: second 61 is out of range 00-60\n\
             {path}:5:5: error: bad timestamp: expected '-', found '0'\n\
             {path}:5:1: error: the input ended without one valid event: not a trail log\n"
        ),
    );
}

#[test]
fn empty_files_and_files_of_blank_lines_have_no_events() {
    let dir = TempDir::new("empty");
    let empty = dir.file("empty.jsonl", b"");
    let blank = dir.file("blank.jsonl", b"\n  \n\t\r\n\r\n   \t");
    let none = "{\"events\":0,\"by_type\":{},\"first_ts\":null,\"last_ts\":null,\"duration_s\":0.0,\"backwards_steps\":0,\"warnings\":0,\"errors\":0}\n";
    for path in [&empty, &blank] {
        let o = run(&["cat", path]);
        assert_status(&o, 0, "");
        assert_eq!(o.stdout, b"");
        let o = run(&["stats", "--json", path]);
        assert_status(&o, 0, "");
        assert_eq!(text(&o.stdout), none);
        for format in ["jsonl", "hex"] {
            let o = run(&["cat", "--format", format, "--to", "jsonl", path]);
            assert_status(&o, 0, "");
            assert_eq!(o.stdout, b"");
        }
    }
    let o = run_piped(&["stats", "--json", "-"], Vec::new());
    assert_status(&o, 0, "");
    assert_eq!(text(&o.stdout), none);
}

// ---------------------------------------------------------------------------
// What a path can be.

#[test]
fn a_fifo_is_read_as_a_stream() {
    let dir = TempDir::new("fifo");
    let fifo = dir.path("log.jsonl");
    let c = std::ffi::CString::new(fifo.clone()).unwrap();
    // SAFETY: mkfifo reads a NUL-terminated path and touches nothing else.
    assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o600) }, 0);
    let want = fs::read(testdata("session.stdout.bin")).unwrap();
    for args in [
        vec!["cat", "--filter", "stdout", "--to", "raw"],
        vec!["stats", "--json"],
        vec!["inspect", "--json"],
    ] {
        let log = fs::read(testdata("session.jsonl")).unwrap();
        let target = fifo.clone();
        // Opening a FIFO for writing blocks until the reader opens it.
        let writer = std::thread::spawn(move || {
            let mut f = fs::OpenOptions::new().write(true).open(target).unwrap();
            f.write_all(&log).unwrap();
        });
        let mut full = args.clone();
        full.push(&fifo);
        let o = run(&full);
        writer.join().unwrap();
        assert_status(&o, 0, "");
        match args[0] {
            "cat" => assert_eq!(o.stdout, want),
            "stats" => assert_eq!(stats_json(&o)["by_type"]["stdout"]["bytes"], want.len()),
            _ => {
                let j: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
                assert_eq!(
                    j["connections"][0]["channels"][0]["bytes"]["stdout"],
                    want.len()
                );
            }
        }
    }
}

#[test]
fn dev_stdin_is_read_from_a_pipe_and_from_a_file() {
    let want = fs::read(testdata("session.stdout.bin")).unwrap();
    let log = fs::read(testdata("session.jsonl")).unwrap();
    let args = ["cat", "--filter", "stdout", "--to", "raw", "/dev/stdin"];
    let o = run_piped(&args, log);
    assert_status(&o, 0, "");
    assert_eq!(o.stdout, want);
    let o = run_stdin_file(&args, &testdata("session.jsonl").to_string_lossy());
    assert_status(&o, 0, "");
    assert_eq!(o.stdout, want);
}

#[test]
fn a_directory_given_as_a_file_is_an_error() {
    let dir = TempDir::new("dir");
    let sub = dir.path("logs.jsonl");
    fs::create_dir(&sub).unwrap();
    let msg = format!("{sub}: error: is a directory, not a trail log\n");
    let o = run(&["cat", &sub]);
    assert_status(&o, 1, &msg);
    assert_eq!(o.stdout, b"");
    let o = run(&["stats", "--json", &sub]);
    assert_status(&o, 1, &msg);
    assert_eq!(stats_json(&o)["errors"], 1);
    // Under --on-error skip the next file is still read.
    let log = testdata("session.jsonl");
    let o = run(&[
        "cat",
        "--on-error",
        "skip",
        "--filter",
        "stdin",
        "--to",
        "raw",
        &sub,
        &log.to_string_lossy(),
    ]);
    assert_status(&o, 1, &msg);
    assert_eq!(o.stdout, fs::read(testdata("session.stdin.bin")).unwrap());
}

// ---------------------------------------------------------------------------
// A file truncated while it is read.

/// Writes a jsonl log of `mib` MiB of 4 KiB stdout events.
fn big_log(path: &Path, mib: usize) {
    let payload = "QUJD".repeat(4096 / 3);
    let line = format!(
        "{{\"type\":\"stdout\",\"ts\":\"2023-06-07T17:32:29.000000Z\",\"data\":\"{payload}\"}}\n"
    );
    let mut f = std::io::BufWriter::new(fs::File::create(path).unwrap());
    for _ in 0..(mib << 20) / line.len() + 1 {
        f.write_all(line.as_bytes()).unwrap();
    }
    f.flush().unwrap();
}

#[test]
fn a_file_truncated_while_cat_reads_it_is_an_error_not_a_signal() {
    let dir = TempDir::new("truncate");
    let path = dir.0.join("big.jsonl");
    big_log(&path, 24);
    let mut child = Command::new(BIN)
        .args(["cat", "--to", "raw"])
        .arg(&path)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // Read 1 MiB of output: `cat` is then blocked on the full pipe, a few
    // MiB into the file, far from its end.
    let mut stdout = child.stdout.take().unwrap();
    let mut head = vec![0u8; 1 << 20];
    stdout.read_exact(&mut head).unwrap();
    // Another process truncates the file.
    fs::OpenOptions::new()
        .write(true)
        .open(&path)
        .unwrap()
        .set_len(4096)
        .unwrap();
    let mut rest = Vec::new();
    stdout.read_to_end(&mut rest).unwrap();
    let mut stderr = String::new();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut stderr)
        .unwrap();
    let status = child.wait().unwrap();
    assert_no_signal(status);
    assert_eq!(status.code(), Some(1), "{stderr}");
    let path = path.to_string_lossy();
    assert!(
        stderr.starts_with(&format!(
            "{path}: error: reading failed: the file shrank while it was read: it had "
        )),
        "{stderr}"
    );
    // Whatever was written is whole events of the original file.
    assert_eq!((head.len() + rest.len()) % 4095, 0);
}
