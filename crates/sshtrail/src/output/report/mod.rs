//! The evidence report: one self-contained HTML page a connection, with a
//! player, a command timeline, a search over what the screen showed and
//! the transcript (`sshtrail report`, `convert --to html`).
//!
//! [`HtmlWriter`] is a [`ChannelWriter`]: fed a connection's channel events,
//! it writes the page as the connection's own part (`channel: None`, ext
//! `html`) when the connection ends. What grows with the session (the
//! recording, the transcript, the search index) waits in temporary files
//! that stay in memory while small ([`tempfile::SpooledTempFile`]), so
//! memory stays at a screen a terminal channel whatever the session's
//! length; the page is written from them in a stream.
//!
//! The page needs nothing from the network: the asciinema player (npm
//! `asciinema-player` 3.18.0, Apache-2.0, vendored beside this file with
//! its licence and SHA-256 in `vendor/README.md`) and the recordings are
//! embedded. Times on the page are offsets from the connection's start
//! (its first event), as `sshtrail screen --at` takes them. Everything
//! but the player reads without JavaScript.
//!
//! ```
//! use sshtrail::archive::Archive;
//! use sshtrail::output::{ChannelWriter, MemoryOutput, OutputFormat, WriterOptions};
//!
//! let log = b"2023-06-07T17:32:00Z stdout 68690d0a\n";
//! let mut out = MemoryOutput::default();
//! let mut writer = OutputFormat::Html.writer(&WriterOptions::default());
//! Archive::from_bytes("0.hex", log)
//!     .replay(&mut writer.writing_into(&mut out), &mut |_| {})
//!     .unwrap();
//! let page = String::from_utf8(out.parts().next().unwrap().1.to_vec()).unwrap();
//! assert!(page.starts_with("<!DOCTYPE html>"));
//! ```

use std::collections::{HashMap, HashSet};
use std::fmt::Write as _;
use std::io::{self, BufRead, Seek, Write};
use std::path::{Path, PathBuf};

use tempfile::SpooledTempFile;

use crate::channel::{
    ChannelEvent, ChannelEventKind, ChannelSink, ChannelState, ConnectionRef, ConnectionSummary,
    RequestKind, Stream, SummaryCollector,
};
use crate::connection::{Connection, Context};
use crate::crosscheck::FileChecker;
use crate::output::{
    CastVersion, CastWriter, ChannelWriter, Output, PartKey, PartName, WriterOptions,
};
use crate::replay::{CommandRecognizer, Confidence, Screen};
use crate::time::{format_rfc3339, Nanos, NANOS_PER_SEC};

/// The asciinema player's JavaScript (npm `asciinema-player` 3.18.0).
pub const PLAYER_JS: &str = include_str!("vendor/asciinema-player.min.js");
/// The asciinema player's style sheet.
pub const PLAYER_CSS: &str = include_str!("vendor/asciinema-player.css");
const PAGE_JS: &str = include_str!("page.js");
const PAGE_CSS: &str = include_str!("page.css");

/// The version of sshtrail that makes the pages.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");

/// The default cap on idle gaps in the player, in seconds.
pub const DEFAULT_IDLE_LIMIT: f64 = 2.0;

/// The default most bytes of recording a part of the player holds: a
/// longer recording is split into parts with a part selector.
pub const DEFAULT_PART_BYTES: usize = 4 << 20;

/// Bytes of a spooled buffer kept in memory before it goes to a file.
const SPOOL_MEMORY: usize = 1 << 20;

/// Bytes of a channel without a terminal shown on the page, per stream.
const OTHER_OUTPUT_SHOWN: usize = 64 << 10;

/// The default size up to which a transcript is shown open.
pub const OPEN_TRANSCRIPT: u64 = 256 << 10;

/// Search index entries kept a channel (past it, the page says so).
const MAX_INDEX_ENTRIES: u64 = 2_000_000;

/// One input of a report: where it lay, its size and SHA-256.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Custody {
    /// The path as given.
    pub path: String,
    /// Its size in bytes, when it could be read.
    pub size: Option<u64>,
    /// Its SHA-256 in lowercase hex, when it could be read.
    pub sha256: Option<String>,
    /// Why it could not be read.
    pub error: Option<String>,
}

impl Custody {
    /// Reads `path` as stored (not decompressed) and hashes it.
    pub fn of_file(path: &Path) -> Custody {
        let name = path.display().to_string();
        match crate::digest::sha256_file(path) {
            Ok((size, sha)) => Custody {
                path: name,
                size: Some(size),
                sha256: Some(crate::digest::hex(&sha)),
                error: None,
            },
            Err(e) => Custody {
                path: name,
                size: None,
                sha256: None,
                error: Some(e.to_string()),
            },
        }
    }
}

/// What the index of several pages lists of one connection.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct PageSummary {
    /// The connection id.
    pub id: Option<String>,
    /// Who: the user.
    pub user: Option<String>,
    /// From where: the client's address.
    pub from: Option<String>,
    /// Where: `account@host`.
    pub target: Option<String>,
    /// When it started.
    pub started: Option<String>,
    /// How long it lasted, in seconds.
    pub duration: f64,
    /// How many channels.
    pub channels: usize,
    /// How many typed commands (exec commands included).
    pub commands: usize,
    /// How many files were transferred.
    pub files: usize,
    /// The worst integrity verdict of its channels.
    pub integrity: String,
}

/// Settings of the report, past those of [`WriterOptions`].
#[derive(Debug, Clone)]
pub struct ReportOptions {
    /// The player's default cap on idle gaps, in seconds.
    pub idle_time_limit: f64,
    /// The most bytes of recording a part of the player holds.
    pub part_bytes: usize,
    /// The time the report is made (RFC 3339); `None`: now.
    pub made_at: Option<String>,
    /// A transcript up to this many bytes is shown open; a longer one
    /// starts closed (laying it out would hold the page up).
    pub open_transcript: u64,
}

impl Default for ReportOptions {
    fn default() -> Self {
        ReportOptions {
            idle_time_limit: DEFAULT_IDLE_LIMIT,
            part_bytes: DEFAULT_PART_BYTES,
            made_at: None,
            open_transcript: OPEN_TRANSCRIPT,
        }
    }
}

/// Writes one HTML page a connection (see the [module](self)).
pub struct HtmlWriter {
    options: ReportOptions,
    redacting: bool,
    conn: Option<Page>,
    pages: Vec<PageSummary>,
}

impl HtmlWriter {
    /// A writer; `writer.redact` says whether the page says secrets typed
    /// at prompts were redacted (the redaction itself wraps the writer,
    /// see [`crate::output::OutputFormat::writer`]).
    pub fn new(writer: &WriterOptions, options: ReportOptions) -> Self {
        HtmlWriter {
            options,
            redacting: writer.redact.is_some(),
            conn: None,
            pages: Vec::new(),
        }
    }

