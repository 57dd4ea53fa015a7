//! Writing on another thread: the conversion fills buffers while a thread
//! hands the previous ones to the kernel.

use std::io::{self, Write};
use std::sync::mpsc::{self, Receiver, SyncSender};
use std::thread::JoinHandle;

/// The size of a buffer handed to the writing thread.
pub const BEHIND_BUFFER: usize = 256 << 10;

/// How many full buffers may wait for the writing thread: memory stays at
/// most `BEHIND_DEPTH + 2` buffers whatever the output's size.
pub const BEHIND_DEPTH: usize = 4;

/// A [`Write`] whose bytes another thread writes into `W`, in order.
///
/// Writing into a file costs the kernel's copy into the page cache, a
/// large share of a fast conversion's time (asciicast): with two cores it
/// overlaps the conversion instead of following it. Bytes are gathered into
/// buffers of [`BEHIND_BUFFER`] bytes; at most [`BEHIND_DEPTH`] full ones
/// wait, after which a write waits for the thread (memory stays bounded).
///
/// The first error of the inner writer is returned by the next
/// [`Write::write`], [`Write::flush`] or [`WriteBehind::finish`] (nothing
/// after it is written); [`WriteBehind::finish`] waits until every byte is
/// written and gives the inner writer back. [`Write::flush`] hands the
/// gathered bytes to the thread without waiting for them.
///
/// ```
/// use std::io::Write;
/// use sshtrail::output::WriteBehind;
///
/// let mut w = WriteBehind::new(Vec::new());
/// for i in 0..100_000 {
///     writeln!(w, "line {i}").unwrap();
/// }
/// let out = w.finish().unwrap();
/// assert!(out.starts_with(b"line 0\nline 1\n"));
/// assert!(out.ends_with(b"line 99999\n"));
/// ```
pub struct WriteBehind<W: Write + Send + 'static> {
    buf: Vec<u8>,
    /// Full buffers to the thread; `None` once it stopped.
    full: Option<SyncSender<Vec<u8>>>,
    /// Buffers the thread wrote, back for reuse.
    empty: Receiver<Vec<u8>>,
    thread: Option<JoinHandle<io::Result<W>>>,
    /// The thread's error, once known (said again on every later call).
    failed: Option<(io::ErrorKind, String)>,
}

impl<W: Write + Send + 'static> WriteBehind<W> {
    /// `inner`, written by a thread of its own.
    pub fn new(inner: W) -> Self {
        let (full, work) = mpsc::sync_channel::<Vec<u8>>(BEHIND_DEPTH);
        let (back, empty) = mpsc::channel::<Vec<u8>>();
        let thread = std::thread::Builder::new()
            .name("sshtrail-write".into())
            .spawn(move || {
                let mut inner = inner;
                for mut buf in work {
                    // On error the receiver is dropped here: the next send
                    // fails and the writer side asks for the error.
                    inner.write_all(&buf)?;
                    buf.clear();
                    // The writer side may be gone already: then no reuse.
                    let _ = back.send(buf);
                }
                inner.flush()?;
                Ok(inner)
            });
        match thread {
            Ok(handle) => WriteBehind {
                buf: Vec::with_capacity(BEHIND_BUFFER),
                full: Some(full),
                empty,
                thread: Some(handle),
                failed: None,
            },
            Err(e) => WriteBehind {
                buf: Vec::new(),
                full: None,
                empty,
                thread: None,
                failed: Some((e.kind(), format!("cannot start the writing thread: {e}"))),
            },
        }
    }

    /// The error the thread stopped with, found by joining it.
    fn stopped(&mut self) -> io::Error {
        self.full = None;
        if self.failed.is_none() {
            let error = match self.thread.take().map(JoinHandle::join) {
                Some(Ok(Err(e))) => (e.kind(), e.to_string()),
                Some(Err(_)) => (io::ErrorKind::Other, "the writing thread failed".into()),
                Some(Ok(Ok(_))) | None => (
                    io::ErrorKind::Other,
                    "the writing thread stopped early".into(),
                ),
            };
            self.failed = Some(error);
        }
        self.error()
    }

    fn error(&self) -> io::Error {
        match &self.failed {
            Some((kind, message)) => io::Error::new(*kind, message.clone()),
            None => io::Error::other("the writing thread stopped early"),
        }
    }

    /// Hands the gathered bytes to the thread.
    fn send(&mut self) -> io::Result<()> {
        if self.failed.is_some() {
            return Err(self.error());
        }
        if self.buf.is_empty() {
            return Ok(());
        }
        let next = self
            .empty
            .try_recv()
            .unwrap_or_else(|_| Vec::with_capacity(BEHIND_BUFFER));
        let full = std::mem::replace(&mut self.buf, next);
        let sent = match &self.full {
            Some(sender) => sender.send(full).is_ok(),
            None => false,
        };
        if sent {
            Ok(())
        } else {
            Err(self.stopped())
        }
    }

    /// Waits until every byte is written and flushed; gives the inner
    /// writer back, or the first error.
    pub fn finish(mut self) -> io::Result<W> {
        self.send()?;
        self.full = None;
        match self.thread.take().map(JoinHandle::join) {
            Some(Ok(result)) => result,
            Some(Err(_)) => Err(io::Error::other("the writing thread failed")),
            None => Err(self.error()),
        }
    }
}

