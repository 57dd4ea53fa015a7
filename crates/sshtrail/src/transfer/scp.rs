//! Legacy SCP (the rcp protocol OpenSSH's `scp -O` speaks) carried in an
//! exec channel: `scp -t TARGET` receives files (an upload), `scp -f
//! SOURCE...` sends them (a download).
//!
//! The sending side writes records, each a line: `C<mode> <size> <name>`
//! (a file, its `size` bytes and a `\0` follow), `D<mode> 0 <name>` (enter
//! a folder), `E` (leave it), `T<mtime> 0 <atime> 0` (the times of the
//! next record, with `-p`), or `\x01`/`\x02` and a message (a warning, a
//! fatal error). The receiving side answers each record, and each file's
//! data, with `\0` (fine) or `\x01`/`\x02` and a message; its first `\0`
//! says it is ready. An upload's records are the client's data (stdin),
//! the acknowledgements the server's (stdout); a download the reverse.

use std::collections::VecDeque;

use super::{
    path_text, Assembler, At, FileOp, Found, Limits, OpStatus, ProblemKind, Protocol,
    RecoveredFile, Storage, TransferDirection, TransferProblem,
};
use crate::channel::Stream;
use crate::connection::Context;
use crate::time::Nanos;

/// The longest record or message line followed (OpenSSH's are at most
/// 2048 bytes plus a path).
pub const MAX_RECORD: usize = 8192;

/// The deepest folder nesting followed.
pub const MAX_DEPTH: usize = 1024;

/// An `scp -t` or `scp -f` command line, as the exec request sent it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScpCommand {
    /// `-t` (the server receives: an upload) or `-f` (the server sends: a
    /// download).
    pub direction: TransferDirection,
    /// `-r`: folders are sent.
    pub recursive: bool,
    /// `-p`: times and modes are kept (`T` records come).
    pub preserve: bool,
    /// `-d`: the target must be a folder.
    pub target_is_dir: bool,
    /// The target (`-t`) or the sources (`-f`), as the remote shell splits them.
    pub paths: Vec<String>,
}

impl ScpCommand {
    /// Reads an exec command: `None` when it is not `scp` with `-t` or `-f`.
    ///
    /// ```
    /// use sshtrail::transfer::scp::ScpCommand;
    /// use sshtrail::transfer::TransferDirection;
    ///
    /// let c = ScpCommand::parse("scp -r -f logs").unwrap();
    /// assert_eq!(c.direction, TransferDirection::Download);
    /// assert!(c.recursive);
    /// assert_eq!(c.paths, ["logs"]);
    /// assert!(ScpCommand::parse("ls -t").is_none());
    /// ```
    pub fn parse(command: &str) -> Option<ScpCommand> {
        let words = shell_words(command);
        let (program, args) = words.split_first()?;
        if program.rsplit('/').next() != Some("scp") {
            return None;
        }
        let mut c = ScpCommand {
            direction: TransferDirection::Upload,
            recursive: false,
            preserve: false,
            target_is_dir: false,
            paths: Vec::new(),
        };
        let (mut to, mut from) = (false, false);
        let mut options = true;
        for w in args {
            if options && w == "--" {
                options = false;
            } else if options && w.len() > 1 && w.starts_with('-') {
                for flag in w.chars().skip(1) {
                    match flag {
                        't' => to = true,
                        'f' => from = true,
                        'r' => c.recursive = true,
                        'p' => c.preserve = true,
                        'd' => c.target_is_dir = true,
                        _ => {}
                    }
                }
            } else {
                options = false;
                c.paths.push(w.clone());
            }
        }
        c.direction = match (to, from) {
            (true, false) => TransferDirection::Upload,
            (false, true) => TransferDirection::Download,
            _ => return None,
        };
        Some(c)
    }
}

