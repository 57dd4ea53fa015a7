//! Writing output files: atomically (a temporary file in the same folder,
//! then a rename), never over an existing file without `--force`, and only
//! under the output folder.

use std::collections::{HashMap, HashSet};
use std::fs;
use std::io::{self, BufWriter, Write};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use sha2::{Digest, Sha256};
use sshtrail::output::{OneChannel, Output, PartKey, PartName, WriteBehind};

/// True when `id` can name a file or folder: no separators, no `..`, no NUL,
/// not empty, not hidden, not too long.
pub fn safe_component(id: &str) -> bool {
    !id.is_empty() && !id.starts_with('.') && !id.contains(['/', '\\', '\0']) && id.len() <= 200
}

/// What is at a path an output is to be written to.
pub enum Existing {
    /// Nothing: the file is created.
    Nothing,
    /// A regular file: replaced only with `--force`.
    File,
    /// A symbolic link: never written through nor replaced.
    Link,
    /// A directory: never replaced.
    Directory,
    /// A device, a FIFO or a socket: written to, never replaced.
    Special,
}

/// What is at `path`, without following a symbolic link there.
pub fn existing(path: &Path) -> io::Result<Existing> {
    match fs::symlink_metadata(path) {
        Ok(m) if m.file_type().is_symlink() => Ok(Existing::Link),
        Ok(m) if m.is_dir() => Ok(Existing::Directory),
        Ok(m) if m.is_file() => Ok(Existing::File),
        Ok(_) => Ok(Existing::Special),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(Existing::Nothing),
        Err(e) => Err(e),
    }
}

/// When an existing regular file at an output path may be replaced.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Replace {
    /// Never: the output is refused.
    Never,
    /// Always (`--force`).
    Always,
    /// When sshtrail wrote it from the same inputs ([`Stamp`]): running a
    /// conversion again replaces what it wrote before, and nothing else.
    OwnOutput(Stamp),
}

impl Replace {
    /// [`Replace::Always`] with `force`, else [`Replace::Never`].
    pub fn force(force: bool) -> Self {
        if force {
            Replace::Always
        } else {
            Replace::Never
        }
    }

    /// Whether the regular file at `path` may be replaced.
    fn allows(&self, path: &Path) -> bool {
        match self {
            Replace::Never => false,
            Replace::Always => true,
            Replace::OwnOutput(stamp) => Stamp::on(path).as_ref() == Some(stamp),
        }
    }
}

/// The extended attribute that marks a file sshtrail wrote with `-o FILE`.
const STAMP_ATTRIBUTE: &str = "user.sshtrail.inputs";

/// What marks an output as written by sshtrail from given inputs: the
/// SHA-256 of their canonical paths, kept in an extended attribute of the
/// file (where the file system has them; where it has not, an existing
/// file simply needs `--force`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Stamp(String);

impl Stamp {
    /// The stamp of outputs made from `inputs`.
    pub fn of<'a>(inputs: impl IntoIterator<Item = &'a Path>) -> Stamp {
        let mut paths: Vec<PathBuf> = inputs
            .into_iter()
            .map(|p| fs::canonicalize(p).unwrap_or_else(|_| p.to_path_buf()))
            .collect();
        paths.sort();
        let mut hash = Sha256::new();
        for p in &paths {
            hash.update(p.as_os_str().as_encoded_bytes());
            hash.update([0]);
        }
        Stamp(format!("{:x}", hash.finalize()))
    }

    /// The stamp of the file at `path` (not following a link), if any.
    fn on(path: &Path) -> Option<Stamp> {
        let value = xattr::get(path, STAMP_ATTRIBUTE).ok()??;
        String::from_utf8(value).ok().map(Stamp)
    }

    /// Marks `file` (best effort: a file system without extended
    /// attributes leaves it unmarked).
    fn mark(&self, file: &fs::File) {
        use xattr::FileExt;
        let _ = file.set_xattr(STAMP_ATTRIBUTE, self.0.as_bytes());
    }
}

