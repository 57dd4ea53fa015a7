//! Zero-copy reading and writing of SSH trail logs.
//!
//! A privileged-access gateway records every audited SSH channel as a *trail
//! log*: one event per SSH message (keystrokes, output, requests, replies),
//! served in a `jsonl` or a `hex` layout. This crate reads both layouts
//! without copying the input, decodes payloads into a buffer the caller owns,
//! filters events by type and writes them back in any layout.
//!
//! Data flows one way: bytes → [`format`] (readers) → [`Event`] →
//! [`Filter`] → [`encode`] (writers).
//!
//! ```
//! use sshtrail::{format::SliceReader, EventType};
//!
//! let log = br#"{"type":"stdout","ts":"2023-06-07T17:32:29.513101Z","data":"aGk="}"#;
//! let mut payload = Vec::new();
//! for event in SliceReader::new(log) {
//!     let event = event.unwrap();
//!     event.decode_payload(&mut payload).unwrap();
//!     assert_eq!(event.kind, EventType::Stdout);
//!     assert_eq!(payload, b"hi");
//! }
//! ```

pub mod channel;
mod codec;
pub mod commands;
pub mod connection;
pub mod encode;
pub mod error;
pub mod event;
pub mod filter;
pub mod format;
pub mod screen;
pub mod siem;
pub mod ssh;
pub mod stats;
pub mod time;
pub mod utf8;

pub use error::{ParseError, ParseErrorKind, Severity};
pub use event::{Direction, Event, EventType, Payload};
pub use filter::Filter;
pub use format::{Format, Record, SliceReader, StreamReader};
