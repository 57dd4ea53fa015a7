//! Filters and batches on the real recordings of `testdata/realtrail`:
//! `--where`, `--since` and `--until` in every output mode, `--resume` with
//! formats added or outputs touched, the manifest's warning counts, one way
//! to walk for every command, and a channel kept in two layouts read once.

mod common;
use common::{real_connection, sshtrail, testdata_path};

use std::path::{Path, PathBuf};
use std::process::Output;

use serde_json::Value;

/// An interactive bash session (secrets typed at prompts, then commands).
const SHELL: &str = "1dd56798-86a1-46a4-8404-827bac6c0920";
/// An exec channel without a pty (legacy scp download).
const EXEC: &str = "fa5f783f-3bc3-46cd-b704-7dbdfd51f115";
/// A shell, an agent channel and a remote forward: three channels.
const AGENT_FORWARD: &str = "971de967-6278-4d94-8056-bb57e6f8c6f7";

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

fn arg(p: &Path) -> String {
    p.to_string_lossy().into_owned()
}

/// Runs `sshtrail ARGS`, which must end with `code`.
fn ends(code: i32, args: &[&str]) -> Output {
    let o = sshtrail(args);
    assert_eq!(
        o.status.code(),
        Some(code),
        "sshtrail {args:?}\nstderr:\n{}",
        text(&o.stderr)
    );
    o
}

fn manifest(out: &Path) -> Vec<Value> {
    std::fs::read_to_string(out.join("manifest.jsonl"))
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

fn sha256(path: &Path) -> String {
    use sha2::{Digest, Sha256};
    format!("{:x}", Sha256::digest(std::fs::read(path).unwrap()))
}

/// The whole real recording `id` (both layouts of every channel and its
/// `connection.json`, as a user who downloaded both keeps it) in a new
/// scratch folder; returns the scratch folder and the connection folder.
fn both_layouts(id: &str) -> (tempfile::TempDir, PathBuf) {
    let src = testdata_path("realtrail").join(id);
    let dir = tempfile::tempdir().unwrap();
    let conn = dir.path().join(id);
    std::fs::create_dir_all(&conn).unwrap();
    for entry in std::fs::read_dir(&src).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        if name.ends_with(".jsonl") || name.ends_with(".hex") || name == "connection.json" {
            std::fs::copy(&path, conn.join(&name)).unwrap();
        }
    }
    (dir, conn)
}

#[test]
fn where_since_and_until_apply_to_standard_output_and_one_file() {
    let (_dir, conn) = real_connection(SHELL, "jsonl", true);
    let conn = arg(&conn);
    // The connection was made on 2026-12-01 by trailuser@realtrail.test.
    let everything = ends(0, &["convert", "--to", "text", &conn]);
    assert!(!everything.stdout.is_empty());
    for (rule, selected) in [
        (["--where", "user=trailuser@*"], true),
        (["--where", "user=somebody-else@*"], false),
        (["--where", "host=realtrail-*"], true),
        (["--since", "2026-12-02T00:00:00Z"], false),
        (["--since", "2026-11-30T00:00:00Z"], true),
        (["--until", "2026-11-30T00:00:00Z"], false),
    ] {
        // Standard output, one channel.
        let o = ends(0, &["convert", "--to", "text", rule[0], rule[1], &conn]);
        if selected {
            assert_eq!(o.stdout, everything.stdout, "{rule:?}");
        } else {
            assert!(
                o.stdout.is_empty(),
                "{rule:?} selects nothing: {}",
                text(&o.stdout)
            );
            assert!(
                text(&o.stderr).contains("no connection matches"),
                "{rule:?}: {}",
                text(&o.stderr)
            );
        }
        // SIEM records on standard output.
        let o = ends(0, &["convert", "--to", "ecs", rule[0], rule[1], &conn]);
        assert_eq!(o.stdout.is_empty(), !selected, "{rule:?}");
        // One file: not even an empty one when nothing is selected.
        let out = tempfile::tempdir().unwrap();
        let file = out.path().join("session.cast");
        ends(
            0,
            &[
                "convert",
                "--to",
                "asciicast",
                "-o",
                &arg(&file),
                rule[0],
                rule[1],
                &conn,
            ],
        );
        assert_eq!(file.exists(), selected, "{rule:?}");
    }
}

