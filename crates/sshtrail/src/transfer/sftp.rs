//! SFTP version 3 (draft-ietf-secsh-filexfer-02, as OpenSSH speaks it)
//! carried in a `subsystem sftp` channel: the client's requests on stdin,
//! the server's responses on stdout.
//!
//! Every packet is `uint32 length`, `byte type`, then (all but INIT and
//! VERSION) `uint32 id` and the type's fields; a packet may span data
//! events and an event may hold many. Requests are paired with their
//! responses by id, handles with the path they were opened with.

use std::collections::HashMap;

use super::{
    path_text, Assembler, At, FileOp, Found, Limits, OpStatus, ProblemKind, Protocol,
    RecoveredFile, Storage, TransferDirection, TransferProblem,
};
use crate::channel::Stream;
use crate::connection::Context;
use crate::time::Nanos;

/// The longest packet followed (the `length` field's value): OpenSSH's
/// own limit (`SFTP_MAX_MSG_LENGTH`, 256 KiB). A longer one is no SFTP
/// OpenSSH would accept, and its length is never used to allocate.
pub const MAX_PACKET: u32 = 256 * 1024;

/// The longest handle kept (OpenSSH's are 4 bytes; the draft allows 256).
pub const MAX_HANDLE: usize = 256;

// Packet types (draft-ietf-secsh-filexfer-02 section 3).
const INIT: u8 = 1;
const VERSION: u8 = 2;
const OPEN: u8 = 3;
const CLOSE: u8 = 4;
const READ: u8 = 5;
const WRITE: u8 = 6;
const LSTAT: u8 = 7;
const FSTAT: u8 = 8;
const SETSTAT: u8 = 9;
const FSETSTAT: u8 = 10;
const OPENDIR: u8 = 11;
const READDIR: u8 = 12;
const REMOVE: u8 = 13;
const MKDIR: u8 = 14;
const RMDIR: u8 = 15;
const REALPATH: u8 = 16;
const STAT: u8 = 17;
const RENAME: u8 = 18;
const READLINK: u8 = 19;
const SYMLINK: u8 = 20;
const STATUS: u8 = 101;
const HANDLE: u8 = 102;
const DATA: u8 = 103;
const NAME: u8 = 104;
const ATTRS: u8 = 105;
const EXTENDED: u8 = 200;
const EXTENDED_REPLY: u8 = 201;

// Status codes (section 7).
const FX_OK: u32 = 0;
const FX_EOF: u32 = 1;

/// The name of an `SSH_FX_*` status code.
pub fn status_name(code: u32) -> &'static str {
    match code {
        0 => "OK",
        1 => "EOF",
        2 => "NO_SUCH_FILE",
        3 => "PERMISSION_DENIED",
        4 => "FAILURE",
        5 => "BAD_MESSAGE",
        6 => "NO_CONNECTION",
        7 => "CONNECTION_LOST",
        8 => "OP_UNSUPPORTED",
        _ => "unknown status",
    }
}

/// The name of a packet type.
pub fn type_name(t: u8) -> &'static str {
    match t {
        INIT => "INIT",
        VERSION => "VERSION",
        OPEN => "OPEN",
        CLOSE => "CLOSE",
        READ => "READ",
        WRITE => "WRITE",
        LSTAT => "LSTAT",
        FSTAT => "FSTAT",
        SETSTAT => "SETSTAT",
        FSETSTAT => "FSETSTAT",
        OPENDIR => "OPENDIR",
        READDIR => "READDIR",
        REMOVE => "REMOVE",
        MKDIR => "MKDIR",
        RMDIR => "RMDIR",
        REALPATH => "REALPATH",
        STAT => "STAT",
        RENAME => "RENAME",
        READLINK => "READLINK",
        SYMLINK => "SYMLINK",
        STATUS => "STATUS",
        HANDLE => "HANDLE",
        DATA => "DATA",
        NAME => "NAME",
        ATTRS => "ATTRS",
        EXTENDED => "EXTENDED",
        EXTENDED_REPLY => "EXTENDED_REPLY",
        _ => "unknown",
    }
}

