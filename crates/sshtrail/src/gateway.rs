//! A client of the gateway's connection-manager API (feature `gateway`):
//! the OAuth token, the connection list and search (paged), a connection,
//! and the two-step downloads of a channel's trail log and of its stored
//! files, with retries.
//!
//! The client writes nothing but what a download is streamed into: the
//! archive (its layout, manifest and lock) is the `sshtrail fetch`
//! command's (docs/DESIGN.md).
//!
//! Requests are retried with a capped exponential backoff on connection
//! errors, 5xx and 429 (a `Retry-After` in seconds is honoured, up to the
//! cap), a bounded number of times; a 401 refreshes the token once. A
//! download cut mid-way starts again from a new session, its sink
//! [restarted](Sink::restart): a body shorter than its `Content-Length` is
//! an error, never a short download.
//!
//! Credentials are held as [`Secret`]s: no message, `Debug` output or error
//! of this module holds one.
//!
//! ```no_run
//! use sshtrail::gateway::{
//!     ConnectionSummary, Credentials, Download, Gateway, LogFormat, Options, Search, Secret,
//! };
//!
//! let credentials = Credentials::Token(Secret::new(std::env::var("TOKEN").unwrap_or_default()));
//! let gateway = Gateway::new("https://gateway.example", credentials, &Options::default())?;
//! let search = Search { tags: vec!["prod".into()], ..Search::default() };
//! for listed in gateway.connections(&search)? {
//!     let id = listed["id"].as_str().unwrap_or_default();
//!     let object = gateway.connection(id)?;
//!     let summary = ConnectionSummary::parse(&object).expect("a connection object");
//!     for channel in summary.channels() {
//!         let mut log = Vec::new();
//!         let what = Download::Log {
//!             connection_id: id,
//!             channel_id: &channel.id,
//!             format: LogFormat::Jsonl,
//!             filter: None,
//!         };
//!         let done = gateway.download(&what, &mut log)?;
//!         println!("{id}/{}.jsonl: {} bytes, sha256 {}", channel.id, done.bytes, done.sha256);
//!     }
//! }
//! # Ok::<(), sshtrail::gateway::Error>(())
//! ```

use std::fmt;
use std::io::{self, Read, Write};
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::Duration;

use serde::Deserialize;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

/// The path of the OAuth token endpoint.
pub const TOKEN_PATH: &str = "/auth/api/v1/oauth/token";
/// The path of the connection manager's connections.
pub const CONNECTIONS_PATH: &str = "/connection-manager/api/v1/connections";

/// A credential: shown as `<redacted>` by `Debug`, never in a message.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    /// Wraps `value`.
    pub fn new(value: impl Into<String>) -> Secret {
        Secret(value.into())
    }

    /// The value, for the one place that sends it.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("<redacted>")
    }
}

/// How the client authenticates.
#[derive(Debug, Clone)]
pub enum Credentials {
    /// A ready bearer token: a 401 cannot be cured by a new one.
    Token(Secret),
    /// An API client and an OAuth client: the token is asked for with
    /// `grant_type=password`, the API client's id and secret as username
    /// and password, the OAuth client's as HTTP Basic credentials.
    Clients {
        /// The API client's id.
        api_client_id: Secret,
        /// The API client's secret.
        api_client_secret: Secret,
        /// The OAuth client's id.
        oauth_client_id: Secret,
        /// The OAuth client's secret.
        oauth_client_secret: Secret,
    },
}

/// When and how often a request is tried again.
#[derive(Debug, Clone, Copy)]
pub struct RetryPolicy {
    /// Tries in all, the first included (at least 1).
    pub tries: u32,
    /// The wait before the second try; doubled each time after.
    pub base_delay: Duration,
    /// The longest wait, a `Retry-After` included.
    pub max_delay: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            tries: 5,
            base_delay: Duration::from_millis(500),
            max_delay: Duration::from_secs(30),
        }
    }
}

impl RetryPolicy {
    /// The wait after failed try number `tries` (1-based), or the
    /// server's `Retry-After`, both capped.
    pub fn delay(&self, tries: u32, retry_after: Option<Duration>) -> Duration {
        let backoff = self
            .base_delay
            .saturating_mul(1u32 << tries.saturating_sub(1).min(20));
        retry_after.unwrap_or(backoff).min(self.max_delay)
    }
}