    /// What was written of each connection so far, for an index page.
    pub fn take_pages(&mut self) -> Vec<PageSummary> {
        std::mem::take(&mut self.pages)
    }
}

/// A spooled buffer.
fn spool() -> SpooledTempFile {
    SpooledTempFile::new(SPOOL_MEMORY)
}

/// Routes each channel's cast into its own spooled buffer.
#[derive(Default)]
struct CastSpools {
    files: HashMap<String, SpooledTempFile>,
}

impl Output for CastSpools {
    fn part(&mut self, key: &PartKey<'_>) -> io::Result<&mut dyn Write> {
        let ch = key.channel.unwrap_or_default().to_string();
        Ok(self.files.entry(ch).or_insert_with(spool))
    }
}

/// One terminal channel being recorded.
struct Terminal {
    screen: Screen,
    /// The rows of the screen after the previous output.
    rows: HashSet<String>,
    /// `[t,"text"]` entries, comma-separated.
    index: SpooledTempFile,
    index_entries: u64,
    /// Transcript lines as HTML.
    transcript: SpooledTempFile,
    commands: CommandRecognizer,
    /// The commands recognised so far, kept on disk past a MiB: a page of a
    /// day-long session lists hundreds of thousands.
    found: CommandSpool,
}

/// Commands written one after another to a spooled buffer, read back in
/// order as many times as the page needs them (the timeline, then the
/// markers of the recording).
struct CommandSpool {
    file: SpooledTempFile,
    /// Every command recognised, those given up included (the page's count
    /// has always included them).
    recognised: usize,
    /// The commands kept in `file`: those not given up.
    kept: usize,
}

impl CommandSpool {
    fn new() -> Self {
        CommandSpool {
            file: spool(),
            recognised: 0,
            kept: 0,
        }
    }

    /// Keeps `c` unless it was given up: a command never run is not on the
    /// page's timeline or in its recording.
    fn push(&mut self, c: &crate::replay::Command) -> io::Result<()> {
        self.recognised += 1;
        if c.confidence == Confidence::Abandoned {
            return Ok(());
        }
        let confidence: u8 = match c.confidence {
            Confidence::Exact => 0,
            Confidence::Echo => 1,
            Confidence::Uncertain => 2,
            // Not kept (above); any later kind reads back as uncertain.
            _ => 3,
        };
        let len = u32::try_from(c.command.len()).map_err(io::Error::other)?;
        self.file.seek(io::SeekFrom::End(0))?;
        self.file.write_all(&c.ts.to_le_bytes())?;
        self.file.write_all(&[confidence])?;
        self.file.write_all(&len.to_le_bytes())?;
        self.file.write_all(c.command.as_bytes())?;
        self.kept += 1;
        Ok(())
    }

    /// The kept commands, in order, from the first.
    fn read(&mut self) -> io::Result<SpooledCommands<'_>> {
        self.file.rewind()?;
        Ok(SpooledCommands {
            file: io::BufReader::new(&mut self.file),
            left: self.kept,
        })
    }
}

/// The size of a spooled command's time.
const TS_BYTES: usize = std::mem::size_of::<Nanos>();

/// The commands of a [`CommandSpool`], read back.
struct SpooledCommands<'a> {
    file: io::BufReader<&'a mut SpooledTempFile>,
    left: usize,
}

impl Iterator for SpooledCommands<'_> {
    type Item = io::Result<crate::replay::Command>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.left == 0 {
            return None;
        }
        self.left -= 1;
        let mut read = || -> io::Result<crate::replay::Command> {
            let mut head = [0u8; TS_BYTES + 5];
            io::Read::read_exact(&mut self.file, &mut head)?;
            let (ts, rest) = head.split_at(TS_BYTES);
            let ts = Nanos::from_le_bytes(ts.try_into().map_err(io::Error::other)?);
            let confidence = match rest[0] {
                0 => Confidence::Exact,
                1 => Confidence::Echo,
                _ => Confidence::Uncertain,
            };
            let len = u32::from_le_bytes(rest[1..5].try_into().map_err(io::Error::other)?);
            let mut command = vec![0u8; len as usize];
            io::Read::read_exact(&mut self.file, &mut command)?;
            Ok(crate::replay::Command {
                ts,
                command: String::from_utf8(command).map_err(io::Error::other)?,
                confidence,
            })
        };
        let item = read();
        if item.is_err() {
            self.left = 0;
        }
        Some(item)
    }
}

/// A channel without a terminal: its output, shown up to a cap.
#[derive(Default)]
struct Other {
    out: [Vec<u8>; 3],
    more: [u64; 3],
}

/// One connection's page being gathered.
struct Page {
    id: Option<String>,
    meta: Option<Connection>,
    custody: Vec<Custody>,
    start: Option<Nanos>,
    summaries: SummaryCollector,
    files: FileChecker,
    cast: CastWriter,
    casts: CastSpools,
    terminals: HashMap<Context, Terminal>,
    others: HashMap<Context, Other>,
    /// The channels in order of their first event (their start filled in
    /// when the page is written).
    order: Vec<(Context, Nanos)>,
    /// Each channel's last event time.
    ends: HashMap<Context, Nanos>,
}

impl ChannelWriter for HtmlWriter {
    fn connection_start(
        &mut self,
        conn: &ConnectionRef<'_>,
        _out: &mut dyn Output,
    ) -> io::Result<()> {
        let mut custody = Vec::new();
        for path in conn.logs.map(|l| l.log_paths()).unwrap_or_default() {
            if path.as_os_str() == "-" || path.as_os_str().is_empty() {
                custody.push(Custody {
                    path: "<stdin>".into(),
                    size: None,
                    sha256: None,
                    error: Some("read from a stream: not hashed".into()),
                });
            } else {
                custody.push(Custody::of_file(path));
            }
        }
        if let Some(p) = conn.meta_path {
            custody.push(Custody::of_file(p));
        }
        let mut summaries = SummaryCollector::default();
        summaries.connection_start(conn)?;
        let mut files = FileChecker::default();
        files.connection_start(conn)?;
        let mut cast = CastWriter::new(
            CastVersion::V2,
            &WriterOptions {
                idle_time_limit: None,
                ..WriterOptions::default()
            },
        );
        let mut casts = CastSpools::default();
        cast.connection_start(conn, &mut casts)?;
        self.conn = Some(Page {
            id: conn.id.map(str::to_string),
            meta: conn.meta.cloned(),
            custody,
            start: None,
            summaries,
            files,
            cast,
            casts,
            terminals: HashMap::new(),
            others: HashMap::new(),
            order: Vec::new(),
            ends: HashMap::new(),
        });
        Ok(())
    }

    fn event(&mut self, ev: &ChannelEvent<'_>, _out: &mut dyn Output) -> io::Result<()> {
        let Some(page) = self.conn.as_mut() else {
            return Ok(());
        };
        page.event(ev)
    }

