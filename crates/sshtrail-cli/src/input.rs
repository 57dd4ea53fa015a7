//! Opening inputs: read small files whole, stream larger files, stdin, pipes
//! and devices; and driving one reader over either.
//!
//! Files are read with `read(2)`, never memory-mapped. A mapped file that
//! another process truncates while we read it raises SIGBUS, which kills the
//! process without a message; a file read with `read` that shrinks just ends
//! early, and [`FileStream`] turns that into a clear error. Streaming large
//! files also keeps memory bounded (one read buffer and one event, as for
//! stdin; an event over 16 MiB is reported and skipped) instead of growing
//! with the file. The cost is one copy from the page cache: `cat --filter
//! stdout --to raw` over a 256 MiB log takes 0.13 s mapped or streamed, with
//! a peak of 5 MiB instead of 260 MiB; the commands that hold a whole log
//! (`inspect`, `streams`) take 0.15 s more to read it into memory.

use std::fs::File;
use std::io::{self, Read};

use sshtrail::{Format, Record, SliceReader, StreamReader};

/// Files smaller than this are read whole, in one go, and parsed as a slice;
/// larger ones are streamed.
const WHOLE_FILE_LIMIT: u64 = 1 << 20;

/// An opened input.
pub enum Input {
    /// The whole input in memory (a small file).
    Bytes(Bytes),
    /// A large file, standard input, a pipe or a device, read with bounded
    /// memory.
    Stream(Box<dyn Read>),
}

/// Bytes of a whole file.
pub enum Bytes {
    /// Read into memory.
    Owned(Vec<u8>),
}

impl std::ops::Deref for Bytes {
    type Target = [u8];
    fn deref(&self) -> &[u8] {
        match self {
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
        // A FIFO, a character device, /dev/stdin on a pipe: no size to check.
        return Ok(Input::Stream(Box::new(file)));
    }
    let mut stream = FileStream::new(file, meta.len());
    if meta.len() < WHOLE_FILE_LIMIT {
        let mut buf = Vec::new();
        stream.read_to_end(&mut buf)?;
        return Ok(Input::Bytes(Bytes::Owned(buf)));
    }
    Ok(Input::Stream(Box::new(stream)))
}

/// A regular file read from its start, that knows the size it had when it
/// was opened: reaching its end before that size means another process
/// truncated it while we read, and is an error rather than a silently short
/// log. A file that grows is read to its new end.
pub struct FileStream {
    file: File,
    /// The size when opened.
    expected: u64,
    /// Bytes read so far.
    done: u64,
}

impl FileStream {
    /// Wraps `file`, whose size was `expected` when it was opened.
    pub fn new(file: File, expected: u64) -> Self {
        FileStream {
            file,
            expected,
            done: 0,
        }
    }

    fn shrank(&self) -> io::Error {
        io::Error::new(
            io::ErrorKind::UnexpectedEof,
            format!(
                "the file shrank while it was read: it had {} bytes when opened, only {} could be read (truncated by another process?)",
                self.expected, self.done
            ),
        )
    }
}

impl Read for FileStream {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.file.read(buf)?;
        if n == 0 && !buf.is_empty() && self.done < self.expected {
            return Err(self.shrank());
        }
        self.done += n as u64;
        Ok(n)
    }

    /// Reads the rest of the file, reserving its size once: a file too
    /// large for memory is an error, not an abort.
    fn read_to_end(&mut self, buf: &mut Vec<u8>) -> io::Result<usize> {
        let rest = self.expected.saturating_sub(self.done);
        usize::try_from(rest)
            .ok()
            .and_then(|rest| buf.try_reserve_exact(rest).ok())
            .ok_or_else(|| too_large(self.expected))?;
        let n = self.file.read_to_end(buf)?;
        self.done += n as u64;
        if self.done < self.expected {
            return Err(self.shrank());
        }
        Ok(n)
    }
}

fn too_large(bytes: u64) -> io::Error {
    io::Error::new(
        io::ErrorKind::OutOfMemory,
        format!("the file is too large to hold in memory ({bytes} bytes)"),
    )
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