/// Refuses to write `path` when something is there that must not be
/// replaced: a symbolic link, a directory, a device, or a file that
/// `replace` does not allow.
fn may_replace(path: &Path, replace: &Replace) -> io::Result<()> {
    let refuse = |why: &str| {
        Err(io::Error::new(
            io::ErrorKind::AlreadyExists,
            format!("{} {why}", path.display()),
        ))
    };
    match existing(path)? {
        Existing::Nothing => Ok(()),
        Existing::File if replace.allows(path) => Ok(()),
        Existing::File => refuse("exists (use --force to replace it)"),
        Existing::Link => refuse("is a symbolic link: refusing to write through it or replace it"),
        Existing::Directory => refuse("is a directory"),
        Existing::Special => refuse("is a device or a FIFO: refusing to replace it"),
    }
}

/// Creates the folders from `base` down to `dir` one at a time, refusing a
/// symbolic link (or anything but a folder) on the way: an output never
/// leaves the output folder through a link planted in it.
pub fn create_dirs_under(base: &Path, dir: &Path) -> io::Result<()> {
    fs::create_dir_all(base)?;
    let rel = dir.strip_prefix(base).map_err(|_| {
        io::Error::other(format!("{} is not under {}", dir.display(), base.display()))
    })?;
    let mut at = base.to_path_buf();
    for part in rel.components() {
        at.push(part);
        match existing(&at)? {
            Existing::Directory => {}
            Existing::Nothing => match fs::create_dir(&at) {
                Ok(()) => {}
                // Made meanwhile by another thread: checked next time round.
                Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {
                    if !matches!(existing(&at)?, Existing::Directory) {
                        return Err(io::Error::other(format!(
                            "{} is not a folder",
                            at.display()
                        )));
                    }
                }
                Err(e) => return Err(e),
            },
            Existing::Link => {
                return Err(io::Error::other(format!(
                    "{} is a symbolic link: refusing to write through it",
                    at.display()
                )))
            }
            Existing::File | Existing::Special => {
                return Err(io::Error::other(format!(
                    "{} is not a folder",
                    at.display()
                )))
            }
        }
    }
    Ok(())
}

/// The output paths of one run, each with the input it is an output of:
/// two inputs never write one file (the second would replace the first,
/// or both would race for it), and no output replaces an input log.
#[derive(Clone, Default)]
pub struct Claims {
    claimed: Arc<Mutex<HashMap<PathBuf, String>>>,
    /// The input logs' device and inode numbers.
    inputs: Arc<HashSet<(u64, u64)>>,
}

impl Claims {
    /// Claims of a run reading `inputs`.
    pub fn new<'a>(inputs: impl IntoIterator<Item = &'a Path>) -> Self {
        Claims {
            claimed: Arc::default(),
            inputs: Arc::new(inputs.into_iter().filter_map(file_id).collect()),
        }
    }

    /// Claims `path` for `input`; the message names the other input when
    /// it is already claimed, or says that it is an input.
    pub fn claim(&self, path: &Path, input: &str) -> Result<(), String> {
        if file_id(path).is_some_and(|id| self.inputs.contains(&id)) {
            return Err(format!(
                "{} is an input log: refusing to write over it",
                path.display()
            ));
        }
        let mut claimed = self.claimed.lock().unwrap_or_else(|e| e.into_inner());
        match claimed.get(path) {
            Some(owner) if owner != input => Err(format!(
                "{} is an output of {owner} too: not written from {input}",
                path.display()
            )),
            Some(_) => Ok(()),
            None => {
                claimed.insert(path.to_path_buf(), input.to_string());
                Ok(())
            }
        }
    }
}

/// The device and inode of the file at `path`, when there is one.
fn file_id(path: &Path) -> Option<(u64, u64)> {
    use std::os::unix::fs::MetadataExt;
    fs::metadata(path).ok().map(|m| (m.dev(), m.ino()))
}

/// Whether `a` and `b` name one file (the same device and inode).
pub fn same_file(a: &Path, b: &Path) -> bool {
    match (file_id(a), file_id(b)) {
        (Some(x), Some(y)) => x == y,
        _ => false,
    }
}