/// How the client connects.
#[derive(Debug, Clone)]
pub struct Options {
    /// PEM certificates of CAs trusted besides the bundled web roots.
    pub ca_pem: Option<Vec<u8>>,
    /// Allows plain `http://` to an address that is not loopback.
    pub insecure: bool,
    /// Retries.
    pub retry: RetryPolicy,
    /// The longest wait for a connection, and for a response's head.
    pub timeout: Duration,
    /// The longest silence while reading (each read, not the whole body).
    pub read_timeout: Duration,
    /// Connections asked for per page.
    pub page_limit: u32,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            ca_pem: None,
            insecure: false,
            retry: RetryPolicy::default(),
            timeout: Duration::from_secs(30),
            read_timeout: Duration::from_secs(120),
            page_limit: 100,
        }
    }
}

/// Why a request failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The URL or the options are wrong.
    #[error("{0}")]
    Config(String),
    /// The server answered with an error status (after `tries` tries).
    #[error("{what}: HTTP {status}{}{}", status_note(*.status), tries_note(*.tries))]
    Status {
        /// The request.
        what: String,
        /// The last status.
        status: u16,
        /// Tries made.
        tries: u32,
    },
    /// The server could not be reached, or the exchange broke off.
    #[error("{what}: {message}{}", tries_note(*.tries))]
    Transport {
        /// The request.
        what: String,
        /// What went wrong.
        message: String,
        /// Tries made.
        tries: u32,
        /// Whether another try might go through (a connection error, a
        /// cut body), unlike a certificate that does not verify.
        transient: bool,
    },
    /// The server's answer is not what the API describes.
    #[error("{what}: {message}")]
    Protocol {
        /// The request.
        what: String,
        /// What is wrong.
        message: String,
    },
    /// The sink a download was streamed into failed: not retried.
    #[error("{what}: writing: {source}")]
    Sink {
        /// The request.
        what: String,
        /// The error.
        source: io::Error,
    },
}

fn status_note(status: u16) -> &'static str {
    match status {
        401 => " (unauthorized: the credentials or the token were refused)",
        403 => " (forbidden: the API client may not do this)",
        404 => " (not found)",
        429 => " (too many requests)",
        _ => "",
    }
}

fn tries_note(tries: u32) -> String {
    if tries > 1 {
        format!(" (after {tries} tries)")
    } else {
        String::new()
    }
}

/// Where a download is streamed to.
pub trait Sink: Write {
    /// Forgets what was written: the download starts again.
    fn restart(&mut self) -> io::Result<()>;
}

impl Sink for Vec<u8> {
    fn restart(&mut self) -> io::Result<()> {
        self.clear();
        Ok(())
    }
}

impl Sink for std::fs::File {
    fn restart(&mut self) -> io::Result<()> {
        use std::io::Seek;
        self.set_len(0)?;
        self.seek(io::SeekFrom::Start(0)).map(|_| ())
    }
}

/// A trail log's download format.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    /// JSON lines.
    Jsonl,
    /// The hex layout (the API's default).
    Hex,
}

impl LogFormat {
    /// `jsonl` or `hex`: the query value and the file extension.
    pub fn as_str(self) -> &'static str {
        match self {
            LogFormat::Jsonl => "jsonl",
            LogFormat::Hex => "hex",
        }
    }
}

/// What to download.
#[derive(Debug, Clone, Copy)]
pub enum Download<'a> {
    /// A channel's trail log.
    Log {
        /// The connection.
        connection_id: &'a str,
        /// The channel.
        channel_id: &'a str,
        /// The format.
        format: LogFormat,
        /// Event types to keep (comma separated): a partial log.
        filter: Option<&'a str>,
    },
    /// A file stored from a channel.
    File {
        /// The connection.
        connection_id: &'a str,
        /// The channel.
        channel_id: &'a str,
        /// The stored file.
        file_id: &'a str,
    },
}

impl Download<'_> {
    /// The path of the request that opens a download session.
    fn session_path(&self) -> String {
        match self {
            Download::Log {
                connection_id,
                channel_id,
                ..
            } => format!(
                "{CONNECTIONS_PATH}/{}/channel/{}/log",
                segment(connection_id),
                segment(channel_id)
            ),
            Download::File {
                connection_id,
                channel_id,
                file_id,
            } => format!(
                "{CONNECTIONS_PATH}/{}/channel/{}/file/{}",
                segment(connection_id),
                segment(channel_id),
                segment(file_id)
            ),
        }
    }

    /// The path (and query) of the download in session `session`.
    fn body_path(&self, session: &str) -> String {
        let mut path = format!("{}/{}", self.session_path(), segment(session));
        if let Download::Log { format, filter, .. } = self {
            path.push_str("?format=");
            path.push_str(format.as_str());
            if let Some(f) = filter {
                path.push_str("&filter=");
                path.push_str(&segment(f));
            }
        }
        path
    }
}

