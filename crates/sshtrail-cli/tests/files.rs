//! `sshtrail files` on the real recordings of `testdata/realtrail` (issue
//! 14): every transfer `truth.json` names, with its direction, remote
//! path, size and SHA-256, from each layout of the log kept alone (as a
//! user keeps them, and as `../shared/check.sh` runs it) and from the log
//! with its data re-cut into one-byte events; `--ops` shows the failing
//! get, the rm and the rename; hostile SFTP and SCP data are located
//! errors (exit 1), never a panic.

mod common;
use common::{request, sftp_upload, sshtrail, testdata_path};

use std::fs;
use std::path::{Path, PathBuf};

use base64::Engine;
use serde_json::Value;

/// The recording folder of `scenario`, found through `index.json`.
fn recording(scenario: &str) -> PathBuf {
    let root = testdata_path("realtrail");
    let index: Value = serde_json::from_slice(&fs::read(root.join("index.json")).unwrap()).unwrap();
    let id = index["connections"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["scenario"] == scenario)
        .unwrap_or_else(|| panic!("{scenario} not in index.json"))["connection_id"]
        .as_str()
        .unwrap()
        .to_string();
    root.join(id)
}

fn truth(dir: &Path) -> Value {
    serde_json::from_slice(&fs::read(dir.join("truth.json")).unwrap()).unwrap()
}

/// A scratch connection folder holding the recording's metadata and its
/// log in one layout (`jsonl` or `hex`), named by the connection id.
fn view(dir: &Path, layout: &str) -> (tempfile::TempDir, String) {
    let scratch = tempfile::tempdir().unwrap();
    let conn = scratch.path().join(dir.file_name().unwrap());
    fs::create_dir(&conn).unwrap();
    fs::copy(dir.join("connection.json"), conn.join("connection.json")).unwrap();
    let log = format!("0.{layout}");
    fs::copy(dir.join(&log), conn.join(&log)).unwrap();
    (scratch, conn.to_string_lossy().into_owned())
}

/// `(direction, remote path, size, sha256)` of every file the truth names.
fn truth_files(t: &Value) -> Vec<(String, String, u64, String)> {
    let f = &t["client"]["files"];
    let one = |d: &str, x: &Value| {
        (
            d.to_string(),
            x["remote"].as_str().unwrap().to_string(),
            x["size"].as_u64().unwrap(),
            x["sha256"].as_str().unwrap().to_string(),
        )
    };
    let mut want = Vec::new();
    for (key, d) in [
        ("put", "upload"),
        ("get", "download"),
        ("download", "download"),
    ] {
        for x in f[key].as_array().into_iter().flatten() {
            want.push(one(d, x));
        }
    }
    if f["upload"].is_object() {
        want.push(one("upload", &f["upload"]));
    }
    want
}

/// Whether `path`, as the server saw it, names the truth's `remote`: the
/// same, or an absolute path ending with it (OpenSSH's sftp client sends
/// paths made absolute from the remote working folder).
fn names_remote(path: &str, remote: &str) -> bool {
    path == remote || (path.starts_with('/') && path.ends_with(&format!("/{remote}")))
}