/// Open flags (`SSH_FXF_*`) as `READ|WRITE|CREAT`.
pub fn open_flags_text(pflags: u32) -> String {
    const NAMES: [(u32, &str); 6] = [
        (0x01, "READ"),
        (0x02, "WRITE"),
        (0x04, "APPEND"),
        (0x08, "CREAT"),
        (0x10, "TRUNC"),
        (0x20, "EXCL"),
    ];
    let mut parts: Vec<String> = NAMES
        .iter()
        .filter(|(bit, _)| pflags & bit != 0)
        .map(|(_, n)| (*n).to_string())
        .collect();
    let rest = pflags & !0x3f;
    if rest != 0 {
        parts.push(format!("0x{rest:x}"));
    }
    if parts.is_empty() {
        "0".into()
    } else {
        parts.join("|")
    }
}

/// File attributes (section 5), as far as they were sent.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Attrs {
    /// Size in bytes.
    pub size: Option<u64>,
    /// Owner and group ids.
    pub uid_gid: Option<(u32, u32)>,
    /// Permission and type bits.
    pub permissions: Option<u32>,
    /// Access and modification times (seconds since 1970).
    pub atime_mtime: Option<(u32, u32)>,
    /// How many extended attributes came (their pairs are skipped).
    pub extended: u32,
}

impl Attrs {
    /// `size=3 uid=0 gid=0 mode=0644 atime=.. mtime=..`, or empty.
    pub fn text(&self) -> String {
        let mut parts = Vec::new();
        if let Some(s) = self.size {
            parts.push(format!("size={s}"));
        }
        if let Some((u, g)) = self.uid_gid {
            parts.push(format!("uid={u} gid={g}"));
        }
        if let Some(p) = self.permissions {
            parts.push(format!("mode={:04o}", p & 0o7777));
        }
        if let Some((a, m)) = self.atime_mtime {
            parts.push(format!("atime={a} mtime={m}"));
        }
        if self.extended > 0 {
            parts.push(format!("extended={}", self.extended));
        }
        parts.join(" ")
    }
}

/// Reads the fields of one packet; every read names what it wanted when
/// the packet ends first.
struct Fields<'a> {
    b: &'a [u8],
}

impl<'a> Fields<'a> {
    fn take(&mut self, n: usize, what: &str) -> Result<&'a [u8], String> {
        if self.b.len() < n {
            return Err(format!(
                "the packet ends inside {what} ({} of {n} bytes left)",
                self.b.len()
            ));
        }
        let (head, rest) = self.b.split_at(n);
        self.b = rest;
        Ok(head)
    }

    fn u8(&mut self, what: &str) -> Result<u8, String> {
        Ok(self.take(1, what)?[0])
    }

    fn u32(&mut self, what: &str) -> Result<u32, String> {
        let b = self.take(4, what)?;
        Ok(u32::from_be_bytes([b[0], b[1], b[2], b[3]]))
    }

    fn u64(&mut self, what: &str) -> Result<u64, String> {
        let b = self.take(8, what)?;
        let mut a = [0u8; 8];
        a.copy_from_slice(b);
        Ok(u64::from_be_bytes(a))
    }

    fn string(&mut self, what: &str) -> Result<&'a [u8], String> {
        let n = self.u32(what)? as usize;
        if n > self.b.len() {
            return Err(format!(
                "{what} announces {n} bytes, {} are left in the packet",
                self.b.len()
            ));
        }
        self.take(n, what)
    }

    fn attrs(&mut self) -> Result<Attrs, String> {
        let flags = self.u32("the attribute flags")?;
        let mut a = Attrs::default();
        if flags & 0x1 != 0 {
            a.size = Some(self.u64("the size attribute")?);
        }
        if flags & 0x2 != 0 {
            a.uid_gid = Some((self.u32("the uid")?, self.u32("the gid")?));
        }
        if flags & 0x4 != 0 {
            a.permissions = Some(self.u32("the permissions")?);
        }
        if flags & 0x8 != 0 {
            a.atime_mtime = Some((self.u32("the atime")?, self.u32("the mtime")?));
        }
        if flags & 0x8000_0000 != 0 {
            a.extended = self.u32("the extended attribute count")?;
            // Each pair is at least 8 bytes: the count cannot make this
            // loop run past the packet.
            for _ in 0..a.extended {
                self.string("an extended attribute name")?;
                self.string("an extended attribute value")?;
            }
        }
        Ok(a)
    }
}

