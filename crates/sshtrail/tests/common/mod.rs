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
