//! The files recovered from a channel, checked against what the gateway
//! listed about them (`trail.channels[].transferred_files`, docs/FORMAT.md
//! section 5) and against the copies it kept (`<connection folder>/files/<id>`).
//!
//! This lives outside [`crate::transfer`] on purpose: it only reads what a
//! [`TransferDecoder`] yields ([`RecoveredFile`]s), so the decoder can change
//! without this module knowing how files are assembled.
//!
//! A recovered file and an entry are the same file when the entry's `name`
//! is a suffix of the recovered path, component by component
//! (`evidence/blob.bin` of `/home/u/evidence/blob.bin`), the direction is
//! the same, the size equals `payload_size` and the transfer's time overlaps
//! `[open_time, close_time]` widened by [`TIME_TOLERANCE`]. Each entry is
//! used once: a file takes the first unused entry that agrees in all four
//! (the longest name first). A file left over then takes an unused entry of
//! its name that agrees in the most of the rest, and each disagreement is
//! named. What is still left over is named too: a file with no entry, an
//! entry with no file. An entry not closed or whose status is not `OK` is
//! a difference of its own.
//!
//! When the connection folder holds `files/<id>` for an entry (the layout
//! `sshtrail fetch` writes), it is hashed, 64 KiB at a time, and its size
//! and SHA-256 are compared with the recovered file's. Only an id that is
//! one safe file name ([`is_safe_file_id`]) is joined to the folder, and a
//! symbolic link is not followed: nothing outside the connection folder is
//! opened.
//!
//! ```
//! use sshtrail::archive::Archive;
//! use sshtrail::crosscheck::FileChecker;
//!
//! let mut checker = FileChecker::default();
//! Archive::from_bytes("0.hex", b"2023-06-07T17:32:29Z stdin 6c\n")
//!     .replay(&mut checker, &mut |_| {})
//!     .unwrap();
//! // No transfer, no metadata: nothing to say.
//! assert!(checker.reports().all(|(_, r)| r.files.is_empty() && r.problems.is_empty()));
//! ```

use std::collections::HashMap;
use std::io;
use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::channel::{
    ChannelEvent, ChannelEventKind, ChannelSink, ConnectionRef, Integrity, Verdict,
};
use crate::connection::{
    is_safe_file_id, Connection, Context, FileDirection, TrailChannel, TransferredFile,
};
use crate::time::{format_rfc3339, parse_rfc3339, Nanos, NANOS_PER_SEC};
use crate::transfer::{Found, RecoveredFile, TransferDecoder, TransferDirection};

/// How far a transfer's time may lie outside an entry's
/// `[open_time, close_time]` and still be the same file.
pub const TIME_TOLERANCE: Nanos = 2 * NANOS_PER_SEC;

/// The most recovered files of one channel listed (and compared in full);
/// files past it are still matched exactly, and counted.
pub const MAX_FILES_LISTED: usize = 10_000;

/// The name of the folder of kept copies in a connection folder.
pub const FILES_FOLDER: &str = "files";

/// What became of the copy the gateway kept of a file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct StoredCopy {
    /// `files/<id>`, relative to the connection folder.
    pub path: String,
    /// Its size, when it could be read.
    pub size: Option<u64>,
    /// Its SHA-256 in lowercase hex, when it could be read.
    pub sha256: Option<String>,
    /// `matches`, `differs`, `not compared` or `unreadable`.
    pub verdict: &'static str,
    /// What the verdict rests on, for people.
    pub detail: String,
}

/// A recovered file and what the metadata says of it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CheckedFile {
    /// `sftp` or `scp`.
    pub protocol: &'static str,
    /// `upload` or `download`.
    pub direction: &'static str,
    /// The remote path.
    pub path: String,
    /// Its size.
    pub size: u64,
    /// Its SHA-256 in lowercase hex, when every byte was seen.
    pub sha256: Option<String>,
    /// Whether every byte was seen and the transfer ended well.
    pub complete: bool,
    /// When the transfer started.
    pub started: String,
    /// When it ended.
    pub ended: String,
    /// The log line where it started.
    pub line: u64,
    /// The id of the `transferred_files` entry it was matched with.
    pub entry: Option<String>,
    /// That entry's name.
    pub entry_name: Option<String>,
    /// How the file and its entry disagree (or that it has none).
    pub differences: Vec<String>,
    /// The kept copy, when the connection folder has one.
    pub stored_copy: Option<StoredCopy>,
    /// Whether the metadata lists the channel's transferred files at all
    /// (when not, `entry` is `None` and nothing was compared).
    pub metadata_lists_files: bool,
    #[serde(skip)]
    entry_index: Option<usize>,
    #[serde(skip)]
    digest: Option<[u8; 32]>,
    #[serde(skip)]
    dir: TransferDirection,
    #[serde(skip)]
    span: (Nanos, Nanos),
}