/// Opens `path` for reading without following a symbolic link at its last
/// component.
pub fn open_no_follow(path: &Path) -> io::Result<fs::File> {
    use std::os::unix::fs::OpenOptionsExt;
    fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NOFOLLOW)
        .open(path)
}

/// The existing regular file `rel` names under `base`, checked as an
/// output path is when it is created: relative, plain names only (no `..`,
/// no root), no symbolic link on the way, a regular file at the end. For
/// paths read back from a manifest.
pub fn existing_output(base: &Path, rel: &str) -> io::Result<PathBuf> {
    use std::path::Component;
    let bad = |why: &str| Err(io::Error::other(format!("output path {rel:?} {why}")));
    let rel_path = Path::new(rel);
    if rel.is_empty()
        || !rel_path
            .components()
            .all(|c| matches!(c, Component::Normal(_)))
    {
        return bad("is not a plain path inside the output folder");
    }
    let mut at = base.to_path_buf();
    let parts: Vec<_> = rel_path.components().collect();
    for (i, part) in parts.iter().enumerate() {
        at.push(part);
        let last = i + 1 == parts.len();
        match existing(&at)? {
            Existing::Directory if !last => {}
            Existing::File if last => {}
            Existing::Nothing => return bad("does not exist"),
            Existing::Link => return bad("goes through a symbolic link"),
            _ if last => return bad("is not a regular file"),
            _ => return bad("goes through something that is not a folder"),
        }
    }
    Ok(at)
}

/// An output file being written under a temporary name in its final
/// directory. The temporary name is unpredictable and the file is created
/// new (`O_CREAT | O_EXCL`: a symbolic link planted at that name is never
/// followed). [`AtomicFile::commit`] renames it into place; dropping it
/// uncommitted removes it, so an error never leaves a half-written file
/// under the real name.
pub struct AtomicFile {
    path: PathBuf,
    replace: Replace,
    tmp: tempfile::NamedTempFile,
}

impl AtomicFile {
    /// Creates the temporary file for `path`; refuses an existing `path`
    /// unless `force`, and a symbolic link, a folder or a device always.
    /// The folder must exist.
    pub fn create(path: &Path, force: bool) -> io::Result<AtomicFile> {
        Self::create_with(path, Replace::force(force))
    }

    /// [`AtomicFile::create`], an existing file replaced as `replace`
    /// allows; an output of [`Replace::OwnOutput`] is marked with its stamp.
    pub fn create_with(path: &Path, replace: Replace) -> io::Result<AtomicFile> {
        may_replace(path, &replace)?;
        let dir = match path.parent() {
            Some(d) if !d.as_os_str().is_empty() => d,
            _ => Path::new("."),
        };
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        // `.NAME.<random>.sshtrail-tmp-PID`: the PID tells a later
        // `--resume` whether the run that left it is gone.
        // Mode 0666 less the umask, as `File::create` gives (tempfile's
        // default of 0600 would hide outputs from their group).
        let tmp = tempfile::Builder::new()
            .prefix(&format!(".{name}."))
            .suffix(&format!(".sshtrail-tmp-{}", std::process::id()))
            .rand_bytes(8)
            .permissions(std::os::unix::fs::PermissionsExt::from_mode(0o666))
            .tempfile_in(dir)?;
        if let Replace::OwnOutput(stamp) = &replace {
            stamp.mark(tmp.as_file());
        }
        Ok(AtomicFile {
            path: path.to_path_buf(),
            replace,
            tmp,
        })
    }

    /// The file to write to.
    pub fn file(&self) -> &fs::File {
        self.tmp.as_file()
    }

    /// Syncs (with `fsync`) and renames the file into place (never over a
    /// file that appeared meanwhile and may not be replaced).
    pub fn commit(self, fsync: bool) -> io::Result<()> {
        if fsync {
            self.tmp.as_file().sync_all()?;
        }
        may_replace(&self.path, &self.replace)?;
        let persisted = if self.replace == Replace::Never {
            self.tmp.persist_noclobber(&self.path)
        } else {
            self.tmp.persist(&self.path)
        };
        persisted.map(|_| ()).map_err(|e| e.error)
    }
}

