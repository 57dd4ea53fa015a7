//! Peak memory of `sshtrail` on hostile input: a single 100 MB line through
//! a file and through a pipe, and a million distinct unknown event types.
//!
//! Each child runs under GNU time (`/usr/bin/time -f %M`), which forks it
//! from its own small process and reports that child's peak resident size.
//! Measured straight from here, a child would carry this test process's
//! memory into its figure: Linux records, at `exec`, the peak of the memory
//! the child started from, which for a `posix_spawn`ed child is this test
//! process's own peak (and for a forked one, its size at the fork), and
//! the tests of this binary run side by side. Logs are still written to
//! files and pipes in small pieces, and outputs read back line by line.

mod common;

use std::fs::{self, File};
use std::io::{self, BufRead, BufReader, Read, Write};
use std::os::unix::process::ExitStatusExt;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus, Stdio};

const BIN: &str = env!("CARGO_BIN_EXE_sshtrail");

/// GNU time (Debian's `time` package, installed by `.ci/deps.sh`).
const TIME: &str = "/usr/bin/time";

const TOO_LONG: &str = "expected an event of at most 16777216 bytes, found a longer one (streamed input keeps one event in memory)";

/// Writes a log to a sink in small pieces.
type Writer = Box<dyn FnOnce(&mut dyn Write) -> io::Result<()> + Send>;

/// What a measured run gave.
struct Run {
    status: ExitStatus,
    stderr: String,
    /// Peak resident size, KiB.
    peak_kib: u64,
}

/// Runs `sshtrail ARGS` with standard output to the file `stdout` and, when
/// given, `input` writing to a pipe on its standard input.
fn run_measured(args: &[&str], input: Option<Writer>, stdout: &Path) -> Run {
    run_limited(args, input, stdout, None)
}

/// [`run_measured`] with the child's address space limited to
/// `address_space` bytes and its CPU time to a minute, when given: a run
/// whose memory grows without bound, or that reads for ever, then ends
/// (killed or failing) instead of taking the machine or hanging the test.
fn run_limited(
    args: &[&str],
    input: Option<Writer>,
    stdout: &Path,
    address_space: Option<u64>,
) -> Run {
    let measured = tempfile::NamedTempFile::new().unwrap();
    let mut cmd = Command::new(TIME);
    cmd.args(["-f", "%M", "-o"]).arg(measured.path()).arg(BIN);
    if address_space.is_some() {
        // Inherited by sshtrail from the time process.
        common::limit_child(&mut cmd, 60, address_space);
    }
    let mut child = cmd
        .args(args)
        .stdin(if input.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::from(File::create(stdout).unwrap()))
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let writer = child.stdin.take().zip(input).map(|(mut stdin, input)| {
        // The child may stop reading early: a broken pipe is fine.
        std::thread::spawn(move || {
            let _ = input(&mut stdin);
        })
    });
    let mut err = child.stderr.take().unwrap();
    let stderr = std::thread::spawn(move || {
        let mut s = String::new();
        err.read_to_string(&mut s).unwrap();
        s
    });
    let status = child.wait().unwrap();
    if let Some(w) = writer {
        w.join().unwrap();
    }
    // GNU time writes "Command exited with non-zero status N" or "Command
    // terminated by signal N" when so, then the peak in KiB.
    let report = fs::read_to_string(measured.path()).unwrap();
    let mut lines = report.lines().rev();
    let peak_kib = lines
        .next()
        .and_then(|l| l.trim().parse().ok())
        .unwrap_or_else(|| panic!("GNU time's report: {report:?}"));
    let status = match lines.next() {
        Some(l) if l.starts_with("Command terminated by signal ") => {
            ExitStatus::from_raw(l[29..].trim().parse().unwrap())
        }
        Some(l) if l.starts_with("Command exited with non-zero status ") => {
            ExitStatus::from_raw(l[36..].trim().parse::<i32>().unwrap() << 8)
        }
        _ => status,
    };
    Run {
        status,
        stderr: stderr.join().unwrap(),
        peak_kib,
    }
}

