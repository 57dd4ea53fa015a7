//! `sshtrail fetch` against a test gateway: the connection-manager API's
//! endpoints on 127.0.0.1, serving connections made from the shipped
//! recordings (testdata/realtrail), with injectable faults.
//!
//! The gateway is a small HTTP/1.1 server on `std::net` (every answer
//! `Connection: close`): a fault must be able to cut a connection in the
//! middle of a body, which a server crate that keeps the connection for the
//! next request does not allow.

use std::collections::{BTreeMap, HashMap};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::{Arc, Mutex};

use base64::Engine;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

const BIN: &str = env!("CARGO_BIN_EXE_sshtrail");

const API_ID: &str = "api-client-7f3a";
const API_SECRET: &str = "API-SECRET-c0ffee-91";
const OAUTH_ID: &str = "oauth-client-22b1";
const OAUTH_SECRET: &str = "OAUTH-SECRET-deadbeef-17";
const TOKEN_PREFIX: &str = "TOKEN-SECRET-5150-";

/// Recordings served: ids of testdata/realtrail folders.
const SERVED: [&str; 4] = [
    "1b338b0d-311f-49d0-ab15-998b0c5f9d07",
    "56461fdd-d065-4ddb-b56c-a3ea79593e58",
    "6be2d65f-23b2-471f-9b36-6f698b1dfc60",
    "bf5e427e-375f-434a-8cb1-5c841e5b671e",
];

fn realtrail() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../testdata/realtrail")
}

/// A connection as the gateway holds it.
#[derive(Clone)]
struct Conn {
    object: Value,
    /// `<channel>.<jsonl|hex>` → bytes.
    logs: HashMap<String, Vec<u8>>,
    /// file id → bytes.
    files: HashMap<String, Vec<u8>>,
}

/// Faults to inject; each counter is used up one request at a time.
#[derive(Default, Clone)]
struct Faults {
    /// Downloads answered 500.
    download_500: u32,
    /// Session requests answered 429 with `Retry-After: 1`.
    session_429: u32,
    /// Downloads cut after half the body.
    drop_mid_body: u32,
    /// Downloads whose Content-Length says 100 bytes more than sent.
    lying_length: u32,
    /// After this many authorized requests, the token in use expires.
    expire_token_after: Option<u32>,
    /// Downloads of this path suffix always answered 500.
    always_500: Option<String>,
    /// A connection listed with this id.
    hostile_listed_id: Option<String>,
    /// Downloads that send half the body, then nothing for this long
    /// before the connection is closed.
    stall: u32,
    stall_ms: u64,
    /// Downloads of this path suffix stall (as above) every time.
    always_stall: Option<String>,
    /// Pages claim a count of a million and ignore the offset.
    endless_pages: bool,
    /// Downloads sent in four parts, `trickle_ms` apart.
    trickle: u32,
    trickle_ms: u64,
}

#[derive(Default)]
struct State {
    conns: BTreeMap<String, Conn>,
    faults: Faults,
    log: Vec<String>,
    tokens_issued: u32,
    valid_token: Option<String>,
    authorized: u32,
    sessions: HashMap<String, String>,
    next_session: u32,
}

struct Gateway {
    url: String,
    state: Arc<Mutex<State>>,
}

impl Gateway {
    fn start(conns: BTreeMap<String, Conn>, faults: Faults) -> Gateway {
        Self::start_with(conns, faults, None)
    }

    /// The gateway over HTTPS, with the certificate of testdata/fetch-tls.
    fn start_tls(conns: BTreeMap<String, Conn>) -> Gateway {
        use rustls::pki_types::pem::PemObject;
        use rustls::pki_types::{CertificateDer, PrivateKeyDer};
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../testdata/fetch-tls");
        let certs: Vec<CertificateDer<'static>> =
            CertificateDer::pem_file_iter(dir.join("server.pem"))
                .unwrap()
                .map(Result::unwrap)
                .collect();
        let key = PrivateKeyDer::from_pem_file(dir.join("server.key")).unwrap();
        let config = rustls::ServerConfig::builder_with_provider(Arc::new(
            rustls::crypto::ring::default_provider(),
        ))
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .unwrap();
        Self::start_with(conns, Faults::default(), Some(Arc::new(config)))
    }

    fn start_with(
        conns: BTreeMap<String, Conn>,
        faults: Faults,
        tls: Option<Arc<rustls::ServerConfig>>,
    ) -> Gateway {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let scheme = if tls.is_some() { "https" } else { "http" };
        let url = format!("{scheme}://{}", listener.local_addr().unwrap());
        let state = Arc::new(Mutex::new(State {
            conns,
            faults,
            ..State::default()
        }));
        let shared = state.clone();
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(stream) = stream else { continue };
                let state = shared.clone();
                let tls = tls.clone();
                std::thread::spawn(move || {
                    let _ = match tls {
                        None => serve(stream, &state),
                        Some(config) => {
                            let Ok(conn) = rustls::ServerConnection::new(config) else {
                                return;
                            };
                            serve(rustls::StreamOwned::new(conn, stream), &state)
                        }
                    };
                });
            }
        });
        Gateway { url, state }
    }

    fn log(&self) -> Vec<String> {
        self.state.lock().unwrap().log.clone()
    }

    fn clear_log(&self) {
        self.state.lock().unwrap().log.clear();
    }

    fn set_faults(&self, faults: Faults) {
        self.state.lock().unwrap().faults = faults;
    }
}

/// The served connections: the recordings' objects, logs and made-up
/// stored files.
fn recordings(ids: &[&str]) -> BTreeMap<String, Conn> {
    let mut out = BTreeMap::new();
    for id in ids {
        let dir = realtrail().join(id);
        let object: Value =
            serde_json::from_slice(&std::fs::read(dir.join("connection.json")).unwrap()).unwrap();
        let mut logs = HashMap::new();
        let mut files = HashMap::new();
        for ch in object["trail"]["channels"].as_array().unwrap() {
            let cid = ch["id"].as_str().unwrap();
            for ext in ["jsonl", "hex"] {
                let name = format!("{cid}.{ext}");
                logs.insert(name.clone(), std::fs::read(dir.join(&name)).unwrap());
            }
            for f in ch["transferred_files"].as_array().unwrap() {
                let fid = f["id"].as_str().unwrap();
                let body: Vec<u8> = format!("stored file {fid} of connection {id}\n")
                    .repeat(300)
                    .into_bytes();
                files.insert(fid.to_string(), body);
            }
        }
        out.insert(
            id.to_string(),
            Conn {
                object,
                logs,
                files,
            },
        );
    }
    out
}

