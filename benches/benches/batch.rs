//! `sshtrail convert` in batch mode, 1 thread against 2, on a tree of many
//! files and on one large file. Runs the release binary (built first if it
//! is missing) as a user would.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use criterion::{criterion_group, criterion_main, BatchSize, BenchmarkId, Criterion, Throughput};
use sshtrail_benches::{generate, Layout, Mix};

fn binary() -> PathBuf {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    if let Some(bin) = std::env::var_os("SSHTRAIL_BIN") {
        return PathBuf::from(bin);
    }
    // Always through cargo: a stale binary would measure old code.
    let ok = Command::new(env!("CARGO"))
        .args(["build", "--release", "-q", "-p", "sshtrail-cli"])
        .current_dir(&root)
        .status()
        .map(|s| s.success())
        .unwrap_or(false);
    assert!(ok, "could not build the sshtrail binary");
    root.join("target/release/sshtrail")
}

/// Where outputs go: `SSHTRAIL_BENCH_OUT`, else a tmpfs (`/dev/shm`) when
/// there is one, else the temporary folder. Each iteration deletes the last
/// one's outputs and creates as many files again; on ext4 that churn makes
/// the inode allocator skip ever more recently deleted inodes
/// (`recently_deleted` took a fifth of a 2-thread run over 512 outputs),
/// which measures the benchmark's own deletions, not the conversion.
fn output_root() -> PathBuf {
    if let Some(dir) = std::env::var_os("SSHTRAIL_BENCH_OUT") {
        return PathBuf::from(dir);
    }
    let shm = Path::new("/dev/shm");
    let probe = shm.join(format!("sshtrail-bench-probe-{}", std::process::id()));
    if std::fs::create_dir(&probe).is_ok() {
        let _ = std::fs::remove_dir(&probe);
        return shm.to_path_buf();
    }
    std::env::temp_dir()
}

/// An empty output folder, made outside the timed part: removing the last
/// run's outputs is not part of a conversion.
fn fresh(out: &Path) {
    let _ = std::fs::remove_dir_all(out);
    std::fs::create_dir_all(out).unwrap();
}

fn convert(bin: &Path, jobs: usize, formats: &str, out: &Path, input: &Path) {
    let status = Command::new(bin)
        .args([
            "convert",
            "--to",
            formats,
            "-q",
            "-j",
            &jobs.to_string(),
            "-o",
        ])
        .arg(out)
        .arg(input)
        // The summary line would interleave with criterion's report.
        .stderr(std::process::Stdio::null())
        .status()
        .unwrap();
    assert!(status.success());
}

fn bench_batch(c: &mut Criterion) {
    let bin = binary();
    let work = std::env::temp_dir().join(format!("sshtrail-bench-batch-{}", std::process::id()));
    let out = output_root().join(format!("sshtrail-bench-out-{}", std::process::id()));
    let tree = work.join("tree");
    std::fs::create_dir_all(&tree).unwrap();
    // 256 logs of 512 KiB: many files.
    let one = generate(Mix::Interactive, 512 << 10, Layout::Jsonl);
    for i in 0..256 {
        std::fs::write(tree.join(format!("{i:03}.jsonl")), &one).unwrap();
    }
    let tree_bytes = (one.len() * 256) as u64;
    // One 192 MiB log.
    let large = work.join("large.jsonl");
    let big = generate(Mix::Interactive, 192 << 20, Layout::Jsonl);
    std::fs::write(&large, &big).unwrap();
    let large_bytes = big.len() as u64;
    drop(big);

    let mut g = c.benchmark_group("batch_tree");
    g.sample_size(20)
        .measurement_time(Duration::from_secs(15))
        .warm_up_time(Duration::from_secs(1));
    g.throughput(Throughput::Bytes(tree_bytes));
    for jobs in [1, 2] {
        g.bench_with_input(BenchmarkId::new("jsonl+asciicast", jobs), &jobs, |b, &j| {
            b.iter_batched(
                || fresh(&out),
                |()| convert(&bin, j, "jsonl,asciicast", &out, &tree),
                BatchSize::PerIteration,
            )
        });
    }
    g.finish();

    let mut g = c.benchmark_group("batch_large_file");
    g.sample_size(20)
        .measurement_time(Duration::from_secs(15))
        .warm_up_time(Duration::from_secs(1));
    g.throughput(Throughput::Bytes(large_bytes));
    for jobs in [1, 2] {
        g.bench_with_input(BenchmarkId::new("jsonl", jobs), &jobs, |b, &j| {
            b.iter_batched(
                || fresh(&out),
                |()| convert(&bin, j, "jsonl", &out, &large),
                BatchSize::PerIteration,
            )
        });
    }
    g.finish();
    let _ = std::fs::remove_dir_all(&work);
    let _ = std::fs::remove_dir_all(&out);
}

criterion_group!(benches, bench_batch);
criterion_main!(benches);