/// The cross-check of one channel's files.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct FileReport {
    /// The recovered files (the first [`MAX_FILES_LISTED`]).
    pub files: Vec<CheckedFile>,
    /// Recovered files past the listed ones.
    pub unlisted: u64,
    /// Comparisons that agreed.
    pub checked: Vec<String>,
    /// Every difference, named.
    pub problems: Vec<String>,
    /// What could not be compared, and why.
    pub unchecked: Vec<String>,
}

impl FileReport {
    /// Adds what this report found to a channel's integrity verdict: a
    /// difference makes it a mismatch, something not compared makes an
    /// `ok` unknown.
    pub fn apply_to(&self, i: &mut Integrity) {
        i.checked.extend(self.checked.iter().cloned());
        i.problems.extend(self.problems.iter().cloned());
        i.unchecked.extend(self.unchecked.iter().cloned());
        if !self.problems.is_empty() {
            i.verdict = Verdict::Mismatch;
        } else if !self.unchecked.is_empty() && i.verdict == Verdict::Ok {
            i.verdict = Verdict::Unknown;
        }
        i.ok = i.verdict == Verdict::Ok;
    }
}

/// The path split in components, empty ones left out.
fn components(p: &str) -> Vec<&str> {
    p.split('/').filter(|c| !c.is_empty()).collect()
}

/// Whether `name` is a suffix of `path`, component by component.
fn is_suffix(name: &str, path: &str) -> bool {
    let (n, p) = (components(name), components(path));
    !n.is_empty() && n.len() <= p.len() && p[p.len() - n.len()..] == n[..]
}

fn direction_code(d: TransferDirection) -> FileDirection {
    match d {
        TransferDirection::Upload => FileDirection::ClientToServer,
        TransferDirection::Download => FileDirection::ServerToClient,
    }
}

fn direction_text(d: &FileDirection) -> String {
    match d {
        FileDirection::ClientToServer => "2 (client to server)".into(),
        FileDirection::ServerToClient => "1 (server to client)".into(),
        FileDirection::Other(n) => format!("{n} (not a known code)"),
    }
}

/// An entry, with what was read of it once.
#[derive(Debug, Clone)]
struct Entry {
    file: TransferredFile,
    /// `[open_time, close_time]`, when both parse.
    span: Option<(Nanos, Nanos)>,
    used: bool,
    label: String,
}

impl Entry {
    fn new(i: usize, file: &TransferredFile) -> Entry {
        let time = |t: &Option<String>| {
            t.as_deref()
                .and_then(|t| parse_rfc3339(t.as_bytes(), true).ok())
        };
        let span = match (time(&file.open_time), time(&file.close_time)) {
            (Some(a), Some(b)) => Some((a.min(b), a.max(b))),
            _ => None,
        };
        let label = format!(
            "transferred_files[{i}] ({})",
            match (&file.id, &file.name) {
                (Some(id), Some(n)) => format!("{id}, {n}"),
                (Some(id), None) => id.clone(),
                (None, Some(n)) => n.clone(),
                (None, None) => "no id, no name".into(),
            }
        );
        Entry {
            file: file.clone(),
            span,
            used: false,
            label,
        }
    }

    /// Which of direction, size and time agree with `f` (a missing value
    /// agrees: it is said apart).
    fn agreement(&self, f: &CheckedFile) -> [bool; 3] {
        let dir = self
            .file
            .direction
            .as_ref()
            .is_none_or(|d| *d == direction_code(f.dir));
        let size = self.file.payload_size.is_none_or(|n| n == f.size);
        let time = self.span.is_none_or(|(a, b)| {
            f.span.0 <= b.saturating_add(TIME_TOLERANCE)
                && f.span.1 >= a.saturating_sub(TIME_TOLERANCE)
        });
        [dir, size, time]
    }

