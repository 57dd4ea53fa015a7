//! A deterministic corpus generator for the sshtrail benchmarks, plus the two
//! "ways to read stdout" the benchmarks compare.
//!
//! [`generate`] writes a synthetic but realistic SSH trail log: the same seed
//! every time, so two calls with the same arguments give identical bytes, and
//! the same event sequence whatever the layout (only where it stops differs,
//! since the layouts spend a different number of bytes per event).

use std::io::Write as _;

use base64::Engine as _;

/// The kind of session to simulate.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Mix {
    /// A shell session: 1-3 byte keystrokes, each echoed back, output bursts
    /// of 64 B to 16 KiB, a few channel requests (pty-req, env, shell,
    /// window-change) and replies.
    Interactive,
    /// A bulk transfer (`cat` of a large file): stdout chunks of 4-32 KiB.
    Bulk,
}

/// The layout to write the events in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Layout {
    /// `{"type":"stdout","ts":"...","data":"<base64>"}` a line.
    Jsonl,
    /// `TS TYPE HEX` a line (`TS TYPE` for an empty payload).
    HexLine,
    /// `TS TYPE LEN` then `hexdump -C` lines of 16 bytes.
    HexDump,
}

impl Mix {
    /// Parses `interactive` or `bulk`.
    pub fn from_name(name: &str) -> Option<Mix> {
        match name {
            "interactive" => Some(Mix::Interactive),
            "bulk" => Some(Mix::Bulk),
            _ => None,
        }
    }
}

impl Layout {
    /// Parses `jsonl`, `hex` (the line layout) or `hexdump`.
    pub fn from_name(name: &str) -> Option<Layout> {
        match name {
            "jsonl" => Some(Layout::Jsonl),
            "hex" | "hexline" | "hex-line" => Some(Layout::HexLine),
            "hexdump" | "hex-dump" => Some(Layout::HexDump),
            _ => None,
        }
    }
}

/// The fixed seed of every corpus.
const SEED: u64 = 0x5353_4854_5241_494c; // "SSHTRAIL"

/// SplitMix64: tiny, fast and good enough to make test data.
#[derive(Debug, Clone)]
struct Rng(u64);

impl Rng {
    fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// Uniform in `lo..=hi`.
    fn range(&mut self, lo: u64, hi: u64) -> u64 {
        debug_assert!(lo <= hi);
        lo + self.next_u64() % (hi - lo + 1)
    }

    /// True with probability `1 / n`.
    fn one_in(&mut self, n: u64) -> bool {
        self.next_u64().is_multiple_of(n)
    }

    fn pick<T: Copy>(&mut self, items: &[T]) -> T {
        items[(self.next_u64() % items.len() as u64) as usize]
    }

    /// Roughly log-uniform in `lo..=hi` (both > 0): many small values, a few
    /// large ones, as terminal output comes.
    fn log_uniform(&mut self, lo: u64, hi: u64) -> u64 {
        let (llo, lhi) = ((lo as f64).ln(), (hi as f64).ln());
        let u = (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64;
        ((llo + u * (lhi - llo)).exp() as u64).clamp(lo, hi)
    }
}

/// Days since 1970-01-01 of a civil date (proleptic Gregorian).
pub fn days_from_civil(y: i64, m: u32, d: u32) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y.rem_euclid(400);
    let m = i64::from(m);
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + i64::from(d) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// The civil date of a day number (days since 1970-01-01).
pub fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

/// Appends `micros` (microseconds since 2023-06-07T00:00:00Z) as RFC 3339
/// with six fraction digits, e.g. `2023-06-07T17:32:29.512344Z`.
pub fn push_timestamp(out: &mut Vec<u8>, micros: u64) {
    const MICROS_PER_DAY: u64 = 86_400_000_000;
    let base = days_from_civil(2023, 6, 7);
    let (y, m, d) = civil_from_days(base + (micros / MICROS_PER_DAY) as i64);
    let in_day = micros % MICROS_PER_DAY;
    let secs = in_day / 1_000_000;
    let frac = in_day % 1_000_000;
    write!(
        out,
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}.{frac:06}Z",
        secs / 3600,
        secs / 60 % 60,
        secs % 60
    )
    .expect("writing to a Vec cannot fail");
}

