//! Output formats: every format `sshtrail convert` writes, listed once in
//! [`OutputFormat`], each one file implementing [`ChannelWriter`].
//!
//! A writer takes one connection's channel events (see
//! [`crate::channel`]) and writes into an [`Output`], a sink that creates
//! named parts: the recording of each channel, a second file beside it
//! (script's timing), files in a folder (streams). Where the parts go is
//! the output's business: one stream ([`StreamOutput`]), memory
//! ([`MemoryOutput`]), or the files and folders of a front end.
//!
//! ```
//! use sshtrail::archive::Archive;
//! use sshtrail::output::{ChannelWriter, MemoryOutput, OutputFormat, WriterOptions};
//!
//! let log = b"2023-06-07T17:32:00Z stdout 68690d0a\n";
//! let mut out = MemoryOutput::default();
//! let format = OutputFormat::Asciicast;
//! let mut writer = format.writer(&WriterOptions::default());
//! Archive::from_bytes("0.hex", log)
//!     .replay(&mut writer.writing_into(&mut out), &mut |_| {})
//!     .unwrap();
//! let cast = String::from_utf8(out.parts().next().unwrap().1.to_vec()).unwrap();
//! assert!(cast.ends_with("[0.000000, \"o\", \"hi\\r\\n\"]\n"));
//! ```

mod asciicast;
mod behind;
mod events;
mod files;
#[cfg(feature = "terminal")]
pub mod report;
mod script;
#[cfg(feature = "siem")]
mod siem;
mod streams;
#[cfg(feature = "terminal")]
mod text;

pub use asciicast::{CastVersion, CastWriter};
pub use behind::{WriteBehind, BEHIND_BUFFER, BEHIND_DEPTH};
pub use events::{event_encoder, EventWriter};
pub use files::{Extracted, FilesWriter, INDEX_NAME};
pub use script::{ScriptFormat, ScriptWriter};
#[cfg(feature = "siem")]
pub use siem::SiemWriter;
pub use streams::StreamsWriter;
#[cfg(feature = "terminal")]
pub use text::TextWriter;

use std::collections::BTreeMap;
use std::fmt;
use std::io::{self, Write};
use std::str::FromStr;

use crate::channel::{ChannelEvent, ChannelEventKind, ChannelSink, ChannelState, ConnectionRef};
use crate::connection::{ChannelMap, Context};
use crate::filter::Filter;
use crate::redact::{Redactions, SecretJudge, SecretRules};

/// Every output format of `sshtrail convert`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[non_exhaustive]
pub enum OutputFormat {
    /// asciicast v2, the asciinema recording format.
    Asciicast,
    /// asciicast v3 (asciinema 3), with the exit status as an `x` event.
    AsciicastV3,
    /// util-linux typescript and `.timing` for scriptreplay.
    Script,
    /// typescript with both streams and the advanced timing format.
    ScriptAdvanced,
    /// Transcript rendered through a terminal emulator.
    #[cfg(feature = "terminal")]
    Text,
    /// The evidence report: one self-contained HTML page a connection
    /// (see [`report`]).
    #[cfg(feature = "terminal")]
    Html,
    /// Canonical jsonl (evidence: byte for byte).
    Jsonl,
    /// The hex line layout (evidence).
    Hex,
    /// The hex dump layout (evidence).
    Hexdump,
    /// Decoded payloads back to back (evidence).
    Raw,
    /// SIEM: Elastic Common Schema documents.
    #[cfg(feature = "siem")]
    Ecs,
    /// SIEM: OCSF events.
    #[cfg(feature = "siem")]
    Ocsf,
    /// SIEM: ArcSight Common Event Format lines.
    #[cfg(feature = "siem")]
    Cef,
    /// SIEM: Splunk HTTP Event Collector envelopes.
    #[cfg(feature = "siem")]
    Hec,
    /// The files transferred over SFTP and SCP, recovered byte for byte
    /// (a folder a channel, see [`FilesWriter`]).
    Files,
}

