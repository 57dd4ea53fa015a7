//! The naive reader that `benches/peers.sh` measures sshtrail against: what
//! a plain program does to pull the stdout bytes out of a jsonl trail, one
//! `serde_json::Value` a line and a base64 decode into a new `Vec`, the
//! bytes written to standard output.
//!
//! ```text
//! naivecat TRAIL.jsonl > stdout.bin
//! ```

use std::fs::File;
use std::io::{BufRead, BufReader, BufWriter, Write};
use std::process::ExitCode;

use base64::Engine;

fn run(path: &str) -> Result<(), String> {
    let file = File::open(path).map_err(|e| format!("{path}: {e}"))?;
    let mut out = BufWriter::new(std::io::stdout().lock());
    for (index, line) in BufReader::new(file).lines().enumerate() {
        let line = line.map_err(|e| format!("{path}:{}: {e}", index + 1))?;
        if line.is_empty() {
            continue;
        }
        let event: serde_json::Value =
            serde_json::from_str(&line).map_err(|e| format!("{path}:{}: {e}", index + 1))?;
        if event["type"] == "stdout" {
            let data = event["data"].as_str().unwrap_or("");
            let bytes = base64::engine::general_purpose::STANDARD
                .decode(data)
                .map_err(|e| format!("{path}:{}: {e}", index + 1))?;
            out.write_all(&bytes).map_err(|e| format!("stdout: {e}"))?;
        }
    }
    out.flush().map_err(|e| format!("stdout: {e}"))
}

fn main() -> ExitCode {
    let mut args = std::env::args().skip(1);
    let (Some(path), None) = (args.next(), args.next()) else {
        eprintln!("usage: naivecat TRAIL.jsonl");
        return ExitCode::from(2);
    };
    match run(&path) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("naivecat: {e}");
            ExitCode::FAILURE
        }
    }
}