    fn connection_end(&mut self, conn: &ConnectionRef<'_>, out: &mut dyn Output) -> io::Result<()> {
        let Some(mut page) = self.conn.take() else {
            return Ok(());
        };
        page.summaries.connection_end(conn)?;
        page.files.connection_end(conn)?;
        page.cast.connection_end(conn, &mut page.casts)?;
        let key = PartKey {
            connection: conn.id,
            channel: None,
            ext: "html",
            name: PartName::Main,
        };
        let summary = {
            let w = out.part(&key)?;
            let mut w = io::BufWriter::with_capacity(256 << 10, w);
            let s = page.write(&mut w, &self.options, self.redacting)?;
            w.flush()?;
            s
        };
        out.close(&key)?;
        self.pages.push(summary);
        Ok(())
    }
}

impl Page {
    fn event(&mut self, ev: &ChannelEvent<'_>) -> io::Result<()> {
        let ch = ev.channel;
        let ts = ev.kind.ts();
        self.start.get_or_insert(ts);
        self.summaries.event(ev)?;
        self.files.event(ev)?;
        if ch.is_global() {
            // The connection's global requests: their forwards are listed
            // apart, after the channels.
            return Ok(());
        }
        match self.ends.get_mut(&ch.context) {
            Some(end) => *end = (*end).max(ts),
            None => {
                self.ends.insert(ch.context.clone(), ts);
                self.order.push((ch.context.clone(), 0));
            }
        }
        if ch.pty.is_none() {
            if let ChannelEventKind::Data { stream, data, .. } = ev.kind {
                let o = self.others.entry(ch.context.clone()).or_default();
                let i = stream as usize;
                let room = OTHER_OUTPUT_SHOWN.saturating_sub(o.out[i].len());
                let take = room.min(data.len());
                o.out[i].extend_from_slice(&data[..take]);
                o.more[i] += (data.len() - take) as u64;
            }
            return Ok(());
        }
        self.cast.event(ev, &mut self.casts)?;
        let t = self
            .terminals
            .entry(ch.context.clone())
            .or_insert_with(|| Terminal::new(ch));
        t.event(ev)
    }