/// A finished download.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Downloaded {
    /// Its size in bytes.
    pub bytes: u64,
    /// Its SHA-256, in lowercase hex.
    pub sha256: String,
    /// Tries made (1 when the first went through).
    pub tries: u32,
}

/// The selection of a search: the options of `sshtrail fetch`.
///
/// `since`/`until` are sent as the `connected` range `{"start","end"}` (a
/// shape the API's description does not give) and checked on the client
/// too ([`Search::keeps`]).
#[derive(Debug, Clone, Default)]
pub struct Search {
    /// Words searched in every attribute (`keywords`).
    pub keywords: Option<String>,
    /// User display names (`user_display_name`).
    pub users: Vec<String>,
    /// Target host addresses (`target_host_address`).
    pub hosts: Vec<String>,
    /// Connection statuses (`status`).
    pub statuses: Vec<String>,
    /// Tags (`tags`).
    pub tags: Vec<String>,
    /// Connected at or after (RFC 3339).
    pub since: Option<String>,
    /// Connected before (RFC 3339).
    pub until: Option<String>,
}

impl Search {
    /// True when nothing is selected: the plain list is asked for.
    pub fn is_empty(&self) -> bool {
        self.keywords.is_none()
            && self.users.is_empty()
            && self.hosts.is_empty()
            && self.statuses.is_empty()
            && self.tags.is_empty()
            && self.since.is_none()
            && self.until.is_none()
    }

    /// The search request's body.
    pub fn body(&self) -> Value {
        let mut body = serde_json::Map::new();
        if let Some(k) = &self.keywords {
            body.insert("keywords".into(), json!(k));
        }
        for (key, list) in [
            ("user_display_name", &self.users),
            ("target_host_address", &self.hosts),
            ("status", &self.statuses),
            ("tags", &self.tags),
        ] {
            if !list.is_empty() {
                body.insert(key.into(), json!(list));
            }
        }
        if self.since.is_some() || self.until.is_some() {
            let mut range = serde_json::Map::new();
            if let Some(s) = &self.since {
                range.insert("start".into(), json!(s));
            }
            if let Some(u) = &self.until {
                range.insert("end".into(), json!(u));
            }
            body.insert("connected".into(), Value::Object(range));
        }
        Value::Object(body)
    }

    /// Checks `since`/`until`: an error names the one that is not a time.
    pub fn validate(&self) -> Result<(), Error> {
        for (name, t) in [("--since", &self.since), ("--until", &self.until)] {
            if let Some(t) = t {
                crate::time::parse_rfc3339(t.as_bytes(), false).map_err(|_| {
                    Error::Config(format!(
                        "{name} {t:?} is not an RFC 3339 time (2024-05-01T00:00:00Z)"
                    ))
                })?;
            }
        }
        Ok(())
    }

    /// Whether a listed connection falls in `since`/`until` by its
    /// `connected` time (a server that ignores the range is not trusted
    /// with it). One without a readable time is kept.
    pub fn keeps(&self, connection: &Value) -> bool {
        let parse = |t: &str| crate::time::parse_rfc3339(t.as_bytes(), false).ok();
        let Some(at) = connection
            .get("connected")
            .and_then(Value::as_str)
            .and_then(parse)
        else {
            return true;
        };
        let since = self.since.as_deref().and_then(parse);
        let until = self.until.as_deref().and_then(parse);
        since.is_none_or(|s| at >= s) && until.is_none_or(|u| at < u)
    }
}

/// What the client reads of a connection object.
#[derive(Debug, Clone, Default, Deserialize)]
#[non_exhaustive]
pub struct ConnectionSummary {
    /// Its id.
    #[serde(default)]
    pub id: String,
    /// `CONNECTED`, `DISCONNECTED`, ….
    #[serde(default)]
    pub status: String,
    /// Its trail.
    #[serde(default)]
    pub trail: Option<TrailSummary>,
}

/// What the client reads of a trail.
#[derive(Debug, Clone, Default, Deserialize)]
#[non_exhaustive]
pub struct TrailSummary {
    /// Its channels.
    #[serde(default)]
    pub channels: Vec<ChannelSummary>,
}

/// What the client reads of a channel.
#[derive(Debug, Clone, Default, Deserialize)]
#[non_exhaustive]
pub struct ChannelSummary {
    /// Its id.
    #[serde(default)]
    pub id: String,
    /// Its trail log's stored file.
    #[serde(default)]
    pub protocol_file: Option<StoredFile>,
    /// The files stored from it.
    #[serde(default)]
    pub transferred_files: Vec<StoredFile>,
}

