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
