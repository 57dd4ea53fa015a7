//! File transfers recovered from real recordings (`testdata/realtrail`,
//! OpenSSH 9.2 through a recording relay), checked against each
//! recording's `truth.json`, whole and with its data re-cut into one-byte
//! events; and hostile SFTP and SCP data, which gives problems, never a
//! panic.

use std::path::{Path, PathBuf};

use base64::Engine;
use serde_json::Value;
use sshtrail::archive::{Archive, Discovery};
use sshtrail::transfer::{
    FileOp, Found, OpStatus, ProblemKind, RecoveredFile, TransferDecoder, TransferDirection,
    TransferProblem,
};

fn realtrail() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../testdata/realtrail")
}

/// The recording folder of `scenario`, found through `index.json`.
fn recording(scenario: &str) -> PathBuf {
    let index: Value =
        serde_json::from_slice(&std::fs::read(realtrail().join("index.json")).unwrap()).unwrap();
    let id = index["connections"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["scenario"] == scenario)
        .unwrap_or_else(|| panic!("{scenario} not in index.json"))["connection_id"]
        .as_str()
        .unwrap()
        .to_string();
    realtrail().join(id)
}

fn truth(dir: &Path) -> Value {
    serde_json::from_slice(&std::fs::read(dir.join("truth.json")).unwrap()).unwrap()
}

#[derive(Default)]
struct Decoded {
    files: Vec<RecoveredFile>,
    ops: Vec<FileOp>,
    problems: Vec<TransferProblem>,
}

fn decode(archive: &Archive) -> Decoded {
    let mut decoder = TransferDecoder::default();
    archive
        .replay(&mut decoder, &mut |p| panic!("log problem: {p}"))
        .unwrap();
    let mut d = Decoded::default();
    for f in decoder.take() {
        match f {
            Found::File(f) => d.files.push(f),
            Found::Op(o) => d.ops.push(o),
            Found::Problem(p) => d.problems.push(p),
            _ => unreachable!("a new kind of finding"),
        }
    }
    d
}

fn decode_log(path: &Path) -> Decoded {
    let archive = Archive::open(&[path], &Discovery::connection_folders(), &mut |p| {
        panic!("{p}")
    });
    decode(&archive)
}

/// `(direction, remote path, size, sha256)` of every file the truth names.
fn truth_files(t: &Value) -> Vec<(TransferDirection, String, u64, String)> {
    let f = &t["client"]["files"];
    let one = |d, x: &Value| {
        (
            d,
            x["remote"].as_str().unwrap().to_string(),
            x["size"].as_u64().unwrap(),
            x["sha256"].as_str().unwrap().to_string(),
        )
    };
    let mut want = Vec::new();
    for (key, d) in [
        ("put", TransferDirection::Upload),
        ("get", TransferDirection::Download),
        ("download", TransferDirection::Download),
    ] {
        for x in f[key].as_array().into_iter().flatten() {
            want.push(one(d, x));
        }
    }
    if f["upload"].is_object() {
        want.push(one(TransferDirection::Upload, &f["upload"]));
    }
    want
}

fn got_files(d: &Decoded) -> Vec<(TransferDirection, String, u64, String)> {
    d.files
        .iter()
        .map(|f| {
            (
                f.direction,
                f.path.clone(),
                f.size,
                f.sha256_hex().unwrap_or_default(),
            )
        })
        .collect()
}

/// Whether `path`, as the server saw it, names the truth's `remote`: the
/// same, or an absolute path ending with it (OpenSSH's sftp client sends
/// paths made absolute from the remote working folder).
fn names_remote(path: &str, remote: &str) -> bool {
    path == remote || (path.starts_with('/') && path.ends_with(&format!("/{remote}")))
}