    /// Writes the page; gives what the index lists of it.
    fn write(
        &mut self,
        w: &mut dyn Write,
        options: &ReportOptions,
        redacting: bool,
    ) -> io::Result<PageSummary> {
        let conn_start = self.start.unwrap_or(0);
        let summary: Option<ConnectionSummary> =
            self.summaries.connections().first().cloned().map(|mut s| {
                for ch in &mut s.channels {
                    if let Some(r) = self.files.report(&ch.context) {
                        r.apply_to(&mut ch.integrity);
                    }
                }
                s
            });
        let m = self.meta.as_ref();
        let end = self.ends.values().copied().max().unwrap_or(conn_start);
        let duration = (end - conn_start) as f64 / NANOS_PER_SEC as f64;
        let user = m.and_then(|m| m.user()).map(str::to_string);
        let from = m.and_then(|m| m.remote_address.clone());
        let account = m.and_then(|m| m.target_host_account.clone());
        let host = m.and_then(|m| m.host()).map(str::to_string);
        let target = match (&account, &host) {
            (Some(a), Some(h)) => Some(format!("{a}@{h}")),
            (None, Some(h)) => Some(h.clone()),
            (Some(a), None) => Some(a.clone()),
            _ => None,
        };
        let started = self.start.map(format_rfc3339);
        let id = self.id.clone();
        let title = format!(
            "SSH connection {}",
            id.as_deref().unwrap_or("(no connection id)")
        );
        let made_at = options
            .made_at
            .clone()
            .unwrap_or_else(|| format_rfc3339(now_nanos()));

        let channels: Vec<_> = summary
            .as_ref()
            .map(|s| s.channels.clone())
            .unwrap_or_default();
        // The channels, in order of their start.
        let mut order = self.order.clone();
        for (context, start) in &mut order {
            *start = channels
                .iter()
                .find(|c| c.context == *context)
                .and_then(|c| c.started_at)
                .unwrap_or(conn_start);
        }
        order.sort_by(|a, b| {
            a.1.cmp(&b.1)
                .then_with(|| a.0.channel_id.cmp(&b.0.channel_id))
        });
        let worst = channels
            .iter()
            .map(|c| c.integrity.verdict)
            .max_by_key(|v| match v {
                crate::channel::Verdict::Ok => 0,
                crate::channel::Verdict::Unknown => 1,
                crate::channel::Verdict::Mismatch => 2,
            })
            .map_or("unknown", |v| v.name());

        writeln!(
            w,
            "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">"
        )?;
        writeln!(
            w,
            "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">"
        )?;
        // No request may leave the page: nothing to fetch, and the policy
        // forbids it should anything try.
        writeln!(w, "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; script-src 'unsafe-inline' 'wasm-unsafe-eval'; style-src 'unsafe-inline'; img-src data:; font-src data:; worker-src blob:\">")?;
        writeln!(w, "<title>{}</title>", esc(&title))?;
        writeln!(w, "<style>{PLAYER_CSS}</style>\n<style>{PAGE_CSS}</style>")?;
        writeln!(w, "</head>\n<body>")?;
        writeln!(
            w,
            "<a class=\"skip\" href=\"#channels\">Skip to the channels</a>"
        )?;
        writeln!(w, "<header>\n<h1>{}</h1>", esc(&title))?;
        writeln!(w, "<dl class=\"facts\">")?;
        let dd = |w: &mut dyn Write, k: &str, v: Option<&str>, class: &str| -> io::Result<()> {
            writeln!(
                w,
                "<dt>{k}</dt><dd class=\"{class}\">{}</dd>",
                esc(v.unwrap_or("not recorded"))
            )
        };
        dd(w, "Who", user.as_deref(), "who")?;
        dd(w, "From", from.as_deref(), "from")?;
        dd(w, "To", target.as_deref(), "target")?;
        dd(
            w,
            "Host address",
            m.and_then(|m| m.target_host_address.as_deref()),
            "address",
        )?;
        // When and how long: the gateway's own times when the metadata has
        // them, else the logs' first and last events.
        let connected = m.and_then(|m| m.connected.as_deref());
        let disconnected = m.and_then(|m| m.disconnected.as_deref());
        let gateway = match (connected, disconnected) {
            (Some(a), Some(b)) => match (
                crate::time::parse_rfc3339(a.as_bytes(), true),
                crate::time::parse_rfc3339(b.as_bytes(), true),
            ) {
                (Ok(ta), Ok(tb)) => Some((
                    format!(
                        "{} to {} (the gateway's times)",
                        crate::time::reformat_rfc3339(a),
                        crate::time::reformat_rfc3339(b)
                    ),
                    tb - ta,
                )),
                _ => None,
            },
            _ => None,
        };
        let (when, span) = match gateway {
            Some((w, d)) => (Some(w), d),
            None => (
                started.clone().map(|s| format!("{s} (the first event)")),
                end - conn_start,
            ),
        };
        dd(w, "When", when.as_deref(), "when")?;
        dd(w, "Duration", Some(&offset_text(span)), "duration")?;
        dd(w, "Status", m.and_then(|m| m.status.as_deref()), "status")?;
        let tags = m.map(|m| m.tags.join(", ")).filter(|t| !t.is_empty());
        dd(w, "Tags", tags.as_deref(), "tags")?;
        let auth = m
            .map(|m| m.authentication_method.join(", "))
            .filter(|t| !t.is_empty());
        dd(w, "Authentication", auth.as_deref(), "auth")?;
        writeln!(w, "</dl>")?;
        writeln!(
            w,
            "<p class=\"times-note\">Times below are offsets from the connection's first event ({}), as <code>sshtrail screen --at</code> takes them.</p>",
            esc(started.as_deref().unwrap_or("unknown"))
        )?;
        if redacting {
            writeln!(w, "<p class=\"redaction\" id=\"redaction\"><strong>Redaction is on:</strong> keys typed at prompts that ask for a secret (passwords, passphrases) are shown as <code>*</code> in the player, the transcript and the commands. The evidence formats (<code>convert --to jsonl</code>) keep every byte.</p>")?;
        } else {
            writeln!(w, "<p class=\"redaction\" id=\"redaction\"><strong>Redaction is off</strong> (<code>--no-redact</code>): secrets typed at prompts are shown as typed.</p>")?;
        }
        writeln!(w, "</header>\n<main>")?;

        // Integrity.
        writeln!(w, "<section id=\"integrity\" aria-labelledby=\"integrity-h\">\n<h2 id=\"integrity-h\">Integrity</h2>")?;
        writeln!(
            w,
            "<p class=\"verdict verdict-{worst}\">Overall: <strong>{}</strong></p>",
            verdict_words(worst)
        )?;
        writeln!(w, "<ul>")?;
        for c in &channels {
            writeln!(
                w,
                "<li>Channel {}: {}</li>",
                esc(&c.id),
                esc(&c.integrity.describe())
            )?;
        }
        writeln!(w, "</ul>\n</section>")?;

        // Chain of custody.
        writeln!(w, "<section id=\"custody\" aria-labelledby=\"custody-h\">\n<h2 id=\"custody-h\">Chain of custody</h2>")?;
        writeln!(w, "<table class=\"custody\"><thead><tr><th scope=\"col\">Input</th><th scope=\"col\">Size (bytes)</th><th scope=\"col\">SHA-256</th></tr></thead><tbody>")?;
        for c in &self.custody {
            writeln!(
                w,
                "<tr><td class=\"path\">{}</td><td class=\"size\">{}</td><td class=\"sha256\"><code>{}</code></td></tr>",
                esc(&c.path),
                c.size.map_or("-".into(), |s| s.to_string()),
                esc(c.sha256.as_deref().or(c.error.as_deref()).unwrap_or("-"))
            )?;
        }
        writeln!(w, "</tbody></table>")?;
        writeln!(
            w,
            "<p>Made by sshtrail <span class=\"version\">{VERSION}</span> at <time class=\"made\">{}</time>.</p>\n</section>",
            esc(&made_at)
        )?;

        // The channels.
        writeln!(w, "<section id=\"channels\" aria-labelledby=\"channels-h\">\n<h2 id=\"channels-h\">Channels</h2>")?;
        let mut n_commands = 0;
        let mut n_files = 0;
        for (i, (context, ch_start)) in order.iter().enumerate() {
            let sum = channels.iter().find(|c| c.context == *context);
            let base = (*ch_start - conn_start) as f64 / NANOS_PER_SEC as f64;
            let kind = sum
                .and_then(|s| s.kind.clone())
                .unwrap_or_else(|| "type unknown".into());
            writeln!(
                w,
                "<section class=\"channel\" id=\"ch{i}\" aria-labelledby=\"ch{i}-h\">\n<h3 id=\"ch{i}-h\">Channel {} ({}), from +{}</h3>",
                esc(&context.channel_id),
                esc(&kind),
                offset_text(*ch_start - conn_start)
            )?;
            if let Some(s) = sum {
                let mut facts = Vec::new();
                if let Some(p) = &s.pty {
                    facts.push(format!("terminal {} {}x{}", p.term, p.cols, p.rows));
                }
                if s.resize_count > 0 {
                    facts.push(format!("{} resize(s)", s.resize_count));
                }
                if let Some(e) = &s.exec {
                    facts.push(format!("exec: {e}"));
                    n_commands += 1;
                }
                if let Some(e) = &s.subsystem {
                    facts.push(format!("subsystem: {e}"));
                }
                if let Some(x) = s.exit_status {
                    facts.push(format!("exit status {x}"));
                }
                if let Some(sig) = &s.exit_signal {
                    facts.push(format!("killed by {}", sig.signal));
                }
                facts.push(format!(
                    "bytes in {} out {} err {}",
                    s.bytes.stdin, s.bytes.stdout, s.bytes.stderr
                ));
                writeln!(
                    w,
                    "<p class=\"channel-facts\">{}</p>",
                    esc(&facts.join(" · "))
                )?;
            }
            if let Some(mut t) = self.terminals.remove(context) {
                let cast = self.casts.files.remove(&context.channel_id);
                n_commands += t.found.recognised;
                t.write(w, i, base, cast, options)?;
            } else if let Some(o) = self.others.remove(context) {
                let report = self.files.report(context);
                let transfers = report.is_some_and(|r| !r.files.is_empty())
                    || sum.is_some_and(|s| s.subsystem.as_deref() == Some("sftp"));
                if transfers {
                    writeln!(w, "<p>The channel's data is a file-transfer protocol: the files are listed below.</p>")?;
                } else {
                    write_other(w, &o)?;
                }
            } else {
                writeln!(w, "<p>No data.</p>")?;
            }
            if let Some(s) = sum {
                if !s.forwards.is_empty() {
                    writeln!(w, "<h4>Forwards</h4><ul class=\"forwards\">")?;
                    for f in &s.forwards {
                        let v = serde_json::to_value(f).unwrap_or_default();
                        writeln!(w, "<li>{}</li>", esc(&describe_value(&v)))?;
                    }
                    writeln!(w, "</ul>")?;
                }
            }
            if let Some(r) = self.files.report(context).filter(|r| !r.files.is_empty()) {
                n_files += r.files.len() + r.unlisted as usize;
                writeln!(w, "<h4>File transfers</h4><table class=\"files\"><thead><tr><th scope=\"col\">Direction</th><th scope=\"col\">Path</th><th scope=\"col\">Size</th><th scope=\"col\">SHA-256</th><th scope=\"col\">Complete</th><th scope=\"col\">Metadata</th></tr></thead><tbody>")?;
                for f in &r.files {
                    writeln!(
                            w,
                            "<tr><td>{} ({})</td><td>{}</td><td>{}</td><td><code>{}</code></td><td>{}</td><td>{}</td></tr>",
                            f.direction,
                            f.protocol,
                            esc(&f.path),
                            f.size,
                            esc(f.sha256.as_deref().unwrap_or("not every byte seen")),
                            if f.complete { "yes" } else { "no" },
                            esc(&if f.differences.is_empty() {
                                "agrees".to_string()
                            } else {
                                f.differences.join("; ")
                            })
                        )?;
                }
                writeln!(w, "</tbody></table>")?;
                if r.unlisted > 0 {
                    writeln!(w, "<p>{} more file(s) not listed.</p>", r.unlisted)?;
                }
            }
            writeln!(w, "</section>")?;
        }
        if let Some(s) = &summary {
            let forwards: Vec<_> = s.global.iter().flat_map(|g| g.forwards.iter()).collect();
            if !forwards.is_empty() {
                writeln!(w, "<section class=\"channel\"><h3>Forwards asked for by the connection</h3><ul class=\"forwards\">")?;
                for f in forwards {
                    let v = serde_json::to_value(f).unwrap_or_default();
                    writeln!(w, "<li>{}</li>", esc(&describe_value(&v)))?;
                }
                writeln!(w, "</ul></section>")?;
            }
        }
        writeln!(w, "</section>\n</main>")?;
        writeln!(
            w,
            "<script>{PLAYER_JS}</script>\n<script>{PAGE_JS}</script>"
        )?;
        writeln!(w, "</body>\n</html>")?;
        Ok(PageSummary {
            id,
            user,
            from,
            target,
            started,
            duration,
            channels: order.len(),
            commands: n_commands,
            files: n_files,
            integrity: worst.to_string(),
        })
    }
}