/// Splits a command line as a POSIX shell would split plain words: single
/// and double quotes and backslashes (no expansions).
fn shell_words(s: &str) -> Vec<String> {
    let mut words = Vec::new();
    let mut word = String::new();
    let mut in_word = false;
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        match c {
            '\'' => {
                in_word = true;
                for q in chars.by_ref() {
                    if q == '\'' {
                        break;
                    }
                    word.push(q);
                }
            }
            '"' => {
                in_word = true;
                while let Some(q) = chars.next() {
                    match q {
                        '"' => break,
                        '\\' => {
                            if let Some(n) = chars.next() {
                                if !matches!(n, '"' | '\\' | '$' | '`') {
                                    word.push('\\');
                                }
                                word.push(n);
                            }
                        }
                        _ => word.push(q),
                    }
                }
            }
            '\\' => {
                in_word = true;
                if let Some(n) = chars.next() {
                    word.push(n);
                }
            }
            c if c.is_whitespace() => {
                if in_word {
                    words.push(std::mem::take(&mut word));
                    in_word = false;
                }
            }
            c => {
                in_word = true;
                word.push(c);
            }
        }
    }
    if in_word {
        words.push(word);
    }
    words
}

/// A file whose data is coming or came.
#[derive(Debug)]
struct ScpFile {
    at: At,
    path: String,
    mode: u32,
    size: u64,
    received: u64,
    content: Assembler,
    ended: Nanos,
    /// The sender's error after the data, if any.
    failed: Option<String>,
}

/// What the receiving side's next acknowledgement answers.
#[derive(Debug)]
enum Awaiting {
    /// Its readiness.
    Ready(At),
    /// A record (a file's or folder's), listed once answered.
    Record(FileOp),
    /// A file's data.
    Data(Box<ScpFile>),
}

/// Where the sending side's stream is.
#[derive(Debug)]
enum Sending {
    /// Between records.
    Record,
    /// Inside a file's data.
    Data(Box<ScpFile>),
    /// After a file's data: its `\0` comes.
    DataEnd(Box<ScpFile>),
    /// Lost: a malformed record leaves nothing to follow.
    Lost,
}

/// A line being read: a record, or an error message.
#[derive(Debug, Default)]
struct LineBuf {
    buf: Vec<u8>,
    start: At,
}

/// The SCP decoder of one channel.
#[derive(Debug)]
pub struct ScpDecoder {
    context: Context,
    limits: Limits,
    /// Where held data and kept contents go.
    pub(super) storage: Storage,
    command: ScpCommand,
    sending: Sending,
    record: LineBuf,
    /// The receiving side's message line, when one is being read.
    ack_message: Option<LineBuf>,
    ack_lost: bool,
    awaiting: VecDeque<Awaiting>,
    /// The folders entered, as remote paths.
    dirs: Vec<String>,
    last: At,
}

impl ScpDecoder {
    /// A decoder for the channel `context`, running `command`.
    pub fn new(context: Context, command: ScpCommand, limits: Limits) -> Self {
        ScpDecoder {
            context,
            limits,
            storage: Storage::default(),
            command,
            sending: Sending::Record,
            record: LineBuf::default(),
            ack_message: None,
            ack_lost: false,
            awaiting: VecDeque::from([Awaiting::Ready(At::default())]),
            dirs: Vec::new(),
            last: At::default(),
        }
    }

    /// Feeds one data event of the channel.
    pub fn data(&mut self, stream: Stream, data: &[u8], at: At, found: &mut Vec<Found>) {
        self.last = at;
        if let Some(Awaiting::Ready(first)) = self.awaiting.front_mut() {
            if first.line == 0 {
                *first = at;
            }
        }
        let sender = match self.command.direction {
            TransferDirection::Upload => Stream::Stdin,
            TransferDirection::Download => Stream::Stdout,
        };
        if stream == sender {
            self.sent(data, at, found);
        } else if stream != Stream::Stderr {
            self.acks(data, at, found);
        }
    }

    fn problem(&self, line: u64, kind: ProblemKind) -> Found {
        Found::Problem(TransferProblem {
            context: self.context.clone(),
            line,
            kind,
        })
    }

    fn malformed(&self, line: u64, why: String) -> Found {
        self.problem(
            line,
            ProblemKind::Malformed {
                what: "SCP record".into(),
                why,
            },
        )
    }

