//! `convert --to ocsf-parquet`: the Amazon Security Lake layout, read back
//! by pyarrow and DuckDB (tests/lake/readback.py, installed by
//! .ci/lake-deps.sh through .ci/deps.sh) to the records `--to ocsf` writes.
//! A missing reader fails the test.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use common::{sshtrail, testdata};

fn readback(lake: &Path, ndjson: &Path, run: Option<&str>) -> String {
    let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/lake/readback.py");
    let mut cmd = Command::new("python3");
    cmd.arg(script).arg(lake).arg(ndjson);
    if let Some(r) = run {
        cmd.arg(r);
    }
    let out = cmd
        .output()
        .expect("python3 is needed to read the Parquet files back (.ci/lake-deps.sh)");
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "read back failed: {stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    stdout
}

fn lake_args<'a>(dir: &'a str, extra: &[&'a str], inputs: &[&'a str]) -> Vec<&'a str> {
    let mut args = vec![
        "convert",
        "--to",
        "ocsf-parquet",
        "-o",
        dir,
        "--source",
        "sshtrail",
        "--region",
        "eu-west-1",
        "--account",
        "123456789012",
    ];
    args.extend_from_slice(extra);
    args.extend_from_slice(inputs);
    args
}

/// The parts under `dir`, each with its bytes.
fn parts(dir: &Path) -> Vec<(PathBuf, Vec<u8>)> {
    let mut out: Vec<_> = walkdir::WalkDir::new(dir)
        .into_iter()
        .map(Result::unwrap)
        .filter(|e| e.path().extension().is_some_and(|x| x == "parquet"))
        .map(|e| (e.path().to_path_buf(), std::fs::read(e.path()).unwrap()))
        .collect();
    out.sort();
    out
}

fn ocsf(extra: &[&str], inputs: &[&str], to: &Path) {
    let mut args = vec!["convert", "--to", "ocsf"];
    args.extend_from_slice(extra);
    args.extend_from_slice(inputs);
    let out = sshtrail(&args);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(!out.stdout.is_empty());
    std::fs::write(to, &out.stdout).unwrap();
}

#[test]
fn pyarrow_and_duckdb_read_back_the_records_of_ocsf() {
    let tmp = tempfile::tempdir().unwrap();
    let realtrail = testdata("realtrail");
    let session = testdata("session.jsonl");
    for (name, extra, inputs) in [
        ("archive", vec![], vec![realtrail.as_str()]),
        (
            "io",
            vec!["--io"],
            vec![realtrail.as_str(), session.as_str()],
        ),
    ] {
        let lake = tmp.path().join(name);
        let ndjson = tmp.path().join(format!("{name}.ndjson"));
        ocsf(&extra, &inputs, &ndjson);
        let dir = lake.to_string_lossy().into_owned();
        let out = sshtrail(&lake_args(&dir, &extra, &inputs));
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let report = readback(&lake, &ndjson, None);
        // Three classes: SSH, Process and File System Activity.
        for class in ["sshtrail-4007", "sshtrail-1007", "sshtrail-1001"] {
            assert!(lake.join("ext").join(class).is_dir(), "{class}: {report}");
        }
    }
}

