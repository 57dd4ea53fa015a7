//! Connection metadata (the gateway's connection object, docs/FORMAT.md section 5)
//! and the channel context of a log: which connection and channel it is.

use std::path::Path;

use serde::Deserialize;

/// The connection object of `GET .../connections/{connection_id}`, saved
/// beside the logs. Unknown fields are ignored, missing ones are `None`.
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(default)]
pub struct Connection {
    /// Connection id (a UUID).
    pub id: Option<String>,
    /// Protocol, e.g. `SSH`.
    #[serde(rename = "type")]
    pub protocol: Option<String>,
    /// How the user authenticated, e.g. `["CERT"]`.
    pub authentication_method: Vec<String>,
    /// Who connected.
    pub user_data: Option<UserData>,
    /// Where to.
    pub target_host_data: Option<HostData>,
    /// The target's address.
    pub target_host_address: Option<String>,
    /// The account used on the target.
    pub target_host_account: Option<String>,
    /// Where the user connected from.
    pub remote_address: Option<String>,
    /// Connection start (RFC 3339).
    pub connected: Option<String>,
    /// Connection end (RFC 3339).
    pub disconnected: Option<String>,
    /// `CONNECTED`, `DISCONNECTED`, ...
    pub status: Option<String>,
    /// Free tags.
    pub tags: Vec<String>,
    /// The recorded channels.
    pub trail: Option<Trail>,
}

/// `user_data` of a connection.
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(default)]
pub struct UserData {
    /// User id.
    pub id: Option<String>,
    /// The user's name as people know it.
    pub display_name: Option<String>,
}

/// `target_host_data` of a connection.
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(default)]
pub struct HostData {
    /// Host id.
    pub id: Option<String>,
    /// Host name.
    pub common_name: Option<String>,
}

/// `trail` of a connection.
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(default)]
pub struct Trail {
    /// Connection id again.
    pub connection_id: Option<String>,
    /// The channels recorded.
    pub channels: Vec<TrailChannel>,
}

/// One channel of `trail.channels[]`.
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(default)]
pub struct TrailChannel {
    /// Channel id; a string in the API, accepted as a number too.
    #[serde(deserialize_with = "string_or_number")]
    pub id: Option<String>,
    /// Channel type (verified value: `shell`).
    #[serde(rename = "type")]
    pub kind: Option<String>,
    /// Bytes the client sent on the channel.
    pub bytes_client_to_server: Option<u64>,
    /// Bytes the server sent on the channel.
    pub bytes_server_to_client: Option<u64>,
    /// The trail file.
    pub protocol_file: Option<ProtocolFile>,
    /// The files the gateway saw moving over the channel (and may have
    /// kept); `None` when the metadata has no such list. A value of the
    /// wrong type in an entry never fails the parse: the entry says which
    /// field it could not read (see [`TransferredFile::unreadable`]).
    #[serde(deserialize_with = "lenient_files")]
    pub transferred_files: Option<Vec<TransferredFile>>,
}

/// `direction` of a `transferred_files[]` entry. Inferred, not verified
/// against a gateway (docs/FORMAT.md section 5): `2` is client to server,
/// `1` server to client, as `protocol_file.direction` is read. Any other
/// number is kept as it was written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FileDirection {
    /// `1`: server to client (a download).
    ServerToClient,
    /// `2`: client to server (an upload).
    ClientToServer,
    /// Any other number, as written.
    Other(serde_json::Number),
}

impl FileDirection {
    /// The code as written (`1`, `2`, `7`, `-1`, `2.5`).
    pub fn code(&self) -> String {
        match self {
            FileDirection::ServerToClient => "1".into(),
            FileDirection::ClientToServer => "2".into(),
            FileDirection::Other(n) => n.to_string(),
        }
    }
}

