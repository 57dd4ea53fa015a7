//! `sshtrail commands`: the command lines typed, with their times.

use std::collections::{BTreeMap, HashMap};
use std::io::{self, Write};

use clap::Args;
use serde_json::json;
use sshtrail::archive::Discovery;
use sshtrail::channel::{ChannelEvent, ChannelEventKind, ChannelSink, ConnectionRef};
use sshtrail::connection::Context;
use sshtrail::replay::CommandRecognizer;
use sshtrail::time::{format_rfc3339, Nanos};

use crate::cli::args::FormatArg;
use crate::cli::input;
use crate::cli::report::{CommandResult, Reporter};
use crate::cli::spool::Spool;
use crate::cli::text::offset_text;

/// Arguments of `sshtrail commands`.
#[derive(Args, Debug)]
pub struct CommandsArgs {
    /// One JSON object per line.
    #[arg(long)]
    json: bool,
    /// Input layout.
    #[arg(long, value_enum, default_value_t = FormatArg::Auto)]
    format: FormatArg,
    /// Trail logs or connection directories.
    #[arg(required = true, value_name = "PATH")]
    paths: Vec<String>,
}

/// One channel's commands being found.
struct Found {
    recognizer: CommandRecognizer,
    start: Nanos,
    lines: Spool,
}

/// Writes the commands of each connection, channel by channel (in order of
/// their ids), as they are found.
struct CommandLister<'o> {
    json: bool,
    channels: HashMap<Context, Found>,
    ended: BTreeMap<Context, Spool>,
    out: &'o mut dyn Write,
}

impl CommandLister<'_> {
    fn write(&mut self, context: &Context) -> io::Result<()> {
        let Some(found) = self.channels.get_mut(context) else {
            return Ok(());
        };
        let label = match &context.connection_id {
            Some(c) => format!("{c}/{}", context.channel_id),
            None => context.channel_id.clone(),
        };
        for c in found.recognizer.take() {
            if self.json {
                let line = json!({"connection_id": context.connection_id, "channel_id": context.channel_id, "ts": format_rfc3339(c.ts), "command": c.command, "confidence": c.confidence.name()});
                writeln!(found.lines, "{line}")?;
            } else {
                writeln!(
                    found.lines,
                    "{}  {}  +{}  {:<9}  {}",
                    format_rfc3339(c.ts),
                    label,
                    offset_text(c.ts - found.start),
                    c.confidence.name(),
                    c.command
                )?;
            }
        }
        Ok(())
    }
}

impl ChannelSink for CommandLister<'_> {
    fn event(&mut self, ev: &ChannelEvent<'_>) -> io::Result<()> {
        let context = &ev.channel.context;
        let found = self
            .channels
            .entry(context.clone())
            .or_insert_with(|| Found {
                recognizer: CommandRecognizer::default(),
                start: 0,
                lines: Spool::default(),
            });
        found.start = ev.channel.start();
        found.recognizer.event(ev);
        self.write(context)?;
        if let ChannelEventKind::Ended { .. } = ev.kind {
            if let Some(found) = self.channels.remove(context) {
                self.ended.insert(context.clone(), found.lines);
            }
        }
        Ok(())
    }

    fn connection_end(&mut self, _conn: &ConnectionRef<'_>) -> io::Result<()> {
        for (_, lines) in std::mem::take(&mut self.ended) {
            lines.drain_into(self.out)?;
        }
        Ok(())
    }
}

/// Runs `sshtrail commands`.
pub fn run(args: CommandsArgs) -> CommandResult {
    let mut rep = Reporter::default();
    let archive = input::open(&args.paths, Discovery::connection_folders(), &mut rep);
    let mut out = io::BufWriter::new(io::stdout().lock());
    let mut lister = CommandLister {
        json: args.json,
        channels: HashMap::new(),
        ended: BTreeMap::new(),
        out: &mut out,
    };
    let result = input::replay(&archive, args.format.to_format(), &mut lister, &mut rep);
    match result.and_then(|()| out.flush()) {
        Ok(()) => Ok(rep.code()),
        Err(e) => rep.output_failed(&e),
    }
}