    /// The sending side's bytes: records and file data.
    fn sent(&mut self, mut data: &[u8], at: At, found: &mut Vec<Found>) {
        while !data.is_empty() {
            match std::mem::replace(&mut self.sending, Sending::Lost) {
                Sending::Lost => return,
                Sending::Data(mut file) => {
                    let left = file.size - file.received;
                    let n = usize::try_from(left).unwrap_or(usize::MAX).min(data.len());
                    file.content.add(file.received, &data[..n]);
                    file.received += n as u64;
                    file.ended = at.ts;
                    data = &data[n..];
                    self.sending = if file.received == file.size {
                        Sending::DataEnd(file)
                    } else {
                        Sending::Data(file)
                    };
                }
                Sending::DataEnd(mut file) => {
                    match data[0] {
                        0 => {
                            data = &data[1..];
                        }
                        1 | 2 => {
                            // The sender's error instead of the end mark:
                            // read as a record line below.
                            file.failed =
                                Some("the sender reported an error after the data".into());
                        }
                        b => {
                            found.push(self.malformed(
                                at.line,
                                format!("byte 0x{b:02x} after a file's data, where \\0 ends it"),
                            ));
                            self.finish_file(file, None, found);
                            return;
                        }
                    }
                    self.awaiting.push_back(Awaiting::Data(file));
                    self.sending = Sending::Record;
                }
                Sending::Record => {
                    self.sending = Sending::Record;
                    if self.record.buf.is_empty() {
                        self.record.start = at;
                    }
                    let (line, rest, whole) = match memchr::memchr(b'\n', data) {
                        Some(i) => (&data[..i], &data[i + 1..], true),
                        None => (data, &data[data.len()..], false),
                    };
                    data = rest;
                    if self.record.buf.len() + line.len() > MAX_RECORD {
                        found.push(self.malformed(
                            self.record.start.line,
                            format!("a record line longer than {MAX_RECORD} bytes"),
                        ));
                        self.sending = Sending::Lost;
                        self.record = LineBuf::default();
                        return;
                    }
                    self.record.buf.extend_from_slice(line);
                    if whole {
                        let record = std::mem::take(&mut self.record);
                        self.record_line(&record.buf, record.start, found);
                    }
                }
            }
        }
    }

    /// The name a record gives, as a remote path.
    fn path_of(&self, name: &str) -> String {
        if let Some(dir) = self.dirs.last() {
            return format!("{}/{name}", dir.trim_end_matches('/'));
        }
        match self.command.direction {
            TransferDirection::Upload => {
                let target = self.command.paths.first().map_or(".", String::as_str);
                let is_dir = self.command.target_is_dir
                    || target == "."
                    || target == ".."
                    || target.ends_with('/')
                    || self.command.paths.len() != 1;
                if is_dir {
                    format!("{}/{name}", target.trim_end_matches('/'))
                } else {
                    target.to_string()
                }
            }
            TransferDirection::Download => self
                .command
                .paths
                .iter()
                .find(|p| p.trim_end_matches('/').rsplit('/').next() == Some(name))
                .cloned()
                .unwrap_or_else(|| name.to_string()),
        }
    }

    fn op(&self, at: At, op: &str, paths: Vec<String>, detail: String) -> FileOp {
        FileOp {
            context: self.context.clone(),
            protocol: Protocol::Scp,
            ts: at.ts,
            line: at.line,
            op: op.into(),
            paths,
            detail,
            status: OpStatus::NoResponse,
        }
    }