/// One entry of `trail.channels[].transferred_files`: a file the gateway
/// saw moving over the channel. Every field is optional; one of the wrong
/// type is `None` and named in [`TransferredFile::unreadable`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TransferredFile {
    /// The gateway's file id: the name of its stored copy under
    /// `<connection folder>/files/` (only when it is a safe file name, see
    /// [`is_safe_file_id`]).
    pub id: Option<String>,
    /// The file's path, as the gateway names it (a suffix of the remote
    /// path: `evidence/blob.bin`).
    pub name: Option<String>,
    /// Where in the file the transfer began (0 for whole files).
    pub offset: Option<u64>,
    /// Which way it moved.
    pub direction: Option<FileDirection>,
    /// When the gateway began seeing it (RFC 3339).
    pub open_time: Option<String>,
    /// When it stopped (RFC 3339).
    pub close_time: Option<String>,
    /// The bytes the gateway saw.
    pub payload_size: Option<u64>,
    /// Whether the gateway closed it.
    pub closed: Option<bool>,
    /// `OK`, or what went wrong.
    pub status: Option<String>,
    /// The fields present with a value of the wrong type (`payload_size`
    /// given as text, a number beyond `u64`), or `(entry)` when the entry
    /// is not an object.
    pub unreadable: Vec<String>,
}

impl TransferredFile {
    /// Reads an entry from any JSON value, never failing.
    ///
    /// ```
    /// use sshtrail::connection::{FileDirection, TransferredFile};
    /// let v = serde_json::json!({"id": "f1", "direction": 2, "payload_size": "big"});
    /// let f = TransferredFile::from_value(&v);
    /// assert_eq!(f.direction, Some(FileDirection::ClientToServer));
    /// assert_eq!((f.payload_size, f.unreadable), (None, vec!["payload_size".to_string()]));
    /// ```
    pub fn from_value(v: &serde_json::Value) -> TransferredFile {
        use serde_json::Value;
        let mut f = TransferredFile::default();
        let Some(obj) = v.as_object() else {
            f.unreadable.push("(entry)".into());
            return f;
        };
        let mut bad = Vec::new();
        let mut text = |key: &str| match obj.get(key) {
            None | Some(Value::Null) => None,
            Some(Value::String(s)) => Some(s.clone()),
            Some(Value::Number(n)) if key == "id" => Some(n.to_string()),
            Some(_) => {
                bad.push(key.to_string());
                None
            }
        };
        f.id = text("id");
        f.name = text("name");
        f.open_time = text("open_time");
        f.close_time = text("close_time");
        f.status = text("status");
        let mut number = |key: &str| match obj.get(key) {
            None | Some(Value::Null) => None,
            Some(Value::Number(n)) if n.as_u64().is_some() => n.as_u64(),
            Some(_) => {
                bad.push(key.to_string());
                None
            }
        };
        f.offset = number("offset");
        f.payload_size = number("payload_size");
        f.direction = match obj.get("direction") {
            None | Some(Value::Null) => None,
            Some(Value::Number(n)) => Some(match n.as_u64() {
                Some(1) => FileDirection::ServerToClient,
                Some(2) => FileDirection::ClientToServer,
                _ => FileDirection::Other(n.clone()),
            }),
            Some(_) => {
                bad.push("direction".into());
                None
            }
        };
        f.closed = match obj.get("closed") {
            None | Some(Value::Null) => None,
            Some(Value::Bool(b)) => Some(*b),
            Some(_) => {
                bad.push("closed".into());
                None
            }
        };
        f.unreadable = bad;
        f
    }
}

/// Whether `id` may name a file under `files/`: one path component of
/// ASCII letters, digits, `-`, `_` and `.`, not starting with a dot, at most
/// 255 bytes. A UUID is; `../x`, `a/b`, `.` and `` are not.
///
/// ```
/// use sshtrail::connection::is_safe_file_id;
/// assert!(is_safe_file_id("7df59a9e-378a-5abb-8938-d83f22658f74"));
/// assert!(!is_safe_file_id("../connection.json") && !is_safe_file_id("..") && !is_safe_file_id(""));
/// ```
pub fn is_safe_file_id(id: &str) -> bool {
    !id.is_empty()
        && id.len() <= 255
        && !id.starts_with('.')
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
}

