//! Attacks on the outputs and a hostile environment (issue 13): shared
//! output folders, symbolic links planted where outputs go, devices and
//! FIFOs as outputs, the input as its own output, two inputs with one
//! output, concurrent runs, manifests that lie, garbage for input, terminal
//! escapes in ids and metadata, floods of bad lines. Each case gets an exact
//! result, an exit status and nothing written where it must not be.
//!
//! Peak memory (`streams` of a million events, `/dev/zero`) is checked in
//! `hostile_memory.rs`.

mod common;
use common::{limit_child, testdata_path as testdata};

use std::fs;
use std::io::Read;
use std::os::unix::fs::{symlink, FileTypeExt};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use sha2::{Digest, Sha256};

const BIN: &str = env!("CARGO_BIN_EXE_sshtrail");

/// A connection id for metadata files.
const CONN: &str = "c1";

fn run(args: &[&str]) -> Output {
    Command::new(BIN).args(args).output().unwrap()
}

/// `sshtrail convert --to jsonl -q EXTRA... -o OUT INPUT`: a batch into a
/// folder (or a single conversion, when INPUT is one log).
fn batch_command(out: &str, input: &str, extra: &[&str]) -> Command {
    let mut cmd = Command::new(BIN);
    cmd.args(["convert", "--to", "jsonl", "-q"])
        .args(extra)
        .args(["-o", out, input]);
    cmd
}

/// [`batch_command`], run to completion.
fn batch(out: &str, input: &str, extra: &[&str]) -> Output {
    batch_command(out, input, extra).output().unwrap()
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

fn sha256(path: &Path) -> String {
    format!("{:x}", Sha256::digest(fs::read(path).unwrap()))
}

/// A scratch folder, removed when dropped.
struct Scratch(tempfile::TempDir);

impl Scratch {
    fn new() -> Scratch {
        Scratch(tempfile::tempdir().unwrap())
    }

    fn path(&self, rel: &str) -> PathBuf {
        self.0.path().join(rel)
    }

    fn arg(&self, rel: &str) -> String {
        self.path(rel).to_string_lossy().into_owned()
    }

    /// Copies a fixture to `rel`, making its folder.
    fn fixture(&self, name: &str, rel: &str) -> PathBuf {
        let to = self.path(rel);
        fs::create_dir_all(to.parent().unwrap()).unwrap();
        fs::copy(testdata(name), &to).unwrap();
        to
    }

    fn write(&self, rel: &str, bytes: &[u8]) -> PathBuf {
        let to = self.path(rel);
        fs::create_dir_all(to.parent().unwrap()).unwrap();
        fs::write(&to, bytes).unwrap();
        to
    }
}

/// Every file and link under `dir`, relative, sorted.
fn listing(dir: &Path) -> Vec<String> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            let meta = fs::symlink_metadata(&p).unwrap();
            if meta.is_dir() {
                stack.push(p.clone());
            }
            out.push(p.strip_prefix(dir).unwrap().display().to_string());
        }
    }
    out.sort();
    out
}

