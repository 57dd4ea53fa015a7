//! The event model: one SSH message of a trail log, borrowed from the input.

use std::borrow::Cow;
use std::fmt;

use crate::codec::{base64, hex, json};
use crate::error::ParseError;
use crate::time::Nanos;

/// Which way an event went.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Direction {
    /// Client to server ("forward"; API direction code 2).
    ClientToServer,
    /// Server to client ("reverse"; API direction code 1).
    ServerToClient,
}

macro_rules! event_types {
    ($( $variant:ident = $name:literal, $dir:ident, $doc:literal; )*) => {
        /// The type of an event: one of the 15 SSH event types the gateway
        /// defines, or an unknown type that keeps its name.
        #[derive(Debug, Clone, PartialEq, Eq, Hash)]
        pub enum EventType<'a> {
            $( #[doc = $doc] $variant, )*
            /// Any other name: kept, counted, filterable and written back unchanged.
            Unknown(Cow<'a, str>),
        }

        impl<'a> EventType<'a> {
            /// The 15 known types, in the order docs/FORMAT.md lists them.
            pub const KNOWN: [EventType<'static>; 15] = [$( EventType::$variant, )*];

            /// The names of the 15 known types, in the order of [`EventType::KNOWN`].
            pub const NAMES: [&'static str; 15] = [$( $name, )*];

            /// Looks a name up; anything that is not one of the 15 becomes `Unknown`.
            pub fn from_name(name: Cow<'a, str>) -> Self {
                match &*name {
                    $( $name => EventType::$variant, )*
                    _ => EventType::Unknown(name),
                }
            }

            /// The name as it appears in logs and filters.
            pub fn name(&self) -> &str {
                match self {
                    $( EventType::$variant => $name, )*
                    EventType::Unknown(n) => n,
                }
            }

            /// Which way the event went; `None` for unknown types.
            pub fn direction(&self) -> Option<Direction> {
                match self {
                    $( EventType::$variant => Some(Direction::$dir), )*
                    EventType::Unknown(_) => None,
                }
            }

            /// Position of a known type in [`EventType::KNOWN`].
            pub fn known_index(&self) -> Option<usize> {
                EventType::KNOWN.iter().position(|k| k == self)
            }

            /// Detaches the type from the input it borrows.
            pub fn into_owned(self) -> EventType<'static> {
                match self {
                    $( EventType::$variant => EventType::$variant, )*
                    EventType::Unknown(n) => EventType::Unknown(Cow::Owned(n.into_owned())),
                }
            }
        }
    };
}

event_types! {
    Stdin = "stdin", ClientToServer, "Keystrokes and other channel data from the client (CHANNEL_DATA).";
    Stdout = "stdout", ServerToClient, "Channel data from the server (CHANNEL_DATA).";
    Stderr = "stderr", ServerToClient, "Extended data type 1 from the server (CHANNEL_EXTENDED_DATA).";
    ForwardRequest = "forward-request", ClientToServer, "CHANNEL_REQUEST from the client.";
    ReverseRequest = "reverse-request", ServerToClient, "CHANNEL_REQUEST from the server.";
    ForwardReply = "forward-reply", ClientToServer, "CHANNEL_SUCCESS or CHANNEL_FAILURE from the client.";
    ReverseReply = "reverse-reply", ServerToClient, "CHANNEL_SUCCESS or CHANNEL_FAILURE from the server.";
    ForwardGlobalRequest = "forward-global-request", ClientToServer, "GLOBAL_REQUEST from the client.";
    ReverseGlobalRequest = "reverse-global-request", ServerToClient, "GLOBAL_REQUEST from the server.";
    ForwardGlobalReply = "forward-global-reply", ClientToServer, "REQUEST_SUCCESS or REQUEST_FAILURE from the client.";
    ReverseGlobalReply = "reverse-global-reply", ServerToClient, "REQUEST_SUCCESS or REQUEST_FAILURE from the server.";
    ForwardNewChannelRequest = "forward-new-channel-request", ClientToServer, "CHANNEL_OPEN from the client.";
    ReverseNewChannelRequest = "reverse-new-channel-request", ServerToClient, "CHANNEL_OPEN from the server.";
    ForwardNewChannelReply = "forward-new-channel-reply", ClientToServer, "OPEN_CONFIRMATION or OPEN_FAILURE from the client.";
    ReverseNewChannelReply = "reverse-new-channel-reply", ServerToClient, "OPEN_CONFIRMATION or OPEN_FAILURE from the server.";
}

impl fmt::Display for EventType<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// An event's payload, still encoded as it appears in the input.
///
/// Decoding happens on demand, with [`Event::decode_payload`], into a buffer
/// the caller owns and reuses.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Payload<'a> {
    /// No payload (`data` absent, `null` or `""`; a hex event without bytes).
    Empty,
    /// The content of a jsonl `data` string: base64, possibly with JSON escapes.
    Base64 {
        /// The raw string content between the quotes.
        text: &'a [u8],
        /// Whether `text` contains JSON escapes (`\/` is legal JSON).
        escaped: bool,
        /// Where `text` starts.
        line: u64,
        /// 1-based byte column of the first byte of `text`.
        column: u64,
    },
    /// The hex digits of the hex line layout.
    Hex {
        /// The hex digits.
        text: &'a [u8],
        /// Where `text` starts.
        line: u64,
        /// 1-based byte column of the first digit.
        column: u64,
    },
    /// The dump lines of the hex dump layout, already checked by the reader.
    HexDump {
        /// The dump lines, line ends included.
        text: &'a [u8],
        /// The payload length in bytes.
        len: usize,
    },
}

impl Payload<'_> {
    /// Decodes into `out`, which is cleared first; see [`Event::decode_payload`].
    pub fn decode(&self, out: &mut Vec<u8>) -> Result<(), ParseError> {
        out.clear();
        match self {
            Payload::Empty => Ok(()),
            Payload::Base64 {
                text,
                escaped,
                line,
                column,
            } => base64::decode_base64(text, *escaped, *line, *column, out),
            Payload::Hex { text, line, column } => hex::decode_hex(text, *line, *column, out),
            Payload::HexDump { text, len } => {
                out.reserve(*len);
                hex::decode_dump(text, out);
                Ok(())
            }
        }
    }
}