struct TempDir(PathBuf);

impl TempDir {
    fn new(name: &str) -> TempDir {
        let dir = std::env::temp_dir().join(format!(
            "sshtrail-hostile-memory-{}-{name}",
            std::process::id()
        ));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(&dir).unwrap();
        TempDir(dir)
    }

    fn path(&self, name: &str) -> PathBuf {
        self.0.join(name)
    }

    /// Writes a file with `write` and returns its path as text.
    fn file(&self, name: &str, write: Writer) -> String {
        let path = self.path(name);
        let mut f = io::BufWriter::new(File::create(&path).unwrap());
        write(&mut f).unwrap();
        f.flush().unwrap();
        path.to_string_lossy().into_owned()
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.0);
    }
}

/// One small event, a 100 MB jsonl line (75 MB of payload), then one small
/// event. (The first line is short: a first line with no end in 16 MiB is
/// not a trail log at all, tested in attack.rs.)
fn huge_jsonl() -> Writer {
    Box::new(|w: &mut dyn Write| {
        w.write_all(b"{\"type\":\"stdin\",\"ts\":\"2023-06-07T17:32:28Z\",\"data\":\"bA==\"}\n")?;
        w.write_all(b"{\"type\":\"stdout\",\"ts\":\"2023-06-07T17:32:29Z\",\"data\":\"")?;
        let piece = b"bBtb".repeat(250_000);
        for _ in 0..100 {
            w.write_all(&piece)?;
        }
        w.write_all(
            b"\"}\n{\"type\":\"stdin\",\"ts\":\"2023-06-07T17:32:30Z\",\"data\":\"bA==\"}\n",
        )
    })
}

/// One small event, a 100 MB hex line (50 MB of payload), then one small
/// event.
fn huge_hex() -> Writer {
    Box::new(|w: &mut dyn Write| {
        w.write_all(b"2023-06-07T17:32:28Z stdin 6c\n2023-06-07T17:32:29Z stdout ")?;
        let piece = b"6c1b5b4b".repeat(125_000);
        for _ in 0..100 {
            w.write_all(&piece)?;
        }
        w.write_all(b"\n2023-06-07T17:32:30Z stdin 6c\n")
    })
}

/// A million events of distinct unknown types, one payload byte each.
fn million_types() -> Writer {
    Box::new(|w: &mut dyn Write| {
        for i in 0..1_000_000 {
            writeln!(w, "2023-06-07T17:32:29Z t{i:07} 6c")?;
        }
        Ok(())
    })
}

fn check_huge(run: Run, out: &Path, input: &str, what: &str) {
    assert_eq!(
        run.stderr,
        format!("{input}:2:1: error: {TOO_LONG}\n"),
        "{what}"
    );
    assert_eq!(run.status.code(), Some(1), "{what}");
    assert_eq!(fs::read(out).unwrap(), b"ll", "{what}");
    eprintln!("{what}: peak {} MiB", run.peak_kib >> 10);
    assert!(
        run.peak_kib < 64 << 10,
        "{what}: peak resident size {} KiB, over 64 MiB",
        run.peak_kib
    );
}