    fn name_len(&self) -> usize {
        self.file.name.as_deref().map_or(0, |n| components(n).len())
    }
}

/// Checks one channel's recovered files against its metadata entries, one
/// file at a time.
#[derive(Debug, Clone, Default)]
pub struct ChannelFileCheck {
    /// Whether the metadata lists transferred files for the channel.
    listed: bool,
    entries: Vec<Entry>,
    /// Entry positions by the last component of their name.
    by_name: HashMap<String, Vec<usize>>,
    files: Vec<CheckedFile>,
    /// Files past the listed ones.
    unlisted: u64,
    /// Of those, the ones no entry matched.
    unlisted_unmatched: u64,
    /// The connection folder, where `files/` may be.
    dir: Option<PathBuf>,
}

impl ChannelFileCheck {
    /// A check against `meta` (the channel's metadata, when listed), with
    /// kept copies looked for under `connection_dir/files/`.
    pub fn new(meta: Option<&TrailChannel>, connection_dir: Option<&Path>) -> Self {
        let list = meta.and_then(|m| m.transferred_files.as_ref());
        let entries: Vec<Entry> = list
            .into_iter()
            .flatten()
            .enumerate()
            .map(|(i, f)| Entry::new(i, f))
            .collect();
        let mut by_name: HashMap<String, Vec<usize>> = HashMap::new();
        for (i, e) in entries.iter().enumerate() {
            if let Some(last) = e.file.name.as_deref().and_then(|n| components(n).pop()) {
                by_name.entry(last.to_string()).or_default().push(i);
            }
        }
        ChannelFileCheck {
            listed: list.is_some(),
            entries,
            by_name,
            dir: connection_dir.map(Path::to_path_buf),
            ..ChannelFileCheck::default()
        }
    }

    /// The unused entries that may be `f` by name.
    fn candidates(&self, f: &CheckedFile) -> Vec<usize> {
        let last = components(&f.path).pop().unwrap_or_default();
        self.by_name
            .get(last)
            .into_iter()
            .flatten()
            .copied()
            .filter(|&i| {
                let e = &self.entries[i];
                !e.used
                    && e.file
                        .name
                        .as_deref()
                        .is_some_and(|n| is_suffix(n, &f.path))
            })
            .collect()
    }

    /// Takes a recovered file of the channel.
    pub fn add(&mut self, f: &RecoveredFile) {
        let mut c = CheckedFile {
            protocol: f.protocol.name(),
            direction: f.direction.name(),
            path: f.path.clone(),
            size: f.size,
            sha256: f.sha256_hex(),
            complete: f.complete,
            started: format_rfc3339(f.started),
            ended: format_rfc3339(f.ended),
            line: f.line,
            entry: None,
            entry_name: None,
            differences: Vec::new(),
            stored_copy: None,
            metadata_lists_files: self.listed,
            entry_index: None,
            digest: f.sha256,
            dir: f.direction,
            span: (f.started.min(f.ended), f.started.max(f.ended)),
        };
        let exact = self
            .candidates(&c)
            .into_iter()
            .filter(|&i| {
                let e = &self.entries[i];
                e.file.direction.is_some()
                    && e.file.payload_size.is_some()
                    && e.agreement(&c) == [true; 3]
            })
            .max_by_key(|&i| (self.entries[i].name_len(), std::cmp::Reverse(i)));
        if let Some(i) = exact {
            self.take_entry(&mut c, i);
        }
        if self.files.len() < MAX_FILES_LISTED {
            self.files.push(c);
        } else {
            self.unlisted += 1;
            self.unlisted_unmatched += u64::from(exact.is_none());
        }
    }

    fn take_entry(&mut self, c: &mut CheckedFile, i: usize) {
        let e = &mut self.entries[i];
        e.used = true;
        c.entry_index = Some(i);
        c.entry = e.file.id.clone();
        c.entry_name = e.file.name.clone();
    }