fn manifest(out: &Path) -> Vec<serde_json::Value> {
    fs::read_to_string(out.join("manifest.jsonl"))
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

// ---------------------------------------------------------------------------
// 1. Two inputs, one output path.

#[test]
fn two_folders_with_one_connection_id_are_both_refused_before_anything_is_written() {
    let s = Scratch::new();
    for side in ["a", "b"] {
        s.fixture("session.jsonl", &format!("in/{side}/0.jsonl"));
        s.write(&format!("in/{side}/connection.json"), br#"{"id":"c1"}"#);
    }
    for force in [false, true] {
        let out = s.path(if force { "out-force" } else { "out" });
        let mut args = vec!["convert", "--to", "jsonl", "-q", "-j", "2"];
        if force {
            args.push("--force");
        }
        let out_arg = out.to_string_lossy().into_owned();
        let input = s.arg("in");
        args.extend(["-o", &out_arg, &input]);
        let o = run(&args);
        let err = text(&o.stderr);
        assert_eq!(o.status.code(), Some(1), "{err}");
        let (a, b) = (s.arg("in/a/0.jsonl"), s.arg("in/b/0.jsonl"));
        let shared = out.join("c1/0.jsonl").display().to_string();
        for (me, other) in [(&a, &b), (&b, &a)] {
            let line = format!(
                "{me}: error: its output {shared} would be an output of {other} too: neither is converted (give each its own connection id, or convert them into separate folders)"
            );
            assert!(err.contains(&line), "{line}\nnot in\n{err}");
        }
        // Neither is written; the manifest says both failed.
        assert_eq!(listing(&out), ["manifest.jsonl"]);
        let rows = manifest(&out);
        assert_eq!(rows.len(), 2);
        assert!(rows.iter().all(|r| r["status"] == "failed"), "{rows:?}");
    }
}

#[test]
fn logs_without_metadata_go_where_they_lie_under_the_path_so_they_stay_apart() {
    let s = Scratch::new();
    let a = s.fixture("session.jsonl", "in/a/0.jsonl");
    let b = s.fixture("variant.jsonl", "in/b/0.jsonl");
    let out = s.path("out");
    let o = batch(&out.to_string_lossy(), &s.arg("in"), &[]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o.stderr));
    assert_eq!(
        listing(&out),
        ["a", "a/0.jsonl", "b", "b/0.jsonl", "manifest.jsonl"]
    );
    // Each output is its own input's conversion.
    for (input, output) in [(&a, "a/0.jsonl"), (&b, "b/0.jsonl")] {
        let want = run(&["cat", "--to", "jsonl", &input.to_string_lossy()]);
        assert_eq!(fs::read(out.join(output)).unwrap(), want.stdout, "{output}");
    }
}

#[test]
fn an_output_path_that_is_an_input_is_refused_even_with_force() {
    // `convert -o DIR DIR`: the outputs of logs without metadata would be
    // the logs themselves.
    let s = Scratch::new();
    let log = s.fixture("session.hex", "logs/0.hex");
    let before = sha256(&log);
    let o = run(&[
        "convert",
        "--to",
        "hex",
        "--force",
        "-q",
        "-o",
        &s.arg("logs"),
        &s.arg("logs"),
    ]);
    let err = text(&o.stderr);
    assert_eq!(o.status.code(), Some(1), "{err}");
    assert!(
        err.contains(&format!(
            "{}: error: {} is an input log: refusing to write over it",
            log.display(),
            log.display()
        )),
        "{err}"
    );
    assert_eq!(sha256(&log), before);
}

// ---------------------------------------------------------------------------
// 2. `-o FILE`.

#[test]
fn dash_o_never_replaces_the_input_a_link_or_someone_elses_file() {
    let s = Scratch::new();
    let log = s.fixture("session.jsonl", "evidence.jsonl");
    let log_arg = log.to_string_lossy().into_owned();
    let before = sha256(&log);
    // The input itself, with and without --force.
    for force in [&[][..], &["--force"][..]] {
        let o = run(&[
            &["convert", "--to", "asciicast"],
            force,
            &["-o", &log_arg, &log_arg],
        ]
        .concat());
        assert_eq!(o.status.code(), Some(1));
        assert_eq!(
            text(&o.stderr),
            format!("sshtrail: error: {log_arg} is the input log {log_arg}: refusing to write over it\n")
        );
        assert_eq!(sha256(&log), before, "the input is untouched");
    }
    // A hard link to the input is the input too.
    let hard = s.path("hard.cast");
    fs::hard_link(&log, &hard).unwrap();
    let o = run(&[
        "convert",
        "--to",
        "asciicast",
        "--force",
        "-o",
        &hard.to_string_lossy(),
        &log_arg,
    ]);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o.stderr));
    assert_eq!(sha256(&log), before);
    // A symbolic link: neither followed nor replaced, even with --force.
    let link = s.path("link.cast");
    let target = s.path("target.cast");
    symlink(&target, &link).unwrap();
    let o = run(&[
        "convert",
        "--to",
        "asciicast",
        "--force",
        "-o",
        &link.to_string_lossy(),
        &log_arg,
    ]);
    assert_eq!(o.status.code(), Some(1));
    assert!(
        text(&o.stderr).contains("is a symbolic link: refusing to write through it or replace it"),
        "{}",
        text(&o.stderr)
    );
    assert!(fs::symlink_metadata(&link)
        .unwrap()
        .file_type()
        .is_symlink());
    assert!(!target.exists(), "nothing written through the link");
    // Someone's regular file: only with --force.
    let theirs = s.write("theirs.cast", b"keep me");
    let theirs_arg = theirs.to_string_lossy().into_owned();
    let o = run(&["convert", "--to", "asciicast", "-o", &theirs_arg, &log_arg]);
    assert_eq!(o.status.code(), Some(1));
    assert!(
        text(&o.stderr).contains(&format!("{theirs_arg} exists (use --force to replace it)")),
        "{}",
        text(&o.stderr)
    );
    assert_eq!(fs::read(&theirs).unwrap(), b"keep me");
    let o = run(&[
        "convert",
        "--to",
        "asciicast",
        "--force",
        "-o",
        &theirs_arg,
        &log_arg,
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o.stderr));
    assert!(fs::read(&theirs).unwrap().starts_with(b"{\"version\":2"));
    // No temporary file is left anywhere.
    assert!(
        listing(s.0.path())
            .iter()
            .all(|n| !n.contains("sshtrail-tmp")),
        "{:?}",
        listing(s.0.path())
    );
}

