//! Output held back to keep an order (channel by channel) without holding
//! it all in memory: kept in memory up to a limit, then in an unnamed
//! temporary file.

use std::collections::BTreeMap;
use std::fs::File;
use std::io::{self, BufWriter, Seek, Write};

use sshtrail::connection::Context;

/// Bytes kept in memory before the rest goes to a temporary file.
const IN_MEMORY: usize = 1 << 20;

/// Bytes written now, read back later in the same order.
#[derive(Debug, Default)]
pub struct Spool {
    mem: Vec<u8>,
    file: Option<BufWriter<File>>,
}

impl Spool {
    /// Copies everything held into `out`, in order.
    pub fn drain_into(self, out: &mut dyn Write) -> io::Result<()> {
        out.write_all(&self.mem)?;
        if let Some(file) = self.file {
            let mut file = file.into_inner().map_err(|e| e.into_error())?;
            file.rewind()?;
            io::copy(&mut file, out)?;
        }
        Ok(())
    }
}

impl Write for Spool {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        if let Some(f) = &mut self.file {
            return f.write(buf);
        }
        if self.mem.len() + buf.len() <= IN_MEMORY {
            self.mem.extend_from_slice(buf);
            return Ok(buf.len());
        }
        let mut f = BufWriter::new(tempfile::tempfile()?);
        f.write_all(&std::mem::take(&mut self.mem))?;
        f.write_all(buf)?;
        self.file = Some(f);
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        match &mut self.file {
            Some(f) => f.flush(),
            None => Ok(()),
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
    pub fn ended(&mut self, context: &Context, spool: Spool) {
        self.ended.insert(context.clone(), spool);
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
    }
}