impl Write for AtomicFile {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.tmp.as_file().write(buf)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.tmp.as_file().flush()
    }
}

/// Writes `path` through an [`AtomicFile`], filled by `fill`.
pub fn write_atomically(
    path: &Path,
    force: bool,
    fsync: bool,
    fill: impl FnOnce(&mut dyn Write) -> io::Result<()>,
) -> io::Result<()> {
    let out = AtomicFile::create(path, force)?;
    let mut w = BufWriter::with_capacity(256 << 10, out.file());
    fill(&mut w)?;
    w.flush()?;
    drop(w);
    out.commit(fsync)
}

/// `OUTDIR/<connection>/<channel>.<ext>`, refusing ids that would leave OUTDIR.
pub fn channel_path(
    outdir: &Path,
    connection: Option<&str>,
    channel: &str,
    ext: &str,
) -> Result<PathBuf, String> {
    let mut p = outdir.to_path_buf();
    if let Some(c) = connection {
        if !safe_component(c) {
            return Err(format!(
                "refusing to write under the connection id {c:?}: it is not a plain file name"
            ));
        }
        p.push(c);
    }
    if !safe_component(channel) {
        return Err(format!(
            "refusing to write under the channel id {channel:?}: it is not a plain file name"
        ));
    }
    p.push(format!("{channel}.{ext}"));
    Ok(p)
}

/// The path a part goes to under `outdir`:
/// `<connection>/<channel>.<ext>[.<suffix>]` or `<connection>/<channel>/<name>`;
/// a connection's evidence report is `<connection>/report.html`.
pub fn part_path(outdir: &Path, key: &PartKey<'_>) -> Result<PathBuf, String> {
    // The evidence report of a connection: `<connection>/report.html`.
    if key.channel.is_none() && key.ext == "html" && key.name == PartName::Main {
        let page = channel_path(outdir, key.connection, "report", "html")?;
        return Ok(page);
    }
    let channel = key.channel.unwrap_or("connection");
    match key.name {
        PartName::Main => channel_path(outdir, key.connection, channel, key.ext),
        PartName::Suffix(s) => {
            channel_path(outdir, key.connection, channel, &format!("{}.{s}", key.ext))
        }
        PartName::InFolder(name) => {
            let folder = channel_path(outdir, key.connection, channel, "")?;
            // `channel_path` made `<channel>.`: the folder is `<channel>`.
            let folder = folder.with_file_name(channel);
            if !safe_component(name) {
                return Err(format!("refusing to write the file {name:?}"));
            }
            Ok(folder.join(name))
        }
    }
}

/// A file being written, with the length of what went in and, when `H` is
/// [`Sha256`] (a batch's outputs, listed in its manifest), its SHA-256.
pub struct Written<H: OutputHash = Sha256> {
    destination: Destination,
    out: Sink,
    hash: H,
    len: u64,
}

/// What a [`Written`] file computes over its bytes: `Sha256` where a
/// manifest lists the file, [`NotHashed`] where nothing reads the hash (one
/// `-o FILE`: hashing was an eighth of `convert --to asciicast`'s time).
pub trait OutputHash: Default {
    /// What [`Written::finish`] returns beside the size.
    type Digest;
    /// Takes in the bytes just written.
    fn take_in(&mut self, bytes: &[u8]);
    /// The digest of every byte written.
    fn digest(self) -> Self::Digest;
}

impl OutputHash for Sha256 {
    type Digest = String;
    fn take_in(&mut self, bytes: &[u8]) {
        Digest::update(self, bytes);
    }
    fn digest(self) -> String {
        sshtrail::digest::hex(&self.finalize())
    }
}

/// No hash: for files whose digest nobody reads.
#[derive(Default)]
pub struct NotHashed;

