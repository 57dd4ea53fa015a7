//! Helpers shared by the integration tests.
#![allow(dead_code)]

use std::path::PathBuf;

use sshtrail::encode::Encoder;
use sshtrail::{Filter, SliceReader};

/// The repository's `testdata/` folder.
pub fn testdata(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../testdata")
        .join(name)
}

pub fn read(name: &str) -> Vec<u8> {
    std::fs::read(testdata(name)).unwrap_or_else(|e| panic!("{name}: {e}"))
}

/// Reads `input` and writes the events that pass `filter` with `enc`,
/// panicking on any problem.
pub fn convert(input: &[u8], filter: &Filter, enc: &mut dyn Encoder) -> Vec<u8> {
    let mut out = Vec::new();
    let mut payload = Vec::new();
    for ev in SliceReader::new(input) {
        let ev = ev.unwrap();
        ev.decode_payload(&mut payload).unwrap();
        if filter.matches(&ev.kind) {
            enc.event(&mut out, &ev, &payload).unwrap();
        }
    }
    enc.finish(&mut out).unwrap();
    out
}

/// One layout (`jsonl` or `hex`) of the real recording `id` of
/// `testdata/realtrail`, copied into a new scratch folder as a user keeps
/// it (each folder there holds both layouts of the same channels), with
/// its `connection.json` when `meta`. Returns the scratch folder (removed
/// when dropped) and the connection folder in it.
pub fn real_connection(id: &str, layout: &str, meta: bool) -> (tempfile::TempDir, PathBuf) {
    let src = testdata("realtrail").join(id);
    let dir = tempfile::tempdir().unwrap();
    let conn = dir.path().join(id);
    std::fs::create_dir_all(&conn).unwrap();
    let mut logs = 0;
    for entry in std::fs::read_dir(&src).unwrap_or_else(|e| panic!("{}: {e}", src.display())) {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        let keep =
            path.extension().is_some_and(|x| x == layout) || (meta && name == "connection.json");
        if keep {
            logs += usize::from(name != "connection.json");
            std::fs::copy(&path, conn.join(&name)).unwrap();
        }
    }
    assert!(logs > 0, "no {layout} log in {}", src.display());
    (dir, conn)
}
