//! Reading 256 MiB from standard input keeps the process under 32 MiB.
//! In its own test binary so that no other child process shares the
//! `RUSAGE_CHILDREN` high-water mark.

use std::io::Write;
use std::process::{Command, Stdio};

use base64::Engine as _;

#[test]
fn streaming_256_mib_from_stdin_stays_under_32_mib() {
    // A block of realistic lines, repeated: keystrokes, echoes, output bursts.
    let mut block = String::new();
    let mut stdout_bytes_per_block = 0usize;
    for i in 0..200usize {
        let out = "x".repeat(64 + (i * 997) % 16_000);
        stdout_bytes_per_block += 1 + out.len();
        block.push_str(&format!("{{\"type\":\"stdin\",\"ts\":\"2023-06-07T17:32:29.{i:06}Z\",\"data\":\"bA==\"}}\n{{\"type\":\"stdout\",\"ts\":\"2023-06-07T17:32:29.{i:06}Z\",\"data\":\"bA==\"}}\n"));
        block.push_str(&format!(
            "{{\"type\":\"stdout\",\"ts\":\"2023-06-07T17:32:29.{i:06}Z\",\"data\":\"{}\"}}\n",
            base64::engine::general_purpose::STANDARD.encode(out)
        ));
    }
    let total = 256usize << 20;
    let blocks = total / block.len() + 1;
    let mut child = Command::new(env!("CARGO_BIN_EXE_sshtrail"))
        .args(["cat", "--filter", "stdout", "--to", "raw", "-"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    let writer = std::thread::spawn(move || {
        for _ in 0..blocks {
            stdin.write_all(block.as_bytes()).unwrap();
        }
    });
    let mut stdout = child.stdout.take().unwrap();
    let reader =
        std::thread::spawn(move || std::io::copy(&mut stdout, &mut std::io::sink()).unwrap());
    let status = child.wait().unwrap();
    writer.join().unwrap();
    let written = reader.join().unwrap();
    assert!(status.success());
    assert_eq!(written as usize, stdout_bytes_per_block * blocks);
    // SAFETY: getrusage only writes into the struct we pass.
    let peak_kib = unsafe {
        let mut usage: libc::rusage = std::mem::zeroed();
        assert_eq!(libc::getrusage(libc::RUSAGE_CHILDREN, &mut usage), 0);
        usage.ru_maxrss
    };
    assert!(peak_kib > 0);
    assert!(peak_kib < 32 * 1024, "peak resident memory {peak_kib} KiB");
}
