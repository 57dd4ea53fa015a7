//! The evidence formats: each channel's events written back exactly, in one
//! of the log layouts (jsonl, hex, hex dump) or as raw payload bytes.

use std::io;

use super::{ChannelPart, Note, Output, OutputFormat, PartKey, PerChannel};
use crate::channel::{ChannelEvent, ChannelEventKind, ChannelState};
use crate::connection::Context;
use crate::encode::{
    EncodeError, Encoder, HexDumpEncoder, HexLineEncoder, JsonlEncoder, RawEncoder,
};
use crate::filter::Filter;

/// The event encoder of an evidence format; `first` says whether it starts
/// the output (the hex dump layout writes a comment line first). Other
/// formats get the raw encoder.
pub fn event_encoder(format: OutputFormat, first: bool) -> Box<dyn Encoder + Send> {
    match format {
        OutputFormat::Jsonl => Box::new(JsonlEncoder::default()),
        OutputFormat::Hex => Box::new(HexLineEncoder::default()),
        OutputFormat::Hexdump if first => Box::new(HexDumpEncoder::default()),
        OutputFormat::Hexdump => Box::new(HexDumpEncoder::continuing()),
        _ => Box::new(RawEncoder),
    }
}

/// Writes each channel's events, the ones `filter` keeps, in an evidence
/// format. Events that the format cannot hold (a type name with a space in
/// the hex layouts) are left out with a note.
pub struct EventWriter {
    channels: PerChannel<EventChannel>,
}

impl EventWriter {
    /// A writer of `format` (jsonl, hex, hexdump or raw) keeping the events
    /// `filter` matches.
    pub fn new(format: OutputFormat, filter: Filter) -> Self {
        EventWriter {
            channels: PerChannel::new((format, filter)),
        }
    }
}

super::per_channel_writer!(EventWriter);

struct EventChannel {
    ext: &'static str,
    filter: Filter,
    encoder: Box<dyn Encoder + Send>,
    notes: Vec<Note>,
}

impl ChannelPart for EventChannel {
    type Config = (OutputFormat, Filter);

    fn start(config: &Self::Config, _state: &ChannelState, _title: Option<&str>) -> Self {
        EventChannel {
            ext: config.0.ext(),
            filter: config.1.clone(),
            encoder: event_encoder(config.0, true),
            notes: Vec::new(),
        }
    }

    fn event(&mut self, ev: &ChannelEvent<'_>, out: &mut dyn Output) -> io::Result<()> {
        let key = PartKey::main(&ev.channel.context, self.ext);
        match ev.kind {
            ChannelEventKind::Logged { event, payload } if self.filter.matches(&event.kind) => {
                match self.encoder.event(out.part(&key)?, event, payload) {
                    Ok(()) => Ok(()),
                    Err(EncodeError::Io(e)) => Err(e),
                    Err(EncodeError::Unrepresentable(m)) => {
                        self.notes.push(Note {
                            channel: ev.channel.context.clone(),
                            line: Some(event.line),
                            message: format!("{m}; event skipped"),
                        });
                        Ok(())
                    }
                }
            }
            ChannelEventKind::Ended { .. } => match self.encoder.finish(out.part(&key)?) {
                Ok(()) => Ok(()),
                Err(EncodeError::Io(e)) => Err(e),
                Err(EncodeError::Unrepresentable(m)) => Err(io::Error::other(m)),
            },
            _ => Ok(()),
        }
    }

    fn notes(&mut self, _channel: &Context) -> Vec<Note> {
        std::mem::take(&mut self.notes)
    }
}
