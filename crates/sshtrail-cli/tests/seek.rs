//! `screen --at` with a seek index: the same screens as the replay from
//! the start, at every moment; the index built on first use in the cache
//! folder, reused, rebuilt when the log changes or the index is damaged,
//! never written beside the log.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use base64::Engine;
use common::{real_connection, testdata_path};

/// Runs `sshtrail ARGS` with `XDG_CACHE_HOME` set to `cache` (so that a
/// test never writes to the user's cache).
fn run(args: &[&str], cache: &Path) -> Output {
    Command::new(env!("CARGO_BIN_EXE_sshtrail"))
        .args(args)
        .env("XDG_CACHE_HOME", cache)
        .output()
        .unwrap()
}

/// What a run shows: exit code, standard output, and standard error less
/// nothing (the index path must warn about nothing either).
fn shown(o: &Output) -> (Option<i32>, String, String) {
    (
        o.status.code(),
        String::from_utf8_lossy(&o.stdout).into_owned(),
        String::from_utf8_lossy(&o.stderr).into_owned(),
    )
}

/// The event times of a jsonl log, as written.
fn jsonl_times(log: &Path) -> Vec<String> {
    std::fs::read_to_string(log)
        .unwrap()
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .filter_map(|v| v["ts"].as_str().map(str::to_string))
        .collect()
}

/// Compares `screen --at T` with an index (`spacing` bytes between
/// keyframes) and without, for each moment.
fn assert_same_screens(path: &Path, moments: &[String], spacing: u64, cache: &Path) {
    let path = path.to_str().unwrap();
    let index_dir = cache.join("index");
    let index_dir = index_dir.to_str().unwrap();
    let spacing = spacing.to_string();
    let mut shown_any = 0;
    for at in moments {
        let plain = run(&["screen", "--no-index", "--at", at, path], cache);
        let indexed = run(
            &[
                "screen",
                "--index-dir",
                index_dir,
                "--keyframe-spacing",
                &spacing,
                "--at",
                at,
                path,
            ],
            cache,
        );
        assert_eq!(shown(&indexed), shown(&plain), "--at {at} of {path}");
        shown_any += usize::from(plain.status.success());
    }
    assert!(shown_any > moments.len() / 2, "most moments show a screen");
    // The screens came through an index (one file, no temporary left).
    let files: Vec<_> = std::fs::read_dir(cache.join("index")).unwrap().collect();
    assert_eq!(files.len(), 1, "{files:?}");
}

/// Offsets from -1 s to `last` + 1 s, every `step` ms.
fn offsets(last_secs: u64, step_ms: u64) -> Vec<String> {
    let mut v = vec!["-1".to_string(), "0".to_string()];
    let mut ms = step_ms;
    while ms <= (last_secs + 1) * 1000 {
        v.push(format!("{}.{:03}", ms / 1000, ms % 1000));
        ms += step_ms;
    }
    v
}

const VIM_SESSION: &str = "1c0eb6a5-9524-455b-bc54-0e310f597329";

#[test]
fn the_real_vim_session_shows_the_same_screens_with_an_index() {
    for layout in ["jsonl", "hex"] {
        let (dir, conn) = real_connection(VIM_SESSION, layout, true);
        let cache = dir.path().join("cache");
        // Every event's own time (keyframes lie exactly on records), and
        // offsets around and past the session.
        let mut moments =
            jsonl_times(&testdata_path("realtrail").join(VIM_SESSION).join("0.jsonl"));
        moments.extend(offsets(30, 250));
        // 512 bytes between keyframes: dozens of them in 15 KB of output.
        assert_same_screens(&conn, &moments, 512, &cache);
    }
}

/// A base64 `forward-request` of `window-change` to `cols` x `rows`.
fn window_change(cols: u32, rows: u32) -> String {
    let mut m = vec![98, 0, 0, 0, 0];
    m.extend_from_slice(&13u32.to_be_bytes());
    m.extend_from_slice(b"window-change");
    m.push(0);
    for v in [cols, rows, 0, 0] {
        m.extend_from_slice(&v.to_be_bytes());
    }
    base64::engine::general_purpose::STANDARD.encode(m)
}

/// A trail of a terminal session that exercises the emulator's state: a
/// shell scrolling coloured lines, a full-screen program on the alternate
/// screen with a scroll region, saved cursors, the line-drawing character
/// set and wide characters, resizes, output cut anywhere (inside UTF-8
/// characters and escape sequences), equal times and one time going back.
/// Returns the log and its event times.
fn generated_trail(dir: &Path) -> (PathBuf, Vec<String>) {
    generated_trail_with(dir, true)
}