impl OutputFormat {
    /// Every format, in the order help lists them.
    pub const ALL: &'static [OutputFormat] = &[
        OutputFormat::Asciicast,
        OutputFormat::AsciicastV3,
        OutputFormat::Script,
        OutputFormat::ScriptAdvanced,
        #[cfg(feature = "terminal")]
        OutputFormat::Text,
        #[cfg(feature = "terminal")]
        OutputFormat::Html,
        OutputFormat::Jsonl,
        OutputFormat::Hex,
        OutputFormat::Hexdump,
        OutputFormat::Raw,
        #[cfg(feature = "siem")]
        OutputFormat::Ecs,
        #[cfg(feature = "siem")]
        OutputFormat::Ocsf,
        #[cfg(feature = "siem")]
        OutputFormat::Cef,
        #[cfg(feature = "siem")]
        OutputFormat::Hec,
        OutputFormat::Files,
    ];

    /// The name `--to` takes.
    pub fn name(self) -> &'static str {
        match self {
            OutputFormat::Asciicast => "asciicast",
            OutputFormat::AsciicastV3 => "asciicast-v3",
            OutputFormat::Script => "script",
            OutputFormat::ScriptAdvanced => "script-advanced",
            #[cfg(feature = "terminal")]
            OutputFormat::Text => "text",
            #[cfg(feature = "terminal")]
            OutputFormat::Html => "html",
            OutputFormat::Jsonl => "jsonl",
            OutputFormat::Hex => "hex",
            OutputFormat::Hexdump => "hexdump",
            OutputFormat::Raw => "raw",
            #[cfg(feature = "siem")]
            OutputFormat::Ecs => "ecs",
            #[cfg(feature = "siem")]
            OutputFormat::Ocsf => "ocsf",
            #[cfg(feature = "siem")]
            OutputFormat::Cef => "cef",
            #[cfg(feature = "siem")]
            OutputFormat::Hec => "hec",
            OutputFormat::Files => "files",
        }
    }

    /// One line for people (help text).
    pub fn description(self) -> &'static str {
        match self {
            OutputFormat::Asciicast => "asciicast v2 (asciinema)",
            OutputFormat::AsciicastV3 => {
                "asciicast v3 (asciinema 3), with the exit status as an `x` event"
            }
            OutputFormat::Script => "util-linux typescript + `.timing` for scriptreplay",
            OutputFormat::ScriptAdvanced => {
                "typescript with both streams + advanced `.timing` (I, O, S SIGWINCH, H)"
            }
            #[cfg(feature = "terminal")]
            OutputFormat::Text => {
                "transcript rendered through a terminal emulator, scrolled and cleared text kept"
            }
            #[cfg(feature = "terminal")]
            OutputFormat::Html => {
                "evidence report: one self-contained HTML page a connection (player, commands, search, transcript): CONNECTION/report.html"
            }
            OutputFormat::Jsonl => "canonical jsonl",
            OutputFormat::Hex => "hex line layout",
            OutputFormat::Hexdump => "hex dump layout",
            OutputFormat::Raw => "decoded payloads back to back",
            #[cfg(feature = "siem")]
            OutputFormat::Ecs => "SIEM: Elastic Common Schema 8.x documents, one a line",
            #[cfg(feature = "siem")]
            OutputFormat::Ocsf => {
                "SIEM: OCSF 1.3 events (SSH, Process and File System Activity), one a line"
            }
            #[cfg(feature = "siem")]
            OutputFormat::Cef => "SIEM: ArcSight Common Event Format lines",
            #[cfg(feature = "siem")]
            OutputFormat::Hec => "SIEM: Splunk HTTP Event Collector envelopes",
            OutputFormat::Files => {
                "the files transferred over SFTP and SCP, recovered: CONNECTION/CHANNEL/NNN-NAME and files.jsonl"
            }
        }
    }

    /// The file extension of a channel's output.
    pub fn ext(self) -> &'static str {
        match self {
            OutputFormat::Asciicast | OutputFormat::AsciicastV3 => "cast",
            OutputFormat::Script | OutputFormat::ScriptAdvanced => "typescript",
            #[cfg(feature = "terminal")]
            OutputFormat::Text => "txt",
            #[cfg(feature = "terminal")]
            OutputFormat::Html => "html",
            OutputFormat::Jsonl => "jsonl",
            OutputFormat::Hex => "hex",
            OutputFormat::Hexdump => "hexdump",
            OutputFormat::Raw => "bin",
            #[cfg(feature = "siem")]
            OutputFormat::Ecs => "ecs.ndjson",
            #[cfg(feature = "siem")]
            OutputFormat::Ocsf => "ocsf.ndjson",
            #[cfg(feature = "siem")]
            OutputFormat::Cef => "cef",
            #[cfg(feature = "siem")]
            OutputFormat::Hec => "hec",
            OutputFormat::Files => "files",
        }
    }

    /// The suffixes of the files written beside a channel's main output
    /// (`OUT.timing` for script).
    pub fn extra_parts(self) -> &'static [&'static str] {
        match self {
            OutputFormat::Script | OutputFormat::ScriptAdvanced => &["timing"],
            _ => &[],
        }
    }

    /// Whether the format is evidence: the log's events re-encoded exactly,
    /// event by event (so a log can be converted in blocks).
    pub fn is_evidence(self) -> bool {
        matches!(
            self,
            OutputFormat::Jsonl | OutputFormat::Hex | OutputFormat::Hexdump | OutputFormat::Raw
        )
    }

    /// Whether the writer redacts secrets typed at prompts (unless told
    /// not to): every derived format for people does; the evidence formats
    /// and the recovered files (bytes that must match their hash) never do.
    pub fn redacts(self) -> bool {
        !self.is_evidence() && self != OutputFormat::Files
    }

    /// Whether the format writes several files a channel, so needs a folder.
    pub fn needs_folder(self) -> bool {
        self == OutputFormat::Files
    }

    /// Whether the format holds records of a whole connection in time order
    /// (SIEM records), which one stream can take for several channels.
    pub fn is_record_stream(self) -> bool {
        match self {
            #[cfg(feature = "siem")]
            OutputFormat::Ecs | OutputFormat::Ocsf | OutputFormat::Cef | OutputFormat::Hec => true,
            _ => false,
        }
    }

    /// The SIEM format this is, if it is one.
    #[cfg(feature = "siem")]
    pub fn siem_format(self) -> Option<crate::siem::SiemFormat> {
        use crate::siem::SiemFormat;
        match self {
            OutputFormat::Ecs => Some(SiemFormat::Ecs),
            OutputFormat::Ocsf => Some(SiemFormat::Ocsf),
            OutputFormat::Cef => Some(SiemFormat::Cef),
            OutputFormat::Hec => Some(SiemFormat::Hec),
            OutputFormat::Asciicast
            | OutputFormat::AsciicastV3
            | OutputFormat::Script
            | OutputFormat::ScriptAdvanced
            | OutputFormat::Text
            | OutputFormat::Html
            | OutputFormat::Jsonl
            | OutputFormat::Hex
            | OutputFormat::Hexdump
            | OutputFormat::Raw
            | OutputFormat::Files => None,
        }
    }

    /// A writer of this format.
    /// Every format but the evidence ones redacts secrets typed at prompts
    /// unless `options.redact` is `None` ([`crate::redact`]).
    pub fn writer(self, options: &WriterOptions) -> Box<dyn ChannelWriter> {
        let writer = self.plain_writer(options);
        match &options.redact {
            Some(rules) if self.redacts() => Box::new(RedactingWriter::new(writer, rules.clone())),
            _ => writer,
        }
    }

    /// The format's writer, redacting nothing.
    fn plain_writer(self, options: &WriterOptions) -> Box<dyn ChannelWriter> {
        match self {
            OutputFormat::Asciicast => Box::new(CastWriter::new(CastVersion::V2, options)),
            OutputFormat::AsciicastV3 => Box::new(CastWriter::new(CastVersion::V3, options)),
            OutputFormat::Script => Box::new(ScriptWriter::new(ScriptFormat::Classic)),
            OutputFormat::ScriptAdvanced => Box::new(ScriptWriter::new(ScriptFormat::Advanced)),
            #[cfg(feature = "terminal")]
            OutputFormat::Text => Box::new(TextWriter::default()),
            #[cfg(feature = "terminal")]
            OutputFormat::Html => Box::new(report::HtmlWriter::new(
                options,
                report::ReportOptions {
                    idle_time_limit: options
                        .idle_time_limit
                        .unwrap_or(report::DEFAULT_IDLE_LIMIT),
                    ..report::ReportOptions::default()
                },
            )),
            OutputFormat::Jsonl | OutputFormat::Hex | OutputFormat::Hexdump | OutputFormat::Raw => {
                Box::new(EventWriter::new(self, options.filter.clone()))
            }
            #[cfg(feature = "siem")]
            OutputFormat::Ecs => Box::new(SiemWriter::new(crate::siem::SiemFormat::Ecs, options)),
            #[cfg(feature = "siem")]
            OutputFormat::Ocsf => Box::new(SiemWriter::new(crate::siem::SiemFormat::Ocsf, options)),
            #[cfg(feature = "siem")]
            OutputFormat::Cef => Box::new(SiemWriter::new(crate::siem::SiemFormat::Cef, options)),
            #[cfg(feature = "siem")]
            OutputFormat::Hec => Box::new(SiemWriter::new(crate::siem::SiemFormat::Hec, options)),
            OutputFormat::Files => Box::new(FilesWriter::new(true, options.temp_dir.as_deref())),
        }
    }
}

