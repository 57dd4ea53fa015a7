//! `convert --to ocsf-parquet` of a log whose records are far larger than
//! the memory bound keeps the process under it: records wait on disk and
//! Parquet is written in row groups. In its own test binary so that no
//! other child process shares the `RUSAGE_CHILDREN` high-water mark.

use std::io::Write;
use std::process::Command;

use base64::Engine as _;

#[test]
fn a_hundred_and_fifty_mib_of_records_stay_under_96_mib() {
    let tmp = tempfile::tempdir().unwrap();
    let log = tmp.path().join("0.jsonl");
    let mut f = std::io::BufWriter::new(std::fs::File::create(&log).unwrap());
    let lines = 180_000u64;
    for i in 0..lines {
        // One output line a second: one record each with --io.
        let (h, m, s) = (i / 3600 % 24, i / 60 % 60, i % 60);
        let data = base64::engine::general_purpose::STANDARD
            .encode(format!("line {i} {}\r\n", "y".repeat(40)));
        writeln!(
            f,
            "{{\"type\":\"stdout\",\"ts\":\"2023-06-07T{h:02}:{m:02}:{s:02}.000000Z\",\"data\":\"{data}\"}}"
        )
        .unwrap();
    }
    drop(f);
    let out = tmp.path().join("lake");
    let status = Command::new(env!("CARGO_BIN_EXE_sshtrail"))
        .args(["convert", "--to", "ocsf-parquet", "--io", "-o"])
        .arg(&out)
        .args(["--source", "s", "--region", "r", "--account", "a"])
        .arg(&log)
        .status()
        .unwrap();
    assert!(status.success());
    let manifest = std::fs::read_to_string(out.join("ocsf-parquet-manifest.jsonl")).unwrap();
    let run: serde_json::Value = serde_json::from_str(manifest.trim()).unwrap();
    let rows: u64 = run["parts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["rows"].as_u64().unwrap())
        .sum();
    assert!(rows > lines, "{rows} rows");
    // The records as JSON (what waits on disk) are far past the bound.
    let ocsf = Command::new(env!("CARGO_BIN_EXE_sshtrail"))
        .args(["convert", "--to", "ocsf", "--io"])
        .arg(&log)
        .output()
        .unwrap();
    assert!(ocsf.stdout.len() > 150 << 20, "{} bytes", ocsf.stdout.len());
    // SAFETY: getrusage only writes into the struct we pass.
    let peak_kib = unsafe {
        let mut usage: libc::rusage = std::mem::zeroed();
        assert_eq!(libc::getrusage(libc::RUSAGE_CHILDREN, &mut usage), 0);
        usage.ru_maxrss
    };
    assert!(peak_kib > 0);
    assert!(peak_kib < 96 * 1024, "peak resident memory {peak_kib} KiB");
}
