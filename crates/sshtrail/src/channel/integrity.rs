//! Whether a channel's log agrees with what the gateway recorded about it.
//!
//! The connection metadata (docs/FORMAT.md section 5) gives, per channel,
//! the bytes that went each way (`bytes_client_to_server`,
//! `bytes_server_to_client`) and the status of the gateway's file
//! (`protocol_file.status`). Those are what can be compared: the decoded
//! stdin bytes with the first, stdout and stderr with the second, and the
//! status with `OK`. The contents themselves cannot be checked: a byte
//! replaced by another leaves every count as it was, and the metadata
//! carries no checksum of the gateway's file.

use serde::Serialize;

use super::ChannelState;
use crate::connection::Connection;

/// What the metadata cannot vouch for, said with every verdict.
pub const CONTENTS_NOT_CHECKED: &str =
    "contents not checked: that needs the gateway's checksum, which the connection metadata does not carry";

/// The integrity verdict on a channel's log.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Verdict {
    /// Every comparison was made and agreed (byte counts per direction and
    /// the gateway's status), and the log is whole.
    Ok,
    /// Something differs: [`Integrity::problems`] names each difference.
    Mismatch,
    /// Nothing, or not everything, could be compared (no metadata, the
    /// channel not in it, a count missing): [`Integrity::unchecked`] says
    /// what.
    #[default]
    Unknown,
}

impl Verdict {
    /// `ok`, `mismatch` or `unknown`.
    pub fn name(self) -> &'static str {
        match self {
            Verdict::Ok => "ok",
            Verdict::Mismatch => "mismatch",
            Verdict::Unknown => "unknown",
        }
    }
}

/// Whether the log agrees with the connection metadata, and what was
/// compared to say so.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Integrity {
    /// True when the verdict is [`Verdict::Ok`].
    pub ok: bool,
    /// `ok`, `mismatch` or `unknown`.
    pub verdict: Verdict,
    /// The comparisons made that agreed, e.g. `client to server: 24 bytes,
    /// as bytes_client_to_server says`.
    pub checked: Vec<String>,
    /// Every difference, named (the log's own damage included: malformed
    /// lines, a cut-off last line).
    pub problems: Vec<String>,
    /// What could not be compared, and why.
    pub unchecked: Vec<String>,
}

impl Integrity {
    /// The verdict on the channel `ch` (once it ended) against `meta`.
    pub fn of(ch: &ChannelState, meta: Option<&Connection>) -> Integrity {
        let mut i = Integrity::default();
        let listed = meta.and_then(|m| m.channel(&ch.context.channel_id));
        match (meta, listed) {
            (None, _) => i
                .unchecked
                .push("no connection metadata: nothing to check the log against".into()),
            (Some(_), None) => i.unchecked.push(format!(
                "channel {} is not listed in the connection metadata",
                ch.context.channel_id
            )),
            (Some(_), Some(m)) => {
                let [stdin, stdout, stderr] = ch.bytes;
                match m.bytes_client_to_server {
                    Some(n) if n == stdin => i.checked.push(format!(
                        "client to server: {stdin} bytes, as bytes_client_to_server says"
                    )),
                    Some(n) => i.problems.push(format!(
                        "stdin has {stdin} bytes but the metadata's bytes_client_to_server is {n}"
                    )),
                    None => i
                        .unchecked
                        .push("the metadata has no bytes_client_to_server".into()),
                }
                let out = stdout + stderr;
                match m.bytes_server_to_client {
                    Some(n) if n == out => i.checked.push(format!(
                        "server to client: {out} bytes, as bytes_server_to_client says"
                    )),
                    Some(n) => i.problems.push(format!(
                        "stdout+stderr have {out} bytes ({stdout}+{stderr}) but the metadata's bytes_server_to_client is {n}"
                    )),
                    None => i
                        .unchecked
                        .push("the metadata has no bytes_server_to_client".into()),
                }
                match m.protocol_file.as_ref().and_then(|p| p.status.as_deref()) {
                    Some("OK") => i.checked.push("protocol_file.status is OK".into()),
                    Some(s) => i.problems.push(format!("protocol_file.status is {s}")),
                    None => i
                        .unchecked
                        .push("the metadata has no protocol_file.status".into()),
                }
            }
        }
        if ch.log_errors > 0 {
            i.problems
                .push(format!("the log has {} malformed line(s)", ch.log_errors));
        }
        if ch.log_warnings > 0 {
            i.problems.push("the log's last line is cut off".into());
        }
        i.verdict = if listed.is_none() {
            Verdict::Unknown
        } else if !i.problems.is_empty() {
            Verdict::Mismatch
        } else if i.unchecked.is_empty() {
            Verdict::Ok
        } else {
            Verdict::Unknown
        };
        i.ok = i.verdict == Verdict::Ok;
        i
    }

    /// One line for people: the verdict, then what it rests on.
    ///
    /// ```
    /// use sshtrail::channel::{Integrity, Verdict};
    /// let i = Integrity { verdict: Verdict::Mismatch, problems: vec!["protocol_file.status is UNCLEAN_CLOSE".into()], ..Integrity::default() };
    /// assert_eq!(i.describe(), "mismatch: protocol_file.status is UNCLEAN_CLOSE");
    /// ```
    pub fn describe(&self) -> String {
        match self.verdict {
            Verdict::Ok => format!("ok: {}; {CONTENTS_NOT_CHECKED}", self.checked.join("; ")),
            Verdict::Mismatch => format!("mismatch: {}", self.problems.join("; ")),
            Verdict::Unknown => {
                let mut why = self.unchecked.clone();
                why.extend(self.problems.iter().cloned());
                let mut text = format!("unknown: {}", why.join("; "));
                if !self.checked.is_empty() {
                    text.push_str(&format!(" (agreed: {})", self.checked.join("; ")));
                }
                text
            }
        }
    }
}
