//! SIEM records (ECS, OCSF, CEF, Splunk HEC), one a line.

use std::cell::Cell;
use std::collections::HashSet;
use std::io;

use super::{ChannelWriter, Output, PartKey, WriterOptions};
use crate::archive::{Archive, Problem, ReplayCounts, ReplayOptions};
use crate::channel::{ChannelEvent, ChannelEventKind, ConnectionRef};
use crate::connection::Context;
use crate::siem::{self, RecordBuilder, RecordWriter, SiemEvent, SiemFormat, SiemOptions};

/// Writes the SIEM records of each connection in time order, each record
/// into the part of its channel: a stream output (standard output, one
/// file) gets the connection's records merged; a folder gets one file a
/// channel, the connection's own records (start, end) going into the file
/// of the first channel seen.
pub struct SiemWriter {
    format: SiemFormat,
    options: SiemOptions,
    records: RecordBuilder,
    /// Secrets typed at prompts are judged before records are made
    /// ([`Self::write_merged`]; a writer fed events is behind the judge of
    /// [`super::OutputFormat::writer`]).
    redact: Option<crate::redact::SecretRules>,
    /// What [`Self::write_merged`] redacted.
    redactions: crate::redact::Redactions,
    /// The connection being written.
    connection: Option<String>,
    /// The first channel seen of it: its part takes the connection's own
    /// records.
    home: Option<String>,
    /// Channels whose part exists (every channel gets one, even without
    /// records).
    touched: HashSet<Context>,
    /// Writes the records (what they share, once).
    writer: RecordWriter,
    line: Vec<u8>,
}

impl SiemWriter {
    /// A writer of `format` with the SIEM settings of `options`.
    pub fn new(format: SiemFormat, options: &WriterOptions) -> Self {
        let options = SiemOptions {
            io: options.io,
            io_max_bytes: options.io_max_bytes,
            product_version: env!("CARGO_PKG_VERSION"),
            recognize_commands: true,
        };
        SiemWriter {
            format,
            options,
            records: RecordBuilder::new(options),
            redact: None,
            redactions: Default::default(),
            connection: None,
            home: None,
            touched: HashSet::new(),
            writer: RecordWriter::new(format),
            line: Vec::new(),
        }
    }

    /// Replays every connection of `archive` and writes their records into
    /// `out` in time order across all of them ([`siem::merge_records`]):
    /// what a stream output of several connections takes.
    pub fn write_merged(
        &mut self,
        archive: &Archive,
        options: &ReplayOptions,
        out: &mut dyn Output,
        problems: &mut dyn FnMut(Problem),
    ) -> io::Result<ReplayCounts> {
        let ext = self.ext();
        let (buf, writer) = (&mut self.line, &mut self.writer);
        let counts = if let [_] = archive.connections.as_slice() {
            // One connection: each record goes to `emit` as soon as `make`
            // has turned it ([`siem::merge_records`]), so `make` writes it
            // out itself, with no copy of its line and its ids kept for
            // `emit`; `emit` hands on how the write went.
            let failed: Cell<Option<io::Error>> = Cell::new(None);
            siem::merge_records(
                archive,
                options,
                self.options,
                self.redact.as_ref(),
                &mut |r| {
                    let ids = (r.conn.connection_id.as_deref(), None);
                    if let Err(e) = write_record(writer, ext, ids, buf, out, r) {
                        failed.set(Some(e));
                    }
                },
                &mut |()| failed.take().map_or(Ok(()), Err),
                problems,
            )?
        } else {
            // Records are written into one buffer and copied out at their
            // size: a new Vec grown record by record cost several
            // reallocations each.
            siem::merge_records(
                archive,
                options,
                self.options,
                self.redact.as_ref(),
                &mut |r| {
                    buf.clear();
                    writer.write(r, buf);
                    (
                        r.conn.connection_id.clone(),
                        r.channel_id.clone(),
                        buf.clone(),
                    )
                },
                &mut |(connection, channel, line)| {
                    let key = PartKey {
                        connection: connection.as_deref(),
                        channel: channel.as_deref(),
                        ext,
                        name: super::PartName::Main,
                    };
                    out.part(&key)?.write_all(&line)
                },
                problems,
            )?
        };
        self.redactions.add(counts.redactions);
        Ok(counts.replay)
    }

    /// Judges secrets typed at prompts with `rules` in
    /// [`Self::write_merged`] (`None`: keeps every key).
    pub fn redacting(self, rules: Option<crate::redact::SecretRules>) -> Self {
        SiemWriter {
            redact: rules,
            ..self
        }
    }

    fn ext(&self) -> &'static str {
        match self.format {
            SiemFormat::Ecs => "ecs.ndjson",
            SiemFormat::Ocsf => "ocsf.ndjson",
            SiemFormat::Cef => "cef",
            SiemFormat::Hec => "hec",
        }
    }
}

/// Writes one record into its channel's part (a record of the connection
/// itself: into the part of `home`).
fn write_record(
    writer: &mut RecordWriter,
    ext: &str,
    (connection, home): (Option<&str>, Option<&str>),
    line: &mut Vec<u8>,
    out: &mut dyn Output,
    record: &SiemEvent,
) -> io::Result<()> {
    line.clear();
    writer.write(record, line);
    let key = PartKey {
        connection,
        channel: record.channel_id.as_deref().or(home),
        ext,
        name: super::PartName::Main,
    };
    out.part(&key)?.write_all(line)
}

impl ChannelWriter for SiemWriter {
    fn redactions(&self) -> crate::redact::Redactions {
        self.redactions
    }

    fn connection_start(
        &mut self,
        conn: &ConnectionRef<'_>,
        _out: &mut dyn Output,
    ) -> io::Result<()> {
        self.connection = conn.id.map(str::to_string);
        self.home = None;
        self.touched.clear();
        self.records.connection_start(conn);
        Ok(())
    }

    fn event(&mut self, ev: &ChannelEvent<'_>, out: &mut dyn Output) -> io::Result<()> {
        let ext = self.ext();
        if self.home.is_none() {
            self.home = Some(ev.channel.context.channel_id.clone());
        }
        let connection = self.connection.as_deref();
        let home = self.home.as_deref();
        if let ChannelEventKind::Ended { .. } = ev.kind {
            if self.touched.insert(ev.channel.context.clone()) {
                out.part(&PartKey {
                    connection,
                    channel: Some(&ev.channel.context.channel_id),
                    ext,
                    name: super::PartName::Main,
                })?;
            }
        }
        let (line, writer) = (&mut self.line, &mut self.writer);
        self.records.event(ev, &mut |r| {
            write_record(writer, ext, (connection, home), line, out, r)
        })
    }

    fn connection_end(
        &mut self,
        _conn: &ConnectionRef<'_>,
        out: &mut dyn Output,
    ) -> io::Result<()> {
        let ext = self.ext();
        let (connection, home) = (self.connection.as_deref(), self.home.as_deref());
        let (line, writer) = (&mut self.line, &mut self.writer);
        self.records
            .connection_end(&mut |r| write_record(writer, ext, (connection, home), line, out, r))
    }
}