/// Cuts one direction's data into packets.
#[derive(Debug, Default)]
struct Packets {
    /// The packet being gathered (length field included).
    buf: Vec<u8>,
    /// Where it began.
    start: At,
    /// A packet was too long: the stream cannot be followed any more.
    lost: bool,
}

impl Packets {
    /// Feeds `data`; calls `packet` with each whole packet's body (type
    /// byte on) and where it began.
    fn push(
        &mut self,
        mut data: &[u8],
        at: At,
        mut packet: impl FnMut(&[u8], At),
    ) -> Result<(), ProblemKind> {
        while !data.is_empty() && !self.lost {
            if self.buf.is_empty() {
                self.start = at;
                // Whole packets in the event itself are read in place.
                if let Some(len) = declared(data) {
                    if len > MAX_PACKET {
                        return self.too_long(len);
                    }
                    let end = 4 + len as usize;
                    if data.len() >= end {
                        packet(&data[4..end], at);
                        data = &data[end..];
                        continue;
                    }
                }
            }
            let mut want = 4usize;
            if let Some(len) = declared(&self.buf) {
                want = 4 + len as usize;
            }
            let n = (want - self.buf.len()).min(data.len());
            self.buf.extend_from_slice(&data[..n]);
            data = &data[n..];
            if self.buf.len() == 4 {
                if let Some(len) = declared(&self.buf) {
                    if len > MAX_PACKET {
                        return self.too_long(len);
                    }
                    if len > 0 {
                        continue;
                    }
                }
            }
            if let Some(len) = declared(&self.buf) {
                if self.buf.len() == 4 + len as usize {
                    packet(&self.buf[4..], self.start);
                    self.buf.clear();
                }
            }
        }
        Ok(())
    }

    fn too_long(&mut self, len: u32) -> Result<(), ProblemKind> {
        self.lost = true;
        self.buf = Vec::new();
        Err(ProblemKind::TooLong {
            protocol: "SFTP",
            len: len.into(),
            max: MAX_PACKET.into(),
        })
    }

    /// The packet left unfinished, as `(bytes seen, bytes announced)`.
    fn unfinished(&self) -> Option<(u64, u64)> {
        if self.buf.is_empty() || self.lost {
            return None;
        }
        let want = declared(&self.buf).map_or(4, |l| 4 + u64::from(l));
        Some((self.buf.len() as u64, want))
    }
}

/// The length field at the start of `b`, if it is there.
fn declared(b: &[u8]) -> Option<u32> {
    b.get(..4)
        .map(|l| u32::from_be_bytes([l[0], l[1], l[2], l[3]]))
}

/// A request waiting for its response.
#[derive(Debug)]
struct Pending {
    /// Its place in the order requests came (what is left at the end is
    /// listed in that order, whatever the chunking).
    seq: u64,
    at: At,
    request: Request,
}

#[derive(Debug)]
enum Request {
    Open {
        path: Vec<u8>,
        pflags: u32,
        attrs: Attrs,
    },
    Opendir {
        path: Vec<u8>,
    },
    Close {
        handle: Vec<u8>,
    },
    Read {
        handle: Vec<u8>,
        offset: u64,
    },
    Write {
        handle: Vec<u8>,
        offset: u64,
        len: u64,
    },
    Readdir {
        handle: Vec<u8>,
    },
    /// Any other request: listed as it was asked.
    Other {
        op: String,
        paths: Vec<String>,
        detail: String,
    },
}

/// A file being transferred through a handle.
#[derive(Debug)]
struct OpenFile {
    at: At,
    pflags: u32,
    mode: Option<u32>,
    content: Assembler,
    writes: u64,
    reads: u64,
    /// The lowest offset a read answered EOF at.
    eof_at: Option<u64>,
    /// Why a read or write failed, the first time one did.
    failed: Option<String>,
}

#[derive(Debug)]
struct Handle {
    /// Its place in the order handles were opened.
    seq: u64,
    path: Vec<u8>,
    /// `None` for a directory.
    file: Option<OpenFile>,
}