impl OutputHash for NotHashed {
    type Digest = ();
    fn take_in(&mut self, _bytes: &[u8]) {}
    fn digest(self) {}
}

/// How a [`Written`] file's bytes reach it.
enum Sink {
    /// Buffered, written by the converting thread.
    Buffered(BufWriter<fs::File>),
    /// Written by a thread of its own while the conversion goes on.
    Behind(WriteBehind<fs::File>),
}

impl Sink {
    /// Writes what is left; the first error of any write.
    fn close(self) -> io::Result<()> {
        match self {
            Sink::Buffered(mut out) => out.flush(),
            Sink::Behind(out) => out.finish().map(drop),
        }
    }
}

impl Write for Sink {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match self {
            Sink::Buffered(out) => out.write(buf),
            Sink::Behind(out) => out.write(buf),
        }
    }

    fn write_all(&mut self, buf: &[u8]) -> io::Result<()> {
        match self {
            Sink::Buffered(out) => out.write_all(buf),
            Sink::Behind(out) => out.write_all(buf),
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        match self {
            Sink::Buffered(out) => out.flush(),
            Sink::Behind(out) => out.flush(),
        }
    }
}

/// Where a [`Written`] file's bytes go.
enum Destination {
    /// A temporary file, renamed into place when finished.
    Atomic(AtomicFile),
    /// A device or FIFO the user named, written to as it is.
    Direct,
}

impl<H: OutputHash> Written<H> {
    fn create(path: &Path, replace: Replace) -> io::Result<Written<H>> {
        let file = AtomicFile::create_with(path, replace)?;
        let out = Sink::Buffered(BufWriter::with_capacity(
            256 << 10,
            file.file().try_clone()?,
        ));
        Ok(Written {
            destination: Destination::Atomic(file),
            out,
            hash: H::default(),
            len: 0,
        })
    }

    /// [`Written::create`], its bytes written by a thread of its own
    /// ([`WriteBehind`]): for the one file of `-o FILE`, where the
    /// kernel's copy of the output then overlaps the conversion (a batch
    /// writes many files at once and has its threads busy already).
    fn create_behind(path: &Path, replace: Replace) -> io::Result<Written<H>> {
        let file = AtomicFile::create_with(path, replace)?;
        let out = Sink::Behind(WriteBehind::new(file.file().try_clone()?));
        Ok(Written {
            destination: Destination::Atomic(file),
            out,
            hash: H::default(),
            len: 0,
        })
    }

    /// Writes into the device or FIFO at `path` (never a regular file, never
    /// through a symbolic link): `-o /dev/null`, `-o fifo`.
    fn direct(path: &Path) -> io::Result<Written<H>> {
        use std::os::unix::fs::OpenOptionsExt;
        let file = fs::OpenOptions::new()
            .write(true)
            .custom_flags(libc::O_NOFOLLOW)
            .open(path)?;
        let kind = file.metadata()?.file_type();
        if kind.is_file() || kind.is_dir() {
            // Replaced by a file since it was looked at: not written to
            // without the atomic rename.
            return Err(io::Error::other(format!(
                "{} changed while it was opened",
                path.display()
            )));
        }
        Ok(Written {
            destination: Destination::Direct,
            out: Sink::Buffered(BufWriter::with_capacity(256 << 10, file)),
            hash: H::default(),
            len: 0,
        })
    }

    /// Flushes, syncs with `fsync` and renames the file into place; returns
    /// its digest and size.
    fn finish(self, fsync: bool) -> io::Result<(H::Digest, u64)> {
        self.out.close()?;
        if let Destination::Atomic(file) = self.destination {
            file.commit(fsync)?;
        }
        Ok((self.hash.digest(), self.len))
    }
}

impl<H: OutputHash> Write for Written<H> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.out.write(buf)?;
        self.hash.take_in(&buf[..n]);
        self.len += n as u64;
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.out.flush()
    }
}

/// A finished output file: where, its SHA-256 and size.
#[derive(Debug, Clone)]
pub struct Finished {
    pub path: PathBuf,
    pub sha256: String,
    pub bytes: u64,
}

