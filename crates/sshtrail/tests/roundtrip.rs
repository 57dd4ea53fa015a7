//! Property tests: random events survive jsonl -> hex -> jsonl and
//! jsonl -> hexdump -> jsonl unchanged, and decode to what was encoded.

mod common;

use base64::Engine as _;
use common::convert;
use proptest::prelude::*;
use sshtrail::encode::{HexDumpEncoder, HexLineEncoder, JsonlEncoder};
use sshtrail::{EventType, Filter, SliceReader, StreamReader};

#[derive(Debug, Clone)]
struct Ev {
    kind: String,
    ts: String,
    payload: Vec<u8>,
}

fn kind() -> impl Strategy<Value = String> {
    prop_oneof![
        3 => (0..15usize).prop_map(|i| EventType::NAMES[i].to_string()),
        1 => "[a-z][a-z0-9@._-]{0,20}",
    ]
}

fn ts() -> impl Strategy<Value = String> {
    (
        0u32..=9999,
        1u32..=12,
        1u32..=28,
        0u32..=23,
        0u32..=59,
        0u32..=60,
        0usize..=9,
        0u64..1_000_000_000,
        prop_oneof![
            Just("Z".to_string()),
            Just("z".to_string()),
            (any::<bool>(), 0u32..=23, 0u32..=59)
                .prop_map(|(neg, h, m)| format!("{}{h:02}:{m:02}", if neg { '-' } else { '+' }))
        ],
        any::<bool>(),
    )
        .prop_map(|(y, mo, d, h, mi, s, digits, frac, zone, lower_t)| {
            let frac = if digits == 0 {
                String::new()
            } else {
                format!(".{}", &format!("{frac:09}")[..digits])
            };
            format!(
                "{y:04}-{mo:02}-{d:02}{}{h:02}:{mi:02}:{s:02}{frac}{zone}",
                if lower_t { 't' } else { 'T' }
            )
        })
}

fn payload() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        4 => proptest::collection::vec(any::<u8>(), 0..4),
        4 => proptest::collection::vec(any::<u8>(), 0..300),
        1 => proptest::collection::vec(any::<u8>(), 0..20_000),
    ]
}

fn events() -> impl Strategy<Value = Vec<Ev>> {
    proptest::collection::vec(
        (kind(), ts(), payload()).prop_map(|(kind, ts, payload)| Ev { kind, ts, payload }),
        0..40,
    )
}

/// Canonical jsonl, written by the test itself with the `base64` crate.
fn canonical(evs: &[Ev]) -> Vec<u8> {
    let mut s = String::new();
    for e in evs {
        s.push_str(&format!(
            "{{\"type\":\"{}\",\"ts\":\"{}\",\"data\":\"{}\"}}\n",
            e.kind,
            e.ts,
            base64::engine::general_purpose::STANDARD.encode(&e.payload)
        ));
    }
    s.into_bytes()
}

fn decoded(input: &[u8]) -> Vec<(String, String, Vec<u8>)> {
    let mut out = Vec::new();
    for ev in SliceReader::new(input) {
        let ev = ev.unwrap();
        let mut p = Vec::new();
        ev.decode_payload(&mut p).unwrap();
        out.push((ev.kind.name().to_string(), ev.ts_text.to_string(), p));
    }
    out
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 200, ..ProptestConfig::default() })]

    #[test]
    fn jsonl_hex_jsonl(evs in events()) {
        let jsonl = canonical(&evs);
        let want: Vec<_> = evs.iter().map(|e| (e.kind.clone(), e.ts.clone(), e.payload.clone())).collect();
        prop_assert_eq!(decoded(&jsonl), want);
        let hex = convert(&jsonl, &Filter::all(), &mut HexLineEncoder::default());
        let back = convert(&hex, &Filter::all(), &mut JsonlEncoder::default());
        prop_assert_eq!(back, jsonl);
    }

    #[test]
    fn jsonl_hexdump_jsonl(evs in events()) {
        let jsonl = canonical(&evs);
        let dump = convert(&jsonl, &Filter::all(), &mut HexDumpEncoder::default());
        let back = convert(&dump, &Filter::all(), &mut JsonlEncoder::default());
        prop_assert_eq!(back, jsonl);
    }

    #[test]
    fn stream_reader_agrees_with_slice_reader(evs in events(), chunk in 1usize..5000) {
        let jsonl = canonical(&evs);
        let dump = convert(&jsonl, &Filter::all(), &mut HexDumpEncoder::default());
        for input in [&jsonl, &dump] {
            let mut got = Vec::new();
            let mut reader = StreamReader::new(Chunked(input, chunk));
            reader.for_each(|r| -> std::io::Result<()> {
                let ev = r.unwrap();
                let mut p = Vec::new();
                ev.decode_payload(&mut p).unwrap();
                got.push((ev.kind.name().to_string(), ev.ts_text.to_string(), p));
                Ok(())
            }).unwrap();
            prop_assert_eq!(got, decoded(input));
        }
    }
}

/// A reader that hands out at most `.1` bytes per read.
struct Chunked<'a>(&'a [u8], usize);

impl std::io::Read for Chunked<'_> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.1.min(buf.len()).min(self.0.len());
        buf[..n].copy_from_slice(&self.0[..n]);
        self.0 = &self.0[n..];
        Ok(n)
    }
}
