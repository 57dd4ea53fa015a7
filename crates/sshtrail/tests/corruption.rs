//! Thousands of randomly corrupted variants of the fixtures go through every
//! reader: errors come back located inside the input, the slice and stream
//! readers agree, and nothing panics.

mod common;

use common::read;
use sshtrail::{Format, ParseError, SliceReader, StreamReader};

/// A small deterministic generator (SplitMix64), so failures reproduce.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
}

const SPECIAL: &[u8] = b"{}[]\":,\\ \t\r\n=#/+-.0123456789abcdefxzTZ\x00\x7f\xff\xc3";

fn mutate(rng: &mut Rng, input: &[u8]) -> Vec<u8> {
    let mut v = input.to_vec();
    for _ in 0..1 + rng.below(4) {
        if v.is_empty() {
            v.push(SPECIAL[rng.below(SPECIAL.len())]);
            continue;
        }
        let at = rng.below(v.len());
        match rng.below(7) {
            0 => v[at] = SPECIAL[rng.below(SPECIAL.len())],
            1 => v[at] = rng.next() as u8,
            2 => {
                v.remove(at);
            }
            3 => v.insert(at, SPECIAL[rng.below(SPECIAL.len())]),
            4 => v.truncate(at),
            5 => {
                let end = (at + rng.below(200)).min(v.len());
                let piece = v[at..end].to_vec();
                let to = rng.below(v.len());
                v.splice(to..to, piece);
            }
            _ => {
                let end = (at + rng.below(50)).min(v.len());
                v.drain(at..end);
            }
        }
    }
    v
}

fn describe(r: sshtrail::Record<'_>, payload: &mut Vec<u8>) -> Result<String, ParseError> {
    let ev = r?;
    ev.decode_payload(payload)?;
    Ok(format!(
        "{}|{}|{}|{:?}|{}",
        ev.line,
        ev.kind,
        ev.ts_text,
        payload,
        ev.extras.len()
    ))
}

fn check(input: &[u8], format: Option<Format>, chunk: usize) {
    let lines = input.split(|&c| c == b'\n').count() as u64;
    let mut payload = Vec::new();
    let slice: Vec<_> = SliceReader::with_format(input, format)
        .map(|r| describe(r, &mut payload))
        .collect();
    let mut stream = Vec::new();
    StreamReader::with_format(Chunks(input, chunk), format)
        .for_each(|r| -> std::io::Result<()> {
            stream.push(describe(r, &mut payload));
            Ok(())
        })
        .unwrap();
    assert_eq!(
        slice,
        stream,
        "readers disagree on {:?}",
        String::from_utf8_lossy(input)
    );
    let mut last_line = 0;
    for r in &slice {
        if let Err(e) = r {
            assert!(
                e.line >= 1 && e.line <= lines,
                "line {} outside 1..={lines}: {e}",
                e.line
            );
            assert!(e.column >= 1, "{e}");
            assert!(!e.message().is_empty());
            assert!(e.line >= last_line, "errors out of order");
            last_line = e.line;
        }
    }
}

struct Chunks<'a>(&'a [u8], usize);

impl std::io::Read for Chunks<'_> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.1.min(buf.len()).min(self.0.len());
        buf[..n].copy_from_slice(&self.0[..n]);
        self.0 = &self.0[n..];
        Ok(n)
    }
}

#[test]
fn random_corruption_never_panics_and_is_located() {
    let mut rng = Rng(0x5eed);
    let fixtures = [
        "session.jsonl",
        "session.hex",
        "session.hexdump",
        "variant.jsonl",
        "variant.hex",
    ];
    let mut variants = 0;
    for name in fixtures {
        let original = read(name);
        for _ in 0..1000 {
            let bad = mutate(&mut rng, &original);
            let format = [None, Some(Format::Jsonl), Some(Format::Hex)][rng.below(3)];
            let chunk = [1, 7, 4096, 1 << 20][rng.below(4)];
            check(&bad, format, chunk);
            variants += 1;
        }
    }
    assert_eq!(variants, 5000);
}

#[test]
fn a_broken_line_is_always_reported_at_that_line() {
    let mut rng = Rng(42);
    for (name, breaker) in [
        ("session.jsonl", b'['),
        ("session.hex", b'x'),
        ("session.hexdump", b'x'),
    ] {
        let original = read(name);
        let starts: Vec<usize> = std::iter::once(0)
            .chain(
                original
                    .iter()
                    .enumerate()
                    .filter(|(_, &c)| c == b'\n')
                    .map(|(i, _)| i + 1),
            )
            .filter(|&i| i < original.len() && original[i] != b'#')
            .collect();
        for _ in 0..300 {
            let at = starts[rng.below(starts.len())];
            let line = original[..at].iter().filter(|&&c| c == b'\n').count() as u64 + 1;
            let mut bad = original.clone();
            bad[at] = breaker;
            let errors: Vec<ParseError> = SliceReader::new(&bad).filter_map(Result::err).collect();
            assert!(
                errors.iter().any(|e| e.line == line && !e.is_warning()),
                "{name}: line {line} broken but errors were {errors:?}"
            );
        }
    }
}

#[test]
fn hostile_small_inputs() {
    let cases: [&[u8]; 14] = [
        b"",
        b"\n\n\n",
        b"   \t\r\n",
        b"{",
        b"{\"type\":\"stdin\",\"ts\":\"2023-06-07T17:32:29Z\",\"data\":\"",
        b"{\"type\":\"stdin\",\"ts\":\"2023-06-07T17:32:29Z\",\"x\":\"\\u12\"}",
        b"{\"type\":\"stdin\",\"ts\":\"2023-06-07T17:32:29Z\",\"x\":[[[[[[[[[[",
        b"\xff\xfe{}",
        b"2023-06-07T17:32:29Z stdout 99999999999999999999999999\n00000000  61\n",
        b"2023-06-07T17:32:29Z stdout 1\n00000000  61 62 63 64 65 66 67 68 69 6a 6b 6c 6d 6e 6f 70 71\n",
        b"2023-06-07T17:32:29Z stdout 1\nffffffff  61\n",
        b"9999-12-31T23:59:60Z stdout\n0000-01-01T00:00:00-23:59 stdin\n",
        b"{\"type\":\"\\ud800\",\"ts\":\"2023-06-07T17:32:29Z\"}",
        b"\x00\x00\x00\n{\"type\":\"stdin\",\"ts\":\"2023-06-07T17:32:29Z\"}\n",
    ];
    for input in cases {
        for format in [None, Some(Format::Jsonl), Some(Format::Hex)] {
            for chunk in [1, 3, 1024] {
                check(input, format, chunk);
            }
        }
    }
}
