//! The files recovered from the real recordings (`testdata/realtrail`)
//! checked against their `connection.json` and kept copies: as recorded
//! every file matches its entry; each tampering is named; hostile metadata
//! neither panics nor opens anything outside the connection folder.

use std::path::{Path, PathBuf};

use serde_json::Value;
use sshtrail::archive::{Archive, Discovery};
use sshtrail::channel::{ChannelEvent, ChannelEventKind, ChannelSink, Stream};
use sshtrail::connection::Context;
use sshtrail::crosscheck::{FileChecker, FileReport};

const SFTP_TREE: &str = "a5a03a75-f761-49d2-8309-4dbae79f38f1";
const SCP_UPLOAD: &str = "6be2d65f-23b2-471f-9b36-6f698b1dfc60";
const SCP_DOWNLOAD: &str = "fa5f783f-3bc3-46cd-b704-7dbdfd51f115";
const SCP_OVER_SFTP: &str = "bf5e427e-375f-434a-8cb1-5c841e5b671e";

fn realtrail(id: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../testdata/realtrail")
        .join(id)
}

/// The jsonl log and connection.json of recording `id`, copied into a
/// scratch folder. Returns the scratch folder and the connection folder.
fn copy(id: &str) -> (tempfile::TempDir, PathBuf) {
    let tmp = tempfile::tempdir().unwrap();
    let conn = tmp.path().join(id);
    std::fs::create_dir_all(&conn).unwrap();
    for name in ["0.jsonl", "connection.json"] {
        std::fs::copy(realtrail(id).join(name), conn.join(name)).unwrap();
    }
    (tmp, conn)
}

fn edit_meta(conn: &Path, f: impl FnOnce(&mut Value)) {
    let path = conn.join("connection.json");
    let mut v: Value = serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
    f(&mut v);
    std::fs::write(&path, serde_json::to_vec(&v).unwrap()).unwrap();
}

/// Channel 0's report on the connection folder `conn`.
fn check(conn: &Path) -> FileReport {
    let archive = Archive::open(&[conn.to_path_buf()], &Discovery::standard(), &mut |p| {
        panic!("{p}")
    });
    let mut checker = FileChecker::default();
    archive
        .replay(&mut checker, &mut |p| panic!("{p}"))
        .unwrap();
    let id = conn.file_name().unwrap().to_string_lossy().into_owned();
    checker
        .report(&Context {
            connection_id: Some(id),
            channel_id: "0".into(),
        })
        .expect("a report on channel 0")
        .clone()
}

#[test]
fn every_recorded_file_matches_its_entry() {
    for (id, n) in [
        (SFTP_TREE, 3),
        (SCP_UPLOAD, 1),
        (SCP_DOWNLOAD, 2),
        (SCP_OVER_SFTP, 1),
    ] {
        let (_tmp, conn) = copy(id);
        let r = check(&conn);
        assert_eq!(r.files.len(), n, "{id}: {r:#?}");
        assert!(
            r.problems.is_empty() && r.unchecked.is_empty(),
            "{id}: {r:#?}"
        );
        let meta: Value =
            serde_json::from_slice(&std::fs::read(realtrail(id).join("connection.json")).unwrap())
                .unwrap();
        let mut ids: Vec<&str> = meta["trail"]["channels"][0]["transferred_files"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["id"].as_str().unwrap())
            .collect();
        let mut matched: Vec<&str> = r
            .files
            .iter()
            .map(|f| f.entry.as_deref().unwrap())
            .collect();
        ids.sort();
        matched.sort();
        assert_eq!(matched, ids, "{id}");
        for f in &r.files {
            assert!(
                f.differences.is_empty() && f.stored_copy.is_none(),
                "{f:#?}"
            );
        }
        assert_eq!(r.checked.len(), n, "{:?}", r.checked);
    }
}

