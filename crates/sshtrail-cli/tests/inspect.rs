//! `sshtrail inspect` and `sshtrail streams` on connection directories.

mod common;
use common::{real_connection, sshtrail, testdata, testdata_path};

use std::process::Output;

const CONN: &str = "6f1c2b7e-0d3a-4c55-9e1f-2a3b4c5d6e7f";

fn json(o: &Output) -> serde_json::Value {
    serde_json::from_slice(&o.stdout)
        .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&o.stdout)))
}

#[test]
fn inspect_json_tells_who_where_and_how_it_ended() {
    let o = sshtrail(&["inspect", "--json", &testdata(&format!("conn/{CONN}"))]);
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    let v = json(&o);
    let c = &v["connections"][0];
    assert_eq!(c["id"], CONN);
    assert_eq!(c["user"], "alice@example.com");
    assert_eq!(c["host"], "db-prod-01");
    assert_eq!(c["address"], "10.20.30.40");
    assert_eq!(c["account"], "alice");
    assert_eq!(c["remote_address"], "203.0.113.9");
    // The metadata's `2023-06-07T17:32:00Z`, with the one precision of
    // derived times (issue 12).
    assert_eq!(c["started"], "2023-06-07T17:32:00.000000Z");
    let chans = c["channels"].as_array().unwrap();
    assert_eq!(
        chans
            .iter()
            .map(|c| c["type"].as_str().unwrap())
            .collect::<Vec<_>>(),
        ["shell", "exec", "direct-tcpip"]
    );
    assert_eq!(chans[0]["exit_status"], 127);
    assert_eq!(chans[1]["exec"], "sudo systemctl restart postgresql");
    assert_eq!(chans[2]["forwards"][0]["address"], "db.internal");
    assert!(chans.iter().all(|c| c["integrity"]["ok"] == true));
}

#[test]
fn inspect_names_every_disagreement_with_the_metadata() {
    let o = sshtrail(&[
        "inspect",
        "--json",
        &testdata(&format!("conn-tampered/{CONN}")),
    ]);
    let v = json(&o);
    let ch = &v["connections"][0]["channels"][0];
    assert_eq!(ch["integrity"]["ok"], false);
    let problems: Vec<&str> = ch["integrity"]["problems"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p.as_str().unwrap())
        .collect();
    assert!(
        problems
            .iter()
            .any(|p| p.contains("bytes_client_to_server")),
        "{problems:?}"
    );
    assert!(
        problems
            .iter()
            .any(|p| p.contains("bytes_server_to_client")),
        "{problems:?}"
    );
    assert!(
        problems.iter().any(|p| p.contains("UNCLEAN_CLOSE")),
        "{problems:?}"
    );
    assert_eq!(ch["integrity"]["verdict"], "mismatch");
    assert_eq!(o.status.code(), Some(1), "a mismatch fails the run");
    let o = sshtrail(&["inspect", &testdata(&format!("conn-tampered/{CONN}"))]);
    let text = String::from_utf8(o.stdout).unwrap();
    assert!(
        text.contains("integrity mismatch: stdin has 14 bytes but the metadata's bytes_client_to_server is 21;")
            && text.contains("protocol_file.status is UNCLEAN_CLOSE")
            && text.contains("who      alice@example.com"),
        "{text}"
    );
    assert_eq!(o.status.code(), Some(1));
}