#[test]
fn hostile_inputs_keep_memory_bounded() {
    let dir = TempDir::new("bounded");
    let out = dir.path("out");

    // A 100 MB line, jsonl and hex, through a file and through a pipe: one
    // read buffer, at most twice the 16 MiB event limit.
    let cat = ["cat", "--on-error", "skip", "--to", "raw"];
    for (name, make) in [
        ("huge.jsonl", huge_jsonl as fn() -> Writer),
        ("huge.hex", huge_hex),
    ] {
        let path = dir.file(name, make());
        let run = run_measured(&[&cat[..], &[&path]].concat(), None, &out);
        check_huge(run, &out, &path, &format!("{name} as a file"));
        fs::remove_file(&path).unwrap();
        let run = run_measured(&[&cat[..], &["-"]].concat(), Some(make()), &out);
        check_huge(run, &out, "<stdin>", &format!("{name} through a pipe"));
    }

    // A million distinct unknown types: every one counted; the counts take
    // memory in proportion (33 MB of log, about 280 MiB at peak).
    let path = dir.file("types.hex", million_types());
    let run = run_measured(&["stats", &path], None, &out);
    assert_eq!(run.status.code(), Some(0), "{}", run.stderr);
    let cells = |l: &str| l.split_whitespace().map(str::to_string).collect::<Vec<_>>();
    let mut lines = BufReader::new(File::open(&out).unwrap())
        .lines()
        .map(Result::unwrap);
    assert_eq!(cells(&lines.next().unwrap()), ["TYPE", "EVENTS", "BYTES"]);
    for i in 0..1_000_000 {
        let line = lines.next().unwrap();
        assert_eq!(cells(&line), [format!("t{i:07}"), "1".into(), "1".into()]);
    }
    assert_eq!(
        cells(&lines.next().unwrap()),
        ["total", "1000000", "1000000"]
    );
    assert_eq!(lines.count(), 7, "the summary after the table");
    eprintln!("a million types: peak {} MiB", run.peak_kib >> 10);
    assert!(
        run.peak_kib < 512 << 10,
        "a million types: peak {} KiB",
        run.peak_kib
    );
}

/// `stats --json` over a million distinct unknown types builds the whole
/// answer as a `serde_json::Value` tree (stats.rs, `Stats::to_json`): about
/// 1 GiB at peak for 33 MB of log, and 4 s in a release build (20 s in a
/// debug one), where the table takes 280 MiB and 1 s.
#[test]
fn stats_json_over_a_million_types_stays_under_512_mib() {
    let dir = TempDir::new("stats-json");
    let out = dir.path("out");
    let path = dir.file("types.hex", million_types());
    let run = run_measured(&["stats", "--json", &path], None, &out);
    assert_eq!(run.status.code(), Some(0), "{}", run.stderr);
    // Every type once, read in pieces (parsing the answer here would raise
    // this process's peak, which children inherit at exec).
    let count = count_in(&out, b":{\"events\":1,\"bytes\":1}");
    assert_eq!(count, 1_000_000);
    assert!(run.peak_kib < 512 << 10, "peak {} KiB", run.peak_kib);
}