/// A stored file of a channel.
#[derive(Debug, Clone, Default, Deserialize)]
#[non_exhaustive]
pub struct StoredFile {
    /// Its id.
    #[serde(default)]
    pub id: String,
    /// Its name.
    #[serde(default)]
    pub name: Option<String>,
    /// `OK` when stored whole.
    #[serde(default)]
    pub status: Option<String>,
}

impl ConnectionSummary {
    /// Reads a connection object as served.
    pub fn parse(bytes: &[u8]) -> Result<ConnectionSummary, serde_json::Error> {
        serde_json::from_slice(bytes)
    }

    /// Its channels (none without a trail).
    pub fn channels(&self) -> &[ChannelSummary] {
        self.trail.as_ref().map_or(&[], |t| &t.channels)
    }
}

impl ChannelSummary {
    /// The status of its trail log (`OK` when whole), if given.
    pub fn status(&self) -> Option<&str> {
        self.protocol_file
            .as_ref()
            .and_then(|f| f.status.as_deref())
    }
}

/// The token and how many times it was asked for.
#[derive(Default)]
struct TokenState {
    token: Option<Secret>,
    generation: u64,
}

/// The client: share it between threads.
pub struct Gateway {
    base: String,
    agent: ureq::Agent,
    credentials: Credentials,
    token: Mutex<TokenState>,
    retry: RetryPolicy,
    page_limit: u32,
    plain_remote: bool,
}

impl fmt::Debug for Gateway {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Gateway").field("base", &self.base).finish()
    }
}

/// The request methods used.
enum Method<'a> {
    Get,
    Post(Option<&'a [u8]>),
}

impl Gateway {
    /// A client of the gateway at `url` (`https://host[:port]`, with a
    /// path prefix if the API is served under one). Plain `http://` is
    /// refused for an address that is not loopback unless
    /// `options.insecure`; user names or passwords in the URL are refused
    /// (credentials never come from the command line).
    pub fn new(url: &str, credentials: Credentials, options: &Options) -> Result<Gateway, Error> {
        let base = url.trim_end_matches('/').to_string();
        let (scheme, rest) = base
            .split_once("://")
            .ok_or_else(|| Error::Config(format!("{url:?} is not a URL (https://HOST)")))?;
        let authority = rest.split(['/', '?', '#']).next().unwrap_or_default();
        if authority.contains('@') {
            return Err(Error::Config(
                "the URL must not hold credentials: give them in the environment or the credentials file".into(),
            ));
        }
        if rest.contains(['?', '#']) {
            return Err(Error::Config(format!(
                "{url:?}: the URL must not have a query or a fragment"
            )));
        }
        let plain_remote = match scheme.to_ascii_lowercase().as_str() {
            "https" => false,
            "http" if is_loopback(authority) => false,
            "http" if options.insecure => true,
            "http" => {
                return Err(Error::Config(format!(
                    "{url:?}: plain http:// is allowed only to a loopback address (use https://, or --insecure)"
                )))
            }
            _ => {
                return Err(Error::Config(format!(
                    "{url:?}: the URL must start with https://"
                )))
            }
        };
        if authority.is_empty() {
            return Err(Error::Config(format!("{url:?}: no host")));
        }
        let mut tls = ureq::tls::TlsConfig::builder();
        if let Some(pem) = &options.ca_pem {
            let mut certs: Vec<ureq::tls::Certificate<'static>> = webpki_root_certs();
            let before = certs.len();
            for item in ureq::tls::parse_pem(pem) {
                match item {
                    Ok(ureq::tls::PemItem::Certificate(c)) => certs.push(c),
                    Ok(_) => {}
                    Err(e) => return Err(Error::Config(format!("the CA certificate: {e}"))),
                }
            }
            if certs.len() == before {
                return Err(Error::Config(
                    "the CA certificate file holds no PEM certificate".into(),
                ));
            }
            tls = tls.root_certs(ureq::tls::RootCerts::new_with_certs(&certs));
        }
        let config = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .max_redirects(0)
            .https_only(!plain_remote && scheme.eq_ignore_ascii_case("https"))
            .timeout_connect(Some(options.timeout))
            .timeout_recv_response(Some(options.timeout))
            // Per read, not for the whole body: a trail of gigabytes takes
            // as long as it takes, a silent server does not.
            .timeout_per_read(Some(options.read_timeout))
            .tls_config(tls.build())
            .user_agent(concat!("sshtrail/", env!("CARGO_PKG_VERSION")))
            .build();
        Ok(Gateway {
            base,
            agent: config.into(),
            credentials,
            token: Mutex::new(TokenState::default()),
            retry: RetryPolicy {
                tries: options.retry.tries.max(1),
                ..options.retry
            },
            page_limit: options.page_limit.max(1),
            plain_remote,
        })
    }