/// The SFTP decoder of one channel: feed it the channel's data, collect
/// what it found.
#[derive(Debug)]
pub struct SftpDecoder {
    context: Context,
    limits: Limits,
    /// Where held data and kept contents go.
    pub(super) storage: Storage,
    requests: Packets,
    responses: Packets,
    pending: HashMap<u32, Pending>,
    handles: HashMap<Vec<u8>, Handle>,
    /// The INIT's time and line, until VERSION answers it.
    init: Option<(At, u32)>,
    last: At,
    /// Counts requests and handles, to keep their order.
    seq: u64,
}

impl SftpDecoder {
    /// A decoder for the channel `context`.
    pub fn new(context: Context, limits: Limits) -> Self {
        SftpDecoder {
            context,
            limits,
            storage: Storage::default(),
            requests: Packets::default(),
            responses: Packets::default(),
            pending: HashMap::new(),
            handles: HashMap::new(),
            init: None,
            last: At::default(),
            seq: 0,
        }
    }

    /// Feeds one data event of the channel.
    pub fn data(&mut self, stream: Stream, data: &[u8], at: At, found: &mut Vec<Found>) {
        self.last = at;
        let mut packets = match stream {
            Stream::Stdin => std::mem::take(&mut self.requests),
            Stream::Stdout => std::mem::take(&mut self.responses),
            // sftp-server's log lines, not protocol.
            Stream::Stderr => return,
        };
        let result = packets.push(data, at, |body, start| {
            let result = match stream {
                Stream::Stdin => self.request(body, start, found),
                _ => self.response(body, start, found),
            };
            if let Err(why) = result {
                let t = body.first().copied().unwrap_or(0);
                let what = if body.is_empty() {
                    "SFTP packet".to_string()
                } else {
                    format!("SFTP {} packet (type {t})", type_name(t))
                };
                found.push(self.problem(start.line, ProblemKind::Malformed { what, why }));
            }
        });
        if let Err(kind) = result {
            found.push(self.problem(packets.start.line, kind));
        }
        match stream {
            Stream::Stdin => self.requests = packets,
            _ => self.responses = packets,
        }
    }

    /// The channel ended: what is left unanswered, unclosed or unfinished.
    pub fn end(mut self, ts: Nanos, found: &mut Vec<Found>) {
        for (packets, side) in [(&self.requests, "client"), (&self.responses, "server")] {
            if let Some((have, want)) = packets.unfinished() {
                found.push(self.problem(
                    packets.start.line,
                    ProblemKind::Truncated {
                        what: format!("an SFTP packet from the {side}"),
                        have,
                        want,
                    },
                ));
            }
        }
        let mut pending: Vec<(u32, Pending)> = self.pending.drain().collect();
        pending.sort_by_key(|(_, p)| p.seq);
        for (_, p) in pending {
            if let Some(op) = self.op_of(&p, OpStatus::NoResponse, String::new()) {
                found.push(Found::Op(op));
            }
        }
        let mut handles: Vec<Handle> = self.handles.drain().map(|(_, h)| h).collect();
        handles.sort_by_key(|h| h.seq);
        for h in handles {
            if let Some(file) = h.file {
                if let Some(f) = self.recovered(&h.path, file, ts, Some("never closed".into())) {
                    found.push(Found::File(f));
                }
            }
        }
    }

    fn problem(&self, line: u64, kind: ProblemKind) -> Found {
        Found::Problem(TransferProblem {
            context: self.context.clone(),
            line,
            kind,
        })
    }

    fn handle_path(&self, handle: &[u8]) -> String {
        match self.handles.get(handle) {
            Some(h) => path_text(&h.path),
            None => format!("<handle {}>", crate::digest::hex(handle)),
        }
    }

    fn remember(&mut self, id: u32, at: At, request: Request, found: &mut Vec<Found>) {
        if self.pending.len() >= self.limits.pending_requests && !self.pending.contains_key(&id) {
            found.push(self.problem(
                at.line,
                ProblemKind::Limit(format!(
                    "more than {} SFTP requests wait for a response: request {id} is not followed",
                    self.limits.pending_requests
                )),
            ));
            return;
        }
        self.seq += 1;
        let seq = self.seq;
        if self
            .pending
            .insert(id, Pending { seq, at, request })
            .is_some()
        {
            found.push(self.problem(
                at.line,
                ProblemKind::Inconsistent(format!(
                    "SFTP request id {id} reused before its response came"
                )),
            ));
        }
    }

