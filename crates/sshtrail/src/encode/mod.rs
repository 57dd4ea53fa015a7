//! Event encoders: each writes events, one at a time, in a log layout
//! (canonical jsonl, hex line, hex dump), as raw payload bytes, or as a
//! listing for people. They are fed events and their decoded payloads and
//! never see the input layout; the evidence formats of [`crate::output`]
//! are built on them.

mod hex;
mod jsonl;
pub(crate) mod pretty;

use std::io::{self, Write};

use crate::event::Event;

pub use hex::{HexDumpEncoder, HexLineEncoder};
pub use jsonl::JsonlEncoder;
pub use pretty::{escape_controls, PrettyEncoder};

/// Why an event could not be written.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum EncodeError {
    /// The sink failed.
    #[error(transparent)]
    Io(#[from] io::Error),
    /// The event cannot be expressed in the output format (for example a
    /// type name with a space in the hex layouts).
    #[error("{0}")]
    Unrepresentable(String),
}

/// One output format.
///
/// ```
/// use sshtrail::encode::{Encoder, HexLineEncoder};
/// use sshtrail::SliceReader;
///
/// let ev = SliceReader::new(br#"{"type":"stdin","ts":"2023-06-07T17:32:29Z","data":"bA=="}"#).next().unwrap().unwrap();
/// let mut out = Vec::new();
/// HexLineEncoder::default().event(&mut out, &ev, b"l").unwrap();
/// assert_eq!(out, b"2023-06-07T17:32:29Z stdin 6c\n");
/// ```
pub trait Encoder {
    /// Writes one event whose decoded payload is `payload`.
    fn event(
        &mut self,
        out: &mut dyn Write,
        event: &Event<'_>,
        payload: &[u8],
    ) -> Result<(), EncodeError>;

    /// Writes whatever closes the output. Called once, after the last event.
    fn finish(&mut self, _out: &mut dyn Write) -> Result<(), EncodeError> {
        Ok(())
    }

    /// Whether the format keeps extra jsonl keys. Front ends warn when an
    /// event's extras are dropped.
    fn keeps_extras(&self) -> bool {
        false
    }
}

/// Writes the decoded payloads back to back: how a user pulls a stream out.
#[derive(Debug, Default, Clone)]
pub struct RawEncoder;

impl Encoder for RawEncoder {
    fn event(
        &mut self,
        out: &mut dyn Write,
        _event: &Event<'_>,
        payload: &[u8],
    ) -> Result<(), EncodeError> {
        out.write_all(payload)?;
        Ok(())
    }
}