    /// True when the client talks plain HTTP to an address that is not
    /// loopback (`--insecure`): the caller warns.
    pub fn is_plain_remote(&self) -> bool {
        self.plain_remote
    }

    /// The connections the search selects (the plain list when it selects
    /// nothing), page by page until the count the server gives, kept by
    /// [`Search::keeps`]. Each is the object as listed.
    pub fn connections(&self, search: &Search) -> Result<Vec<Value>, Error> {
        #[derive(Deserialize)]
        struct Page {
            count: u64,
            #[serde(default)]
            items: Vec<Value>,
        }
        let body = serde_json::to_vec(&search.body()).expect("JSON");
        let mut out = Vec::new();
        let mut seen = std::collections::HashSet::new();
        let mut offset: u64 = 0;
        loop {
            let (method, path) = if search.is_empty() {
                (
                    Method::Get,
                    format!(
                        "{CONNECTIONS_PATH}?offset={offset}&limit={}&sortkey=id&sortdir=ASC",
                        self.page_limit
                    ),
                )
            } else {
                (
                    Method::Post(Some(&body)),
                    format!(
                        "{CONNECTIONS_PATH}/search?offset={offset}&limit={}",
                        self.page_limit
                    ),
                )
            };
            let what = describe(&method, &path);
            let bytes = self.send_read(&method, &path, &what)?;
            let page: Page = serde_json::from_slice(&bytes).map_err(|e| Error::Protocol {
                what: what.clone(),
                message: format!("not a page of connections: {e}"),
            })?;
            let got = page.items.len() as u64;
            // A server that serves the same page again (a count it never
            // reaches) would page for ever: a page of nothing new ends it.
            let before = seen.len();
            seen.extend(
                page.items
                    .iter()
                    .map(|c| c.get("id").map(Value::to_string).unwrap_or_default()),
            );
            if got > 0 && seen.len() == before {
                return Err(Error::Protocol {
                    what,
                    message: format!(
                        "the page at offset {offset} lists only connections listed before (count {})",
                        page.count
                    ),
                });
            }
            out.extend(page.items.into_iter().filter(|c| search.keeps(c)));
            offset += got;
            if got == 0 || offset >= page.count {
                break;
            }
        }
        Ok(out)
    }

    /// The connection `id`, as served (the bytes of the response).
    pub fn connection(&self, id: &str) -> Result<Vec<u8>, Error> {
        let path = format!("{CONNECTIONS_PATH}/{}", segment(id));
        let method = Method::Get;
        let what = describe(&method, &path);
        self.send_read(&method, &path, &what)
    }

