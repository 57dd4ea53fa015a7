//! Writing output files: atomically (a temporary file in the same folder,
//! then a rename), never over an existing file without `--force`, and only
//! under the output folder.

use std::collections::HashMap;
use std::fs;
use std::io::{self, BufWriter, Write};
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};
use sshtrail::output::{OneChannel, Output, PartKey, PartName};

/// True when `id` can name a file or folder: no separators, no `..`, no NUL,
/// not empty, not hidden, not too long.
pub fn safe_component(id: &str) -> bool {
    !id.is_empty() && !id.starts_with('.') && !id.contains(['/', '\\', '\0']) && id.len() <= 200
}

/// An output file being written under a temporary name in its final
/// directory. [`AtomicFile::commit`] renames it into place; dropping it
/// uncommitted removes it, so an error never leaves a half-written file
/// under the real name.
pub struct AtomicFile {
    path: PathBuf,
    tmp: PathBuf,
    file: fs::File,
}

impl AtomicFile {
    /// Creates the temporary file for `path`; refuses an existing `path`
    /// unless `force`.
    pub fn create(path: &Path, force: bool) -> io::Result<AtomicFile> {
        if !force && path.exists() {
            return Err(io::Error::new(
                io::ErrorKind::AlreadyExists,
                format!("{} exists (use --force to replace it)", path.display()),
            ));
        }
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            fs::create_dir_all(dir)?;
        }
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let tmp = path.with_file_name(format!(".{name}.sshtrail-tmp-{}", std::process::id()));
        let file = fs::File::create(&tmp)?;
        Ok(AtomicFile {
            path: path.to_path_buf(),
            tmp,
            file,
        })
    }

    /// The file to write to.
    pub fn file(&self) -> &fs::File {
        &self.file
    }

    /// Syncs (with `fsync`) and renames the file into place.
    pub fn commit(mut self, fsync: bool) -> io::Result<()> {
        if fsync {
            self.file.sync_all()?;
        }
        fs::rename(&self.tmp, &self.path)?;
        // Renamed: nothing left to remove.
        self.tmp = PathBuf::new();
        Ok(())
    }
}

impl Drop for AtomicFile {
    fn drop(&mut self) {
        if !self.tmp.as_os_str().is_empty() {
            let _ = fs::remove_file(&self.tmp);
        }
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
/// `<connection>/<channel>.<ext>[.<suffix>]` or `<connection>/<channel>/<name>`.
pub fn part_path(outdir: &Path, key: &PartKey<'_>) -> Result<PathBuf, String> {
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

/// A file being written, with the SHA-256 and length of what went in.
pub struct Written {
    file: AtomicFile,
    out: BufWriter<fs::File>,
    hash: Sha256,
    len: u64,
}

impl Written {
    fn create(path: &Path, force: bool) -> io::Result<Written> {
        let file = AtomicFile::create(path, force)?;
        let out = BufWriter::with_capacity(256 << 10, file.file().try_clone()?);
        Ok(Written {
            file,
            out,
            hash: Sha256::new(),
            len: 0,
        })
    }
}

impl Write for Written {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.out.write(buf)?;
        self.hash.update(&buf[..n]);
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
    dir: PathBuf,
    force: bool,
    open: HashMap<PathBuf, Written>,
    /// The order the parts were created in.
    order: Vec<PathBuf>,
    refused: Vec<String>,
    discard: io::Sink,
}

impl DirOutput {
    /// Parts under `dir`; existing files are replaced only with `force`.
    pub fn new(dir: &Path, force: bool) -> Self {
        DirOutput {
            dir: dir.to_path_buf(),
            force,
            open: HashMap::new(),
            order: Vec::new(),
            refused: Vec::new(),
            discard: io::sink(),
        }
    }

    /// The parts refused so far, each with why.
    pub fn take_refused(&mut self) -> Vec<String> {
        std::mem::take(&mut self.refused)
    }

    /// Renames every part into place (syncing first with `fsync`), in the
    /// order they were created; returns each with its hash and size.
    pub fn commit(mut self, fsync: bool) -> Result<Vec<Finished>, (PathBuf, io::Error)> {
        let mut done = Vec::new();
        for path in std::mem::take(&mut self.order) {
            let Some(mut w) = self.open.remove(&path) else {
                continue;
            };
            let fail = |e| (path.clone(), e);
            w.out.flush().map_err(fail)?;
            drop(w.out);
            w.file.commit(fsync).map_err(fail)?;
            done.push(Finished {
                path: path.clone(),
                sha256: format!("{:x}", w.hash.finalize()),
                bytes: w.len,
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
            match Written::create(&path, self.force) {
                Ok(w) => {
                    self.open.insert(path.clone(), w);
                    self.order.push(path.clone());
                }
                Err(e) => {
                    let m = format!("{}: {e}", path.display());
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
}

/// One named file (`-o FILE`) and the files beside it (`FILE.timing`), for
/// one channel; written atomically and renamed into place by
/// [`FileOutput::commit`]. Records of several channels (SIEM) may share it.
pub struct FileOutput {
    path: PathBuf,
    force: bool,
    owner: OneChannel,
    parts: Vec<(Option<String>, Written)>,
}

impl FileOutput {
    /// The file `path`; `merge` lets parts of several channels share it.
    pub fn new(path: &Path, force: bool, merge: bool) -> Self {
        FileOutput {
            path: path.to_path_buf(),
            force,
            owner: OneChannel::new(merge),
            parts: Vec::new(),
        }
    }

    /// Renames every file into place.
    pub fn commit(self, fsync: bool) -> io::Result<()> {
        for (_, mut w) in self.parts {
            w.out.flush()?;
            drop(w.out);
            w.file.commit(fsync)?;
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
                    Some(s) => PathBuf::from(format!("{}.{s}", self.path.display())),
                };
                self.parts
                    .push((suffix, Written::create(&path, self.force)?));
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
}
