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
    /// Converted by an earlier run and intact (`--resume`), or declined by
    /// every format with a warning saying why (a transcript of a channel
    /// without a terminal): no output.
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
    /// The formats the input was converted to (in this run and, when
    /// resumed, the runs before), whether or not each wrote a file: a
    /// resumed run converts it to the formats asked for that are not here.
    /// Rows of older manifests lack it: the formats of their outputs stand
    /// for it.
    #[serde(default)]
    pub formats: Vec<String>,
    /// The input's path, as found.
    pub input: String,
    /// The first messages about it, as printed (warnings among them, such
    /// as an output converted again because it was changed or deleted).
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
    /// Warnings printed about it: a cut-off last line, what a writer had
    /// to make up or leave out, another layout of its channel set aside,
    /// an output converted again because it was changed or deleted.
    pub warnings: u64,
}

impl Row {
    /// The formats it was converted to: [`Row::formats`], or for a row of
    /// an older manifest, the formats of its outputs.
    pub fn formats_done(&self) -> Vec<String> {
        if !self.formats.is_empty() {
            return self.formats.clone();
        }
        let mut done: Vec<String> = Vec::new();
        for o in &self.outputs {
            if !o.format.is_empty() && !done.contains(&o.format) {
                done.push(o.format.clone());
            }
        }
        done
    }
}

/// Why an output an earlier run wrote cannot vouch for it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Lost {
    /// It is not there any more.
    Missing,
    /// Its SHA-256 is not the one recorded.
    Changed,
    /// It cannot be read as the file written (a link, a folder, unreadable).
    Unusable(String),
}

impl Lost {
    /// Why, as a warning says it.
    pub fn reason(&self) -> String {
        match self {
            Lost::Missing => "is missing (deleted since it was written)".to_string(),
            Lost::Changed => {
                "changed since it was written (its SHA-256 is not the one the manifest recorded)"
                    .to_string()
            }
            Lost::Unusable(why) => format!("cannot vouch for it: {why}"),
        }
    }
}

/// What `--resume` makes of an input an earlier run's row is about.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Resume {
    /// Converted again, with no word: the input is not what the row says
    /// (or the row is of a failure).
    Redo,
    /// Converted again because outputs the row lists were changed or
    /// deleted: each, relative to the output folder, with why.
    Tampered(Vec<(String, Lost)>),
    /// Done and intact; `missing` are the formats asked for now that it was
    /// not converted to (none: nothing to do).
    Intact {
        /// The formats to convert it to now.
        missing: Vec<String>,
    },
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

    /// What resuming makes of the input this row is about, which now has
    /// `size` bytes hashing to `sha256` and is asked in `formats`: redone
    /// when the row is of a failure or of other bytes, or when an output
    /// it lists (a path relative to the output folder) is not as written,
    /// which `hash` tells (the output's SHA-256, or why there is none);
    /// else intact, with the formats still to do.
    pub fn resume(
        &self,
        size: u64,
        sha256: &str,
        formats: &[&str],
        hash: impl Fn(&str) -> Result<String, Lost>,
    ) -> Resume {
        let AnyRow::Read(r) = self else {
            return Resume::Redo;
        };
        if r.size != size || r.sha256 != sha256 || r.status == Status::Failed {
            return Resume::Redo;
        }
        let lost: Vec<(String, Lost)> = r
            .outputs
            .iter()
            .filter_map(|o| match hash(&o.path) {
                Ok(h) if h == o.sha256 => None,
                Ok(_) => Some((o.path.clone(), Lost::Changed)),
                Err(why) => Some((o.path.clone(), why)),
            })
            .collect();
        if !lost.is_empty() {
            return Resume::Tampered(lost);
        }
        let done = r.formats_done();
        Resume::Intact {
            missing: formats
                .iter()
                .filter(|f| !done.iter().any(|d| d == *f))
                .map(|f| f.to_string())
                .collect(),
        }
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
            formats: vec!["jsonl".into()],
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
        assert_eq!(
            unread.resume(5, "", &["jsonl"], |_| Err(Lost::Missing)),
            Resume::Redo
        );
        // Intact, and asked for one more format: that format is to do.
        let intact = |_: &str| Ok("ab".to_string());
        assert_eq!(
            row.resume(9, "cd", &["jsonl", "asciicast"], intact),
            Resume::Intact {
                missing: vec!["asciicast".into()]
            }
        );
        assert_eq!(
            row.resume(9, "cd", &["jsonl"], |_| Ok("ef".into())),
            Resume::Tampered(vec![("0.jsonl".into(), Lost::Changed)])
        );
        assert_eq!(row.resume(8, "cd", &["jsonl"], intact), Resume::Redo);
    }
}