#[test]
fn dash_o_replaces_what_the_same_conversion_wrote_and_nothing_else() {
    let s = Scratch::new();
    let one = s.fixture("session.jsonl", "one.jsonl");
    let two = s.fixture("variant.jsonl", "two.jsonl");
    let out = s.path("out.cast");
    let out_arg = out.to_string_lossy().into_owned();
    let convert = |input: &Path| {
        run(&[
            "convert",
            "--to",
            "asciicast",
            "-o",
            &out_arg,
            &input.to_string_lossy(),
        ])
    };
    assert_eq!(convert(&one).status.code(), Some(0));
    let first = fs::read(&out).unwrap();
    // Again from the same input: its own output is replaced.
    let o = convert(&one);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o.stderr));
    assert_eq!(fs::read(&out).unwrap(), first);
    // From another input: that is someone else's output.
    let o = convert(&two);
    assert_eq!(o.status.code(), Some(1));
    assert!(text(&o.stderr).contains("exists (use --force to replace it)"));
    assert_eq!(fs::read(&out).unwrap(), first);
}

#[test]
fn dash_o_writes_into_a_fifo_or_a_device_and_dash_is_standard_output() {
    let s = Scratch::new();
    let log = s.fixture("session.jsonl", "in.jsonl");
    let log_arg = log.to_string_lossy().into_owned();
    let want = run(&["convert", "--to", "asciicast", &log_arg]);
    assert_eq!(want.status.code(), Some(0));
    assert!(want.stdout.starts_with(b"{\"version\":2"));
    // `-o -` is standard output.
    let o = run(&["convert", "--to", "asciicast", "-o", "-", &log_arg]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o.stderr));
    assert_eq!(o.stdout, want.stdout);
    // A FIFO is written to and stays a FIFO.
    let fifo = s.path("out.fifo");
    let c = std::ffi::CString::new(fifo.to_string_lossy().as_bytes()).unwrap();
    // SAFETY: mkfifo reads a NUL-terminated path.
    assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o600) }, 0);
    let reader = {
        let fifo = fifo.clone();
        std::thread::spawn(move || {
            let mut got = Vec::new();
            fs::File::open(fifo).unwrap().read_to_end(&mut got).unwrap();
            got
        })
    };
    let o = run(&[
        "convert",
        "--to",
        "asciicast",
        "-o",
        &fifo.to_string_lossy(),
        &log_arg,
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o.stderr));
    assert_eq!(reader.join().unwrap(), want.stdout);
    assert!(fs::symlink_metadata(&fifo).unwrap().file_type().is_fifo());
    // A device is written to, never replaced.
    let o = run(&["convert", "--to", "asciicast", "-o", "/dev/null", &log_arg]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o.stderr));
    assert!(fs::metadata("/dev/null")
        .unwrap()
        .file_type()
        .is_char_device());
}