fn now_nanos() -> Nanos {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as Nanos)
}

fn verdict_words(v: &str) -> &'static str {
    match v {
        "ok" => "the logs agree with the gateway's metadata (byte counts and status); the contents themselves could not be checked",
        "mismatch" => "the logs do NOT agree with the gateway's metadata: see each channel below",
        _ => "could not be fully checked: see each channel below",
    }
}

/// `key value, key value` of a JSON object's set fields.
fn describe_value(v: &serde_json::Value) -> String {
    match v.as_object() {
        Some(o) => o
            .iter()
            .filter(|(_, v)| !v.is_null())
            .map(|(k, v)| match v {
                serde_json::Value::String(s) => format!("{k} {s}"),
                v => format!("{k} {v}"),
            })
            .collect::<Vec<_>>()
            .join(", "),
        None => v.to_string(),
    }
}

fn write_other(w: &mut dyn Write, o: &Other) -> io::Result<()> {
    for (i, name) in ["stdin", "stdout", "stderr"].iter().enumerate() {
        if o.out[i].is_empty() {
            continue;
        }
        let text = String::from_utf8_lossy(&o.out[i]);
        let mut clean = String::new();
        crate::replay::strip_ansi(&text, &mut clean);
        writeln!(
            w,
            "<h4>{name}</h4><pre class=\"output output-{name}\">{}</pre>",
            esc(&clean)
        )?;
        if o.more[i] > 0 {
            writeln!(w, "<p>… and {} more byte(s), not shown.</p>", o.more[i])?;
        }
    }
    Ok(())
}

impl Terminal {
    fn new(ch: &ChannelState) -> Self {
        let (cols, rows) = ch.pty.as_ref().map_or((80, 24), |p| (p.cols, p.rows));
        Terminal {
            screen: Screen::with_transcript(cols, rows),
            rows: HashSet::new(),
            index: spool(),
            index_entries: 0,
            transcript: spool(),
            commands: CommandRecognizer::default(),
            found: CommandSpool::new(),
        }
    }

    fn event(&mut self, ev: &ChannelEvent<'_>) -> io::Result<()> {
        let start = ev.channel.start();
        self.commands.event(ev);
        for mut c in self.commands.take() {
            c.ts -= start;
            self.found.push(&c)?;
        }
        match ev.kind {
            ChannelEventKind::Data {
                stream: Stream::Stdout | Stream::Stderr,
                data,
                ts,
                ..
            } => {
                self.screen.set_time(ts - start);
                self.screen.feed(data);
                self.index_screen(ts - start)?;
                self.take_transcript()?;
            }
            ChannelEventKind::Request(r) => {
                if let RequestKind::WindowChange { cols, rows } = r.kind {
                    self.screen.resize(cols, rows);
                    self.take_transcript()?;
                }
            }
            _ => {}
        }
        Ok(())
    }

    /// Adds the rows the screen shows now that it did not show before.
    fn index_screen(&mut self, t: Nanos) -> io::Result<()> {
        let view = self.screen.view();
        for row in &view {
            let trimmed = row.trim_end();
            if trimmed.trim().is_empty() || self.rows.contains(row) {
                continue;
            }
            if self.index_entries >= MAX_INDEX_ENTRIES {
                break;
            }
            if self.index_entries > 0 {
                self.index.write_all(b",")?;
            }
            self.index_entries += 1;
            write!(
                self.index,
                "[{},{}]",
                secs(t),
                json_text(&serde_json::to_string(trimmed).unwrap_or_default())
            )?;
        }
        self.rows = view.into_iter().collect();
        Ok(())
    }

    fn take_transcript(&mut self) -> io::Result<()> {
        let lines = self.screen.take_timed_transcript();
        write_transcript(&mut self.transcript, &lines)
    }

