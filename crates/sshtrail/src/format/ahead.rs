//! Reading on another thread: a thread asks the kernel for the next bytes
//! while the conversion works on the previous ones.

use std::io::{self, Read};
use std::sync::mpsc::{self, Receiver, Sender, SyncSender};

/// The most bytes one read of the reading thread asks for.
pub const AHEAD_BUFFER: usize = 256 << 10;

/// How many read buffers may wait for the reader: memory stays at most
/// `AHEAD_DEPTH + 2` buffers whatever the input's size.
pub const AHEAD_DEPTH: usize = 4;

/// Room left before the bytes of each buffer: a [`super::StreamReader`]
/// puts the unfinished record it holds there and takes the buffer as its
/// own, instead of copying the bytes read into its buffer.
pub(crate) const AHEAD_HEADROOM: usize = 64 << 10;

/// What the reading thread hands over, in the order it read it.
enum Chunk {
    /// A buffer and how many bytes were read into it, after its headroom.
    Bytes(Vec<u8>, usize),
    /// The input ended.
    End,
    /// A read failed; nothing more is read.
    Failed(io::Error),
}

/// Where the reader side is.
#[derive(Debug)]
enum State {
    Reading,
    Ended,
    /// The error, said again on every later read.
    Failed(io::ErrorKind, String),
}

/// A [`Read`] whose bytes another thread reads from `R` ahead of time.
///
/// Reading a file costs the kernel's copy out of the page cache, a large
/// share of a fast conversion's time (asciicast): with two cores it
/// overlaps the conversion instead of preceding it. The thread reads into
/// buffers of [`AHEAD_BUFFER`] bytes, one read each (so a live pipe's
/// bytes come on as they arrive), and at most [`AHEAD_DEPTH`] read buffers
/// wait: memory stays bounded.
///
/// Bytes, the end and errors come out in the order the inner reader gave
/// them: what arrived before an error is read first. After an error or the
/// end, every later read says the same again. A reading thread that died
/// (a panic in the inner reader) is an error, never a quiet end of input.
/// Dropping a `ReadAhead` does not wait for the thread: it stops at its
/// next read, once it finds nobody takes its bytes.
///
/// ```
/// use std::io::Read;
/// use sshtrail::format::ReadAhead;
///
/// let input: Vec<u8> = (0..1_000_000u32).flat_map(|i| i.to_le_bytes()).collect();
/// let mut read = Vec::new();
/// ReadAhead::new(Box::new(std::io::Cursor::new(input.clone())))
///     .read_to_end(&mut read)
///     .unwrap();
/// assert_eq!(read, input);
/// ```
pub struct ReadAhead {
    /// The buffer being read from, `len` bytes of it filled after the
    /// headroom (`Read` only).
    current: Vec<u8>,
    pos: usize,
    len: usize,
    headroom: usize,
    /// The length of every buffer of the thread: only those are reused.
    buffer_len: usize,
    /// Read buffers from the thread; `None` when it could not start.
    chunks: Option<Receiver<Chunk>>,
    /// Buffers read from, back to the thread for reuse.
    spent: Sender<Vec<u8>>,
    state: State,
}

impl ReadAhead {
    /// `inner`, read by a thread of its own.
    pub fn new(inner: Box<dyn Read + Send>) -> Self {
        Self::with_sizes(inner, AHEAD_HEADROOM, AHEAD_BUFFER)
    }

    /// `inner`, read `chunk` bytes at most at a time into buffers with
    /// `headroom` bytes before them.
    pub(crate) fn with_sizes(inner: Box<dyn Read + Send>, headroom: usize, chunk: usize) -> Self {
        let (full, chunks) = mpsc::sync_channel::<Chunk>(AHEAD_DEPTH);
        let (spent, reuse) = mpsc::channel::<Vec<u8>>();
        let buffer_len = headroom + chunk.max(1);
        let thread = std::thread::Builder::new()
            .name("sshtrail-read".into())
            .spawn(move || read_into(inner, headroom, buffer_len, &full, &reuse));
        let (chunks, state) = match thread {
            Ok(_) => (Some(chunks), State::Reading),
            Err(e) => (
                None,
                State::Failed(e.kind(), format!("cannot start the reading thread: {e}")),
            ),
        };
        ReadAhead {
            current: Vec::new(),
            pos: 0,
            len: 0,
            headroom,
            buffer_len,
            chunks,
            spent,
            state,
        }
    }