fn entry_mut<'a>(v: &'a mut Value, name: &str) -> &'a mut Value {
    v["trail"]["channels"][0]["transferred_files"]
        .as_array_mut()
        .unwrap()
        .iter_mut()
        .find(|e| e["name"] == name)
        .unwrap()
}

#[test]
fn a_changed_size_a_removed_entry_and_a_bad_entry_are_named() {
    let (_tmp, conn) = copy(SFTP_TREE);
    edit_meta(&conn, |v| {
        entry_mut(v, "evidence/blob.bin")["payload_size"] = 149_999.into();
        let e = entry_mut(v, "evidence/blob.dat");
        e["status"] = "LENGTH_MISMATCH".into();
        e["closed"] = false.into();
        e["direction"] = 2.into();
        v["trail"]["channels"][0]["transferred_files"]
            .as_array_mut()
            .unwrap()
            .retain(|e| e["name"] != "evidence/résumé notes.txt");
        v["trail"]["channels"][0]["transferred_files"]
            .as_array_mut()
            .unwrap()
            .push(serde_json::json!({"id": "ghost", "name": "evidence/ghost.bin", "direction": 1,
                "payload_size": 7, "closed": true, "status": "OK",
                "open_time": "2026-12-01T00:00:40.041729Z", "close_time": "2026-12-01T00:00:40.333662Z"}));
    });
    let r = check(&conn);
    let all = r.problems.join("\n");
    assert!(
        all.contains("150000 bytes recovered but transferred_files[0] (7df59a9e-378a-5abb-8938-d83f22658f74, evidence/blob.bin)'s payload_size is 149999"),
        "{all}"
    );
    assert!(
        all.contains("upload /tmp/realtrail-run/home/trailuser/evidence/résumé notes.txt: no transferred_files entry for this upload of 4500 bytes"),
        "{all}"
    );
    assert!(all.contains("download /tmp/realtrail-run/home/trailuser/evidence/blob.dat: the log shows a download but transferred_files[1] (6f15aeb5-3cd5-5d51-a681-df870b27fd82, evidence/blob.dat)'s direction is 2 (client to server)"), "{all}");
    assert!(
        all.contains("evidence/blob.dat)'s status is LENGTH_MISMATCH"),
        "{all}"
    );
    assert!(all.contains("evidence/blob.dat) is not closed"), "{all}");
    assert!(
        all.contains("transferred_files[2] (ghost, evidence/ghost.bin) (1 (server to client), 7 bytes) has no recovered file"),
        "{all}"
    );
    // The file whose size differs is still paired with its entry.
    let blob = r
        .files
        .iter()
        .find(|f| f.path.ends_with("blob.bin"))
        .unwrap();
    assert_eq!(
        blob.entry.as_deref(),
        Some("7df59a9e-378a-5abb-8938-d83f22658f74")
    );
}

#[test]
fn a_time_outside_the_entry_is_named() {
    let (_tmp, conn) = copy(SCP_OVER_SFTP);
    edit_meta(&conn, |v| {
        let e = entry_mut(v, "config.yaml");
        e["open_time"] = "2026-12-01T01:00:00Z".into();
        e["close_time"] = "2026-12-01T01:00:01Z".into();
    });
    let r = check(&conn);
    assert_eq!(r.problems.len(), 1, "{:?}", r.problems);
    assert!(
        r.problems[0].contains("outside transferred_files[0]"),
        "{:?}",
        r.problems
    );
}