impl<W: Write + Send + 'static> Write for WriteBehind<W> {
    fn write(&mut self, bytes: &[u8]) -> io::Result<usize> {
        if self.failed.is_some() {
            return Err(self.error());
        }
        self.buf.extend_from_slice(bytes);
        if self.buf.len() >= BEHIND_BUFFER {
            self.send()?;
        }
        Ok(bytes.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        self.send()
    }
}

impl<W: Write + Send + 'static> Drop for WriteBehind<W> {
    /// Without [`WriteBehind::finish`] (a conversion that failed): the
    /// thread writes what it was given and stops before this returns, so
    /// nothing writes into `W` after its owner moved on.
    fn drop(&mut self) {
        self.full = None;
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Accepts `left` bytes, then fails.
    struct FailsAfter {
        left: usize,
        got: Vec<u8>,
    }

    impl Write for FailsAfter {
        fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
            if self.left == 0 {
                return Err(io::Error::new(io::ErrorKind::StorageFull, "disk full"));
            }
            let n = buf.len().min(self.left);
            self.left -= n;
            self.got.extend_from_slice(&buf[..n]);
            Ok(n)
        }

        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn bytes_arrive_whole_and_in_order() {
        let mut expected = Vec::new();
        let mut w = WriteBehind::new(Vec::new());
        for i in 0..200_000u32 {
            // Pieces of every size, some larger than a buffer.
            let piece: Vec<u8> = if i % 50_000 == 7 {
                vec![b'x'; BEHIND_BUFFER * 3 + 5]
            } else {
                format!("{i},").into_bytes()
            };
            w.write_all(&piece).unwrap();
            expected.extend_from_slice(&piece);
            if i % 77_777 == 0 {
                w.flush().unwrap();
            }
        }
        assert_eq!(w.finish().unwrap(), expected);
    }

    #[test]
    fn an_error_of_the_inner_writer_comes_back() {
        let mut w = WriteBehind::new(FailsAfter {
            left: 1000,
            got: Vec::new(),
        });
        let mut failed = None;
        for _ in 0..10_000 {
            if let Err(e) = w.write_all(&[b'a'; 1024]) {
                failed = Some(e);
                break;
            }
        }
        let e = match failed {
            Some(e) => e,
            None => w.finish().err().expect("the error comes back"),
        };
        assert_eq!(e.kind(), io::ErrorKind::StorageFull);
        assert!(e.to_string().contains("disk full"), "{e}");
    }

    #[test]
    fn an_error_at_the_end_comes_back_from_finish() {
        let mut w = WriteBehind::new(FailsAfter {
            left: 10,
            got: Vec::new(),
        });
        w.write_all(b"more than ten bytes").unwrap();
        let e = w.finish().err().expect("the error comes back");
        assert_eq!(e.kind(), io::ErrorKind::StorageFull);
    }
}