#[test]
fn a_format_of_two_files_refuses_a_device_rather_than_write_beside_it() {
    let s = Scratch::new();
    let log = s.fixture("session.jsonl", "in.jsonl");
    let log_arg = log.to_string_lossy().into_owned();
    // A script is the typescript and its `.timing`: the second would be a
    // regular file in /dev.
    let o = run(&["convert", "--to", "script", "-o", "/dev/null", &log_arg]);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o.stderr));
    assert!(
        text(&o.stderr).contains("/dev/null is not a file"),
        "{}",
        text(&o.stderr)
    );
    assert!(!Path::new("/dev/null.timing").exists());
}

// ---------------------------------------------------------------------------
// 3. Symbolic links inside the output folder.

/// A tree of one connection (metadata id `c1`), and an output folder whose
/// `c1` is a symbolic link to a folder outside it.
fn planted(s: &Scratch) -> (PathBuf, PathBuf) {
    s.fixture("session.jsonl", "in/c1/0.jsonl");
    s.write(
        "in/c1/connection.json",
        format!("{{\"id\":\"{CONN}\"}}").as_bytes(),
    );
    let out = s.path("out");
    let outside = s.path("outside");
    fs::create_dir_all(&out).unwrap();
    fs::create_dir_all(&outside).unwrap();
    symlink(&outside, out.join(CONN)).unwrap();
    (out, outside)
}

#[test]
fn a_symlinked_connection_folder_in_outdir_is_refused() {
    let s = Scratch::new();
    let (out, outside) = planted(&s);
    let o = batch(&out.to_string_lossy(), &s.arg("in"), &["--force"]);
    let err = text(&o.stderr);
    assert_eq!(o.status.code(), Some(1), "{err}");
    assert!(
        err.contains(&format!(
            "{} is a symbolic link: refusing to write through it",
            out.join(CONN).display()
        )),
        "{err}"
    );
    assert!(
        listing(&outside).is_empty(),
        "nothing written outside: {:?}",
        listing(&outside)
    );
    // streams, the same.
    let o = run(&[
        "streams",
        "--force",
        "-o",
        &out.to_string_lossy(),
        &s.arg("in/c1"),
    ]);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o.stderr));
    assert!(text(&o.stderr).contains("is a symbolic link: refusing to write through it"));
    assert!(listing(&outside).is_empty(), "{:?}", listing(&outside));
}

#[test]
fn a_symlinked_journal_or_manifest_is_never_followed() {
    let s = Scratch::new();
    s.fixture("session.jsonl", "in/0.jsonl");
    let out = s.path("out");
    let out_arg = out.to_string_lossy().into_owned();
    fs::create_dir_all(&out).unwrap();
    let victim = s.write("victim", b"precious\n");
    // A journal that is a link: --resume refuses it, the victim unchanged.
    symlink(&victim, out.join("manifest.jsonl.journal")).unwrap();
    let o = batch(&out_arg, &s.arg("in"), &["--resume"]);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o.stderr));
    assert_eq!(fs::read(&victim).unwrap(), b"precious\n");
    fs::remove_file(out.join("manifest.jsonl.journal")).unwrap();
    // A manifest that is a link: not read, not replaced.
    symlink(&victim, out.join("manifest.jsonl")).unwrap();
    for flag in ["--resume", "--force"] {
        let o = run(&[
            "convert",
            "--to",
            "jsonl",
            "-q",
            flag,
            "-o",
            &out_arg,
            &s.arg("in"),
        ]);
        assert_eq!(o.status.code(), Some(1), "{flag}: {}", text(&o.stderr));
        assert_eq!(fs::read(&victim).unwrap(), b"precious\n", "{flag}");
        assert!(fs::symlink_metadata(out.join("manifest.jsonl"))
            .unwrap()
            .file_type()
            .is_symlink());
    }
}

// ---------------------------------------------------------------------------
// 6. Garbage is not a log.

