//! The library's dependency choices against the crates the design card
//! names (docs/DESIGN.md keeps the figures):
//!
//! - `hex_decode`: `hex` vs `faster-hex` 0.10 (used) vs `const-hex`, and
//!   `faster-hex` 2;
//! - `base64_decode`: `base64` 0.22 vs `base64-simd` (used), and the SIMD
//!   engine of `base64` 0.23;
//! - `jsonl_lines`: a nom 8 parser of the canonical line vs the hand-written
//!   fast path (`sshtrail::SliceReader`), and serde_json for reference;
//! - `read_256mib`: `memmap2` vs `read(2)` with a 256 KiB buffer.
//!
//! Every input comes from the deterministic generator, so two runs measure
//! the same bytes. Throughput is bytes of *input* (encoded text, log lines,
//! file bytes) per second, in decimal units (GB/s).
//!
//! Run: `cargo bench -p sshtrail-benches --bench codecs`.

use std::borrow::Cow;
use std::fs::File;
use std::hint::black_box;
use std::io::{Read as _, Write as _};
use std::path::PathBuf;
use std::time::Duration;

use base64::Engine as _;
use criterion::measurement::WallTime;
use criterion::{
    criterion_group, criterion_main, BenchmarkGroup, Criterion, SamplingMode, Throughput,
};
use nom::bytes::complete::{tag, take_till};
use nom::character::complete::char;
use nom::combinator::all_consuming;
use nom::sequence::{delimited, preceded};
use nom::{IResult, Parser as _};
use serde::Deserialize;

use sshtrail::time::TimeCache;
use sshtrail::{EventType, SliceReader};
use sshtrail_benches::{generate, Layout, Mix};

/// The jsonl corpus of `jsonl_lines`, and where the payloads of the decode
/// benchmarks come from.
const CORPUS_BYTES: usize = 32 << 20;

/// The file of `read_256mib`.
const FILE_BYTES: usize = 256 << 20;

/// Payload sizes of the decode benchmarks (decoded bytes, inclusive): "small"
/// is a short burst of terminal output (~90 B on average: output bursts are
/// log-uniform), "large" a screenful (~3 KiB).
const SMALL: (usize, usize) = (64, 128);
const LARGE: (usize, usize) = (2560, 3584);

/// How many payloads of each size: few enough that the encoded text stays in
/// the L2 cache, so the decoders are measured and not the memory.
const SMALL_COUNT: usize = 1024;
const LARGE_COUNT: usize = 128;

/// The payload classes: name, decoded size range, how many. "all" is every
/// payload of the corpus in order (keystrokes of 1-3 B, bursts up to 16 KiB,
/// tens of MB of text: out of cache), the mix an interactive trail has.
const CLASSES: [(&str, (usize, usize), usize); 3] = [
    ("small", SMALL, SMALL_COUNT),
    ("large", LARGE, LARGE_COUNT),
    ("all", (0, usize::MAX), usize::MAX),
];

fn corpus() -> Vec<u8> {
    generate(Mix::Interactive, CORPUS_BYTES, Layout::Jsonl)
}

/// Decoded payloads of the corpus whose size falls in `range`, at most `max`.
fn payloads(corpus: &[u8], (lo, hi): (usize, usize), max: usize) -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    let mut found = Vec::new();
    for record in SliceReader::new(corpus) {
        let event = record.expect("generated corpus parses");
        event.decode_payload(&mut out).expect("payload decodes");
        if (lo..=hi).contains(&out.len()) {
            found.push(out.clone());
            if found.len() == max {
                break;
            }
        }
    }
    // A bounded class needs enough payloads to be a fair sample.
    let enough = if max == usize::MAX { 1 } else { max / 2 };
    assert!(found.len() >= enough, "too few payloads of {lo}..={hi} B");
    found
}

fn describe(name: &str, payloads: &[Vec<u8>]) {
    let total: usize = payloads.iter().map(Vec::len).sum();
    eprintln!(
        "{name}: {} payloads, mean {} B decoded",
        payloads.len(),
        total / payloads.len()
    );
}

/// A group over `bytes` of input with short timings: these run in cache.
fn fast_group<'c>(c: &'c mut Criterion, name: &str, bytes: usize) -> BenchmarkGroup<'c, WallTime> {
    let mut g = c.benchmark_group(name);
    g.warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3))
        .throughput(Throughput::BytesDecimal(bytes as u64));
    g
}

/// The group of one payload class: "all" is slow.
fn decode_group<'c>(
    c: &'c mut Criterion,
    name: &str,
    bytes: usize,
    size: &str,
) -> BenchmarkGroup<'c, WallTime> {
    let name = format!("{name}/{size}");
    if size == "all" {
        slow_group(c, &name, bytes)
    } else {
        fast_group(c, &name, bytes)
    }
}