const HEX: &[u8; 16] = b"0123456789abcdef";

/// Writes events in one layout, keeping the clock.
struct Writer {
    out: Vec<u8>,
    layout: Layout,
    micros: u64,
    target: usize,
}

impl Writer {
    fn full(&self) -> bool {
        self.out.len() >= self.target
    }

    /// Advances the clock by `dt` microseconds (at least 1, so timestamps
    /// strictly increase) and writes one event.
    fn emit(&mut self, dt: u64, kind: &str, payload: &[u8]) {
        self.micros += dt.max(1);
        let out = &mut self.out;
        match self.layout {
            Layout::Jsonl => {
                out.extend_from_slice(b"{\"type\":\"");
                out.extend_from_slice(kind.as_bytes());
                out.extend_from_slice(b"\",\"ts\":\"");
                push_timestamp(out, self.micros);
                out.extend_from_slice(b"\",\"data\":\"");
                let start = out.len();
                let len = base64::encoded_len(payload.len(), true).expect("payload too large");
                out.resize(start + len, 0);
                let n = base64::engine::general_purpose::STANDARD
                    .encode_slice(payload, &mut out[start..])
                    .expect("buffer sized by encoded_len");
                debug_assert_eq!(n, len);
                out.extend_from_slice(b"\"}\n");
            }
            Layout::HexLine => {
                push_timestamp(out, self.micros);
                out.push(b' ');
                out.extend_from_slice(kind.as_bytes());
                if !payload.is_empty() {
                    out.push(b' ');
                    out.reserve(payload.len() * 2 + 1);
                    for &b in payload {
                        out.push(HEX[usize::from(b >> 4)]);
                        out.push(HEX[usize::from(b & 15)]);
                    }
                }
                out.push(b'\n');
            }
            Layout::HexDump => {
                push_timestamp(out, self.micros);
                writeln!(out, " {kind} {}", payload.len()).expect("Vec write");
                push_hexdump(out, payload);
            }
        }
    }
}

/// Appends `payload` as `hexdump -C` lines (without the closing offset line
/// hexdump prints, which is not part of the trail layout).
pub fn push_hexdump(out: &mut Vec<u8>, payload: &[u8]) {
    for (n, chunk) in payload.chunks(16).enumerate() {
        let offset = n * 16;
        for shift in (0..8).rev() {
            out.push(HEX[(offset >> (shift * 4)) & 15]);
        }
        out.extend_from_slice(b"  ");
        for i in 0..16 {
            match chunk.get(i) {
                Some(&b) => {
                    out.push(HEX[usize::from(b >> 4)]);
                    out.push(HEX[usize::from(b & 15)]);
                    out.push(b' ');
                }
                None => out.extend_from_slice(b"   "),
            }
            if i == 7 {
                out.push(b' ');
            }
        }
        out.extend_from_slice(b" |");
        out.extend(
            chunk
                .iter()
                .map(|&b| if (0x20..0x7f).contains(&b) { b } else { b'.' }),
        );
        out.extend_from_slice(b"|\n");
    }
}

const WORDS: &[&str] = &[
    "total",
    "drwxr-xr-x",
    "-rw-r--r--",
    "root",
    "admin",
    "staff",
    "4096",
    "1024",
    "Jun",
    "7",
    "17:32",
    ".bashrc",
    "config.yaml",
    "README.md",
    "src",
    "target",
    "error:",
    "warning:",
    "INFO",
    "DEBUG",
    "the",
    "and",
    "of",
    "to",
    "in",
    "is",
    "for",
    "with",
    "on",
    "from",
    "request",
    "session",
    "opened",
    "closed",
    "user",
    "kernel:",
    "systemd[1]:",
    "sshd[2231]:",
    "Accepted",
    "publickey",
    "eth0",
    "inet",
    "10.0.3.17",
    "127.0.0.1",
    "GET",
    "POST",
    "/api/v1/status",
    "/var/log/syslog",
    "HTTP/1.1",
    "200",
    "404",
    "OK",
    "Started",
    "Stopping",
    "nginx.service",
    "connection",
    "timeout",
    "0x7ffd5e8c",
    "pid=4312",
    "uid=0",
];