/// The gateway's metadata carries byte counts and a status, no checksum: a
/// byte replaced by another of the same count cannot be caught, and the
/// verdict says what was compared instead of claiming the log is intact.
#[test]
fn integrity_says_what_was_compared_and_what_cannot_be() {
    use base64::Engine as _;
    let b64 = base64::engine::general_purpose::STANDARD;
    let (_dir, conn) = real_connection("1c0eb6a5-9524-455b-bc54-0e310f597329", "jsonl", true);
    let log = conn.join("0.jsonl");
    let text = std::fs::read_to_string(&log).unwrap();
    // One output byte replaced by another: every count stays the same.
    let mut replaced = false;
    let lines: Vec<String> = text
        .lines()
        .map(|l| {
            let mut v: serde_json::Value = serde_json::from_str(l).unwrap();
            if !replaced && v["type"] == "stdout" {
                let mut data = b64.decode(v["data"].as_str().unwrap()).unwrap();
                if let Some(b) = data.iter_mut().find(|b| b.is_ascii_lowercase()) {
                    *b = if *b == b'z' { b'a' } else { *b + 1 };
                    v["data"] = b64.encode(&data).into();
                    replaced = true;
                    return v.to_string();
                }
            }
            l.to_string()
        })
        .collect();
    assert!(replaced);
    std::fs::write(&log, lines.join("\n") + "\n").unwrap();
    let o = sshtrail(&["inspect", "--json", conn.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(0));
    let integrity = &json(&o)["connections"][0]["channels"][0]["integrity"];
    assert_eq!(integrity["verdict"], "ok");
    assert_eq!(
        integrity["checked"],
        serde_json::json!([
            "client to server: 291 bytes, as bytes_client_to_server says",
            "server to client: 6034 bytes, as bytes_server_to_client says",
            "protocol_file.status is OK"
        ])
    );
    let o = sshtrail(&["inspect", conn.to_str().unwrap()]);
    let text = String::from_utf8(o.stdout).unwrap();
    assert!(
        text.contains("integrity ok: client to server: 291 bytes, as bytes_client_to_server says; server to client: 6034 bytes")
            && text.contains("contents not checked: that needs the gateway's checksum"),
        "{text}"
    );
    assert!(!text.contains("matches the connection metadata"), "{text}");
}

#[test]
fn without_metadata_the_verdict_is_unknown_and_the_run_succeeds() {
    let (_dir, conn) = real_connection("1c0eb6a5-9524-455b-bc54-0e310f597329", "hex", false);
    let o = sshtrail(&["inspect", "--json", conn.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(0), "unknown is not a failure");
    let integrity = &json(&o)["connections"][0]["channels"][0]["integrity"];
    assert_eq!(integrity["verdict"], "unknown");
    assert_eq!(integrity["ok"], false);
    let text = String::from_utf8(sshtrail(&["inspect", conn.to_str().unwrap()]).stdout).unwrap();
    assert!(
        text.contains(
            "integrity unknown: no connection metadata: nothing to check the log against"
        ),
        "{text}"
    );
}

#[test]
fn a_log_file_finds_its_connection_json() {
    let o = sshtrail(&[
        "inspect",
        "--json",
        &testdata(&format!("conn/{CONN}/1.jsonl")),
    ]);
    let c = &json(&o)["connections"][0];
    assert_eq!(c["id"], CONN);
    assert_eq!(c["user"], "alice@example.com");
    assert_eq!(c["channels"][0]["id"], "1");
    assert_eq!(c["channels"][0]["integrity"]["ok"], true);
}

#[test]
fn bad_connection_json_is_located_and_the_logs_still_read() {
    let dir = std::env::temp_dir().join(format!("sshtrail-inspect-{}", std::process::id()));
    let conn = dir.join(CONN);
    std::fs::create_dir_all(&conn).unwrap();
    std::fs::write(
        conn.join("connection.json"),
        "{\n  \"id\": \"x\",\n  \"tags\": nope\n}",
    )
    .unwrap();
    std::fs::copy(testdata("session.jsonl"), conn.join("0.jsonl")).unwrap();
    let o = sshtrail(&["inspect", "--json", conn.to_str().unwrap()]);
    let err = String::from_utf8_lossy(&o.stderr).into_owned();
    assert_eq!(o.status.code(), Some(1));
    assert!(
        err.contains("connection.json:3:") && err.contains("bad connection JSON"),
        "{err}"
    );
    assert_eq!(
        json(&o)["connections"][0]["channels"][0]["bytes"]["stdout"],
        406
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn streams_writes_raw_files_and_an_index() {
    let out = std::env::temp_dir().join(format!("sshtrail-streams-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&out);
    let o = sshtrail(&[
        "streams",
        "-o",
        out.to_str().unwrap(),
        &testdata(&format!("conn/{CONN}")),
    ]);
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    let ch0 = out.join(CONN).join("0");
    for s in ["stdin", "stdout", "stderr"] {
        assert_eq!(
            std::fs::read(ch0.join(s)).unwrap(),
            std::fs::read(testdata(&format!("session.{s}.bin"))).unwrap(),
            "{s}"
        );
    }
    let index: serde_json::Value =
        serde_json::from_slice(&std::fs::read(ch0.join("index.json")).unwrap()).unwrap();
    let chunks = index["streams"]["stdout"]["chunks"].as_array().unwrap();
    assert_eq!(index["streams"]["stdout"]["bytes"], 406);
    assert_eq!(chunks[0]["offset"], 0);
    assert_eq!(chunks[1]["offset"], chunks[0]["len"]);
    // Evidence: the log's own time text (issue 12).
    assert_eq!(chunks[0]["ts"], "2023-06-07T17:32:00.010000Z");
    assert!(out.join(CONN).join("2").join("stdout").exists());
    // Existing outputs are kept unless --force.
    let again = sshtrail(&[
        "streams",
        "-o",
        out.to_str().unwrap(),
        &testdata(&format!("conn/{CONN}")),
    ]);
    assert_eq!(again.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&again.stderr).contains("--force"));
    let forced = sshtrail(&[
        "streams",
        "--force",
        "-o",
        out.to_str().unwrap(),
        &testdata(&format!("conn/{CONN}")),
    ]);
    assert_eq!(forced.status.code(), Some(0));
    std::fs::remove_dir_all(&out).unwrap();
}

/// The acceptance fixture in `testdata/checkdata/conn` (see
/// `testdata/checkdata/SOURCES.md`).
#[test]
fn checkdata_connection_fixture_matches_its_truth() {
    let conn = testdata_path("checkdata/conn");
    let truth = std::fs::read(conn.join("TRUTH.json"))
        .unwrap_or_else(|e| panic!("{}: {e}", conn.join("TRUTH.json").display()));
    let truth: serde_json::Value = serde_json::from_slice(&truth).unwrap();
    let id = truth["connection_id"].as_str().unwrap();
    let o = sshtrail(&["inspect", "--json", conn.join(id).to_str().unwrap()]);
    let c = &json(&o)["connections"][0];
    for k in ["user", "host", "account", "remote_address"] {
        assert_eq!(c[k], truth[k], "{k}");
    }
    let (ch, tc) = (&c["channels"][0], &truth["channels"][0]);
    for k in ["id", "type", "env", "exit_status", "bytes"] {
        assert_eq!(ch[k], tc[k], "{k}");
    }
    assert_eq!(ch["pty"]["cols"], tc["pty"]["cols"]);
    assert_eq!(ch["resizes"], tc["resizes"]);
    assert_eq!(ch["integrity"]["ok"], true);
}

const LOCAL_FORWARD: &str = "56461fdd-d065-4ddb-b56c-a3ea79593e58";

/// `ssh -N -L` recorded through a relay: the connection's global requests
/// (`no-more-sessions@openssh.com`, `hostkeys-00@openssh.com`) are logged
/// apart as a pseudo-channel `global`.
#[test]
fn global_requests_are_the_connections_not_a_channel() {
    for (layout, meta) in [("jsonl", true), ("hex", false)] {
        let (_dir, conn) = real_connection(LOCAL_FORWARD, layout, meta);
        let o = sshtrail(&["inspect", conn.to_str().unwrap()]);
        assert_eq!(o.status.code(), Some(0));
        let text = String::from_utf8(o.stdout).unwrap();
        assert!(!text.contains("channel global"), "{text}");
        assert!(
            text.contains("  global requests (log global)\n    time     2026-12-01T00:38:47.806617Z -> 2026-12-01T00:38:47.806834Z")
                && text.contains("    requests 2: no-more-sessions@openssh.com from client, hostkeys-00@openssh.com from server\n"),
            "{text}"
        );
        let v = json(&sshtrail(&["inspect", "--json", conn.to_str().unwrap()]));
        let c = &v["connections"][0];
        let ids: Vec<&str> = c["channels"]
            .as_array()
            .unwrap()
            .iter()
            .map(|ch| ch["id"].as_str().unwrap())
            .collect();
        assert_eq!(ids, ["1", "1-2"], "{layout}");
        let g = &c["global"][0];
        assert_eq!(g["id"], "global");
        assert_eq!(g["requests"].as_array().unwrap().len(), 2);
        assert_eq!(g["request_counts"][1]["name"], "hostkeys-00@openssh.com");
        assert!(g.get("pty").is_none() && g.get("exit_status").is_none());
    }
    // Named otherwise and without metadata, a log of global requests only
    // is still the connection's.
    let (_dir, conn) = real_connection(LOCAL_FORWARD, "jsonl", false);
    std::fs::rename(conn.join("global.jsonl"), conn.join("7.jsonl")).unwrap();
    let v = json(&sshtrail(&["inspect", "--json", conn.to_str().unwrap()]));
    assert_eq!(v["connections"][0]["global"][0]["id"], "7");
    assert_eq!(v["connections"][0]["channels"].as_array().unwrap().len(), 2);
}

/// A session channel and the connection's global requests, each with eight
/// keepalives that the server refused (as OpenSSH servers do).
fn keepalives(dir: &std::path::Path) {
    let hex = |b: &[u8]| b.iter().map(|x| format!("{x:02x}")).collect::<String>();
    let string = |s: &str| [&(s.len() as u32).to_be_bytes()[..], s.as_bytes()].concat();
    let open = [
        &[90u8][..],
        &string("session"),
        &[0, 0, 0, 0, 0, 32, 0, 0, 0, 0, 128, 0],
    ]
    .concat();
    let confirm = [91u8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 32, 0, 0, 0, 0, 128, 0];
    let keepalive = [&[80u8][..], &string("keepalive@openssh.com"), &[1]].concat();
    let mut channel = format!(
        "2023-06-07T17:32:00Z forward-new-channel-request {}\n2023-06-07T17:32:00.1Z reverse-new-channel-reply {}\n",
        hex(&open),
        hex(&confirm)
    );
    let mut global = String::new();
    for i in 1..=8 {
        let pair = format!(
            "2023-06-07T17:32:{i:02}Z forward-global-request {}\n2023-06-07T17:32:{i:02}.1Z reverse-global-reply 52\n",
            hex(&keepalive)
        );
        channel.push_str(&pair);
        global.push_str(&pair);
    }
    std::fs::write(dir.join("0.hex"), channel).unwrap();
    std::fs::write(dir.join("global.hex"), global).unwrap();
}

#[test]
fn repeated_requests_are_counted() {
    let dir = tempfile::tempdir().unwrap();
    keepalives(dir.path());
    let o = sshtrail(&["inspect", dir.path().to_str().unwrap()]);
    let text = String::from_utf8(o.stdout).unwrap();
    assert!(
        text.contains("    requests 9 (8 refused: keepalive@openssh.com from client ×8)\n"),
        "{text}"
    );
    assert!(
        text.contains("    requests 8: keepalive@openssh.com from client ×8 refused\n"),
        "{text}"
    );
    assert_eq!(text.matches("keepalive").count(), 2, "{text}");
    let v = json(&sshtrail(&[
        "inspect",
        "--json",
        dir.path().to_str().unwrap(),
    ]));
    let ch = &v["connections"][0]["channels"][0];
    assert_eq!(
        ch["request_counts"],
        serde_json::json!([
            {"name": "session", "from": "client", "count": 1, "refused": 0},
            {"name": "keepalive@openssh.com", "from": "client", "count": 8, "refused": 8}
        ])
    );
    assert_eq!(
        ch["requests"].as_array().unwrap().len(),
        9,
        "each request is still listed"
    );
}

/// The four recordings that move files, with the entry ids their
/// `connection.json` lists for channel 0.
const TRANSFERS: [(&str, &[&str]); 4] = [
    (
        "a5a03a75-f761-49d2-8309-4dbae79f38f1",
        &[
            "7df59a9e-378a-5abb-8938-d83f22658f74",
            "17812f85-0623-5be9-876a-925a4f210126",
            "6f15aeb5-3cd5-5d51-a681-df870b27fd82",
        ],
    ),
    (
        "6be2d65f-23b2-471f-9b36-6f698b1dfc60",
        &["4d992b67-e427-5c2c-a659-95ad5eaef9de"],
    ),
    (
        "fa5f783f-3bc3-46cd-b704-7dbdfd51f115",
        &[
            "add8c129-0b9b-539e-9de3-3f89962fda4d",
            "5816dbe8-b9d7-569e-8ff3-f127c5821896",
        ],
    ),
    (
        "bf5e427e-375f-434a-8cb1-5c841e5b671e",
        &["6d355c7a-055d-553b-95a0-f4fbe1547d42"],
    ),
];

#[test]
fn inspect_lists_each_recorded_file_with_its_transferred_files_entry() {
    for (id, entries) in TRANSFERS {
        let (_dir, conn) = real_connection(id, "jsonl", true);
        let o = sshtrail(&["inspect", "--json", conn.to_str().unwrap()]);
        assert_eq!(o.status.code(), Some(0), "{id}");
        let ch = &json(&o)["connections"][0]["channels"][0];
        assert_eq!(
            ch["integrity"]["verdict"], "ok",
            "{id}: {}",
            ch["integrity"]
        );
        let files = ch["files"].as_array().unwrap();
        let matched: Vec<&str> = files.iter().map(|f| f["entry"].as_str().unwrap()).collect();
        assert_eq!(matched, entries, "{id}");
        for f in files {
            assert_eq!(f["differences"], serde_json::json!([]), "{f}");
            assert_eq!(f["complete"], true, "{f}");
            assert_eq!(f["sha256"].as_str().unwrap().len(), 64, "{f}");
        }
        let o = sshtrail(&["inspect", conn.to_str().unwrap()]);
        let text = String::from_utf8(o.stdout).unwrap();
        for e in entries {
            assert!(
                text.contains(&format!("             transferred_files {e}\n")),
                "{text}"
            );
        }
        assert!(text.contains("    integrity ok: "), "{text}");
    }
    // Without metadata the files are listed, unchecked.
    let (_dir, conn) = real_connection(TRANSFERS[1].0, "hex", false);
    let o = sshtrail(&["inspect", conn.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(0));
    let text = String::from_utf8(o.stdout).unwrap();
    assert!(
        text.contains("    file     upload 70000 bytes  1bfbba29ac2931c1292fe1f75bcbe6568c8823efccafb307e2e950d011621e4d  uploaded.tar  complete\n             not checked: the metadata lists no transferred_files\n"),
        "{text}"
    );
    assert!(text.contains("    integrity unknown: "), "{text}");
    let (_dir, conn) = real_connection(TRANSFERS[0].0, "hex", true);
    let text = String::from_utf8(sshtrail(&["inspect", conn.to_str().unwrap()]).stdout).unwrap();
    assert!(
        text.contains("    file     upload 150000 bytes  296e420974aa9e8288b052f20c4076480ea0089235795d7e59382373969e53ed  /tmp/realtrail-run/home/trailuser/evidence/blob.bin  complete\n"),
        "{text}"
    );
}

fn edit_meta(conn: &std::path::Path, f: impl FnOnce(&mut serde_json::Value)) {
    let path = conn.join("connection.json");
    let mut v: serde_json::Value = serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
    f(&mut v);
    std::fs::write(&path, serde_json::to_vec(&v).unwrap()).unwrap();
}

#[test]
fn inspect_names_where_the_files_and_their_metadata_disagree() {
    let (_dir, conn) = real_connection(TRANSFERS[2].0, "jsonl", true);
    edit_meta(&conn, |v| {
        let list = v["trail"]["channels"][0]["transferred_files"]
            .as_array_mut()
            .unwrap();
        list[0]["payload_size"] = 3001.into();
        list.remove(1);
    });
    let o = sshtrail(&["inspect", "--json", conn.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(1), "a mismatch fails the run");
    let ch = &json(&o)["connections"][0]["channels"][0];
    assert_eq!(ch["integrity"]["verdict"], "mismatch");
    let problems: Vec<&str> = ch["integrity"]["problems"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p.as_str().unwrap())
        .collect();
    assert_eq!(
        problems,
        [
            "download logs/db.log: no transferred_files entry for this download of 3500 bytes (line 11)",
            "download logs/app.log: 3000 bytes recovered but transferred_files[0] (5816dbe8-b9d7-569e-8ff3-f127c5821896, logs/app.log)'s payload_size is 3001",
        ]
    );
    let text = String::from_utf8(sshtrail(&["inspect", conn.to_str().unwrap()]).stdout).unwrap();
    assert!(
        text.contains("             no transferred_files entry; no transferred_files entry for this download of 3500 bytes (line 11)\n"),
        "{text}"
    );
    assert!(
        text.contains("    integrity mismatch: download logs/db.log: no transferred_files entry"),
        "{text}"
    );
}

/// The bytes of the file `scp -t` received in the upload recording: the
/// 70000 bytes of stdin after its `C0640 70000 payload.tar` record.
fn uploaded_bytes(log: &std::path::Path) -> Vec<u8> {
    use base64::Engine as _;
    let b64 = base64::engine::general_purpose::STANDARD;
    let mut stdin = Vec::new();
    for l in std::fs::read_to_string(log).unwrap().lines() {
        let v: serde_json::Value = serde_json::from_str(l).unwrap();
        if v["type"] == "stdin" {
            stdin.extend(b64.decode(v["data"].as_str().unwrap()).unwrap());
        }
    }
    let record = b"C0640 70000 payload.tar\n";
    let at = stdin
        .windows(record.len())
        .position(|w| w == record)
        .unwrap()
        + record.len();
    stdin[at..at + 70_000].to_vec()
}

#[test]
fn inspect_compares_kept_copies_with_the_recovered_files() {
    let (_dir, conn) = real_connection(TRANSFERS[1].0, "jsonl", true);
    let id = TRANSFERS[1].1[0];
    let copy = conn.join("files").join(id);
    std::fs::create_dir_all(conn.join("files")).unwrap();
    let good = uploaded_bytes(&conn.join("0.jsonl"));
    std::fs::write(&copy, &good).unwrap();
    let o = sshtrail(&["inspect", conn.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(0));
    let text = String::from_utf8(o.stdout).unwrap();
    assert!(
        text.contains(&format!(
            "             transferred_files {id}; stored copy files/{id} matches\n"
        )),
        "{text}"
    );
    assert!(
        text.contains(&format!("stored copy files/{id} matches the recovered uploaded.tar: 70000 bytes, SHA-256 1bfbba29ac2931c1292fe1f75bcbe6568c8823efccafb307e2e950d011621e4d")),
        "{text}"
    );
    let o = sshtrail(&["inspect", "--json", conn.to_str().unwrap()]);
    let f = &json(&o)["connections"][0]["channels"][0]["files"][0];
    assert_eq!(f["stored_copy"]["verdict"], "matches");

    let mut bad = good;
    bad[0] ^= 0xff;
    std::fs::write(&copy, &bad).unwrap();
    let o = sshtrail(&["inspect", conn.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(1));
    let text = String::from_utf8(o.stdout).unwrap();
    assert!(
        text.contains(&format!(
            "             transferred_files {id}; stored copy files/{id} differs\n"
        )),
        "{text}"
    );
    assert!(
        text.contains(&format!("integrity mismatch: stored copy files/{id} differs from the recovered uploaded.tar: 70000 bytes, SHA-256 ")),
        "{text}"
    );
}

#[test]
fn hostile_transferred_files_never_panic_nor_reach_outside() {
    let (dir, conn) = real_connection(TRANSFERS[3].0, "jsonl", true);
    std::fs::write(dir.path().join("secret"), b"do not read").unwrap();
    edit_meta(&conn, |v| {
        let list = v["trail"]["channels"][0]["transferred_files"]
            .as_array_mut()
            .unwrap();
        list[0]["id"] = "../secret".into();
        list[0]["payload_size"] = serde_json::json!(1e300);
        list.push(serde_json::json!({"id": "..", "name": "../../config.yaml", "direction": 18446744073709551615u64,
            "payload_size": -5, "open_time": "9999-99-99T99:99:99Z", "close_time": {}, "closed": 1, "status": []}));
        list.push(serde_json::json!([["nested"]]));
        v["trail"]["channels"][0]["id"] = serde_json::json!(0);
    });
    for args in [&["inspect"][..], &["inspect", "--json"][..]] {
        let mut a = args.to_vec();
        a.push(conn.to_str().unwrap());
        let o = sshtrail(&a);
        // The entries that match no file make a mismatch.
        assert_eq!(
            o.status.code(),
            Some(1),
            "{}",
            String::from_utf8_lossy(&o.stderr)
        );
        let out = String::from_utf8(o.stdout).unwrap();
        assert!(!out.contains("do not read"));
        assert!(out.contains("transferred_files[1] (.., ../../config.yaml) (18446744073709551615 (not a known code), ? bytes) has no recovered file"), "{out}");
    }
    let o = sshtrail(&["inspect", "--json", conn.to_str().unwrap()]);
    let unchecked = json(&o)["connections"][0]["channels"][0]["integrity"]["unchecked"].to_string();
    for said in [
        "transferred_files[0] (../secret, config.yaml): the id is not one safe file name, its kept copy is not looked for",
        "transferred_files[0] (../secret, config.yaml): payload_size has a value of the wrong type",
        "transferred_files[1] (.., ../../config.yaml): the id is not one safe file name",
        "transferred_files[2] (no id, no name) is not an object",
    ] {
        assert!(unchecked.contains(said), "{said}: {unchecked}");
    }
}
