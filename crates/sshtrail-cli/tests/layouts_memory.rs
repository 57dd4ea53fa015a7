//! A channel kept in two layouts of 48 MiB each is compared and read in
//! bounded memory: the comparison holds one event of each log, not the
//! logs. In its own test binary so that no other child process shares the
//! `RUSAGE_CHILDREN` high-water mark.

use std::io::Write;
use std::process::Command;

use base64::Engine as _;

#[test]
fn comparing_two_layouts_of_48_mib_stays_under_32_mib() {
    let dir = tempfile::tempdir().unwrap();
    let conn = dir.path().join("0f7a3c2e-5b1d-4e8f-9a6b-2c4d6e8f0a1b");
    std::fs::create_dir_all(&conn).unwrap();
    let mut jsonl = std::io::BufWriter::new(std::fs::File::create(conn.join("0.jsonl")).unwrap());
    let mut hex = std::io::BufWriter::new(std::fs::File::create(conn.join("0.hex")).unwrap());
    let target = 48usize << 20;
    let (mut written, mut i) = (0usize, 0u64);
    while written < target {
        let payload: Vec<u8> = (0..(64 + (i as usize * 997) % 4000))
            .map(|k| b'a' + (k % 26) as u8)
            .collect();
        let ts = format!(
            "2023-06-07T{:02}:{:02}:{:02}.{:06}Z",
            (i / 3_600_000_000) % 24,
            (i / 60_000_000) % 60,
            (i / 1_000_000) % 60,
            i % 1_000_000
        );
        let h: String = payload.iter().map(|b| format!("{b:02x}")).collect();
        let line = format!("{ts} stdout {h}\n");
        written += line.len();
        hex.write_all(line.as_bytes()).unwrap();
        writeln!(
            jsonl,
            "{{\"type\":\"stdout\",\"ts\":\"{ts}\",\"data\":\"{}\"}}",
            base64::engine::general_purpose::STANDARD.encode(&payload)
        )
        .unwrap();
        i += 1;
    }
    jsonl.flush().unwrap();
    hex.flush().unwrap();
    drop((jsonl, hex));
    let o = Command::new(env!("CARGO_BIN_EXE_sshtrail"))
        .args(["inspect", &dir.path().to_string_lossy()])
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(0), "{err}");
    assert!(
        err.contains("0.hex too, in another layout, with the same events"),
        "{err}"
    );
    // SAFETY: getrusage only writes into the struct we pass.
    let peak_kib = unsafe {
        let mut usage: libc::rusage = std::mem::zeroed();
        assert_eq!(libc::getrusage(libc::RUSAGE_CHILDREN, &mut usage), 0);
        usage.ru_maxrss
    };
    assert!(peak_kib > 0);
    assert!(peak_kib < 32 * 1024, "peak resident memory {peak_kib} KiB");
}