const UTF8_WORDS: &[&str] = &[
    "café",
    "Grüße",
    "straße",
    "—",
    "…",
    "✓",
    "→",
    "日本語",
    "Привет",
    "€12",
    "naïve",
];

const COLOURS: &[&[u8]] = &[
    b"\x1b[01;34m",
    b"\x1b[01;32m",
    b"\x1b[31m",
    b"\x1b[1;33m",
    b"\x1b[1m",
    b"\x1b[36m",
];

const PROMPT: &[u8] = b"\x1b[01;32madmin@bastion\x1b[00m:\x1b[01;34m~\x1b[00m$ ";

const COMMANDS: &[&str] = &[
    "ls -la",
    "cd /var/log",
    "tail -n 200 syslog",
    "grep -ri error .",
    "sudo systemctl status nginx",
    "git status",
    "ps aux",
    "df -h",
    "journalctl -u sshd --since today",
    "cat /etc/os-release",
    "vim config.yaml",
    "echo café > note.txt",
    "top -b -n 1",
    "kubectl get pods -A",
];

/// Appends about `n` bytes (exactly `n`) of terminal-like text: words, CRLF
/// line ends, ANSI colours, some UTF-8 (possibly cut at the end, as SSH
/// chunks cut it).
fn push_text(rng: &mut Rng, out: &mut Vec<u8>, n: usize) {
    let start = out.len();
    let mut col = 0usize;
    while out.len() - start < n {
        let before = out.len();
        match rng.next_u64() % 24 {
            0 => {
                out.extend_from_slice(rng.pick(COLOURS));
                out.extend_from_slice(rng.pick(WORDS).as_bytes());
                out.extend_from_slice(b"\x1b[0m");
            }
            1 => out.extend_from_slice(rng.pick(UTF8_WORDS).as_bytes()),
            _ => out.extend_from_slice(rng.pick(WORDS).as_bytes()),
        }
        col += out.len() - before;
        if col > 60 || rng.one_in(10) {
            out.extend_from_slice(b"\r\n");
            col = 0;
        } else {
            out.push(b' ');
            col += 1;
        }
    }
    out.truncate(start + n);
}

/// Builds an SSH string (uint32 length + bytes).
fn ssh_string(out: &mut Vec<u8>, s: &[u8]) {
    out.extend_from_slice(&(s.len() as u32).to_be_bytes());
    out.extend_from_slice(s);
}

/// The start of an SSH_MSG_CHANNEL_REQUEST (98) on channel 0.
fn channel_request(out: &mut Vec<u8>, name: &str, want_reply: bool) {
    out.clear();
    out.push(98);
    out.extend_from_slice(&0u32.to_be_bytes());
    ssh_string(out, name.as_bytes());
    out.push(u8::from(want_reply));
}

fn pty_req(out: &mut Vec<u8>, cols: u32, rows: u32) {
    channel_request(out, "pty-req", true);
    ssh_string(out, b"xterm-256color");
    for v in [cols, rows, cols * 8, rows * 16] {
        out.extend_from_slice(&v.to_be_bytes());
    }
    // Encoded terminal modes: VINTR=3, VERASE=127, ECHO=1, ICRNL=1,
    // TTY_OP_ISPEED/OSPEED=38400, TTY_OP_END.
    let mut modes = Vec::new();
    for (op, v) in [
        (1u8, 3u32),
        (3, 127),
        (53, 1),
        (36, 1),
        (128, 38400),
        (129, 38400),
    ] {
        modes.push(op);
        modes.extend_from_slice(&v.to_be_bytes());
    }
    modes.push(0);
    ssh_string(out, &modes);
}