/// The 70000 bytes `scp -t` received in the upload recording, cut out of
/// the channel's stdin after the `C0640 70000 payload.tar` record (the remote name is the exec target).
fn uploaded_tar() -> Vec<u8> {
    struct Stdin(Vec<u8>);
    impl ChannelSink for Stdin {
        fn event(&mut self, ev: &ChannelEvent<'_>) -> std::io::Result<()> {
            if let ChannelEventKind::Data {
                stream: Stream::Stdin,
                data,
                ..
            } = ev.kind
            {
                self.0.extend_from_slice(data);
            }
            Ok(())
        }
    }
    let mut sink = Stdin(Vec::new());
    Archive::open(
        &[realtrail(SCP_UPLOAD).join("0.jsonl")],
        &Discovery::standard(),
        &mut |p| panic!("{p}"),
    )
    .replay(&mut sink, &mut |p| panic!("{p}"))
    .unwrap();
    let record = b"C0640 70000 payload.tar\n";
    let at = sink
        .0
        .windows(record.len())
        .position(|w| w == record)
        .unwrap()
        + record.len();
    sink.0[at..at + 70_000].to_vec()
}

#[test]
fn kept_copies_are_hashed_and_compared() {
    let (_tmp, conn) = copy(SCP_UPLOAD);
    let id = "4d992b67-e427-5c2c-a659-95ad5eaef9de";
    std::fs::create_dir_all(conn.join("files")).unwrap();
    let good = uploaded_tar();
    std::fs::write(conn.join("files").join(id), &good).unwrap();
    let r = check(&conn);
    assert!(r.problems.is_empty(), "{:?}", r.problems);
    let copy = r.files[0].stored_copy.as_ref().unwrap();
    assert_eq!(copy.verdict, "matches", "{copy:?}");
    assert_eq!(
        copy.sha256.as_deref(),
        Some("1bfbba29ac2931c1292fe1f75bcbe6568c8823efccafb307e2e950d011621e4d")
    );
    assert!(
        r.checked.iter().any(|c| c.starts_with(&format!(
            "stored copy files/{id} matches the recovered uploaded.tar: 70000 bytes"
        ))),
        "{:?}",
        r.checked
    );

    // One byte changed: same size, other hash.
    let mut bad = good.clone();
    bad[1234] ^= 1;
    std::fs::write(conn.join("files").join(id), &bad).unwrap();
    let r = check(&conn);
    assert_eq!(r.files[0].stored_copy.as_ref().unwrap().verdict, "differs");
    assert_eq!(r.problems.len(), 1, "{:?}", r.problems);
    assert!(
        r.problems[0].starts_with(&format!(
            "stored copy files/{id} differs from the recovered uploaded.tar: 70000 bytes"
        )),
        "{:?}",
        r.problems
    );
    // Cut short: the size differs from payload_size too.
    std::fs::write(conn.join("files").join(id), &good[..100]).unwrap();
    let r = check(&conn);
    let all = r.problems.join("\n");
    assert!(
        all.contains(&format!(
            "files/{id} holds 100 bytes but transferred_files[0]"
        )),
        "{all}"
    );
    assert!(all.contains("differs"), "{all}");
}

