//! Whether a replay reads its log on a thread of its own: by default for a
//! stored log, never with `ReplayOptions::one_thread` (`-j 1`). Alone in
//! its test binary, so that no other test's thread is counted.

use std::io;
use std::path::Path;

use sshtrail::archive::{Archive, Discovery, ReplayOptions};
use sshtrail::channel::{ChannelEvent, ChannelSink};

/// Looks, at each event, whether a reading thread runs in this process.
#[derive(Default)]
struct Watch {
    events: u64,
    reading_thread_seen: bool,
}

fn reading_thread_runs() -> bool {
    std::fs::read_dir("/proc/self/task")
        .expect("the process's threads")
        .filter_map(Result::ok)
        .any(|task| {
            std::fs::read_to_string(task.path().join("comm"))
                .is_ok_and(|name| name.trim_end() == "sshtrail-read")
        })
}

impl ChannelSink for Watch {
    fn event(&mut self, _ev: &ChannelEvent<'_>) -> io::Result<()> {
        self.events += 1;
        if self.events.is_power_of_two() {
            self.reading_thread_seen |= reading_thread_runs();
        }
        Ok(())
    }
}

/// A stored log of 8 MiB of output events: more than the reading thread
/// may read ahead, so it still runs while the events come.
fn large_log() -> std::path::PathBuf {
    let path =
        std::env::temp_dir().join(format!("sshtrail-read-ahead-{}.jsonl", std::process::id()));
    let line = "{\"type\":\"stdout\",\"ts\":\"2023-06-07T17:32:29Z\",\"data\":\"bHMK\"}\n";
    std::fs::write(&path, line.repeat((8 << 20) / line.len())).unwrap();
    path
}

fn replayed(log: &Path, options: &ReplayOptions) -> Watch {
    let archive = Archive::open(&[log], &Discovery::standard(), &mut |p| panic!("{p}"));
    let mut watch = Watch::default();
    archive
        .replay_with(options, &mut watch, &mut |p| panic!("{p}"))
        .unwrap();
    watch
}

#[test]
fn a_stored_log_is_read_ahead_unless_one_thread_is_asked() {
    let log = large_log();
    let ahead = replayed(&log, &ReplayOptions::default());
    assert!(ahead.events > 10);
    assert!(ahead.reading_thread_seen, "no reading thread ran");
    let alone = replayed(&log, &ReplayOptions::default().on_one_thread());
    std::fs::remove_file(&log).unwrap();
    assert_eq!(alone.events, ahead.events);
    assert!(!alone.reading_thread_seen, "a reading thread ran");
}