fn window_change(out: &mut Vec<u8>, cols: u32, rows: u32) {
    channel_request(out, "window-change", false);
    for v in [cols, rows, cols * 8, rows * 16] {
        out.extend_from_slice(&v.to_be_bytes());
    }
}

/// SSH_MSG_CHANNEL_SUCCESS for channel 0.
const CHANNEL_SUCCESS: &[u8] = &[99, 0, 0, 0, 0];

/// The session opening: pty-req, env, shell and their replies, then the motd.
fn session_start(rng: &mut Rng, w: &mut Writer, scratch: &mut Vec<u8>) {
    pty_req(scratch, 120, 40);
    w.emit(1_000, "forward-request", scratch);
    w.emit(900, "reverse-reply", CHANNEL_SUCCESS);
    channel_request(scratch, "env", false);
    ssh_string(scratch, b"LANG");
    ssh_string(scratch, b"en_US.UTF-8");
    w.emit(150, "forward-request", scratch);
    channel_request(scratch, "shell", true);
    w.emit(150, "forward-request", scratch);
    // Some gateways log the reply without its bytes: exercises `TS TYPE`.
    w.emit(800, "reverse-reply", &[]);
    scratch.clear();
    push_text(rng, scratch, 600);
    scratch.extend_from_slice(PROMPT);
    w.emit(30_000, "stdout", scratch);
}

/// Types `command` as 1-3 byte keystrokes, each echoed, then Enter.
fn type_command(rng: &mut Rng, w: &mut Writer, command: &str) {
    let bytes = command.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        // One character (1-3 bytes of UTF-8), or 2-3 ASCII bytes typed fast.
        let char_len = command[i..].chars().next().map_or(1, char::len_utf8);
        let mut n = if char_len == 1 && rng.one_in(8) {
            rng.range(2, 3) as usize
        } else {
            char_len
        }
        .min(bytes.len() - i);
        while !command.is_char_boundary(i + n) {
            n -= 1;
        }
        let key = &bytes[i..i + n];
        w.emit(rng.range(40_000, 350_000), "stdin", key);
        w.emit(rng.range(200, 3_000), "stdout", key);
        i += n;
        if rng.one_in(30) {
            // A typo and a backspace; an arrow key now and then.
            w.emit(rng.range(80_000, 400_000), "stdin", b"\x7f");
            w.emit(rng.range(200, 3_000), "stdout", b"\x08\x1b[K");
        }
        if rng.one_in(60) {
            w.emit(rng.range(80_000, 400_000), "stdin", b"\x1b[D");
            w.emit(rng.range(200, 3_000), "stdout", b"\x08");
            w.emit(rng.range(80_000, 400_000), "stdin", b"\x1b[C");
            w.emit(rng.range(200, 3_000), "stdout", b"\x1b[C");
        }
    }
    w.emit(rng.range(100_000, 600_000), "stdin", b"\r");
    w.emit(rng.range(200, 3_000), "stdout", b"\r\n");
}

fn interactive(rng: &mut Rng, w: &mut Writer) {
    let mut scratch = Vec::with_capacity(20 << 10);
    session_start(rng, w, &mut scratch);
    let (mut cols, mut rows) = (120u32, 40u32);
    while !w.full() {
        let command = rng.pick(COMMANDS);
        type_command(rng, w, command);
        // The output, in one to four bursts, then the prompt.
        let bursts = rng.range(1, 4);
        for b in 0..bursts {
            scratch.clear();
            let n = rng.log_uniform(64, 16 << 10) as usize;
            push_text(rng, &mut scratch, n);
            if b + 1 == bursts {
                let keep = n.saturating_sub(PROMPT.len());
                scratch.truncate(keep);
                scratch.extend_from_slice(PROMPT);
            }
            w.emit(rng.range(1_000, 80_000), "stdout", &scratch);
        }
        if rng.one_in(25) {
            cols = rng.range(80, 240) as u32;
            rows = rng.range(24, 70) as u32;
            window_change(&mut scratch, cols, rows);
            w.emit(rng.range(500_000, 5_000_000), "forward-request", &scratch);
        }
        if rng.one_in(40) {
            // Redraw after the resize, as a full-screen program does.
            scratch.clear();
            scratch.extend_from_slice(b"\x1b[H\x1b[2J");
            push_text(rng, &mut scratch, (cols * rows / 2) as usize);
            w.emit(rng.range(1_000, 20_000), "stdout", &scratch);
        }
        // Think time between commands.
        w.micros += rng.range(500_000, 20_000_000);
    }
}