fn lenient_files<'de, D: serde::Deserializer<'de>>(
    d: D,
) -> Result<Option<Vec<TransferredFile>>, D::Error> {
    Ok(match Option::<serde_json::Value>::deserialize(d)? {
        Some(serde_json::Value::Array(items)) => {
            Some(items.iter().map(TransferredFile::from_value).collect())
        }
        // Not a list: the one entry says so.
        Some(serde_json::Value::Null) | None => None,
        Some(other) => Some(vec![TransferredFile::from_value(&other)]),
    })
}

/// `protocol_file` of a trail channel.
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(default)]
pub struct ProtocolFile {
    /// `OK`, `UNCLEAN_CLOSE`, `ONGOING`, `LENGTH_MISMATCH`, ...
    pub status: Option<String>,
    /// When the trail file was opened.
    pub open_time: Option<String>,
    /// When it was closed.
    pub close_time: Option<String>,
    /// Whether it was closed.
    pub closed: Option<bool>,
}

fn string_or_number<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    Ok(match Option::<serde_json::Value>::deserialize(d)? {
        Some(serde_json::Value::String(s)) => Some(s),
        Some(serde_json::Value::Number(n)) => Some(n.to_string()),
        _ => None,
    })
}

/// A connection JSON that does not parse.
#[derive(Debug, thiserror::Error)]
#[error("{line}:{column}: bad connection JSON: {message}")]
pub struct ConnectionError {
    /// 1-based line.
    pub line: u64,
    /// 1-based column.
    pub column: u64,
    /// What serde_json said.
    pub message: String,
}

impl Connection {
    /// Parses a connection object.
    ///
    /// ```
    /// let c = sshtrail::connection::Connection::from_json(br#"{"id":"c1","user_data":{"display_name":"alice"},"x":1}"#).unwrap();
    /// assert_eq!(c.user(), Some("alice"));
    /// ```
    pub fn from_json(bytes: &[u8]) -> Result<Connection, ConnectionError> {
        serde_json::from_slice(bytes).map_err(|e| ConnectionError {
            line: e.line() as u64,
            column: e.column().max(1) as u64,
            message: e.to_string(),
        })
    }

    /// `user_data.display_name`.
    pub fn user(&self) -> Option<&str> {
        self.user_data.as_ref()?.display_name.as_deref()
    }

    /// `target_host_data.common_name`.
    pub fn host(&self) -> Option<&str> {
        self.target_host_data.as_ref()?.common_name.as_deref()
    }

    /// The metadata of channel `id`.
    pub fn channel(&self, id: &str) -> Option<&TrailChannel> {
        self.trail
            .as_ref()?
            .channels
            .iter()
            .find(|c| c.id.as_deref() == Some(id))
    }
}

/// Which connection and channel a log belongs to.
#[derive(Debug, Clone, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Context {
    /// The connection id, when known.
    pub connection_id: Option<String>,
    /// The channel id.
    pub channel_id: String,
}

impl Context {
    /// The channel `id` of no known connection.
    pub fn channel(id: &str) -> Self {
        Context {
            connection_id: None,
            channel_id: id.to_string(),
        }
    }
}

/// Values by channel, for the per-event lookups of the builders, the
/// redaction judge and the writers: consecutive events are nearly always of
/// the same channel, so the channel last asked for is kept apart and found
/// by comparing its ids, without hashing; the others wait in a hash map
/// (SipHash: a log naming many channels cannot make it slow).
#[derive(Debug)]
pub(crate) struct ChannelMap<V> {
    /// Boxed: the owners stay small (the map sits inline in writers).
    hot: Option<Box<(Context, V)>>,
    rest: std::collections::HashMap<Context, V>,
}

impl<V> Default for ChannelMap<V> {
    fn default() -> Self {
        ChannelMap {
            hot: None,
            rest: std::collections::HashMap::new(),
        }
    }
}

impl<V> ChannelMap<V> {
    /// Makes `context`'s entry, if it has one, the hot one.
    fn heat(&mut self, context: &Context) -> bool {
        if matches!(&self.hot, Some(hot) if hot.0 == *context) {
            return true;
        }
        let Some(entry) = self.rest.remove_entry(context) else {
            return false;
        };
        if let Some(old) = self.hot.replace(Box::new(entry)) {
            let (c, v) = *old;
            self.rest.insert(c, v);
        }
        true
    }

