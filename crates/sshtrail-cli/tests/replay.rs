//! Replay outputs checked by real tools (the asciinema CLI, util-linux
//! scriptreplay, installed by `.ci/replay-deps.sh`) and by the real
//! recordings in testdata/corpus (see its SOURCES.md).

mod common;
use common::{sshtrail, testdata, testdata_path};

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use serde_json::Value;

fn tmp(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("sshtrail-replay-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir.join(name)
}

fn tool(name: &str) -> String {
    let found = Command::new("sh")
        .arg("-c")
        .arg(format!("command -v {name}"))
        .output()
        .unwrap();
    assert!(
        found.status.success(),
        "{name} is not installed: run .ci/replay-deps.sh (CI does)"
    );
    String::from_utf8(found.stdout).unwrap().trim().to_string()
}

/// The session's output bytes (stdout and stderr, in log order), decoded by
/// Python's base64, not by sshtrail.
fn output_bytes(jsonl: &str) -> Vec<u8> {
    let py = "import sys, json, base64\nout = sys.stdout.buffer\nfor l in open(sys.argv[1]):\n    e = json.loads(l)\n    if e['type'] in ('stdout', 'stderr'):\n        out.write(base64.b64decode(e['data']))\n";
    let o = Command::new("python3")
        .args(["-c", py, jsonl])
        .output()
        .unwrap();
    assert!(o.status.success());
    o.stdout
}

/// A trail log of hex lines built from (seconds, type, payload) steps.
fn trail(steps: &[(f64, &str, &[u8])]) -> String {
    let mut s = String::new();
    for (t, kind, p) in steps {
        let us = (t * 1e6).round() as u64;
        s.push_str(&format!(
            "2023-06-07T17:{:02}:{:02}.{:06}Z {kind}",
            32 + us / 60_000_000,
            us / 1_000_000 % 60,
            us % 1_000_000
        ));
        if !p.is_empty() {
            s.push(' ');
            s.extend(p.iter().map(|b| format!("{b:02x}")));
        }
        s.push('\n');
    }
    s
}

fn pty_req(cols: u32, rows: u32) -> Vec<u8> {
    let mut p = vec![98, 0, 0, 0, 0, 0, 0, 0, 7];
    p.extend_from_slice(b"pty-req\x01\x00\x00\x00\x05xterm");
    for v in [cols, rows, 0, 0, 0] {
        p.extend_from_slice(&v.to_be_bytes());
    }
    p
}

#[test]
fn asciinema_cat_reads_our_casts() {
    let asciinema = tool("asciinema");
    let cast = tmp("session.cast");
    let o = sshtrail(&[
        "convert",
        "--to",
        "asciicast",
        &testdata("session.jsonl"),
        "-o",
        cast.to_str().unwrap(),
    ]);
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    // The session holds every byte value: the invalid UTF-8 is reported.
    assert!(String::from_utf8_lossy(&o.stderr).contains("not UTF-8"));
    let cat = Command::new(&asciinema)
        .arg("cat")
        .arg(&cast)
        .output()
        .unwrap();
    assert!(
        cat.status.success(),
        "{}",
        String::from_utf8_lossy(&cat.stderr)
    );
    let want = String::from_utf8_lossy(&output_bytes(&testdata("session.jsonl"))).into_owned();
    assert_eq!(String::from_utf8_lossy(&cat.stdout), want);
}

#[test]
fn scriptreplay_replays_our_typescripts() {
    let scriptreplay = tool("scriptreplay");
    let want = output_bytes(&testdata("session.jsonl"));
    for (fmt, args) in [("script", vec!["-t"]), ("script-advanced", vec!["-T"])] {
        let ts = tmp(&format!("session.{fmt}"));
        let o = sshtrail(&[
            "convert",
            "--to",
            fmt,
            &testdata("session.jsonl"),
            "-o",
            ts.to_str().unwrap(),
        ]);
        assert_eq!(
            o.status.code(),
            Some(0),
            "{}",
            String::from_utf8_lossy(&o.stderr)
        );
        let timing = format!("{}.timing", ts.display());
        let mut cmd = Command::new(&scriptreplay);
        cmd.args(&args).arg(&timing);
        if fmt == "script" {
            cmd.arg(&ts);
        } else {
            cmd.arg("-B").arg(&ts);
        }
        let r = cmd.args(["-m", "0.0001"]).output().unwrap();
        assert!(
            r.status.success(),
            "{fmt}: {}",
            String::from_utf8_lossy(&r.stderr)
        );
        // scriptreplay ends with a newline of its own (it does so for
        // recordings of util-linux script too).
        let mut expected = want.clone();
        expected.push(b'\n');
        assert_eq!(r.stdout, expected, "{fmt}");
    }
}

#[test]
fn cast_headers_and_events() {
    let log = tmp("cast.hex");
    let mut wc = vec![98, 0, 0, 0, 0, 0, 0, 0, 13];
    wc.extend_from_slice(b"window-change\x00");
    for v in [100u32, 30, 0, 0] {
        wc.extend_from_slice(&v.to_be_bytes());
    }
    let mut exit = vec![98, 0, 0, 0, 0, 0, 0, 0, 11];
    exit.extend_from_slice(b"exit-status\x00\x00\x00\x00\x07");
    std::fs::write(
        &log,
        trail(&[
            (0.0, "forward-request", &pty_req(132, 43)),
            (0.5, "stdout", "h\u{e9}".as_bytes()),
            (0.75, "stdin", b"x"),
            (1.0, "forward-request", &wc),
            (2.0, "reverse-request", &exit),
        ]),
    )
    .unwrap();
    let v2 = String::from_utf8(
        sshtrail(&["convert", "--to", "asciicast", log.to_str().unwrap()]).stdout,
    )
    .unwrap();
    let lines: Vec<&str> = v2.lines().collect();
    let h: Value = serde_json::from_str(lines[0]).unwrap();
    assert_eq!(
        (
            h["version"].as_u64(),
            h["width"].as_u64(),
            h["height"].as_u64()
        ),
        (Some(2), Some(132), Some(43))
    );
    assert_eq!(h["env"]["TERM"], "xterm");
    assert_eq!(
        &lines[1..],
        [
            "[0.500000, \"o\", \"h\u{e9}\"]",
            "[1.000000, \"r\", \"100x30\"]"
        ]
    );
    // (The key `x` is never echoed: a secret, redacted by default; see
    // below. --no-redact keeps it, to show the event's form.)
    let v3 = String::from_utf8(
        sshtrail(&[
            "convert",
            "--to",
            "asciicast-v3",
            "--input",
            "--no-redact",
            "--idle-limit",
            "1.5",
            log.to_str().unwrap(),
        ])
        .stdout,
    )
    .unwrap();
    let lines: Vec<&str> = v3.lines().collect();
    let h: Value = serde_json::from_str(lines[0]).unwrap();
    assert_eq!(
        (
            h["version"].as_u64(),
            h["term"]["cols"].as_u64(),
            h["idle_time_limit"].as_f64()
        ),
        (Some(3), Some(132), Some(1.5))
    );
    assert_eq!(
        &lines[1..],
        [
            "[0.500000, \"o\", \"h\u{e9}\"]",
            "[0.250000, \"i\", \"x\"]",
            "[0.250000, \"r\", \"100x30\"]",
            "[1.000000, \"x\", \"7\"]"
        ]
    );
    // By default the unechoed key becomes `*`, at its time.
    let redacted = sshtrail(&[
        "convert",
        "--to",
        "asciicast-v3",
        "--input",
        log.to_str().unwrap(),
    ]);
    assert!(String::from_utf8(redacted.stdout)
        .unwrap()
        .contains("[0.250000, \"i\", \"*\"]\n"),);
    // Without a pty-req: the default size, and a warning.
    let bare = tmp("bare.hex");
    std::fs::write(&bare, trail(&[(0.0, "stdout", b"hi")])).unwrap();
    let o = sshtrail(&["convert", "--to", "asciicast", bare.to_str().unwrap()]);
    assert!(String::from_utf8_lossy(&o.stderr).contains("80x24"));
    assert!(
        String::from_utf8_lossy(&o.stdout).starts_with("{\"version\":2,\"width\":80,\"height\":24")
    );
}

#[test]
fn title_and_command_come_from_the_connection() {
    let out = tmp("conn-out");
    let _ = std::fs::remove_dir_all(&out);
    let conn = testdata("conn/6f1c2b7e-0d3a-4c55-9e1f-2a3b4c5d6e7f");
    let o = sshtrail(&[
        "convert",
        "--to",
        "asciicast,text",
        &conn,
        "-o",
        out.to_str().unwrap(),
    ]);
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    let dir = out.join("6f1c2b7e-0d3a-4c55-9e1f-2a3b4c5d6e7f");
    let exec_cast = std::fs::read_to_string(dir.join("1.cast")).unwrap();
    let h: Value = serde_json::from_str(exec_cast.lines().next().unwrap()).unwrap();
    // One `@` a name: the user, then the host (issue 12).
    assert_eq!(h["title"], "alice@example.com on db-prod-01");
    assert_eq!(h["command"], "sudo systemctl restart postgresql");
    let text = std::fs::read_to_string(dir.join("0.txt")).unwrap();
    assert!(
        text.contains("bash: f: command not found") && text.contains("h\u{e9}llo w\u{f6}rld"),
        "{text}"
    );
    // A second run keeps the outputs (the folder holds a conversion: exit 2);
    // --force replaces them.
    assert_eq!(
        sshtrail(&[
            "convert",
            "--to",
            "asciicast",
            &conn,
            "-o",
            out.to_str().unwrap()
        ])
        .status
        .code(),
        Some(2)
    );
    assert_eq!(
        sshtrail(&[
            "convert",
            "--force",
            "--to",
            "asciicast",
            &conn,
            "-o",
            out.to_str().unwrap()
        ])
        .status
        .code(),
        Some(0)
    );
    // Several outputs and no -o is a usage error.
    assert_eq!(
        sshtrail(&["convert", "--to", "asciicast", &conn])
            .status
            .code(),
        Some(2)
    );
    std::fs::remove_dir_all(&out).unwrap();
}

#[test]
fn commands_follow_the_line_editor_and_the_screen() {
    let log = tmp("cmds.hex");
    let mut steps: Vec<(f64, &str, Vec<u8>)> = vec![
        (0.0, "forward-request", pty_req(80, 24)),
        (0.1, "stdout", b"u@h:~$ ".to_vec()),
    ];
    let mut t = 0.2;
    let mut key = |steps: &mut Vec<(f64, &str, Vec<u8>)>, k: &[u8], echo: &[u8]| {
        t += 0.1;
        steps.push((t, "stdin", k.to_vec()));
        if !echo.is_empty() {
            steps.push((t + 0.01, "stdout", echo.to_vec()));
        }
    };
    // Typed with a typo fixed: exact.
    for (k, e) in [
        (&b"lss"[..], &b"lss"[..]),
        (b"\x7f", b"\x08\x1b[K"),
        (b" -l", b" -l"),
        (b"\r", b"\r\nout\r\nu@h:~$ "),
    ] {
        key(&mut steps, k, e);
    }
    // Tab completion: the screen shows the completed path.
    for (k, e) in [
        (&b"cd /us"[..], &b"cd /us"[..]),
        (b"\t", b"r/local/"),
        (b"\r", b"\r\nu@h:/usr/local$ "),
    ] {
        key(&mut steps, k, e);
    }
    // A password at a prompt: never echoed, never a command.
    for (k, e) in [
        (&b"sudo -v"[..], &b"sudo -v"[..]),
        (b"\r", b"\r\n[sudo] password for u: "),
        (b"hunter2\r", b"\r\nu@h:/usr/local$ "),
    ] {
        key(&mut steps, k, e);
    }
    // Keys typed in vim (alternate screen) are not commands.
    for (k, e) in [
        (&b"vim f"[..], &b"vim f"[..]),
        (b"\r", b"\r\n\x1b[?1049h\x1b[H~"),
        (b"ihello\x1b:wq\r", b"\x1b[?1049lu@h:/usr/local$ "),
        (b"ec\x03", b"ec^C\r\nu@h:/usr/local$ "),
        (b"echo done\r", b"echo done\r\ndone\r\n"),
    ] {
        key(&mut steps, k, e);
    }
    let steps: Vec<(f64, &str, &[u8])> = steps
        .iter()
        .map(|(t, k, p)| (*t, *k, p.as_slice()))
        .collect();
    std::fs::write(&log, trail(&steps)).unwrap();
    let o = sshtrail(&["commands", "--json", log.to_str().unwrap()]);
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    let got: Vec<(String, String)> = String::from_utf8(o.stdout)
        .unwrap()
        .lines()
        .map(|l| {
            let v: Value = serde_json::from_str(l).unwrap();
            assert!(v["ts"].as_str().unwrap().starts_with("2023-06-07T17:32:"));
            assert_eq!(v["channel_id"], "cmds");
            (
                v["command"].as_str().unwrap().to_string(),
                v["confidence"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    let want: Vec<(String, String)> = [
        ("ls -l", "exact"),
        ("cd /usr/local/", "echo"),
        ("sudo -v", "exact"),
        ("vim f", "exact"),
        ("echo done", "exact"),
    ]
    .iter()
    .map(|(a, b)| (a.to_string(), b.to_string()))
    .collect();
    assert_eq!(got, want);
}

/// Each hit's line names the connection and channel, the offset into the
/// channel and the time, what was searched and the text, controls escaped.
#[test]
fn grep_lines_name_where_and_when_with_controls_escaped() {
    let conn = testdata("conn/6f1c2b7e-0d3a-4c55-9e1f-2a3b4c5d6e7f");
    let o = sshtrail(&["grep", "-i", "e", &conn]);
    assert_eq!(o.status.code(), Some(0));
    let text = String::from_utf8(o.stdout).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    let id = "6f1c2b7e-0d3a-4c55-9e1f-2a3b4c5d6e7f";
    assert_eq!(
        lines.first().copied(),
        Some(format!("{id}/0  +0m00.763s  2023-06-07T17:32:00.764500Z  output: alice@db-prod-01:~$ ls -l").as_str()),
        "{text}"
    );
    // DEL is written as an escape, not as the byte.
    let del = lines
        .iter()
        .find(|l| l.contains("output: 123456789:;<=>?@"))
        .unwrap_or_else(|| panic!("{text}"));
    assert!(
        del.starts_with(&format!(
            "{id}/0  +0m01.785s  2023-06-07T17:32:01.786300Z  output: "
        )),
        "{del}"
    );
    assert!(del.contains("{|}~\\x7f"), "{del}");
    assert!(!text.contains('\x7f'), "{text}");
    assert_eq!(
        lines.last().copied(),
        Some(format!("{id}/1  +0m00.003s  2023-06-07T17:40:00.003000Z  command: sudo systemctl restart postgresql").as_str()),
        "{text}"
    );
}

#[test]
fn screen_grep_and_play() {
    let session = testdata("session.jsonl");
    let o = sshtrail(&["screen", "--at", "1.5s", &session]);
    let text = String::from_utf8(o.stdout).unwrap();
    assert!(
        text.contains("alice@db-prod-01:~$ ls -l\ntotal 8\n"),
        "{text}"
    );
    assert!(
        !text.contains("command not found"),
        "the error came later: {text}"
    );
    let o = sshtrail(&["grep", "-i", "COMMAND NOT FOUND", &session]);
    assert_eq!(o.status.code(), Some(0));
    let hit = String::from_utf8(o.stdout).unwrap();
    // Six fraction digits, as every derived time (issue 12).
    assert!(hit.starts_with("session  +0m01.784s  2023-06-07T17:32:01.785300Z  output: alice@db-prod-01:~$ fbash: f: command not found"), "{hit}");
    assert_eq!(
        sshtrail(&["grep", "no such text anywhere", &session])
            .status
            .code(),
        Some(1)
    );
    assert_eq!(sshtrail(&["grep", "(", &session]).status.code(), Some(2));
    let o = sshtrail(&["play", "--speed", "1000", &session]);
    assert_eq!(o.status.code(), Some(0));
    assert_eq!(o.stdout, output_bytes(&session));
    let o = sshtrail(&[
        "play", "--speed", "1000", "--from", "1.5s", "--to", "1.7848s", &session,
    ]);
    assert!(
        o.stdout.ends_with(b"bash: f: command not found\r\n"),
        "{:?}",
        String::from_utf8_lossy(&o.stdout)
    );
    assert!(
        !o.stdout.windows(3).any(|w| w == b"\xfd\xfe\xff"),
        "stops at --to"
    );
}

/// One output of more lines than the terminal has rows (`cat` of a file
/// in one SSH packet): the text, grep and the report's transcript have
/// every line, in order, once. They lost all but a screenful before.
#[test]
fn an_output_of_more_lines_than_rows_is_read_whole() {
    let many: String = (0..300).map(|i| format!("row{i:03}\r\n")).collect();
    let log = tmp("many-lines.hex");
    std::fs::write(
        &log,
        trail(&[
            (0.0, "forward-request", &pty_req(80, 24)),
            (1.0, "stdout", b"$ cat rows\r\n"),
            (2.0, "stdout", many.as_bytes()),
            (3.0, "stdout", b"$ "),
        ]),
    )
    .unwrap();
    let log = log.to_str().unwrap();
    let want: Vec<String> = (0..300).map(|i| format!("row{i:03}")).collect();
    let o = sshtrail(&["convert", "--to", "text", log]);
    assert_eq!(o.status.code(), Some(0));
    let text = String::from_utf8(o.stdout).unwrap();
    let rows: Vec<&str> = text.lines().filter(|l| l.starts_with("row")).collect();
    assert_eq!(rows, want, "{text}");
    for (i, row) in want.iter().enumerate() {
        let o = sshtrail(&["grep", "--only", "output", &format!("^{row}$"), log]);
        assert_eq!(o.status.code(), Some(0), "{row}");
        let hit = String::from_utf8(o.stdout).unwrap();
        // Written at 2 s: every row, those scrolled away too.
        assert!(hit.contains("+0m02.000s"), "{hit}");
        if i > 5 {
            break;
        }
    }
    let o = sshtrail(&["grep", "--only", "output", "^row", log]);
    assert_eq!(String::from_utf8(o.stdout).unwrap().lines().count(), 300);
    let page = tmp("many-lines.html");
    let _ = std::fs::remove_file(&page);
    let o = sshtrail(&["report", log, "-o", page.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(0));
    let html = std::fs::read_to_string(&page).unwrap();
    let transcript = &html[html.find("<pre class=\"transcript\"").unwrap()..];
    let rows: Vec<&str> = transcript
        .lines()
        .filter_map(|l| {
            let at = l.find("row")?;
            let row = l.get(at..at + 6)?;
            row[3..].bytes().all(|b| b.is_ascii_digit()).then_some(row)
        })
        .collect();
    assert_eq!(rows, want);
}

fn load_cast(path: &Path) -> (Value, Vec<(f64, String, String)>) {
    let whole = std::fs::read_to_string(path).unwrap();
    if let Ok(v) = serde_json::from_str::<Value>(&whole) {
        if v.get("stdout").is_some() {
            let mut t = 0.0;
            let evs = v["stdout"].as_array().unwrap().iter().map(|e| {
                t += e[0].as_f64().unwrap();
                (t, "o".to_string(), e[1].as_str().unwrap().to_string())
            });
            let evs = evs.collect();
            return (v, evs);
        }
    }
    let mut lines = whole.split('\n');
    let header: Value = serde_json::from_str(lines.next().unwrap()).unwrap();
    let v3 = header["version"] == 3;
    let mut t = 0.0;
    let evs = lines
        .filter(|l| !l.trim().is_empty() && !l.starts_with('#'))
        .map(|l| {
            let e: Value = serde_json::from_str(l).unwrap();
            t = if v3 {
                t + e[0].as_f64().unwrap()
            } else {
                e[0].as_f64().unwrap()
            };
            (
                t,
                e[1].as_str().unwrap().to_string(),
                e[2].as_str().unwrap_or_default().to_string(),
            )
        });
    let evs = evs.collect();
    (header, evs)
}

/// Every real recording in testdata/corpus/asciicast survives
/// asciicast -> trail log (cast2trail.py) -> sshtrail convert --to asciicast,
/// also with payloads split inside UTF-8 sequences.
#[test]
fn corpus_recordings_round_trip() {
    let corpus = testdata_path("corpus/asciicast");
    let cast2trail = testdata_path("tools/cast2trail.py");
    assert!(cast2trail.is_file(), "{} is missing", cast2trail.display());
    let dir = std::fs::read_dir(&corpus).unwrap_or_else(|e| panic!("{}: {e}", corpus.display()));
    let mut casts: Vec<PathBuf> = dir
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "cast"))
        .collect();
    casts.sort();
    assert!(casts.len() >= 20, "{} recordings", casts.len());
    for cast in &casts {
        let (h0, e0) = load_cast(cast);
        let size0 = (
            h0.get("width").or(h0["term"].get("cols")).cloned(),
            h0.get("height").or(h0["term"].get("rows")).cloned(),
        );
        let out0: String = e0
            .iter()
            .filter(|e| e.1 == "o")
            .map(|e| e.2.as_str())
            .collect();
        let resizes0: Vec<&str> = e0
            .iter()
            .filter(|e| e.1 == "r")
            .map(|e| e.2.as_str())
            .collect();
        let mut times0: Vec<i64> = e0
            .iter()
            .filter(|e| e.1 == "o" || e.1 == "r")
            .map(|e| (e.0 * 1e6).round() as i64)
            .collect();
        times0.sort();
        for split in ["1", "3"] {
            let name = cast.file_stem().unwrap().to_string_lossy();
            let log = tmp(&format!("{name}.{split}.jsonl"));
            let out = tmp(&format!("{name}.{split}.cast"));
            let py = Command::new("python3")
                .arg(&cast2trail)
                .arg(cast)
                .arg(&log)
                .args(["--split", split])
                .status()
                .unwrap();
            assert!(py.success());
            let o = sshtrail(&[
                "convert",
                "--to",
                "asciicast",
                log.to_str().unwrap(),
                "-o",
                out.to_str().unwrap(),
            ]);
            assert_eq!(
                o.status.code(),
                Some(0),
                "{name}: {}",
                String::from_utf8_lossy(&o.stderr)
            );
            let (h1, e1) = load_cast(&out);
            assert_eq!(
                (Some(h1["width"].clone()), Some(h1["height"].clone())),
                size0,
                "{name}"
            );
            let out1: String = e1
                .iter()
                .filter(|e| e.1 == "o")
                .map(|e| e.2.as_str())
                .collect();
            assert!(out1 == out0, "{name} split {split}: output text differs");
            let resizes1: Vec<&str> = e1
                .iter()
                .filter(|e| e.1 == "r")
                .map(|e| e.2.as_str())
                .collect();
            assert_eq!(resizes1, resizes0, "{name}");
            let mut last = i64::MIN;
            for e in &e1 {
                let us = (e.0 * 1e6).round() as i64;
                assert!(us >= last, "{name}: time goes back");
                last = us;
                let i = times0.partition_point(|&t| t < us);
                let near = [i.checked_sub(1), Some(i)]
                    .iter()
                    .flatten()
                    .filter_map(|&j| times0.get(j))
                    .map(|t| (t - us).abs())
                    .min();
                assert!(
                    near.is_some_and(|d| d <= 2),
                    "{name}: event time {us} us is not a time of the recording"
                );
            }
            if split == "1" {
                assert!(
                    e1.iter().filter(|e| e.1 == "o").count()
                        <= e0.iter().filter(|e| e.1 == "o" && !e.2.is_empty()).count(),
                    "{name}"
                );
            }
            let _ = std::io::stderr().flush();
        }
    }
}

#[test]
fn stdin_with_no_channel_metadata_is_one_output() {
    let mut child = Command::new(env!("CARGO_BIN_EXE_sshtrail"))
        .args(["convert", "--to", "asciicast", "-"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(std::fs::read(testdata("session.hex")).unwrap().as_slice())
        .unwrap();
    let o = child.wait_with_output().unwrap();
    assert!(o.status.success());
    assert!(String::from_utf8_lossy(&o.stdout)
        .starts_with("{\"version\":2,\"width\":120,\"height\":40"));
}
