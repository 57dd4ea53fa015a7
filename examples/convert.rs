//! Convert a connection to asciicast (one recording a channel) and to ECS
//! records, in one pass over its logs, into memory; print where each went.
//!
//! ```text
//! cargo run -p sshtrail --example convert -- testdata/conn/6f1c2b7e-0d3a-4c55-9e1f-2a3b4c5d6e7f
//! ```

use std::error::Error;

use sshtrail::archive::{Archive, Discovery};
use sshtrail::channel::Tee;
use sshtrail::output::{MemoryOutput, OutputFormat, WriterOptions, Writing};

fn main() -> Result<(), Box<dyn Error>> {
    let paths: Vec<String> = std::env::args().skip(1).collect();
    if paths.is_empty() {
        return Err("usage: convert PATH...".into());
    }
    let archive = Archive::open(&paths, &Discovery::connection_folders(), &mut |p| {
        eprintln!("{p}")
    });
    let options = WriterOptions::default();
    let (mut cast, mut ecs) = (
        OutputFormat::Asciicast.writer(&options),
        OutputFormat::Ecs.writer(&options),
    );
    let (mut casts, mut records) = (MemoryOutput::default(), MemoryOutput::default());
    // Both writers fed the same channel events: the logs are read once.
    archive.replay(
        &mut Tee(vec![
            &mut Writing::new(&mut cast, &mut casts),
            &mut Writing::new(&mut ecs, &mut records),
        ]),
        &mut |p| eprintln!("{p}"),
    )?;
    for (key, bytes) in casts.parts().chain(records.parts()) {
        let lines = bytes.iter().filter(|&&b| b == b'\n').count();
        println!(
            "{}/{}.{}: {} bytes, {lines} lines",
            key.connection.as_deref().unwrap_or("-"),
            key.channel.as_deref().unwrap_or("-"),
            key.ext,
            bytes.len()
        );
    }
    if let Some(first) = records
        .parts()
        .next()
        .and_then(|(_, b)| b.split(|&c| c == b'\n').next())
    {
        let record: serde_json::Value = serde_json::from_slice(first)?;
        println!("first ECS record: {}", record["message"]);
    }
    Ok(())
}