#[test]
fn hostile_metadata_never_panics_nor_leaves_the_folder() {
    let (tmp, conn) = copy(SCP_DOWNLOAD);
    // What must never be read: beside the connection folder, and at the
    // end of a symbolic link inside it.
    std::fs::write(tmp.path().join("outside"), b"secret").unwrap();
    std::fs::create_dir_all(conn.join("files")).unwrap();
    std::os::unix::fs::symlink(tmp.path().join("outside"), conn.join("files/link")).unwrap();
    edit_meta(&conn, |v| {
        let list = v["trail"]["channels"][0]["transferred_files"]
            .as_array_mut()
            .unwrap();
        list[0]["id"] = "../../outside".into();
        list[0]["payload_size"] = serde_json::json!(1e300);
        list[0]["direction"] = serde_json::json!(18446744073709551615u64);
        list[1]["id"] = "link".into();
        list[1]["name"] = "../../../logs/db.log".into();
        list[1]["open_time"] = "99999-99-99T99:99:99Z".into();
        list[1]["close_time"] = serde_json::json!([1, 2]);
        list.push(
            serde_json::json!({"id": "..", "name": "", "direction": -3, "payload_size": -1,
            "closed": "no", "status": {"ok": true}, "offset": 1.5}),
        );
        list.push(serde_json::json!("not an entry"));
        list.push(
            serde_json::json!({"id": 18446744073709551615u64, "name": "/", "direction": 1e308}),
        );
    });
    let r = check(&conn);
    let all = [r.problems.join("\n"), r.unchecked.join("\n")].join("\n");
    assert!(!all.contains("secret"));
    for f in &r.files {
        if let Some(c) = &f.stored_copy {
            assert_eq!(c.verdict, "unreadable", "{c:?}");
            assert_eq!(c.sha256, None);
        }
    }
    assert!(
        all.contains(
            "transferred_files[0] (../../outside, logs/app.log): the id is not one safe file name"
        ),
        "{all}"
    );
    assert!(all.contains("transferred_files[0] (../../outside, logs/app.log): payload_size has a value of the wrong type"), "{all}");
    assert!(
        all.contains("files/link: not a regular file (a symbolic link is not followed)"),
        "{all}"
    );
    assert!(
        all.contains("direction is 18446744073709551615 (not a known code)"),
        "{all}"
    );
    assert!(
        all.contains("transferred_files[3] (no id, no name) is not an object"),
        "{all}"
    );
    assert!(
        all.contains("transferred_files[2] (.., ): the id is not one safe file name"),
        "{all}"
    );
    assert!(all.contains("transferred_files[4] (18446744073709551615, /) (1e+308 (not a known code), ? bytes) has no recovered file"), "{all}");
    // A name with `..` components is no suffix of the recovered path.
    assert!(
        all.contains("download logs/db.log: no transferred_files entry"),
        "{all}"
    );
    // Nothing was created or read outside.
    assert_eq!(
        std::fs::read(tmp.path().join("outside")).unwrap(),
        b"secret"
    );
}

#[test]
fn a_kept_files_folder_is_never_taken_for_logs() {
    let (_tmp, conn) = copy(SCP_UPLOAD);
    std::fs::create_dir_all(conn.join("files")).unwrap();
    // A kept copy that is itself a trail log, under a log's name.
    std::fs::copy(conn.join("0.jsonl"), conn.join("files/1.jsonl")).unwrap();
    std::fs::copy(
        conn.join("0.jsonl"),
        conn.join("files/4d992b67-e427-5c2c-a659-95ad5eaef9de"),
    )
    .unwrap();
    for root in [conn.clone(), conn.parent().unwrap().to_path_buf()] {
        let archive = Archive::open(&[root], &Discovery::standard(), &mut |p| panic!("{p}"));
        let logs: Vec<String> = archive
            .connections
            .iter()
            .flat_map(|c| c.logs.iter())
            .map(|l| l.path.file_name().unwrap().to_string_lossy().into_owned())
            .collect();
        assert_eq!(logs, ["0.jsonl"]);
    }
}

#[test]
fn metadata_beside_the_connection_folder_finds_its_kept_copies_inside() {
    // `<id>.json` beside `<id>/0.jsonl` and `<id>/files/<file id>`.
    let (tmp, conn) = copy(SCP_UPLOAD);
    std::fs::rename(
        conn.join("connection.json"),
        tmp.path().join(format!("{SCP_UPLOAD}.json")),
    )
    .unwrap();
    let id = "4d992b67-e427-5c2c-a659-95ad5eaef9de";
    std::fs::create_dir_all(conn.join("files")).unwrap();
    std::fs::write(conn.join("files").join(id), uploaded_tar()).unwrap();
    let r = check(&conn);
    assert_eq!(r.files[0].entry.as_deref(), Some(id));
    assert_eq!(
        r.files[0].stored_copy.as_ref().map(|c| c.verdict),
        Some("matches")
    );
    assert_eq!(
        sshtrail::crosscheck::connection_folder(&conn.join("connection.json")),
        Some(conn.clone())
    );
}