/// [`generated_trail`], with resizes or without.
fn generated_trail_with(dir: &Path, resizes: bool) -> (PathBuf, Vec<String>) {
    let mut log = String::new();
    // The channel open, its pty-req (120 x 40) and shell, from the fixture.
    for line in std::fs::read_to_string(testdata_path("session.jsonl"))
        .unwrap()
        .lines()
        .take(7)
    {
        log.push_str(line);
        log.push('\n');
    }
    let mut seed = 0x9e37_79b9_7f4a_7c15u64;
    let mut rand = move |n: u64| {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed % n
    };
    let mut output = Vec::new();
    for round in 0..60u32 {
        for i in 0..20 {
            output.extend_from_slice(
                format!(
                    "\x1b[3{}m{round}:{i} caf\u{e9} \u{65e5}\u{672c} {}\x1b[0m\r\n",
                    rand(8),
                    "x".repeat(rand(150) as usize)
                )
                .as_bytes(),
            );
        }
        output.extend_from_slice(b"$ vim notes\r\n\x1b[?1049h\x1b[H\x1b[2J\x1b[2;30r");
        for i in 0..30 {
            output.extend_from_slice(
                format!(
                    "\x1b[{};{}H\x1b7\x1b(0lqqk\x1b(B\x1b8\x1b[1;4{}m{i} \u{2500}\x1b[m\n",
                    rand(40) + 1,
                    rand(100) + 1,
                    rand(8)
                )
                .as_bytes(),
            );
        }
        if round % 3 == 0 {
            // Left inside the program at a keyframe now and then.
            output.extend_from_slice(b"\x1b[?1049l\x1b[r$ ");
        } else {
            output.extend_from_slice(b"\x1b[r\x1b[?1049l$ ");
        }
    }
    let mut events = Vec::new();
    let mut at = 0usize;
    while at < output.len() {
        let n = (1 + rand(700) as usize).min(output.len() - at);
        events.push(output[at..at + n].to_vec());
        at += n;
    }
    let mut times = Vec::new();
    let mut ms: u64 = 0;
    for (i, data) in events.iter().enumerate() {
        // Equal times now and then, and once a time before the last.
        let t = if i == 400 { ms - 5 } else { ms };
        if rand(4) != 0 {
            ms += 1 + rand(40);
        }
        let ts = format!(
            "2023-06-07T18:{:02}:{:02}.{:03}000Z",
            t / 60_000,
            t / 1000 % 60,
            t % 1000
        );
        if resizes && i % 97 == 50 {
            let cols = 60 + rand(100) as u32;
            let rows = 10 + rand(40) as u32;
            log.push_str(&format!(
                "{{\"type\":\"forward-request\",\"ts\":\"{ts}\",\"data\":\"{}\"}}\n",
                window_change(cols, rows)
            ));
        }
        log.push_str(&format!(
            "{{\"type\":\"stdout\",\"ts\":\"{ts}\",\"data\":\"{}\"}}\n",
            base64::engine::general_purpose::STANDARD.encode(data)
        ));
        times.push(ts);
    }
    let path = dir.join("0.jsonl");
    std::fs::write(&path, log).unwrap();
    (path, times)
}

#[test]
fn a_generated_session_shows_the_same_screens_with_many_keyframes() {
    let dir = tempfile::tempdir().unwrap();
    let logs = dir.path().join("logs");
    std::fs::create_dir(&logs).unwrap();
    let (log, times) = generated_trail(&logs);
    let cache = dir.path().join("cache");
    let mut moments: Vec<String> = times.iter().step_by(5).cloned().collect();
    moments.extend(["-1", "0", "0.0005", "99999", "2023-06-07T18:00:00Z"].map(String::from));
    moments.push(times[times.len() - 1].clone());
    // 4 KiB between keyframes: about a hundred of them.
    assert_same_screens(&log, &moments, 4096, &cache);
    let names: Vec<_> = std::fs::read_dir(&logs).unwrap().collect();
    assert_eq!(names.len(), 1, "nothing beside the log");
}

/// The single index file in `dir`.
fn index_file(dir: &Path) -> PathBuf {
    let files: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    assert_eq!(files.len(), 1, "{files:?}");
    files[0].clone()
}

fn inode(path: &Path) -> u64 {
    use std::os::unix::fs::MetadataExt;
    std::fs::metadata(path).unwrap().ino()
}

