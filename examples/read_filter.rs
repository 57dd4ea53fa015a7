//! Read a trail log and keep the events of some types: the output stream of
//! a session, with each chunk's time.
//!
//! ```text
//! cargo run -p sshtrail --example read_filter -- testdata/session.jsonl stdout
//! ```

use std::error::Error;
use std::fs::File;

use sshtrail::{Filter, StreamReader};

fn main() -> Result<(), Box<dyn Error>> {
    let mut args = std::env::args().skip(1);
    let path = args.next().ok_or("usage: read_filter LOG [TYPES]")?;
    // The gateway's filter syntax: event types, comma separated.
    let filter: Filter = args.next().as_deref().unwrap_or("stdout").parse()?;
    let mut payload = Vec::new();
    let mut bytes = 0;
    // Bounded memory whatever the size of the log: one event at a time.
    StreamReader::new(File::open(&path)?).for_each(|record| -> Result<(), Box<dyn Error>> {
        let event = record.map_err(|e| format!("{path}:{e}"))?;
        if !filter.matches(&event.kind) {
            return Ok(());
        }
        event.decode_payload(&mut payload)?;
        bytes += payload.len();
        println!(
            "{} {:<8} {:>6} bytes  {}",
            event.ts_text,
            event.kind,
            payload.len(),
            String::from_utf8_lossy(&payload).escape_debug()
        );
        Ok(())
    })?;
    eprintln!("{bytes} bytes in all");
    Ok(())
}
