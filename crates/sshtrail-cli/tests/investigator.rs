//! What an investigator reads, checked against the truth of real sessions
//! (issue 12): `testdata/realtrail` (OpenSSH sessions recorded through a
//! relay) and `testdata/realbash` (bash 5.2 under a pty, scripted keys),
//! each with `truth.json` (bash's own history, the secrets typed).
//!
//! Each recording folder holds a channel in one layout or both; a user
//! keeps one, so each test copies the connection's metadata and its jsonl
//! logs into a scratch folder, as `../shared/check.sh` does.

mod common;
use common::testdata_path as testdata;

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::Value;

const BIN: &str = env!("CARGO_BIN_EXE_sshtrail");

fn run(args: &[&str]) -> Output {
    Command::new(BIN).args(args).output().unwrap()
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// A recording: its truth and a scratch copy of its jsonl layout.
struct Recording {
    truth: Value,
    dir: tempfile::TempDir,
}

impl Recording {
    fn scenario(&self) -> &str {
        self.truth["scenario"].as_str().unwrap()
    }

    fn path(&self) -> String {
        self.dir.path().to_string_lossy().into_owned()
    }

    /// The shell channel's log.
    fn log(&self) -> String {
        self.dir
            .path()
            .join("0.jsonl")
            .to_string_lossy()
            .into_owned()
    }

    fn secrets(&self) -> Vec<String> {
        self.truth["client"]["secrets_typed_at_prompts"]
            .as_array()
            .map(|a| {
                a.iter()
                    .map(|s| s["secret"].as_str().unwrap().to_string())
                    .collect()
            })
            .unwrap_or_default()
    }

    fn has_shell(&self) -> bool {
        self.truth["channels"]
            .as_array()
            .unwrap()
            .iter()
            .any(|c| c["type"] == "shell")
    }
}

/// Every recording under `testdata/realtrail` and `testdata/realbash`.
fn recordings() -> Vec<Recording> {
    let mut all = Vec::new();
    for set in ["realtrail", "realbash"] {
        let mut dirs: Vec<PathBuf> = fs::read_dir(testdata(set))
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|p| p.join("truth.json").is_file())
            .collect();
        dirs.sort();
        for d in dirs {
            let truth: Value =
                serde_json::from_slice(&fs::read(d.join("truth.json")).unwrap()).unwrap();
            let dir = tempfile::tempdir().unwrap();
            for e in fs::read_dir(&d).unwrap() {
                let p = e.unwrap().path();
                let name = p.file_name().unwrap().to_string_lossy().into_owned();
                if name == "connection.json" || name.ends_with(".jsonl") {
                    fs::copy(&p, dir.path().join(&name)).unwrap();
                }
            }
            all.push(Recording { truth, dir });
        }
    }
    assert!(all.len() >= 17, "the real recordings are in testdata");
    all
}

/// The recording of scenario `name`.
fn scenario<'a>(all: &'a [Recording], name: &str) -> &'a Recording {
    all.iter()
        .find(|r| r.scenario() == name)
        .unwrap_or_else(|| panic!("no recording {name}"))
}

