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

/// A channel request message: number 98, recipient 0, `name`, want
/// reply, then `arg` as a string.
pub fn request(name: &str, arg: &str) -> Vec<u8> {
    let mut m = vec![98, 0, 0, 0, 0];
    m.extend_from_slice(&(name.len() as u32).to_be_bytes());
    m.extend_from_slice(name.as_bytes());
    m.push(1);
    m.extend_from_slice(&(arg.len() as u32).to_be_bytes());
    m.extend_from_slice(arg.as_bytes());
    m
}

/// An SFTP packet: length, type, the request id (but for INIT/VERSION),
/// then `body`.
pub fn sftp_packet(kind: u8, id: Option<u32>, body: &[u8]) -> Vec<u8> {
    let mut p = vec![kind];
    if let Some(id) = id {
        p.extend_from_slice(&id.to_be_bytes());
    }
    p.extend_from_slice(body);
    let mut out = (p.len() as u32).to_be_bytes().to_vec();
    out.extend_from_slice(&p);
    out
}

pub fn sftp_string(s: &[u8]) -> Vec<u8> {
    let mut out = (s.len() as u32).to_be_bytes().to_vec();
    out.extend_from_slice(s);
    out
}

/// The events of an SFTP upload of `pieces` (offset, bytes) to `path`,
/// each write acknowledged, then the close when `close`.
pub fn sftp_upload(
    path: &[u8],
    pieces: &[(u64, &[u8])],
    close: bool,
) -> Vec<(&'static str, Vec<u8>)> {
    let ok = |id: u32| {
        let mut b = 0u32.to_be_bytes().to_vec();
        b.extend(sftp_string(b"Success"));
        b.extend(sftp_string(b""));
        ("stdout", sftp_packet(101, Some(id), &b))
    };
    let mut ev = vec![
        ("stdin", sftp_packet(1, None, &3u32.to_be_bytes())),
        ("stdout", sftp_packet(2, None, &3u32.to_be_bytes())),
    ];
    let mut open = sftp_string(path);
    open.extend_from_slice(&(0x02u32 | 0x08 | 0x10).to_be_bytes());
    open.extend_from_slice(&0u32.to_be_bytes());
    ev.push(("stdin", sftp_packet(3, Some(1), &open)));
    ev.push(("stdout", sftp_packet(102, Some(1), &sftp_string(b"h1"))));
    for (n, (offset, data)) in pieces.iter().enumerate() {
        let id = 2 + n as u32;
        let mut w = sftp_string(b"h1");
        w.extend_from_slice(&offset.to_be_bytes());
        w.extend(sftp_string(data));
        ev.push(("stdin", sftp_packet(6, Some(id), &w)));
        ev.push(ok(id));
    }
    if close {
        ev.push(("stdin", sftp_packet(4, Some(100), &sftp_string(b"h1"))));
        ev.push(ok(100));
    }
    ev
}