    fn record_line(&mut self, line: &[u8], at: At, found: &mut Vec<Found>) {
        let Some((&kind, rest)) = line.split_first() else {
            found.push(self.malformed(at.line, "an empty record".into()));
            self.sending = Sending::Lost;
            return;
        };
        let text = path_text(rest);
        match kind {
            b'C' | b'D' => {
                let Some((mode, size, name)) = parse_file_record(rest) else {
                    found.push(self.malformed(
                        at.line,
                        format!("{} record {text:?} is not MODE SIZE NAME", kind as char),
                    ));
                    self.sending = Sending::Lost;
                    return;
                };
                let path = self.path_of(&name);
                if kind == b'C' {
                    let op = self.op(
                        at,
                        "file",
                        vec![path.clone()],
                        format!("mode {mode:04o} size {size}"),
                    );
                    self.awaiting.push_back(Awaiting::Record(op));
                    let file = Box::new(ScpFile {
                        at,
                        path,
                        mode,
                        size,
                        received: 0,
                        content: Assembler::new(self.limits, &self.storage),
                        ended: at.ts,
                        failed: None,
                    });
                    self.sending = if size == 0 {
                        Sending::DataEnd(file)
                    } else {
                        Sending::Data(file)
                    };
                } else {
                    if self.dirs.len() >= MAX_DEPTH {
                        found.push(self.problem(
                            at.line,
                            ProblemKind::Limit(format!(
                                "folders nested deeper than {MAX_DEPTH}: not followed"
                            )),
                        ));
                        self.sending = Sending::Lost;
                        return;
                    }
                    let op = self.op(at, "dir", vec![path.clone()], format!("mode {mode:04o}"));
                    self.awaiting.push_back(Awaiting::Record(op));
                    self.dirs.push(path);
                }
            }
            b'E' => {
                let Some(dir) = self.dirs.pop() else {
                    found.push(self.malformed(at.line, "E record outside any folder".into()));
                    self.sending = Sending::Lost;
                    return;
                };
                let op = self.op(at, "end-dir", vec![dir], String::new());
                self.awaiting.push_back(Awaiting::Record(op));
            }
            b'T' => {
                let op = self.op(at, "times", Vec::new(), format!("mtime atime {text}"));
                self.awaiting.push_back(Awaiting::Record(op));
            }
            1 | 2 => {
                let mut op = self.op(at, "sender-error", Vec::new(), String::new());
                op.status = OpStatus::Failed {
                    code: None,
                    message: text,
                };
                found.push(Found::Op(op));
            }
            b => {
                found.push(self.malformed(at.line, format!("unknown record type 0x{b:02x}")));
                self.sending = Sending::Lost;
            }
        }
    }

    /// The receiving side's bytes: acknowledgements.
    fn acks(&mut self, data: &[u8], at: At, found: &mut Vec<Found>) {
        let mut data = data;
        while !data.is_empty() && !self.ack_lost {
            if let Some(mut message) = self.ack_message.take() {
                let (line, rest, whole) = match memchr::memchr(b'\n', data) {
                    Some(i) => (&data[..i], &data[i + 1..], true),
                    None => (data, &data[data.len()..], false),
                };
                data = rest;
                if message.buf.len() + line.len() > MAX_RECORD {
                    found.push(self.malformed(
                        message.start.line,
                        format!("an error message longer than {MAX_RECORD} bytes"),
                    ));
                    self.ack_lost = true;
                    return;
                }
                message.buf.extend_from_slice(line);
                if whole {
                    let text = path_text(&message.buf[1..]);
                    self.acknowledged(
                        OpStatus::Failed {
                            code: None,
                            message: text,
                        },
                        message.start,
                        found,
                    );
                } else {
                    self.ack_message = Some(message);
                }
                continue;
            }
            match data[0] {
                0 => {
                    data = &data[1..];
                    self.acknowledged(OpStatus::Ok, at, found);
                }
                b @ (1 | 2) => {
                    data = &data[1..];
                    self.ack_message = Some(LineBuf {
                        buf: vec![b],
                        start: at,
                    });
                }
                b => {
                    found.push(self.problem(
                        at.line,
                        ProblemKind::Malformed {
                            what: "SCP acknowledgement".into(),
                            why: format!("byte 0x{b:02x}, where \\0, \\x01 or \\x02 belongs"),
                        },
                    ));
                    self.ack_lost = true;
                }
            }
        }
    }

    fn acknowledged(&mut self, status: OpStatus, at: At, found: &mut Vec<Found>) {
        match self.awaiting.pop_front() {
            Some(Awaiting::Ready(asked)) => {
                if status != OpStatus::Ok {
                    let mut op = self.op(asked, "start", self.command.paths.clone(), String::new());
                    op.status = status;
                    found.push(Found::Op(op));
                }
            }
            Some(Awaiting::Record(mut op)) => {
                let refused_file = op.op == "file" && status != OpStatus::Ok;
                op.status = status;
                found.push(Found::Op(op));
                if refused_file {
                    // The sender sends no data for a refused file.
                    if let Sending::Data(file) | Sending::DataEnd(file) =
                        std::mem::replace(&mut self.sending, Sending::Record)
                    {
                        if file.received > 0 {
                            self.sending = Sending::Data(file);
                        }
                    }
                }
            }
            Some(Awaiting::Data(file)) => {
                let why = match status {
                    OpStatus::Failed { message, .. } => {
                        Some(format!("the receiver reported an error: {message}"))
                    }
                    _ => None,
                };
                let mut file = file;
                file.ended = file.ended.max(at.ts);
                self.finish_file(file, why, found);
            }
            None => {
                found.push(self.problem(
                    at.line,
                    ProblemKind::Inconsistent(
                        "an SCP acknowledgement that answers nothing sent".into(),
                    ),
                ));
            }
        }
    }