    /// Pairs what is left, compares the kept copies and says it all.
    pub fn finish(mut self) -> FileReport {
        let mut r = FileReport {
            unlisted: self.unlisted,
            ..FileReport::default()
        };
        if !self.listed {
            if !self.files.is_empty() {
                r.unchecked.push(format!(
                    "{} recovered file(s) not checked: the metadata lists no transferred_files for the channel",
                    self.files.len() as u64 + self.unlisted
                ));
            }
            r.files = self.files;
            return r;
        }
        // Files left over take the unused entry of their name that agrees
        // the most.
        let mut files = std::mem::take(&mut self.files);
        for c in files.iter_mut().filter(|c| c.entry_index.is_none()) {
            let best = self.candidates(c).into_iter().max_by_key(|&i| {
                let agreed = self.entries[i].agreement(c).iter().filter(|a| **a).count();
                (agreed, self.entries[i].name_len(), std::cmp::Reverse(i))
            });
            match best {
                Some(i) => {
                    self.take_entry(c, i);
                    let e = &self.entries[i];
                    let [dir, size, time] = e.agreement(c);
                    if !dir {
                        c.differences.push(format!(
                            "the log shows {} but {}'s direction is {}",
                            match c.dir {
                                TransferDirection::Upload => "an upload",
                                TransferDirection::Download => "a download",
                            },
                            e.label,
                            e.file
                                .direction
                                .as_ref()
                                .map(direction_text)
                                .unwrap_or_default()
                        ));
                    }
                    if !size {
                        c.differences.push(format!(
                            "{} bytes recovered but {}'s payload_size is {}",
                            c.size,
                            e.label,
                            e.file.payload_size.unwrap_or_default()
                        ));
                    }
                    if !time {
                        c.differences.push(format!(
                            "moved {} -> {}, outside {}'s open_time..close_time ({} -> {}, give or take {} s)",
                            c.started,
                            c.ended,
                            e.label,
                            e.file.open_time.as_deref().unwrap_or("?"),
                            e.file.close_time.as_deref().unwrap_or("?"),
                            TIME_TOLERANCE / NANOS_PER_SEC
                        ));
                    }
                }
                None => c.differences.push(format!(
                    "no transferred_files entry for this {} of {} bytes (line {})",
                    c.direction, c.size, c.line
                )),
            }
        }
        // What each entry says of itself, and its kept copy.
        let mut file_of: Vec<Option<usize>> = vec![None; self.entries.len()];
        for (k, c) in files.iter().enumerate() {
            if let Some(i) = c.entry_index {
                file_of[i] = Some(k);
            }
        }
        for (i, e) in self.entries.iter().enumerate() {
            let file = file_of[i].map(|k| &mut files[k]);
            self.entry_facts(&mut r, e, file);
        }
        for c in &files {
            let what = format!("{} {}", c.direction, c.path);
            for d in &c.differences {
                r.problems.push(format!("{what}: {d}"));
            }
            if c.entry_index.is_some() && c.differences.is_empty() {
                r.checked.push(format!(
                    "{what}: as {} says ({} bytes)",
                    c.entry.as_deref().unwrap_or("its transferred_files entry"),
                    c.size
                ));
            }
        }
        if self.unlisted_unmatched > 0 {
            r.problems.push(format!(
                "{} more recovered file(s), past the {MAX_FILES_LISTED} listed, match no transferred_files entry",
                self.unlisted_unmatched
            ));
        }
        r.files = files;
        r
    }