fn bulk(rng: &mut Rng, w: &mut Writer) {
    let mut scratch = Vec::with_capacity(32 << 10);
    session_start(rng, w, &mut scratch);
    type_command(rng, w, "cat /var/log/archive/app-2023-06.log");
    while !w.full() {
        scratch.clear();
        let n = rng.range(4 << 10, 32 << 10) as usize;
        push_text(rng, &mut scratch, n);
        w.emit(rng.range(50, 2_000), "stdout", &scratch);
    }
}

/// Generates a trail log of at least `target_bytes` bytes (it stops after
/// the event that reaches the target), deterministically.
pub fn generate(mix: Mix, target_bytes: usize, layout: Layout) -> Vec<u8> {
    let mut rng = Rng(SEED);
    let mut w = Writer {
        out: Vec::with_capacity(target_bytes + (80 << 10)),
        layout,
        // Start at 17:32:29.512344 on the base day.
        micros: ((17 * 60 + 32) * 60 + 29) * 1_000_000 + 512_344,
        target: target_bytes,
    };
    match mix {
        Mix::Interactive => interactive(&mut rng, &mut w),
        Mix::Bulk => bulk(&mut rng, &mut w),
    }
    w.out
}

/// What sshtrail does to pull stdout out: read every event, decode stdout
/// payloads into one reused buffer. Returns the number of stdout bytes.
///
/// Panics on a parse error: the corpora are generated and must be valid.
pub fn sshtrail_stdout_bytes(buf: &[u8], out: &mut Vec<u8>) -> usize {
    let mut total = 0;
    for record in sshtrail::SliceReader::new(buf) {
        let event = record.expect("generated corpus parses");
        if event.kind == sshtrail::EventType::Stdout {
            event
                .decode_payload(out)
                .expect("generated payload decodes");
            total += out.len();
        }
    }
    total
}

/// What sshtrail's streaming reader does with the same input, read through
/// `io::Read` in chunks.
pub fn sshtrail_stream_stdout_bytes(buf: &[u8], out: &mut Vec<u8>) -> usize {
    let mut total = 0;
    sshtrail::StreamReader::new(buf)
        .for_each(|record| -> std::io::Result<()> {
            let event = record.expect("generated corpus parses");
            if event.kind == sshtrail::EventType::Stdout {
                event
                    .decode_payload(out)
                    .expect("generated payload decodes");
                total += out.len();
            }
            Ok(())
        })
        .expect("reading a slice cannot fail");
    total
}

/// What a plain program does with a jsonl log: a `serde_json::Value` per
/// line, and a fresh `Vec` from the `base64` crate per stdout payload.
pub fn baseline_serde_value_base64(buf: &[u8]) -> usize {
    let mut total = 0;
    for line in buf.split(|&c| c == b'\n') {
        if line.is_empty() {
            continue;
        }
        let v: serde_json::Value = serde_json::from_slice(line).expect("valid JSON line");
        if v["type"] == "stdout" {
            let data = v["data"].as_str().unwrap_or("");
            let bytes = base64::engine::general_purpose::STANDARD
                .decode(data)
                .expect("valid base64");
            total += bytes.len();
        }
    }
    total
}

#[cfg(test)]
mod tests {
    use super::*;
    use sshtrail::{EventType, SliceReader};

    const SIZE: usize = 2 << 20;

    const ALL: [(Mix, Layout); 6] = [
        (Mix::Interactive, Layout::Jsonl),
        (Mix::Interactive, Layout::HexLine),
        (Mix::Interactive, Layout::HexDump),
        (Mix::Bulk, Layout::Jsonl),
        (Mix::Bulk, Layout::HexLine),
        (Mix::Bulk, Layout::HexDump),
    ];