/// A group whose iterations take tens of milliseconds: 10 flat samples.
fn slow_group<'c>(c: &'c mut Criterion, name: &str, bytes: usize) -> BenchmarkGroup<'c, WallTime> {
    let mut g = c.benchmark_group(name);
    g.sample_size(10)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(5))
        .sampling_mode(SamplingMode::Flat)
        .throughput(Throughput::BytesDecimal(bytes as u64));
    g
}

// ---------------------------------------------------------------- hex

fn hex_decode(c: &mut Criterion) {
    let corpus = corpus();
    for (size, range, count) in CLASSES {
        let raw = payloads(&corpus, range, count);
        describe(&format!("hex_decode/{size}"), &raw);
        let texts: Vec<Vec<u8>> = raw
            .iter()
            .map(|p| faster_hex::hex_string(p).into())
            .collect();
        let total: usize = texts.iter().map(Vec::len).sum();
        let mut buf = vec![0u8; raw.iter().map(Vec::len).max().unwrap_or(0)];

        // All three decode every payload to the same bytes.
        for (text, want) in texts.iter().zip(&raw) {
            let out = &mut buf[..text.len() / 2];
            hex::decode_to_slice(text, out).unwrap();
            assert_eq!(out, &want[..]);
            out.fill(0);
            faster_hex::hex_decode(text, out).unwrap();
            assert_eq!(out, &want[..]);
            out.fill(0);
            const_hex::decode_to_slice(text, out).unwrap();
            assert_eq!(out, &want[..]);
            out.fill(0);
            faster_hex_2::hex_decode(text, out).unwrap();
            assert_eq!(out, &want[..]);
        }

        let mut g = decode_group(c, "hex_decode", total, size);
        g.bench_function("hex", |b| {
            b.iter(|| {
                for text in &texts {
                    let out = &mut buf[..text.len() / 2];
                    hex::decode_to_slice(black_box(text), out).unwrap();
                    black_box(out);
                }
            })
        });
        g.bench_function("faster_hex", |b| {
            b.iter(|| {
                for text in &texts {
                    let out = &mut buf[..text.len() / 2];
                    faster_hex::hex_decode(black_box(text), out).unwrap();
                    black_box(out);
                }
            })
        });
        g.bench_function("const_hex", |b| {
            b.iter(|| {
                for text in &texts {
                    let out = &mut buf[..text.len() / 2];
                    const_hex::decode_to_slice(black_box(text), out).unwrap();
                    black_box(out);
                }
            })
        });
        g.bench_function("faster_hex_2", |b| {
            b.iter(|| {
                for text in &texts {
                    let out = &mut buf[..text.len() / 2];
                    black_box(faster_hex_2::hex_decode(black_box(text), out).unwrap());
                }
            })
        });
        g.finish();
    }
}

// ---------------------------------------------------------------- base64

fn base64_decode(c: &mut Criterion) {
    let corpus = corpus();
    let engine = base64::engine::general_purpose::STANDARD;
    let simd_0_23 = base64_0_23::engine::Simd::standard(base64_0_23::engine::general_purpose::PAD);
    for (size, range, count) in CLASSES {
        let raw = payloads(&corpus, range, count);
        describe(&format!("base64_decode/{size}"), &raw);
        let texts: Vec<Vec<u8>> = raw.iter().map(|p| engine.encode(p).into()).collect();
        let total: usize = texts.iter().map(Vec::len).sum();
        let longest = raw.iter().map(Vec::len).max().unwrap_or(0) + 3;
        let mut buf = vec![0u8; longest];
        let mut vec = Vec::with_capacity(longest);

        for (text, want) in texts.iter().zip(&raw) {
            let n = engine.decode_slice(text, &mut buf).unwrap();
            assert_eq!(&buf[..n], &want[..]);
            let n = base64_0_23::Engine::decode_slice(&simd_0_23, text, &mut buf).unwrap();
            assert_eq!(&buf[..n], &want[..]);
            let out = base64_simd::STANDARD
                .decode(text, base64_simd::Out::from_slice(&mut buf))
                .unwrap();
            assert_eq!(out, &want[..]);
            vec.clear();
            base64_simd::STANDARD.decode_append(text, &mut vec).unwrap();
            assert_eq!(vec, *want);
        }

        let mut g = decode_group(c, "base64_decode", total, size);
        g.bench_function("base64", |b| {
            b.iter(|| {
                for text in &texts {
                    let n = engine.decode_slice(black_box(text), &mut buf).unwrap();
                    black_box(&buf[..n]);
                }
            })
        });
        g.bench_function("base64_0_23_simd", |b| {
            b.iter(|| {
                for text in &texts {
                    let n =
                        base64_0_23::Engine::decode_slice(&simd_0_23, black_box(text), &mut buf)
                            .unwrap();
                    black_box(&buf[..n]);
                }
            })
        });
        g.bench_function("base64_simd", |b| {
            b.iter(|| {
                for text in &texts {
                    let out = base64_simd::STANDARD
                        .decode(black_box(text), base64_simd::Out::from_slice(&mut buf))
                        .unwrap();
                    black_box(out);
                }
            })
        });
        // What the library does: append to a reused, cleared Vec.
        g.bench_function("base64_simd_append", |b| {
            b.iter(|| {
                for text in &texts {
                    vec.clear();
                    base64_simd::STANDARD
                        .decode_append(black_box(text), &mut vec)
                        .unwrap();
                    black_box(&vec);
                }
            })
        });
        g.finish();
    }
}