    fn entry_facts(&self, r: &mut FileReport, e: &Entry, file: Option<&mut CheckedFile>) {
        let f = &e.file;
        for field in &f.unreadable {
            r.unchecked.push(if field == "(entry)" {
                format!("{} is not an object", e.label)
            } else {
                format!("{}: {field} has a value of the wrong type", e.label)
            });
        }
        match f.closed {
            Some(true) => {}
            Some(false) => r.problems.push(format!("{} is not closed", e.label)),
            None => r
                .unchecked
                .push(format!("{} does not say whether it was closed", e.label)),
        }
        match f.status.as_deref() {
            Some("OK") => {}
            Some(s) => r.problems.push(format!("{}'s status is {s}", e.label)),
            None => r.unchecked.push(format!("{} has no status", e.label)),
        }
        if file.is_some() {
            if f.payload_size.is_none() {
                r.unchecked.push(format!(
                    "{} has no payload_size: size not compared",
                    e.label
                ));
            }
            if f.direction.is_none() {
                r.unchecked.push(format!(
                    "{} has no direction: direction not compared",
                    e.label
                ));
            }
            if e.span.is_none() {
                r.unchecked.push(format!(
                    "{} has no readable open_time and close_time: time not compared",
                    e.label
                ));
            }
        } else if !e.used {
            r.problems.push(format!(
                "{} ({}, {} bytes) has no recovered file",
                e.label,
                f.direction
                    .as_ref()
                    .map_or("no direction".into(), direction_text),
                f.payload_size.map_or("?".into(), |n| n.to_string())
            ));
        }
        let copy = match f.id.as_deref() {
            None => None,
            Some(id) if !is_safe_file_id(id) => {
                r.unchecked.push(format!(
                    "{}: the id is not one safe file name, its kept copy is not looked for",
                    e.label
                ));
                None
            }
            Some(id) => self.dir.as_deref().and_then(|d| stored_copy(d, id)),
        };
        let Some(mut copy) = copy else { return };
        if let Some(size) = copy.size {
            if f.payload_size.is_some_and(|n| n != size) {
                r.problems.push(format!(
                    "{} holds {size} bytes but {}'s payload_size is {}",
                    copy.path,
                    e.label,
                    f.payload_size.unwrap_or_default()
                ));
            }
        }
        match (&file, copy.verdict) {
            (_, "unreadable") => r.unchecked.push(copy.detail.clone()),
            (None, _) => {
                copy.verdict = "not compared";
                copy.detail = format!("{}: no recovered file to compare it with", copy.path);
                r.unchecked.push(copy.detail.clone());
            }
            (Some(c), _) => match (&c.digest, &copy.sha256) {
                (None, _) | (_, None) => {
                    copy.verdict = "not compared";
                    copy.detail = format!(
                        "{}: the recovered {} has no SHA-256 (not every byte was seen): not compared",
                        copy.path, c.path
                    );
                    r.unchecked.push(copy.detail.clone());
                }
                (Some(_), Some(h))
                    if c.sha256.as_deref() == Some(h.as_str()) && copy.size == Some(c.size) =>
                {
                    copy.verdict = "matches";
                    copy.detail = format!(
                        "stored copy {} matches the recovered {}: {} bytes, SHA-256 {h}",
                        copy.path, c.path, c.size
                    );
                    r.checked.push(copy.detail.clone());
                }
                (Some(_), Some(h)) => {
                    copy.verdict = "differs";
                    copy.detail = format!(
                        "stored copy {} differs from the recovered {}: {} bytes, SHA-256 {h}, where the log has {} bytes, SHA-256 {}",
                        copy.path,
                        c.path,
                        copy.size.unwrap_or_default(),
                        c.size,
                        c.sha256.as_deref().unwrap_or("?")
                    );
                    r.problems.push(copy.detail.clone());
                }
            },
        }
        if let Some(c) = file {
            c.stored_copy = Some(copy);
        }
    }
}

/// The connection folder of the metadata file `meta`: the folder holding
/// it, or for `<connection_id>.json` beside a folder `<connection_id>/`
/// (docs/FORMAT.md section 5), that folder.
pub fn connection_folder(meta: &Path) -> Option<PathBuf> {
    let parent = meta.parent()?;
    let stem = meta.file_stem()?;
    if meta.file_name()? != crate::archive::CONNECTION_FILE {
        let beside = parent.join(stem);
        if std::fs::symlink_metadata(&beside).is_ok_and(|m| m.is_dir()) {
            return Some(beside);
        }
    }
    Some(parent.to_path_buf())
}

