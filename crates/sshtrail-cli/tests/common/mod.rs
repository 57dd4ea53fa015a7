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

/// Limits the child `cmd` starts: `cpu_secs` of CPU time (then SIGXCPU) and,
/// when given, `address_space` bytes of memory. A run that reads for ever
/// or grows without bound then ends instead of hanging the test or taking
/// the machine.
pub fn limit_child(cmd: &mut Command, cpu_secs: u64, address_space: Option<u64>) {
    use std::os::unix::process::CommandExt;
    // SAFETY: setrlimit is async-signal-safe and touches only the child.
    unsafe {
        cmd.pre_exec(move || {
            let cpu = libc::rlimit {
                rlim_cur: cpu_secs,
                rlim_max: cpu_secs,
            };
            if libc::setrlimit(libc::RLIMIT_CPU, &cpu) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            if let Some(bytes) = address_space {
                let mem = libc::rlimit {
                    rlim_cur: bytes,
                    rlim_max: bytes,
                };
                if libc::setrlimit(libc::RLIMIT_AS, &mem) != 0 {
                    return Err(std::io::Error::last_os_error());
                }
            }
            Ok(())
        });
    }
}

/// One layout (`jsonl` or `hex`) of the real recording `id` of
/// `testdata/realtrail`, copied into a new scratch folder as a user keeps
/// it (each folder there holds both layouts of the same channels), with
/// its `connection.json` when `meta`. Returns the scratch folder (removed
/// when dropped) and the connection folder in it.
pub fn real_connection(id: &str, layout: &str, meta: bool) -> (tempfile::TempDir, PathBuf) {
    let src = testdata_path("realtrail").join(id);
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
