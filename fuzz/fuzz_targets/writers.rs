//! The writers fed whatever events the reader accepts from arbitrary input.
//! Properties:
//! - jsonl: written and read back, the events are the same (type, time text
//!   and value, payload, extra keys verbatim and in order), and writing the
//!   read-back events again gives the same bytes (canonical output);
//! - hex line and hex dump: every event they accept reads back with the same
//!   type, time and payload; they refuse only type names they cannot hold;
//! - raw: the payloads back to back; pretty: never a panic, one line per
//!   event.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sshtrail::encode::{
    EncodeError, Encoder, HexDumpEncoder, HexLineEncoder, JsonlEncoder, PrettyEncoder, RawEncoder,
};
use sshtrail::{Event, Format, SliceReader};

#[derive(Debug, Clone, PartialEq, Eq)]
struct Owned {
    kind: String,
    ts_text: String,
    ts: i128,
    payload: Vec<u8>,
    extras: Vec<(String, String)>,
}

fn owned(ev: &Event<'_>, payload: &[u8]) -> Owned {
    Owned {
        kind: ev.kind.name().to_string(),
        ts_text: ev.ts_text.to_string(),
        ts: ev.ts,
        payload: payload.to_vec(),
        extras: ev
            .extras
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
    }
}

/// Reads `out` back; every record must be an event whose payload decodes.
fn read_back(out: &[u8], format: Format, what: &str) -> Vec<Owned> {
    let mut buf = Vec::new();
    SliceReader::with_format(out, Some(format))
        .map(|r| {
            let ev = r.unwrap_or_else(|e| {
                panic!(
                    "{what} output does not read back: {e}\n{}",
                    String::from_utf8_lossy(out)
                )
            });
            ev.decode_payload(&mut buf)
                .unwrap_or_else(|e| panic!("{what} payload does not decode: {e}"));
            owned(&ev, &buf)
        })
        .collect()
}

fn hex_refuses(name: &str) -> bool {
    name.is_empty() || name.bytes().any(|c| c.is_ascii_whitespace() || c < 0x20)
}

fuzz_target!(|data: &[u8]| {
    let mut jsonl = JsonlEncoder::default();
    let mut hex = HexLineEncoder::default();
    let mut dump = HexDumpEncoder::default();
    let mut pretty = PrettyEncoder::default();
    let (mut jsonl_out, mut hex_out, mut dump_out, mut pretty_out, mut raw_out) =
        (Vec::new(), Vec::new(), Vec::new(), Vec::new(), Vec::new());
    let (mut all, mut in_hex) = (Vec::new(), Vec::new());
    let mut raw_want = Vec::new();
    let mut buf = Vec::new();
    for record in SliceReader::new(data) {
        let Ok(ev) = record else { continue };
        if ev.decode_payload(&mut buf).is_err() {
            continue;
        }
        let o = owned(&ev, &buf);
        jsonl
            .event(&mut jsonl_out, &ev, &buf)
            .expect("jsonl takes every event");
        match (
            hex.event(&mut hex_out, &ev, &buf),
            dump.event(&mut dump_out, &ev, &buf),
        ) {
            (Ok(()), Ok(())) => {
                assert!(!hex_refuses(&o.kind));
                in_hex.push(o.clone());
            }
            (Err(EncodeError::Unrepresentable(_)), Err(EncodeError::Unrepresentable(_))) => {
                assert!(hex_refuses(&o.kind), "hex refused {:?}", o.kind)
            }
            other => panic!("hex line and dump disagree: {other:?}"),
        }
        let before = pretty_out.len();
        pretty
            .event(&mut pretty_out, &ev, &buf)
            .expect("pretty takes every event");
        assert_eq!(pretty_out.last(), Some(&b'\n'));
        assert!(pretty_out.len() > before);
        RawEncoder.event(&mut raw_out, &ev, &buf).unwrap();
        raw_want.extend_from_slice(&buf);
        all.push(o);
    }
    for enc in [
        &mut jsonl as &mut dyn Encoder,
        &mut hex,
        &mut dump,
        &mut pretty,
    ] {
        enc.finish(&mut Vec::new()).unwrap();
    }
    assert_eq!(raw_out, raw_want);

    // jsonl: the same events, and canonical.
    let back = read_back(&jsonl_out, Format::Jsonl, "jsonl");
    assert_eq!(back, all, "jsonl round trip");
    let mut again = Vec::new();
    let mut enc = JsonlEncoder::default();
    let mut b = Vec::new();
    for ev in SliceReader::with_format(&jsonl_out, Some(Format::Jsonl)) {
        let ev = ev.unwrap();
        ev.decode_payload(&mut b).unwrap();
        enc.event(&mut again, &ev, &b).unwrap();
    }
    assert_eq!(again, jsonl_out, "jsonl output is not canonical");

    // hex layouts: type, time and payload survive; extras are dropped and a
    // space between date and time becomes 'T'.
    let want: Vec<Owned> = in_hex
        .into_iter()
        .map(|mut o| {
            o.ts_text = o.ts_text.replace(' ', "T");
            o.extras.clear();
            o
        })
        .collect();
    assert_eq!(
        read_back(&hex_out, Format::Hex, "hex"),
        want,
        "hex round trip"
    );
    assert_eq!(
        read_back(&dump_out, Format::Hex, "hexdump"),
        want,
        "hexdump round trip"
    );
});