/// 128 MiB of events with everything the block pipeline converts: payloads
/// of every length, SSH requests, empty payloads, extra keys naming the
/// log's own channel.
fn large_log() -> Writer {
    Box::new(|w: &mut dyn Write| {
        let payload = "bBtbSzEyMzQ1Njc4OTBhYmNkZWZnaGlqa2xtbm9wcXJzdHV2d3h5eg0K".repeat(6);
        let mut written = 0usize;
        let mut i = 0u64;
        while written < 128 << 20 {
            // Microseconds after 2023-06-07T17:00:00Z.
            let ts =
                sshtrail::time::format_rfc3339(1_686_157_200_000_000_000 + i128::from(i) * 1000);
            let cut = 4 * (i as usize % (payload.len() / 4));
            let line = match i % 5 {
                0 => format!(r#"{{"type":"stdin","ts":"{ts}","data":"bA=="}}"#),
                1 => format!(
                    r#"{{"type":"forward-request","ts":"{ts}","data":"YgAAAAAAAAADZW52AAAAAARMQU5HAAAAC2VuX1VTLlVURi04"}}"#
                ),
                2 => format!(r#"{{"type":"stderr","ts":"{ts}","data":""}}"#),
                3 => format!(
                    r#"{{"type":"stdout","ts":"{ts}","data":"{}","channel_id":"big"}}"#,
                    &payload[..cut]
                ),
                _ => format!(
                    r#"{{"type":"stdout","ts":"{ts}","data":"{}"}}"#,
                    &payload[cut..]
                ),
            };
            writeln!(w, "{line}")?;
            written += line.len() + 1;
            i += 7919;
        }
        Ok(())
    })
}

/// Whether two files hold the same bytes, read in pieces.
fn same_file(a: &Path, b: &Path) -> bool {
    let (mut a, mut b) = (File::open(a).unwrap(), File::open(b).unwrap());
    let (mut x, mut y) = (vec![0u8; 1 << 20], vec![0u8; 1 << 20]);
    loop {
        let n = a.read(&mut x).unwrap();
        if n == 0 {
            return b.read(&mut y).unwrap() == 0;
        }
        if b.read_exact(&mut y[..n]).is_err() || x[..n] != y[..n] {
            return false;
        }
    }
}

/// A large log converts in blocks: memory stays at a few blocks a thread,
/// far below the size of the log (the whole log in memory would be 128 MiB
/// and more).
#[test]
fn a_large_log_converts_in_bounded_memory() {
    let dir = TempDir::new("large");
    let input = dir.file("big.jsonl", large_log());
    let outdir = dir.path("out");
    fs::create_dir_all(&outdir).unwrap();
    let run = run_measured(
        &[
            "convert",
            "--to",
            "jsonl,raw",
            "-j",
            "2",
            "-q",
            "-o",
            outdir.to_str().unwrap(),
            &input,
        ],
        None,
        &dir.path("stdout"),
    );
    assert_eq!(run.status.code(), Some(0), "{}", run.stderr);
    assert!(same_file(&outdir.join("big.jsonl"), Path::new(&input)));
    eprintln!("a 128 MiB log in blocks: peak {} MiB", run.peak_kib >> 10);
    assert!(run.peak_kib < 64 << 10, "peak {} KiB", run.peak_kib);
}

/// A million one-byte stdout events in the hex layout (31 MB).
fn million_bytes() -> Writer {
    Box::new(|w: &mut dyn Write| {
        for i in 0..1_000_000 {
            writeln!(w, "2023-06-07T17:32:29.{i:06}Z stdout 6c")?;
        }
        Ok(())
    })
}

/// Counts `needle` in the file at `path`, read in pieces.
fn count_in(path: &Path, needle: &[u8]) -> usize {
    let (mut count, mut carry) = (0, Vec::new());
    let mut f = File::open(path).unwrap();
    let mut piece = vec![0u8; 1 << 20];
    loop {
        let n = f.read(&mut piece).unwrap();
        if n == 0 {
            return count;
        }
        carry.extend_from_slice(&piece[..n]);
        count += carry.windows(needle.len()).filter(|w| w == &needle).count();
        let keep = carry.len().min(needle.len() - 1);
        carry.drain(..carry.len() - keep);
    }
}

/// `streams` kept every chunk's index entry in memory and wrote a pretty
/// `index.json` at the end: 1.77 GB for a million one-byte events (issue
/// 13). The index is now written compactly as it goes.
#[test]
fn streams_of_a_million_one_byte_events_stay_in_bounded_memory() {
    let dir = TempDir::new("streams");
    let input = dir.file("0.hex", million_bytes());
    let outdir = dir.path("out");
    let run = run_limited(
        &["streams", "-o", outdir.to_str().unwrap(), &input],
        None,
        &dir.path("stdout"),
        Some(4 << 30),
    );
    assert_eq!(
        run.status.code(),
        Some(0),
        "{:?} {}",
        run.status,
        run.stderr
    );
    let channel = outdir.join("0");
    assert_eq!(
        fs::metadata(channel.join("stdout")).unwrap().len(),
        1_000_000
    );
    assert_eq!(count_in(&channel.join("stdout"), b"l"), 1_000_000);
    // Every chunk in the index, written compactly (no pretty indentation).
    let index = channel.join("index.json");
    assert_eq!(count_in(&index, b"{\"len\":1,\"line\":"), 1_000_000);
    assert_eq!(count_in(&index, b"\n  "), 0);
    eprintln!(
        "streams of a million events: peak {} MiB",
        run.peak_kib >> 10
    );
    assert!(run.peak_kib < 64 << 10, "peak {} KiB", run.peak_kib);
}

/// `/dev/zero` has no line end: every command says it is not a trail log
/// after 16 MiB and stops, where they grew without bound (3.9 GB in 10 s
/// for `inspect`).
#[test]
fn dev_zero_is_not_a_trail_log_for_any_command() {
    let dir = TempDir::new("zero");
    let out = dir.path("stdout");
    let streams_dir = dir.path("streams");
    let streams = streams_dir.to_str().unwrap();
    for args in [
        &["inspect"][..],
        &["commands"],
        &["grep", "x"],
        &["convert", "--to", "text"],
        &["streams", "-o", streams],
        &["stats"],
        &["cat"],
    ] {
        let run = run_limited(&[args, &["/dev/zero"]].concat(), None, &out, Some(4 << 30));
        assert_eq!(
            run.status.code(),
            Some(1),
            "{args:?}: {:?} {}",
            run.status,
            run.stderr
        );
        assert!(
            run.stderr.contains("/dev/zero: error: ")
                && run
                    .stderr
                    .contains("no line end in the first 16 MiB: not a trail log"),
            "{args:?}: {}",
            run.stderr
        );
        eprintln!("{args:?} /dev/zero: peak {} MiB", run.peak_kib >> 10);
        assert!(
            run.peak_kib < 64 << 10,
            "{args:?}: peak {} KiB",
            run.peak_kib
        );
    }
}

/// A 2 GiB file of zeros took 2.1 GB on the batch path; it is refused after
/// a bounded read, and the manifest does not pass a part's hash off as the
/// file's.
#[test]
fn a_2_gib_file_of_zeros_is_refused_by_the_batch_in_bounded_memory() {
    let dir = TempDir::new("zeros-batch");
    let logs = dir.path("logs");
    fs::create_dir_all(&logs).unwrap();
    // Sparse: no disk used.
    File::create(logs.join("z.jsonl"))
        .unwrap()
        .set_len(2 << 30)
        .unwrap();
    let outdir = dir.path("out");
    let run = run_limited(
        &[
            "convert",
            "--to",
            "jsonl",
            "-q",
            "-o",
            outdir.to_str().unwrap(),
            logs.to_str().unwrap(),
        ],
        None,
        &dir.path("stdout"),
        Some(4 << 30),
    );
    assert_eq!(
        run.status.code(),
        Some(1),
        "{:?} {}",
        run.status,
        run.stderr
    );
    assert!(
        run.stderr
            .contains("no line end in the first 16 MiB: not a trail log"),
        "{}",
        run.stderr
    );
    let row: serde_json::Value = serde_json::from_str(
        fs::read_to_string(outdir.join("manifest.jsonl"))
            .unwrap()
            .trim(),
    )
    .unwrap();
    assert_eq!(row["status"], "failed");
    assert_eq!(row["sha256"], serde_json::Value::Null, "{row}");
    assert_eq!(row["size"], 2u64 << 30);
    eprintln!("2 GiB of zeros in a batch: peak {} MiB", run.peak_kib >> 10);
    // The block reader looks for a record's end up to its 64 MiB limit.
    assert!(run.peak_kib < 192 << 10, "peak {} KiB", run.peak_kib);
}

/// Bytes of the large upload: 96 MiB, more than the 64 MiB held in memory
/// out of order, written backwards in 32 KiB writes.
const UPLOAD_BYTES: usize = 96 << 20;
const WRITE_BYTES: usize = 32 << 10;

/// The upload's bytes (a fixed pseudo-random sequence).
fn upload_bytes() -> Vec<u8> {
    let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
    (0..UPLOAD_BYTES)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            (x >> 24) as u8
        })
        .collect()
}