    /// Downloads `what` into `sink`: a session is opened, then its body
    /// streamed, hashed on the way. A transfer that breaks off starts
    /// again with a new session, the sink restarted.
    pub fn download(&self, what: &Download<'_>, sink: &mut dyn Sink) -> Result<Downloaded, Error> {
        #[derive(Deserialize)]
        struct Session {
            session_id: String,
        }
        let session_path = what.session_path();
        let post = Method::Post(None);
        let session_what = describe(&post, &session_path);
        let mut tries = 0;
        loop {
            tries += 1;
            let bytes = self.send_read(&post, &session_path, &session_what)?;
            let session: Session = serde_json::from_slice(&bytes).map_err(|e| Error::Protocol {
                what: session_what.clone(),
                message: format!("no session_id: {e}"),
            })?;
            let path = what.body_path(&session.session_id);
            let get = Method::Get;
            let get_what = describe(&get, &path);
            // The body is asked for once in a session (a session may be
            // good for one download): a failure starts again with a new one.
            let response = match self.send_tries(&get, &path, &get_what, 1) {
                Ok(r) => r,
                Err(e) if tries < self.retry.tries && retriable(&e) => {
                    std::thread::sleep(self.retry.delay(tries, None));
                    continue;
                }
                Err(e) => return Err(e),
            };
            let expected = response
                .headers()
                .get("content-length")
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.trim().parse::<u64>().ok());
            let mut reader = response.into_body().into_reader();
            match stream(&mut reader, sink, expected) {
                Ok((bytes, sha256)) => {
                    return Ok(Downloaded {
                        bytes,
                        sha256,
                        tries,
                    })
                }
                Err(StreamError::Sink(e)) => {
                    return Err(Error::Sink {
                        what: get_what,
                        source: e,
                    })
                }
                Err(StreamError::Body(message)) => {
                    if tries >= self.retry.tries {
                        return Err(Error::Transport {
                            what: get_what,
                            message,
                            tries,
                            transient: true,
                        });
                    }
                    sink.restart().map_err(|e| Error::Sink {
                        what: get_what.clone(),
                        source: e,
                    })?;
                    std::thread::sleep(self.retry.delay(tries, None));
                }
            }
        }
    }

    /// [`Gateway::send`], the body read whole (bounded: an API answer,
    /// not a download).
    fn send_read(&self, method: &Method<'_>, path: &str, what: &str) -> Result<Vec<u8>, Error> {
        const LIMIT: u64 = 256 << 20;
        let mut tries = 0;
        loop {
            tries += 1;
            let response = self.send(method, path, what)?;
            let result = response
                .into_body()
                .into_with_config()
                .limit(LIMIT)
                .read_to_vec();
            match result {
                Ok(v) => return Ok(v),
                Err(e) if tries < self.retry.tries && transient(&e) => {
                    std::thread::sleep(self.retry.delay(tries, None));
                }
                Err(e) => {
                    return Err(Error::Transport {
                        what: what.to_string(),
                        message: e.to_string(),
                        tries,
                        transient: transient(&e),
                    })
                }
            }
        }
    }

    /// Sends a request with the bearer token until a success status,
    /// retrying as the policy says and refreshing the token once on 401.
    fn send(
        &self,
        method: &Method<'_>,
        path: &str,
        what: &str,
    ) -> Result<ureq::http::Response<ureq::Body>, Error> {
        self.send_tries(method, path, what, self.retry.tries)
    }

    /// [`Gateway::send`] with at most `max_tries` tries.
    fn send_tries(
        &self,
        method: &Method<'_>,
        path: &str,
        what: &str,
        max_tries: u32,
    ) -> Result<ureq::http::Response<ureq::Body>, Error> {
        let url = format!("{}{path}", self.base);
        let mut tries = 0;
        let mut refreshed = false;
        loop {
            tries += 1;
            let (token, generation) = self.token()?;
            let auth = format!("Bearer {}", token.expose());
            let result = match method {
                Method::Get => self.agent.get(&url).header("Authorization", &auth).call(),
                Method::Post(body) => {
                    let req = self.agent.post(&url).header("Authorization", &auth);
                    match body {
                        Some(b) => req.header("Content-Type", "application/json").send(*b),
                        None => req.send_empty(),
                    }
                }
            };
            let retry_after = match result {
                Ok(r) if r.status().is_success() => return Ok(r),
                Ok(r) if r.status() == 401 && !refreshed && self.can_refresh() => {
                    refreshed = true;
                    self.forget_token(generation);
                    tries -= 1;
                    continue;
                }
                Ok(r) if r.status() == 429 || r.status().is_server_error() => {
                    if tries >= max_tries {
                        return Err(Error::Status {
                            what: what.to_string(),
                            status: r.status().as_u16(),
                            tries,
                        });
                    }
                    retry_after(&r)
                }
                Ok(r) => {
                    return Err(Error::Status {
                        what: what.to_string(),
                        status: r.status().as_u16(),
                        tries,
                    })
                }
                Err(e) if transient(&e) && tries < max_tries => None,
                Err(e) => {
                    return Err(Error::Transport {
                        what: what.to_string(),
                        message: e.to_string(),
                        tries,
                        transient: transient(&e),
                    })
                }
            };
            std::thread::sleep(self.retry.delay(tries, retry_after));
        }
    }

    /// Whether a new token can be asked for.
    fn can_refresh(&self) -> bool {
        matches!(self.credentials, Credentials::Clients { .. })
    }

    /// Forgets the token of `generation` (a 401): the next request asks
    /// for a new one, unless another thread did meanwhile.
    fn forget_token(&self, generation: u64) {
        let mut state = self.token.lock().unwrap_or_else(|e| e.into_inner());
        if state.generation == generation {
            state.token = None;
        }
    }

    /// The token, asked for when there is none (one thread asks, the
    /// others wait for it).
    fn token(&self) -> Result<(Secret, u64), Error> {
        let mut state = self.token.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(t) = &state.token {
            return Ok((t.clone(), state.generation));
        }
        let token = match &self.credentials {
            Credentials::Token(t) => t.clone(),
            Credentials::Clients {
                api_client_id,
                api_client_secret,
                oauth_client_id,
                oauth_client_secret,
            } => self.request_token(
                api_client_id,
                api_client_secret,
                oauth_client_id,
                oauth_client_secret,
            )?,
        };
        state.generation += 1;
        state.token = Some(token.clone());
        Ok((token, state.generation))
    }

    /// Asks the token endpoint for a token, retrying as for any request.
    fn request_token(
        &self,
        user: &Secret,
        password: &Secret,
        client: &Secret,
        client_secret: &Secret,
    ) -> Result<Secret, Error> {
        #[derive(Deserialize)]
        struct TokenAnswer {
            access_token: String,
        }
        let url = format!("{}{TOKEN_PATH}", self.base);
        let what = format!("POST {TOKEN_PATH}");
        let basic = base64_simd::STANDARD.encode_to_string(format!(
            "{}:{}",
            client.expose(),
            client_secret.expose()
        ));
        let form = format!(
            "grant_type=password&username={}&password={}",
            segment(user.expose()),
            segment(password.expose())
        );
        let mut tries = 0;
        loop {
            tries += 1;
            let result = self
                .agent
                .post(&url)
                .header("Authorization", &format!("Basic {basic}"))
                .header("Content-Type", "application/x-www-form-urlencoded")
                .header("Accept", "application/json")
                .send(form.as_bytes());
            let retry_after = match result {
                Ok(r) if r.status().is_success() => {
                    let answer: TokenAnswer = r
                        .into_body()
                        .into_with_config()
                        .limit(1 << 20)
                        .read_to_vec()
                        .ok()
                        .and_then(|b| serde_json::from_slice(&b).ok())
                        .ok_or_else(|| Error::Protocol {
                            what: what.clone(),
                            message: "the answer holds no access_token".into(),
                        })?;
                    return Ok(Secret(answer.access_token));
                }
                Ok(r)
                    if (r.status() == 429 || r.status().is_server_error())
                        && tries < self.retry.tries =>
                {
                    retry_after(&r)
                }
                Ok(r) => {
                    return Err(Error::Status {
                        what,
                        status: r.status().as_u16(),
                        tries,
                    })
                }
                Err(e) if transient(&e) && tries < self.retry.tries => None,
                Err(e) => {
                    return Err(Error::Transport {
                        what,
                        message: e.to_string(),
                        tries,
                        transient: transient(&e),
                    })
                }
            };
            std::thread::sleep(self.retry.delay(tries, retry_after));
        }
    }
}