/// `commands --json` rows: (command, confidence, ts).
fn commands(path: &str, extra: &[&str]) -> Vec<(String, String, String)> {
    let o = run(&[&["commands", "--json"], extra, &[path]].concat());
    assert_eq!(o.status.code(), Some(0), "{}", text(&o.stderr));
    text(&o.stdout)
        .lines()
        .map(|l| {
            let v: Value = serde_json::from_str(l).unwrap();
            (
                v["command"].as_str().unwrap().to_string(),
                v["confidence"].as_str().unwrap().to_string(),
                v["ts"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

#[test]
fn typed_commands_of_every_shell_session_are_bashs_history() {
    let mut checked = 0;
    for r in recordings().iter().filter(|r| r.has_shell()) {
        let want: Vec<String> = r.truth["commands"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c["command"].as_str().unwrap().to_string())
            .collect();
        let got: Vec<String> = commands(&r.path(), &[])
            .into_iter()
            .map(|(c, _, _)| c)
            .collect();
        assert_eq!(got, want, "{}", r.scenario());
        checked += 1;
    }
    assert_eq!(checked, 11, "three relayed shells and eight bash sessions");
}

#[test]
fn readline_features_are_read_off_the_screen_with_echo_confidence() {
    let all = recordings();
    let find = |name: &str| scenario(&all, name);
    // History expansion: what bash ran, as it printed it.
    let got = commands(&find("b-history-expansion").path(), &[]);
    let expanded: Vec<(&str, &str)> = got[1..]
        .iter()
        .map(|(c, k, _)| (c.as_str(), k.as_str()))
        .collect();
    assert_eq!(
        expanded,
        [
            ("echo one two three", "echo"),
            ("echo three", "echo"),
            ("echo one two three", "echo"),
            ("echo one TWO three", "echo"),
            ("echo one TWO three", "echo"),
            ("echo done: TWO", "echo"),
            ("exit", "exact"),
        ]
    );
    // Reverse search accepted: the line found.
    let got = commands(&find("b-reverse-search").path(), &[]);
    assert_eq!(
        (got[4].0.as_str(), got[4].1.as_str()),
        ("echo first-command", "echo")
    );
    // Completion's trailing space is part of the command, as bash keeps it.
    let got = commands(&find("b-tab-completion").path(), &[]);
    assert!(got
        .iter()
        .any(|(c, k, _)| c == "cat readme.md " && k == "echo"));
    // Trailing and leading spaces typed are kept.
    let got = commands(&find("b-abandoned").path(), &[]);
    assert!(got
        .iter()
        .any(|(c, k, _)| c == "echo trailing  " && k == "exact"));
    assert!(got.iter().any(|(c, _, _)| c == "   echo leading"));
}

#[test]
fn abandoned_lines_are_listed_only_on_request() {
    let all = recordings();
    let r = scenario(&all, "b-abandoned");
    let default = commands(&r.path(), &[]);
    assert!(default.iter().all(|(_, k, _)| k != "abandoned"));
    let every = commands(&r.path(), &["--all"]);
    let abandoned: Vec<&str> = every
        .iter()
        .filter(|(_, k, _)| k == "abandoned")
        .map(|(c, _, _)| c.as_str())
        .collect();
    // Ctrl-C on a partial line, Ctrl-U clearing one, Ctrl-C at the `> `
    // prompt of an open quote.
    assert_eq!(
        abandoned,
        [
            "echo never-run-this",
            "rm -rf ./nothing-here",
            "still in the quote"
        ]
    );
    assert_eq!(every.len(), default.len() + 3);
    // Never a process launch in SIEM records.
    let o = run(&["convert", "--to", "ecs", &r.path()]);
    assert!(!text(&o.stdout).contains("never-run-this"));
}

#[test]
fn channels_without_a_terminal_give_only_their_exec_command_at_its_request() {
    let mut checked = 0;
    for r in recordings().iter().filter(|r| !r.has_shell()) {
        let want: Vec<String> = r.truth["channels"]
            .as_array()
            .unwrap()
            .iter()
            .filter_map(|c| c["exec"].as_str().map(str::to_string))
            .collect();
        let got = commands(&r.path(), &[]);
        let names: Vec<&str> = got.iter().map(|(c, _, _)| c.as_str()).collect();
        assert_eq!(names, want, "{}", r.scenario());
        // Timed at the exec request, not at the channel's open.
        for (_, _, ts) in &got {
            let log = fs::read_to_string(r.dir.path().join("0.jsonl")).unwrap();
            let exec_at = log
                .lines()
                .map(|l| serde_json::from_str::<Value>(l).unwrap())
                .find(|e| {
                    e["type"] == "forward-request"
                        && base64_decode(e["data"].as_str().unwrap_or(""))
                            .windows(4)
                            .any(|w| w == b"exec")
                })
                .map(|e| e["ts"].as_str().unwrap().to_string())
                .unwrap();
            assert_eq!(
                &ts[..23],
                &exec_at[..23],
                "{}: the exec request's time",
                r.scenario()
            );
        }
        checked += 1;
    }
    assert_eq!(checked, 6, "sftp, scp, tunnels, an exec");
}

fn base64_decode(s: &str) -> Vec<u8> {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD
        .decode(s)
        .unwrap_or_default()
}

/// Everything derived from a recording, by name.
fn derived(r: &Recording, extra: &[&str]) -> Vec<(String, Vec<u8>)> {
    let mut outs = Vec::new();
    let out = tempfile::tempdir().unwrap();
    for f in ["ecs", "ocsf", "cef", "hec"] {
        let o = run(&[&["convert", "--to", f, "--io"], extra, &[&r.path()]].concat());
        outs.push((format!("{f} --io"), o.stdout));
    }
    for f in [
        "asciicast",
        "asciicast-v3",
        "script-advanced",
        "script",
        "text",
    ] {
        let dest = out.path().join(f);
        let dest = dest.to_string_lossy();
        let mut args = vec!["convert", "--to", f];
        if f.starts_with("asciicast") {
            args.push("--input");
        }
        args.extend_from_slice(extra);
        let log = r.log();
        args.extend(["-o", &dest, &log]);
        let o = run(&args);
        assert_eq!(o.status.code(), Some(0), "{f}: {}", text(&o.stderr));
        let mut bytes = Vec::new();
        for e in fs::read_dir(out.path()).unwrap() {
            let p = e.unwrap().path();
            if p.file_name().unwrap().to_string_lossy().starts_with(f) {
                bytes.extend(fs::read(&p).unwrap());
            }
        }
        outs.push((f.to_string(), bytes));
    }
    // The evidence report: the page, player and search index included.
    let page = out.path().join("report.html");
    let page_arg = page.to_string_lossy();
    let o = run(&[&["report"], extra, &[&r.path(), "-o", &page_arg]].concat());
    assert_eq!(o.status.code(), Some(0), "report: {}", text(&o.stderr));
    outs.push(("report".into(), fs::read(&page).unwrap()));
    let o = run(&[&["commands", "--all"], extra, &[&r.path()]].concat());
    outs.push(("commands --all".into(), o.stdout));
    let o = run(&[&["cat", "--to", "pretty"], extra, &[&r.log()]].concat());
    outs.push(("cat --to pretty".into(), o.stdout));
    outs
}

/// The keys of each output joined: asciicast `i` events, SIEM `--io`
/// stdin texts, the pretty listing's stdin payloads, the typescript's input.
fn typed(name: &str, bytes: &[u8]) -> String {
    let t = text(bytes);
    let mut keys = String::new();
    for line in t.lines() {
        if let Ok(v) = serde_json::from_str::<Value>(line) {
            if let Some(a) = v.as_array() {
                if a.len() == 3 && a[1] == "i" {
                    keys.push_str(a[2].as_str().unwrap_or(""));
                }
            }
            let io = &v["process"]["io"];
            if line.contains("stdin") {
                keys.push_str(io["text"].as_str().unwrap_or(""));
            }
            keys.push_str(v["event"]["unmapped"]["text"].as_str().unwrap_or(""));
        }
        if name == "cat --to pretty" {
            let cells: Vec<&str> = line.split_whitespace().collect();
            if cells.get(1) == Some(&"stdin") {
                keys.push_str(cells.get(3).unwrap_or(&""));
            }
        }
    }
    keys
}

#[test]
fn no_secret_typed_at_a_prompt_reaches_a_derived_output() {
    let mut checked = 0;
    for r in recordings() {
        let secrets = r.secrets();
        if secrets.is_empty() {
            continue;
        }
        for (name, bytes) in derived(&r, &[]) {
            let whole = text(&bytes);
            let keys = typed(&name, &bytes);
            for s in &secrets {
                let squeezed: String = s.split_whitespace().collect();
                assert!(
                    !whole.contains(s.as_str()) && !keys.contains(s.as_str()),
                    "{}: {s:?} in {name}",
                    r.scenario()
                );
                assert!(
                    !keys.replace(' ', "").contains(&squeezed),
                    "{}: {s:?} key by key in {name}",
                    r.scenario()
                );
            }
        }
        // The derived outputs keep the timing: one `*` a byte, as `i`
        // events.
        let cast = derived(&r, &[])
            .into_iter()
            .find(|(n, _)| n == "asciicast")
            .unwrap()
            .1;
        let stars = typed("asciicast", &cast).matches('*').count();
        let secret_bytes: usize = secrets.iter().map(String::len).sum();
        assert_eq!(stars, secret_bytes, "{}", r.scenario());
        // SIEM records of a redacted line say so, and only those: one a
        // secret, each the stdin line of stars.
        for (name, bytes) in derived(&r, &[]) {
            let flag = match name.as_str() {
                // ECS `sshtrail.redacted`, written nested.
                "ecs --io" | "hec --io" => "\"redacted\":true",
                "ocsf --io" => "\"sshtrail\":{\"redacted\":true}",
                "cef --io" => "cn4=1",
                _ => continue,
            };
            let all = text(&bytes);
            let flagged: Vec<&str> = all.lines().filter(|l| l.contains(flag)).collect();
            assert_eq!(flagged.len(), secrets.len(), "{}: {name}", r.scenario());
            for (line, s) in flagged.iter().zip(&secrets) {
                assert!(
                    line.contains(&"*".repeat(s.len())),
                    "{}: {name}: {line}",
                    r.scenario()
                );
            }
        }
        // The evidence keeps every byte.
        let o = run(&["cat", "--to", "jsonl", &r.log()]);
        assert_eq!(o.stdout, fs::read(r.log()).unwrap(), "{}", r.scenario());
        checked += 1;
    }
    assert_eq!(checked, 2, "p-secret-prompts and b-secrets");
}

#[test]
fn no_redact_keeps_the_secrets_with_a_warning_and_redactions_are_counted() {
    let all = recordings();
    let r = scenario(&all, "b-secrets");
    let secrets = r.secrets();
    let out = tempfile::tempdir().unwrap();
    let cast = out.path().join("kept.cast");
    let o = run(&[
        "convert",
        "--to",
        "asciicast",
        "--input",
        "--no-redact",
        "-o",
        &cast.to_string_lossy(),
        &r.log(),
    ]);
    assert!(
        text(&o.stderr).contains("--no-redact: secrets typed at prompts are kept"),
        "{}",
        text(&o.stderr)
    );
    let keys = typed("asciicast", &fs::read(&cast).unwrap());
    for s in &secrets {
        assert!(keys.contains(s.as_str()), "{s:?} kept with --no-redact");
    }
    // The summary says how many were redacted.
    let o = run(&["convert", "--to", "asciicast", "--input", &r.log()]);
    assert!(
        text(&o.stderr).contains("redacted 4 secret(s) typed at prompts (72 byte(s) shown as *)"),
        "{}",
        text(&o.stderr)
    );
    // So does the batch manifest, per input.
    let dest = out.path().join("batch");
    let o = run(&[
        "convert",
        "--to",
        "asciicast,jsonl",
        "-q",
        "-o",
        &dest.to_string_lossy(),
        &r.path(),
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o.stderr));
    let row: Value = serde_json::from_str(
        fs::read_to_string(dest.join("manifest.jsonl"))
            .unwrap()
            .lines()
            .next()
            .unwrap(),
    )
    .unwrap();
    assert_eq!(row["redactions"]["secrets"], 4, "{row}");
    assert_eq!(row["redactions"]["bytes"], 72, "{row}");
    // And a prompt of one's own is taken too.
    let o = run(&[
        "convert",
        "--to",
        "asciicast",
        "--input",
        "--secret-prompt",
        "(",
        &r.log(),
    ]);
    assert_eq!(o.status.code(), Some(2), "a bad pattern is a usage error");
}

#[test]
fn grep_finds_no_secret() {
    for r in recordings() {
        for s in r.secrets() {
            let pattern = regex_escape(&s);
            let o = run(&["grep", &pattern, &r.path()]);
            assert_eq!(o.status.code(), Some(1), "{}: {s:?} found", r.scenario());
            assert!(o.stdout.is_empty());
        }
    }
}

fn regex_escape(s: &str) -> String {
    s.chars()
        .map(|c| {
            if "\\.+*?()|[]{}^$#&-~".contains(c) {
                format!("\\{c}")
            } else {
                c.to_string()
            }
        })
        .collect()
}

/// `convert --to text` of a recording's shell log.
fn transcript(r: &Recording) -> String {
    let out = tempfile::tempdir().unwrap();
    let dest = out.path().join("t.txt");
    let o = run(&[
        "convert",
        "--to",
        "text",
        "-o",
        &dest.to_string_lossy(),
        &r.log(),
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o.stderr));
    fs::read_to_string(dest).unwrap()
}

#[test]
fn the_transcript_holds_each_line_once_and_full_screen_programs_between_markers() {
    let all = recordings();
    for (name, typed_in_vim) in [
        (
            "p2-shell-editor",
            vec![
                "public note alpha",
                "public note beta été",
                "public note gamma",
            ],
        ),
        (
            "b-vim",
            vec![
                "first line typed in vim",
                "second line",
                "third line, the last",
            ],
        ),
    ] {
        let r = scenario(&all, name);
        let t = transcript(r);
        let lines: Vec<&str> = t.lines().collect();
        // Each command of bash's history is on one prompt line, once: the
        // shell's lines on screen when vim started are not repeated after.
        for c in r.truth["commands"].as_array().unwrap() {
            let c = c["command"].as_str().unwrap();
            let shown = lines
                .iter()
                .filter(|l| l.ends_with(&format!("$ {c}")))
                .count();
            assert_eq!(shown, 1, "{name}: {c:?} in\n{t}");
        }
        // vim's screens between markers that give its name and times.
        let start = lines
            .iter()
            .position(|l| l.starts_with("── alternate screen: vim, ") && l.contains(" → "))
            .unwrap_or_else(|| panic!("{name}: no marker in\n{t}"));
        let end = start
            + lines[start..]
                .iter()
                .position(|l| *l == "── end of alternate screen ──")
                .unwrap_or_else(|| panic!("{name}: no end marker in\n{t}"));
        for line in typed_in_vim {
            assert!(
                lines[start..end].contains(&line),
                "{name}: {line:?} typed in vim, not in\n{t}"
            );
        }
        // After the markers, the shell goes on where it was.
        assert!(lines[end + 1].contains("$ "), "{name}: {}", lines[end + 1]);
    }
}

#[test]
fn grep_reads_what_the_screen_showed() {
    let all = recordings();
    let find = |name: &str| scenario(&all, name);
    // A line killed with Ctrl-U was never shown glued to the next one.
    let o = run(&["grep", "after-ctrl-u", &find("b-abandoned").path()]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o.stderr));
    let hits = text(&o.stdout);
    assert!(hits.lines().count() >= 2, "{hits}");
    assert!(!hits.contains("nothing-here"), "{hits}");
    // Text typed in vim is found: the alternate screen showed it.
    let o = run(&["grep", "first line typed in vim", &find("b-vim").path()]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o.stderr));
    assert!(text(&o.stdout)
        .lines()
        .all(|l| l.ends_with("output: first line typed in vim")));
}

#[test]
fn screen_at_a_moment_outside_the_session_is_an_error_giving_its_span() {
    let all = recordings();
    let r = scenario(&all, "p2-shell-editor");
    for at in ["1h", "2020-01-01T00:00:00Z"] {
        let o = run(&["screen", "--at", at, &r.path()]);
        assert_eq!(o.status.code(), Some(1), "--at {at}");
        assert!(o.stdout.is_empty(), "--at {at}");
        let err = text(&o.stderr);
        assert!(err.contains("the session runs from"), "{err}");
        assert!(err.contains("+0m31.053s"), "{err}");
    }
    // Inside it, the screen: at 28 s, after the resize to 110x34.
    let o = run(&["screen", "--at", "28s", &r.path()]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o.stderr));
    let shown = text(&o.stdout);
    assert!(
        shown.contains("$ tput cols; tput lines\n110\n34\n"),
        "{shown}"
    );
}

#[test]
fn play_decides_which_channel_before_playing() {
    let all = recordings();
    let r = scenario(&all, "p2-shell-editor");
    // Two terminal channels in one connection.
    fs::copy(r.log(), r.dir.path().join("2.jsonl")).unwrap();
    let o = run(&["play", "--speed", "1000", &r.path()]);
    assert_ne!(o.status.code(), Some(0));
    assert!(o.stdout.is_empty(), "nothing played");
    let err = text(&o.stderr);
    assert!(
        err.contains("--channel") && err.contains("/0") && err.contains("/2"),
        "{err}"
    );
    let o = run(&["play", "--speed", "1000", "--channel", "2", &r.path()]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o.stderr));
    assert!(text(&o.stdout).contains("uname -s"));
    // --from after --to is a usage error.
    let o = run(&["play", "--from", "10s", "--to", "5s", &r.log()]);
    assert_eq!(o.status.code(), Some(2));
    assert!(o.stdout.is_empty());
}

#[test]
fn screen_play_and_text_refuse_channels_without_a_terminal() {
    let all = recordings();
    let mut checked = 0;
    // Each with one channel log, 0.jsonl (the tunnels' logs are 1 and 1-2).
    for r in all
        .iter()
        .filter(|r| !r.has_shell() && Path::new(&r.log()).exists())
    {
        let pty = r.truth["channels"]
            .as_array()
            .unwrap()
            .iter()
            .any(|c| c["pty"].is_object());
        if pty {
            continue;
        }
        let out = tempfile::tempdir().unwrap();
        let dest = out.path().join("t.txt");
        for args in [
            vec!["screen", "--at", "0.1s", &r.path()],
            vec!["play", "--speed", "1000", &r.path()],
            vec![
                "convert",
                "--to",
                "text",
                "-o",
                &dest.to_string_lossy(),
                &r.log(),
            ],
        ] {
            let o = run(&args);
            assert_eq!(o.status.code(), Some(1), "{}: {args:?}", r.scenario());
            assert!(o.stdout.is_empty(), "{}: {args:?}", r.scenario());
            assert!(
                text(&o.stderr).contains("no terminal channel"),
                "{}: {args:?}: {}",
                r.scenario(),
                text(&o.stderr)
            );
        }
        assert!(!dest.exists(), "{}: no transcript file", r.scenario());
        checked += 1;
    }
    assert_eq!(checked, 5, "sftp, scp, an exec");
}

#[test]
fn a_batch_transcript_of_channels_without_a_terminal_skips_them_saying_why() {
    let all = recordings();
    let r = scenario(&all, "p2-local-forward");
    let out = tempfile::tempdir().unwrap();
    let dest = out.path().join("out");
    let o = run(&[
        "convert",
        "--to",
        "text",
        "-o",
        &dest.to_string_lossy(),
        &r.path(),
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o.stderr));
    let err = text(&o.stderr);
    // The two tunnels and the connection's global requests.
    assert_eq!(err.matches("not a terminal").count(), 3, "{err}");
    assert!(
        err.contains("converted 0 file(s), failed 0, skipped 3"),
        "{err}"
    );
    let rows: Vec<Value> = fs::read_to_string(dest.join("manifest.jsonl"))
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(rows.len(), 3);
    for row in &rows {
        assert_eq!(row["status"], "skipped", "{row}");
        assert_eq!(row["outputs"], Value::Array(vec![]), "{row}");
        assert_eq!(row["warnings"], 1, "{row}");
    }
    let written: Vec<_> = fs::read_dir(&dest)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(written, ["manifest.jsonl"]);
}

#[test]
fn screen_offsets_count_from_the_connections_start() {
    let all = recordings();
    let r = scenario(&all, "p2-shell-editor");
    let alone = run(&["screen", "--at", "28s", &r.log()]);
    assert_eq!(alone.status.code(), Some(0), "{}", text(&alone.stderr));
    // Another channel of the connection speaks 10 s before the shell opens.
    fs::write(
        r.dir.path().join("9.jsonl"),
        "{\"type\":\"stdout\",\"ts\":\"2026-12-01T00:38:05.840531Z\",\"data\":\"bA==\"}\n",
    )
    .unwrap();
    let both = run(&["screen", "--at", "38s", &r.path()]);
    assert_eq!(both.status.code(), Some(0), "{}", text(&both.stderr));
    // The same screen, its header saying +38 s.
    let body = |o: &Output| {
        text(&o.stdout)
            .lines()
            .skip(1)
            .collect::<Vec<_>>()
            .join("\n")
    };
    assert_eq!(body(&both), body(&alone));
    assert!(text(&both.stdout)
        .lines()
        .next()
        .unwrap()
        .contains("(+0m38.000s)"));
}