/// A jsonl log of an SFTP session uploading [`upload_bytes`] to
/// `/srv/big.bin`, the last block first: every write but the first lands
/// ahead of a gap.
fn backwards_upload() -> Writer {
    use base64::Engine;
    use common::{request, sftp_packet, sftp_string};
    Box::new(|w: &mut dyn Write| {
        let b64 = base64::engine::general_purpose::STANDARD;
        let mut line = |kind: &str, data: &[u8]| {
            writeln!(
                w,
                "{{\"type\":\"{kind}\",\"ts\":\"2023-06-07T17:32:30Z\",\"data\":\"{}\"}}",
                b64.encode(data)
            )
        };
        line("forward-request", &request("subsystem", "sftp"))?;
        line("stdin", &sftp_packet(1, None, &3u32.to_be_bytes()))?;
        line("stdout", &sftp_packet(2, None, &3u32.to_be_bytes()))?;
        let mut open = sftp_string(b"/srv/big.bin");
        open.extend_from_slice(&(0x02u32 | 0x08 | 0x10).to_be_bytes());
        open.extend_from_slice(&0u32.to_be_bytes());
        line("stdin", &sftp_packet(3, Some(1), &open))?;
        line("stdout", &sftp_packet(102, Some(1), &sftp_string(b"h")))?;
        let data = upload_bytes();
        let mut ok = 0u32.to_be_bytes().to_vec();
        ok.extend(sftp_string(b""));
        ok.extend(sftp_string(b""));
        for (n, offset) in (0..UPLOAD_BYTES).step_by(WRITE_BYTES).rev().enumerate() {
            let id = 2 + n as u32;
            let mut body = sftp_string(b"h");
            body.extend_from_slice(&(offset as u64).to_be_bytes());
            body.extend(sftp_string(&data[offset..offset + WRITE_BYTES]));
            line("stdin", &sftp_packet(6, Some(id), &body))?;
            line("stdout", &sftp_packet(101, Some(id), &ok))?;
        }
        line("stdin", &sftp_packet(4, Some(1 << 30), &sftp_string(b"h")))?;
        line("stdout", &sftp_packet(101, Some(1 << 30), &ok))
    })
}