#[test]
fn a_file_without_one_valid_event_fails_and_writes_nothing() {
    let s = Scratch::new();
    let mut noise = vec![0u8; 1 << 20];
    let mut x = 0x2545_f491_4f6c_dd1d_u64;
    for b in noise.iter_mut() {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        *b = x as u8;
    }
    for (name, bytes) in [
        ("hello.jsonl", b"hello world".to_vec()),
        ("noise.jsonl", noise),
        ("zeros.jsonl", vec![0u8; 3 << 20]),
    ] {
        let input = s.write(&format!("in-{name}/{name}"), &bytes);
        let out = s.path(&format!("out-{name}"));
        let folder = s.arg(&format!("in-{name}"));
        let o = batch(&out.to_string_lossy(), &folder, &[]);
        let err = text(&o.stderr);
        assert_eq!(o.status.code(), Some(1), "{name}: {err}");
        assert!(
            err.contains(": error: the input ended without one valid event: not a trail log"),
            "{name}: {err}"
        );
        let rows = manifest(&out);
        assert_eq!(rows[0]["status"], "failed", "{name}");
        assert_eq!(listing(&out), ["manifest.jsonl"], "{name}");
        // cat says so too.
        let o = run(&["cat", "--on-error", "skip", &input.to_string_lossy()]);
        assert_eq!(o.status.code(), Some(1), "{name}");
    }
}

#[test]
fn a_dump_header_cut_off_before_its_dump_is_an_error_at_its_line() {
    let dump = fs::read(testdata("session.hexdump")).unwrap();
    // The first 8 lines end with the header of a 76-byte dump.
    let head: Vec<u8> = dump
        .split_inclusive(|&b| b == b'\n')
        .take(8)
        .flatten()
        .copied()
        .collect();
    let mut child = Command::new(BIN)
        .args(["cat", "--on-error", "skip", "--to", "jsonl", "-"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    std::io::Write::write_all(&mut child.stdin.take().unwrap(), &head).unwrap();
    let o = child.wait_with_output().unwrap();
    assert_eq!(o.status.code(), Some(1));
    assert_eq!(
        text(&o.stderr),
        "<stdin>:8:45: error: expected the dump of 76 bytes after this header, found the end of the input\n"
    );
    // The two whole events before it, and no invented third.
    assert_eq!(text(&o.stdout).lines().count(), 2, "{}", text(&o.stdout));
    assert!(!text(&o.stdout).contains("Zg=="));
}

// ---------------------------------------------------------------------------
// 8. One run at a time in an output folder.

#[test]
fn a_second_run_into_a_locked_outdir_exits_1_naming_the_holder() {
    let s = Scratch::new();
    s.fixture("session.jsonl", "in/0.jsonl");
    let out = s.path("out");
    fs::create_dir_all(&out).unwrap();
    // This process holds the lock, as a running batch would.
    let held = fs::File::open(&out).unwrap();
    held.try_lock().unwrap();
    let o = batch(&out.to_string_lossy(), &s.arg("in"), &["--resume"]);
    assert_eq!(o.status.code(), Some(1));
    assert_eq!(
        text(&o.stderr),
        format!(
            "sshtrail: error: {} is in use by another sshtrail run (PID {}): wait for it to end, or write into another folder\n",
            out.display(),
            std::process::id()
        )
    );
    // Nothing was started: no journal, no manifest, no output.
    assert!(listing(&out).is_empty(), "{:?}", listing(&out));
    drop(held);
    let o = batch(&out.to_string_lossy(), &s.arg("in"), &["--resume"]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o.stderr));
    assert_eq!(listing(&out), ["0.jsonl", "manifest.jsonl"]);
}

// ---------------------------------------------------------------------------
// 9. --resume checks the paths it reads back.

/// Converts `in/0.jsonl` into `out`, then rewrites its manifest row's
/// output path to `path` with `sha` as its hash.
fn lying_manifest(s: &Scratch, path: &str, sha: &str) -> PathBuf {
    s.fixture("session.jsonl", "in/0.jsonl");
    let out = s.path("out");
    let o = batch(&out.to_string_lossy(), &s.arg("in"), &[]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o.stderr));
    let mut row = manifest(&out).remove(0);
    row["outputs"][0]["path"] = path.into();
    row["outputs"][0]["sha256"] = sha.into();
    fs::write(out.join("manifest.jsonl"), format!("{row}\n")).unwrap();
    out
}

