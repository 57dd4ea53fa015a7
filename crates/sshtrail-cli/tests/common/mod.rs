//! Helpers shared by the CLI test files (each test file is its own crate
//! and uses a part of them).
#![allow(dead_code)]

use std::path::PathBuf;
use std::process::{Command, Output};

/// A fixture under `testdata/`.
pub fn testdata_path(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../testdata")
        .join(name)
}

/// A fixture under `testdata/`, as an argument.
pub fn testdata(name: &str) -> String {
    testdata_path(name).to_string_lossy().into_owned()
}

/// Runs `sshtrail ARGS` to completion.
pub fn sshtrail(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_sshtrail"))
        .args(args)
        .output()
        .unwrap()
}