    /// The room before the bytes of each buffer [`ReadAhead::next_filled`]
    /// gives.
    pub(crate) fn headroom(&self) -> usize {
        self.headroom
    }

    /// The next buffer the thread read into, and how many bytes it read
    /// (after [`ReadAhead::headroom`]); `None` at the end of the input. An
    /// error, and the end, are said again on every later call.
    pub(crate) fn next_filled(&mut self) -> io::Result<Option<(Vec<u8>, usize)>> {
        match &self.state {
            State::Reading => {}
            State::Ended => return Ok(None),
            State::Failed(kind, message) => return Err(io::Error::new(*kind, message.clone())),
        }
        let chunk = match &self.chunks {
            Some(chunks) => chunks.recv().ok(),
            None => None,
        };
        match chunk {
            Some(Chunk::Bytes(buf, len)) => Ok(Some((buf, len))),
            Some(Chunk::End) => {
                self.stop(State::Ended);
                Ok(None)
            }
            Some(Chunk::Failed(e)) => {
                self.stop(State::Failed(e.kind(), e.to_string()));
                Err(e)
            }
            None => {
                let message = "the reading thread stopped before the end of the input";
                self.stop(State::Failed(io::ErrorKind::Other, message.into()));
                Err(io::Error::other(message))
            }
        }
    }

    /// A buffer [`ReadAhead::next_filled`] gave (or any other), back for
    /// the thread to read into again if it is one of its size.
    pub(crate) fn give_back(&mut self, buf: Vec<u8>) {
        if buf.len() == self.buffer_len {
            // The thread may have stopped already: then no reuse.
            let _ = self.spent.send(buf);
        }
    }

    fn stop(&mut self, state: State) {
        self.state = state;
        self.chunks = None;
    }
}

/// The reading thread: reads `inner` into buffers until its end, an error,
/// or until the reader side is gone.
fn read_into(
    mut inner: Box<dyn Read + Send>,
    headroom: usize,
    buffer_len: usize,
    full: &SyncSender<Chunk>,
    reuse: &Receiver<Vec<u8>>,
) {
    loop {
        // A buffer keeps its full length: reading into it needs no zeroing.
        let mut buf = reuse.try_recv().unwrap_or_else(|_| vec![0; buffer_len]);
        let chunk = loop {
            match inner.read(&mut buf[headroom..]) {
                Ok(0) => break Chunk::End,
                Ok(n) => break Chunk::Bytes(buf, n),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => break Chunk::Failed(e),
            }
        };
        let more = matches!(chunk, Chunk::Bytes(..));
        if full.send(chunk).is_err() || !more {
            return;
        }
    }
}

impl std::fmt::Debug for ReadAhead {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ReadAhead")
            .field("buffer_len", &self.buffer_len)
            .field("headroom", &self.headroom)
            .field("state", &self.state)
            .finish_non_exhaustive()
    }
}

impl Read for ReadAhead {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        if out.is_empty() {
            return Ok(0);
        }
        loop {
            if self.pos < self.len {
                let n = out.len().min(self.len - self.pos);
                let from = self.headroom + self.pos;
                out[..n].copy_from_slice(&self.current[from..from + n]);
                self.pos += n;
                return Ok(n);
            }
            let Some((buf, len)) = self.next_filled()? else {
                return Ok(0);
            };
            let spent = std::mem::replace(&mut self.current, buf);
            self.give_back(spent);
            self.pos = 0;
            self.len = len;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Gives `chunk` bytes a read from `data`, then fails (or ends).
    struct Chunked {
        data: Vec<u8>,
        at: usize,
        chunk: usize,
        fail_at_end: bool,
        interrupt_every: usize,
        reads: usize,
    }

    impl Read for Chunked {
        fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
            self.reads += 1;
            if self.interrupt_every > 0 && self.reads.is_multiple_of(self.interrupt_every) {
                return Err(io::Error::new(io::ErrorKind::Interrupted, "again"));
            }
            if self.at == self.data.len() {
                return if self.fail_at_end {
                    Err(io::Error::new(
                        io::ErrorKind::UnexpectedEof,
                        "the disk went away",
                    ))
                } else {
                    Ok(0)
                };
            }
            let n = out.len().min(self.chunk).min(self.data.len() - self.at);
            out[..n].copy_from_slice(&self.data[self.at..self.at + n]);
            self.at += n;
            Ok(n)
        }
    }