impl fmt::Display for OutputFormat {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// An output format name that is none of [`OutputFormat::ALL`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown output format {name:?} (expected one of: {})", OutputFormat::ALL.iter().map(|f| f.name()).collect::<Vec<_>>().join(", "))]
pub struct UnknownFormat {
    /// The name given.
    pub name: String,
}

impl FromStr for OutputFormat {
    type Err = UnknownFormat;

    /// Parses a name `--to` takes (any case).
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        OutputFormat::ALL
            .iter()
            .copied()
            .find(|f| f.name().eq_ignore_ascii_case(s))
            .ok_or_else(|| UnknownFormat {
                name: s.to_string(),
            })
    }
}

/// Settings of the writers (each uses those that apply to it); build it
/// from [`WriterOptions::default`] with `..WriterOptions::default()`.
#[derive(Debug, Clone)]
pub struct WriterOptions {
    /// asciicast: also record stdin as `i` events.
    pub input: bool,
    /// asciicast: `idle_time_limit` in seconds.
    pub idle_time_limit: Option<f64>,
    /// asciicast: the `title` (else `user@host` from the metadata).
    pub title: Option<String>,
    /// Evidence formats: the event types kept.
    pub filter: Filter,
    /// SIEM: also a record for each line of the data streams, with its text.
    pub io: bool,
    /// SIEM: the most bytes of a line's text a record keeps.
    pub io_max_bytes: usize,
    /// Derived formats: redact secrets typed at prompts with these rules
    /// (the default); `None` keeps every key (`--no-redact`).
    pub redact: Option<SecretRules>,
    /// Files: where the recovered files' bytes wait until each is written
    /// (the system's temporary folder for `None`).
    pub temp_dir: Option<std::path::PathBuf>,
}