/// The kept copy `dir/files/id`, hashed, when there is one. `id` must be a
/// safe file name; neither `files` nor the copy may be a symbolic link.
fn stored_copy(dir: &Path, id: &str) -> Option<StoredCopy> {
    debug_assert!(is_safe_file_id(id));
    let folder = dir.join(FILES_FOLDER);
    let path = folder.join(id);
    let rel = format!("{FILES_FOLDER}/{id}");
    let unreadable = |why: String| StoredCopy {
        path: rel.clone(),
        size: None,
        sha256: None,
        verdict: "unreadable",
        detail: format!("{rel}: {why}"),
    };
    match std::fs::symlink_metadata(&folder) {
        Ok(m) if m.is_dir() => {}
        Ok(_) => {
            return Some(unreadable(format!(
                "{FILES_FOLDER} is not a folder (a symbolic link is not followed)"
            )))
        }
        Err(_) => return None,
    }
    match std::fs::symlink_metadata(&path) {
        Ok(m) if m.is_file() => {}
        Ok(_) => {
            return Some(unreadable(
                "not a regular file (a symbolic link is not followed)".into(),
            ))
        }
        Err(e) if e.kind() == io::ErrorKind::NotFound => return None,
        Err(e) => return Some(unreadable(e.to_string())),
    }
    match crate::digest::sha256_file(&path) {
        Ok((size, digest)) => Some(StoredCopy {
            path: rel,
            size: Some(size),
            sha256: Some(crate::digest::hex(&digest)),
            verdict: "not compared",
            detail: String::new(),
        }),
        Err(e) => Some(unreadable(e.to_string())),
    }
}

/// A sink that decodes every channel's transfers and checks them against
/// the connection's metadata as they end: one [`FileReport`] per channel
/// that had files or metadata entries.
#[derive(Debug, Default)]
pub struct FileChecker {
    decoder: TransferDecoder,
    meta: Option<Connection>,
    dir: Option<PathBuf>,
    open: HashMap<Context, ChannelFileCheck>,
    reports: HashMap<Context, FileReport>,
}

impl FileChecker {
    /// The reports of the channels that ended, by channel.
    pub fn reports(&self) -> impl Iterator<Item = (&Context, &FileReport)> {
        self.reports.iter()
    }

    /// The report of channel `context`, once it ended.
    pub fn report(&self, context: &Context) -> Option<&FileReport> {
        self.reports.get(context)
    }

    fn check(&mut self, context: &Context) -> &mut ChannelFileCheck {
        let (meta, dir) = (&self.meta, &self.dir);
        self.open.entry(context.clone()).or_insert_with(|| {
            ChannelFileCheck::new(
                meta.as_ref().and_then(|m| m.channel(&context.channel_id)),
                dir.as_deref(),
            )
        })
    }
}

impl ChannelSink for FileChecker {
    fn connection_start(&mut self, conn: &ConnectionRef<'_>) -> io::Result<()> {
        self.meta = conn.meta.cloned();
        self.dir = conn.meta_path.and_then(connection_folder);
        self.decoder.connection_start(conn)
    }

    fn event(&mut self, ev: &ChannelEvent<'_>) -> io::Result<()> {
        self.decoder.event(ev)?;
        for found in self.decoder.take() {
            if let Found::File(f) = found {
                self.check(&f.context.clone()).add(&f);
            }
        }
        if let ChannelEventKind::Ended { .. } = ev.kind {
            let context = &ev.channel.context;
            let check = match self.open.remove(context) {
                Some(c) => c,
                None => ChannelFileCheck::new(
                    self.meta
                        .as_ref()
                        .and_then(|m| m.channel(&context.channel_id)),
                    self.dir.as_deref(),
                ),
            };
            self.reports.insert(context.clone(), check.finish());
        }
        Ok(())
    }

    fn connection_end(&mut self, conn: &ConnectionRef<'_>) -> io::Result<()> {
        self.decoder.connection_end(conn)?;
        for found in self.decoder.take() {
            if let Found::File(f) = found {
                self.check(&f.context.clone()).add(&f);
            }
        }
        for (context, check) in std::mem::take(&mut self.open) {
            self.reports.insert(context, check.finish());
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_suffixes_component_by_component() {
        assert!(is_suffix("evidence/blob.bin", "/home/u/evidence/blob.bin"));
        assert!(is_suffix("blob.bin", "blob.bin"));
        assert!(!is_suffix("lob.bin", "/home/u/blob.bin"));
        assert!(!is_suffix("x/blob.bin", "/home/u/blob.bin"));
        assert!(!is_suffix("", "/a"));
        assert!(!is_suffix("/", "/a"));
        assert!(!is_suffix("a/b/c", "b/c"));
    }
}