    fn write(
        &mut self,
        w: &mut dyn Write,
        i: usize,
        base: f64,
        cast: Option<SpooledTempFile>,
        options: &ReportOptions,
    ) -> io::Result<()> {
        let screen = std::mem::replace(&mut self.screen, Screen::new(1, 1));
        let rest = screen.into_timed_transcript();
        write_transcript(&mut self.transcript, &rest)?;

        // The player (filled by the script).
        writeln!(w, "<div class=\"terminal\" data-channel=\"{i}\" data-base=\"{base:.6}\" data-idle=\"{}\">", options.idle_time_limit)?;
        writeln!(
            w,
            "<div class=\"controls\" role=\"group\" aria-label=\"Player settings\" hidden>"
        )?;
        writeln!(w, "<label>Part <select class=\"part\"></select></label>")?;
        writeln!(w, "<label>Idle gaps capped at <input class=\"idle\" type=\"number\" min=\"0\" step=\"0.5\" value=\"{}\"> s (0: not capped)</label>", options.idle_time_limit)?;
        writeln!(w, "<label>Go to <input class=\"goto\" type=\"text\" placeholder=\"1m30s\" size=\"8\"></label> <button type=\"button\" class=\"go\">Go</button>")?;
        writeln!(w, "<span class=\"now\" aria-live=\"off\">+0m00.000s</span>")?;
        writeln!(w, "</div>")?;
        writeln!(w, "<div class=\"player\" tabindex=\"-1\"></div>")?;
        writeln!(w, "<noscript><p>The player needs JavaScript; the transcript and the commands below do not.</p></noscript>")?;

        // Search.
        writeln!(w, "<div class=\"search\" role=\"search\" hidden><label>Search what the screen showed <input class=\"q\" type=\"search\"></label> <button type=\"button\" class=\"find\">Find</button><p class=\"hits-count\" aria-live=\"polite\"></p><ol class=\"hits\"></ol></div>")?;

        // The command timeline.
        writeln!(w, "<h4>Commands typed</h4>")?;
        if self.found.kept == 0 {
            writeln!(w, "<p>None recognised.</p>")?;
        }
        writeln!(w, "<ol class=\"timeline\">")?;
        for c in self.found.read()? {
            let c = c?;
            let t = base + secs_f(c.ts);
            writeln!(
                w,
                "<li><button type=\"button\" class=\"cmd\" data-t=\"{t:.6}\"><span class=\"at\">+{}</span> <code>{}</code></button> <span class=\"confidence\">{}</span></li>",
                offset_text((t * 1e9) as Nanos),
                esc(&c.command),
                c.confidence.name()
            )?;
        }
        writeln!(w, "</ol>")?;

        // The recording, in parts.
        let mut parts = match cast {
            Some(cast) => split_cast(cast, self.found.read()?, options.part_bytes)?,
            None => Vec::new(),
        };
        // Each part apart: the page reads a part when it plays it.
        for p in parts.iter_mut() {
            write!(
                w,
                "<script type=\"application/json\" class=\"part\" data-start=\"{:.6}\" data-end=\"{:.6}\">\"",
                p.start, p.end
            )?;
            p.text.rewind()?;
            io::copy(&mut p.text, w)?;
            writeln!(w, "\"</script>")?;
        }
        writeln!(w, "<script type=\"application/json\" class=\"index\">[")?;
        self.index.rewind()?;
        io::copy(&mut self.index, w)?;
        writeln!(w, "]</script>")?;
        if self.index_entries >= MAX_INDEX_ENTRIES {
            writeln!(
                w,
                "<p>The search covers the first {MAX_INDEX_ENTRIES} lines shown only.</p>"
            )?;
        }

        // The transcript.
        // A long transcript starts closed: laying out megabytes of text
        // would hold the page up for seconds (it opens for printing).
        let size = self.transcript.seek(io::SeekFrom::End(0))?;
        writeln!(
            w,
            "<details class=\"transcript-box\"{}><summary>Transcript (what scrolled by, screens left, the last screen; {} KiB)</summary>",
            if size <= options.open_transcript {
                " open"
            } else {
                ""
            },
            size.div_ceil(1024)
        )?;
        writeln!(w, "<pre class=\"transcript\" tabindex=\"0\">")?;
        self.transcript.rewind()?;
        io::copy(&mut self.transcript, w)?;
        writeln!(w, "</pre></details>")?;
        writeln!(w, "</div>")?;
        Ok(())
    }
}

/// A part of the recording.
struct CastPart {
    start: f64,
    end: f64,
    /// The cast as the inside of a JSON string (escaped for a script tag).
    text: SpooledTempFile,
}

fn write_transcript(w: &mut dyn Write, lines: &[(String, Nanos)]) -> io::Result<()> {
    for (line, _) in lines {
        writeln!(w, "{}", esc(line))?;
    }
    Ok(())
}

fn secs_f(ns: Nanos) -> f64 {
    ns as f64 / NANOS_PER_SEC as f64
}

/// Seconds with six decimals, rounded to the microsecond as the recording
/// rounds its times.
fn secs(ns: Nanos) -> String {
    let us = (ns + 500).div_euclid(1000);
    format!(
        "{}.{:06}",
        us.div_euclid(1_000_000),
        us.rem_euclid(1_000_000)
    )
}

/// JSON text made safe inside a `<script>` element.
fn json_text(s: &str) -> String {
    s.replace('<', "\\u003c")
}

/// `1m05.250s`, as `sshtrail screen --at` takes it.
pub fn offset_text(ns: Nanos) -> String {
    let ms = ns.max(0) / 1_000_000;
    let s = ms / 1000;
    format!("{}m{:02}.{:03}s", s / 60, s % 60, ms % 1000)
}

/// Escapes text for HTML.
pub fn esc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c if c.is_control() && c != '\n' && c != '\t' => {
                let _ = write!(out, "\\u{{{:x}}}", c as u32);
            }
            c => out.push(c),
        }
    }
    out
}

/// Splits a cast into parts of at most about `max` bytes, each playable
/// alone: a header with the size at its start and, past the first, the
/// screen as it stood drawn first. Markers go in at the commands' times.
fn split_cast(
    mut cast: SpooledTempFile,
    commands: impl Iterator<Item = io::Result<crate::replay::Command>>,
    max: usize,
) -> io::Result<Vec<CastPart>> {
    cast.rewind()?;
    let mut lines = io::BufReader::new(cast).lines();
    let Some(header) = lines.next().transpose()? else {
        return Ok(Vec::new());
    };
    let mut header: serde_json::Value = serde_json::from_str(&header).map_err(io::Error::other)?;
    let (mut cols, mut rows) = (
        header["width"].as_u64().unwrap_or(80) as u32,
        header["height"].as_u64().unwrap_or(24) as u32,
    );
    let mut screen = Screen::new(cols, rows);
    let mut parts: Vec<CastPart> = Vec::new();
    let mut cur: Option<(SpooledTempFile, usize, f64, f64)> = None;
    let mut markers = commands.peekable();
    let mut last_t = 0.0f64;
    let finish = |cur: &mut Option<(SpooledTempFile, usize, f64, f64)>,
                  parts: &mut Vec<CastPart>| {
        if let Some((f, _, start, end)) = cur.take() {
            parts.push(CastPart {
                start,
                end,
                text: f,
            });
        }
    };
    for line in lines {
        let line = line?;
        let Ok((t, code, data)) = serde_json::from_str::<(f64, String, String)>(&line) else {
            continue;
        };
        // Commands before this event go with the part they fall in.
        if let Some(c) = cur.as_mut() {
            put_markers(c, &mut markers, t)?;
        }
        if cur.as_ref().is_some_and(|c| c.1 >= max) {
            finish(&mut cur, &mut parts);
        }
        if cur.is_none() {
            let mut f = spool();
            header["width"] = cols.into();
            header["height"] = rows.into();
            put_line(&mut f, &header.to_string())?;
            let mut size = header.to_string().len();
            if !parts.is_empty() {
                // A keyframe, as the seek index keeps them: the terminal's
                // whole state (colours, pen, modes, alternate screen), not
                // only its text.
                let draw = match screen.keyframe() {
                    Some(keyframe) => keyframe.dump().to_string(),
                    None => {
                        let mut draw = String::from("\x1b[0m\x1b[H\x1b[2J");
                        draw.push_str(&screen.view().join("\r\n"));
                        let (col, row) = screen.cursor();
                        let _ = write!(draw, "\x1b[{};{}H", row + 1, col + 1);
                        draw
                    }
                };
                let ev = serde_json::to_string(&(t, "o", draw)).unwrap_or_default();
                size += ev.len();
                put_line(&mut f, &ev)?;
            }
            cur = Some((f, size, if parts.is_empty() { 0.0 } else { t }, t));
        }
        let Some(c) = cur.as_mut() else { continue };
        put_markers(c, &mut markers, t)?;
        match code.as_str() {
            "o" => screen.feed(data.as_bytes()),
            "r" => {
                if let Some((a, b)) = data.split_once('x') {
                    if let (Ok(a), Ok(b)) = (a.parse(), b.parse()) {
                        (cols, rows) = (a, b);
                        screen.resize(cols, rows);
                    }
                }
            }
            _ => {}
        }
        c.1 += line.len();
        c.3 = t;
        last_t = t;
        put_line(&mut c.0, &line)?;
    }
    if let Some(c) = cur.as_mut() {
        for m in markers {
            let m = m?;
            let ev = serde_json::to_string(&(secs_f(m.ts).max(last_t), "m", &m.command))
                .unwrap_or_default();
            put_line(&mut c.0, &ev)?;
        }
    }
    finish(&mut cur, &mut parts);
    Ok(parts)
}