impl Default for WriterOptions {
    fn default() -> Self {
        WriterOptions {
            input: false,
            idle_time_limit: None,
            title: None,
            filter: Filter::all(),
            io: false,
            io_max_bytes: 4096,
            redact: Some(SecretRules::default()),
            temp_dir: None,
        }
    }
}

/// What a writer writes into: a file, a second file beside it, or a file in
/// a folder, of a channel (or of the connection).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct PartKey<'a> {
    /// The connection's id, when known.
    pub connection: Option<&'a str>,
    /// The channel's id (`None`: the connection's own part).
    pub channel: Option<&'a str>,
    /// The format's file extension ([`OutputFormat::ext`]).
    pub ext: &'a str,
    /// Which part.
    pub name: PartName<'a>,
}

impl<'a> PartKey<'a> {
    /// The main part of the channel `context`.
    pub fn main(context: &'a Context, ext: &'a str) -> Self {
        PartKey {
            connection: context.connection_id.as_deref(),
            channel: Some(&context.channel_id),
            ext,
            name: PartName::Main,
        }
    }

    /// The same channel's part `name`.
    pub fn with(self, name: PartName<'a>) -> Self {
        PartKey { name, ..self }
    }
}

/// Which part of a channel's output.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PartName<'a> {
    /// The output (`<channel>.<ext>`, or the file `-o` names).
    Main,
    /// A file beside it: `<channel>.<ext>.<suffix>`, `OUT.<suffix>`.
    Suffix(&'a str),
    /// A file in the channel's folder: `<channel>/<name>`.
    InFolder(&'a str),
}

/// Where writers write: creates each part on first use.
pub trait Output {
    /// The writer of a part (created when first asked for).
    fn part(&mut self, key: &PartKey<'_>) -> io::Result<&mut dyn Write>;

    /// The part `key` is complete: an output of files may put it in place
    /// and let go of it now rather than at the end (nothing by default).
    fn close(&mut self, _key: &PartKey<'_>) -> io::Result<()> {
        Ok(())
    }
}

/// Keeps an output to one channel, unless it takes records of several
/// (SIEM records merged in time order): two recordings in one stream make
/// neither playable.
#[derive(Debug, Clone, Default)]
pub struct OneChannel {
    merge: bool,
    first: Option<(Option<String>, Option<String>)>,
}

impl OneChannel {
    /// A guard; `merge` lets parts of several channels share the output.
    pub fn new(merge: bool) -> Self {
        OneChannel { merge, first: None }
    }

    /// Whether the part `key` may go to this output.
    pub fn check(&mut self, key: &PartKey<'_>) -> io::Result<()> {
        // Every write of a channel asks: the same owner is found without
        // allocating.
        if let Some((connection, channel)) = &self.first {
            if connection.as_deref() == key.connection && channel.as_deref() == key.channel {
                return Ok(());
            }
        }
        let owner = (
            key.connection.map(str::to_string),
            key.channel.map(str::to_string),
        );
        match &self.first {
            None => self.first = Some(owner),
            Some(first) if *first == owner || self.merge => {}
            Some(_) => {
                return Err(io::Error::other(
                    "more than one channel: give a folder to write one file a channel into",
                ))
            }
        }
        Ok(())
    }
}

/// Every part into one stream, in the order written: standard output, or
/// one file. Only main parts, of one channel (see [`OneChannel`]).
pub struct StreamOutput<W> {
    out: W,
    owner: OneChannel,
}

impl<W: Write> StreamOutput<W> {
    /// A stream taking one channel's output.
    pub fn new(out: W) -> Self {
        StreamOutput {
            out,
            owner: OneChannel::new(false),
        }
    }

    /// A stream taking the records of every channel, merged (SIEM records).
    pub fn merged(out: W) -> Self {
        StreamOutput {
            out,
            owner: OneChannel::new(true),
        }
    }

    /// The stream back.
    pub fn into_inner(self) -> W {
        self.out
    }
}

impl<W: Write> Output for StreamOutput<W> {
    fn part(&mut self, key: &PartKey<'_>) -> io::Result<&mut dyn Write> {
        if key.name != PartName::Main {
            return Err(io::Error::other(
                "this output writes several files: give a file or folder to write into",
            ));
        }
        self.owner.check(key)?;
        Ok(&mut self.out)
    }
}

/// Every part in memory, by key: for tests, bindings and small conversions.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct MemoryOutput {
    parts: BTreeMap<OwnedPartKey, Vec<u8>>,
}

/// A [`PartKey`] that owns its names.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct OwnedPartKey {
    /// The connection's id.
    pub connection: Option<String>,
    /// The channel's id.
    pub channel: Option<String>,
    /// The extension.
    pub ext: String,
    /// `None` for the main part, else the suffix or file name.
    pub name: Option<String>,
}