    fn request(&mut self, body: &[u8], at: At, found: &mut Vec<Found>) -> Result<(), String> {
        let mut f = Fields { b: body };
        let t = f.u8("the packet type")?;
        if t == INIT {
            let version = f.u32("the version")?;
            self.init = Some((at, version));
            return Ok(());
        }
        let id = f.u32("the request id")?;
        let path = |f: &mut Fields<'_>, what: &str| f.string(what).map(|p| p.to_vec());
        let other = |op: &str, paths: Vec<String>, detail: String| Request::Other {
            op: op.to_string(),
            paths,
            detail,
        };
        let request = match t {
            OPEN => {
                let p = path(&mut f, "the file name")?;
                let pflags = f.u32("the open flags")?;
                let attrs = f.attrs()?;
                Request::Open {
                    path: p,
                    pflags,
                    attrs,
                }
            }
            CLOSE => Request::Close {
                handle: path(&mut f, "the handle")?,
            },
            READ => {
                let handle = path(&mut f, "the handle")?;
                let offset = f.u64("the offset")?;
                f.u32("the length")?;
                Request::Read { handle, offset }
            }
            WRITE => {
                let handle = f.string("the handle")?.to_vec();
                let offset = f.u64("the offset")?;
                let data = f.string("the data")?;
                if let Some(file) = self.handles.get_mut(&handle).and_then(|h| h.file.as_mut()) {
                    file.writes += 1;
                    file.content.add(offset, data);
                }
                Request::Write {
                    handle,
                    offset,
                    len: data.len() as u64,
                }
            }
            OPENDIR => Request::Opendir {
                path: path(&mut f, "the path")?,
            },
            READDIR => Request::Readdir {
                handle: path(&mut f, "the handle")?,
            },
            LSTAT | STAT | REMOVE | RMDIR | REALPATH | READLINK => {
                let p = f.string("the path")?;
                other(
                    &type_name(t).to_lowercase(),
                    vec![path_text(p)],
                    String::new(),
                )
            }
            MKDIR | SETSTAT => {
                let p = f.string("the path")?;
                let attrs = f.attrs()?;
                other(
                    &type_name(t).to_lowercase(),
                    vec![path_text(p)],
                    attrs.text(),
                )
            }
            FSTAT => {
                let h = f.string("the handle")?;
                other("fstat", vec![self.handle_path(h)], String::new())
            }
            FSETSTAT => {
                let h = f.string("the handle")?;
                let attrs = f.attrs()?;
                other("fsetstat", vec![self.handle_path(h)], attrs.text())
            }
            RENAME | SYMLINK => {
                // SYMLINK: OpenSSH sends the target first, then the link
                // (the reverse of the draft); listed as sent.
                let a = f.string("the first path")?;
                let b = f.string("the second path")?;
                other(
                    &type_name(t).to_lowercase(),
                    vec![path_text(a), path_text(b)],
                    String::new(),
                )
            }
            EXTENDED => {
                let name = f.string("the extension name")?;
                let name = path_text(name);
                self.extended(&name, &mut f)?
            }
            _ => {
                found.push(self.problem(
                    at.line,
                    ProblemKind::Malformed {
                        what: "SFTP request".into(),
                        why: format!("unknown packet type {t} (id {id})"),
                    },
                ));
                other(&format!("type-{t}"), Vec::new(), String::new())
            }
        };
        self.remember(id, at, request, found);
        Ok(())
    }

