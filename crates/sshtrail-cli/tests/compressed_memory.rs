//! A compressed trail is decompressed as it is read: 256 MiB of log text,
//! gzip-compressed (several members) then zstd-compressed, each piped to
//! `sshtrail cat` and then read from a file by `sshtrail convert`, keep
//! every process under 32 MiB. In its own test binary so that no other
//! child process shares the `RUSAGE_CHILDREN` high-water mark.

use std::io::Write;
use std::process::{Command, Stdio};

use base64::Engine as _;

/// A block of realistic lines: keystrokes, echoes, output bursts.
fn block() -> (String, usize) {
    let mut block = String::new();
    let mut stdout_bytes = 0usize;
    for i in 0..200usize {
        let out: String = (0..64 + (i * 997) % 16_000)
            .map(|j| char::from(b'a' + ((i * 7 + j * 13) % 26) as u8))
            .collect();
        stdout_bytes += 1 + out.len();
        block.push_str(&format!("{{\"type\":\"stdin\",\"ts\":\"2023-06-07T17:32:29.{i:06}Z\",\"data\":\"bA==\"}}\n{{\"type\":\"stdout\",\"ts\":\"2023-06-07T17:32:29.{i:06}Z\",\"data\":\"bA==\"}}\n"));
        block.push_str(&format!(
            "{{\"type\":\"stdout\",\"ts\":\"2023-06-07T17:32:29.{i:06}Z\",\"data\":\"{}\"}}\n",
            base64::engine::general_purpose::STANDARD.encode(out)
        ));
    }
    (block, stdout_bytes)
}

/// `blocks` copies of `block`, compressed as `kind` says, into `w`.
fn compress(kind: &str, block: &str, blocks: usize, w: impl Write) {
    match kind {
        "gzip" => {
            // A new member every 64 blocks, as pigz or appended logs make.
            let mut w = w;
            for chunk in (0..blocks).collect::<Vec<_>>().chunks(64) {
                let mut gz = flate2::write::GzEncoder::new(&mut w, flate2::Compression::fast());
                for _ in chunk {
                    gz.write_all(block.as_bytes()).unwrap();
                }
                gz.finish().unwrap();
            }
        }
        _ => {
            let mut z = zstd::Encoder::new(w, 1).unwrap();
            for _ in 0..blocks {
                z.write_all(block.as_bytes()).unwrap();
            }
            z.finish().unwrap();
        }
    }
}

fn peak_kib() -> i64 {
    // SAFETY: getrusage only writes into the struct we pass.
    unsafe {
        let mut usage: libc::rusage = std::mem::zeroed();
        assert_eq!(libc::getrusage(libc::RUSAGE_CHILDREN, &mut usage), 0);
        usage.ru_maxrss
    }
}

#[test]
fn compressed_256_mib_streams_under_32_mib() {
    let (block, stdout_per_block) = block();
    let blocks = (256usize << 20) / block.len() + 1;
    let dir = tempfile::tempdir().unwrap();
    for kind in ["gzip", "zstd"] {
        // Through standard input.
        let mut child = Command::new(env!("CARGO_BIN_EXE_sshtrail"))
            .args(["cat", "--filter", "stdout", "--to", "raw", "-"])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let stdin = child.stdin.take().unwrap();
        let data = block.clone();
        let writer = std::thread::spawn(move || compress(kind, &data, blocks, stdin));
        let mut stdout = child.stdout.take().unwrap();
        let reader =
            std::thread::spawn(move || std::io::copy(&mut stdout, &mut std::io::sink()).unwrap());
        let out = child.wait_with_output().unwrap();
        writer.join().unwrap();
        let written = reader.join().unwrap();
        assert!(
            out.status.success(),
            "{kind}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert_eq!(written as usize, stdout_per_block * blocks, "{kind}");
        let peak = peak_kib();
        assert!(peak > 0);
        assert!(
            peak < 32 * 1024,
            "{kind} from stdin: peak resident memory {peak} KiB"
        );

        // From a file, converted in a batch (the path that would take
        // large plain logs in blocks).
        let ext = if kind == "gzip" { "gz" } else { "zst" };
        let log = dir.path().join(format!("0.jsonl.{ext}"));
        compress(kind, &block, blocks, std::fs::File::create(&log).unwrap());
        let outdir = dir.path().join(format!("out-{kind}"));
        std::fs::create_dir(&outdir).unwrap();
        let out = Command::new(env!("CARGO_BIN_EXE_sshtrail"))
            .args(["convert", "--to", "jsonl", "-j", "2", "-o"])
            .arg(&outdir)
            .arg(&log)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{kind}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let converted = std::fs::metadata(outdir.join("0.jsonl")).unwrap().len();
        assert_eq!(converted as usize, block.len() * blocks, "{kind}");
        std::fs::remove_file(outdir.join("0.jsonl")).unwrap();
        let peak = peak_kib();
        assert!(
            peak < 32 * 1024,
            "{kind} from a file: peak resident memory {peak} KiB"
        );
    }
}
