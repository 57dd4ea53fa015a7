//! The writers and the channel builder fed events that no reader made:
//! any type name (spaces, quotes, newlines, NUL), any time text, any
//! payload encoding, any payload bytes. Only the invariant every reader
//! guarantees is kept: the time is within years 0000-9999 (give or take
//! a day of zone offset). Never a panic; a writer may refuse an event
//! (`EncodeError::Unrepresentable`) but never fails otherwise; canonical
//! jsonl is one line per event; the channel's streams add up.
#![no_main]

use std::borrow::Cow;

use libfuzzer_sys::arbitrary::{Result, Unstructured};
use libfuzzer_sys::fuzz_target;
use sshtrail::channel::{ChannelBuilder, ChannelEvent, ChannelEventKind, ChannelSink, Tee};
use sshtrail::connection::Context;
use sshtrail::encode::{
    EncodeError, Encoder, HexDumpEncoder, HexLineEncoder, JsonlEncoder, PrettyEncoder,
};
use sshtrail::output::{MemoryOutput, OutputFormat, WriterOptions, Writing};
use sshtrail::{Event, EventType, Payload};

/// 0000-01-01T00:00:00+23:59 and 9999-12-31T23:59:60.999999999-23:59.
const MIN_TS: i128 = (-62_167_219_200 - 86_340) * 1_000_000_000;
const MAX_TS: i128 = (253_402_300_800 + 86_340) * 1_000_000_000 + 999_999_999;

struct Raw {
    kind: String,
    ts_text: String,
    ts: i128,
    encoding: u8,
    bytes: Vec<u8>,
    line: u64,
}

fn raw(u: &mut Unstructured<'_>) -> Result<Raw> {
    let kind = match u.int_in_range(0..=3)? {
        0 => EventType::NAMES[u.choose_index(15)?].to_string(),
        1 => ["pty-req", "a b", "x\ny", "\"q\"", "", "\0", "é"][u.choose_index(7)?].to_string(),
        _ => u.arbitrary::<String>()?,
    };
    Ok(Raw {
        kind,
        ts_text: u.arbitrary()?,
        ts: u.int_in_range(MIN_TS..=MAX_TS)?,
        encoding: u.int_in_range(0..=3)?,
        bytes: u.arbitrary()?,
        line: u.arbitrary()?,
    })
}

fn hex(bytes: &[u8]) -> Vec<u8> {
    bytes
        .iter()
        .flat_map(|b| format!("{b:02x}").into_bytes())
        .collect()
}

fuzz_target!(|data: &[u8]| {
    let mut u = Unstructured::new(data);
    let mut raws = Vec::new();
    while !u.is_empty() && raws.len() < 64 {
        match raw(&mut u) {
            Ok(r) => raws.push(r),
            Err(_) => break,
        }
    }
    // The encoded payload texts, kept alive for the events that borrow them.
    let texts: Vec<Vec<u8>> = raws
        .iter()
        .map(|r| match r.encoding {
            1 => hex(&r.bytes),
            _ => r.bytes.clone(),
        })
        .collect();
    let events: Vec<Event<'_>> = raws
        .iter()
        .zip(&texts)
        .map(|(r, text)| Event {
            kind: EventType::from_name(Cow::Borrowed(&r.kind)),
            ts_text: Cow::Borrowed(&r.ts_text),
            ts: r.ts,
            payload: match r.encoding {
                0 => Payload::Empty,
                1 | 2 => Payload::Hex {
                    text,
                    line: r.line,
                    column: 1,
                },
                _ => Payload::Base64 {
                    text,
                    escaped: r.bytes.first().is_some_and(|b| b & 1 == 1),
                    line: r.line,
                    column: 1,
                },
            },
            extras: Default::default(),
            line: r.line,
        })
        .collect();

    // Writers: the payload handed to them is any bytes.
    let mut jsonl = JsonlEncoder::default();
    let mut others: [Box<dyn Encoder>; 3] = [
        Box::new(HexLineEncoder::default()),
        Box::new(HexDumpEncoder::default()),
        Box::new(PrettyEncoder::default()),
    ];
    for (ev, r) in events.iter().zip(&raws) {
        let mut out = Vec::new();
        jsonl
            .event(&mut out, ev, &r.bytes)
            .expect("jsonl takes every event");
        assert_eq!(out.iter().filter(|&&c| c == b'\n').count(), 1, "one line");
        assert_eq!(out.last(), Some(&b'\n'));
        for enc in others.iter_mut() {
            match enc.event(&mut Vec::new(), ev, &r.bytes) {
                Ok(()) | Err(EncodeError::Unrepresentable(_)) => {}
                Err(e) => panic!("writing to memory failed: {e}"),
            }
        }
    }

    // The channel builder decodes each payload itself; recordings of
    // what it makes of them are written too.
    let mut b = ChannelBuilder::new(Context::default(), None);
    let mut sums = Sums::default();
    let mut cast = OutputFormat::Asciicast.writer(&WriterOptions::default());
    let mut script = OutputFormat::ScriptAdvanced.writer(&WriterOptions::default());
    let (mut cast_out, mut script_out) = (MemoryOutput::default(), MemoryOutput::default());
    {
        let mut cast_sink = Writing::new(&mut cast, &mut cast_out);
        let mut script_sink = Writing::new(&mut script, &mut script_out);
        let mut sinks = Tee(vec![&mut sums, &mut cast_sink, &mut script_sink]);
        for ev in &events {
            if let Err(sshtrail::channel::ReplayError::Payload(e)) = b.push(ev, &mut sinks) {
                assert!(e.line == ev.line, "{e}");
                b.log_problem(&e);
            }
        }
        let state = b.finish(None, &mut sinks).expect("writing to memory");
        assert_eq!(state.bytes, sums.0, "the streams add up");
    }
});

/// Bytes of the data events per stream.
#[derive(Default)]
struct Sums([u64; 3]);

impl ChannelSink for Sums {
    fn event(&mut self, ev: &ChannelEvent<'_>) -> std::io::Result<()> {
        if let ChannelEventKind::Data { stream, data, .. } = ev.kind {
            self.0[stream as usize] += data.len() as u64;
        }
        Ok(())
    }
}
