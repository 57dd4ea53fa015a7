//! `sshtrail files` on the real recordings of `testdata/realtrail` (issue
//! 14): every transfer `truth.json` names, with its direction, remote
//! path, size and SHA-256, from each layout of the log kept alone (as a
//! user keeps them, and as `../shared/check.sh` runs it) and from the log
//! with its data re-cut into one-byte events; `--ops` shows the failing
//! get, the rm and the rename; hostile SFTP and SCP data are located
//! errors (exit 1), never a panic.

mod common;
use common::{sshtrail, testdata_path};

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

/// A channel request message: number 98, recipient 0, `name`, want
/// reply, then `arg` as a string.
fn request(name: &str, arg: &str) -> Vec<u8> {
    let mut m = vec![98, 0, 0, 0, 0];
    m.extend_from_slice(&(name.len() as u32).to_be_bytes());
    m.extend_from_slice(name.as_bytes());
    m.push(1);
    m.extend_from_slice(&(arg.len() as u32).to_be_bytes());
    m.extend_from_slice(arg.as_bytes());
    m
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