#[test]
fn resume_does_not_trust_an_output_path_outside_outdir() {
    let s = Scratch::new();
    let victim = s.write("victim", b"precious\n");
    let out = lying_manifest(&s, "../victim", &sha256(&victim));
    let o = batch(&out.to_string_lossy(), &s.arg("in"), &["--resume"]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o.stderr));
    // The row vouched for a file outside OUTDIR: not believed, redone.
    let rows = manifest(&out);
    assert_eq!(rows[0]["status"], "converted", "{rows:?}");
    assert_eq!(rows[0]["outputs"][0]["path"], "0.jsonl");
    assert_eq!(fs::read(&victim).unwrap(), b"precious\n");
}

#[test]
fn resume_does_not_open_a_device_named_by_the_manifest() {
    let s = Scratch::new();
    let out = lying_manifest(&s, "/dev/zero", "00");
    // The old reader hashed /dev/zero for ever: a CPU limit ends such a
    // run instead of hanging the test.
    let mut cmd = batch_command(&out.to_string_lossy(), &s.arg("in"), &["--resume"]);
    limit_child(&mut cmd, 30, None);
    let o = cmd.output().unwrap();
    assert_eq!(
        o.status.code(),
        Some(0),
        "{:?} {}",
        o.status,
        text(&o.stderr)
    );
    assert_eq!(manifest(&out)[0]["status"], "converted");
}

// ---------------------------------------------------------------------------
// 10. -j has a ceiling.

#[test]
fn a_huge_j_is_capped_with_a_note() {
    let s = Scratch::new();
    s.fixture("session.jsonl", "in/0.jsonl");
    let out = s.path("out");
    let cores = std::thread::available_parallelism().unwrap().get();
    let mut cmd = batch_command(&out.to_string_lossy(), &s.arg("in"), &["-j", "100000"]);
    limit_child(&mut cmd, 30, None);
    let o = cmd.output().unwrap();
    assert_eq!(o.status.code(), Some(0), "{}", text(&o.stderr));
    let cap = cores; // one input: no more threads than the cores
    assert!(
        text(&o.stderr).contains(&format!(
            "sshtrail: -j 100000 capped at {cap} threads (1 input(s), {cores} core(s))"
        )),
        "{}",
        text(&o.stderr)
    );
    assert_eq!(listing(&out), ["0.jsonl", "manifest.jsonl"]);
}

// ---------------------------------------------------------------------------
// 11. Terminal escapes.

/// Control characters that could move the cursor, set the title or forge a
/// line.
const EVIL: &str = "x\u{1b}]0;pwned\u{7}\nFORGED\r\u{9b}2J";

fn assert_no_controls(what: &str, bytes: &[u8]) {
    let s = text(bytes);
    for c in s.chars() {
        assert!(
            c == '\n' || !c.is_control(),
            "{what}: raw control character {c:?} in {s:?}"
        );
    }
    assert!(
        !s.lines().any(|l| l.starts_with("FORGED")),
        "{what}: a forged line in {s:?}"
    );
}

#[test]
fn ids_file_names_and_metadata_reach_the_terminal_escaped() {
    let s = Scratch::new();
    let dir = format!("in/{}", "conn");
    s.fixture("session.jsonl", &format!("{dir}/0.jsonl"));
    let meta = serde_json::json!({
        "id": EVIL,
        "user_data": {"display_name": EVIL},
        "target_host_data": {"common_name": EVIL},
        "status": EVIL,
        "tags": [EVIL],
    });
    s.write(
        &format!("{dir}/connection.json"),
        meta.to_string().as_bytes(),
    );
    let conn = s.arg(&dir);
    for args in [
        vec!["inspect", &conn],
        vec!["commands", &conn],
        vec!["grep", "l", &conn],
        vec!["screen", "--at", "1s", &conn],
    ] {
        let o = run(&args);
        assert_eq!(o.status.code(), Some(0), "{args:?}: {}", text(&o.stderr));
        assert_no_controls(&format!("{args:?} stdout"), &o.stdout);
        assert_no_controls(&format!("{args:?} stderr"), &o.stderr);
    }
    let o = run(&["inspect", &conn]);
    assert!(
        text(&o.stdout).contains("x\\e]0;pwned\\x07\\nFORGED\\r\\x9b2J"),
        "{}",
        text(&o.stdout)
    );
    // The JSON output escapes them as JSON does, and keeps them.
    let o = run(&["inspect", "--json", &conn]);
    let j: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(j["connections"][0]["id"], EVIL);
    // A file name with escapes, in an error message.
    let bad = s.write(&format!("names/{EVIL}.jsonl"), b"not a log\n");
    let o = run(&["cat", &bad.to_string_lossy()]);
    assert_eq!(o.status.code(), Some(1));
    assert_no_controls("cat stderr", &o.stderr);
    assert!(
        text(&o.stderr).contains("x\\e]0;pwned\\x07\\nFORGED"),
        "{}",
        text(&o.stderr)
    );
}

