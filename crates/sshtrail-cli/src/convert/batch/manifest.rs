//! The rows of `OUTDIR/manifest.jsonl`: one an input, typed.
//!
//! Keys are written in sorted order (as the fields are declared), so a row
//! is the same bytes whatever wrote it.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// How an input ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    /// Converted, its outputs written.
    Converted,
    /// Not converted: the input has errors or an output could not be written.
    Failed,
    /// Converted by an earlier run and intact (`--resume`).
    Skipped,
}

/// One output of an input.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OutputRow {
    /// Its size in bytes.
    pub bytes: u64,
    /// The format that wrote it.
    pub format: String,
    /// Its path, relative to the output folder.
    pub path: String,
    /// Its SHA-256.
    pub sha256: String,
}

/// What a row's derived outputs redacted.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Redacted {
    /// Bytes shown as `*`.
    pub bytes: u64,
    /// Secrets (runs of input judged secret).
    pub secrets: u64,
}

impl From<sshtrail::redact::Redactions> for Redacted {
    fn from(r: sshtrail::redact::Redactions) -> Self {
        Redacted {
            bytes: r.bytes,
            secrets: r.secrets,
        }
    }
}

/// A row for an input that was read.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Row {
    /// Events per type.
    pub by_type: BTreeMap<String, u64>,
    /// The channel of the log (from its path).
    pub channel_id: String,
    /// The channels its events belong to.
    pub channels: Vec<String>,
    /// The connection, when known.
    pub connection_id: Option<String>,
    /// Malformed lines.
    pub errors: u64,
    /// Events read.
    pub events: u64,
    /// The input's path, as found.
    pub input: String,
    /// The first messages about it, as printed.
    pub messages: Vec<String>,
    /// What was written.
    pub outputs: Vec<OutputRow>,
    /// Secrets typed at prompts that the derived outputs show as `*`.
    #[serde(default)]
    pub redactions: Redacted,
    /// The input's SHA-256.
    pub sha256: String,
    /// The input's size.
    pub size: u64,
    /// How it ended.
    pub status: Status,
    /// Warnings (a cut-off last line).
    pub warnings: u64,
}

/// A row for an input that could not be read at all.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Unread {
    /// Errors (one: the read).
    pub errors: u64,
    /// The input's path, as found.
    pub input: String,
    /// Why.
    pub messages: Vec<String>,
    /// Nothing was written.
    pub outputs: Vec<OutputRow>,
    /// Unknown.
    pub sha256: Option<String>,
    /// Its size when found.
    pub size: u64,
    /// Always [`Status::Failed`].
    pub status: Status,
}

impl Unread {
    /// The row of `input`, of `size` bytes, that failed with `messages`.
    pub fn new(input: &str, size: u64, messages: Vec<String>) -> Self {
        Unread {
            errors: 1,
            input: input.to_string(),
            messages,
            outputs: Vec::new(),
            sha256: None,
            size,
            status: Status::Failed,
        }
    }
}

/// A manifest row of either kind.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum AnyRow {
    /// An input that was read.
    Read(Row),
    /// An input that could not be.
    Unread(Unread),
}

impl AnyRow {
    /// The row as one line of JSON (without its line end).
    pub fn to_line(&self) -> String {
        // Rows are plain data: serializing them cannot fail.
        serde_json::to_string(self).unwrap_or_default()
    }

    /// Whether the row says `size`, `sha256` and that it was converted (or
    /// skipped), with outputs (paths relative to the output folder) whose
    /// hashes `hash` confirms.
    pub fn vouches_for(
        &self,
        size: u64,
        sha256: &str,
        hash: impl Fn(&str) -> Option<String>,
    ) -> bool {
        let AnyRow::Read(r) = self else {
            return false;
        };
        r.size == size
            && r.sha256 == sha256
            && r.status != Status::Failed
            && r.outputs
                .iter()
                .all(|o| hash(&o.path).is_some_and(|h| h == o.sha256))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rows_are_written_with_sorted_keys_and_read_back() {
        let row = AnyRow::Read(Row {
            by_type: BTreeMap::from([("stdout".to_string(), 2)]),
            channel_id: "0".into(),
            channels: vec!["0".into()],
            connection_id: None,
            errors: 0,
            events: 2,
            input: "a/0.jsonl".into(),
            messages: vec![],
            outputs: vec![OutputRow {
                bytes: 3,
                format: "jsonl".into(),
                path: "0.jsonl".into(),
                sha256: "ab".into(),
            }],
            redactions: Redacted::default(),
            sha256: "cd".into(),
            size: 9,
            status: Status::Converted,
            warnings: 0,
        });
        let line = row.to_line();
        assert!(
            line.starts_with(
                r#"{"by_type":{"stdout":2},"channel_id":"0","channels":["0"],"connection_id":null,"#
            ),
            "{line}"
        );
        assert_eq!(serde_json::from_str::<AnyRow>(&line).unwrap(), row);
        let unread = AnyRow::Unread(Unread::new("x", 5, vec!["x: error: gone".into()]));
        let line = unread.to_line();
        assert_eq!(
            line,
            r#"{"errors":1,"input":"x","messages":["x: error: gone"],"outputs":[],"sha256":null,"size":5,"status":"failed"}"#
        );
        assert_eq!(serde_json::from_str::<AnyRow>(&line).unwrap(), unread);
        assert!(!unread.vouches_for(5, "", |_| None));
    }
}
