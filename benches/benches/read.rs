//! Read throughput of sshtrail against a plain serde_json + base64 program,
//! over ~32 MiB generated corpora.
//!
//! Every benchmark does the same work: pull the stdout payloads out of the
//! log and add up their lengths. Corpora are generated once per group,
//! outside the measurement.

use std::hint::black_box;
use std::time::Duration;

use criterion::measurement::WallTime;
use criterion::{
    criterion_group, criterion_main, BenchmarkGroup, Criterion, SamplingMode, Throughput,
};

use sshtrail_benches::{
    baseline_serde_value_base64, generate, sshtrail_stdout_bytes, sshtrail_stream_stdout_bytes,
    Layout, Mix,
};

const CORPUS_BYTES: usize = 32 << 20;

/// A group with the settings that keep the whole run within a few minutes:
/// an iteration over 32 MiB takes tens to hundreds of milliseconds, so flat
/// sampling with 10 samples.
fn group<'c>(c: &'c mut Criterion, name: &str, input: &[u8]) -> BenchmarkGroup<'c, WallTime> {
    let mut g = c.benchmark_group(name);
    g.sample_size(10)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3))
        .sampling_mode(SamplingMode::Flat)
        .throughput(Throughput::Bytes(input.len() as u64));
    g
}

fn bench_sshtrail(g: &mut BenchmarkGroup<'_, WallTime>, id: &str, input: &[u8]) {
    let mut out = Vec::new();
    g.bench_function(id, |b| {
        b.iter(|| black_box(sshtrail_stdout_bytes(black_box(input), &mut out)))
    });
}

/// sshtrail against the serde_json + base64 baseline, after checking once
/// that both find the same number of stdout bytes.
fn jsonl_pair(c: &mut Criterion, name: &str, mix: Mix) {
    let input = generate(mix, CORPUS_BYTES, Layout::Jsonl);
    let mut out = Vec::new();
    let ours = sshtrail_stdout_bytes(&input, &mut out);
    let theirs = baseline_serde_value_base64(&input);
    assert_eq!(ours, theirs, "{name}: sshtrail and the baseline disagree");
    let mut g = group(c, name, &input);
    bench_sshtrail(&mut g, "sshtrail", &input);
    g.bench_function("baseline_serde_value_base64", |b| {
        b.iter(|| black_box(baseline_serde_value_base64(black_box(&input))))
    });
    g.finish();
}

fn jsonl_interactive(c: &mut Criterion) {
    jsonl_pair(c, "jsonl_interactive", Mix::Interactive);
}

fn jsonl_bulk(c: &mut Criterion) {
    jsonl_pair(c, "jsonl_bulk", Mix::Bulk);
}

fn hex_line(c: &mut Criterion) {
    let interactive = generate(Mix::Interactive, CORPUS_BYTES, Layout::HexLine);
    let bulk = generate(Mix::Bulk, CORPUS_BYTES, Layout::HexLine);
    let mut g = group(c, "hex_line", &interactive);
    bench_sshtrail(&mut g, "interactive", &interactive);
    g.throughput(Throughput::Bytes(bulk.len() as u64));
    bench_sshtrail(&mut g, "bulk", &bulk);
    g.finish();
}

fn hex_dump(c: &mut Criterion) {
    let input = generate(Mix::Bulk, CORPUS_BYTES, Layout::HexDump);
    let mut g = group(c, "hex_dump", &input);
    bench_sshtrail(&mut g, "bulk", &input);
    g.finish();
}

fn stream(c: &mut Criterion) {
    let input = generate(Mix::Interactive, CORPUS_BYTES, Layout::Jsonl);
    let mut out = Vec::new();
    assert_eq!(
        sshtrail_stream_stdout_bytes(&input, &mut out),
        sshtrail_stdout_bytes(&input, &mut out),
        "StreamReader and SliceReader disagree"
    );
    let mut g = group(c, "stream", &input);
    g.bench_function("jsonl_interactive", |b| {
        b.iter(|| black_box(sshtrail_stream_stdout_bytes(black_box(&input), &mut out)))
    });
    g.finish();
}

criterion_group!(
    benches,
    jsonl_interactive,
    jsonl_bulk,
    hex_line,
    hex_dump,
    stream
);
criterion_main!(benches);