/// Parts as files under a folder ([`part_path`]), each written atomically
/// and renamed into place by [`DirOutput::commit`]. A part that may not be
/// written (an id that would leave the folder, a file that exists without
/// `--force`) is refused with a message and its bytes go nowhere; the other
/// parts go on.
pub struct DirOutput {
    /// The output folder: no symbolic link is followed below it.
    root: PathBuf,
    /// Where the parts go: the root or a folder under it.
    dir: PathBuf,
    force: bool,
    /// The run's claims on output paths, and the input this output is of.
    claims: Option<(Claims, String)>,
    open: HashMap<PathBuf, Written>,
    /// The order the parts were created in.
    order: Vec<PathBuf>,
    /// Parts closed early ([`Output::close`]), already in place.
    closed: Vec<Finished>,
    /// Sync each part before it is renamed into place.
    fsync: bool,
    refused: Vec<String>,
    discard: io::Sink,
}

impl DirOutput {
    /// Parts under `dir`; existing files are replaced only with `force`.
    pub fn new(dir: &Path, force: bool) -> Self {
        DirOutput {
            root: dir.to_path_buf(),
            dir: dir.to_path_buf(),
            force,
            claims: None,
            open: HashMap::new(),
            order: Vec::new(),
            closed: Vec::new(),
            fsync: false,
            refused: Vec::new(),
            discard: io::sink(),
        }
    }

    /// Parts under `dir`, a folder under the output folder `root`, for the
    /// input `input` of a run whose output paths `claims` holds: a part
    /// another input claimed is refused.
    pub fn under(root: &Path, dir: &Path, force: bool, claims: &Claims, input: &str) -> Self {
        DirOutput {
            root: root.to_path_buf(),
            dir: dir.to_path_buf(),
            claims: Some((claims.clone(), input.to_string())),
            ..DirOutput::new(root, force)
        }
    }

    /// Sync each part closed early before renaming it into place.
    pub fn fsync(mut self, fsync: bool) -> Self {
        self.fsync = fsync;
        self
    }

    /// The parts closed early ([`Output::close`]) since the last call, in
    /// place, with their hash and size.
    pub fn take_closed(&mut self) -> Vec<Finished> {
        std::mem::take(&mut self.closed)
    }

    /// The parts refused so far, each with why.
    pub fn take_refused(&mut self) -> Vec<String> {
        std::mem::take(&mut self.refused)
    }

    /// Renames every part into place (syncing first with `fsync`), in the
    /// order they were created; returns each with its hash and size.
    pub fn commit(mut self, fsync: bool) -> Result<Vec<Finished>, (PathBuf, io::Error)> {
        let mut done = std::mem::take(&mut self.closed);
        for path in std::mem::take(&mut self.order) {
            let Some(w) = self.open.remove(&path) else {
                continue;
            };
            let (sha256, bytes) = w.finish(fsync).map_err(|e| (path.clone(), e))?;
            done.push(Finished {
                path,
                sha256,
                bytes,
            });
        }
        Ok(done)
    }
}

impl Output for DirOutput {
    fn part(&mut self, key: &PartKey<'_>) -> io::Result<&mut dyn Write> {
        let path = match part_path(&self.dir, key) {
            Ok(p) => p,
            Err(m) => {
                if !self.refused.contains(&m) {
                    self.refused.push(m);
                }
                return Ok(&mut self.discard);
            }
        };
        if !self.open.contains_key(&path) {
            if let Some((claims, input)) = &self.claims {
                if let Err(m) = claims.claim(&path, input) {
                    if !self.refused.contains(&m) {
                        self.refused.push(m);
                    }
                    return Ok(&mut self.discard);
                }
            }
            let parent = path.parent().unwrap_or(&self.dir).to_path_buf();
            let created = create_dirs_under(&self.root, &parent)
                .and_then(|()| Written::create(&path, Replace::force(self.force)));
            match created {
                Ok(w) => {
                    self.open.insert(path.clone(), w);
                    self.order.push(path.clone());
                }
                Err(e) => {
                    // The refusals of `may_replace` name the path already.
                    let m = if e.kind() == io::ErrorKind::AlreadyExists {
                        e.to_string()
                    } else {
                        format!("{}: {e}", path.display())
                    };
                    if !self.refused.contains(&m) {
                        self.refused.push(m);
                    }
                    return Ok(&mut self.discard);
                }
            }
        }
        match self.open.get_mut(&path) {
            Some(w) => Ok(w),
            None => Ok(&mut self.discard),
        }
    }

