//! Opening inputs: memory-mapped regular files, read small files, stream
//! stdin and pipes; and driving one reader over either.

use std::fs::File;
use std::io::{self, Read};

use sshtrail::{Format, Record, SliceReader, StreamReader};

/// Files smaller than this are read, not mapped: mapping costs more than it
/// saves for small files.
const MAP_THRESHOLD: u64 = 1 << 20;

/// An opened input.
pub enum Input {
    /// The whole input in memory (a mapped or read file).
    Bytes(Bytes),
    /// Standard input, a pipe or a device, read with bounded memory.
    Stream(Box<dyn Read>),
}

/// Bytes of a whole file.
pub enum Bytes {
    Mapped(memmap2::Mmap),
    Owned(Vec<u8>),
}

impl std::ops::Deref for Bytes {
    type Target = [u8];
    fn deref(&self) -> &[u8] {
        match self {
            Bytes::Mapped(m) => m,
            Bytes::Owned(v) => v,
        }
    }
}

/// The name used in messages for a path argument.
pub fn display_name(path: &str) -> &str {
    if path == "-" {
        "<stdin>"
    } else {
        path
    }
}

/// Opens `path` (`-` is standard input).
pub fn open(path: &str) -> io::Result<Input> {
    if path == "-" {
        return Ok(Input::Stream(Box::new(io::stdin())));
    }
    let file = File::open(path)?;
    let meta = file.metadata()?;
    if meta.is_dir() {
        return Err(io::Error::other("is a directory, not a trail log"));
    }
    if !meta.is_file() {
        return Ok(Input::Stream(Box::new(file)));
    }
    if meta.len() < MAP_THRESHOLD {
        let mut buf = Vec::with_capacity(meta.len() as usize);
        (&file).read_to_end(&mut buf)?;
        return Ok(Input::Bytes(Bytes::Owned(buf)));
    }
    // SAFETY: the map is read-only. Another process truncating the file while
    // we read it would raise SIGBUS; trail logs are downloaded archives that
    // nothing rewrites in place (see the README's note on robustness).
    let map = unsafe { memmap2::Mmap::map(&file)? };
    #[cfg(unix)]
    let _ = map.advise(memmap2::Advice::Sequential);
    Ok(Input::Bytes(Bytes::Mapped(map)))
}

/// Runs `f` over every record of `input`, in order; stops at the first error
/// `f` returns. Read errors come back as `E`.
pub fn for_each_record<E: From<io::Error>>(
    input: Input,
    format: Option<Format>,
    mut f: impl FnMut(Record<'_>) -> Result<(), E>,
) -> Result<(), E> {
    match input {
        Input::Bytes(bytes) => {
            for record in SliceReader::with_format(&bytes, format) {
                f(record)?;
            }
            Ok(())
        }
        Input::Stream(read) => StreamReader::with_format(read, format).for_each(f),
    }
}
