//! Rebuild the channels of a connection folder (or a log) and print each
//! request with how it was answered, and each forward, typed.
//!
//! ```text
//! cargo run -p sshtrail --example channels -- testdata/conn/6f1c2b7e-0d3a-4c55-9e1f-2a3b4c5d6e7f
//! ```

use std::error::Error;
use std::io;

use sshtrail::archive::{Archive, Discovery};
use sshtrail::channel::{
    direction_name, ChannelEvent, ChannelEventKind, ChannelSink, ConnectionRef, RequestKind,
};

/// Prints what happened, as it happens.
struct Printer;

impl ChannelSink for Printer {
    fn connection_start(&mut self, conn: &ConnectionRef<'_>) -> io::Result<()> {
        println!(
            "connection {} ({})",
            conn.id.unwrap_or("unknown"),
            conn.title().unwrap_or_else(|| "no metadata".into())
        );
        Ok(())
    }

    fn event(&mut self, ev: &ChannelEvent<'_>) -> io::Result<()> {
        let channel = ev.channel.label();
        match ev.kind {
            ChannelEventKind::Request(r) => {
                // Typed: a new kind of request is a compile error here only
                // where a match has no catch-all.
                let what = match &r.kind {
                    RequestKind::Pty(p) => format!("a {}x{} {} terminal", p.cols, p.rows, p.term),
                    RequestKind::Exec { command } => format!("the command {command:?}"),
                    RequestKind::Shell => "a shell".to_string(),
                    RequestKind::ExitStatus { status } => format!("exit status {status}"),
                    _ => r.summary.clone(),
                };
                println!(
                    "  {channel} {} {} asks for {what}",
                    r.ts_text,
                    direction_name(r.direction)
                );
                if let Some(f) = r.forward() {
                    println!(
                        "    a forward: {} {:?}:{:?}",
                        f.kind.name(),
                        f.address,
                        f.port
                    );
                }
            }
            ChannelEventKind::Reply {
                request, outcome, ..
            } => {
                println!("  {channel} {} answered: {}", request.name, outcome.name());
            }
            ChannelEventKind::Ended { .. } => {
                let verdict = ev.channel.integrity.as_ref().map(|i| i.ok);
                println!(
                    "  {channel} ended: {:?}, bytes {:?}, integrity ok: {verdict:?}",
                    ev.channel.kind, ev.channel.bytes
                );
            }
            _ => {}
        }
        Ok(())
    }
}

fn main() -> Result<(), Box<dyn Error>> {
    let paths: Vec<String> = std::env::args().skip(1).collect();
    if paths.is_empty() {
        return Err("usage: channels PATH...".into());
    }
    let mut problems = Vec::new();
    let archive = Archive::open(&paths, &Discovery::connection_folders(), &mut |p| {
        problems.push(p.to_string())
    });
    archive.replay(&mut Printer, &mut |p| problems.push(p.to_string()))?;
    for p in &problems {
        eprintln!("{p}");
    }
    Ok(())
}