    #[test]
    fn civil_dates_round_trip() {
        assert_eq!(days_from_civil(1970, 1, 1), 0);
        assert_eq!(days_from_civil(2023, 6, 7), 19_515);
        assert_eq!(civil_from_days(19_515), (2023, 6, 7));
        for z in -800_000..800_000 {
            let (y, m, d) = civil_from_days(z);
            assert_eq!(days_from_civil(y, m, d), z);
        }
        // A day boundary in a leap year, checked against sshtrail's parser.
        let mut ts = Vec::new();
        let micros = (days_from_civil(2024, 2, 29) - days_from_civil(2023, 6, 7)) as u64
            * 86_400_000_000
            + 86_399_999_999;
        push_timestamp(&mut ts, micros);
        assert_eq!(ts, b"2024-02-29T23:59:59.999999Z");
        let nanos = sshtrail::time::parse_rfc3339(&ts, false).unwrap();
        assert_eq!(
            nanos,
            (i128::from(days_from_civil(2024, 3, 1)) * 86_400 * 1_000_000_000) - 1_000
        );
    }

    #[test]
    fn hexdump_lines_look_like_hexdump_c() {
        let mut out = Vec::new();
        let payload = b"l\x1b[K\x00\x01\x02\x03\x04\x05\x06\x07\x08\x09\x0a\x0b\x0c\x0d";
        push_hexdump(&mut out, payload);
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "00000000  6c 1b 5b 4b 00 01 02 03  04 05 06 07 08 09 0a 0b  |l.[K............|\n\
             00000010  0c 0d                                             |..|\n"
        );
    }

    #[test]
    fn generation_is_deterministic() {
        for (mix, layout) in ALL {
            let a = generate(mix, 256 << 10, layout);
            let b = generate(mix, 256 << 10, layout);
            assert!(a == b, "{mix:?} {layout:?}");
            assert!(a.len() >= 256 << 10);
        }
    }

    #[test]
    fn jsonl_lines_have_the_exact_shape() {
        let buf = generate(Mix::Interactive, 64 << 10, Layout::Jsonl);
        let first = buf.split(|&c| c == b'\n').next().unwrap();
        let first = std::str::from_utf8(first).unwrap();
        assert!(
            first.starts_with(
                r#"{"type":"forward-request","ts":"2023-06-07T17:32:29.513344Z","data":"Yg"#
            ),
            "{first}"
        );
        let hex = generate(Mix::Interactive, 64 << 10, Layout::HexLine);
        let hex = std::str::from_utf8(&hex).unwrap();
        assert!(hex.contains("Z reverse-reply\n"), "an empty payload");
        assert!(hex.starts_with("2023-06-07T17:32:29.513344Z forward-request 62000000"));
    }

    #[test]
    fn every_event_parses_and_time_increases() {
        for (mix, layout) in ALL {
            let buf = generate(mix, SIZE, layout);
            // One header line per event: every line in jsonl and the hex line
            // layout, the lines that start with a timestamp in the dump.
            let headers = buf
                .split(|&c| c == b'\n')
                .filter(|l| l.starts_with(b"{") || l.starts_with(b"20"))
                .count();
            let mut events = 0;
            let mut last = i128::MIN;
            let mut payload = Vec::new();
            for record in SliceReader::new(&buf) {
                let event = record.unwrap_or_else(|e| panic!("{mix:?} {layout:?}: {e}"));
                event.decode_payload(&mut payload).unwrap();
                assert!(event.ts > last, "{mix:?} {layout:?} line {}", event.line);
                last = event.ts;
                events += 1;
            }
            assert_eq!(events, headers, "{mix:?} {layout:?}");
        }
    }

    #[test]
    fn layouts_carry_the_same_events() {
        for mix in [Mix::Interactive, Mix::Bulk] {
            let mut seen: Vec<Vec<(String, String, Vec<u8>)>> = Vec::new();
            for layout in [Layout::Jsonl, Layout::HexLine, Layout::HexDump] {
                let buf = generate(mix, 512 << 10, layout);
                let mut payload = Vec::new();
                seen.push(
                    SliceReader::new(&buf)
                        .map(|r| {
                            let e = r.unwrap();
                            e.decode_payload(&mut payload).unwrap();
                            (e.kind.to_string(), e.ts_text.to_string(), payload.clone())
                        })
                        .collect(),
                );
            }
            let n = seen.iter().map(Vec::len).min().unwrap();
            assert!(n > 10);
            for other in &seen[1..] {
                assert!(seen[0][..n] == other[..n], "{mix:?}");
            }
        }
    }

    #[test]
    fn interactive_mix_is_mostly_small_keystrokes() {
        let buf = generate(Mix::Interactive, SIZE, Layout::Jsonl);
        let mut payload = Vec::new();
        let (mut stdin, mut small, mut stdout, mut requests) = (0, 0, 0, 0);
        let mut burst_sizes = Vec::new();
        for record in SliceReader::new(&buf) {
            let event = record.unwrap();
            event.decode_payload(&mut payload).unwrap();
            match event.kind {
                EventType::Stdin => {
                    stdin += 1;
                    small += usize::from((1..=3).contains(&payload.len()));
                }
                EventType::Stdout => {
                    stdout += 1;
                    if payload.len() >= 64 {
                        burst_sizes.push(payload.len());
                    }
                }
                EventType::ForwardRequest => {
                    assert_eq!(payload[0], 98);
                    requests += 1;
                }
                _ => {}
            }
        }
        assert!(stdin > 1000, "{stdin}");
        assert!(small * 100 >= stdin * 95, "{small} of {stdin}");
        assert!(stdout >= stdin);
        assert!(requests >= 3);
        assert!(burst_sizes.iter().all(|&n| n <= 16 << 10));
        assert!(burst_sizes.iter().any(|&n| n > 4 << 10));
        assert!(burst_sizes.iter().any(|&n| n < 512));
    }

    #[test]
    fn bulk_mix_is_large_stdout_chunks() {
        let buf = generate(Mix::Bulk, SIZE, Layout::HexLine);
        let mut payload = Vec::new();
        let sizes: Vec<usize> = SliceReader::new(&buf)
            .filter_map(|r| {
                let e = r.unwrap();
                (e.kind == EventType::Stdout).then(|| {
                    e.decode_payload(&mut payload).unwrap();
                    payload.len()
                })
            })
            .collect();
        let big = sizes
            .iter()
            .filter(|&&n| (4 << 10..=32 << 10).contains(&n))
            .count();
        assert!(big + 50 >= sizes.len(), "{big} of {}", sizes.len());
        assert!(big > 50);
    }

    #[test]
    fn payloads_are_text_like() {
        let buf = generate(Mix::Bulk, 256 << 10, Layout::Jsonl);
        let mut payload = Vec::new();
        let mut all = Vec::new();
        for r in SliceReader::new(&buf) {
            let e = r.unwrap();
            if e.kind == EventType::Stdout {
                e.decode_payload(&mut payload).unwrap();
                all.extend_from_slice(&payload);
            }
        }
        let text = String::from_utf8_lossy(&all);
        assert!(text.contains("\r\n"));
        assert!(text.contains("\x1b["));
        assert!(text.chars().any(|c| !c.is_ascii() && c != '\u{fffd}'));
    }

    #[test]
    fn the_readers_and_the_baseline_agree() {
        for mix in [Mix::Interactive, Mix::Bulk] {
            let buf = generate(mix, SIZE, Layout::Jsonl);
            let mut out = Vec::new();
            let want = baseline_serde_value_base64(&buf);
            assert!(want > SIZE / 2, "{want}");
            assert_eq!(sshtrail_stdout_bytes(&buf, &mut out), want);
            assert_eq!(sshtrail_stream_stdout_bytes(&buf, &mut out), want);
        }
    }
}
