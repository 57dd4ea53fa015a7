//! `sshtrail convert -o OUTDIR` over trees: parallel, atomic, resumable,
//! with a manifest, and never writing outside OUTDIR.

mod common;
use common::{sshtrail, testdata_path as testdata};

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::Value;

const CONN: &str = "6f1c2b7e-0d3a-4c55-9e1f-2a3b4c5d6e7f";

/// Runs `sshtrail ARGS` and checks that it succeeds.
fn succeeds(args: &[&str]) -> Output {
    let o = sshtrail(args);
    assert_eq!(
        o.status.code(),
        Some(0),
        "sshtrail {args:?}: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    o
}

fn scratch(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("sshtrail-batch-{name}-{}", std::process::id()));
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

/// a/<connection>/ (three channels), b/one.hex, b/broken.jsonl.
fn tree(root: &Path) -> PathBuf {
    let t = root.join("tree");
    copy_dir(&testdata(&format!("conn/{CONN}")), &t.join("a").join(CONN));
    std::fs::create_dir_all(t.join("b")).unwrap();
    std::fs::copy(testdata("session.hex"), t.join("b/one.hex")).unwrap();
    std::fs::copy(testdata("bad/bad-base64.jsonl"), t.join("b/broken.jsonl")).unwrap();
    t
}

fn manifest(out: &Path) -> Vec<Value> {
    std::fs::read_to_string(out.join("manifest.jsonl"))
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

fn sha256(path: &Path) -> String {
    let o = Command::new("sha256sum").arg(path).output().unwrap();
    String::from_utf8(o.stdout)
        .unwrap()
        .split_whitespace()
        .next()
        .unwrap()
        .to_string()
}

#[test]
fn a_tree_converts_in_parallel_with_a_manifest() {
    let root = scratch("tree");
    let t = tree(&root);
    let out = root.join("out");
    let o = sshtrail(&[
        "convert",
        "--to",
        "jsonl,asciicast",
        "-j",
        "2",
        "-o",
        out.to_str().unwrap(),
        t.to_str().unwrap(),
    ]);
    let err = String::from_utf8_lossy(&o.stderr).into_owned();
    assert_eq!(
        o.status.code(),
        Some(1),
        "the corrupt file fails the batch: {err}"
    );
    assert!(
        err.contains("broken.jsonl:7:59: error: bad base64"),
        "{err}"
    );
    assert!(
        err.contains("converted 4 file(s), failed 1, skipped 0"),
        "{err}"
    );
    // The output mirrors connection and channel.
    for ch in ["0", "1", "2"] {
        for ext in ["jsonl", "cast"] {
            assert!(
                out.join(CONN).join(format!("{ch}.{ext}")).is_file(),
                "{ch}.{ext}"
            );
        }
    }
    assert_eq!(
        std::fs::read(out.join(CONN).join("0.jsonl")).unwrap(),
        std::fs::read(testdata("session.jsonl")).unwrap()
    );
    // A log of no known connection goes where it lies under the PATH.
    assert!(out.join("b/one.cast").is_file());
    // The manifest: one row per input, hashes of inputs and outputs.
    let rows = manifest(&out);
    assert_eq!(rows.len(), 5);
    for r in &rows {
        let input = PathBuf::from(r["input"].as_str().unwrap());
        assert_eq!(r["sha256"], sha256(&input), "{r}");
        assert_eq!(r["size"], std::fs::metadata(&input).unwrap().len());
        for o in r["outputs"].as_array().unwrap() {
            assert_eq!(
                o["sha256"],
                sha256(&out.join(o["path"].as_str().unwrap())),
                "{o}"
            );
        }
    }
    let broken = rows
        .iter()
        .find(|r| r["input"].as_str().unwrap().ends_with("broken.jsonl"))
        .unwrap();
    assert_eq!(
        (broken["status"].as_str(), broken["errors"].as_u64()),
        (Some("failed"), Some(1))
    );
    assert!(broken["outputs"].as_array().unwrap().is_empty());
    let shell = rows
        .iter()
        .find(|r| r["input"].as_str().unwrap().ends_with("/0.jsonl"))
        .unwrap();
    assert_eq!(
        (
            shell["connection_id"].as_str(),
            shell["channel_id"].as_str(),
            shell["events"].as_u64()
        ),
        (Some(CONN), Some("0"), Some(39))
    );
    // No temporary file is left anywhere.
    let leftovers: Vec<_> = walk(&out)
        .into_iter()
        .filter(|p| {
            p.file_name()
                .unwrap()
                .to_string_lossy()
                .contains("sshtrail-tmp")
        })
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
    // A second run does not overwrite; --resume skips what is intact and
    // redoes an output that was tampered with.
    assert_eq!(
        sshtrail(&[
            "convert",
            "--to",
            "jsonl,asciicast",
            "-o",
            out.to_str().unwrap(),
            t.to_str().unwrap()
        ])
        .status
        .code(),
        Some(2)
    );
    std::fs::write(out.join(CONN).join("1.cast"), "tampered").unwrap();
    let o = sshtrail(&[
        "convert",
        "--to",
        "jsonl,asciicast",
        "--resume",
        "-o",
        out.to_str().unwrap(),
        t.to_str().unwrap(),
    ]);
    let err = String::from_utf8_lossy(&o.stderr).into_owned();
    assert!(
        err.contains("converted 1 file(s), failed 1, skipped 3"),
        "{err}"
    );
    assert_ne!(
        std::fs::read_to_string(out.join(CONN).join("1.cast")).unwrap(),
        "tampered"
    );
    assert_eq!(
        manifest(&out)
            .iter()
            .filter(|r| r["status"] == "skipped")
            .count(),
        3
    );
    std::fs::remove_dir_all(&root).unwrap();
}

fn walk(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            out.extend(walk(&p));
        } else {
            out.push(p);
        }
    }
    out
}