/// The recovered files are the truth's (in any order: the truth lists a
/// folder's files in its own order).
fn assert_files(d: &Decoded, want: &[(TransferDirection, String, u64, String)], label: &str) {
    let got = got_files(d);
    assert_eq!(got.len(), want.len(), "{label}: {got:?}, want {want:?}");
    for w in want {
        assert!(
            got.iter()
                .any(|g| g.0 == w.0 && names_remote(&g.1, &w.1) && g.2 == w.2 && g.3 == w.3),
            "{label}: {got:?} lacks {w:?}"
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
fn every_transfer_of_the_real_recordings_has_the_truths_path_size_and_sha256() {
    for scenario in SCENARIOS {
        let dir = recording(scenario);
        let want = truth_files(&truth(&dir));
        assert!(!want.is_empty(), "{scenario}: the truth names no file");
        for log in ["0.jsonl", "0.hex"] {
            let d = decode_log(&dir.join(log));
            assert!(d.problems.is_empty(), "{scenario}/{log}: {:?}", d.problems);
            assert_files(&d, &want, &format!("{scenario}/{log}"));
            for f in &d.files {
                assert!(f.complete, "{scenario}/{log}: {f:?}");
                assert!(f.missing.is_empty() && f.why_incomplete.is_none(), "{f:?}");
                assert!(f.started <= f.ended, "{f:?}");
            }
        }
    }
}

#[test]
fn the_scp_upload_keeps_the_mode_the_truth_gives() {
    let dir = recording("p-scp-legacy-upload");
    let t = truth(&dir);
    let mode =
        u32::from_str_radix(t["client"]["files"]["upload"]["mode"].as_str().unwrap(), 8).unwrap();
    let d = decode_log(&dir.join("0.jsonl"));
    assert_eq!(d.files[0].mode, Some(mode));
}

/// The jsonl log at `path` with every data event cut into one-byte events
/// at the same time.
fn one_byte_events(path: &Path) -> Vec<u8> {
    let b64 = base64::engine::general_purpose::STANDARD;
    let mut out = Vec::new();
    for line in std::fs::read_to_string(path).unwrap().lines() {
        let v: Value = serde_json::from_str(line).unwrap();
        let kind = v["type"].as_str().unwrap();
        if matches!(kind, "stdin" | "stdout" | "stderr") {
            let data = b64.decode(v["data"].as_str().unwrap()).unwrap();
            for byte in data {
                let mut e = v.clone();
                e["data"] = Value::String(b64.encode([byte]));
                out.extend_from_slice(e.to_string().as_bytes());
                out.push(b'\n');
            }
        } else {
            out.extend_from_slice(line.as_bytes());
            out.push(b'\n');
        }
    }
    out
}

#[test]
fn data_cut_into_one_byte_events_gives_the_same_files_and_operations() {
    for scenario in SCENARIOS {
        let dir = recording(scenario);
        let whole = decode_log(&dir.join("0.jsonl"));
        let split = decode(&Archive::from_bytes(
            "0.jsonl",
            one_byte_events(&dir.join("0.jsonl")),
        ));
        assert!(
            split.problems.is_empty(),
            "{scenario}: {:?}",
            split.problems
        );
        assert_files(&split, &truth_files(&truth(&dir)), scenario);
        assert_eq!(
            split.files.iter().map(|f| f.complete).collect::<Vec<_>>(),
            whole.files.iter().map(|f| f.complete).collect::<Vec<_>>()
        );
        let ops = |d: &Decoded| {
            d.ops
                .iter()
                .map(|o| (o.op.clone(), o.paths.clone(), o.status.clone()))
                .collect::<Vec<_>>()
        };
        assert_eq!(ops(&split), ops(&whole), "{scenario}");
    }
}

#[test]
fn the_sftp_operations_show_the_failing_get_the_rm_and_the_rename() {
    let dir = recording("p-sftp-tree");
    let t = truth(&dir);
    let f = &t["client"]["files"];
    let d = decode_log(&dir.join("0.jsonl"));
    let names = |p: &str| {
        d.ops
            .iter()
            .filter(|o| o.paths.iter().any(|x| names_remote(x, p)))
            .collect::<Vec<_>>()
    };
    let missing = f["failed_get"][0]["remote"].as_str().unwrap();
    assert!(
        names(missing)
            .iter()
            .any(|o| matches!(&o.status, OpStatus::Failed { code: Some(2), message } if !message.is_empty())),
        "{:?}",
        names(missing)
    );
    let removed = f["removed"][0].as_str().unwrap();
    assert!(
        names(removed)
            .iter()
            .any(|o| o.op == "remove" && o.status == OpStatus::Ok),
        "{:?}",
        names(removed)
    );
    let (from, to) = (
        f["renamed"][0]["from"].as_str().unwrap(),
        f["renamed"][0]["to"].as_str().unwrap(),
    );
    assert!(
        d.ops.iter().any(|o| o.op.contains("rename")
            && o.paths.len() == 2
            && names_remote(&o.paths[0], from)
            && names_remote(&o.paths[1], to)
            && o.status == OpStatus::Ok),
        "{:?}",
        d.ops
    );
    let made = f["mkdir"][0].as_str().unwrap();
    assert!(names(made)
        .iter()
        .any(|o| o.op == "mkdir" && o.status == OpStatus::Ok));
    let chmod = &f["chmod"][0];
    let mode = chmod["mode"].as_str().unwrap();
    assert!(
        names(chmod["path"].as_str().unwrap())
            .iter()
            .any(|o| o.op == "setstat" && o.detail.contains(&format!("mode=0{mode}"))),
        "{:?}",
        d.ops
    );
}

/// A jsonl log of an SFTP channel whose client sent `stdin` and server
/// `stdout`, each a list of chunks.
fn sftp_log(stdin: &[&[u8]], stdout: &[&[u8]]) -> Vec<u8> {
    let b64 = base64::engine::general_purpose::STANDARD;
    // A subsystem request (message 98, recipient 0, "subsystem", want
    // reply, "sftp").
    let mut req = vec![98, 0, 0, 0, 0];
    req.extend_from_slice(&9u32.to_be_bytes());
    req.extend_from_slice(b"subsystem");
    req.push(1);
    req.extend_from_slice(&4u32.to_be_bytes());
    req.extend_from_slice(b"sftp");
    let mut out = format!(
        "{{\"type\":\"forward-request\",\"ts\":\"2023-06-07T17:32:29Z\",\"data\":\"{}\"}}\n",
        b64.encode(&req)
    );
    for (kind, chunks) in [("stdin", stdin), ("stdout", stdout)] {
        for c in chunks {
            out += &format!(
                "{{\"type\":\"{kind}\",\"ts\":\"2023-06-07T17:32:30Z\",\"data\":\"{}\"}}\n",
                b64.encode(c)
            );
        }
    }
    out.into_bytes()
}

fn packet(body: &[u8]) -> Vec<u8> {
    let mut p = (body.len() as u32).to_be_bytes().to_vec();
    p.extend_from_slice(body);
    p
}

#[test]
fn hostile_sftp_data_gives_located_problems() {
    // A length beyond the limit, on line 2.
    let d = decode(&Archive::from_bytes(
        "0.jsonl",
        sftp_log(&[b"\xff\xff\xff\xf0garbage"], &[]),
    ));
    assert!(
        matches!(
            d.problems[..],
            [TransferProblem {
                line: 2,
                kind: ProblemKind::TooLong { .. },
                ..
            }]
        ),
        "{:?}",
        d.problems
    );
    // A WRITE whose data string claims more than the packet holds.
    let mut write = vec![6, 0, 0, 0, 1, 0, 0, 0, 1, b'h'];
    write.extend_from_slice(&[0; 8]);
    write.extend_from_slice(&1000u32.to_be_bytes());
    write.extend_from_slice(b"abc");
    let d = decode(&Archive::from_bytes(
        "0.jsonl",
        sftp_log(&[&packet(&write)], &[]),
    ));
    assert!(
        matches!(&d.problems[..], [TransferProblem { line: 2, kind: ProblemKind::Malformed { why, .. }, .. }] if why.contains("1000")),
        "{:?}",
        d.problems
    );
    // A packet cut by the end of the channel.
    let d = decode(&Archive::from_bytes(
        "0.jsonl",
        sftp_log(&[&[0, 0, 0, 9, 3, 0]], &[]),
    ));
    assert!(
        matches!(
            d.problems[..],
            [TransferProblem {
                line: 2,
                kind: ProblemKind::Truncated {
                    have: 6,
                    want: 13,
                    ..
                },
                ..
            }]
        ),
        "{:?}",
        d.problems
    );
    // A response to nothing, and an empty packet.
    let d = decode(&Archive::from_bytes(
        "0.jsonl",
        sftp_log(&[&[0, 0, 0, 0]], &[&packet(&[101, 0, 0, 0, 7, 0, 0, 0, 0])]),
    ));
    assert_eq!(d.problems.len(), 2, "{:?}", d.problems);
}

#[test]
fn hostile_scp_data_gives_located_problems() {
    let b64 = base64::engine::general_purpose::STANDARD;
    // exec "scp -t x" then a record that lies about its size and a bad one.
    let mut req = vec![98, 0, 0, 0, 0, 0, 0, 0, 4];
    req.extend_from_slice(b"exec");
    req.push(1);
    req.extend_from_slice(&8u32.to_be_bytes());
    req.extend_from_slice(b"scp -t x");
    let log = |stdin: &[u8]| {
        format!(
            "{{\"type\":\"forward-request\",\"ts\":\"2023-06-07T17:32:29Z\",\"data\":\"{}\"}}\n{{\"type\":\"stdout\",\"ts\":\"2023-06-07T17:32:30Z\",\"data\":\"AA==\"}}\n{{\"type\":\"stdin\",\"ts\":\"2023-06-07T17:32:30Z\",\"data\":\"{}\"}}\n",
            b64.encode(&req),
            b64.encode(stdin)
        )
    };
    let d = decode(&Archive::from_bytes(
        "0.jsonl",
        log(b"C0644 99999999999 f\nabc"),
    ));
    assert_eq!(d.files.len(), 1);
    assert!(!d.files[0].complete && d.files[0].sha256.is_none());
    assert_eq!(d.files[0].missing.len(), 1);
    assert_eq!(d.files[0].missing[0], 3..99_999_999_999);
    let d = decode(&Archive::from_bytes("0.jsonl", log(b"Q what\n")));
    assert!(
        matches!(
            d.problems[..],
            [TransferProblem {
                line: 3,
                kind: ProblemKind::Malformed { .. },
                ..
            }]
        ),
        "{:?}",
        d.problems
    );
    let d = decode(&Archive::from_bytes("0.jsonl", log(b"C0644 12 f")));
    assert!(
        matches!(
            d.problems[..],
            [TransferProblem {
                line: 3,
                kind: ProblemKind::Truncated { .. },
                ..
            }]
        ),
        "{:?}",
        d.problems
    );
}