/// One event of a trail log. Everything borrows from the input.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Event<'a> {
    /// The event type.
    pub kind: EventType<'a>,
    /// The timestamp text exactly as it was read (JSON escapes resolved).
    pub ts_text: Cow<'a, str>,
    /// The time in UTC nanoseconds.
    pub ts: Nanos,
    /// The payload, still encoded.
    pub payload: Payload<'a>,
    /// Extra jsonl keys, kept verbatim (empty for hex input).
    pub extras: Extras<'a>,
    /// The 1-based line where the event starts.
    pub line: u64,
}

impl<'a> Event<'a> {
    /// Decodes the payload into `out`, which is cleared first. Reuse `out`
    /// across events: decoding allocates only when `out` has to grow.
    ///
    /// The error names the line and column of the first bad character.
    pub fn decode_payload(&self, out: &mut Vec<u8>) -> Result<(), ParseError> {
        self.payload.decode(out)
    }

    /// An upper bound of the decoded payload length, computed without
    /// decoding (exact for the hex layouts).
    pub fn payload_len_hint(&self) -> usize {
        match &self.payload {
            Payload::Empty => 0,
            Payload::Base64 { text, .. } => text.len() / 4 * 3 + 2,
            Payload::Hex { text, .. } => text.len() / 2,
            Payload::HexDump { len, .. } => *len,
        }
    }

    /// The channel id carried by the event's `channel_id` key, if any
    /// (a string's content, or a number's digits).
    pub fn channel_id(&self) -> Option<Cow<'a, str>> {
        // Most events have no extra key: nothing to scan.
        if self.extras.is_empty() {
            return None;
        }
        let (_, value) = self.extras.iter().find(|(k, _)| *k == "\"channel_id\"")?;
        // The common shapes borrow: a string without escapes, an integer.
        let bare = value.trim_matches([' ', '\t', '\r', '\n']);
        if let Some(inner) = bare.strip_prefix('"').and_then(|r| r.strip_suffix('"')) {
            if !inner.contains(['\\', '"']) {
                return Some(Cow::Borrowed(inner));
            }
        }
        if !bare.is_empty()
            && bare.bytes().all(|c| c.is_ascii_digit())
            && (bare == "0" || !bare.starts_with('0'))
        {
            return Some(Cow::Borrowed(bare));
        }
        match serde_json::from_str::<serde_json::Value>(value).ok()? {
            serde_json::Value::String(s) => Some(Cow::Owned(s)),
            serde_json::Value::Number(n) => Some(Cow::Owned(n.to_string())),
            _ => None,
        }
    }
}

