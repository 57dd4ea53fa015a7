//! The golden fixtures in `testdata/`: every layout gives the same streams,
//! the writers reproduce the canonical files byte for byte, and malformed
//! files are reported at the right line.

mod common;

use common::{convert, read};
use sshtrail::encode::{HexDumpEncoder, HexLineEncoder, JsonlEncoder, RawEncoder};
use sshtrail::{Filter, SliceReader, StreamReader};

const INPUTS: [&str; 5] = [
    "session.jsonl",
    "session.hex",
    "session.hexdump",
    "variant.jsonl",
    "variant.hex",
];

#[test]
fn every_layout_gives_the_same_streams() {
    for input in INPUTS {
        for stream in ["stdin", "stdout", "stderr"] {
            let got = convert(&read(input), &stream.parse().unwrap(), &mut RawEncoder);
            let want = read(&format!("session.{stream}.bin"));
            assert!(!want.is_empty());
            assert_eq!(got, want, "{input} {stream}");
        }
    }
}

#[test]
fn canonical_jsonl_is_written_back_byte_for_byte() {
    let jsonl = read("session.jsonl");
    assert_eq!(
        convert(&jsonl, &Filter::all(), &mut JsonlEncoder::default()),
        jsonl
    );
}

#[test]
fn jsonl_and_hex_convert_into_each_other() {
    let jsonl = read("session.jsonl");
    let hex = read("session.hex");
    let dump = read("session.hexdump");
    assert_eq!(
        convert(&jsonl, &Filter::all(), &mut HexLineEncoder::default()),
        hex
    );
    assert_eq!(
        convert(&hex, &Filter::all(), &mut JsonlEncoder::default()),
        jsonl
    );
    assert_eq!(
        convert(&jsonl, &Filter::all(), &mut HexDumpEncoder::default()),
        dump
    );
    assert_eq!(
        convert(&dump, &Filter::all(), &mut JsonlEncoder::default()),
        jsonl
    );
}

#[test]
fn variants_hold_the_same_events() {
    let hex = read("session.hex");
    for input in ["variant.jsonl", "variant.hex"] {
        assert_eq!(
            convert(&read(input), &Filter::all(), &mut HexLineEncoder::default()),
            hex,
            "{input}"
        );
    }
}

#[test]
fn variant_extras_are_kept_verbatim() {
    let variant = read("variant.jsonl");
    let out = String::from_utf8(convert(
        &variant,
        &Filter::all(),
        &mut JsonlEncoder::default(),
    ))
    .unwrap();
    let with_extras: Vec<&str> = out.lines().filter(|l| l.contains("\"command\"")).collect();
    assert!(!with_extras.is_empty());
    for l in with_extras {
        assert!(
            l.ends_with(r#","command":"ls -la \"x\"","meta":{"a":[1,2,{"b":null}],"c":"\u00e9"}}"#),
            "{l}"
        );
    }
}

#[test]
fn malformed_files_are_reported_at_their_line() {
    let expect = String::from_utf8(read("bad/EXPECT.tsv")).unwrap();
    let mut checked = 0;
    for row in expect.lines() {
        let cols: Vec<&str> = row.split('\t').collect();
        let (name, line, kind) = (cols[0], cols[1].parse::<u64>().unwrap(), cols[2]);
        let input = read(&format!("bad/{name}"));
        let mut payload = Vec::new();
        let mut problems = Vec::new();
        let mut events = 0;
        for r in SliceReader::new(&input) {
            match r.and_then(|ev| ev.decode_payload(&mut payload)) {
                Ok(()) => events += 1,
                Err(e) => problems.push(e),
            }
        }
        assert_eq!(problems.len(), 1, "{name}: {problems:?}");
        let p = &problems[0];
        assert_eq!(p.line, line, "{name}: {p}");
        assert!(p.column >= 1);
        assert_eq!(p.is_warning(), kind == "warn", "{name}: {p}");
        // Every other event is still read.
        assert!(events > 10, "{name}: {events} events");
        // The stream reader agrees.
        let mut stream_problems = Vec::new();
        StreamReader::new(&input[..])
            .for_each(|r| -> std::io::Result<()> {
                if let Err(e) = r.and_then(|ev| ev.decode_payload(&mut payload)) {
                    stream_problems.push(e);
                }
                Ok(())
            })
            .unwrap();
        assert_eq!(stream_problems, problems, "{name}");
        checked += 1;
    }
    assert!(checked >= 10);
}

/// The acceptance data in `testdata/checkdata` (see its SOURCES.md).
#[test]
fn checkdata_samples() {
    let load = |n: &str| read(&format!("checkdata/{n}"));
    let jsonl = load("sample.jsonl");
    for input in [
        "sample.jsonl",
        "sample.hex",
        "sample.hexdump",
        "variant.jsonl",
        "variant.hex",
    ] {
        for stream in ["stdin", "stdout", "stderr"] {
            let got = convert(&load(input), &stream.parse().unwrap(), &mut RawEncoder);
            assert_eq!(
                got,
                load(&format!("sample.{stream}.bin")),
                "{input} {stream}"
            );
        }
    }
    assert_eq!(
        convert(&jsonl, &Filter::all(), &mut JsonlEncoder::default()),
        jsonl
    );
    assert_eq!(
        convert(&jsonl, &Filter::all(), &mut HexLineEncoder::default()),
        load("sample.hex")
    );
}
