//! Every output format fed the channels built from arbitrary input:
//! asciicast v2 and v3, util-linux script recordings, the text transcript,
//! the evidence layouts, SIEM records, and the typed-command recovery.
//! Never a panic; every asciicast line is JSON, v2 times never go back and
//! v3 intervals are never negative; every SIEM line is one record.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sshtrail::archive::Archive;
use sshtrail::channel::{ChannelEvent, ChannelEventKind, ChannelSink, RequestKind};
use sshtrail::output::{MemoryOutput, OutputFormat, WriterOptions, Writing};
use sshtrail::replay::CommandRecognizer;

fn seconds(v: &serde_json::Value) -> f64 {
    v.as_f64().expect("a time in seconds")
}

/// The largest terminal the channels ask for, in cells.
#[derive(Default)]
struct Largest(u64);

impl ChannelSink for Largest {
    fn event(&mut self, ev: &ChannelEvent<'_>) -> std::io::Result<()> {
        let cells =
            |cols: u32, rows: u32| u64::from(cols.clamp(1, 4096)) * u64::from(rows.clamp(1, 4096));
        if let ChannelEventKind::Request(r) = ev.kind {
            match &r.kind {
                RequestKind::Pty(p) => self.0 = self.0.max(cells(p.cols, p.rows)),
                RequestKind::WindowChange { cols, rows } => {
                    self.0 = self.0.max(cells(*cols, *rows))
                }
                _ => {}
            }
        }
        Ok(())
    }
}

/// Commands recovered, as `sshtrail commands` does.
#[derive(Default)]
struct Commands(CommandRecognizer);

impl ChannelSink for Commands {
    fn event(&mut self, ev: &ChannelEvent<'_>) -> std::io::Result<()> {
        self.0.event(ev);
        let _ = self.0.take();
        Ok(())
    }
}

fuzz_target!(|data: &[u8]| {
    let archive = Archive::from_bytes("0.hex", data);
    let mut largest = Largest(80 * 24);
    archive.replay(&mut largest, &mut |_| {}).unwrap();
    // The emulated terminal is capped (1000 x 500), but each clear still
    // walks every cell: keep the emulator to screens of at most 256 x 256
    // so that a run stays fast.
    let emulate = largest.0 <= 256 * 256;
    let options = WriterOptions {
        input: data.first().is_some_and(|b| b & 1 == 1),
        idle_time_limit: Some(2.5),
        title: Some("fuzz \"title\"\n".into()),
        io: true,
        ..WriterOptions::default()
    };
    for &format in OutputFormat::ALL {
        let terminal = matches!(
            format,
            OutputFormat::Text
                | OutputFormat::Ecs
                | OutputFormat::Ocsf
                | OutputFormat::Cef
                | OutputFormat::Hec
        );
        if terminal && !emulate {
            continue;
        }
        let mut out = MemoryOutput::default();
        let mut writer = format.writer(&options);
        archive
            .replay(&mut Writing::new(&mut writer, &mut out), &mut |_| {})
            .expect("writing to memory");
        match format {
            OutputFormat::Asciicast | OutputFormat::AsciicastV3 => {
                for (_, cast) in out.parts() {
                    let text = std::str::from_utf8(cast).expect("asciicast is UTF-8");
                    let mut lines = text.lines();
                    let header: serde_json::Value =
                        serde_json::from_str(lines.next().expect("a header"))
                            .expect("header is JSON");
                    assert!(header.is_object());
                    let mut last = 0.0f64;
                    for line in lines {
                        let ev: serde_json::Value =
                            serde_json::from_str(line).expect("event is JSON");
                        let t = seconds(&ev[0]);
                        assert!(t >= 0.0, "negative time in {line}");
                        if format == OutputFormat::Asciicast {
                            assert!(t >= last, "v2 time went back: {line}");
                            last = t;
                        }
                        assert!(ev[1].is_string() && ev[2].is_string(), "{line}");
                    }
                }
            }
            OutputFormat::Ecs | OutputFormat::Ocsf | OutputFormat::Hec => {
                for (_, records) in out.parts() {
                    for line in records.split(|&b| b == b'\n').filter(|l| !l.is_empty()) {
                        let _: serde_json::Value =
                            serde_json::from_slice(line).expect("a record is JSON");
                    }
                }
            }
            _ => {}
        }
    }
    if emulate {
        archive
            .replay(&mut Commands::default(), &mut |_| {})
            .unwrap();
    }
});