    /// An EXTENDED request: OpenSSH's extensions with the paths they name.
    fn extended(&self, name: &str, f: &mut Fields<'_>) -> Result<Request, String> {
        let (paths, detail) = match name {
            "posix-rename@openssh.com" | "hardlink@openssh.com" | "copy-data" => {
                if name == "copy-data" {
                    let from = f.string("the read handle")?;
                    let off = f.u64("the read offset")?;
                    let len = f.u64("the length")?;
                    let to = f.string("the write handle")?;
                    let woff = f.u64("the write offset")?;
                    (
                        vec![self.handle_path(from), self.handle_path(to)],
                        format!("{len} bytes from offset {off} to offset {woff}"),
                    )
                } else {
                    let a = f.string("the old path")?;
                    let b = f.string("the new path")?;
                    (vec![path_text(a), path_text(b)], String::new())
                }
            }
            "statvfs@openssh.com" | "expand-path@openssh.com" => {
                (vec![path_text(f.string("the path")?)], String::new())
            }
            "lsetstat@openssh.com" => {
                let p = f.string("the path")?;
                let attrs = f.attrs()?;
                (vec![path_text(p)], attrs.text())
            }
            "fstatvfs@openssh.com" | "fsync@openssh.com" => (
                vec![self.handle_path(f.string("the handle")?)],
                String::new(),
            ),
            _ => (Vec::new(), String::new()),
        };
        Ok(Request::Other {
            op: name.to_string(),
            paths,
            detail,
        })
    }

    fn response(&mut self, body: &[u8], at: At, found: &mut Vec<Found>) -> Result<(), String> {
        let mut f = Fields { b: body };
        let t = f.u8("the packet type")?;
        if t == VERSION {
            let version = f.u32("the version")?;
            let mut extensions = Vec::new();
            while !f.b.is_empty() {
                let name = f.string("an extension name")?;
                f.string("an extension value")?;
                extensions.push(path_text(name));
            }
            let (asked, client_version) = self.init.take().unwrap_or((at, version));
            found.push(Found::Op(FileOp {
                context: self.context.clone(),
                protocol: Protocol::Sftp,
                ts: asked.ts,
                line: asked.line,
                op: "init".into(),
                paths: Vec::new(),
                detail: format!(
                    "client version {client_version}, server version {version}{}{}",
                    if extensions.is_empty() {
                        ""
                    } else {
                        ", extensions "
                    },
                    extensions.join(",")
                ),
                status: OpStatus::Ok,
            }));
            return Ok(());
        }
        let id = f.u32("the request id")?;
        let Some(pending) = self.pending.remove(&id) else {
            found.push(self.problem(
                at.line,
                ProblemKind::Inconsistent(format!(
                    "SFTP {} response to id {id}, which no request waits for",
                    type_name(t)
                )),
            ));
            return Ok(());
        };
        let (status, detail) = match t {
            STATUS => {
                let code = f.u32("the status code")?;
                // Version 3 servers may leave the message out.
                let message = if f.b.is_empty() {
                    String::new()
                } else {
                    path_text(f.string("the status message")?)
                };
                let status = if code == FX_OK {
                    OpStatus::Ok
                } else {
                    OpStatus::Failed {
                        code: Some(code),
                        message: if message.is_empty() {
                            status_name(code).to_string()
                        } else {
                            message
                        },
                    }
                };
                (status, (code, None))
            }
            HANDLE => {
                let h = f.string("the handle")?;
                (OpStatus::Ok, (FX_OK, Some(Reply::Handle(h.to_vec()))))
            }
            DATA => {
                let d = f.string("the data")?;
                (OpStatus::Ok, (FX_OK, Some(Reply::Data(d))))
            }
            NAME => {
                let count = f.u32("the name count")?;
                let mut first = None;
                for _ in 0..count {
                    let name = f.string("a file name")?;
                    f.string("a long name")?;
                    f.attrs()?;
                    if first.is_none() {
                        first = Some(path_text(name));
                    }
                }
                (OpStatus::Ok, (FX_OK, Some(Reply::Name(count, first))))
            }
            ATTRS => {
                let attrs = f.attrs()?;
                (OpStatus::Ok, (FX_OK, Some(Reply::Attrs(attrs))))
            }
            EXTENDED_REPLY => (OpStatus::Ok, (FX_OK, None)),
            _ => {
                return Err(format!("unknown response type {t} (id {id})"));
            }
        };
        self.answered(pending, status, detail.0, detail.1, at, found);
        Ok(())
    }

