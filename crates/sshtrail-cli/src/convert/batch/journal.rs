//! The journal of a running batch: each finished input's manifest row,
//! appended as it finishes, so that a crash leaves a record for `--resume`.

use std::io::Read;
use std::path::{Path, PathBuf};

/// The record of finished inputs while a batch runs.
pub const JOURNAL: &str = "manifest.jsonl.journal";

/// The rows of a running batch: appended to the journal file as inputs
/// finish; kept in memory only if the journal cannot be written.
pub struct Journal {
    file: Option<std::fs::File>,
    /// Where this run's rows start in the file, and how many bytes of
    /// whole rows it has written.
    start: u64,
    written: u64,
    /// Rows the file could not take.
    spill: Vec<String>,
}

impl Journal {
    /// Opens (or creates) the journal at `path` to append to, never through
    /// a symbolic link and only if it is a regular file.
    pub fn open(path: &Path) -> std::io::Result<Journal> {
        use std::os::unix::fs::OpenOptionsExt;
        let file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .custom_flags(libc::O_NOFOLLOW)
            .open(path)?;
        let meta = file.metadata()?;
        if !meta.is_file() {
            return Err(std::io::Error::other("not a regular file"));
        }
        let start = meta.len();
        Ok(Journal {
            file: Some(file),
            start,
            written: 0,
            spill: Vec::new(),
        })
    }

    /// Appends one row. On an error the file is given up (reported once by
    /// the caller) and this row and the next ones stay in memory.
    pub fn append(&mut self, row: &str, fsync: bool) -> std::io::Result<()> {
        if let Some(file) = self.file.as_mut() {
            let mut line = Vec::with_capacity(row.len() + 1);
            line.extend_from_slice(row.as_bytes());
            line.push(b'\n');
            let result = std::io::Write::write_all(file, &line).and_then(|()| {
                if fsync {
                    file.sync_data()
                } else {
                    Ok(())
                }
            });
            match result {
                Ok(()) => {
                    self.written += line.len() as u64;
                    return Ok(());
                }
                Err(e) => {
                    self.file = None;
                    self.spill.push(row.to_string());
                    return Err(e);
                }
            }
        }
        self.spill.push(row.to_string());
        Ok(())
    }

    /// Writes this run's rows, in the order they finished.
    pub fn rows(&self, path: &Path, out: &mut dyn std::io::Write) -> std::io::Result<()> {
        if self.written > 0 {
            let mut file = crate::cli::output::open_no_follow(path)?;
            std::io::Seek::seek(&mut file, std::io::SeekFrom::Start(self.start))?;
            let copied = std::io::copy(&mut Read::take(file, self.written), out)?;
            if copied != self.written {
                return Err(std::io::Error::other(format!(
                    "{} shrank while the batch ran",
                    path.display()
                )));
            }
        }
        for row in &self.spill {
            out.write_all(row.as_bytes())?;
            out.write_all(b"\n")?;
        }
        Ok(())
    }
}

/// Removes the temporary outputs (`.NAME.<random>.sshtrail-tmp-PID`) under
/// `outdir` whose process is gone: what a crash or a kill left behind.
/// Those of a live process (another run into the same folder) are kept.
pub fn remove_stale_temporaries(outdir: &Path) -> Vec<PathBuf> {
    let mut removed = Vec::new();
    // Whether a process is alive is read from /proc: without it, keep all.
    if !Path::new("/proc/self").exists() {
        return removed;
    }
    // Symbolic links are not followed: nothing outside the folder is removed.
    for entry in walkdir::WalkDir::new(outdir).into_iter().flatten() {
        let name = entry.file_name().to_string_lossy();
        let Some((_, pid)) = name.rsplit_once(".sshtrail-tmp-") else {
            continue;
        };
        let Ok(pid) = pid.parse::<u32>() else {
            continue;
        };
        let alive = pid == std::process::id() || Path::new(&format!("/proc/{pid}")).exists();
        if entry.file_type().is_file()
            && name.starts_with('.')
            && !alive
            && std::fs::remove_file(entry.path()).is_ok()
        {
            removed.push(entry.path().to_path_buf());
        }
    }
    removed
}
