//! The channel replay encoders fed a channel built from arbitrary input:
//! asciicast v2 and v3 (`sshtrail::encode::asciicast`), util-linux script
//! recordings (`sshtrail::encode::script`), the terminal replay
//! (`sshtrail::screen`) and the typed-command recovery
//! (`sshtrail::commands`). Never a panic; every asciicast line is JSON,
//! v2 times never go back and v3 intervals are never negative.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sshtrail::channel::ChannelBuilder;
use sshtrail::connection::Context;
use sshtrail::encode::asciicast::{write_cast, CastOptions, CastVersion};
use sshtrail::encode::script::{write_script, ScriptFormat};
use sshtrail::SliceReader;

fn seconds(v: &serde_json::Value) -> f64 {
    v.as_f64().expect("a time in seconds")
}

fuzz_target!(|data: &[u8]| {
    let mut b = ChannelBuilder::new(Context::default());
    let mut buf = Vec::new();
    for ev in SliceReader::new(data) {
        match ev {
            Ok(ev) => {
                if let Err(e) = b.push(&ev, &mut buf) {
                    b.log_problem(&e);
                }
            }
            Err(e) => b.log_problem(&e),
        }
    }
    let ch = b.finish(None);
    for version in [CastVersion::V2, CastVersion::V3] {
        for input in [false, true] {
            let opts = CastOptions {
                version,
                input,
                idle_time_limit: Some(2.5),
                title: Some("fuzz \"title\"\n".into()),
            };
            let mut out = Vec::new();
            let report = write_cast(&ch, &opts, &mut out).expect("writing to memory");
            let text = std::str::from_utf8(&out).expect("asciicast is UTF-8");
            let mut lines = text.lines();
            let header: serde_json::Value =
                serde_json::from_str(lines.next().expect("a header")).expect("header is JSON");
            assert!(header.is_object());
            let mut last = 0.0f64;
            let mut events = 0;
            for line in lines {
                let ev: serde_json::Value = serde_json::from_str(line).expect("event is JSON");
                let t = seconds(&ev[0]);
                assert!(t >= 0.0, "negative time in {line}");
                if version == CastVersion::V2 {
                    assert!(t >= last, "v2 time went back: {line}");
                    last = t;
                }
                assert!(ev[1].is_string() && ev[2].is_string(), "{line}");
                events += 1;
            }
            assert_eq!(report.events, events);
        }
    }
    for format in [ScriptFormat::Classic, ScriptFormat::Advanced] {
        let (mut log, mut timing) = (Vec::new(), Vec::new());
        write_script(&ch, format, &mut log, &mut timing).expect("writing to memory");
    }
    // Known library problem, reproduced by an ignored test in
    // crates/sshtrail/tests/hostile.rs: the terminal replay costs rows x cols
    // (up to 4096 x 4096) per screen clear, so a huge pty-req makes a small
    // input take seconds. Until that is fixed, replay only terminals of at
    // most 256 x 256 cells here.
    let cells =
        |cols: u32, rows: u32| u64::from(cols.clamp(1, 4096)) * u64::from(rows.clamp(1, 4096));
    let largest = ch
        .resizes
        .iter()
        .map(|r| cells(r.cols, r.rows))
        .chain(ch.pty.as_ref().map(|p| cells(p.cols, p.rows)))
        .max()
        .unwrap_or(80 * 24);
    if largest <= 256 * 256 {
        if let Ok(screen) = sshtrail::screen::replay(&ch, None) {
            let _ = screen.view();
            let _ = screen.into_transcript();
        }
        let _ = sshtrail::commands::commands(&ch);
    }
});