struct Request {
    method: String,
    path: String,
    query: HashMap<String, String>,
    headers: HashMap<String, String>,
    body: Vec<u8>,
}

/// A connection of the test gateway: plain TCP or TLS over it.
trait Stream: Read + Write {
    /// Ends the connection (after a TLS close_notify when it is TLS).
    fn close(&mut self);
}

impl Stream for TcpStream {
    fn close(&mut self) {
        let _ = self.shutdown(std::net::Shutdown::Both);
    }
}

impl Stream for rustls::StreamOwned<rustls::ServerConnection, TcpStream> {
    fn close(&mut self) {
        self.conn.send_close_notify();
        let _ = self.flush();
        let _ = self.sock.shutdown(std::net::Shutdown::Both);
    }
}

fn read_request(stream: &mut dyn Stream) -> std::io::Result<Request> {
    let mut r = BufReader::new(stream);
    let mut line = String::new();
    r.read_line(&mut line)?;
    let mut parts = line.split_whitespace();
    let method = parts.next().unwrap_or_default().to_string();
    let target = parts.next().unwrap_or_default().to_string();
    let mut headers = HashMap::new();
    loop {
        let mut h = String::new();
        r.read_line(&mut h)?;
        let h = h.trim_end();
        if h.is_empty() {
            break;
        }
        if let Some((k, v)) = h.split_once(':') {
            headers.insert(k.trim().to_ascii_lowercase(), v.trim().to_string());
        }
    }
    let len: usize = headers
        .get("content-length")
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    let mut body = vec![0; len];
    r.read_exact(&mut body)?;
    let (path, q) = target.split_once('?').unwrap_or((&target, ""));
    let query = q
        .split('&')
        .filter(|s| !s.is_empty())
        .map(|kv| {
            let (k, v) = kv.split_once('=').unwrap_or((kv, ""));
            (k.to_string(), unescape(v))
        })
        .collect();
    Ok(Request {
        method,
        path: path.to_string(),
        query,
        headers,
        body,
    })
}

fn unescape(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' && i + 2 < b.len() {
            let hex = std::str::from_utf8(&b[i + 1..i + 3]).unwrap();
            out.push(u8::from_str_radix(hex, 16).unwrap());
            i += 3;
        } else if b[i] == b'+' {
            out.push(b' ');
            i += 1;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    String::from_utf8(out).unwrap()
}

/// How an answer is sent.
enum Body {
    Whole(Vec<u8>),
    /// Content-Length of the whole, half sent, a pause, connection closed.
    Stalled(Vec<u8>, u64),
    /// The whole, in four parts with a pause between them.
    Trickle(Vec<u8>, u64),
    /// Content-Length of the whole, half sent, connection closed.
    CutHalfway(Vec<u8>),
    /// Content-Length 100 more than sent, connection closed.
    Lying(Vec<u8>),
}

fn respond(
    stream: &mut dyn Stream,
    status: u16,
    extra: &[(&str, String)],
    body: Body,
) -> std::io::Result<()> {
    let (bytes, length, send) = match &body {
        Body::Whole(b) => (b, b.len(), b.len()),
        Body::Stalled(b, _) => (b, b.len(), b.len() / 2),
        Body::Trickle(b, _) => (b, b.len(), 0),
        Body::CutHalfway(b) => (b, b.len(), b.len() / 2),
        Body::Lying(b) => (b, b.len() + 100, b.len()),
    };
    let mut head =
        format!("HTTP/1.1 {status} X\r\nContent-Length: {length}\r\nConnection: close\r\n");
    for (k, v) in extra {
        head.push_str(&format!("{k}: {v}\r\n"));
    }
    head.push_str("\r\n");
    stream.write_all(head.as_bytes())?;
    stream.write_all(&bytes[..send])?;
    stream.flush()?;
    if let Body::Stalled(_, ms) = body {
        std::thread::sleep(std::time::Duration::from_millis(ms));
    }
    if let Body::Trickle(b, ms) = &body {
        for part in b.chunks(b.len().div_ceil(4).max(1)) {
            std::thread::sleep(std::time::Duration::from_millis(*ms));
            stream.write_all(part)?;
            stream.flush()?;
        }
    }
    stream.close();
    Ok(())
}

fn json_body(v: &Value) -> Body {
    Body::Whole(serde_json::to_vec(v).unwrap())
}

fn serve(mut stream: impl Stream, state: &Mutex<State>) -> std::io::Result<()> {
    let req = read_request(&mut stream)?;
    let (status, extra, body) = answer(&req, state);
    respond(&mut stream, status, &extra, body)
}