// ---------------------------------------------------------------- jsonl lines

/// The `type`, `ts` and `data` strings of a line, still raw.
type Fields<'a> = (&'a [u8], &'a [u8], &'a [u8]);

/// A line parser run over a whole corpus: returns how many lines it accepted.
type CorpusParser = fn(&[u8]) -> usize;

/// A JSON string without escapes: anything else fails.
fn nom_string(i: &[u8]) -> IResult<&[u8], &[u8]> {
    delimited(char('"'), take_till(|c| c == b'"' || c == b'\\'), char('"')).parse(i)
}

/// `{"type":"T","ts":"TS","data":"B64"}`, the whole line, nothing else.
fn nom_line(i: &[u8]) -> IResult<&[u8], Fields<'_>> {
    all_consuming((
        preceded(tag(&b"{\"type\":"[..]), nom_string),
        preceded(tag(&b",\"ts\":"[..]), nom_string),
        delimited(tag(&b",\"data\":"[..]), nom_string, char('}')),
    ))
    .parse(i)
}

/// The same shape split by hand, as the library's fast path
/// (`parse_canonical` in `format/jsonl.rs`) does before its per-line work.
fn hand_line(line: &[u8]) -> Option<Fields<'_>> {
    let rest = line.strip_prefix(b"{\"type\":\"")?;
    let n = memchr::memchr(b'"', rest)?;
    let (ty, rest) = rest.split_at(n);
    let rest = rest.strip_prefix(b"\",\"ts\":\"")?;
    let n = memchr::memchr(b'"', rest)?;
    let (ts, rest) = rest.split_at(n);
    let data = rest.strip_prefix(b"\",\"data\":\"")?.strip_suffix(b"\"}")?;
    if memchr::memchr(b'\\', ty).is_some()
        || memchr::memchr(b'\\', ts).is_some()
        || memchr::memchr2(b'"', b'\\', data).is_some()
    {
        return None;
    }
    Some((ty, ts, data))
}

#[derive(Deserialize)]
struct Line<'a> {
    #[serde(borrow)]
    r#type: &'a str,
    #[serde(borrow)]
    ts: &'a str,
    #[serde(borrow)]
    data: &'a str,
}

/// Calls `f` on every line of `buf` (without its `\n`); returns how many
/// lines `f` accepted.
#[inline]
fn count_lines(buf: &[u8], mut f: impl FnMut(&[u8]) -> bool) -> usize {
    let mut ok = 0;
    let mut start = 0;
    for end in memchr::memchr_iter(b'\n', buf) {
        ok += usize::from(f(&buf[start..end]));
        start = end + 1;
    }
    if start < buf.len() {
        ok += usize::from(f(&buf[start..]));
    }
    ok
}

fn nom_slices(buf: &[u8]) -> usize {
    count_lines(buf, |line| match nom_line(line) {
        Ok((_, fields)) => {
            black_box(fields);
            true
        }
        Err(_) => false,
    })
}

fn hand_slices(buf: &[u8]) -> usize {
    count_lines(buf, |line| match hand_line(line) {
        Some(fields) => {
            black_box(fields);
            true
        }
        None => false,
    })
}

/// nom, then the per-line work `SliceReader` does on top of the split:
/// UTF-8 checks, the timestamp (with the same cache), the type lookup.
fn nom_event(buf: &[u8]) -> usize {
    let mut times = TimeCache::default();
    count_lines(buf, |line| {
        let Ok((_, (ty, ts, data))) = nom_line(line) else {
            return false;
        };
        let (Ok(ty), Ok(ts_text)) = (std::str::from_utf8(ty), std::str::from_utf8(ts)) else {
            return false;
        };
        let Ok(nanos) = times.parse(ts, true) else {
            return false;
        };
        black_box((
            EventType::from_name(Cow::Borrowed(ty)),
            ts_text,
            nanos,
            data,
        ));
        true
    })
}

fn slice_reader(buf: &[u8]) -> usize {
    let mut n = 0;
    for record in SliceReader::new(buf) {
        black_box(record.expect("generated corpus parses"));
        n += 1;
    }
    n
}