impl MemoryOutput {
    /// The parts written, in key order.
    pub fn parts(&self) -> impl Iterator<Item = (&OwnedPartKey, &[u8])> {
        self.parts.iter().map(|(k, v)| (k, v.as_slice()))
    }

    /// The main part of a channel, if written.
    pub fn main(&self, channel: &str) -> Option<&[u8]> {
        self.parts
            .iter()
            .find(|(k, _)| k.channel.as_deref() == Some(channel) && k.name.is_none())
            .map(|(_, v)| v.as_slice())
    }
}

impl Output for MemoryOutput {
    fn part(&mut self, key: &PartKey<'_>) -> io::Result<&mut dyn Write> {
        let owned = OwnedPartKey {
            connection: key.connection.map(str::to_string),
            channel: key.channel.map(str::to_string),
            ext: key.ext.to_string(),
            name: match key.name {
                PartName::Main => None,
                PartName::Suffix(s) | PartName::InFolder(s) => Some(s.to_string()),
            },
        };
        Ok(self.parts.entry(owned).or_default())
    }
}

/// Something a writer had to make up or repair, for the front end to tell.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Note {
    /// The channel it is about.
    pub channel: Context,
    /// The log line, when it is about one event.
    pub line: Option<u64>,
    /// What happened.
    pub message: String,
}