#[test]
fn control_characters_in_event_types_and_exec_commands_are_escaped_in_listings() {
    let s = Scratch::new();
    // An unknown type with ESC in its name, and an exec request whose
    // command holds ESC and a line end.
    let mut exec = b"\x62\0\0\0\0\0\0\0\x04exec\x01".to_vec();
    let cmd = b"ls\x1b]0;t\x07\nFORGED";
    exec.extend_from_slice(&(cmd.len() as u32).to_be_bytes());
    exec.extend_from_slice(cmd);
    let log = format!(
        "{{\"type\":\"std\\u001bin\",\"ts\":\"2023-06-07T17:32:29Z\",\"data\":\"bA==\"}}\n\
         {{\"type\":\"forward-request\",\"ts\":\"2023-06-07T17:32:29Z\",\"data\":\"{}\"}}\n",
        base64_of(&exec)
    );
    let path = s.write("evil.jsonl", log.as_bytes());
    let path = path.to_string_lossy().into_owned();
    for args in [["cat", &path], ["stats", &path]] {
        let o = run(&args);
        assert_eq!(o.status.code(), Some(0), "{args:?}: {}", text(&o.stderr));
        assert_no_controls(&format!("{args:?}"), &o.stdout);
    }
    let o = run(&["cat", &path]);
    assert!(text(&o.stdout).contains("std\\ein"), "{}", text(&o.stdout));
    // (The decoded request quotes its strings, escaped as Rust does.)
    assert!(
        text(&o.stdout).contains(r#"exec "ls\u{1b}]0;t\u{7}\nFORGED" want_reply"#),
        "{}",
        text(&o.stdout)
    );
}

fn base64_of(bytes: &[u8]) -> String {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

// ---------------------------------------------------------------------------
// 12. Exit statuses and floods.

#[test]
fn an_unwritable_outdir_and_a_folder_without_logs_exit_1() {
    let s = Scratch::new();
    s.fixture("session.jsonl", "in/0.jsonl");
    let file = s.write("a-file", b"");
    // OUTDIR under a regular file: an I/O error, not a usage error.
    let o = run(&[
        "convert",
        "--to",
        "jsonl",
        "-q",
        "-o",
        &format!("{}/out", file.display()),
        &s.arg("in"),
    ]);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o.stderr));
    // A folder without logs: convert and streams alike, and no OUTDIR is
    // made.
    fs::create_dir_all(s.path("empty")).unwrap();
    let o = batch(&s.arg("out"), &s.arg("empty"), &[]);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o.stderr));
    assert!(!s.path("out").exists());
    let o = run(&["streams", "-o", &s.arg("out"), &s.arg("empty")]);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o.stderr));
}