    /// A request got its response.
    fn answered(
        &mut self,
        p: Pending,
        status: OpStatus,
        code: u32,
        reply: Option<Reply<'_>>,
        at: At,
        found: &mut Vec<Found>,
    ) {
        let mut detail = String::new();
        match (&p.request, reply) {
            (
                Request::Open {
                    path,
                    pflags,
                    attrs,
                },
                Some(Reply::Handle(h)),
            ) => {
                self.open_handle(
                    h,
                    path.clone(),
                    Some(OpenFile {
                        at: p.at,
                        pflags: *pflags,
                        mode: attrs.permissions.map(|m| m & 0o7777),
                        content: Assembler::new(self.limits, &self.storage),
                        writes: 0,
                        reads: 0,
                        eof_at: None,
                        failed: None,
                    }),
                    at,
                    found,
                );
            }
            (Request::Opendir { path }, Some(Reply::Handle(h))) => {
                self.open_handle(h, path.clone(), None, at, found);
            }
            (Request::Read { handle, offset }, reply) => {
                if let Some(file) = self.handles.get_mut(handle).and_then(|h| h.file.as_mut()) {
                    file.reads += 1;
                    match reply {
                        Some(Reply::Data(d)) => file.content.add(*offset, d),
                        _ if code == FX_EOF => {
                            file.eof_at = Some(file.eof_at.map_or(*offset, |e| e.min(*offset)));
                        }
                        _ => {
                            if let OpStatus::Failed { message, .. } = &status {
                                file.failed.get_or_insert_with(|| {
                                    format!("a read at offset {offset} failed: {message}")
                                });
                            }
                        }
                    }
                }
                if !matches!(status, OpStatus::Failed { .. }) || code == FX_EOF {
                    return;
                }
            }
            (
                Request::Write {
                    handle,
                    offset,
                    len,
                },
                _,
            ) => {
                if let OpStatus::Failed { message, .. } = &status {
                    if let Some(file) = self.handles.get_mut(handle).and_then(|h| h.file.as_mut()) {
                        file.failed.get_or_insert_with(|| {
                            format!("a write of {len} bytes at offset {offset} failed: {message}")
                        });
                    }
                } else {
                    return;
                }
            }
            (Request::Readdir { .. }, reply) => {
                if code == FX_EOF {
                    // The end of the listing, not a failure.
                    let op = self.op_of(&p, OpStatus::Ok, "end of directory".into());
                    found.extend(op.map(Found::Op));
                    return;
                }
                if let Some(Reply::Name(n, _)) = reply {
                    detail = format!("{n} name(s)");
                }
            }
            (Request::Close { handle }, _) => {
                // Listed while the handle still names its path.
                found.extend(self.op_of(&p, status.clone(), detail).map(Found::Op));
                if let Some(h) = self.handles.remove(handle) {
                    if let Some(file) = h.file {
                        let why = match &status {
                            OpStatus::Failed { message, .. } => {
                                Some(format!("the close failed: {message}"))
                            }
                            _ => None,
                        };
                        found.extend(self.recovered(&h.path, file, at.ts, why).map(Found::File));
                    }
                }
                return;
            }
            (Request::Other { .. }, Some(Reply::Name(_, Some(name)))) => {
                detail = format!("-> {name}");
            }
            (Request::Other { .. }, Some(Reply::Attrs(a))) => detail = a.text(),
            _ => {}
        }
        if let Some(op) = self.op_of(&p, status, detail) {
            found.push(Found::Op(op));
        }
    }

    fn open_handle(
        &mut self,
        handle: Vec<u8>,
        path: Vec<u8>,
        file: Option<OpenFile>,
        at: At,
        found: &mut Vec<Found>,
    ) {
        if handle.len() > MAX_HANDLE {
            found.push(self.problem(
                at.line,
                ProblemKind::Limit(format!(
                    "a handle of {} bytes (more than {MAX_HANDLE}): not followed",
                    handle.len()
                )),
            ));
            return;
        }
        if self.handles.len() >= self.limits.open_handles && !self.handles.contains_key(&handle) {
            found.push(self.problem(
                at.line,
                ProblemKind::Limit(format!(
                    "more than {} SFTP handles open: this one is not followed",
                    self.limits.open_handles
                )),
            ));
            return;
        }
        let path = if path.len() > super::MAX_PATH_KEPT {
            path_text(&path).into_bytes()
        } else {
            path
        };
        self.seq += 1;
        let seq = self.seq;
        if self
            .handles
            .insert(handle, Handle { seq, path, file })
            .is_some()
        {
            found.push(self.problem(
                at.line,
                ProblemKind::Inconsistent("the server gave a handle that is still open".into()),
            ));
        }
    }