/// The bundled web roots as certificates, to trust a CA besides them.
fn webpki_root_certs() -> Vec<ureq::tls::Certificate<'static>> {
    webpki_root_certs::TLS_SERVER_ROOT_CERTS
        .iter()
        .map(|der| ureq::tls::Certificate::from_der(der.as_ref()).to_owned())
        .collect()
}

/// Why streaming a body stopped.
enum StreamError {
    /// The body broke off or was not as long as announced: retried.
    Body(String),
    /// The sink failed: not retried.
    Sink(io::Error),
}

/// Copies `reader` into `sink`, hashing; the length must be `expected`
/// when the server gave one.
fn stream(
    reader: &mut dyn Read,
    sink: &mut dyn Sink,
    expected: Option<u64>,
) -> Result<(u64, String), StreamError> {
    let mut buf = vec![0u8; 64 * 1024];
    let mut hasher = Sha256::new();
    let mut total: u64 = 0;
    loop {
        let n = match reader.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => {
                return Err(StreamError::Body(format!(
                    "the download broke off after {total} bytes: {e}"
                )))
            }
        };
        sink.write_all(&buf[..n]).map_err(StreamError::Sink)?;
        hasher.update(&buf[..n]);
        total += n as u64;
    }
    sink.flush().map_err(StreamError::Sink)?;
    if let Some(want) = expected {
        if want != total {
            return Err(StreamError::Body(format!(
                "the body has {total} bytes, Content-Length said {want}"
            )));
        }
    }
    let sha256 = crate::digest::hex(&hasher.finalize());
    Ok((total, sha256))
}

/// The `Retry-After` of a response, in seconds (an HTTP date is not read:
/// the backoff applies).
fn retry_after(r: &ureq::http::Response<ureq::Body>) -> Option<Duration> {
    r.headers()
        .get("retry-after")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok())
        .map(Duration::from_secs)
}

/// Whether a failed request may go through when tried again.
fn retriable(e: &Error) -> bool {
    match e {
        Error::Status { status, .. } => *status == 429 || *status >= 500,
        Error::Transport { transient, .. } => *transient,
        _ => false,
    }
}

/// Whether a failed exchange may go through when tried again: not a TLS
/// failure (a certificate that does not verify comes as an I/O error of
/// kind `InvalidData`).
fn transient(e: &ureq::Error) -> bool {
    if let ureq::Error::Io(io) = e {
        return io.kind() != io::ErrorKind::InvalidData;
    }
    matches!(
        e,
        ureq::Error::Timeout(_)
            | ureq::Error::ConnectionFailed
            | ureq::Error::HostNotFound
            | ureq::Error::Protocol(_)
    )
}

