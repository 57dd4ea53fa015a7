//! The files transferred over SFTP and SCP, recovered byte for byte: one
//! file a transfer in the channel's folder.

use std::collections::HashMap;
use std::io;
use std::path::Path;

use super::{ChannelWriter, Note, Output, PartKey, PartName};
use crate::channel::{ChannelEvent, ChannelEventKind};
use crate::connection::Context;
use crate::transfer::{protocol_of, safe_file_name, Found, Limits, RecoveredFile, TransferDecoder};

/// The index written in each channel's folder when the writer keeps one.
pub const INDEX_NAME: &str = "files.jsonl";

/// Writes each file transferred over a channel as the part
/// `<channel>/<NNN>-<name>` ([`PartName::InFolder`]): `NNN` counts the
/// channel's transfers from 001 and `name` is the last component of the
/// remote path made safe ([`safe_file_name`]: the remote path is hostile
/// input and never names a local file as given). A file not transferred
/// whole is written as `<NNN>-<name>.partial`, the bytes never seen as
/// zeros. With an index, `<channel>/files.jsonl` lists every transfer
/// ([`RecoveredFile::to_json`] and where it was written).
///
/// Each file's bytes wait in an unnamed temporary file until the transfer
/// ends; the writer [closes](Output::close) each part once written, so
/// what stays open does not grow with the number of files.
///
/// ```
/// use sshtrail::archive::Archive;
/// use sshtrail::output::{ChannelWriter, FilesWriter, MemoryOutput};
///
/// // A channel that is not a file transfer writes nothing.
/// let log = b"2023-06-07T17:32:00Z stdout 68690d0a\n";
/// let mut out = MemoryOutput::default();
/// let mut writer = FilesWriter::new(true, None);
/// Archive::from_bytes("0.hex", log)
///     .replay(&mut writer.writing_into(&mut out), &mut |_| {})
///     .unwrap();
/// assert_eq!(out.parts().count(), 0);
/// ```
pub struct FilesWriter {
    decoder: TransferDecoder,
    /// Write `<channel>/files.jsonl` too.
    index: bool,
    /// Say so (a [`Note`]) of a channel that transferred no file.
    decline_empty: bool,
    /// Transfers written so far, per channel.
    counts: HashMap<Context, u32>,
    extracted: Vec<Extracted>,
    notes: Vec<Note>,
}

/// A transferred file and where the writer put it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Extracted {
    /// The transfer (its [`RecoveredFile::content`] released).
    pub file: RecoveredFile,
    /// The name of the part in the channel's folder, when it was written.
    pub name: Option<String>,
}

impl Extracted {
    /// The transfer as a JSON object ([`RecoveredFile::to_json`]) with
    /// `extracted` (the file's path under the output folder,
    /// `<connection>/<channel>/<name>`, or null) and `partial`.
    pub fn to_json(&self) -> serde_json::Value {
        let mut v = self.file.to_json();
        let at = self.name.as_ref().map(|n| {
            let c = &self.file.context;
            match &c.connection_id {
                Some(conn) => format!("{conn}/{}/{n}", c.channel_id),
                None => format!("{}/{n}", c.channel_id),
            }
        });
        if let Some(o) = v.as_object_mut() {
            o.insert("extracted".into(), at.into());
            o.insert(
                "partial".into(),
                self.name.as_ref().map(|n| n.ends_with(".partial")).into(),
            );
        }
        v
    }
}

impl FilesWriter {
    /// A writer keeping each file's bytes in temporary files under
    /// `temp_dir` (the system's for `None`; the output's file system saves
    /// a copy across devices); `index` also writes `<channel>/files.jsonl`
    /// and declines, with a [`Note`], each channel that transferred no file
    /// (so a batch lists it as skipped, saying why).
    pub fn new(index: bool, temp_dir: Option<&Path>) -> Self {
        FilesWriter {
            decoder: TransferDecoder::keeping_contents(Limits::default(), temp_dir),
            index,
            decline_empty: index,
            counts: HashMap::new(),
            extracted: Vec::new(),
            notes: Vec::new(),
        }
    }

    /// The transfers written (or not) since the last call, in order.
    pub fn take_extracted(&mut self) -> Vec<Extracted> {
        std::mem::take(&mut self.extracted)
    }

    fn file(&mut self, mut file: RecoveredFile, out: &mut dyn Output) -> io::Result<()> {
        let content = file.content.take();
        let n = self.counts.entry(file.context.clone()).or_insert(0);
        *n += 1;
        let name = content.as_ref().map(|_| {
            let partial = if file.complete { "" } else { ".partial" };
            format!("{n:03}-{}{partial}", safe_file_name(&file.path))
        });
        let context = file.context.clone();
        if let (Some(content), Some(name)) = (&content, &name) {
            let key = PartKey::main(&context, "").with(PartName::InFolder(name));
            content.copy_to(out.part(&key)?)?;
            out.close(&key)?;
        } else {
            self.notes.push(Note {
                channel: file.context.clone(),
                line: Some(file.line),
                message: format!(
                    "{}: not written: {}",
                    file.path,
                    file.why_incomplete
                        .as_deref()
                        .unwrap_or("its content was not kept")
                ),
            });
        }
        let extracted = Extracted { file, name };
        if self.index {
            let line = extracted.to_json().to_string();
            let key = PartKey::main(&context, "").with(PartName::InFolder(INDEX_NAME));
            let index = out.part(&key)?;
            index.write_all(line.as_bytes())?;
            index.write_all(b"\n")?;
        }
        self.extracted.push(extracted);
        Ok(())
    }
}

impl ChannelWriter for FilesWriter {
    fn event(&mut self, ev: &ChannelEvent<'_>, out: &mut dyn Output) -> io::Result<()> {
        crate::channel::ChannelSink::event(&mut self.decoder, ev)?;
        if let ChannelEventKind::Ended { .. } = ev.kind {
            // The decoder has said all it will of the channel.
            self.take_found(out)?;
            let ch = ev.channel;
            if self.decline_empty && !self.counts.contains_key(&ch.context) {
                let message = match protocol_of(ch) {
                    Some(p) => format!("no file was transferred over this {} channel", p.name()),
                    None => "not a file transfer (sftp or scp) channel: no file to recover".into(),
                };
                self.notes.push(Note {
                    channel: ch.context.clone(),
                    line: None,
                    message,
                });
            }
            return Ok(());
        }
        self.take_found(out)
    }

    fn take_notes(&mut self) -> Vec<Note> {
        std::mem::take(&mut self.notes)
    }
}

impl FilesWriter {
    fn take_found(&mut self, out: &mut dyn Output) -> io::Result<()> {
        for found in self.decoder.take() {
            match found {
                Found::File(f) => self.file(f, out)?,
                Found::Problem(p) => self.notes.push(Note {
                    channel: p.context.clone(),
                    line: Some(p.line),
                    message: p.kind.to_string(),
                }),
                Found::Op(_) => {}
            }
        }
        Ok(())
    }
}