#[test]
fn where_since_and_until_select_connections() {
    let root = scratch("where");
    let t = tree(&root);
    let run = |extra: &[&str]| {
        let out = root.join(format!("out{}", extra.len()));
        let _ = std::fs::remove_dir_all(&out);
        let mut args = vec![
            "convert",
            "--to",
            "jsonl",
            "-q",
            "-o",
            out.to_str().unwrap(),
        ];
        args.extend_from_slice(extra);
        args.push(t.to_str().unwrap());
        let o = sshtrail(&args);
        (o.status.code(), manifest(&out).len())
    };
    assert_eq!(
        run(&["--where", "user=alice@*", "--where", "tag=db"]),
        (Some(0), 3)
    );
    assert_eq!(run(&["--where", "host=web-*"]), (Some(0), 0));
    assert_eq!(
        run(&[
            "--since",
            "2023-06-07T00:00:00Z",
            "--until",
            "2023-06-07T23:59:59Z"
        ]),
        (Some(0), 3)
    );
    assert_eq!(run(&["--since", "2023-06-08T00:00:00Z"]), (Some(0), 0));
    let o = sshtrail(&[
        "convert",
        "--to",
        "jsonl",
        "-o",
        root.join("x").to_str().unwrap(),
        "--where",
        "colour=red",
        t.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(2));
    std::fs::remove_dir_all(&root).unwrap();
}

#[test]
fn ids_never_escape_the_output_directory() {
    let root = scratch("escape");
    let log = root.join("in.jsonl");
    std::fs::write(&log, "{\"type\":\"stdout\",\"ts\":\"2023-06-07T17:32:00Z\",\"data\":\"aGk=\",\"channel_id\":\"../../escaped\"}\n{\"type\":\"stdout\",\"ts\":\"2023-06-07T17:32:01Z\",\"data\":\"aGk=\"}\n").unwrap();
    let out = root.join("out");
    let o = sshtrail(&[
        "convert",
        "--to",
        "raw",
        "-o",
        out.to_str().unwrap(),
        log.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&o.stderr).contains("not a plain file name"));
    assert!(
        !root.join("escaped.bin").exists() && !root.parent().unwrap().join("escaped.bin").exists()
    );
    assert_eq!(
        std::fs::read(out.join("in.bin")).unwrap(),
        b"hi",
        "the other channel is still written"
    );
    std::fs::remove_dir_all(&root).unwrap();
}

#[test]
fn symlink_loops_are_reported_not_followed_forever() {
    let root = scratch("loop");
    let t = tree(&root);
    std::os::unix::fs::symlink("..", t.join("b/loop")).unwrap();
    let out = root.join("out");
    let o = sshtrail(&[
        "convert",
        "--to",
        "jsonl",
        "-o",
        out.to_str().unwrap(),
        t.to_str().unwrap(),
    ]);
    assert!(
        String::from_utf8_lossy(&o.stderr).contains("symbolic link loop"),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    assert_eq!(manifest(&out).len(), 5);
    std::fs::remove_dir_all(&root).unwrap();
}

/// `root/tree` holding `n` copies of the session log.
fn copies_of_the_session(root: &Path, n: usize) -> PathBuf {
    let t = root.join("tree");
    std::fs::create_dir_all(&t).unwrap();
    let session = std::fs::read(testdata("session.jsonl")).unwrap();
    for i in 0..n {
        std::fs::write(t.join(format!("{i}.jsonl")), &session).unwrap();
    }
    t
}

#[test]
fn interrupting_leaves_no_partial_output() {
    let root = scratch("sigint");
    let t = copies_of_the_session(&root, 3000);
    let out = root.join("out");
    let child = Command::new(env!("CARGO_BIN_EXE_sshtrail"))
        .args([
            "convert",
            "--to",
            "text,asciicast",
            "-j",
            "1",
            "-o",
            out.to_str().unwrap(),
            t.to_str().unwrap(),
        ])
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    std::thread::sleep(std::time::Duration::from_millis(700));
    // SAFETY: kill(2) with a pid we own.
    unsafe { libc::kill(child.id() as i32, libc::SIGINT) };
    let o = child.wait_with_output().unwrap();
    assert_eq!(
        o.status.code(),
        Some(130),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    let files = walk(&out);
    assert!(files.iter().all(|p| !p
        .file_name()
        .unwrap()
        .to_string_lossy()
        .contains("sshtrail-tmp")));
    let rows = manifest(&out);
    assert!(!rows.is_empty() && rows.len() < 3000, "{} rows", rows.len());
    // Every output the manifest lists is complete; resume finishes the job.
    for r in &rows {
        for o in r["outputs"].as_array().unwrap() {
            assert_eq!(o["sha256"], sha256(&out.join(o["path"].as_str().unwrap())));
        }
    }
    succeeds(&[
        "convert",
        "--to",
        "text,asciicast",
        "--resume",
        "-q",
        "-o",
        out.to_str().unwrap(),
        t.to_str().unwrap(),
    ]);
    assert_eq!(manifest(&out).len(), 3000);
    std::fs::remove_dir_all(&root).unwrap();
}

/// A log of `mib` MiB with every kind of event the block pipeline meets:
/// payloads of every length (hex dump lines of every width), empty
/// payloads, SSH requests, events with extra keys naming their channel.
fn large_log(mib: usize, channel: &str) -> String {
    use base64::Engine;
    let b64 = base64::engine::general_purpose::STANDARD;
    let mut seed = 0x9e37_79b9_7f4a_7c15u64;
    let mut next = move || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed
    };
    let env = b64.encode(b"b\0\0\0\0\0\0\0\x03env\x01\0\0\0\x04LANG\0\0\0\x0bC.UTF-8");
    let mut log = String::new();
    let mut t = 0u64;
    while log.len() < mib << 20 {
        t += next() % 5_000_000;
        // Microseconds after 2023-06-07T17:00:00Z.
        let ts = sshtrail::time::format_rfc3339(1_686_157_200_000_000_000 + i128::from(t) * 1000);
        let r = next();
        let payload: Vec<u8> = (0..r % 300).map(|_| next() as u8).collect();
        match r % 7 {
            0 => log.push_str(&format!("{{\"type\":\"stdin\",\"ts\":\"{ts}\",\"data\":\"{}\"}}\n", b64.encode(&payload[..payload.len() % 4]))),
            1 => log.push_str(&format!("{{\"type\":\"forward-request\",\"ts\":\"{ts}\",\"data\":\"{env}\"}}\n")),
            2 => log.push_str(&format!("{{\"type\":\"stderr\",\"ts\":\"{ts}\",\"data\":\"\"}}\n")),
            3 => log.push_str(&format!("{{\"type\":\"stdout\",\"ts\":\"{ts}\",\"data\":\"{}\",\"channel_id\":\"{channel}\"}}\n", b64.encode(&payload))),
            _ => log.push_str(&format!("{{\"type\":\"stdout\",\"ts\":\"{ts}\",\"data\":\"{}\"}}\n", b64.encode(&payload))),
        }
    }
    log
}

/// Every file under `dir` whose name marks a temporary output.
fn temporaries(dir: &Path) -> Vec<PathBuf> {
    walk(dir)
        .into_iter()
        .filter(|p| p.to_string_lossy().contains("sshtrail-tmp"))
        .collect()
}

#[test]
fn a_large_log_converted_in_blocks_gives_the_same_bytes_as_the_careful_path() {
    let root = scratch("large");
    let log = large_log(20, "big");
    let input = root.join("big.jsonl");
    std::fs::write(&input, &log).unwrap();
    // The careful path: one log, one format, -o naming the file.
    let careful = |fmt: &str, filter: &str| {
        let file = root.join(format!("careful-{fmt}-{filter}"));
        // (Written again for each -j: --force.)
        succeeds(&[
            "convert",
            "--to",
            fmt,
            "--filter",
            filter,
            "--force",
            "-o",
            file.to_str().unwrap(),
            input.to_str().unwrap(),
        ]);
        std::fs::read(file).unwrap()
    };
    let all = "stdin,stdout,stderr,forward-request";
    for (j, filter) in [("1", all), ("2", all), ("2", "stdout")] {
        let out = root.join(format!("out{j}-{}", filter.split(',').count()));
        std::fs::create_dir_all(&out).unwrap();
        succeeds(&[
            "convert",
            "--to",
            "jsonl,hex,hexdump,raw",
            "--filter",
            filter,
            "-j",
            j,
            "-q",
            "-o",
            out.to_str().unwrap(),
            input.to_str().unwrap(),
        ]);
        for (fmt, ext) in [
            ("jsonl", "jsonl"),
            ("hex", "hex"),
            ("hexdump", "hexdump"),
            ("raw", "bin"),
        ] {
            let got = std::fs::read(out.join(format!("big.{ext}"))).unwrap();
            assert!(
                got == careful(fmt, filter),
                "{fmt} with -j {j} and --filter {filter}"
            );
        }
        let m = manifest(&out);
        assert_eq!(m.len(), 1);
        assert_eq!(m[0]["status"], "converted");
        assert_eq!(m[0]["size"], log.len());
        assert_eq!(m[0]["sha256"], sha256(&input));
        for o in m[0]["outputs"].as_array().unwrap() {
            let path = out.join(o["path"].as_str().unwrap());
            assert_eq!(o["sha256"], sha256(&path), "{path:?}");
            assert_eq!(o["bytes"], std::fs::metadata(&path).unwrap().len());
        }
        // Events per type, counted whatever the filter.
        let count = |ty: &str| log.matches(&format!("\"type\":\"{ty}\"")).count() as u64;
        for ty in ["stdin", "stdout", "stderr", "forward-request"] {
            assert_eq!(m[0]["by_type"][ty], count(ty), "{ty}");
        }
        assert_eq!(m[0]["events"], log.lines().count());
        assert!(temporaries(&out).is_empty());
    }
    assert!(std::fs::read(root.join("out1-4/big.jsonl")).unwrap() == log.as_bytes());
    // The hex dump and hex line outputs, converted back in blocks, give the
    // events again (the extra keys are jsonl's own).
    let plain = log.replace(",\"channel_id\":\"big\"", "");
    for ext in ["hexdump", "hex"] {
        let back = root.join(format!("back-{ext}"));
        std::fs::create_dir_all(&back).unwrap();
        succeeds(&[
            "convert",
            "--to",
            "jsonl",
            "-j",
            "2",
            "-q",
            "-o",
            back.to_str().unwrap(),
            root.join(format!("out1-4/big.{ext}")).to_str().unwrap(),
        ]);
        assert!(
            std::fs::read(back.join("big.jsonl")).unwrap() == plain.as_bytes(),
            "{ext}"
        );
    }
    std::fs::remove_dir_all(&root).unwrap();
}

/// Replaces line `n` (1-based) of `log` with `with`.
fn replace_line(log: &str, n: usize, with: &str) -> String {
    let mut lines: Vec<&str> = log.lines().collect();
    lines[n - 1] = with;
    lines.join("\n") + "\n"
}

/// Writes `log` as `root/big.jsonl` and converts it with 2 threads into
/// `root/out`; gives the run and the output folder.
fn convert_big(root: &Path, log: &str, formats: &str) -> (Output, PathBuf) {
    let input = root.join("big.jsonl");
    std::fs::write(&input, log).unwrap();
    let out = root.join("out");
    std::fs::create_dir_all(&out).unwrap();
    let o = sshtrail(&[
        "convert",
        "--to",
        formats,
        "-j",
        "2",
        "-q",
        "-o",
        out.to_str().unwrap(),
        input.to_str().unwrap(),
    ]);
    (o, out)
}

#[test]
fn a_bad_line_deep_in_a_large_log_is_reported_where_it_is() {
    let root = scratch("large-bad");
    let log = large_log(20, "big");
    // A line well past the first blocks.
    let n = log[..12 << 20].lines().count() + 1;
    let bad = replace_line(
        &log,
        n,
        r#"{"type":"stdout","ts":"2023-06-07T17:32:29Z","data":"@@@@"}"#,
    );
    let (o, out) = convert_big(&root, &bad, "jsonl,raw");
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(1), "{err}");
    let at = format!("big.jsonl:{n}:54: error: ");
    assert!(err.contains(&at), "{at} in {err}");
    let m = manifest(&out);
    assert_eq!(
        (m[0]["status"].as_str(), m[0]["errors"].as_u64()),
        (Some("failed"), Some(1))
    );
    assert!(
        m[0]["messages"][0].as_str().unwrap().contains(&at),
        "{}",
        m[0]
    );
    assert!(m[0]["outputs"].as_array().unwrap().is_empty());
    // Nothing but the manifest: no output, no temporary.
    assert_eq!(walk(&out), [out.join("manifest.jsonl")]);
    std::fs::remove_dir_all(&root).unwrap();
}

#[test]
fn events_of_another_channel_in_a_large_log_go_to_their_channel() {
    let root = scratch("large-other");
    let log = large_log(20, "big");
    let n = log.lines().count();
    let other =
        r#"{"type":"stdout","ts":"2023-06-07T17:32:29Z","data":"b3RoZXI=","channel_id":"other"}"#;
    let mixed = replace_line(&replace_line(&log, n / 2, other), n - 3, other);
    let (o, out) = convert_big(&root, &mixed, "jsonl");
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    let m = manifest(&out);
    assert_eq!(m[0]["channels"], serde_json::json!(["big", "other"]));
    assert_eq!(
        std::fs::read_to_string(out.join("other.jsonl")).unwrap(),
        format!("{other}\n{other}\n")
    );
    let big = std::fs::read_to_string(out.join("big.jsonl")).unwrap();
    assert_eq!(big.lines().count(), n - 2);
    assert!(!big.contains("\"other\""));
    std::fs::remove_dir_all(&root).unwrap();
}

#[test]
fn interrupting_a_large_log_leaves_no_partial_output() {
    let root = scratch("large-sigint");
    let log = large_log(128, "big");
    let input = root.join("big.jsonl");
    std::fs::write(&input, &log).unwrap();
    let out = root.join("out");
    std::fs::create_dir_all(&out).unwrap();
    let child = Command::new(env!("CARGO_BIN_EXE_sshtrail"))
        .args([
            "convert",
            "--to",
            "jsonl,hexdump",
            "-j",
            "2",
            "-o",
            out.to_str().unwrap(),
            input.to_str().unwrap(),
        ])
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    // Interrupt once the conversion has started writing.
    let started = std::time::Instant::now();
    while temporaries(&out).is_empty() {
        assert!(
            started.elapsed().as_secs() < 60,
            "the conversion never started"
        );
        std::thread::sleep(std::time::Duration::from_millis(1));
    }
    // SAFETY: kill(2) with a pid we own.
    unsafe { libc::kill(child.id() as i32, libc::SIGINT) };
    let o = child.wait_with_output().unwrap();
    assert_eq!(
        o.status.code(),
        Some(130),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    assert_eq!(
        walk(&out),
        [out.join("manifest.jsonl")],
        "only the manifest"
    );
    assert!(manifest(&out).is_empty(), "nothing was finished");
    succeeds(&[
        "convert",
        "--to",
        "jsonl,hexdump",
        "--resume",
        "-q",
        "-o",
        out.to_str().unwrap(),
        input.to_str().unwrap(),
    ]);
    assert!(std::fs::read(out.join("big.jsonl")).unwrap() == log.as_bytes());
    std::fs::remove_dir_all(&root).unwrap();
}

#[test]
fn a_killed_batch_resumes_from_its_journal() {
    let root = scratch("killed");
    let t = copies_of_the_session(&root, 2000);
    let out = root.join("out");
    let args = |extra: &[&str]| {
        let mut a = vec!["convert", "--to", "text,asciicast", "-j", "1", "-q"];
        a.extend_from_slice(extra);
        a.extend_from_slice(&["-o", out.to_str().unwrap(), t.to_str().unwrap()]);
        a.into_iter().map(String::from).collect::<Vec<_>>()
    };
    let mut child = Command::new(env!("CARGO_BIN_EXE_sshtrail"))
        .args(args(&[]))
        .spawn()
        .unwrap();
    // Kill it (no chance to clean up) once some inputs are journaled.
    let journal = out.join("manifest.jsonl.journal");
    let started = std::time::Instant::now();
    while std::fs::read_to_string(&journal).map_or(0, |j| j.lines().count()) < 20 {
        assert!(started.elapsed().as_secs() < 60, "nothing was journaled");
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
    child.kill().unwrap();
    child.wait().unwrap();
    assert!(!out.join("manifest.jsonl").exists());
    let journaled: Vec<Value> = std::fs::read_to_string(&journal)
        .unwrap()
        .lines()
        .filter_map(|l| serde_json::from_str(l).ok())
        .collect();
    assert!(journaled.len() >= 20 && journaled.len() < 2000);
    // What a kill in the middle of a write leaves: a temporary of a process
    // that is gone.
    let mut gone = Command::new("true").spawn().unwrap();
    let dead = gone.id();
    gone.wait().unwrap();
    let stale = out.join(format!(".9999.txt.sshtrail-tmp-{dead}"));
    std::fs::write(&stale, b"half").unwrap();
    // The folder holds a conversion: plain convert refuses it.
    let o = sshtrail(&args(&[]).iter().map(String::as_str).collect::<Vec<_>>());
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("manifest.jsonl.journal"));
    let o = sshtrail(
        &args(&["--resume"])
            .iter()
            .map(String::as_str)
            .collect::<Vec<_>>(),
    );
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(0), "{err}");
    assert!(
        err.contains(&format!("removed {}", stale.display())),
        "{err}"
    );
    assert!(temporaries(&out).is_empty());
    assert!(!journal.exists(), "the manifest replaces the journal");
    let rows = manifest(&out);
    assert_eq!(rows.len(), 2000);
    // The journaled inputs were not converted again.
    let skipped: std::collections::HashSet<&str> = rows
        .iter()
        .filter(|r| r["status"] == "skipped")
        .map(|r| r["input"].as_str().unwrap())
        .collect();
    for j in &journaled {
        assert!(
            skipped.contains(j["input"].as_str().unwrap()),
            "{}",
            j["input"]
        );
    }
    std::fs::remove_dir_all(&root).unwrap();
}

#[test]
fn siem_records_convert_in_a_batch_one_file_a_channel() {
    let root = scratch("siem");
    let t = tree(&root);
    let out = root.join("out");
    succeeds(&[
        "convert",
        "--to",
        "ecs,ocsf,cef,hec,jsonl",
        "-q",
        "-o",
        out.to_str().unwrap(),
        t.join("a").to_str().unwrap(),
    ]);
    let conn = t.join("a").join(CONN);
    for (fmt, ext) in [
        ("ecs", "ecs.ndjson"),
        ("ocsf", "ocsf.ndjson"),
        ("cef", "cef"),
        ("hec", "hec"),
    ] {
        // The channels' files hold the connection's stream of records.
        let stream = succeeds(&["convert", "--to", fmt, conn.to_str().unwrap()]).stdout;
        let mut want: Vec<&str> = std::str::from_utf8(&stream).unwrap().lines().collect();
        let mut got = String::new();
        for ch in ["0", "1", "2"] {
            got.push_str(
                &std::fs::read_to_string(out.join(CONN).join(format!("{ch}.{ext}"))).unwrap(),
            );
        }
        let mut got: Vec<&str> = got.lines().collect();
        want.sort_unstable();
        got.sort_unstable();
        assert!(want.len() > 10, "{fmt}");
        assert_eq!(got, want, "{fmt}");
    }
    let rows = manifest(&out);
    assert_eq!(rows.len(), 3);
    for r in &rows {
        let formats: Vec<&str> = r["outputs"]
            .as_array()
            .unwrap()
            .iter()
            .map(|o| o["format"].as_str().unwrap())
            .collect();
        assert_eq!(formats, ["ecs", "ocsf", "cef", "hec", "jsonl"]);
        for o in r["outputs"].as_array().unwrap() {
            assert_eq!(o["sha256"], sha256(&out.join(o["path"].as_str().unwrap())));
        }
    }
    std::fs::remove_dir_all(&root).unwrap();
}

#[test]
fn a_large_log_cut_off_in_its_last_line_converts_with_a_located_warning() {
    let root = scratch("large-cut");
    let log = large_log(20, "big");
    // A download cut off in the middle of its last line.
    let cut = &log[..log.len() - 30];
    let (o, out) = convert_big(&root, cut, "jsonl,hexdump");
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(0), "{err}");
    // Located as the careful path locates it, reading the whole log.
    let careful = root.join("careful.jsonl");
    let input = root.join("big.jsonl");
    let c = sshtrail(&[
        "convert",
        "--to",
        "jsonl",
        "-o",
        careful.to_str().unwrap(),
        input.to_str().unwrap(),
    ]);
    let careful_err = String::from_utf8_lossy(&c.stderr);
    let n = log.lines().count();
    let at = format!("big.jsonl:{n}:");
    let warning = careful_err
        .lines()
        .find(|l| l.contains(&at))
        .unwrap_or_else(|| panic!("{careful_err}"));
    assert!(warning.contains(": warning: "), "{warning}");
    let located = &warning[warning.find(&at).unwrap()..];
    assert!(err.contains(located), "{located} in {err}");
    // Everything before the cut-off line is converted.
    let whole_lines = &cut[..cut.rfind('\n').unwrap() + 1];
    assert!(std::fs::read(out.join("big.jsonl")).unwrap() == whole_lines.as_bytes());
    assert!(std::fs::read(&careful).unwrap() == whole_lines.as_bytes());
    let m = manifest(&out);
    assert_eq!(
        (m[0]["status"].as_str(), m[0]["warnings"].as_u64()),
        (Some("converted"), Some(1))
    );
    assert!(
        m[0]["messages"][0].as_str().unwrap().ends_with(located),
        "{}",
        m[0]
    );
    assert_eq!(m[0]["events"], n - 1);
    std::fs::remove_dir_all(&root).unwrap();
}