fn serde_slice(buf: &[u8]) -> usize {
    count_lines(buf, |line| match serde_json::from_slice::<Line<'_>>(line) {
        Ok(l) => {
            black_box((l.r#type, l.ts, l.data));
            true
        }
        Err(_) => false,
    })
}

/// serde_json from `&str`: one UTF-8 check of the whole buffer, then
/// `from_str` per line (strings are then not checked again).
fn serde_str(buf: &[u8]) -> usize {
    let text = std::str::from_utf8(buf).expect("generated corpus is UTF-8");
    let mut ok = 0;
    for line in text.split_terminator('\n') {
        if let Ok(l) = serde_json::from_str::<Line<'_>>(line) {
            black_box((l.r#type, l.ts, l.data));
            ok += 1;
        }
    }
    ok
}

fn jsonl_lines(c: &mut Criterion) {
    let input = corpus();
    let lines = memchr::memchr_iter(b'\n', &input).count();
    eprintln!(
        "jsonl_lines: {lines} lines, mean {} B a line",
        input.len() / lines
    );
    // Every variant accepts every line of the corpus.
    let variants: [(&str, CorpusParser); 6] = [
        ("nom_slices", nom_slices),
        ("hand_slices", hand_slices),
        ("nom_event", nom_event),
        ("slice_reader", slice_reader),
        ("serde_json_from_slice", serde_slice),
        ("serde_json_from_str", serde_str),
    ];
    for (name, f) in variants {
        assert_eq!(f(&input), lines, "{name} rejected lines of the corpus");
    }
    // And nom rejects what is not the canonical shape.
    assert!(nom_line(br#"{"ts":"x","type":"y","data":""}"#).is_err());
    assert!(nom_line(br#"{"type":"stdout","ts":"x","data":"a\/b"}"#).is_err());
    assert!(nom_line(br#"{"type":"stdout","ts":"x","data":"ab"} "#).is_err());
    assert!(nom_line(br#"{"type":"stdout","ts":"x","data":"ab"}"#).is_ok());

    let mut g = slow_group(c, "jsonl_lines", input.len());
    for (name, f) in variants {
        g.bench_function(name, |b| b.iter(|| black_box(f(black_box(&input)))));
    }
    g.finish();
}

// ---------------------------------------------------------------- mmap or read

/// A temporary folder removed on drop.
struct TempDir(PathBuf);

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn mmap_count(path: &std::path::Path, populate: bool) -> usize {
    let file = File::open(path).unwrap();
    let mut options = memmap2::MmapOptions::new();
    if populate {
        options.populate();
    }
    // SAFETY: the file is ours and nothing truncates it while mapped.
    let map = unsafe { options.map(&file) }.unwrap();
    memchr::memchr_iter(b'\n', &map).count()
}

fn read_count(path: &std::path::Path, buf: &mut [u8]) -> usize {
    let mut file = File::open(path).unwrap();
    let mut n = 0;
    loop {
        match file.read(buf).unwrap() {
            0 => return n,
            got => n += memchr::memchr_iter(b'\n', &buf[..got]).count(),
        }
    }
}

fn read_256mib(c: &mut Criterion) {
    let dir =
        TempDir(std::env::temp_dir().join(format!("sshtrail-bench-codecs-{}", std::process::id())));
    std::fs::create_dir_all(&dir.0).unwrap();
    let path = dir.0.join("interactive.jsonl");
    let (len, lines) = {
        let data = generate(Mix::Interactive, FILE_BYTES, Layout::Jsonl);
        let mut f = File::create(&path).unwrap();
        f.write_all(&data).unwrap();
        f.sync_all().unwrap();
        (data.len(), memchr::memchr_iter(b'\n', &data).count())
    };
    let mut buf = vec![0u8; 256 << 10];
    // Warms the page cache and checks the three agree.
    assert_eq!(read_count(&path, &mut buf), lines);
    assert_eq!(mmap_count(&path, false), lines);
    assert_eq!(mmap_count(&path, true), lines);

    let mut g = slow_group(c, "read_256mib", len);
    g.bench_function("mmap", |b| b.iter(|| black_box(mmap_count(&path, false))));
    g.bench_function("mmap_populate", |b| {
        b.iter(|| black_box(mmap_count(&path, true)))
    });
    g.bench_function("read_256k", |b| {
        b.iter(|| black_box(read_count(&path, &mut buf)))
    });
    // A buffer half the size: more calls, but it stays in a smaller cache.
    let mut half = vec![0u8; 128 << 10];
    g.bench_function("read_128k", |b| {
        b.iter(|| black_box(read_count(&path, &mut half)))
    });
    g.finish();
}

criterion_group!(benches, hex_decode, base64_decode, jsonl_lines, read_256mib);
criterion_main!(benches);