/// Writes the markers of the commands up to `t` into the part `c`.
fn put_markers(
    c: &mut (SpooledTempFile, usize, f64, f64),
    markers: &mut std::iter::Peekable<impl Iterator<Item = io::Result<crate::replay::Command>>>,
    t: f64,
) -> io::Result<()> {
    // A read error stops here, not at the end of the recording.
    while let Some(m) = markers.next_if(|m| m.as_ref().map_or(true, |m| secs_f(m.ts) <= t)) {
        let m = m?;
        let at = secs_f(m.ts).max(c.2);
        let ev = serde_json::to_string(&(at, "m", &m.command)).map_err(io::Error::other)?;
        c.1 += ev.len();
        c.3 = c.3.max(at);
        put_line(&mut c.0, &ev)?;
    }
    Ok(())
}

/// Writes `line` and a newline as the inside of a JSON string.
fn put_line(f: &mut SpooledTempFile, line: &str) -> io::Result<()> {
    let mut s = line.to_string();
    s.push('\n');
    let j = serde_json::to_string(&s).map_err(io::Error::other)?;
    f.write_all(json_text(&j[1..j.len() - 1]).as_bytes())
}

/// The path a page of connection `id` goes to among several.
pub fn page_name(id: Option<&str>, n: usize) -> PathBuf {
    match id {
        Some(id) if crate::connection::is_safe_file_id(id) => PathBuf::from(format!("{id}.html")),
        _ => PathBuf::from(format!("connection-{n}.html")),
    }
}

/// The index of several pages: a table of the connections, sortable by
/// any column; `links` gives each page's file name.
pub fn write_index(
    w: &mut dyn Write,
    pages: &[(PageSummary, String)],
    made_at: Option<&str>,
) -> io::Result<()> {
    let made_at = made_at
        .map(str::to_string)
        .unwrap_or_else(|| format_rfc3339(now_nanos()));
    writeln!(w, "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'\">\n<title>SSH connections</title>\n<style>{PAGE_CSS}</style>\n</head>\n<body>\n<main>\n<h1>SSH connections</h1>")?;
    writeln!(w, "<p>{} connection(s); made by sshtrail {VERSION} at {}. Sort by a column with its button.</p>", pages.len(), esc(&made_at))?;
    writeln!(w, "<table class=\"index\"><thead><tr>")?;
    for (k, name) in [
        "Connection",
        "Who",
        "From",
        "To",
        "When",
        "Duration (s)",
        "Channels",
        "Commands",
        "Files",
        "Integrity",
    ]
    .iter()
    .enumerate()
    {
        writeln!(w, "<th scope=\"col\" aria-sort=\"none\"><button type=\"button\" data-col=\"{k}\">{name}</button></th>")?;
    }
    writeln!(w, "</tr></thead><tbody>")?;
    for (p, link) in pages {
        let na = "-".to_string();
        writeln!(
            w,
            "<tr><td><a href=\"{}\">{}</a></td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td data-v=\"{:.3}\">{:.3}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            esc(link),
            esc(p.id.as_deref().unwrap_or("(no id)")),
            esc(p.user.as_ref().unwrap_or(&na)),
            esc(p.from.as_ref().unwrap_or(&na)),
            esc(p.target.as_ref().unwrap_or(&na)),
            esc(p.started.as_ref().unwrap_or(&na)),
            p.duration,
            p.duration,
            p.channels,
            p.commands,
            p.files,
            esc(&p.integrity)
        )?;
    }
    writeln!(
        w,
        "</tbody></table>\n</main>\n<script>{}</script>\n</body>\n</html>",
        INDEX_JS
    )?;
    Ok(())
}