    /// The value of `context`, if any.
    pub(crate) fn get_mut(&mut self, context: &Context) -> Option<&mut V> {
        if !self.heat(context) {
            return None;
        }
        self.hot.as_mut().map(|hot| &mut hot.1)
    }

    /// The value of `context`, made by `make` if there is none.
    pub(crate) fn get_or_insert_with(
        &mut self,
        context: &Context,
        make: impl FnOnce() -> V,
    ) -> &mut V {
        if !self.heat(context) {
            if let Some(old) = self.hot.take() {
                let (c, v) = *old;
                self.rest.insert(c, v);
            }
        }
        &mut self
            .hot
            .get_or_insert_with(|| Box::new((context.clone(), make())))
            .1
    }

    /// Takes the value of `context` out.
    pub(crate) fn remove(&mut self, context: &Context) -> Option<V> {
        if matches!(&self.hot, Some(hot) if hot.0 == *context) {
            return self.hot.take().map(|hot| hot.1);
        }
        self.rest.remove(context)
    }
}

/// True for the 8-4-4-4-12 hex form of a UUID.
pub fn is_uuid(s: &str) -> bool {
    let b = s.as_bytes();
    b.len() == 36
        && b.iter().enumerate().all(|(i, &c)| {
            if matches!(i, 8 | 13 | 18 | 23) {
                c == b'-'
            } else {
                c.is_ascii_hexdigit()
            }
        })
}