    fn finish_file(&self, file: Box<ScpFile>, why: Option<String>, found: &mut Vec<Found>) {
        let file = *file;
        let mut why = why.or(file.failed);
        if why.is_none() && file.received < file.size {
            why = Some("the channel ended inside the file's data".into());
        }
        let assembled = file.content.finish(file.size);
        let (sha256, missing, unhashable) =
            (assembled.sha256, assembled.missing, assembled.unhashable);
        let complete = why.is_none() && unhashable.is_none() && sha256.is_some();
        found.push(Found::File(RecoveredFile {
            context: self.context.clone(),
            protocol: Protocol::Scp,
            direction: self.command.direction,
            path: file.path,
            size: file.size,
            sha256,
            complete,
            missing,
            why_incomplete: why.or(unhashable),
            started: file.at.ts,
            ended: file.ended,
            line: file.at.line,
            mode: Some(file.mode),
            note: assembled.note,
            content: assembled.content,
        }));
    }

    /// The channel ended: what is unfinished or unanswered.
    pub fn end(mut self, _ts: Nanos, found: &mut Vec<Found>) {
        if !self.record.buf.is_empty() {
            found.push(self.problem(
                self.record.start.line,
                ProblemKind::Truncated {
                    what: "an SCP record line".into(),
                    have: self.record.buf.len() as u64,
                    want: self.record.buf.len() as u64 + 1,
                },
            ));
        }
        if let Some(message) = self.ack_message.take() {
            found.push(self.problem(
                message.start.line,
                ProblemKind::Truncated {
                    what: "an SCP error message".into(),
                    have: message.buf.len() as u64,
                    want: message.buf.len() as u64 + 1,
                },
            ));
        }
        for waiting in std::mem::take(&mut self.awaiting) {
            match waiting {
                Awaiting::Ready(_) => {}
                Awaiting::Record(op) => found.push(Found::Op(op)),
                Awaiting::Data(file) => self.finish_file(
                    file,
                    Some("the receiver never acknowledged it".into()),
                    found,
                ),
            }
        }
        match std::mem::replace(&mut self.sending, Sending::Lost) {
            Sending::Data(file) => self.finish_file(file, None, found),
            Sending::DataEnd(file) => self.finish_file(
                file,
                Some("the channel ended before the end-of-data mark".into()),
                found,
            ),
            Sending::Record | Sending::Lost => {}
        }
    }
}

/// `MODE SIZE NAME` of a `C` or `D` record (after the letter): the mode in
/// octal, the size in decimal, the name up to the line's end.
fn parse_file_record(rest: &[u8]) -> Option<(u32, u64, String)> {
    let (mode, tail) = split_field(rest)?;
    let (size, name) = split_field(tail)?;
    if name.is_empty() || mode.is_empty() || size.is_empty() {
        return None;
    }
    let mode = u32::from_str_radix(std::str::from_utf8(mode).ok()?, 8).ok()?;
    if !size.iter().all(u8::is_ascii_digit) {
        return None;
    }
    let size: u64 = std::str::from_utf8(size).ok()?.parse().ok()?;
    Some((
        mode & 0o7777,
        size,
        String::from_utf8_lossy(name).into_owned(),
    ))
}

fn split_field(b: &[u8]) -> Option<(&[u8], &[u8])> {
    let i = memchr::memchr(b' ', b)?;
    Some((&b[..i], &b[i + 1..]))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shell_words_follow_quotes() {
        assert_eq!(
            shell_words(r#"scp -t -- 'a b' "c\"d" e\ f"#),
            ["scp", "-t", "--", "a b", "c\"d", "e f"]
        );
    }

    #[test]
    fn records_parse() {
        assert_eq!(
            parse_file_record(b"0644 12 a b"),
            Some((0o644, 12, "a b".into()))
        );
        assert_eq!(parse_file_record(b"0644 -1 a"), None);
        assert_eq!(parse_file_record(b"0644 1"), None);
    }
}