    /// Renames the part into place now: what stays open does not grow with
    /// the number of parts.
    fn close(&mut self, key: &PartKey<'_>) -> io::Result<()> {
        let Ok(path) = part_path(&self.dir, key) else {
            return Ok(());
        };
        let Some(w) = self.open.remove(&path) else {
            return Ok(());
        };
        // Usually the part created last; any other is skipped at commit.
        if self.order.last() == Some(&path) {
            self.order.pop();
        }
        let (sha256, bytes) = w
            .finish(self.fsync)
            .map_err(|e| io::Error::new(e.kind(), format!("{}: {e}", path.display())))?;
        self.closed.push(Finished {
            path,
            sha256,
            bytes,
        });
        Ok(())
    }
}

/// One named file (`-o FILE`) and the files beside it (`FILE.timing`), for
/// one channel; written atomically and renamed into place by
/// [`FileOutput::commit`]. Records of several channels (SIEM) may share it.
pub struct FileOutput {
    path: PathBuf,
    replace: Replace,
    owner: OneChannel,
    parts: Vec<(Option<String>, Written<NotHashed>)>,
}

impl FileOutput {
    /// The file `path`, an existing file replaced as `replace` allows;
    /// `merge` lets parts of several channels share it.
    pub fn new(path: &Path, replace: Replace, merge: bool) -> Self {
        FileOutput {
            path: path.to_path_buf(),
            replace,
            owner: OneChannel::new(merge),
            parts: Vec::new(),
        }
    }

    /// Renames every file into place.
    pub fn commit(self, fsync: bool) -> io::Result<()> {
        for (_, w) in self.parts {
            w.finish(fsync)?;
        }
        Ok(())
    }
}