/// The extra keys of a jsonl event (anything but `type`, `ts` and `data`),
/// kept verbatim as raw JSON, in their original order.
///
/// Holds only a reference to the object text; [`Extras::iter`] finds the
/// pairs again, so reading an event never allocates for them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Extras<'a> {
    object: &'a str,
    count: u32,
}

impl<'a> Extras<'a> {
    pub(crate) fn new(object: &'a str, count: u32) -> Self {
        Extras { object, count }
    }

    /// No extra keys.
    pub fn is_empty(&self) -> bool {
        self.count == 0
    }

    /// How many extra keys there are.
    pub fn len(&self) -> usize {
        self.count as usize
    }

    /// The `(key, value)` pairs as raw JSON text: the key with its quotes,
    /// the value exactly as written.
    pub fn iter(&self) -> impl Iterator<Item = (&'a str, &'a str)> + 'a {
        let object = self.object;
        let members = json::Members::new(object.as_bytes());
        // The reader checked that every span is UTF-8 at char boundaries.
        members.filter_map(move |(key, value)| {
            Some((object.get(key.0..key.1)?, object.get(value.0..value.1)?))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn channel_ids_in_every_json_shape() {
        let cases: [(&str, Option<&str>, bool); 8] = [
            (r#""7""#, Some("7"), true),
            (r#""a b""#, Some("a b"), true),
            (r#""a\"b""#, Some("a\"b"), false),
            (r#""\u0041""#, Some("A"), false),
            ("12", Some("12"), true),
            ("0", Some("0"), true),
            ("1.5", Some("1.5"), false),
            ("null", None, false),
        ];
        for (value, want, borrowed) in cases {
            let line = format!(
                r#"{{"type":"stdin","ts":"2023-06-07T17:32:29Z","data":"","channel_id":{value}}}"#
            );
            let ev = crate::SliceReader::new(line.as_bytes())
                .next()
                .unwrap()
                .unwrap();
            let got = ev.channel_id();
            assert_eq!(got.as_deref(), want, "{value}");
            assert_eq!(matches!(got, Some(Cow::Borrowed(_))), borrowed, "{value}");
        }
        let line = r#"{"type":"stdin","ts":"2023-06-07T17:32:29Z","data":""}"#;
        let ev = crate::SliceReader::new(line.as_bytes())
            .next()
            .unwrap()
            .unwrap();
        assert_eq!(ev.channel_id(), None);
    }

    #[test]
    fn every_known_name_round_trips() {
        for (i, k) in EventType::KNOWN.iter().enumerate() {
            let back = EventType::from_name(Cow::Borrowed(k.name()));
            assert_eq!(&back, k);
            assert_eq!(back.known_index(), Some(i));
            assert!(back.direction().is_some());
        }
        let names: std::collections::HashSet<_> =
            EventType::KNOWN.iter().map(|k| k.name()).collect();
        assert_eq!(names.len(), 15);
    }

    #[test]
    fn directions_follow_forward_and_reverse() {
        for k in EventType::KNOWN.iter() {
            let want = if k.name().starts_with("forward") || k.name() == "stdin" {
                Direction::ClientToServer
            } else {
                Direction::ServerToClient
            };
            assert_eq!(k.direction(), Some(want), "{k}");
        }
    }

    #[test]
    fn unknown_types_keep_their_name() {
        let t = EventType::from_name(Cow::Borrowed("session-note"));
        assert_eq!(t, EventType::Unknown(Cow::Borrowed("session-note")));
        assert_eq!(t.name(), "session-note");
        assert_eq!(t.direction(), None);
        assert_eq!(t.known_index(), None);
        assert_eq!(t.into_owned().name(), "session-note");
    }
}
