//! Each channel's three streams as raw files, with an index of every chunk.

use std::io::{self, Seek, Write};

use super::{ChannelPart, Output, PartKey, PartName, PerChannel};
use crate::channel::{ChannelEvent, ChannelEventKind, ChannelState, Stream};
use crate::codec::json::push_json_str;
use crate::time::format_rfc3339;

/// Writes, for each channel, the parts `stdin`, `stdout` and `stderr` in
/// the channel's folder (the decoded bytes, evidence) and `index.json`:
///
/// ```text
/// {"channel_id":…,"connection_id":…,"streams":{"stderr":{"bytes":N,"chunks":[{"len":…,"line":…,"offset":…,"ts":…},…]},"stdin":…,"stdout":…}}
/// ```
///
/// The index is written compactly as the chunks come: each stream's list
/// goes to an unnamed temporary file and is copied into `index.json` when
/// the channel ends, so memory stays bounded whatever the number of chunks.
pub struct StreamsWriter {
    channels: PerChannel<StreamsChannel>,
}

impl Default for StreamsWriter {
    fn default() -> Self {
        StreamsWriter {
            channels: PerChannel::new(()),
        }
    }
}

super::per_channel_writer!(StreamsWriter);

/// The key of a file in the channel's folder.
fn file<'a>(ch: &'a ChannelState, name: &'a str) -> PartKey<'a> {
    PartKey::main(&ch.context, "").with(PartName::InFolder(name))
}

struct StreamsChannel {
    /// Each stream's chunk list so far (JSON objects separated by commas),
    /// created with the first chunk.
    lists: [Option<io::BufWriter<std::fs::File>>; 3],
    entry: Vec<u8>,
    /// The time text of the event last logged, and its line: the chunk of
    /// data that follows it is its own (evidence keeps the log's text).
    logged: Option<(u64, String)>,
}

impl ChannelPart for StreamsChannel {
    type Config = ();

    fn start(_: &(), _state: &ChannelState, _title: Option<&str>) -> Self {
        StreamsChannel {
            lists: [None, None, None],
            entry: Vec::new(),
            logged: None,
        }
    }

    fn event(&mut self, ev: &ChannelEvent<'_>, out: &mut dyn Output) -> io::Result<()> {
        let ch = ev.channel;
        match ev.kind {
            ChannelEventKind::Logged { event, .. } => {
                let (line, text) = self.logged.get_or_insert_with(Default::default);
                *line = event.line;
                text.clear();
                text.push_str(&event.ts_text);
                Ok(())
            }
            ChannelEventKind::Data {
                stream,
                ts,
                offset,
                data,
                line,
                ..
            } => {
                out.part(&file(ch, stream.name()))?.write_all(data)?;
                let list = &mut self.lists[stream as usize];
                let first = list.is_none();
                let list = match list {
                    Some(l) => l,
                    None => list.insert(io::BufWriter::new(tempfile::tempfile()?)),
                };
                self.entry.clear();
                if !first {
                    self.entry.push(b',');
                }
                self.entry.extend_from_slice(
                    format!(
                        "{{\"len\":{},\"line\":{line},\"offset\":{offset},\"ts\":",
                        data.len()
                    )
                    .as_bytes(),
                );
                match &self.logged {
                    Some((l, text)) if *l == line => push_json_str(&mut self.entry, text),
                    _ => push_json_str(&mut self.entry, &format_rfc3339(ts)),
                }
                self.entry.push(b'}');
                list.write_all(&self.entry)
            }
            ChannelEventKind::Ended { .. } => {
                for s in Stream::ALL {
                    out.part(&file(ch, s.name()))?;
                }
                let index = out.part(&file(ch, "index.json"))?;
                let mut head = Vec::new();
                head.extend_from_slice(b"{\"channel_id\":");
                push_json_str(&mut head, &ch.context.channel_id);
                head.extend_from_slice(b",\"connection_id\":");
                match &ch.context.connection_id {
                    Some(c) => push_json_str(&mut head, c),
                    None => head.extend_from_slice(b"null"),
                }
                head.extend_from_slice(b",\"streams\":{");
                index.write_all(&head)?;
                // Keys in sorted order, as serde_json writes maps.
                for (n, s) in [Stream::Stderr, Stream::Stdin, Stream::Stdout]
                    .into_iter()
                    .enumerate()
                {
                    if n > 0 {
                        index.write_all(b",")?;
                    }
                    write!(
                        index,
                        "\"{}\":{{\"bytes\":{},\"chunks\":[",
                        s.name(),
                        ch.bytes_of(s)
                    )?;
                    if let Some(list) = self.lists[s as usize].take() {
                        let mut file = list.into_inner().map_err(|e| e.into_error())?;
                        file.rewind()?;
                        io::copy(&mut file, index)?;
                    }
                    index.write_all(b"]}")?;
                }
                index.write_all(b"}}\n")
            }
            _ => Ok(()),
        }
    }
}
