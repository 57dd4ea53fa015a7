//! `sshtrail streams`: each channel's stdin, stdout and stderr as raw files,
//! with an index of every chunk's time and offset.

use std::io;
use std::path::{Path, PathBuf};

use clap::Args;
use serde_json::json;
use sshtrail::channel::{Channel, Stream};

use crate::gather::gather;
use crate::load::{channels, load_logs};
use crate::output::{safe_component, write_atomically};
use crate::report::{self, Reporter};
use crate::FormatArg;

/// Arguments of `sshtrail streams`.
#[derive(Args, Debug)]
pub struct StreamsArgs {
    /// Directory to write `<connection>/<channel>/{stdin,stdout,stderr,index.json}` into.
    #[arg(short = 'o', long = "output", value_name = "DIR")]
    output: PathBuf,
    /// Replace existing stream files.
    #[arg(long)]
    force: bool,
    /// Input layout.
    #[arg(long, value_enum, default_value_t = FormatArg::Auto)]
    format: FormatArg,
    /// Trail logs, or connection directories.
    #[arg(required = true, value_name = "PATH")]
    paths: Vec<String>,
}

/// Runs `sshtrail streams`.
pub fn run(args: StreamsArgs) -> u8 {
    let mut rep = Reporter::default();
    let conns = gather(&args.paths, &mut rep);
    for conn in &conns {
        let logs = load_logs(conn, &mut rep);
        for ch in channels(&logs, conn, args.format.to_format(), &mut rep) {
            let mut dir = args.output.clone();
            let mut parts: Vec<&str> = Vec::new();
            if let Some(c) = &ch.context.connection_id {
                parts.push(c);
            }
            parts.push(&ch.context.channel_id);
            if let Some(bad) = parts.iter().find(|p| !safe_component(p)) {
                rep.input_error(
                    &args.output.display().to_string(),
                    &format!("refusing to write under the id {bad:?}: it is not a plain file name"),
                );
                continue;
            }
            for p in parts {
                dir.push(p);
            }
            if let Err(e) = write_channel(&dir, &ch, args.force) {
                rep.input_error(&dir.display().to_string(), &e.to_string());
            }
        }
    }
    rep.status()
}

fn write_channel(dir: &Path, ch: &Channel<'_>, force: bool) -> io::Result<()> {
    std::fs::create_dir_all(dir)?;
    let mut index = serde_json::Map::new();
    let mut buf = Vec::new();
    for stream in Stream::ALL {
        let chunks = &ch.streams[stream as usize];
        write_atomically(&dir.join(stream.name()), force, false, |w| {
            for c in chunks {
                c.decode(&mut buf)
                    .map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e.to_string()))?;
                w.write_all(&buf)?;
            }
            Ok(())
        })?;
        index.insert(
            stream.name().to_string(),
            json!({
                "bytes": ch.bytes_of(stream),
                "chunks": chunks.iter().map(|c| json!({"ts": sshtrail::time::format_rfc3339(c.ts), "offset": c.offset, "len": c.len, "line": c.line})).collect::<Vec<_>>(),
            }),
        );
    }
    let doc = json!({
        "connection_id": ch.context.connection_id,
        "channel_id": ch.context.channel_id,
        "streams": index,
    });
    write_atomically(&dir.join("index.json"), force, false, |w| {
        serde_json::to_writer_pretty(&mut *w, &doc)?;
        w.write_all(b"\n")
    })?;
    report::note(&format!("wrote {}", dir.display()));
    Ok(())
}