fn json_lines(out: &[u8]) -> Vec<Value> {
    String::from_utf8(out.to_vec())
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

/// `files --json` on `path` gives exactly the truth's transfers of the
/// recording `dir`, each complete and with the connection's id.
fn assert_truth(path: &str, dir: &Path, label: &str) {
    let t = truth(dir);
    let out = sshtrail(&["files", "--json", path]);
    assert!(
        out.status.success(),
        "{label}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let got = json_lines(&out.stdout);
    let want = truth_files(&t);
    assert!(!want.is_empty(), "{label}: the truth names no file");
    assert_eq!(got.len(), want.len(), "{label}: {got:?}");
    for (direction, remote, size, sha256) in &want {
        assert!(
            got.iter().any(|g| g["direction"] == direction.as_str()
                && names_remote(g["path"].as_str().unwrap(), remote)
                && g["size"] == *size
                && g["sha256"] == sha256.as_str()
                && g["complete"] == true
                && g["connection_id"] == t["connection_id"]
                && g["channel_id"] == "0"
                && g["protocol"].is_string()),
            "{label}: {got:?} lacks {remote}"
        );
    }
}

const SCENARIOS: [&str; 4] = [
    "p-sftp-tree",
    "p-scp-legacy-upload",
    "p-scp-legacy-download",
    "p-scp-over-sftp-upload",
];

#[test]
fn files_json_gives_every_transfer_of_the_truth_in_both_layouts() {
    for scenario in SCENARIOS {
        let dir = recording(scenario);
        for layout in ["jsonl", "hex"] {
            let (_keep, conn) = view(&dir, layout);
            assert_truth(&conn, &dir, &format!("{scenario} ({layout})"));
        }
    }
}

#[test]
fn files_json_times_are_rfc3339_with_six_digits_and_the_protocol_is_named() {
    let dir = recording("p-scp-legacy-upload");
    let (_keep, conn) = view(&dir, "jsonl");
    let got = json_lines(&sshtrail(&["files", "--json", &conn]).stdout);
    let t = truth(&dir);
    let (connected, disconnected) = (
        t["connected"].as_str().unwrap(),
        t["disconnected"].as_str().unwrap(),
    );
    assert_eq!(got.len(), 1);
    for key in ["started", "ended"] {
        let ts = got[0][key].as_str().unwrap();
        assert_eq!(ts.len(), "2026-12-01T00:00:41.377228Z".len(), "{ts}");
        // The same layout as the truth's times, so they compare as text.
        assert!(connected <= ts && ts <= disconnected, "{ts}");
    }
    assert_eq!(got[0]["protocol"], "scp");
    let mode = t["client"]["files"]["upload"]["mode"].as_str().unwrap();
    assert_eq!(got[0]["mode"], mode);
}

/// The jsonl log at `path` with every data event cut into one-byte events
/// at the same time.
fn one_byte_events(path: &Path) -> String {
    let b64 = base64::engine::general_purpose::STANDARD;
    let mut out = String::new();
    for line in fs::read_to_string(path).unwrap().lines() {
        let v: Value = serde_json::from_str(line).unwrap();
        if matches!(v["type"].as_str(), Some("stdin" | "stdout" | "stderr")) {
            for byte in b64.decode(v["data"].as_str().unwrap()).unwrap() {
                let mut e = v.clone();
                e["data"] = Value::String(b64.encode([byte]));
                out += &format!("{e}\n");
            }
        } else {
            out += line;
            out.push('\n');
        }
    }
    out
}

#[test]
fn data_cut_into_one_byte_events_gives_the_same_transfers() {
    for scenario in SCENARIOS {
        let dir = recording(scenario);
        let (keep, conn) = view(&dir, "jsonl");
        let log = Path::new(&conn).join("0.jsonl");
        let split = one_byte_events(&log);
        assert!(split.lines().count() > fs::read_to_string(&log).unwrap().lines().count());
        fs::write(&log, split).unwrap();
        assert_truth(&conn, &dir, &format!("{scenario} (one-byte events)"));
        drop(keep);
    }
}

#[test]
fn files_ops_shows_the_failing_get_the_rm_and_the_rename() {
    let dir = recording("p-sftp-tree");
    let f = &truth(&dir)["client"]["files"];
    let (_keep, conn) = view(&dir, "jsonl");
    let ops = json_lines(&sshtrail(&["files", "--ops", "--json", &conn]).stdout);
    let on = |remote: &str| -> Vec<&Value> {
        ops.iter()
            .filter(|o| {
                o["paths"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .any(|p| names_remote(p.as_str().unwrap(), remote))
            })
            .collect()
    };
    let missing = f["failed_get"][0]["remote"].as_str().unwrap();
    assert!(
        on(missing).iter().any(
            |o| o["status"] == "failed" && o["message"].as_str().is_some_and(|m| !m.is_empty())
        ),
        "{:?}",
        on(missing)
    );
    let removed = f["removed"][0].as_str().unwrap();
    assert!(
        on(removed)
            .iter()
            .any(|o| o["op"] == "remove" && o["status"] == "ok"),
        "{:?}",
        on(removed)
    );
    let (from, to) = (
        f["renamed"][0]["from"].as_str().unwrap(),
        f["renamed"][0]["to"].as_str().unwrap(),
    );
    assert!(
        ops.iter().any(|o| {
            let paths = o["paths"].as_array().unwrap();
            o["op"].as_str().unwrap().contains("rename")
                && o["status"] == "ok"
                && paths.len() == 2
                && names_remote(paths[0].as_str().unwrap(), from)
                && names_remote(paths[1].as_str().unwrap(), to)
        }),
        "{ops:?}"
    );
    // The same three, for people.
    let text = String::from_utf8(sshtrail(&["files", "--ops", &conn]).stdout).unwrap();
    assert!(
        text.lines()
            .any(|l| l.contains(missing) && l.contains("failed: ")),
        "{text}"
    );
    assert!(
        text.lines()
            .any(|l| l.contains(removed) && l.contains(" remove ")),
        "{text}"
    );
    assert!(
        text.lines()
            .any(|l| l.contains(from) && l.contains(to) && l.contains("rename")),
        "{text}"
    );
}

/// A jsonl log of a channel asking for `request` (`subsystem sftp` or an
/// exec command), then the given data events.
fn log_with(request: &[u8], events: &[(&str, &[u8])]) -> String {
    let b64 = base64::engine::general_purpose::STANDARD;
    let mut out = format!(
        "{{\"type\":\"forward-request\",\"ts\":\"2023-06-07T17:32:29Z\",\"data\":\"{}\"}}\n",
        b64.encode(request)
    );
    for (kind, data) in events {
        out += &format!(
            "{{\"type\":\"{kind}\",\"ts\":\"2023-06-07T17:32:30Z\",\"data\":\"{}\"}}\n",
            b64.encode(data)
        );
    }
    out
}

/// A name, the request opening the channel, its data events, and the
/// message expected after the log's path.
type HostileCase<'a> = (&'a str, Vec<u8>, Vec<(&'a str, &'a [u8])>, &'a str);

#[test]
fn hostile_transfer_data_is_a_located_error_and_no_panic() {
    let sftp = request("subsystem", "sftp");
    let scp = request("exec", "scp -t x");
    let cases: [HostileCase; 5] = [
        (
            "truncated",
            sftp.clone(),
            vec![("stdin", &[0, 0, 0, 9, 3, 0][..])],
            ":2: error: the channel ends inside an SFTP packet",
        ),
        (
            "lying",
            sftp.clone(),
            vec![("stdin", &[0, 0, 0, 9, 3, 0, 0, 0, 1, 0, 0, 0, 200][..])],
            ":2: error: malformed SFTP OPEN packet",
        ),
        (
            "garbage",
            sftp,
            vec![
                ("stdout", &[0, 0, 0, 1, 2][..]),
                ("stdin", b"GET / HTTP/1.1\r\n\r\n"),
            ],
            ":3: error: SFTP packet of",
        ),
        (
            "bad-record",
            scp.clone(),
            vec![("stdout", &[0][..]), ("stdin", b"Cxyz 12 f\n")],
            ":3: error: malformed SCP record",
        ),
        (
            "bad-ack",
            scp,
            vec![("stdout", &[7][..])],
            ":2: error: malformed SCP acknowledgement",
        ),
    ];
    let scratch = tempfile::tempdir().unwrap();
    for (name, req, events, message) in cases {
        let path = scratch.path().join(format!("{name}.jsonl"));
        fs::write(&path, log_with(&req, &events)).unwrap();
        let path = path.to_string_lossy().into_owned();
        let out = sshtrail(&["files", &path]);
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{name}: {err}");
        assert!(err.contains(&format!("{path}{message}")), "{name}: {err}");
        assert!(!err.contains("panicked"), "{name}: {err}");
    }
}

/// SHA-256 of `data` in lowercase hex.
fn sha256_hex(data: &[u8]) -> String {
    use sha2::Digest;
    format!("{:x}", sha2::Sha256::digest(data))
}

/// The lines of `DIR/files.jsonl`.
fn extract_index(dir: &Path) -> Vec<Value> {
    json_lines(&fs::read(dir.join("files.jsonl")).unwrap())
}

#[test]
fn extract_writes_the_truths_bytes_under_safe_names_and_lists_them() {
    for scenario in SCENARIOS {
        let dir = recording(scenario);
        let t = truth(&dir);
        let (_keep, conn) = view(&dir, "jsonl");
        let out_dir = tempfile::tempdir().unwrap();
        let into = out_dir.path().join("x");
        let out = sshtrail(&["files", "--extract", into.to_str().unwrap(), &conn]);
        assert!(
            out.status.success(),
            "{scenario}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let index = extract_index(&into);
        let want = truth_files(&t);
        assert_eq!(index.len(), want.len(), "{scenario}: {index:?}");
        for (direction, remote, size, sha256) in &want {
            let line = index
                .iter()
                .find(|g| {
                    g["direction"] == direction.as_str()
                        && names_remote(g["path"].as_str().unwrap(), remote)
                        && g["sha256"] == sha256.as_str()
                })
                .unwrap_or_else(|| panic!("{scenario}: {index:?} lacks {remote}"));
            let rel = line["extracted"].as_str().unwrap();
            // <connection>/<channel>/NNN-NAME, NAME from the last component.
            let parts: Vec<&str> = rel.split('/').collect();
            assert_eq!(parts.len(), 3, "{rel}");
            assert_eq!(parts[0], t["connection_id"].as_str().unwrap());
            assert_eq!(parts[1], "0");
            assert!(parts[2].len() > 4 && parts[2].as_bytes()[..3].iter().all(u8::is_ascii_digit));
            assert!(
                !parts[2].contains(' ') && !parts[2].starts_with('.'),
                "{rel}"
            );
            let bytes = fs::read(into.join(rel)).unwrap();
            assert_eq!(bytes.len() as u64, *size, "{rel}");
            assert_eq!(&sha256_hex(&bytes), sha256, "{rel}");
            assert_eq!(line["written_sha256"], sha256.as_str());
            assert_eq!(line["partial"], false);
        }
        // Nothing but the files, their folders and the list.
        let mut count = 0;
        for e in walkdir::WalkDir::new(&into).min_depth(1) {
            let e = e.unwrap();
            if e.file_type().is_file() {
                count += 1;
            }
        }
        assert_eq!(count, want.len() + 1, "{scenario}");
    }
}

#[test]
fn extract_never_overwrites_without_force_and_never_follows_a_link() {
    let dir = recording("p-scp-legacy-upload");
    let (_keep, conn) = view(&dir, "jsonl");
    let scratch = tempfile::tempdir().unwrap();
    let into = scratch.path().join("x");
    let into_s = into.to_str().unwrap();
    assert!(sshtrail(&["files", "--extract", into_s, &conn])
        .status
        .success());
    let rel = extract_index(&into)[0]["extracted"]
        .as_str()
        .unwrap()
        .to_string();
    let file = into.join(&rel);
    let list_before = fs::read(into.join("files.jsonl")).unwrap();

    // Again: the list exists, nothing is touched.
    fs::write(&file, b"changed by the investigator").unwrap();
    let again = sshtrail(&["files", "--extract", into_s, &conn]);
    let err = String::from_utf8_lossy(&again.stderr);
    assert_ne!(again.status.code(), Some(0), "{err}");
    assert!(err.contains("exists (use --force"), "{err}");
    assert_eq!(fs::read(&file).unwrap(), b"changed by the investigator");
    assert_eq!(fs::read(into.join("files.jsonl")).unwrap(), list_before);

    // The list gone but the file there: the file is refused, named, kept.
    fs::remove_file(into.join("files.jsonl")).unwrap();
    let again = sshtrail(&["files", "--extract", into_s, &conn]);
    let err = String::from_utf8_lossy(&again.stderr);
    assert_eq!(again.status.code(), Some(1), "{err}");
    assert!(err.contains(&format!("{} exists", file.display())), "{err}");
    assert_eq!(fs::read(&file).unwrap(), b"changed by the investigator");
    assert_eq!(extract_index(&into)[0]["extracted"], Value::Null);

    // A link planted where the file goes is never written through, even
    // with --force.
    let outside = scratch.path().join("outside");
    fs::write(&outside, b"not yours").unwrap();
    fs::remove_file(&file).unwrap();
    std::os::unix::fs::symlink(&outside, &file).unwrap();
    let forced = sshtrail(&["files", "--extract", into_s, "--force", &conn]);
    assert_eq!(forced.status.code(), Some(1));
    assert_eq!(fs::read(&outside).unwrap(), b"not yours");

    // --force replaces what a run wrote.
    fs::remove_file(&file).unwrap();
    fs::write(&file, b"stale").unwrap();
    let forced = sshtrail(&["files", "--extract", into_s, "--force", &conn]);
    assert!(
        forced.status.success(),
        "{}",
        String::from_utf8_lossy(&forced.stderr)
    );
    let sha = truth_files(&truth(&dir))[0].3.clone();
    assert_eq!(sha256_hex(&fs::read(&file).unwrap()), sha);
}

fn write_log(dir: &Path, name: &str, req: &[u8], events: &[(&str, Vec<u8>)]) -> String {
    let events: Vec<(&str, &[u8])> = events.iter().map(|(k, d)| (*k, d.as_slice())).collect();
    let path = dir.join(name);
    fs::write(&path, log_with(req, &events)).unwrap();
    path.to_string_lossy().into_owned()
}

#[test]
fn extract_gives_a_hostile_remote_path_a_safe_name_and_out_of_order_writes_their_place() {
    let scratch = tempfile::tempdir().unwrap();
    let hostile = "../../../etc/cron.d/\u{202e}gpj.sh\nx";
    let log = write_log(
        scratch.path(),
        "0.jsonl",
        &request("subsystem", "sftp"),
        &sftp_upload(hostile.as_bytes(), &[(6, b"world"), (0, b"hello ")], true),
    );
    let into = scratch.path().join("x");
    let out = sshtrail(&["files", "--extract", into.to_str().unwrap(), &log]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let index = extract_index(&into);
    assert_eq!(index.len(), 1);
    assert_eq!(index[0]["path"], hostile);
    let rel = index[0]["extracted"].as_str().unwrap();
    // No connection id in a bare log: <channel>/NNN-NAME.
    assert_eq!(rel, "0/001-_gpj.sh_x");
    assert_eq!(fs::read(into.join(rel)).unwrap(), b"hello world");
    assert_eq!(index[0]["sha256"], sha256_hex(b"hello world").as_str());
}

#[test]
fn extract_writes_a_cut_transfer_as_partial_with_zeros_where_bytes_are_missing() {
    let scratch = tempfile::tempdir().unwrap();
    // Bytes 4..8 never written, and no close: the log ends first.
    let log = write_log(
        scratch.path(),
        "0.jsonl",
        &request("subsystem", "sftp"),
        &sftp_upload(b"/srv/report.pdf", &[(0, b"head"), (8, b"tail")], false),
    );
    let into = scratch.path().join("x");
    let out = sshtrail(&["files", "--extract", into.to_str().unwrap(), &log]);
    let err = String::from_utf8_lossy(&out.stderr);
    let index = extract_index(&into);
    assert_eq!(index.len(), 1, "{err}");
    let line = &index[0];
    assert_eq!(line["extracted"], "0/001-report.pdf.partial", "{err}");
    assert_eq!(line["partial"], true);
    assert_eq!(line["complete"], false);
    assert_eq!(line["missing"], serde_json::json!([[4, 8]]));
    assert!(line["why_incomplete"].is_string());
    assert_eq!(
        fs::read(into.join("0/001-report.pdf.partial")).unwrap(),
        b"head\0\0\0\0tail"
    );
    assert!(!err.contains("panicked"), "{err}");
}

#[test]
fn convert_to_files_extracts_in_bulk_and_skips_channels_without_a_transfer() {
    let scratch = tempfile::tempdir().unwrap();
    let archive = scratch.path().join("archive");
    fs::create_dir(&archive).unwrap();
    let mut want = Vec::new();
    for scenario in ["p-sftp-tree", "p-scp-legacy-download", "p2-shell-editor"] {
        let dir = recording(scenario);
        let (keep, conn) = view(&dir, "jsonl");
        let dest = archive.join(dir.file_name().unwrap());
        fs::rename(&conn, &dest).unwrap();
        drop(keep);
        want.extend(truth_files(&truth(&dir)));
    }
    let out_dir = scratch.path().join("out");
    let out = sshtrail(&[
        "convert",
        "--to",
        "files",
        archive.to_str().unwrap(),
        "-o",
        out_dir.to_str().unwrap(),
    ]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{err}");
    let rows = json_lines(&fs::read(out_dir.join("manifest.jsonl")).unwrap());
    assert_eq!(rows.len(), 3, "{rows:?}");
    let skipped: Vec<&Value> = rows.iter().filter(|r| r["status"] == "skipped").collect();
    assert_eq!(skipped.len(), 1, "{rows:?}");
    assert!(skipped[0]["messages"]
        .to_string()
        .contains("not a file transfer"));
    let mut outputs = Vec::new();
    for r in rows.iter().filter(|r| r["status"] == "converted") {
        outputs.extend(r["outputs"].as_array().unwrap().iter().cloned());
    }
    for (_, remote, size, sha256) in &want {
        let o = outputs
            .iter()
            .find(|o| o["sha256"] == sha256.as_str())
            .unwrap_or_else(|| panic!("{remote} not extracted: {outputs:?}"));
        let bytes = fs::read(out_dir.join(o["path"].as_str().unwrap())).unwrap();
        assert_eq!(bytes.len() as u64, *size);
        assert_eq!(&sha256_hex(&bytes), sha256);
    }
    // Each channel's list of its files beside them.
    let lists = outputs
        .iter()
        .filter(|o| o["path"].as_str().unwrap().ends_with("/files.jsonl"))
        .count();
    assert_eq!(lists, 2);
    // A file target is refused: the format writes folders.
    let one = sshtrail(&["convert", "--to", "files", archive.to_str().unwrap()]);
    assert_eq!(one.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&one.stderr).contains("-o FOLDER"));
}

/// `commands` gives an SCP channel's exec command and nothing from its
/// data, nothing from an SFTP channel; `screen`, `play` and `convert --to
/// text` refuse both (exit 1, naming the channel's kind), as no terminal
/// showed anything.
#[test]
fn replay_commands_see_no_typed_command_in_transfer_data_and_refuse_to_show_a_screen() {
    for scenario in SCENARIOS {
        let dir = recording(scenario);
        let (_keep, conn) = view(&dir, "jsonl");
        let out = sshtrail(&["commands", "--json", &conn]);
        assert!(
            out.status.success(),
            "{scenario}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let commands: Vec<String> = json_lines(&out.stdout)
            .iter()
            .map(|c| c["command"].as_str().unwrap().to_string())
            .collect();
        if scenario.contains("legacy") {
            assert_eq!(commands.len(), 1, "{scenario}: {commands:?}");
            assert!(
                commands[0].starts_with("scp ") && commands[0].contains(" -"),
                "{commands:?}"
            );
        } else {
            assert!(commands.is_empty(), "{scenario}: {commands:?}");
        }
        let kind = if scenario.contains("legacy") {
            "(exec)"
        } else {
            "(sftp)"
        };
        let scratch = tempfile::tempdir().unwrap();
        let text = scratch.path().join("t.txt");
        for args in [
            vec!["screen", "--at", "0.1", &conn],
            vec!["play", "--speed", "1000", &conn],
            vec![
                "convert",
                "--to",
                "text",
                &conn,
                "-o",
                text.to_str().unwrap(),
            ],
        ] {
            let out = sshtrail(&args);
            let err = String::from_utf8_lossy(&out.stderr);
            assert_eq!(out.status.code(), Some(1), "{scenario} {args:?}: {err}");
            assert!(
                err.contains("no terminal channel") && err.contains(kind),
                "{err}"
            );
            assert!(out.stdout.is_empty(), "{scenario} {args:?}");
        }
        assert!(!text.exists());
    }
}
