//! `sshtrail convert --to ecs|ocsf|cef|hec`: SIEM records, one a line, on
//! standard output or atomically into `-o FILE`.

use std::io::{self, BufWriter, Write};
use std::path::Path;

use sshtrail::channel::Channel;
use sshtrail::siem::{self, SiemFormat, SiemOptions, TypedCommand};

use crate::gather::gather;
use crate::load::{channels, load_logs};
use crate::output::write_atomically;
use crate::report::{self, Reporter};

/// The most bytes of a data chunk's text a record keeps with `--io`.
pub const IO_MAX_BYTES: usize = 4096;

/// Writes the SIEM records of every connection PATHS name, in `format`:
/// connection by connection (in the order `gather` gives), each
/// connection's records in time order across its channels. Returns the
/// exit status: 0, or 1 when an input had errors or the output failed.
pub fn run(
    format: SiemFormat,
    paths: &[String],
    output: Option<&Path>,
    io: bool,
    typed_commands: &dyn Fn(&Channel<'_>) -> Vec<TypedCommand>,
) -> u8 {
    let opts = SiemOptions {
        io,
        io_max_bytes: IO_MAX_BYTES,
        product_version: env!("CARGO_PKG_VERSION"),
    };
    let mut rep = Reporter::default();
    let result = match output {
        None => {
            let stdout = io::stdout();
            let mut w = BufWriter::with_capacity(256 << 10, stdout.lock());
            convert(format, paths, &opts, typed_commands, &mut rep, &mut w).and_then(|()| w.flush())
        }
        Some(path) => write_atomically(path, true, true, |w| {
            convert(format, paths, &opts, typed_commands, &mut rep, w)
        }),
    };
    match result {
        Ok(()) => rep.status(),
        Err(e) if e.kind() == io::ErrorKind::BrokenPipe => rep.status(),
        Err(e) => {
            let target = output.map_or("standard output".to_string(), |p| p.display().to_string());
            report::usage(&format!("writing {target} failed: {e}"));
            crate::EXIT_INPUT
        }
    }
}

/// Gathers, loads and converts, writing each connection's records as soon
/// as they are made.
fn convert(
    format: SiemFormat,
    paths: &[String],
    opts: &SiemOptions,
    typed_commands: &dyn Fn(&Channel<'_>) -> Vec<TypedCommand>,
    rep: &mut Reporter,
    w: &mut dyn Write,
) -> io::Result<()> {
    let conns = gather(paths, rep);
    let mut buf = Vec::new();
    for conn in &conns {
        let logs = load_logs(conn, rep);
        let chans = channels(&logs, conn, None, rep);
        let mut events = Vec::new();
        for ch in &chans {
            let commands = typed_commands(ch);
            events.extend(siem::events(
                conn.id.as_deref(),
                conn.meta.as_ref(),
                ch,
                &commands,
                opts,
            ));
        }
        // Stable: channels in order at equal times, each channel's own order kept.
        events.sort_by_key(|e| e.ts);
        for ev in &events {
            buf.clear();
            siem::write(format, ev, &mut buf);
            w.write_all(&buf)?;
        }
    }
    Ok(())
}