#[test]
fn a_later_run_adds_parts_and_the_manifest_tells_each_run() {
    let tmp = tempfile::tempdir().unwrap();
    let lake = tmp.path().join("lake");
    let dir = lake.to_string_lossy().into_owned();
    let input = testdata("realtrail/1b338b0d-311f-49d0-ab15-998b0c5f9d07");
    let first = sshtrail(&lake_args(&dir, &[], &[&input]));
    assert!(
        first.status.success(),
        "{}",
        String::from_utf8_lossy(&first.stderr)
    );
    let before = parts(&lake);
    assert!(!before.is_empty());
    let second = sshtrail(&lake_args(&dir, &[], &[&input]));
    assert!(
        second.status.success(),
        "{}",
        String::from_utf8_lossy(&second.stderr)
    );
    let after = parts(&lake);
    assert_eq!(after.len(), 2 * before.len());
    for part in &before {
        assert!(after.contains(part), "{} was replaced", part.0.display());
    }
    // No spill left behind; one manifest line a run.
    let leftovers: Vec<_> = std::fs::read_dir(&lake)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with('.'))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
    let manifest = std::fs::read_to_string(lake.join("ocsf-parquet-manifest.jsonl")).unwrap();
    let runs: Vec<serde_json::Value> = manifest
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(runs.len(), 2);
    assert_ne!(runs[0]["run"], runs[1]["run"]);
    let ndjson = tmp.path().join("one.ndjson");
    ocsf(&[], &[&input], &ndjson);
    for run in &runs {
        let inputs = run["inputs"].as_array().unwrap();
        assert!(!inputs.is_empty());
        for i in inputs {
            let bytes = std::fs::read(i["input"].as_str().unwrap()).unwrap();
            assert_eq!(i["size"], bytes.len() as u64);
            assert_eq!(i["sha256"].as_str().unwrap().len(), 64);
        }
        let mut listed = 0;
        for p in run["parts"].as_array().unwrap() {
            let path = lake.join(p["path"].as_str().unwrap());
            let bytes = std::fs::read(&path).unwrap();
            assert_eq!(p["bytes"], bytes.len() as u64);
            assert!(p["rows"].as_u64().unwrap() > 0);
            listed += 1;
        }
        assert_eq!(listed, before.len());
        // Each run alone reads back to the records of --to ocsf.
        readback(&lake, &ndjson, Some(run["run"].as_str().unwrap()));
    }
}

#[test]
fn ocsf_parquet_wants_its_layout_and_a_folder_of_its_own() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("lake").to_string_lossy().into_owned();
    let input = testdata("session.jsonl");
    for args in [
        vec!["convert", "--to", "ocsf-parquet", &input],
        vec!["convert", "--to", "ocsf-parquet", "-o", &dir, &input],
        vec![
            "convert",
            "--to",
            "ocsf-parquet,ecs",
            "-o",
            &dir,
            "--source",
            "s",
            "--region",
            "r",
            "--account",
            "a",
            &input,
        ],
        vec![
            "convert",
            "--to",
            "ocsf-parquet",
            "-o",
            &dir,
            "--source",
            "../s",
            "--region",
            "r",
            "--account",
            "a",
            &input,
        ],
        vec!["convert", "--to", "ecs", "--source", "s", &input],
    ]
    .into_iter()
    .chain(["--force", "--resume", "-j2"].map(|extra| {
        vec![
            "convert",
            "--to",
            "ocsf-parquet",
            extra,
            "-o",
            &dir,
            "--source",
            "s",
            "--region",
            "r",
            "--account",
            "a",
            &input,
        ]
    })) {
        let out = sshtrail(&args);
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        assert!(!Path::new(&dir).join("ext").exists(), "{args:?}");
    }
}

#[test]
fn a_run_waits_for_no_other_run_in_the_same_folder() {
    use std::os::fd::AsRawFd;
    let tmp = tempfile::tempdir().unwrap();
    let lake = tmp.path().join("lake");
    std::fs::create_dir(&lake).unwrap();
    let held = std::fs::File::open(&lake).unwrap();
    assert_eq!(unsafe { libc::flock(held.as_raw_fd(), libc::LOCK_EX) }, 0);
    let dir = lake.to_string_lossy().into_owned();
    let input = testdata("session.jsonl");
    let out = sshtrail(&lake_args(&dir, &[], &[&input]));
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("in use by another sshtrail run"));
    assert!(!lake.join("ext").exists());
    drop(held);
    let out = sshtrail(&lake_args(&dir, &[], &[&input]));
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(lake.join("ext").is_dir());
}
