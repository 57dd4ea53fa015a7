//! Reading, rebuilding and converting SSH trail logs.
//!
//! A privileged-access gateway records every audited SSH channel as a *trail
//! log*: one event per SSH message (keystrokes, output, requests, replies),
//! served in a `jsonl` or a `hex` layout. This crate reads both layouts
//! without copying the input, rebuilds channels from them as typed events,
//! and writes every output format: the evidence layouts byte for byte,
//! recordings (asciicast, script), transcripts, typed commands and SIEM
//! records.
//!
//! Data flows one way: bytes → [`archive`] (what users point at) →
//! [`format`](mod@format) readers → [`Event`] → [`channel`] builder → typed
//! [`channel::ChannelEvent`]s → [`output`] writers or folds → a sink. Nothing
//! keeps the whole log: memory grows with what is on screen or in flight.
//!
//! ```
//! use sshtrail::{EventType, SliceReader};
//!
//! let log = br#"{"type":"stdout","ts":"2023-06-07T17:32:29.513101Z","data":"aGk="}"#;
//! let mut payload = Vec::new();
//! for event in SliceReader::new(log) {
//!     let event = event?;
//!     event.decode_payload(&mut payload)?;
//!     assert_eq!(event.kind, EventType::Stdout);
//!     assert_eq!(payload, b"hi");
//! }
//! # Ok::<(), sshtrail::ParseError>(())
//! ```
//!
//! Cargo features (both on by default): `terminal` (the terminal emulator:
//! transcripts, screens, typed commands) and `siem` (ECS, OCSF, CEF and
//! Splunk HEC records; needs `terminal` for typed commands); off by default,
//! `parquet` (the `lake` module: OCSF records as Parquet in the Amazon
//! Security Lake layout, records as Arrow record batches; needs `siem`).

#![deny(missing_docs)]

mod codec;
mod error;
mod event;
mod filter;
mod utf8;

pub mod archive;
pub mod channel;
pub mod compression;
pub mod connection;
pub mod crosscheck;
pub mod digest;
pub mod encode;
pub mod format;
#[cfg(feature = "gateway")]
pub mod gateway;
#[cfg(feature = "parquet")]
pub mod lake;
pub mod output;
pub mod redact;
#[cfg(feature = "terminal")]
pub mod replay;
#[cfg(feature = "siem")]
pub mod siem;
pub mod ssh;
pub mod stats;
pub mod time;
pub mod transfer;

pub use error::{ParseError, ParseErrorKind, Severity};
pub use event::{Direction, Event, EventType, Extras, Payload};
pub use filter::{closest_known, Filter, FilterError};
pub use format::{Format, Record, SliceReader, StreamReader};
pub use utf8::Utf8Joiner;
