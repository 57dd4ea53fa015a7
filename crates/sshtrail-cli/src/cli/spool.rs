//! Output held back to keep an order (channel by channel) without holding
//! it all in memory: kept in memory up to a limit, then in an unnamed
//! temporary file.

use std::collections::BTreeMap;
use std::fs::File;
use std::io::{self, Seek, Write};

use sshtrail::connection::Context;
use sshtrail::output::WriteBehind;

/// Bytes kept in memory before the rest goes to a temporary file.
const IN_MEMORY: usize = 1 << 20;

/// Bytes written now, read back later in the same order.
#[derive(Default)]
pub struct Spool {
    mem: Vec<u8>,
    file: Option<Spilled>,
}

/// The temporary file of a spool past [`IN_MEMORY`].
enum Spilled {
    /// Written by a thread of its own while the spool is being written:
    /// the kernel's copy into the file was about 6% of the searching
    /// thread of a `grep` whose pattern many lines match, and overlaps the
    /// search this way.
    Behind(WriteBehind<File>),
    /// Every byte written (the spool's channel ended): no thread waits.
    Written(File),
}

impl std::fmt::Debug for Spool {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Spool")
            .field("in_memory", &self.mem.len())
            .field("spilled", &self.file.is_some())
            .finish()
    }
}

impl Spool {
    /// Waits until every byte is in the temporary file (if there is one),
    /// so that no thread is kept for a spool that only waits to be read.
    pub fn settle(&mut self) -> io::Result<()> {
        if let Some(Spilled::Behind(_)) = &self.file {
            if let Some(Spilled::Behind(behind)) = self.file.take() {
                self.file = Some(Spilled::Written(behind.finish()?));
            }
        }
        Ok(())
    }

    /// Copies everything held into `out`, in order.
    pub fn drain_into(mut self, out: &mut dyn Write) -> io::Result<()> {
        self.settle()?;
        out.write_all(&self.mem)?;
        if let Some(Spilled::Written(mut file)) = self.file {
            file.rewind()?;
            io::copy(&mut file, out)?;
        }
        Ok(())
    }
}

impl Write for Spool {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match &mut self.file {
            Some(Spilled::Behind(f)) => return f.write(buf),
            Some(Spilled::Written(_)) => {
                return Err(io::Error::other("a settled spool takes no more bytes"))
            }
            None => {}
        }
        if self.mem.len() + buf.len() <= IN_MEMORY {
            self.mem.extend_from_slice(buf);
            return Ok(buf.len());
        }
        let mut f = WriteBehind::new(tempfile::tempfile()?);
        f.write_all(&std::mem::take(&mut self.mem))?;
        f.write_all(buf)?;
        self.file = Some(Spilled::Behind(f));
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        match &mut self.file {
            Some(Spilled::Behind(f)) => f.flush(),
            _ => Ok(()),
        }
    }
}

/// What each channel of a connection wrote, put out channel by channel in
/// order of their ids when the connection ends.
#[derive(Debug, Default)]
pub struct ByChannel {
    ended: BTreeMap<Context, Spool>,
}

impl ByChannel {
    /// The channel `context` ended with `spool` written.
    pub fn ended(&mut self, context: &Context, mut spool: Spool) -> io::Result<()> {
        spool.settle()?;
        self.ended.insert(context.clone(), spool);
        Ok(())
    }

    /// Writes every ended channel's output into `out`, in order.
    pub fn drain_into(&mut self, out: &mut dyn Write) -> io::Result<()> {
        for (_, spool) in std::mem::take(&mut self.ended) {
            spool.drain_into(out)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spilled_bytes_come_back_in_order() {
        let mut s = Spool::default();
        let line = b"0123456789abcdef\n";
        let n = (IN_MEMORY / line.len()) * 3;
        for _ in 0..n {
            s.write_all(line).unwrap();
        }
        assert!(s.file.is_some(), "past the limit the rest is in a file");
        let mut out = Vec::new();
        s.drain_into(&mut out).unwrap();
        assert_eq!(out, line.repeat(n));
        // Settled before it is read (a channel that ended), the same.
        let mut s = Spool::default();
        for _ in 0..n {
            s.write_all(line).unwrap();
        }
        s.settle().unwrap();
        assert!(matches!(s.file, Some(Spilled::Written(_))));
        assert!(s.write_all(line).is_err(), "settled: no more bytes");
        let mut out = Vec::new();
        s.drain_into(&mut out).unwrap();
        assert_eq!(out, line.repeat(n));
    }
}