/// A 96 MiB upload sent backwards: `files` hashes it holding 64 MiB in
/// memory and spilling the rest to a temporary file, `files --extract`
/// and `convert --to files` write every byte in place holding none, and
/// the SIEM records hash it like `files`.
#[test]
fn a_large_upload_sent_backwards_is_hashed_and_extracted_in_bounded_memory() {
    use sha2::Digest;
    let dir = TempDir::new("backwards");
    let out = dir.path("out");
    let log = dir.file("0.jsonl", backwards_upload());
    let want = format!("{:x}", sha2::Sha256::digest(upload_bytes()));

    let run = run_measured(&["files", "--json", &log], None, &out);
    assert_eq!(run.status.code(), Some(0), "{}", run.stderr);
    let listed: serde_json::Value = serde_json::from_slice(&fs::read(&out).unwrap()).unwrap();
    assert_eq!(listed["sha256"], want.as_str());
    assert_eq!(listed["size"], UPLOAD_BYTES);
    eprintln!("files --json: peak {} MiB", run.peak_kib >> 10);
    assert!(run.peak_kib < 112 << 10, "files: peak {} KiB", run.peak_kib);

    let into = dir.path("x");
    let run = run_measured(
        &["files", "--extract", into.to_str().unwrap(), &log],
        None,
        &out,
    );
    assert_eq!(run.status.code(), Some(0), "{}", run.stderr);
    let written = fs::read(into.join("0/001-big.bin")).unwrap();
    assert_eq!(format!("{:x}", sha2::Sha256::digest(&written)), want);
    eprintln!("files --extract: peak {} MiB", run.peak_kib >> 10);
    assert!(
        run.peak_kib < 48 << 10,
        "--extract: peak {} KiB",
        run.peak_kib
    );

    let ocsf = dir.path("o.ndjson");
    let run = run_measured(
        &[
            "convert",
            "--to",
            "ocsf",
            &log,
            "-o",
            ocsf.to_str().unwrap(),
        ],
        None,
        &out,
    );
    assert_eq!(run.status.code(), Some(0), "{}", run.stderr);
    let records = fs::read_to_string(&ocsf).unwrap();
    assert!(
        records.contains(&want),
        "no OCSF record has the upload's hash"
    );
    eprintln!("convert --to ocsf: peak {} MiB", run.peak_kib >> 10);
    assert!(run.peak_kib < 112 << 10, "ocsf: peak {} KiB", run.peak_kib);
}