const INDEX_JS: &str = r#"
(function () {
  var table = document.querySelector('table.index');
  var dir = {};
  table.querySelectorAll('th button').forEach(function (b) {
    b.addEventListener('click', function () {
      var col = +b.dataset.col;
      var up = dir[col] = !dir[col];
      var body = table.tBodies[0];
      var rows = Array.prototype.slice.call(body.rows);
      var key = function (r) {
        var c = r.cells[col];
        var v = c.dataset.v !== undefined ? c.dataset.v : c.textContent;
        var n = Number(v);
        return isNaN(n) || v === '' ? v.toLowerCase() : n;
      };
      rows.sort(function (a, b) {
        var x = key(a), y = key(b);
        var r = x < y ? -1 : x > y ? 1 : 0;
        return up ? r : -r;
      });
      rows.forEach(function (r) { body.appendChild(r); });
      table.querySelectorAll('th').forEach(function (th) { th.setAttribute('aria-sort', 'none'); });
      b.parentNode.setAttribute('aria-sort', up ? 'ascending' : 'descending');
    });
  });
})();
"#;

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Read;

    /// The events of a part: its text is the inside of a JSON string.
    fn events(part: &mut CastPart) -> (serde_json::Value, Vec<(f64, String, String)>) {
        let mut text = String::new();
        part.text.rewind().unwrap();
        part.text.read_to_string(&mut text).unwrap();
        assert!(!text.contains('<'), "no markup can end the script element");
        let cast: String = serde_json::from_str(&format!("\"{text}\"")).unwrap();
        let mut lines = cast.lines();
        let header = serde_json::from_str(lines.next().unwrap()).unwrap();
        let evs = lines.map(|l| serde_json::from_str(l).unwrap()).collect();
        (header, evs)
    }

    fn command(secs: f64, text: &str) -> crate::replay::Command {
        crate::replay::Command {
            ts: (secs * 1e9) as Nanos,
            command: text.into(),
            confidence: Confidence::Exact,
        }
    }

    #[test]
    fn spooled_commands_read_back_in_order_as_often_as_asked_without_those_given_up() {
        let mut spool = CommandSpool::new();
        let mut want = Vec::new();
        // Past the spool's memory, so the commands go through a file too.
        for i in 0..40_000u32 {
            let mut c = command(f64::from(i) / 10.0, &format!("echo {i} é \u{202e}"));
            c.confidence = match i % 4 {
                0 => Confidence::Exact,
                1 => Confidence::Echo,
                2 => Confidence::Uncertain,
                _ => Confidence::Abandoned,
            };
            spool.push(&c).unwrap();
            if c.confidence != Confidence::Abandoned {
                want.push(c);
            }
        }
        assert!(
            spool.file.is_rolled(),
            "the test should cover a spool on disk"
        );
        assert_eq!(spool.recognised, 40_000);
        assert_eq!(spool.kept, want.len());
        for _ in 0..2 {
            let got: Vec<_> = spool.read().unwrap().map(Result::unwrap).collect();
            assert_eq!(got, want);
        }
        let mut empty = CommandSpool::new();
        assert_eq!(empty.read().unwrap().count(), 0);
    }

    #[test]
    fn a_cast_is_split_into_parts_that_start_with_the_screen_and_keep_every_event() {
        let mut cast = spool();
        let lines = [
            r#"{"version":2,"width":10,"height":3}"#,
            r#"[0.5,"o","\u001b[31mhello\r\n"]"#,
            r#"[1.0,"o","</script>"]"#,
            r#"[2.0,"r","12x4"]"#,
            r#"[3.0,"o","\r\n!"]"#,
        ];
        for l in lines {
            writeln!(cast, "{l}").unwrap();
        }
        let commands = [command(0.9, "ls"), command(2.5, "pwd")];
        let mut parts = split_cast(cast, commands.iter().cloned().map(Ok), 60).unwrap();
        assert!(parts.len() >= 3, "{} parts", parts.len());
        let mut seen: Vec<(f64, String, String)> = Vec::new();
        let mut last_width = 0;
        for (k, p) in parts.iter_mut().enumerate() {
            let (start, end) = (p.start, p.end);
            let (header, evs) = events(p);
            last_width = header["width"].as_u64().unwrap();
            let mut evs = evs.into_iter();
            if k > 0 {
                // The terminal as it stood, drawn first: on a blank terminal
                // of the part's size it is the same screen, cursor and pen
                // (the red of "hello") as everything before the part gives.
                let (t, code, draw) = evs.next().unwrap();
                assert_eq!((t, code.as_str()), (start, "o"));
                let height = header["height"].as_u64().unwrap() as u32;
                let mut drawn = Screen::new(last_width as u32, height);
                drawn.feed(draw.as_bytes());
                let mut replayed = Screen::new(10, 3);
                for (_, code, data) in seen.iter().filter(|e| e.0 < start) {
                    match code.as_str() {
                        "o" => replayed.feed(data.as_bytes()),
                        "r" => replayed.resize(12, 4),
                        _ => {}
                    }
                }
                assert_eq!(drawn.view(), replayed.view(), "{draw:?}");
                assert_eq!(drawn.cursor(), replayed.cursor());
                assert!(draw.contains("31"), "the pen is kept: {draw:?}");
            }
            for e in evs {
                assert!(e.0 >= start && e.0 <= end + 1e-9, "{e:?} in {start}..{end}");
                seen.push(e);
            }
        }
        // The resize at 2.0 s gives the later parts' size.
        assert_eq!(last_width, 12);
        let want: Vec<(f64, String, String)> = vec![
            (0.5, "o".into(), "\u{1b}[31mhello\r\n".into()),
            (0.9, "m".into(), "ls".into()),
            (1.0, "o".into(), "</script>".into()),
            (2.0, "r".into(), "12x4".into()),
            (2.5, "m".into(), "pwd".into()),
            (3.0, "o".into(), "\r\n!".into()),
        ];
        assert_eq!(seen, want);
    }

    #[test]
    fn one_part_when_it_fits() {
        let mut cast = spool();
        writeln!(cast, r#"{{"version":2,"width":10,"height":3}}"#).unwrap();
        writeln!(cast, r#"[0.5,"o","hi"]"#).unwrap();
        let mut parts = split_cast(
            cast,
            [command(9.0, "late")].into_iter().map(Ok),
            DEFAULT_PART_BYTES,
        )
        .unwrap();
        assert_eq!(parts.len(), 1);
        let (_, evs) = events(&mut parts[0]);
        // A command after the last output still gets its marker.
        assert_eq!(
            evs.last().unwrap(),
            &(9.0, "m".to_string(), "late".to_string())
        );
    }

    fn page_of(dir: &str, options: ReportOptions) -> String {
        let path = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../../testdata/realtrail")
            .join(dir);
        let archive = crate::archive::Archive::open(
            &[path],
            &crate::archive::Discovery::standard(),
            &mut |_| {},
        );
        let mut out = crate::output::MemoryOutput::default();
        let mut writer = HtmlWriter::new(&WriterOptions::default(), options);
        archive
            .replay(&mut writer.writing_into(&mut out), &mut |_| {})
            .unwrap();
        let page = out.parts().next().unwrap().1.to_vec();
        String::from_utf8(page).unwrap()
    }

    #[test]
    fn a_long_transcript_starts_closed() {
        let vim = "1c0eb6a5-9524-455b-bc54-0e310f597329";
        let open = page_of(vim, ReportOptions::default());
        assert!(open.contains("<details class=\"transcript-box\" open>"));
        let closed = page_of(
            vim,
            ReportOptions {
                open_transcript: 100,
                ..ReportOptions::default()
            },
        );
        assert!(closed.contains("<details class=\"transcript-box\"><summary>"));
        // Closed, not left out.
        assert!(closed.contains("public note alpha"));
    }

    #[test]
    fn text_is_escaped_for_html_and_script_elements() {
        assert_eq!(
            esc("<a href=\"x\">&'"),
            "&lt;a href=&quot;x&quot;&gt;&amp;&#39;"
        );
        assert_eq!(esc("a\u{1b}b"), "a\\u{1b}b");
        assert_eq!(json_text(r#""</script>""#), r#""\u003c/script>""#);
        assert_eq!(secs(1_999_999_500), "2.000000");
        assert_eq!(secs(1_999_999_499), "1.999999");
        assert_eq!(offset_text(61_250_000_000), "1m01.250s");
    }
}