/// `GET /path` for messages (no host: the user gave it).
fn describe(method: &Method<'_>, path: &str) -> String {
    let m = match method {
        Method::Get => "GET",
        Method::Post(_) => "POST",
    };
    format!("{m} {path}")
}

/// Whether the host of `authority` (`host[:port]`) is a loopback address.
fn is_loopback(authority: &str) -> bool {
    let host = if let Some(rest) = authority.strip_prefix('[') {
        rest.split(']').next().unwrap_or_default()
    } else {
        authority.rsplit_once(':').map_or(authority, |(h, _)| h)
    };
    host.eq_ignore_ascii_case("localhost")
        || host.parse::<IpAddr>().is_ok_and(|ip| ip.is_loopback())
}

/// `text` percent-encoded as one path segment or query value: only
/// unreserved characters are left as they are.
pub fn segment(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for b in text.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn segments_are_encoded() {
        assert_eq!(segment("a b/../c"), "a%20b%2F..%2Fc");
        assert_eq!(segment("stdin,stdout"), "stdin%2Cstdout");
        assert_eq!(segment("0-1_x.y~"), "0-1_x.y~");
    }

    #[test]
    fn loopback_hosts() {
        assert!(is_loopback("127.0.0.1:8080"));
        assert!(is_loopback("localhost"));
        assert!(is_loopback("[::1]:443"));
        assert!(!is_loopback("10.0.0.1:80"));
        assert!(!is_loopback("example.com"));
    }

    #[test]
    fn plain_http_only_to_loopback() {
        let creds = Credentials::Token(Secret::new("t"));
        let opts = Options::default();
        assert!(Gateway::new("http://127.0.0.1:1", creds.clone(), &opts).is_ok());
        assert!(Gateway::new("https://gw.example", creds.clone(), &opts).is_ok());
        let e = Gateway::new("http://gw.example", creds.clone(), &opts).unwrap_err();
        assert!(e.to_string().contains("--insecure"), "{e}");
        let insecure = Options {
            insecure: true,
            ..Options::default()
        };
        let g = Gateway::new("http://gw.example", creds.clone(), &insecure).unwrap();
        assert!(g.is_plain_remote());
        let e = Gateway::new("https://u:p@gw.example", creds, &opts).unwrap_err();
        assert!(!e.to_string().contains("u:p"), "{e}");
    }

    #[test]
    fn secrets_do_not_show() {
        let c = Credentials::Clients {
            api_client_id: Secret::new("id-1"),
            api_client_secret: Secret::new("hunter2"),
            oauth_client_id: Secret::new("id-2"),
            oauth_client_secret: Secret::new("swordfish"),
        };
        let shown = format!("{c:?}");
        assert!(
            !shown.contains("hunter2") && !shown.contains("swordfish"),
            "{shown}"
        );
    }

    #[test]
    fn backoff_is_capped_and_honours_retry_after() {
        let p = RetryPolicy {
            tries: 5,
            base_delay: Duration::from_millis(100),
            max_delay: Duration::from_secs(1),
        };
        assert_eq!(p.delay(1, None), Duration::from_millis(100));
        assert_eq!(p.delay(3, None), Duration::from_millis(400));
        assert_eq!(p.delay(30, None), Duration::from_secs(1));
        assert_eq!(
            p.delay(1, Some(Duration::from_secs(7))),
            Duration::from_secs(1)
        );
    }

    #[test]
    fn search_body_and_range() {
        let s = Search {
            users: vec!["u@x".into()],
            since: Some("2024-01-01T00:00:00Z".into()),
            ..Search::default()
        };
        assert!(!s.is_empty());
        assert_eq!(
            s.body(),
            json!({"user_display_name": ["u@x"], "connected": {"start": "2024-01-01T00:00:00Z"}})
        );
        assert!(s.keeps(&json!({"connected": "2024-02-01T00:00:00Z"})));
        assert!(!s.keeps(&json!({"connected": "2023-12-31T23:59:59Z"})));
        assert!(Search::default().is_empty());
        let bad = Search {
            until: Some("yesterday".into()),
            ..Search::default()
        };
        assert!(bad.validate().is_err());
    }

    #[test]
    fn a_short_body_is_an_error() {
        let mut sink = Vec::new();
        let mut r: &[u8] = b"hello";
        assert!(matches!(
            stream(&mut r, &mut sink, Some(10)),
            Err(StreamError::Body(_))
        ));
        let mut r: &[u8] = b"hello";
        let (n, sha) = stream(&mut r, &mut sink, Some(5)).ok().unwrap();
        assert_eq!(n, 5);
        assert_eq!(
            sha,
            "2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824"
        );
    }
}