/// One output format: fed the channel events of one or more connections,
/// writes into an [`Output`].
pub trait ChannelWriter {
    /// A connection begins.
    fn connection_start(
        &mut self,
        _conn: &ConnectionRef<'_>,
        _out: &mut dyn Output,
    ) -> io::Result<()> {
        Ok(())
    }

    /// Something happened in a channel.
    fn event(&mut self, ev: &ChannelEvent<'_>, out: &mut dyn Output) -> io::Result<()>;

    /// The connection's events are over.
    fn connection_end(
        &mut self,
        _conn: &ConnectionRef<'_>,
        _out: &mut dyn Output,
    ) -> io::Result<()> {
        Ok(())
    }

    /// What the writer had to make up or repair since the last call.
    fn take_notes(&mut self) -> Vec<Note> {
        Vec::new()
    }

    /// What the writer redacted ([`crate::redact`]); nothing by default.
    fn redactions(&self) -> Redactions {
        Redactions::default()
    }

    /// This writer writing into `out`, as a [`ChannelSink`].
    fn writing_into<'w>(&'w mut self, out: &'w mut dyn Output) -> Writing<'w>
    where
        Self: Sized,
    {
        Writing { writer: self, out }
    }
}

impl ChannelWriter for Box<dyn ChannelWriter> {
    fn connection_start(
        &mut self,
        conn: &ConnectionRef<'_>,
        out: &mut dyn Output,
    ) -> io::Result<()> {
        (**self).connection_start(conn, out)
    }

    fn event(&mut self, ev: &ChannelEvent<'_>, out: &mut dyn Output) -> io::Result<()> {
        (**self).event(ev, out)
    }

    fn connection_end(&mut self, conn: &ConnectionRef<'_>, out: &mut dyn Output) -> io::Result<()> {
        (**self).connection_end(conn, out)
    }

    fn take_notes(&mut self) -> Vec<Note> {
        (**self).take_notes()
    }

    fn redactions(&self) -> Redactions {
        (**self).redactions()
    }
}

/// A writer whose channel events pass a [`SecretJudge`] first: secrets
/// typed at prompts reach it as `*`.
pub struct RedactingWriter<W> {
    inner: W,
    judge: SecretJudge,
}

impl<W: ChannelWriter> RedactingWriter<W> {
    /// `inner`, fed through a judge with `rules`.
    pub fn new(inner: W, rules: SecretRules) -> Self {
        RedactingWriter {
            inner,
            judge: SecretJudge::new(rules),
        }
    }

    /// The writer fed.
    pub fn inner_mut(&mut self) -> &mut W {
        &mut self.inner
    }
}

impl<W: ChannelWriter> ChannelWriter for RedactingWriter<W> {
    fn connection_start(
        &mut self,
        conn: &ConnectionRef<'_>,
        out: &mut dyn Output,
    ) -> io::Result<()> {
        self.inner.connection_start(conn, out)
    }

    fn event(&mut self, ev: &ChannelEvent<'_>, out: &mut dyn Output) -> io::Result<()> {
        let inner = &mut self.inner;
        self.judge.event(ev, &mut |e| inner.event(e, out))
    }

    fn connection_end(&mut self, conn: &ConnectionRef<'_>, out: &mut dyn Output) -> io::Result<()> {
        self.inner.connection_end(conn, out)
    }

    fn take_notes(&mut self) -> Vec<Note> {
        self.inner.take_notes()
    }

    fn redactions(&self) -> Redactions {
        let mut r = self.inner.redactions();
        r.add(self.judge.redactions());
        r
    }
}

/// A writer and its output, as a [`ChannelSink`].
pub struct Writing<'w> {
    writer: &'w mut dyn ChannelWriter,
    out: &'w mut dyn Output,
}