/// The context a path gives (docs/FORMAT.md section 5): `<connection_id>/<channel_id>.<ext>`
/// when the folder is named by a UUID (or `connection_is_dir` says the
/// folder holds the connection), `<connection_id>_<channel_id>.<ext>` when
/// the prefix is a UUID, otherwise the file stem is the channel id.
///
/// ```
/// use sshtrail::connection::context_from_path;
/// let c = context_from_path("a/30187a8e-7d54-538d-8116-f03995b6228b/0.jsonl".as_ref(), false);
/// assert_eq!(c.connection_id.as_deref(), Some("30187a8e-7d54-538d-8116-f03995b6228b"));
/// assert_eq!(c.channel_id, "0");
/// assert_eq!(context_from_path("logs/session.hex".as_ref(), false).connection_id, None);
/// ```
pub fn context_from_path(path: &Path, connection_is_dir: bool) -> Context {
    // `0.jsonl.gz` is channel 0, as `0.jsonl` is.
    let name = path
        .file_name()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default();
    let stem = Path::new(crate::compression::without_compressed_extension(&name))
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default();
    if let Some((conn, chan)) = stem.split_once('_') {
        if is_uuid(conn) && !chan.is_empty() {
            return Context {
                connection_id: Some(conn.to_string()),
                channel_id: chan.to_string(),
            };
        }
    }
    let dir = path
        .parent()
        .and_then(Path::file_name)
        .map(|d| d.to_string_lossy().into_owned());
    match dir {
        Some(d) if connection_is_dir || is_uuid(&d) => Context {
            connection_id: Some(d),
            channel_id: stem,
        },
        _ => Context {
            connection_id: None,
            channel_id: stem,
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_api_example_and_tolerates_gaps() {
        let full = br#"{"id":"c","type":"SSH","authentication_method":["CERT"],"user_data":{"display_name":"u@d"},"target_host_data":{"common_name":"h"},
            "target_host_address":"10.0.0.1","target_host_account":"root","remote_address":"1.2.3.4","tags":["prod"],"unknown":{"deep":[1]},
            "trail":{"channels":[{"id":"0","type":"shell","bytes_client_to_server":5,"bytes_server_to_client":7,"protocol_file":{"status":"OK"}},{"id":1}]}}"#;
        let c = Connection::from_json(full).unwrap();
        assert_eq!((c.user(), c.host()), (Some("u@d"), Some("h")));
        let ch = c.channel("0").unwrap();
        assert_eq!(
            (ch.bytes_client_to_server, ch.bytes_server_to_client),
            (Some(5), Some(7))
        );
        assert_eq!(
            ch.protocol_file.as_ref().unwrap().status.as_deref(),
            Some("OK")
        );
        assert!(c.channel("1").is_some());
        assert_eq!(Connection::from_json(b"{}").unwrap(), Connection::default());
    }

    #[test]
    fn bad_json_is_located() {
        let e = Connection::from_json(b"{\n  \"id\":\n  [1,\n  x]}").unwrap_err();
        assert_eq!((e.line, e.column), (3, 2), "{e}");
        let e = Connection::from_json(br#"{"tags": 5}"#).unwrap_err();
        assert!(e.to_string().contains("bad connection JSON"), "{e}");
    }

    #[test]
    fn contexts_from_paths() {
        let u = "30187a8e-7d54-538d-8116-f03995b6228b";
        let c = context_from_path(format!("x/{u}_2.hex").as_ref(), false);
        assert_eq!(
            (c.connection_id.as_deref(), c.channel_id.as_str()),
            (Some(u), "2")
        );
        let c = context_from_path("x/my_log.hex".as_ref(), false);
        assert_eq!((c.connection_id, c.channel_id.as_str()), (None, "my_log"));
        let c = context_from_path("conn-a/3.jsonl".as_ref(), true);
        assert_eq!(
            (c.connection_id.as_deref(), c.channel_id.as_str()),
            (Some("conn-a"), "3")
        );
        assert!(!is_uuid("30187a8e-7d54-538d-8116-f03995b6228"));
    }

    #[test]
    fn transferred_files_are_typed_and_hostile_values_are_named() {
        let c = Connection::from_json(
            br#"{"trail":{"channels":[{"id":"0","transferred_files":[
            {"id":"f1","name":"a/b.bin","offset":0,"direction":2,"open_time":"2026-12-01T00:00:40Z","close_time":"2026-12-01T00:00:41Z","payload_size":5,"closed":true,"status":"OK"},
            {"id":"../../etc/passwd","name":{"x":1},"direction":7,"payload_size":1e300,"offset":-1,"closed":"yes","status":5},
            {"direction":18446744073709551616,"payload_size":18446744073709551615},
            {"direction":"2","payload_size":"5"},
            5, null],"extra":1},
            {"id":"1","transferred_files":"nope"},{"id":"2"}]}}"#,
        )
        .unwrap();
        let files = c.channel("0").unwrap().transferred_files.as_ref().unwrap();
        assert_eq!(files.len(), 6);
        assert_eq!(files[0].direction, Some(FileDirection::ClientToServer));
        assert_eq!(
            (
                files[0].payload_size,
                files[0].closed,
                files[0].name.as_deref()
            ),
            (Some(5), Some(true), Some("a/b.bin"))
        );
        assert!(files[0].unreadable.is_empty());
        assert_eq!(
            files[1]
                .direction
                .as_ref()
                .map(FileDirection::code)
                .as_deref(),
            Some("7")
        );
        assert_eq!(
            files[1].unreadable,
            ["name", "status", "offset", "payload_size", "closed"]
        );
        assert_eq!(files[1].id.as_deref(), Some("../../etc/passwd"));
        assert!(!is_safe_file_id(files[1].id.as_deref().unwrap()));
        assert!(matches!(files[2].direction, Some(FileDirection::Other(_))));
        assert_eq!(files[2].payload_size, Some(u64::MAX));
        assert_eq!(files[3].unreadable, ["payload_size", "direction"]);
        assert_eq!(files[4].unreadable, ["(entry)"]);
        assert_eq!(
            files[5],
            TransferredFile {
                unreadable: vec!["(entry)".into()],
                ..TransferredFile::default()
            }
        );
        let one = c.channel("1").unwrap().transferred_files.as_ref().unwrap();
        assert_eq!(one[0].unreadable, ["(entry)"]);
        assert_eq!(c.channel("2").unwrap().transferred_files, None);
        for bad in ["", ".", "..", "a/b", "a\\b", ".hidden", "x\u{0}y", "é"] {
            assert!(!is_safe_file_id(bad), "{bad:?}");
        }
    }
}