    /// The operation a request stands for (reads and writes that went
    /// well are not listed: their file is).
    fn op_of(&self, p: &Pending, status: OpStatus, detail: String) -> Option<FileOp> {
        let (op, paths, mut text) = match &p.request {
            Request::Open {
                path,
                pflags,
                attrs,
            } => {
                let a = attrs.text();
                (
                    "open".to_string(),
                    vec![path_text(path)],
                    if a.is_empty() {
                        open_flags_text(*pflags)
                    } else {
                        format!("{} {a}", open_flags_text(*pflags))
                    },
                )
            }
            Request::Opendir { path } => ("opendir".into(), vec![path_text(path)], String::new()),
            Request::Close { handle } => (
                "close".into(),
                vec![self.handle_path(handle)],
                String::new(),
            ),
            Request::Read { handle, offset } => {
                if status == OpStatus::Ok {
                    return None;
                }
                (
                    "read".into(),
                    vec![self.handle_path(handle)],
                    format!("offset {offset}"),
                )
            }
            Request::Write {
                handle,
                offset,
                len,
            } => {
                if status == OpStatus::Ok {
                    return None;
                }
                (
                    "write".into(),
                    vec![self.handle_path(handle)],
                    format!("{len} bytes at offset {offset}"),
                )
            }
            Request::Readdir { handle } => (
                "readdir".into(),
                vec![self.handle_path(handle)],
                String::new(),
            ),
            Request::Other { op, paths, detail } => (op.clone(), paths.clone(), detail.clone()),
        };
        if !detail.is_empty() {
            if !text.is_empty() {
                text.push(' ');
            }
            text.push_str(&detail);
        }
        Some(FileOp {
            context: self.context.clone(),
            protocol: Protocol::Sftp,
            ts: p.at.ts,
            line: p.at.line,
            op,
            paths,
            detail: text,
            status,
        })
    }

    /// The file a closed (or never closed) handle carried, if any moved.
    fn recovered(
        &self,
        path: &[u8],
        file: OpenFile,
        ended: Nanos,
        closing: Option<String>,
    ) -> Option<RecoveredFile> {
        const WRITE_FLAG: u32 = 0x02;
        let direction = if file.writes > 0 || (file.reads == 0 && file.pflags & WRITE_FLAG != 0) {
            TransferDirection::Upload
        } else if file.reads > 0 {
            TransferDirection::Download
        } else {
            // Opened for reading and never read: nothing moved.
            return None;
        };
        let size = match (direction, file.eof_at) {
            (TransferDirection::Download, Some(eof)) => file.content.end().max(eof),
            _ => file.content.end(),
        };
        let mut why = closing.or(file.failed);
        if why.is_none() && direction == TransferDirection::Download && file.eof_at.is_none() {
            why = Some("the end of the file was never read".into());
        }
        let assembled = file.content.finish(size);
        let (sha256, missing, unhashable) =
            (assembled.sha256, assembled.missing, assembled.unhashable);
        let complete =
            why.is_none() && unhashable.is_none() && missing.is_empty() && sha256.is_some();
        if why.is_none() && !missing.is_empty() {
            why = Some("ranges of the file were never transferred".into());
        }
        Some(RecoveredFile {
            context: self.context.clone(),
            protocol: Protocol::Sftp,
            direction,
            path: path_text(path),
            size,
            sha256,
            complete,
            missing,
            why_incomplete: why.or(unhashable),
            started: file.at.ts,
            ended,
            line: file.at.line,
            mode: file.mode,
            note: assembled.note,
            content: assembled.content,
        })
    }
}

/// What a response carried besides its status.
enum Reply<'a> {
    Handle(Vec<u8>),
    Data(&'a [u8]),
    /// How many names, and the first.
    Name(u32, Option<String>),
    Attrs(Attrs),
}