impl<'w> Writing<'w> {
    /// `writer` writing into `out`.
    pub fn new(writer: &'w mut dyn ChannelWriter, out: &'w mut dyn Output) -> Self {
        Writing { writer, out }
    }
}

impl ChannelSink for Writing<'_> {
    fn connection_start(&mut self, conn: &ConnectionRef<'_>) -> io::Result<()> {
        self.writer.connection_start(conn, self.out)
    }

    fn event(&mut self, ev: &ChannelEvent<'_>) -> io::Result<()> {
        self.writer.event(ev, self.out)
    }

    fn connection_end(&mut self, conn: &ConnectionRef<'_>) -> io::Result<()> {
        self.writer.connection_end(conn, self.out)
    }
}

/// What a per-channel writer keeps for one channel.
pub(crate) trait ChannelPart {
    /// The writer's settings, shared by its channels.
    type Config;

    /// The channel's state when it starts (its first event, or its end for
    /// an empty log); `title` is `user@host` from the connection metadata.
    fn start(config: &Self::Config, state: &ChannelState, title: Option<&str>) -> Self;

    /// An event of the channel; [`ChannelEventKind::Ended`] is the last.
    fn event(&mut self, ev: &ChannelEvent<'_>, out: &mut dyn Output) -> io::Result<()>;

    /// What it had to make up or repair, once the channel ended.
    fn notes(&mut self, _channel: &Context) -> Vec<Note> {
        Vec::new()
    }
}

/// Routes each channel's events to its own [`ChannelPart`].
pub(crate) struct PerChannel<P: ChannelPart> {
    config: P::Config,
    channels: ChannelMap<P>,
    title: Option<String>,
    notes: Vec<Note>,
}

impl<P: ChannelPart> PerChannel<P> {
    pub(crate) fn new(config: P::Config) -> Self {
        PerChannel {
            config,
            channels: ChannelMap::default(),
            title: None,
            notes: Vec::new(),
        }
    }

    pub(crate) fn connection_start(&mut self, conn: &ConnectionRef<'_>) {
        self.title = conn.title();
    }

    pub(crate) fn event(&mut self, ev: &ChannelEvent<'_>, out: &mut dyn Output) -> io::Result<()> {
        let context = &ev.channel.context;
        let (config, title) = (&self.config, self.title.as_deref());
        let part = self
            .channels
            .get_or_insert_with(context, || P::start(config, ev.channel, title));
        part.event(ev, out)?;
        if let ChannelEventKind::Ended { .. } = ev.kind {
            if let Some(mut p) = self.channels.remove(context) {
                self.notes.extend(p.notes(context));
            }
        }
        Ok(())
    }

    pub(crate) fn take_notes(&mut self) -> Vec<Note> {
        std::mem::take(&mut self.notes)
    }
}

/// A [`ChannelWriter`] made of one [`ChannelPart`] a channel.
macro_rules! per_channel_writer {
    ($writer:ty) => {
        impl $crate::output::ChannelWriter for $writer {
            fn connection_start(
                &mut self,
                conn: &$crate::channel::ConnectionRef<'_>,
                _out: &mut dyn $crate::output::Output,
            ) -> std::io::Result<()> {
                self.channels.connection_start(conn);
                Ok(())
            }

            fn event(
                &mut self,
                ev: &$crate::channel::ChannelEvent<'_>,
                out: &mut dyn $crate::output::Output,
            ) -> std::io::Result<()> {
                self.channels.event(ev, out)
            }

            fn take_notes(&mut self) -> Vec<$crate::output::Note> {
                self.channels.take_notes()
            }
        }
    };
}
pub(crate) use per_channel_writer;

/// Runs a log through a writer into memory, for the writers' tests.
#[cfg(test)]
pub(crate) fn convert_log(log: &[u8], writer: &mut dyn ChannelWriter) -> (MemoryOutput, Vec<Note>) {
    let mut out = MemoryOutput::default();
    crate::archive::Archive::from_bytes("0.hex", log)
        .replay(&mut Writing::new(writer, &mut out), &mut |p| panic!("{p}"))
        .expect("a memory output does not fail");
    let notes = writer.take_notes();
    (out, notes)
}
