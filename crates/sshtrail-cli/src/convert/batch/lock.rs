//! The lock a batch holds on its output folder for the whole run: a second
//! run into the same folder (two `--resume` at once) would tear the
//! journal's lines and race for the outputs.
//!
//! The folder itself is locked (`flock` on its descriptor): no lock file is
//! left behind, and the kernel drops the lock however the process ends.

use std::fs::{File, TryLockError};
use std::os::unix::fs::MetadataExt;
use std::path::Path;

/// An exclusive lock on an output folder, released when dropped.
pub struct OutdirLock {
    _dir: File,
}

impl OutdirLock {
    /// Takes the lock on `outdir` without waiting; the error names the
    /// process that holds it.
    pub fn take(outdir: &Path) -> Result<OutdirLock, String> {
        let fail = |e: &dyn std::fmt::Display| format!("{}: {e}", outdir.display());
        let dir = File::open(outdir).map_err(|e| fail(&e))?;
        let meta = dir.metadata().map_err(|e| fail(&e))?;
        if !meta.is_dir() {
            return Err(fail(&"not a folder"));
        }
        match dir.try_lock() {
            Ok(()) => Ok(OutdirLock { _dir: dir }),
            Err(TryLockError::WouldBlock) => {
                let pid = holder(meta.dev(), meta.ino())
                    .map_or_else(|| "unknown".to_string(), |p| p.to_string());
                Err(format!(
                    "{} is in use by another sshtrail run (PID {pid}): wait for it to end, or write into another folder",
                    outdir.display()
                ))
            }
            Err(TryLockError::Error(e)) => Err(fail(&format!("cannot be locked: {e}"))),
        }
    }
}

/// The process holding a `flock` on the file `dev`/`ino`, from
/// `/proc/locks` (`1: FLOCK ADVISORY WRITE PID MAJ:MIN:INODE 0 EOF`, the
/// device numbers in hex).
fn holder(dev: u64, ino: u64) -> Option<u32> {
    let locks = std::fs::read_to_string("/proc/locks").ok()?;
    let want = format!("{:02x}:{:02x}:{ino}", libc::major(dev), libc::minor(dev));
    locks.lines().find_map(|line| {
        let fields: Vec<&str> = line.split_whitespace().collect();
        match fields.as_slice() {
            [_, "FLOCK", _, _, pid, file, ..] if *file == want => pid.parse().ok(),
            _ => None,
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_second_lock_names_the_holder_and_the_first_is_released_when_dropped() {
        let dir = tempfile::tempdir().unwrap();
        let first = OutdirLock::take(dir.path()).unwrap();
        let e = OutdirLock::take(dir.path()).err().unwrap();
        assert!(
            e.contains(&format!(
                "in use by another sshtrail run (PID {})",
                std::process::id()
            )),
            "{e}"
        );
        drop(first);
        assert!(OutdirLock::take(dir.path()).is_ok());
        assert_eq!(
            std::fs::read_dir(dir.path()).unwrap().count(),
            0,
            "no lock file"
        );
    }
}