#[test]
fn resume_converts_the_formats_added_since_the_last_run() {
    let (tree, _conn) = real_connection(SHELL, "jsonl", true);
    let out = tempfile::tempdir().unwrap();
    let out = out.path().join("out");
    let (tree, out_arg) = (arg(tree.path()), arg(&out));
    ends(
        0,
        &["convert", "--to", "jsonl", "-q", "-o", &out_arg, &tree],
    );
    let jsonl = out.join(SHELL).join("0.jsonl");
    let written = sha256(&jsonl);
    let modified = std::fs::metadata(&jsonl).unwrap().modified().unwrap();

    let o = ends(
        0,
        &[
            "convert",
            "--to",
            "jsonl,asciicast",
            "--resume",
            "-q",
            "-o",
            &out_arg,
            &tree,
        ],
    );
    let err = text(&o.stderr);
    assert!(
        err.contains("converted 1 file(s), failed 0, skipped 0"),
        "{err}"
    );
    let cast = out.join(SHELL).join("0.cast");
    assert!(cast.is_file(), "the added format is converted: {err}");
    // The output already done and intact is left as it was.
    assert_eq!(sha256(&jsonl), written);
    assert_eq!(
        std::fs::metadata(&jsonl).unwrap().modified().unwrap(),
        modified
    );
    let rows = manifest(&out);
    assert_eq!(rows.len(), 1);
    let row = &rows[0];
    assert_eq!(row["status"], "converted");
    assert_eq!(row["formats"], serde_json::json!(["jsonl", "asciicast"]));
    let listed: Vec<(String, String)> = row["outputs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| {
            (
                o["path"].as_str().unwrap().to_string(),
                o["sha256"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    assert_eq!(
        listed,
        [
            (format!("{SHELL}/0.jsonl"), written),
            (format!("{SHELL}/0.cast"), sha256(&cast)),
        ]
    );

    // Once every format is done, resuming skips it.
    let o = ends(
        0,
        &[
            "convert",
            "--to",
            "asciicast,jsonl",
            "--resume",
            "-q",
            "-o",
            &out_arg,
            &tree,
        ],
    );
    let err = text(&o.stderr);
    assert!(
        err.contains("converted 0 file(s), failed 0, skipped 1"),
        "{err}"
    );
}

#[test]
fn resume_says_which_outputs_were_changed_or_deleted_and_records_why() {
    let (tree, _conn) = real_connection(SHELL, "jsonl", true);
    let out = tempfile::tempdir().unwrap();
    let out = out.path().join("out");
    let (tree, out_arg) = (arg(tree.path()), arg(&out));
    let args = [
        "convert",
        "--to",
        "jsonl,asciicast",
        "-q",
        "-o",
        &out_arg,
        &tree,
    ];
    ends(0, &args);
    let input = manifest(&out)[0]["input"].as_str().unwrap().to_string();
    let jsonl = out.join(SHELL).join("0.jsonl");
    let cast = out.join(SHELL).join("0.cast");
    let (jsonl_sha, cast_sha) = (sha256(&jsonl), sha256(&cast));
    let mut changed = std::fs::read(&cast).unwrap();
    changed[0] ^= 1;
    std::fs::write(&cast, changed).unwrap();
    std::fs::remove_file(&jsonl).unwrap();

    let mut resume = args.to_vec();
    resume.push("--resume");
    let o = ends(0, &resume);
    let err = text(&o.stderr);
    let said = [
        format!(
            "{input}: warning: its output {} changed since it was written (its SHA-256 is not the one the manifest recorded): converted again",
            cast.display()
        ),
        format!(
            "{input}: warning: its output {} is missing (deleted since it was written): converted again",
            jsonl.display()
        ),
    ];
    for line in &said {
        assert!(err.contains(line.as_str()), "{line}\nnot in\n{err}");
    }
    let row = &manifest(&out)[0];
    assert_eq!(row["status"], "converted");
    assert_eq!(row["warnings"], 2, "{row}");
    let messages: Vec<&str> = row["messages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m.as_str().unwrap())
        .collect();
    for line in &said {
        assert!(
            messages.contains(&line.as_str()),
            "{line}\nnot in {messages:?}"
        );
    }
    // Both are back as they were written.
    assert_eq!((sha256(&jsonl), sha256(&cast)), (jsonl_sha, cast_sha));
}

/// The lines of `stderr` that are warnings.
fn warnings(stderr: &str) -> Vec<&str> {
    stderr.lines().filter(|l| l.contains("warning:")).collect()
}

#[test]
fn the_manifest_counts_every_warning_printed_about_an_input() {
    // An exec channel has no pty: asciicast and text say what they made up
    // or left out.
    let (tree, _conn) = real_connection(EXEC, "jsonl", true);
    let out = tempfile::tempdir().unwrap();
    let o = ends(
        0,
        &[
            "convert",
            "--to",
            "asciicast,text",
            "-q",
            "-o",
            &arg(out.path()),
            &arg(tree.path()),
        ],
    );
    let err = text(&o.stderr);
    let printed = warnings(&err);
    assert!(printed.len() >= 2, "{err}");
    let rows = manifest(out.path());
    assert_eq!(rows.len(), 1);
    assert_eq!(
        rows[0]["warnings"],
        printed.len() as u64,
        "{err}\n{}",
        rows[0]
    );

    // With both layouts kept: the one set aside is a warning about the
    // input read, counted and recorded too.
    let (tree, _conn) = both_layouts(EXEC);
    let out = tempfile::tempdir().unwrap();
    let o = ends(
        0,
        &[
            "convert",
            "--to",
            "asciicast,text",
            "-q",
            "-o",
            &arg(out.path()),
            &arg(tree.path()),
        ],
    );
    let err = text(&o.stderr);
    let rows = manifest(out.path());
    assert_eq!(rows.len(), 1, "{rows:?}");
    assert_eq!(
        rows[0]["warnings"],
        printed.len() as u64 + 1,
        "{err}\n{}",
        rows[0]
    );
    assert!(rows[0]["messages"][0]
        .as_str()
        .unwrap()
        .contains("0.hex too, in another layout"));
}

#[test]
fn every_command_walks_a_tree_of_connection_folders() {
    let (tree, conn) = real_connection(SHELL, "jsonl", true);
    let (tree, conn) = (arg(tree.path()), arg(&conn));
    let streams_of = |path: &str| {
        let out = tempfile::tempdir().unwrap();
        let dir = out.path().join("streams");
        ends(0, &["streams", "-o", &arg(&dir), path]);
        let mut files: Vec<(String, String)> = Vec::new();
        let mut todo = vec![dir.clone()];
        while let Some(d) = todo.pop() {
            for e in std::fs::read_dir(&d).unwrap() {
                let p = e.unwrap().path();
                if p.is_dir() {
                    todo.push(p);
                } else {
                    files.push((arg(p.strip_prefix(&dir).unwrap()), sha256(&p)));
                }
            }
        }
        files.sort();
        files
    };
    for args in [
        vec!["inspect"],
        vec!["commands"],
        vec!["grep", "echo"],
        vec!["convert", "--to", "text"],
        vec!["convert", "--to", "ecs"],
    ] {
        let of = |path: &str| {
            let mut a = args.clone();
            a.push(path);
            ends(0, &a)
        };
        let (in_tree, in_folder) = (of(&tree), of(&conn));
        assert!(!in_folder.stdout.is_empty(), "{args:?}");
        assert_eq!(text(&in_tree.stdout), text(&in_folder.stdout), "{args:?}");
        assert!(!text(&in_tree.stderr).contains("no trail logs"), "{args:?}");
    }
    let streams = streams_of(&tree);
    assert!(!streams.is_empty());
    assert_eq!(streams, streams_of(&conn));
}

#[test]
fn a_channel_kept_in_two_layouts_is_read_once_with_a_warning() {
    for id in [SHELL, AGENT_FORWARD] {
        let (_one, jsonl_only) = real_connection(id, "jsonl", true);
        let (_both, both) = both_layouts(id);
        for args in [
            vec!["commands"],
            vec!["inspect"],
            vec!["convert", "--to", "text"],
            vec!["grep", "-i", "e"],
        ] {
            if args[0] == "convert" && id == AGENT_FORWARD {
                continue; // three channels: one output cannot hold them
            }
            let of = |path: &Path| {
                let mut a = args.clone();
                let path = arg(path);
                a.push(&path);
                ends(0, &a)
            };
            let (once, twice) = (of(&jsonl_only), of(&both));
            let strip = |o: &Output, dir: &Path| text(&o.stdout).replace(&arg(dir), "DIR");
            assert_eq!(
                strip(&twice, &both),
                strip(&once, &jsonl_only),
                "{id} {args:?}"
            );
            let err = text(&twice.stderr);
            let channels: Vec<String> = std::fs::read_dir(&jsonl_only)
                .unwrap()
                .map(|e| e.unwrap().path())
                .filter(|p| p.extension().is_some_and(|x| x == "jsonl"))
                .map(|p| p.file_stem().unwrap().to_string_lossy().into_owned())
                .collect();
            for ch in &channels {
                let line = format!(
                    "{}: warning: the same channel is in {} too, in another layout, with the same events: that file is set aside, this one is read",
                    both.join(format!("{ch}.jsonl")).display(),
                    both.join(format!("{ch}.hex")).display()
                );
                assert!(err.contains(&line), "{line}\nnot in\n{err}");
            }
        }
    }
}

#[test]
fn one_channel_in_two_layouts_converts_into_the_one_file_named() {
    let (_one, jsonl_only) = real_connection(SHELL, "jsonl", true);
    let (_both, both) = both_layouts(SHELL);
    let out = tempfile::tempdir().unwrap();
    let (from_both, from_one) = (out.path().join("both.cast"), out.path().join("one.cast"));
    ends(
        0,
        &[
            "convert",
            "--to",
            "asciicast",
            "-o",
            &arg(&from_one),
            &arg(&jsonl_only),
        ],
    );
    ends(
        0,
        &[
            "convert",
            "--to",
            "asciicast",
            "-o",
            &arg(&from_both),
            &arg(&both),
        ],
    );
    assert!(from_both.is_file(), "{} is not a file", from_both.display());
    assert_eq!(
        std::fs::read(&from_both).unwrap(),
        std::fs::read(&from_one).unwrap()
    );
}

#[test]
fn two_layouts_of_one_channel_that_differ_are_an_error_naming_both() {
    let (_both, both) = both_layouts(SHELL);
    // One byte of one keystroke changed in the hex layout only.
    let hex = both.join("0.hex");
    let log = std::fs::read_to_string(&hex).unwrap();
    let mut lines: Vec<String> = log.lines().map(str::to_string).collect();
    let at = lines.iter().position(|l| l.contains(" stdin ")).unwrap();
    let last = lines[at].pop().unwrap();
    lines[at].push(if last == '0' { '1' } else { '0' });
    std::fs::write(&hex, lines.join("\n") + "\n").unwrap();
    for args in [
        vec!["commands"],
        vec!["inspect"],
        vec!["convert", "--to", "text"],
    ] {
        let mut a = args.clone();
        let path = arg(&both);
        a.push(&path);
        let o = ends(1, &a);
        let err = text(&o.stderr);
        let line = format!(
            "{}: error: the same channel is in {} too, in another layout, and the two differ: event {} differs in its payloads ({}:{} and {}:{}); neither is read",
            both.join("0.jsonl").display(),
            hex.display(),
            at + 1,
            both.join("0.jsonl").display(),
            at + 1,
            hex.display(),
            at + 1,
        );
        assert!(err.contains(&line), "{args:?}: {line}\nnot in\n{err}");
    }
}