type Answer = (u16, Vec<(&'static str, String)>, Body);

fn answer(req: &Request, state: &Mutex<State>) -> Answer {
    let mut st = state.lock().unwrap();
    let auth = req
        .headers
        .get("authorization")
        .cloned()
        .unwrap_or_default();
    let mut entry = format!("{} {}", req.method, req.path);
    if !req.query.is_empty() {
        let mut q: Vec<_> = req.query.iter().map(|(k, v)| format!("{k}={v}")).collect();
        q.sort();
        entry.push('?');
        entry.push_str(&q.join("&"));
    }
    let err = |status: u16| -> Answer { (status, vec![], Body::Whole(Vec::new())) };

    if req.path == "/auth/api/v1/oauth/token" {
        let want = format!(
            "Basic {}",
            base64::engine::general_purpose::STANDARD.encode(format!("{OAUTH_ID}:{OAUTH_SECRET}"))
        );
        let form = String::from_utf8_lossy(&req.body).to_string();
        let fields: HashMap<String, String> = form
            .split('&')
            .filter_map(|kv| kv.split_once('='))
            .map(|(k, v)| (k.to_string(), unescape(v)))
            .collect();
        let ok = req.method == "POST"
            && auth == want
            && fields.get("grant_type").map(String::as_str) == Some("password")
            && fields.get("username").map(String::as_str) == Some(API_ID)
            && fields.get("password").map(String::as_str) == Some(API_SECRET);
        st.log
            .push(format!("{entry} basic={}", if ok { "ok" } else { "bad" }));
        if !ok {
            return err(401);
        }
        st.tokens_issued += 1;
        let token = format!("{TOKEN_PREFIX}{}", st.tokens_issued);
        st.valid_token = Some(token.clone());
        return (
            200,
            vec![("Content-Type", "application/json".into())],
            json_body(&json!({"access_token": token, "token_type": "bearer", "expires_in": 300})),
        );
    }

    // Every other endpoint wants the bearer token.
    let bearer = auth.strip_prefix("Bearer ").unwrap_or_default().to_string();
    let n = bearer
        .strip_prefix(TOKEN_PREFIX)
        .map(|n| format!("token#{n}"))
        .unwrap_or_else(|| "no-token".into());
    st.log.push(format!("{entry} {n}"));
    if st.valid_token.as_deref() != Some(bearer.as_str()) {
        return err(401);
    }
    st.authorized += 1;
    if let Some(after) = st.faults.expire_token_after {
        if st.authorized > after {
            st.faults.expire_token_after = None;
            st.valid_token = None;
            return err(401);
        }
    }

    let Some(rest) = req
        .path
        .strip_prefix("/connection-manager/api/v1/connections")
    else {
        return err(404);
    };
    let parts: Vec<String> = rest.split('/').skip(1).map(unescape).collect();
    let page = |items: Vec<Value>, st: &State| -> Answer {
        let endless = st.faults.endless_pages;
        let offset: usize = req
            .query
            .get("offset")
            .and_then(|v| v.parse().ok())
            .unwrap_or(0);
        let offset = if endless { 0 } else { offset };
        let limit: usize = req
            .query
            .get("limit")
            .and_then(|v| v.parse().ok())
            .unwrap_or(50);
        let count = if endless { 1_000_000 } else { items.len() };
        let items: Vec<Value> = items.into_iter().skip(offset).take(limit).collect();
        (
            200,
            vec![],
            json_body(&json!({"count": count, "items": items})),
        )
    };
    let listed = |st: &State| -> Vec<Value> {
        let mut v: Vec<Value> = st.conns.values().map(|c| c.object.clone()).collect();
        if let Some(h) = &st.faults.hostile_listed_id {
            v.push(json!({"id": h, "status": "DISCONNECTED"}));
        }
        v
    };
    match (req.method.as_str(), parts.as_slice()) {
        ("GET", []) => {
            let items = listed(&st);
            page(items, &st)
        }
        ("POST", [s]) if s == "search" => {
            let Ok(body) = serde_json::from_slice::<Value>(&req.body) else {
                return err(400);
            };
            let tags: Vec<String> = body["tags"]
                .as_array()
                .map(|a| {
                    a.iter()
                        .filter_map(|t| t.as_str().map(String::from))
                        .collect()
                })
                .unwrap_or_default();
            let items = listed(&st)
                .into_iter()
                .filter(|c| {
                    tags.is_empty()
                        || c["tags"]
                            .as_array()
                            .is_some_and(|a| a.iter().any(|t| tags.iter().any(|w| t == w)))
                })
                .collect();
            page(items, &st)
        }
        ("GET", [id]) => match st.conns.get(id) {
            Some(c) => (
                200,
                vec![],
                Body::Whole(serde_json::to_vec_pretty(&c.object).unwrap()),
            ),
            None => err(404),
        },
        ("POST", [id, c, ch, kind]) if c == "channel" && kind == "log" => {
            if !st.conns.contains_key(id) {
                return err(404);
            }
            if st.faults.session_429 > 0 {
                st.faults.session_429 -= 1;
                return (
                    429,
                    vec![("Retry-After", "1".into())],
                    Body::Whole(Vec::new()),
                );
            }
            new_session(&mut st, format!("log/{id}/{ch}"))
        }
        ("POST", [id, c, ch, kind, fid]) if c == "channel" && kind == "file" => {
            if !st.conns.get(id).is_some_and(|c| c.files.contains_key(fid)) {
                return err(404);
            }
            new_session(&mut st, format!("file/{id}/{ch}/{fid}"))
        }
        ("GET", [id, c, ch, kind, session]) if c == "channel" && kind == "log" => {
            if st.sessions.remove(session).as_deref() != Some(&format!("log/{id}/{ch}")) {
                return err(404);
            }
            let format = req.query.get("format").cloned().unwrap_or("hex".into());
            let Some(mut bytes) = st.conns[id].logs.get(&format!("{ch}.{format}")).cloned() else {
                return err(404);
            };
            if let (Some(filter), "jsonl") = (req.query.get("filter"), format.as_str()) {
                let keep: Vec<&str> = filter.split(',').collect();
                bytes = String::from_utf8(bytes)
                    .unwrap()
                    .lines()
                    .filter(|l| {
                        let v: Value = serde_json::from_str(l).unwrap();
                        keep.contains(&v["type"].as_str().unwrap())
                    })
                    .flat_map(|l| format!("{l}\n").into_bytes())
                    .collect();
            }
            download_body(&mut st, &format!("{id}/{ch}.{format}"), bytes)
        }
        ("GET", [id, c, ch, kind, fid, session]) if c == "channel" && kind == "file" => {
            if st.sessions.remove(session).as_deref() != Some(&format!("file/{id}/{ch}/{fid}")) {
                return err(404);
            }
            let bytes = st.conns[id].files[fid].clone();
            download_body(&mut st, &format!("{id}/files/{fid}"), bytes)
        }
        _ => err(404),
    }
}

fn new_session(st: &mut State, what: String) -> Answer {
    st.next_session += 1;
    let sid = format!("5e551011-0000-0000-0000-{:012}", st.next_session);
    st.sessions.insert(sid.clone(), what);
    (200, vec![], json_body(&json!({"session_id": sid})))
}

fn download_body(st: &mut State, path: &str, bytes: Vec<u8>) -> Answer {
    let f = &mut st.faults;
    if f.always_500.as_deref().is_some_and(|p| path.ends_with(p)) {
        return (500, vec![], Body::Whole(Vec::new()));
    }
    if f.always_stall.as_deref().is_some_and(|p| path.ends_with(p)) {
        return (200, vec![], Body::Stalled(bytes, f.stall_ms));
    }
    if f.trickle > 0 {
        f.trickle -= 1;
        return (200, vec![], Body::Trickle(bytes, f.trickle_ms));
    }
    if f.stall > 0 {
        f.stall -= 1;
        return (200, vec![], Body::Stalled(bytes, f.stall_ms));
    }
    if f.download_500 > 0 {
        f.download_500 -= 1;
        return (500, vec![], Body::Whole(Vec::new()));
    }
    if f.drop_mid_body > 0 {
        f.drop_mid_body -= 1;
        return (200, vec![], Body::CutHalfway(bytes));
    }
    if f.lying_length > 0 {
        f.lying_length -= 1;
        return (200, vec![], Body::Lying(bytes));
    }
    (200, vec![], Body::Whole(bytes))
}

// ---------------------------------------------------------------- helpers

fn fetch(gw: &Gateway, archive: &Path, extra: &[&str]) -> Output {
    let mut cmd = Command::new(BIN);
    cmd.arg("fetch")
        .arg("--url")
        .arg(&gw.url)
        .arg("-o")
        .arg(archive)
        .args(extra)
        .env_remove("SSHTRAIL_TOKEN")
        .env("HOME", archive.parent().unwrap())
        .env("SSHTRAIL_API_CLIENT_ID", API_ID)
        .env("SSHTRAIL_API_CLIENT_SECRET", API_SECRET)
        .env("SSHTRAIL_OAUTH_CLIENT_ID", OAUTH_ID)
        .env("SSHTRAIL_OAUTH_CLIENT_SECRET", OAUTH_SECRET)
        .env("SSHTRAIL_FETCH_RETRY_MS", "20");
    cmd.output().unwrap()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

fn sha256(bytes: &[u8]) -> String {
    Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

fn manifest(archive: &Path) -> BTreeMap<String, Value> {
    std::fs::read_to_string(archive.join("manifest.jsonl"))
        .unwrap()
        .lines()
        .map(|l| {
            let v: Value = serde_json::from_str(l).unwrap();
            (v["path"].as_str().unwrap().to_string(), v)
        })
        .collect()
}

/// Every file of the archive (relative path → bytes), temporary files included.
fn archive_files(archive: &Path) -> BTreeMap<String, Vec<u8>> {
    let mut out = BTreeMap::new();
    let mut stack = vec![archive.to_path_buf()];
    while let Some(dir) = stack.pop() {
        for e in std::fs::read_dir(&dir).unwrap() {
            let e = e.unwrap();
            let p = e.path();
            if e.file_type().unwrap().is_dir() {
                stack.push(p);
            } else {
                let rel = p
                    .strip_prefix(archive)
                    .unwrap()
                    .to_string_lossy()
                    .into_owned();
                out.insert(rel, std::fs::read(&p).unwrap());
            }
        }
    }
    out
}

/// The archive holds exactly what the gateway serves, and the manifest
/// vouches for each download with its size and SHA-256.
fn assert_archive_is_served(gw: &Gateway, archive: &Path, ext: &str, with_files: bool) {
    let files = archive_files(archive);
    let rows = manifest(archive);
    let st = gw.state.lock().unwrap();
    let mut expected = 0;
    for (id, conn) in &st.conns {
        let served = serde_json::to_vec_pretty(&conn.object).unwrap();
        assert_eq!(
            files[&format!("{id}/connection.json")],
            served,
            "{id}/connection.json"
        );
        for ch in conn.object["trail"]["channels"].as_array().unwrap() {
            let path = format!("{id}/{}.{ext}", ch["id"].as_str().unwrap());
            let body = &conn.logs[path.split('/').nth(1).unwrap()];
            assert_eq!(sha256(&files[&path]), sha256(body), "{path}");
            assert_eq!(rows[&path]["sha256"], json!(sha256(body)), "{path}");
            assert_eq!(rows[&path]["bytes"], json!(body.len()), "{path}");
            expected += 1;
        }
        if with_files {
            for (fid, body) in &conn.files {
                let path = format!("{id}/files/{fid}");
                assert_eq!(files[&path], *body, "{path}");
                assert_eq!(rows[&path]["sha256"], json!(sha256(body)));
                expected += 1;
            }
        }
    }
    let downloads = files
        .keys()
        .filter(|k| !k.ends_with("connection.json") && *k != "manifest.jsonl")
        .count();
    assert_eq!(downloads, expected, "no other file: {:?}", files.keys());
}

fn assert_no_credentials(texts: &[&[u8]]) {
    for t in texts {
        let s = String::from_utf8_lossy(t);
        for secret in [API_SECRET, OAUTH_SECRET, TOKEN_PREFIX] {
            assert!(!s.contains(secret), "{secret} leaked into: {s}");
        }
    }
}

// ---------------------------------------------------------------- tests

#[test]
fn fetch_writes_what_the_gateway_serves_with_token_and_session_flow() {
    let tmp = tempfile::tempdir().unwrap();
    let archive = tmp.path().join("archive");
    let gw = Gateway::start(recordings(&SERVED), Faults::default());
    let out = fetch(&gw, &archive, &["--page-limit", "2"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_archive_is_served(&gw, &archive, "jsonl", false);

    let log = gw.log();
    // The token first, asked for with the client credentials, once.
    assert_eq!(log[0], "POST /auth/api/v1/oauth/token basic=ok");
    assert_eq!(log.iter().filter(|l| l.contains("oauth/token")).count(), 1);
    // Paged by two until the count.
    for offset in [0, 2] {
        let want = format!("GET /connection-manager/api/v1/connections?limit=2&offset={offset}&sortdir=ASC&sortkey=id token#1");
        assert!(log.contains(&want), "{want} not in {log:#?}");
    }
    assert!(!log.iter().any(|l| l.contains("offset=4")), "{log:#?}");
    // Per channel: a session, then the download in it, in jsonl.
    let id = "56461fdd-d065-4ddb-b56c-a3ea79593e58";
    for ch in ["1", "1-2", "global"] {
        let post =
            format!("POST /connection-manager/api/v1/connections/{id}/channel/{ch}/log token#1");
        let at = log
            .iter()
            .position(|l| *l == post)
            .unwrap_or_else(|| panic!("{post}: {log:#?}"));
        assert!(
            log[at..].iter().any(|l| l.starts_with(&format!(
                "GET /connection-manager/api/v1/connections/{id}/channel/{ch}/log/5e551011-"
            )) && l.ends_with("?format=jsonl token#1")),
            "{log:#?}"
        );
    }

    // No credential anywhere: outputs, archive files.
    let files = archive_files(&archive);
    let mut texts: Vec<&[u8]> = vec![&out.stdout, &out.stderr];
    texts.extend(files.values().map(Vec::as_slice));
    assert_no_credentials(&texts);

    // The rest of sshtrail reads the archive.
    let inspect = Command::new(BIN)
        .arg("inspect")
        .arg(archive.join(id))
        .output()
        .unwrap();
    assert!(inspect.status.success(), "{}", stderr(&inspect));
    let text = String::from_utf8_lossy(&inspect.stdout);
    assert!(text.contains("trailuser"), "{text}");
    let ocsf = Command::new(BIN)
        .args(["convert", "--to", "ocsf"])
        .arg(&archive)
        .output()
        .unwrap();
    assert!(ocsf.status.success(), "{}", stderr(&ocsf));
    let records: Vec<Value> = String::from_utf8_lossy(&ocsf.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    for id in SERVED {
        assert!(
            records.iter().any(|r| r.to_string().contains(id)),
            "no OCSF record of {id}"
        );
    }
}

#[test]
fn faults_are_retried_and_never_leave_a_short_file() {
    let tmp = tempfile::tempdir().unwrap();
    let archive = tmp.path().join("archive");
    let gw = Gateway::start(
        recordings(&SERVED),
        Faults {
            // Three faults at most meet one download: fewer than its 5 tries.
            download_500: 1,
            session_429: 1,
            drop_mid_body: 1,
            lying_length: 1,
            expire_token_after: Some(6),
            ..Faults::default()
        },
    );
    let out = fetch(&gw, &archive, &["--format", "hex", "-j", "2"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_archive_is_served(&gw, &archive, "hex", false);
    let log = gw.log();
    // The expired token was renewed once, with the client credentials.
    let tokens: Vec<_> = log.iter().filter(|l| l.contains("oauth/token")).collect();
    assert_eq!(tokens.len(), 2, "{log:#?}");
    assert!(log.iter().any(|l| l.ends_with("token#2")), "{log:#?}");
    // Every fault was met: 500s, the 429, the cut and lying bodies.
    let st = gw.state.lock().unwrap();
    assert_eq!(st.faults.download_500 + st.faults.session_429, 0);
    assert_eq!(st.faults.drop_mid_body + st.faults.lying_length, 0);
    drop(st);
    assert_no_credentials(&[&out.stdout, &out.stderr]);
}

#[test]
fn resume_after_a_failed_run_fetches_only_the_rest() {
    let tmp = tempfile::tempdir().unwrap();
    let archive = tmp.path().join("archive");
    let gw = Gateway::start(
        recordings(&SERVED),
        Faults {
            always_500: Some("56461fdd-d065-4ddb-b56c-a3ea79593e58/1-2.jsonl".into()),
            ..Faults::default()
        },
    );
    let out = fetch(&gw, &archive, &["--files"]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let err = stderr(&out);
    assert!(
        err.contains("56461fdd-d065-4ddb-b56c-a3ea79593e58/1-2.jsonl") && err.contains("HTTP 500"),
        "{err}"
    );
    assert!(!archive
        .join("56461fdd-d065-4ddb-b56c-a3ea79593e58/1-2.jsonl")
        .exists());
    assert_eq!(
        manifest(&archive)["56461fdd-d065-4ddb-b56c-a3ea79593e58/1-2.jsonl"]["status"],
        "failed"
    );
    // No temporary file left behind.
    assert!(archive_files(&archive)
        .keys()
        .all(|k| !k.contains("sshtrail-tmp")));

    // Without --resume the archive is not written into.
    let again = fetch(&gw, &archive, &[]);
    assert_eq!(again.status.code(), Some(2), "{}", stderr(&again));

    gw.set_faults(Faults::default());
    gw.clear_log();
    let out = fetch(&gw, &archive, &["--files", "--resume"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_archive_is_served(&gw, &archive, "jsonl", true);
    let downloads: Vec<String> = gw
        .log()
        .into_iter()
        .filter(|l| l.contains("/log") || l.contains("/file/"))
        .collect();
    assert_eq!(
        downloads.len(),
        2,
        "one session and one download: {downloads:#?}"
    );
    assert!(
        downloads.iter().all(|l| l.contains("/channel/1-2/log")),
        "{downloads:#?}"
    );
    let rows = manifest(&archive);
    assert_eq!(
        rows["56461fdd-d065-4ddb-b56c-a3ea79593e58/1-2.jsonl"]["status"],
        "fetched"
    );
    assert_eq!(
        rows["1b338b0d-311f-49d0-ab15-998b0c5f9d07/0.jsonl"]["status"],
        "skipped"
    );

    // A file changed on disk is no longer vouched for: fetched again.
    let victim = archive.join("bf5e427e-375f-434a-8cb1-5c841e5b671e/0.jsonl");
    std::fs::write(&victim, b"tampered\n").unwrap();
    gw.clear_log();
    let out = fetch(&gw, &archive, &["--files", "--resume"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let gets: Vec<String> = gw
        .log()
        .into_iter()
        .filter(|l| l.starts_with("GET") && l.contains("/log/"))
        .collect();
    assert_eq!(gets.len(), 1, "{gets:#?}");
    assert!(
        gets[0].contains("bf5e427e-375f-434a-8cb1-5c841e5b671e/channel/0/"),
        "{gets:#?}"
    );
    assert_archive_is_served(&gw, &archive, "jsonl", true);
}

#[test]
fn still_connected_and_not_ok_are_flagged_and_fetched_again() {
    let tmp = tempfile::tempdir().unwrap();
    let archive = tmp.path().join("archive");
    let mut conns = recordings(&SERVED[..2]);
    let live = "1b338b0d-311f-49d0-ab15-998b0c5f9d07";
    conns.get_mut(live).unwrap().object["status"] = json!("CONNECTED");
    let bad = "56461fdd-d065-4ddb-b56c-a3ea79593e58";
    conns.get_mut(bad).unwrap().object["trail"]["channels"][0]["protocol_file"]["status"] =
        json!("FAILED");
    let gw = Gateway::start(conns, Faults::default());
    let out = fetch(&gw, &archive, &[]);
    assert!(out.status.success(), "{}", stderr(&out));
    let rows = manifest(&archive);
    assert_eq!(rows[&format!("{live}/0.jsonl")]["still_connected"], true);
    assert_eq!(rows[&format!("{bad}/1.jsonl")]["not_ok"], "FAILED");
    assert_eq!(rows[&format!("{bad}/1-2.jsonl")].get("not_ok"), None);
    assert!(
        stderr(&out).contains("2 still connected or not OK"),
        "{}",
        stderr(&out)
    );

    gw.clear_log();
    let out = fetch(&gw, &archive, &["--resume"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let mut gets: Vec<String> = gw
        .log()
        .into_iter()
        .filter(|l| l.starts_with("GET") && l.contains("/log/"))
        .map(|l| l.split("/log/").next().unwrap().to_string())
        .collect();
    gets.sort();
    assert_eq!(
        gets,
        [
            format!("GET /connection-manager/api/v1/connections/{live}/channel/0"),
            format!("GET /connection-manager/api/v1/connections/{bad}/channel/1"),
        ]
    );
}

#[test]
fn hostile_ids_from_the_server_are_refused() {
    let tmp = tempfile::tempdir().unwrap();
    let archive = tmp.path().join("archive");
    let mut conns = recordings(&SERVED[..1]);
    let id = SERVED[0];
    let c = conns.get_mut(id).unwrap();
    c.object["trail"]["channels"].as_array_mut().unwrap().push(
        json!({"id": "../../escaped", "protocol_file": {"status": "OK"}, "transferred_files": []}),
    );
    let gw = Gateway::start(
        conns,
        Faults {
            hostile_listed_id: Some("../x".into()),
            ..Faults::default()
        },
    );
    let out = fetch(&gw, &archive, &[]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let err = stderr(&out);
    assert!(err.contains("\"../x\"") && err.contains("refused"), "{err}");
    assert!(err.contains("\"../../escaped\""), "{err}");
    // Nothing outside the archive; the good channel is there.
    let outside: Vec<_> = std::fs::read_dir(tmp.path())
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(outside, ["archive"]);
    assert!(archive.join(id).join("0.jsonl").is_file());
    assert!(
        !gw.log().iter().any(|l| l.contains("..")),
        "{:#?}",
        gw.log()
    );

    // A channel listed twice is fetched once, and said.
    let mut conns = recordings(&SERVED[..1]);
    let channels = conns.get_mut(id).unwrap().object["trail"]["channels"]
        .as_array_mut()
        .unwrap();
    channels.push(channels[0].clone());
    let gw = Gateway::start(conns, Faults::default());
    let out = fetch(&gw, &tmp.path().join("twice"), &[]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("lists channel \"0\" twice"),
        "{}",
        stderr(&out)
    );
    let downloads = gw
        .log()
        .iter()
        .filter(|l| l.starts_with("GET") && l.contains("/log/"))
        .count();
    assert_eq!(downloads, 1);

    // A server whose pages never reach their count: stopped at the first
    // page that lists nothing new.
    let gw = Gateway::start(
        recordings(&SERVED),
        Faults {
            endless_pages: true,
            ..Faults::default()
        },
    );
    let out = fetch(&gw, &tmp.path().join("endless"), &["--page-limit", "2"]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("lists only connections listed before"),
        "{}",
        stderr(&out)
    );
    let pages = gw
        .log()
        .iter()
        .filter(|l| l.contains("connections?"))
        .count();
    assert_eq!(pages, 2, "{:#?}", gw.log());
}

#[test]
fn filter_marks_the_logs_partial_and_files_are_fetched() {
    let tmp = tempfile::tempdir().unwrap();
    let archive = tmp.path().join("archive");
    let gw = Gateway::start(recordings(&SERVED), Faults::default());
    let id = "6be2d65f-23b2-471f-9b36-6f698b1dfc60";
    let out = fetch(
        &gw,
        &archive,
        &["--connection", id, "--files", "--filter", "stdin,stdout"],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    let log = gw.log();
    assert!(
        log.iter()
            .any(|l| l.contains("/channel/0/log/") && l.contains("filter=stdin,stdout")),
        "{log:#?}"
    );
    // --connection asks for no list.
    assert!(!log
        .iter()
        .any(|l| l.contains("connections?") || l.contains("/search")));
    let rows = manifest(&archive);
    let row = &rows[&format!("{id}/0.jsonl")];
    assert_eq!(row["partial"], true);
    assert_eq!(row["filter"], "stdin,stdout");
    let text = std::fs::read_to_string(archive.join(id).join("0.jsonl")).unwrap();
    assert!(text
        .lines()
        .all(|l| l.contains("\"type\":\"stdin\"") || l.contains("\"type\":\"stdout\"")));
    let st = gw.state.lock().unwrap();
    let (fid, body) = st.conns[id].files.iter().next().unwrap();
    assert_eq!(
        std::fs::read(archive.join(id).join("files").join(fid)).unwrap(),
        *body
    );
    assert_eq!(rows[&format!("{id}/files/{fid}")]["kind"], "file");
}

#[test]
fn credentials_file_must_be_private_and_plain_http_stays_local() {
    use std::os::unix::fs::PermissionsExt;
    let tmp = tempfile::tempdir().unwrap();
    let archive = tmp.path().join("archive");
    let gw = Gateway::start(recordings(&SERVED[..1]), Faults::default());
    let config = tmp.path().join("credentials.toml");
    std::fs::write(
        &config,
        format!("api_client_id = \"{API_ID}\"\napi_client_secret = \"{API_SECRET}\"\noauth_client_id = \"{OAUTH_ID}\"\noauth_client_secret = \"{OAUTH_SECRET}\"\n"),
    )
    .unwrap();
    let run = |extra: &[&str]| {
        Command::new(BIN)
            .arg("fetch")
            .arg("--url")
            .arg(&gw.url)
            .arg("-o")
            .arg(&archive)
            .args(extra)
            .env_remove("SSHTRAIL_TOKEN")
            .env_remove("SSHTRAIL_API_CLIENT_ID")
            .env_remove("SSHTRAIL_API_CLIENT_SECRET")
            .env_remove("SSHTRAIL_OAUTH_CLIENT_ID")
            .env_remove("SSHTRAIL_OAUTH_CLIENT_SECRET")
            .output()
            .unwrap()
    };
    std::fs::set_permissions(&config, std::fs::Permissions::from_mode(0o644)).unwrap();
    let out = run(&["--config", config.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(stderr(&out).contains("chmod 600"), "{}", stderr(&out));
    assert!(!archive.exists());
    assert!(gw.log().is_empty());

    std::fs::set_permissions(&config, std::fs::Permissions::from_mode(0o600)).unwrap();
    let out = run(&["--config", config.to_str().unwrap()]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_archive_is_served(&gw, &archive, "jsonl", false);
    assert_no_credentials(&[&out.stdout, &out.stderr]);

    // A broken file's message quotes none of it.
    std::fs::write(&config, format!("api_client_secret = \"{API_SECRET}\n")).unwrap();
    let out = run(&["--config", config.to_str().unwrap(), "--resume"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("not valid TOML"), "{}", stderr(&out));
    assert_no_credentials(&[&out.stdout, &out.stderr]);

    // Plain HTTP to an address that is not loopback needs --insecure.
    let out = Command::new(BIN)
        .args(["fetch", "--url", "http://192.0.2.1:9", "-o"])
        .arg(tmp.path().join("other"))
        .env("SSHTRAIL_TOKEN", "x")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(stderr(&out).contains("--insecure"), "{}", stderr(&out));
}

#[test]
fn search_options_become_one_search_and_times_are_checked_here_too() {
    let tmp = tempfile::tempdir().unwrap();
    let archive = tmp.path().join("archive");
    let gw = Gateway::start(recordings(&SERVED), Faults::default());
    // The test gateway ignores `connected`: the client keeps the range.
    let out = fetch(
        &gw,
        &archive,
        &[
            "--tag",
            "realtrail",
            "--since",
            "2026-12-01T00:00:42Z",
            "--until",
            "2026-12-01T00:39:00Z",
            "--page-limit",
            "3",
        ],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    let log = gw.log();
    let searches: Vec<&String> = log
        .iter()
        .filter(|l| l.contains("/connections/search"))
        .collect();
    assert_eq!(searches.len(), 2, "two pages of three: {log:#?}");
    assert!(searches[0]
        .starts_with("POST /connection-manager/api/v1/connections/search?limit=3&offset=0"));
    let mut got: Vec<String> = std::fs::read_dir(&archive)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n != "manifest.jsonl")
        .collect();
    got.sort();
    assert_eq!(
        got,
        [
            "56461fdd-d065-4ddb-b56c-a3ea79593e58",
            "bf5e427e-375f-434a-8cb1-5c841e5b671e"
        ]
    );
    let bad = fetch(&gw, &tmp.path().join("other"), &["--since", "yesterday"]);
    assert_eq!(bad.status.code(), Some(2), "{}", stderr(&bad));
}

#[test]
fn a_ready_token_is_not_renewed_and_a_stalled_body_is_fetched_again() {
    let tmp = tempfile::tempdir().unwrap();
    let archive = tmp.path().join("archive");
    let gw = Gateway::start(
        recordings(&SERVED[..1]),
        Faults {
            stall: 1,
            stall_ms: 20_000,
            ..Faults::default()
        },
    );
    let mut cmd = Command::new(BIN);
    let out = cmd
        .args(["fetch", "--url", &gw.url, "-o"])
        .arg(&archive)
        .env("SSHTRAIL_TOKEN", format!("{TOKEN_PREFIX}1"))
        .env("SSHTRAIL_FETCH_RETRY_MS", "20")
        .env("SSHTRAIL_FETCH_READ_TIMEOUT_MS", "300")
        .output()
        .unwrap();
    // A ready token (SSHTRAIL_TOKEN) is not valid until the gateway issued
    // it: the 401 cannot be cured without client credentials.
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(stderr(&out).contains("HTTP 401"), "{}", stderr(&out));
    assert_no_credentials(&[&out.stdout, &out.stderr]);

    let other = tmp.path().join("archive2");
    let started = std::time::Instant::now();
    let out = {
        let mut c = Command::new(BIN);
        c.arg("fetch")
            .arg("--url")
            .arg(&gw.url)
            .arg("-o")
            .arg(&other)
            .env_remove("SSHTRAIL_TOKEN")
            .env("SSHTRAIL_API_CLIENT_ID", API_ID)
            .env("SSHTRAIL_API_CLIENT_SECRET", API_SECRET)
            .env("SSHTRAIL_OAUTH_CLIENT_ID", OAUTH_ID)
            .env("SSHTRAIL_OAUTH_CLIENT_SECRET", OAUTH_SECRET)
            .env("SSHTRAIL_FETCH_RETRY_MS", "20")
            .env("SSHTRAIL_FETCH_READ_TIMEOUT_MS", "300");
        c.output().unwrap()
    };
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(started.elapsed().as_secs() < 15, "the stall was waited out");
    assert_eq!(gw.state.lock().unwrap().faults.stall, 0);
    assert_archive_is_served(&gw, &other, "jsonl", false);

    // A body slower in all than the read timeout, but never silent that
    // long, goes through at the first try.
    gw.set_faults(Faults {
        trickle: 1,
        trickle_ms: 200,
        ..Faults::default()
    });
    gw.clear_log();
    let slow = tmp.path().join("archive3");
    let out = Command::new(BIN)
        .args(["fetch", "--url", &gw.url, "-o"])
        .arg(&slow)
        .env_remove("SSHTRAIL_TOKEN")
        .env("SSHTRAIL_API_CLIENT_ID", API_ID)
        .env("SSHTRAIL_API_CLIENT_SECRET", API_SECRET)
        .env("SSHTRAIL_OAUTH_CLIENT_ID", OAUTH_ID)
        .env("SSHTRAIL_OAUTH_CLIENT_SECRET", OAUTH_SECRET)
        .env("SSHTRAIL_FETCH_READ_TIMEOUT_MS", "500")
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(gw.state.lock().unwrap().faults.trickle, 0);
    let gets = gw
        .log()
        .iter()
        .filter(|l| l.starts_with("GET") && l.contains("/log/"))
        .count();
    assert_eq!(gets, 1, "{:#?}", gw.log());
    assert_archive_is_served(&gw, &slow, "jsonl", false);
}

#[test]
fn resume_after_a_kill_fetches_only_the_rest() {
    let tmp = tempfile::tempdir().unwrap();
    let archive = tmp.path().join("archive");
    let stuck = "bf5e427e-375f-434a-8cb1-5c841e5b671e/0.jsonl";
    let gw = Gateway::start(
        recordings(&SERVED),
        Faults {
            always_stall: Some(stuck.into()),
            stall_ms: 60_000,
            ..Faults::default()
        },
    );
    let mut child = Command::new(BIN)
        .args(["fetch", "--url", &gw.url, "-o"])
        .arg(&archive)
        .env_remove("SSHTRAIL_TOKEN")
        .env("SSHTRAIL_API_CLIENT_ID", API_ID)
        .env("SSHTRAIL_API_CLIENT_SECRET", API_SECRET)
        .env("SSHTRAIL_OAUTH_CLIENT_ID", OAUTH_ID)
        .env("SSHTRAIL_OAUTH_CLIENT_SECRET", OAUTH_SECRET)
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    // Every log but the stuck one is in the manifest (6 logs in all, and
    // the 4 connection objects): then the run is killed.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    loop {
        let rows = std::fs::read_to_string(archive.join("manifest.jsonl")).unwrap_or_default();
        if rows
            .lines()
            .filter(|l| l.contains("\"kind\":\"log\""))
            .count()
            == 5
        {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the first run did not get far: {rows}"
        );
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    child.kill().unwrap();
    child.wait().unwrap();
    assert!(!archive.join(stuck).exists());
    let left: Vec<String> = archive_files(&archive)
        .into_keys()
        .filter(|k| k.contains("sshtrail-tmp"))
        .collect();
    assert_eq!(
        left.len(),
        1,
        "the killed download's temporary file: {left:?}"
    );

    gw.set_faults(Faults::default());
    gw.clear_log();
    let out = fetch(&gw, &archive, &["--resume"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_archive_is_served(&gw, &archive, "jsonl", false);
    let gets: Vec<String> = gw
        .log()
        .into_iter()
        .filter(|l| l.starts_with("GET") && l.contains("/log/"))
        .collect();
    assert_eq!(gets.len(), 1, "{gets:#?}");
    assert!(gets[0].contains("bf5e427e-375f-434a-8cb1-5c841e5b671e/channel/0/log/"));
    assert!(archive_files(&archive)
        .keys()
        .all(|k| !k.contains("sshtrail-tmp")));
}

#[test]
fn https_is_verified_and_ca_cert_adds_a_ca() {
    let tmp = tempfile::tempdir().unwrap();
    let gw = Gateway::start_tls(recordings(&SERVED[..1]));
    assert!(gw.url.starts_with("https://127.0.0.1:"));
    // Not signed by a CA of the web roots: refused, nothing fetched.
    let archive = tmp.path().join("untrusted");
    let out = fetch(&gw, &archive, &[]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(
        stderr(&out).to_lowercase().contains("certificate"),
        "{}",
        stderr(&out)
    );
    // A certificate that does not verify is not tried again.
    assert!(!stderr(&out).contains("tries"), "{}", stderr(&out));
    assert!(
        !gw.log().iter().any(|l| l.contains("oauth/token")),
        "{:#?}",
        gw.log()
    );
    // Trusting the test CA, the same gateway is fetched from.
    let ca = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../testdata/fetch-tls/ca.pem");
    let archive = tmp.path().join("trusted");
    let out = fetch(&gw, &archive, &["--ca-cert", ca.to_str().unwrap()]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_archive_is_served(&gw, &archive, "jsonl", false);
    // A file that holds no certificate is a usage error.
    let out = fetch(
        &gw,
        &tmp.path().join("other"),
        &[
            "--ca-cert",
            archive.join("manifest.jsonl").to_str().unwrap(),
        ],
    );
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("no PEM certificate"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn a_link_planted_in_the_archive_is_never_written_through() {
    let tmp = tempfile::tempdir().unwrap();
    let archive = tmp.path().join("archive");
    let outside = tmp.path().join("outside");
    std::fs::create_dir_all(&archive).unwrap();
    std::fs::create_dir_all(&outside).unwrap();
    let id = SERVED[0];
    std::os::unix::fs::symlink(&outside, archive.join(id)).unwrap();
    let gw = Gateway::start(recordings(&SERVED[..2]), Faults::default());
    let out = fetch(&gw, &archive, &["--resume"]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("is a symbolic link: refusing to write through it"),
        "{}",
        stderr(&out)
    );
    assert_eq!(std::fs::read_dir(&outside).unwrap().count(), 0);
    // The other connection is fetched.
    assert!(archive.join(SERVED[1]).join("connection.json").is_file());

    // A manifest that is a link is not appended to nor replaced.
    let other = tmp.path().join("other");
    std::fs::create_dir_all(&other).unwrap();
    let target = outside.join("m.jsonl");
    std::fs::write(&target, b"").unwrap();
    std::os::unix::fs::symlink(&target, other.join("manifest.jsonl")).unwrap();
    let out = fetch(&gw, &other, &["--resume"]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert_eq!(std::fs::read(&target).unwrap(), b"");
}

#[test]
fn credentials_come_from_the_default_file_when_the_environment_has_none() {
    use std::os::unix::fs::PermissionsExt;
    let tmp = tempfile::tempdir().unwrap();
    let gw = Gateway::start(recordings(&SERVED[..1]), Faults::default());
    let run = |archive: &Path, env: &[(&str, &str)]| {
        let mut c = Command::new(BIN);
        c.args(["fetch", "--url", &gw.url, "-o"])
            .arg(archive)
            .env("HOME", tmp.path());
        for k in [
            "SSHTRAIL_TOKEN",
            "SSHTRAIL_API_CLIENT_ID",
            "SSHTRAIL_API_CLIENT_SECRET",
            "SSHTRAIL_OAUTH_CLIENT_ID",
            "SSHTRAIL_OAUTH_CLIENT_SECRET",
        ] {
            c.env_remove(k);
        }
        c.envs(env.iter().copied());
        c.output().unwrap()
    };
    // None at all: the message says where they may come from.
    let out = run(&tmp.path().join("a"), &[]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(stderr(&out).contains("SSHTRAIL_TOKEN"), "{}", stderr(&out));
    // Some of the four: the missing ones are named, no value shown.
    let out = run(
        &tmp.path().join("a"),
        &[
            ("SSHTRAIL_API_CLIENT_ID", API_ID),
            ("SSHTRAIL_API_CLIENT_SECRET", API_SECRET),
        ],
    );
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("SSHTRAIL_OAUTH_CLIENT_ID, SSHTRAIL_OAUTH_CLIENT_SECRET not set"),
        "{}",
        stderr(&out)
    );
    assert_no_credentials(&[&out.stdout, &out.stderr]);
    assert!(gw.log().is_empty());
    // The default file.
    let dir = tmp.path().join(".config/sshtrail");
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("credentials.toml");
    std::fs::write(
        &file,
        format!("api_client_id = \"{API_ID}\"\napi_client_secret = \"{API_SECRET}\"\noauth_client_id = \"{OAUTH_ID}\"\noauth_client_secret = \"{OAUTH_SECRET}\"\n"),
    )
    .unwrap();
    std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o600)).unwrap();
    let archive = tmp.path().join("b");
    let out = run(&archive, &[]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_archive_is_served(&gw, &archive, "jsonl", false);
}