    fn chunked(len: usize, chunk: usize, fail_at_end: bool) -> (Vec<u8>, Chunked) {
        let data: Vec<u8> = (0..len).map(|i| (i * 7 % 251) as u8).collect();
        let reader = Chunked {
            data: data.clone(),
            at: 0,
            chunk,
            fail_at_end,
            interrupt_every: 3,
            reads: 0,
        };
        (data, reader)
    }

    #[test]
    fn every_byte_comes_out_in_order_whatever_the_read_sizes() {
        for (len, chunk, ask) in [
            (0, 1, 1),
            (1, 1, 7),
            (3 * AHEAD_BUFFER + 17, AHEAD_BUFFER, 4096),
            (AHEAD_BUFFER * (AHEAD_DEPTH + 5), 1000, AHEAD_BUFFER * 2),
            (100_000, 7, 1),
        ] {
            let (data, reader) = chunked(len, chunk, false);
            let mut ahead = ReadAhead::new(Box::new(reader));
            let mut got = Vec::new();
            let mut buf = vec![0; ask];
            loop {
                let n = ahead.read(&mut buf).unwrap();
                if n == 0 {
                    break;
                }
                got.extend_from_slice(&buf[..n]);
            }
            assert_eq!(got, data, "{len} bytes read {chunk} at a time, asked {ask}");
            // The end is said again.
            assert_eq!(ahead.read(&mut buf).unwrap(), 0);
        }
    }

    #[test]
    fn bytes_before_an_error_come_first_then_the_error_every_time() {
        let (data, reader) = chunked(AHEAD_BUFFER * 2 + 5, 9000, true);
        let mut ahead = ReadAhead::new(Box::new(reader));
        let mut got = Vec::new();
        let e = ahead.read_to_end(&mut got).unwrap_err();
        assert_eq!(got, data);
        assert_eq!(e.kind(), io::ErrorKind::UnexpectedEof);
        assert_eq!(e.to_string(), "the disk went away");
        let again = ahead.read(&mut [0; 10]).unwrap_err();
        assert_eq!((again.kind(), again.to_string()), (e.kind(), e.to_string()));
    }

    /// Panics on its second read.
    struct Panics(bool);

    impl Read for Panics {
        fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
            assert!(!self.0, "the inner reader broke");
            self.0 = true;
            out[0] = b'x';
            Ok(1)
        }
    }

    #[test]
    fn a_reading_thread_that_died_is_an_error_not_the_end() {
        let mut ahead = ReadAhead::new(Box::new(Panics(false)));
        let mut got = Vec::new();
        let e = ahead.read_to_end(&mut got).unwrap_err();
        assert_eq!(got, b"x");
        assert!(e.to_string().contains("reading thread stopped"), "{e}");
        assert!(ahead.read(&mut [0; 4]).is_err(), "said again");
    }

    /// An endless input that says when it is dropped.
    struct Endless(std::sync::Arc<std::sync::atomic::AtomicBool>);

    impl Read for Endless {
        fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
            out.fill(b'a');
            Ok(out.len())
        }
    }

    impl Drop for Endless {
        fn drop(&mut self) {
            self.0.store(true, std::sync::atomic::Ordering::SeqCst);
        }
    }

    #[test]
    fn a_reader_dropped_early_stops_the_thread() {
        let dropped = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let mut ahead = ReadAhead::new(Box::new(Endless(dropped.clone())));
        let mut buf = [0; 100];
        assert_eq!(ahead.read(&mut buf).unwrap(), 100);
        drop(ahead);
        // The thread drops the input when it stops: within a few of its
        // reads, not never.
        let started = std::time::Instant::now();
        while !dropped.load(std::sync::atomic::Ordering::SeqCst) {
            assert!(
                started.elapsed() < std::time::Duration::from_secs(60),
                "the reading thread went on reading"
            );
            std::thread::sleep(std::time::Duration::from_millis(5));
        }
    }
}