#[test]
fn a_flood_of_bad_lines_prints_1000_messages_and_a_count() {
    let s = Scratch::new();
    let log = "not a record\n".repeat(5000);
    let path = s.write("flood.hex", log.as_bytes());
    let name = path.display().to_string();
    let o = run(&["cat", "--on-error", "skip", &name]);
    assert_eq!(o.status.code(), Some(1));
    let err = text(&o.stderr);
    let lines: Vec<&str> = err.lines().collect();
    // The first 1000, the verdict on the file (always shown), the count.
    assert_eq!(lines.len(), 1002, "{}", lines.last().unwrap());
    assert!(
        lines[999].starts_with(&format!("{name}:1000:1: error: ")),
        "{}",
        lines[999]
    );
    assert_eq!(
        lines[1000],
        format!("{name}:5000:1: error: the input ended without one valid event: not a trail log")
    );
    assert_eq!(
        lines[1001],
        format!("sshtrail: {name}: 4000 more message(s) not shown (the first 1000 were)")
    );
}

// ---------------------------------------------------------------------------
// 7. A large log that shrinks while the batch's block pipeline reads it.

/// The read position of `pid`'s open file `path`, if it has it open.
fn read_position(pid: u32, path: &Path) -> Option<u64> {
    for fd in fs::read_dir(format!("/proc/{pid}/fd")).ok()? {
        let fd = fd.ok()?;
        if fs::read_link(fd.path()).ok().as_deref() == Some(path) {
            let info = fs::read_to_string(format!(
                "/proc/{pid}/fdinfo/{}",
                fd.file_name().to_string_lossy()
            ))
            .ok()?;
            return info
                .lines()
                .find_map(|l| l.strip_prefix("pos:"))
                .and_then(|p| p.trim().parse().ok());
        }
    }
    None
}

#[test]
fn a_large_log_that_shrinks_while_the_batch_reads_it_fails_and_leaves_no_output() {
    let s = Scratch::new();
    let input = s.path("in");
    fs::create_dir(&input).unwrap();
    let log = input.join("0.jsonl");
    // 4 KiB stdout events, 192 MiB: far over the pipeline's 16 MiB.
    let payload = "QUJD".repeat(4096 / 3);
    let line = format!(
        "{{\"type\":\"stdout\",\"ts\":\"2023-06-07T17:32:29.000000Z\",\"data\":\"{payload}\"}}\n"
    );
    {
        let mut f = std::io::BufWriter::new(fs::File::create(&log).unwrap());
        for _ in 0..(192 << 20) / line.len() {
            std::io::Write::write_all(&mut f, line.as_bytes()).unwrap();
        }
        std::io::Write::flush(&mut f).unwrap();
    }
    let size = fs::metadata(&log).unwrap().len();
    let out = s.path("out");
    let mut child = batch_command(
        &out.to_string_lossy(),
        &input.to_string_lossy(),
        &["-j", "1"],
    )
    .stderr(Stdio::piped())
    .spawn()
    .unwrap();
    let pid = child.id();
    // Stop the batch once it has read 16 MiB (a condition, not a delay),
    // then another process cuts the file ahead of it, inside a line: the
    // reader meets an end that looks like a log whose last line is cut off.
    let stopped_at = loop {
        if let Some(pos) = read_position(pid, &log) {
            if pos >= 16 << 20 {
                unsafe { libc::kill(pid as i32, libc::SIGSTOP) };
                break read_position(pid, &log).unwrap_or(pos);
            }
        }
        if let Some(status) = child.try_wait().unwrap() {
            panic!("the batch ended ({status}) before it read 16 MiB");
        }
    };
    let cut = stopped_at + (1 << 20) + 100;
    assert!(
        cut < size,
        "the batch read {stopped_at} of {size} bytes before it could be stopped"
    );
    fs::OpenOptions::new()
        .write(true)
        .open(&log)
        .unwrap()
        .set_len(cut)
        .unwrap();
    unsafe { libc::kill(pid as i32, libc::SIGCONT) };
    let mut stderr = String::new();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut stderr)
        .unwrap();
    let status = child.wait().unwrap();
    assert_eq!(status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("the file shrank while it was read"),
        "{stderr}"
    );
    // No output for it, no temporary; its manifest row says it failed.
    let left: Vec<String> = listing(&out)
        .into_iter()
        .filter(|p| !p.starts_with("manifest.jsonl"))
        .collect();
    assert!(left.is_empty(), "{left:?}");
    let rows = manifest(&out);
    assert_eq!(rows.len(), 1, "{rows:?}");
    assert_ne!(rows[0]["status"], "converted", "{rows:?}");
}
