//! `sshtrail commands`: the command lines typed, with their times.

use std::collections::HashMap;
use std::io::{self, Write};

use clap::Args;
use serde_json::json;
use sshtrail::channel::{ChannelEvent, ChannelEventKind, ChannelSink, ConnectionRef};
use sshtrail::connection::Context;
use sshtrail::redact::SecretFilter;
use sshtrail::replay::{CommandRecognizer, Confidence};
use sshtrail::time::{format_rfc3339, Nanos};

use crate::cli::args::{Inputs, Redaction};
use crate::cli::input;
use crate::cli::report::{usage, CommandResult, Reporter};
use crate::cli::spool::{ByChannel, Spool};
use crate::cli::text::person_line;
use crate::cli::text::{label, offset_text};

/// Arguments of `sshtrail commands`.
#[derive(Args, Debug)]
pub struct CommandsArgs {
    /// One JSON object per line.
    #[arg(long)]
    json: bool,
    /// Also the lines given up (Ctrl-C, Ctrl-U clearing the line), with
    /// confidence `abandoned`: they never ran.
    #[arg(long)]
    all: bool,
    #[command(flatten)]
    redaction: Redaction,
    #[command(flatten)]
    inputs: Inputs,
}

/// One channel's commands being found.
struct Found {
    recognizer: CommandRecognizer,
    start: Nanos,
    lines: Spool,
}

/// Writes the commands of each connection, channel by channel (in order of
/// their ids), as they are found.
struct CommandLister {
    json: bool,
    all: bool,
    channels: HashMap<Context, Found>,
    ended: ByChannel,
    out: io::BufWriter<io::StdoutLock<'static>>,
}

impl CommandLister {
    fn write(&mut self, context: &Context) -> io::Result<()> {
        let Some(found) = self.channels.get_mut(context) else {
            return Ok(());
        };
        let commands = found.recognizer.take();
        if commands.is_empty() {
            // Most events end no command: no label to make.
            return Ok(());
        }
        let label = label(context);
        for c in commands {
            if c.confidence == Confidence::Abandoned && !self.all {
                continue;
            }
            if self.json {
                let line = json!({"connection_id": context.connection_id, "channel_id": context.channel_id, "ts": format_rfc3339(c.ts), "command": c.command, "confidence": c.confidence.name()});
                writeln!(found.lines, "{line}")?;
            } else {
                person_line!(
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

impl ChannelSink for CommandLister {
    fn event(&mut self, ev: &ChannelEvent<'_>) -> io::Result<()> {
        let context = &ev.channel.context;
        // The channel's key is copied only for its first event.
        if !self.channels.contains_key(context) {
            self.channels.insert(
                context.clone(),
                Found {
                    recognizer: CommandRecognizer::default(),
                    start: 0,
                    lines: Spool::default(),
                },
            );
        }
        let Some(found) = self.channels.get_mut(context) else {
            return Ok(());
        };
        found.start = ev.channel.start();
        found.recognizer.event(ev);
        self.write(context)?;
        if let ChannelEventKind::Ended { .. } = ev.kind {
            if let Some(found) = self.channels.remove(context) {
                self.ended.ended(context, found.lines)?;
            }
        }
        Ok(())
    }

    fn connection_end(&mut self, _conn: &ConnectionRef<'_>) -> io::Result<()> {
        self.ended.drain_into(&mut self.out)
    }
}

/// Runs `sshtrail commands`.
pub fn run(args: CommandsArgs) -> CommandResult {
    let mut rep = Reporter::default();
    let mut lister = CommandLister {
        json: args.json,
        all: args.all,
        channels: HashMap::new(),
        ended: ByChannel::default(),
        out: input::stdout(),
    };
    let rules = args.redaction.rules().map_err(usage)?;
    let result = match rules {
        Some(rules) => {
            let mut filter = SecretFilter::new(&mut lister, rules);
            input::replay_inputs(&args.inputs, &mut filter, &mut rep)
        }
        None => input::replay_inputs(&args.inputs, &mut lister, &mut rep),
    };
    input::finish(result, &mut lister.out, &rep)
}