/// An `scp -t` channel receiving 400,000 one-byte files, in hex: the exec
/// request, then stdin records of 1,000 files each with their
/// acknowledgements.
fn many_scp_files() -> Writer {
    fn hex(bytes: &[u8]) -> String {
        bytes.iter().map(|b| format!("{b:02x}")).collect()
    }
    Box::new(|w: &mut dyn Write| {
        let (name, arg) = ("exec", "scp -t d");
        let mut req = vec![98, 0, 0, 0, 0];
        req.extend_from_slice(&(name.len() as u32).to_be_bytes());
        req.extend_from_slice(name.as_bytes());
        req.push(1);
        req.extend_from_slice(&(arg.len() as u32).to_be_bytes());
        req.extend_from_slice(arg.as_bytes());
        writeln!(w, "2023-06-07T17:32:29Z forward-request {}", hex(&req))?;
        writeln!(w, "2023-06-07T17:32:30Z stdout 00")?;
        let acks = hex(&[0; 2000]);
        for chunk in 0..400 {
            let mut data = Vec::new();
            for i in 0..1000 {
                data.extend_from_slice(format!("C0644 1 f{}\nx\0", chunk * 1000 + i).as_bytes());
            }
            writeln!(w, "2023-06-07T17:32:30Z stdin {}", hex(&data))?;
            writeln!(w, "2023-06-07T17:32:30Z stdout {acks}")?;
        }
        Ok(())
    })
}

/// `inspect` lists the first 10,000 files of a channel and counts the
/// rest: 400,000 transfers do not grow its memory with their number (kept
/// whole, they took over 200 MiB for people and gigabytes as JSON).
#[test]
fn inspect_of_many_transferred_files_stays_in_bounded_memory() {
    let dir = TempDir::new("many-files");
    let input = dir.file("0.hex", many_scp_files());
    let out = dir.path("stdout");
    let run = run_limited(&["inspect", &input], None, &out, Some(4 << 30));
    assert_eq!(
        run.status.code(),
        Some(0),
        "{:?} {}",
        run.status,
        run.stderr
    );
    assert_eq!(count_in(&out, b"    file     upload 1 bytes"), 10_000);
    assert_eq!(count_in(&out, b"    files    390000 more not listed\n"), 1);
    eprintln!("inspect of 400,000 files: peak {} MiB", run.peak_kib >> 10);
    assert!(run.peak_kib < 48 << 10, "peak {} KiB", run.peak_kib);

    // JSON builds its document whole: the 10,000 files listed weigh more.
    let run = run_limited(&["inspect", "--json", &input], None, &out, Some(4 << 30));
    assert_eq!(
        run.status.code(),
        Some(0),
        "{:?} {}",
        run.status,
        run.stderr
    );
    let v: serde_json::Value = serde_json::from_slice(&fs::read(&out).unwrap()).unwrap();
    let ch = &v["connections"][0]["channels"][0];
    assert_eq!(ch["files"].as_array().unwrap().len(), 10_000);
    assert_eq!(ch["files_unlisted"], 390_000);
    eprintln!(
        "inspect --json of 400,000 files: peak {} MiB",
        run.peak_kib >> 10
    );
    assert!(run.peak_kib < 160 << 10, "peak {} KiB", run.peak_kib);
}
