//! Writing output files: atomically (a temporary file in the same folder,
//! then a rename), never over an existing file without `--force`, and only
//! under the output folder.

use std::fs;
use std::io::{self, BufWriter, Write};
use std::path::{Path, PathBuf};

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
