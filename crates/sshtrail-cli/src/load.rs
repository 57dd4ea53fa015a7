//! Loading whole logs and folding them into channels, for the commands that
//! look at a channel as a whole (`inspect`, `streams`).

use std::collections::BTreeMap;
use std::io::Read;
use std::path::PathBuf;

use sshtrail::channel::{Channel, ChannelBuilder};
use sshtrail::connection::Context;
use sshtrail::{Format, SliceReader};

use crate::gather::ConnectionInput;
use crate::input::{display_name, open, Bytes, Input};
use crate::report::Reporter;

/// A log read into memory (mapped when large), with its context.
pub struct LoadedLog {
    pub path: PathBuf,
    pub context: Context,
    pub bytes: Bytes,
}

/// Reads every log of a connection; unreadable ones are reported and left out.
pub fn load_logs(conn: &ConnectionInput, rep: &mut Reporter) -> Vec<LoadedLog> {
    let mut out = Vec::new();
    for (path, context) in &conn.logs {
        let arg = path.to_string_lossy();
        let bytes = match open(&arg) {
            Ok(Input::Bytes(b)) => b,
            Ok(Input::Stream(mut r)) => {
                let mut v = Vec::new();
                if let Err(e) = r.read_to_end(&mut v) {
                    rep.input_error(display_name(&arg), &e.to_string());
                    continue;
                }
                Bytes::Owned(v)
            }
            Err(e) => {
                rep.input_error(display_name(&arg), &e.to_string());
                continue;
            }
        };
        out.push(LoadedLog {
            path: path.clone(),
            context: context.clone(),
            bytes,
        });
    }
    out
}

/// Folds logs into channels. Events that carry a `channel_id` go to that
/// channel; the others to the channel their file names. Problems are
/// reported and counted in each channel's integrity verdict.
pub fn channels<'a>(
    logs: &'a [LoadedLog],
    conn: &ConnectionInput,
    format: Option<Format>,
    rep: &mut Reporter,
) -> Vec<Channel<'a>> {
    let mut builders: BTreeMap<Context, ChannelBuilder<'a>> = BTreeMap::new();
    let mut buf = Vec::new();
    for log in logs {
        let name = log.path.to_string_lossy().into_owned();
        let name = display_name(&name);
        builders
            .entry(log.context.clone())
            .or_insert_with(|| ChannelBuilder::new(log.context.clone()));
        for record in SliceReader::with_format(&log.bytes, format) {
            let event = match record {
                Ok(ev) => ev,
                Err(e) => {
                    rep.parse_error(name, &e);
                    if let Some(b) = builders.get_mut(&log.context) {
                        b.log_problem(&e);
                    }
                    continue;
                }
            };
            let context = match event.channel_id() {
                Some(id) => Context {
                    connection_id: log.context.connection_id.clone(),
                    channel_id: id.into_owned(),
                },
                None => log.context.clone(),
            };
            let builder = builders
                .entry(context.clone())
                .or_insert_with(|| ChannelBuilder::new(context));
            if let Err(e) = builder.push(&event, &mut buf) {
                rep.parse_error(name, &e);
                builder.log_problem(&e);
            }
        }
    }
    builders
        .into_values()
        .map(|b| b.finish(conn.meta.as_ref()))
        .collect()
}