#[test]
fn the_index_is_cached_reused_and_rebuilt_when_the_log_or_it_changes() {
    let dir = tempfile::tempdir().unwrap();
    let logs = dir.path().join("evidence");
    std::fs::create_dir(&logs).unwrap();
    let log = logs.join("0.jsonl");
    std::fs::copy(testdata_path("session.jsonl"), &log).unwrap();
    let log_arg = log.to_str().unwrap();
    let cache = dir.path().join("xdg");
    let screen = |at: &str| run(&["screen", "--at", at, log_arg], &cache);
    let plain = |at: &str| run(&["screen", "--no-index", "--at", at, log_arg], &cache);

    // Built on first use, in $XDG_CACHE_HOME/sshtrail.
    let first = screen("1.5s");
    assert_eq!(shown(&first), shown(&plain("1.5s")));
    let index = index_file(&cache.join("sshtrail"));
    let built = inode(&index);
    // Reused: the same file, not written again.
    let again = screen("2s");
    assert_eq!(shown(&again), shown(&plain("2s")));
    assert_eq!(inode(&index), built, "the index was reused");

    // The log changes, size kept (one byte of a payload: `l` becomes `m`):
    // the index is rebuilt, the screen is the new log's.
    let text = std::fs::read_to_string(&log).unwrap();
    let echo = "\"stdout\",\"ts\":\"2023-06-07T17:32:00.160900Z\",\"data\":\"bA==\"";
    let changed = text.replacen(echo, &echo.replace("bA==", "bQ=="), 1);
    assert_ne!(text, changed);
    assert_eq!(text.len(), changed.len());
    std::fs::write(&log, changed).unwrap();
    let after = screen("2s");
    assert_eq!(shown(&after), shown(&plain("2s")));
    assert_ne!(shown(&after).1, shown(&again).1, "the change shows");
    let rebuilt = inode(&index_file(&cache.join("sshtrail")));
    assert_ne!(rebuilt, built, "the index was rebuilt");

    // A damaged index (cut in half, then garbage) is rebuilt, never used.
    for damage in [0, 1] {
        let index = index_file(&cache.join("sshtrail"));
        let bytes = std::fs::read(&index).unwrap();
        let bad = if damage == 0 {
            bytes[..bytes.len() / 2].to_vec()
        } else {
            let mut b = bytes.clone();
            let mid = b.len() / 2;
            b[mid..mid + 8].copy_from_slice(b"GARBAGE!");
            b
        };
        std::fs::write(&index, &bad).unwrap();
        let o = screen("2s");
        assert_eq!(shown(&o), shown(&plain("2s")));
        assert_ne!(std::fs::read(&index).unwrap(), bad, "rebuilt");
    }

    // Nothing was ever written beside the log.
    let beside: Vec<_> = std::fs::read_dir(&logs).unwrap().collect();
    assert_eq!(beside.len(), 1);
}

#[test]
fn a_cache_that_cannot_be_written_warns_and_the_screen_is_shown() {
    let dir = tempfile::tempdir().unwrap();
    let blocker = dir.path().join("a-file");
    std::fs::write(&blocker, "not a folder").unwrap();
    let index_dir = blocker.join("index");
    let session = testdata_path("session.jsonl");
    let session = session.to_str().unwrap();
    let o = run(
        &[
            "screen",
            "--index-dir",
            index_dir.to_str().unwrap(),
            "--at",
            "1.5s",
            session,
        ],
        dir.path(),
    );
    let plain = run(
        &["screen", "--no-index", "--at", "1.5s", session],
        dir.path(),
    );
    assert_eq!(o.status.code(), Some(0));
    assert_eq!(o.stdout, plain.stdout);
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("warning") && err.contains("without"), "{err}");
}

/// What a terminal of `cols` x `rows` shows after `output`.
fn terminal_after(output: &[u8], cols: u32, rows: u32) -> (Vec<String>, (usize, usize)) {
    let mut screen = sshtrail::replay::Screen::new(cols, rows);
    screen.feed(output);
    (screen.view(), screen.cursor())
}

#[test]
fn play_from_a_keyframe_leaves_the_terminal_as_the_replay_from_the_start() {
    let dir = tempfile::tempdir().unwrap();
    let logs = dir.path().join("logs");
    std::fs::create_dir(&logs).unwrap();
    // No resize: the player's terminal keeps the pty's size (120 x 40).
    let (log, times) = generated_trail_with(&logs, false);
    let log = log.to_str().unwrap();
    let cache = dir.path().join("cache");
    let index_dir = cache.join("index");
    let index_dir = index_dir.to_str().unwrap();
    let n = times.len();
    for (from, to) in [
        (n / 10, n / 5),
        (n / 2, n / 2 + 40),
        (n - 30, n - 1),
        (3 * n / 4, 3 * n / 4),
    ] {
        let (from, to) = (&times[from], &times[to]);
        let fast = ["play", "--speed", "1000000", "--idle-limit", "0"];
        let mut indexed = fast.to_vec();
        indexed.extend([
            "--index-dir",
            index_dir,
            "--keyframe-spacing",
            "4096",
            "--from",
            from,
            "--to",
            to,
            log,
        ]);
        let mut plain = fast.to_vec();
        plain.extend(["--no-index", "--from", from, "--to", to, log]);
        let (a, b) = (run(&indexed, &cache), run(&plain, &cache));
        assert_eq!(
            a.status.code(),
            Some(0),
            "{}",
            String::from_utf8_lossy(&a.stderr)
        );
        assert_eq!(b.status.code(), Some(0));
        assert!(a.stdout.len() < b.stdout.len(), "the index drew less");
        assert_eq!(
            terminal_after(&a.stdout, 120, 40),
            terminal_after(&b.stdout, 120, 40),
            "--from {from} --to {to}"
        );
    }
    let files: Vec<_> = std::fs::read_dir(cache.join("index")).unwrap().collect();
    assert_eq!(files.len(), 1, "{files:?}");
}