impl Output for FileOutput {
    fn part(&mut self, key: &PartKey<'_>) -> io::Result<&mut dyn Write> {
        self.owner.check(key)?;
        let suffix = match key.name {
            PartName::Main => None,
            PartName::Suffix(s) => Some(s.to_string()),
            PartName::InFolder(_) => {
                return Err(io::Error::other(
                    "this output writes a folder: give a folder",
                ))
            }
        };
        let i = match self.parts.iter().position(|(s, _)| *s == suffix) {
            Some(i) => i,
            None => {
                let path = match &suffix {
                    None => self.path.clone(),
                    // A file beside a device or FIFO (`-o /dev/null` of a
                    // script and its `.timing`) would be a file in /dev.
                    Some(s) if matches!(existing(&self.path)?, Existing::Special) => {
                        return Err(io::Error::other(format!(
                            "{} is not a file: this format also writes {}.{s}; give a file",
                            self.path.display(),
                            self.path.display()
                        )))
                    }
                    Some(s) => PathBuf::from(format!("{}.{s}", self.path.display())),
                };
                // A device or FIFO is written to, as a shell redirection
                // would; anything else goes through a temporary file.
                let written = match existing(&path)? {
                    Existing::Special => Written::direct(&path)?,
                    _ => Written::create_behind(&path, self.replace.clone())?,
                };
                self.parts.push((suffix, written));
                self.parts.len() - 1
            }
        };
        Ok(&mut self.parts[i].1)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_never_leave_the_output_folder() {
        for bad in ["..", ".", "", "a/b", "/etc", "a\\b", "x\0y", ".hidden"] {
            assert!(!safe_component(bad), "{bad:?}");
            assert!(channel_path(Path::new("out"), Some(bad), "0", "cast").is_err());
            assert!(channel_path(Path::new("out"), None, bad, "cast").is_err());
        }
        assert_eq!(
            channel_path(Path::new("out"), Some("c1"), "0", "cast").unwrap(),
            Path::new("out/c1/0.cast")
        );
        let key = PartKey {
            connection: Some("c1"),
            channel: Some("0"),
            ext: "",
            name: PartName::InFolder("stdout"),
        };
        assert_eq!(
            part_path(Path::new("out"), &key).unwrap(),
            Path::new("out/c1/0/stdout")
        );
        let key = PartKey {
            name: PartName::Suffix("timing"),
            ext: "typescript",
            ..key
        };
        assert_eq!(
            part_path(Path::new("out"), &key).unwrap(),
            Path::new("out/c1/0.typescript.timing")
        );
    }

    #[test]
    fn atomic_writes_keep_existing_files_and_leave_no_temporary() {
        let dir = std::env::temp_dir().join(format!("sshtrail-out-{}", std::process::id()));
        fs::create_dir_all(&dir).unwrap();
        let path = dir.join("a.txt");
        write_atomically(&path, false, false, |w| w.write_all(b"one")).unwrap();
        assert!(write_atomically(&path, false, false, |w| w.write_all(b"two")).is_err());
        assert!(write_atomically(&path, true, true, |_| Err(io::Error::other("boom"))).is_err());
        assert_eq!(fs::read(&path).unwrap(), b"one");
        write_atomically(&path, true, true, |w| w.write_all(b"three")).unwrap();
        assert_eq!(fs::read(&path).unwrap(), b"three");
        assert_eq!(
            fs::read_dir(&dir).unwrap().count(),
            1,
            "no temporary file left"
        );
        fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn temporary_names_are_unpredictable_and_never_follow_a_planted_link() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("a.txt");
        let victim = dir.path().join("victim");
        fs::write(&victim, b"precious").unwrap();
        // The name an earlier version used, planted as a link to the victim.
        let guessed = dir
            .path()
            .join(format!(".a.txt.sshtrail-tmp-{}", std::process::id()));
        std::os::unix::fs::symlink(&victim, &guessed).unwrap();
        let one = AtomicFile::create(&path, false).unwrap();
        let two = AtomicFile::create(&path, false).unwrap();
        assert_ne!(one.tmp.path(), two.tmp.path(), "two writers, two names");
        assert_ne!(one.tmp.path(), guessed);
        one.file().write_all(b"one").unwrap();
        one.commit(false).unwrap();
        drop(two);
        assert_eq!(fs::read(&victim).unwrap(), b"precious");
        assert_eq!(fs::read(&path).unwrap(), b"one");
        assert!(fs::symlink_metadata(&guessed)
            .unwrap()
            .file_type()
            .is_symlink());
    }

    #[test]
    fn outputs_get_the_mode_file_create_gives() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let plain = dir.path().join("plain");
        fs::File::create(&plain).unwrap();
        let ours = dir.path().join("ours");
        write_atomically(&ours, false, false, |w| w.write_all(b"x")).unwrap();
        let mode = |p: &Path| fs::metadata(p).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode(&ours), mode(&plain));
    }

    #[test]
    fn paths_read_back_from_a_manifest_are_checked_like_new_ones() {
        let dir = tempfile::tempdir().unwrap();
        let base = dir.path().join("out");
        fs::create_dir_all(base.join("c1")).unwrap();
        fs::write(base.join("c1/0.jsonl"), b"x").unwrap();
        std::os::unix::fs::symlink(base.join("c1"), base.join("link")).unwrap();
        assert_eq!(
            existing_output(&base, "c1/0.jsonl").unwrap(),
            base.join("c1/0.jsonl")
        );
        for bad in [
            "../victim",
            "/dev/zero",
            "c1/../c1/0.jsonl",
            "link/0.jsonl",
            "c1",
            "",
            "c1/missing",
        ] {
            assert!(existing_output(&base, bad).is_err(), "{bad:?}");
        }
    }
}
