//! Turning channel events into SIEM records, as they come, in time order.

use std::cmp::Ordering;
use std::collections::{BTreeSet, BinaryHeap, HashMap, VecDeque};
use std::io;
use std::sync::Arc;

use super::lines::{Line, Lines};
use super::{
    cut_at_char_boundary, shell_words, Action, ConnInfo, ConnectionFacts, EventOutcome, FileAction,
    FileInfo, FileType, IoChunk, ProcessInfo, PtyInfo, SessionSummary, Severity, SiemEvent,
    SiemOptions, SignalInfo,
};
use crate::channel::{
    ChannelEvent, ChannelEventKind, ChannelSink, ChannelState, ConnectionRef, Forward, ForwardKind,
    OpenKind, Outcome, Request, RequestKind, Scope, Stream, Verdict, GLOBAL_KIND,
};
use crate::connection::Context;
use crate::event::Direction;
use crate::replay::{Command, CommandRecognizer};
use crate::time::{format_rfc3339, human_duration, Nanos};
use crate::transfer::scp::ScpCommand;
use crate::transfer::{
    FileOp, Found, OpStatus, Protocol, RecoveredFile, TransferDecoder, TransferDirection,
};

const PRIVILEGED: [&str; 5] = ["sudo", "su", "doas", "pkexec", "run0"];

/// The process fields of a command line.
pub(crate) fn process_of(entity_id: String, command: &str, interactive: bool) -> ProcessInfo {
    let args = shell_words(command);
    let program = args
        .iter()
        .find(|w| !is_assignment(w))
        .map(|w| w.rsplit('/').next().unwrap_or(w).to_string())
        .filter(|n| !n.is_empty());
    let privileged = program.as_deref().is_some_and(|p| PRIVILEGED.contains(&p));
    ProcessInfo {
        entity_id,
        command_line: Some(command.to_string()),
        args,
        name: program,
        interactive,
        exit_code: None,
        privileged,
        confidence: None,
    }
}

fn is_assignment(w: &str) -> bool {
    match w.split_once('=') {
        Some((name, _)) => {
            !name.is_empty()
                && !name.starts_with(|c: char| c.is_ascii_digit())
                && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
        }
        None => false,
    }
}

fn outcome_of(o: &Outcome) -> (EventOutcome, Option<String>) {
    match o {
        Outcome::Success => (EventOutcome::Success, None),
        Outcome::Failure(why) => (EventOutcome::Failure, why.clone()),
        Outcome::NoReplyWanted | Outcome::Pending | Outcome::Replied => {
            (EventOutcome::Unknown, None)
        }
    }
}

/// Appends `n` in decimal (what `write!(s, "{n}")` writes).
fn push_decimal(s: &mut String, n: u64) {
    // ASCII digits: always UTF-8.
    s.push_str(std::str::from_utf8(crate::codec::u64_digits(n, &mut [0; 20])).unwrap_or_default());
}

/// The action of a forward.
fn forward_action(kind: ForwardKind) -> Action {
    match kind {
        ForwardKind::TcpipForward => Action::TcpipForward,
        ForwardKind::CancelTcpipForward => Action::CancelTcpipForward,
        ForwardKind::DirectTcpip => Action::DirectTcpip,
        ForwardKind::ForwardedTcpip => Action::ForwardedTcpip,
        ForwardKind::DirectStreamlocal
        | ForwardKind::StreamlocalForward
        | ForwardKind::CancelStreamlocalForward
        | ForwardKind::ForwardedStreamlocal => Action::Streamlocal,
        ForwardKind::AgentRequest | ForwardKind::AgentChannel => Action::AgentForward,
        ForwardKind::X11Request | ForwardKind::X11Channel => Action::X11Forward,
    }
}

/// One line for people about a forward: its name, addresses and ports.
pub(crate) fn forward_text(f: &Forward) -> String {
    let mut s = f.kind.name().to_string();
    if let Some(a) = &f.address {
        s.push_str(&format!(" {a}"));
        if let Some(p) = f.port {
            s.push_str(&format!(":{p}"));
        }
    } else if let Some(p) = f.port {
        s.push_str(&format!(" port {p}"));
    }
    if let Some(p) = &f.socket_path {
        s.push_str(&format!(" {p}"));
    }
    if let Some(o) = &f.originator {
        s.push_str(&format!(" from {o}"));
        if let Some(p) = f.originator_port {
            s.push_str(&format!(":{p}"));
        }
    }
    s
}

/// The order of records of equal time within a channel: the open, then
/// requests, the close, typed commands, file records, and lines of data by
/// stream.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Class {
    Open = 0,
    Request = 1,
    Close = 2,
    Command = 3,
    File = 4,
    Stdin = 5,
    Stdout = 6,
    Stderr = 7,
}

/// A record under construction: the fields the caller sets, the rest default.
#[derive(Debug)]
struct Draft {
    ts: Nanos,
    ts_text: String,
    local_id: String,
    /// 0 for the channel's open, 2 for its close, 1 for everything else.
    rank: u8,
    class: Class,
    /// Position within the class (request index, command number, offset).
    idx: u64,
    action: Action,
    outcome: EventOutcome,
    reason: Option<String>,
    severity: Severity,
    /// When set, the message starts with this, then the channel's label
    /// (known only once the channel type is settled), then `message`.
    labeled: Option<&'static str>,
    message: String,
    origin: Option<Direction>,
    request: Option<String>,
    /// The record shows the terminal in force at its time (filled in when
    /// it goes out: the draft only needs to know that the channel has one).
    terminal: bool,
    process: Option<ProcessInfo>,
    env: Option<(String, String)>,
    subsystem: Option<String>,
    forward: Option<Forward>,
    signal: Option<SignalInfo>,
    session: Option<SessionSummary>,
    io: Option<IoChunk>,
    connection: Option<ConnectionFacts>,
    file: Option<FileInfo>,
}

impl Draft {
    /// `ts_text` is taken as it is when it is made for the record (a
    /// line's, a command's), copied when it is the log's.
    fn new(
        ts: Nanos,
        ts_text: impl Into<String>,
        local_id: String,
        action: Action,
        message: String,
    ) -> Draft {
        Draft {
            ts,
            ts_text: ts_text.into(),
            local_id,
            rank: 1,
            class: Class::Request,
            idx: 0,
            action,
            outcome: EventOutcome::Unknown,
            reason: None,
            severity: Severity::Informational,
            labeled: None,
            message,
            origin: None,
            request: None,
            terminal: false,
            process: None,
            env: None,
            subsystem: None,
            forward: None,
            signal: None,
            session: None,
            io: None,
            connection: None,
            file: None,
        }
    }

    /// The record, numbered `seq`: every field the draft holds, of the
    /// connection `conn`. A record of a channel then gets its channel's
    /// fields (id, type, the size in force).
    fn into_event(
        mut self,
        seq: u64,
        conn: &Arc<ConnInfo>,
        product_version: &'static str,
    ) -> SiemEvent {
        self.take_event(seq, conn, product_version)
    }

    /// [`Self::into_event`], the fields taken out of the draft where it
    /// lies (a box of a held record): moving the whole draft out, and an
    /// empty one in, was most of the time of sending a record out.
    fn take_event(
        &mut self,
        seq: u64,
        conn: &Arc<ConnInfo>,
        product_version: &'static str,
    ) -> SiemEvent {
        SiemEvent {
            ts: self.ts,
            ts_text: std::mem::take(&mut self.ts_text),
            id: std::mem::take(&mut self.local_id),
            seq,
            action: self.action,
            outcome: self.outcome,
            reason: self.reason.take(),
            severity: self.severity,
            message: std::mem::take(&mut self.message),
            origin: self.origin,
            request: self.request.take(),
            conn: Arc::clone(conn),
            channel_id: None,
            channel_type: None,
            pty: None,
            process: self.process.take(),
            env: self.env.take(),
            subsystem: self.subsystem.take(),
            forward: self.forward.take(),
            signal: self.signal.take(),
            session: self.session.take(),
            io: self.io.take(),
            connection: self.connection.take(),
            file: self.file.take(),
            product_version,
        }
    }

    fn outcome(&mut self, o: &Outcome) {
        let (outcome, reason) = outcome_of(o);
        self.outcome = outcome;
        self.reason = reason;
        if outcome == EventOutcome::Failure {
            self.severity = self.severity.max(Severity::Low);
            self.message.push_str(match &self.reason {
                Some(_) => ": refused",
                None => ": failed",
            });
            if let Some(r) = &self.reason {
                self.message.push_str(&format!(": {r}"));
            }
        }
    }
}

/// A draft ready to go out, ordered by time, then the connection's start
/// before and its end after its channels' records, then channel, rank,
/// class and position.
#[derive(Debug)]
struct Held {
    /// The draft's time, scope, rank, class and position ([`Held::key`]),
    /// beside it: the heap compares records far more often than it makes
    /// them.
    order: (Nanos, u8, u8, Class, u64),
    /// `None` for a record of the connection itself.
    channel: Option<Arc<Context>>,
    /// Boxed: the heap moves a record at each level it sifts through, and
    /// a draft is some hundreds of bytes (moving them was a tenth of
    /// `convert --to ecs --io`).
    draft: Box<Draft>,
}

impl Held {
    fn new(channel: Option<Arc<Context>>, draft: Box<Draft>) -> Held {
        let scope = match draft.action {
            Action::ConnectionStart => 0,
            Action::ConnectionEnd => 2,
            _ => 1,
        };
        Held {
            order: (draft.ts, scope, draft.rank, draft.class, draft.idx),
            channel,
            draft,
        }
    }

    fn key(&self) -> (Nanos, u8, Option<&Context>, u8, Class, u64) {
        let (ts, scope, rank, class, idx) = self.order;
        (ts, scope, self.channel.as_deref(), rank, class, idx)
    }
}

impl PartialEq for Held {
    fn eq(&self, other: &Self) -> bool {
        self.key() == other.key()
    }
}

impl Eq for Held {}

impl PartialOrd for Held {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Held {
    /// Reversed: the heap gives the smallest key first.
    fn cmp(&self, other: &Self) -> Ordering {
        other.key().cmp(&self.key())
    }
}

/// The records held back, earliest first: those that come in order (most:
/// one line after another) wait in a queue, the rest in a heap.
///
/// A heap alone compared records some twenty times each on the way in and
/// out (`Held::cmp` and `BinaryHeap::pop` were a twentieth of
/// `convert --to ecs --io`), though nearly every record is later than the
/// last one held: appended to the queue, such a record is compared once.
/// The earliest record is the earlier of the queue's front and the heap's
/// top. Keys are unique (a channel's records differ in class or position),
/// so the order out is the heap's alone.
#[derive(Debug, Default)]
struct HeldRecords {
    /// Records in key order, each no earlier than the one before.
    run: VecDeque<Held>,
    /// The records that came earlier than the queue's last.
    heap: BinaryHeap<Held>,
}

impl HeldRecords {
    fn push(&mut self, held: Held) {
        match self.run.back() {
            Some(last) if held.key() < last.key() => self.heap.push(held),
            _ => self.run.push_back(held),
        }
    }

    /// Whether the earliest record is the queue's (rather than the heap's).
    fn run_first(&self) -> bool {
        match (self.run.front(), self.heap.peek()) {
            (Some(run), Some(heap)) => run.key() <= heap.key(),
            (run, _) => run.is_some(),
        }
    }

    /// The earliest record.
    fn peek(&self) -> Option<&Held> {
        if self.run_first() {
            self.run.front()
        } else {
            self.heap.peek()
        }
    }

    /// Takes the earliest record.
    fn pop(&mut self) -> Option<Held> {
        if self.run_first() {
            self.run.pop_front()
        } else {
            self.heap.pop()
        }
    }

    fn len(&self) -> usize {
        self.run.len() + self.heap.len()
    }
}

/// What the builder keeps of one channel.
#[derive(Debug)]
struct Chan {
    context: Arc<Context>,
    /// `<connection>/<channel>`, the start of every record id.
    prefix: String,
    kind: Option<String>,
    kind_settled: bool,
    started: Option<Nanos>,
    /// The first event's time as the log wrote it.
    started_text: String,
    /// Whether the channel's open record is decided: its own open request
    /// came, or something else came first (then the open is made up from
    /// the first event).
    open_decided: bool,
    open_ts: Option<Nanos>,
    refused: bool,
    /// The forward of the channel's own open, for the close record.
    open_forward: Option<Forward>,
    commands: CommandRecognizer,
    /// The exec command, as the channel stands.
    exec: Option<String>,
    /// The terminal, as the channel stands.
    pty: Option<PtyInfo>,
    /// The terminal's sizes (pty-req, then each window-change) from the
    /// last one in force at the watermark on: records are made with the
    /// size in force at their time.
    sizes: VecDeque<(Nanos, PtyInfo)>,
    /// The line being gathered of each stream (`--io`).
    lines: [Lines; 3],
    /// Commands found (the exec command included).
    command_count: u64,
    /// File records made.
    file_count: u64,
    exec_listed: bool,
    /// Last event time, while the channel is open.
    last: Option<Nanos>,
    ended: bool,
    /// Records of the channel written so far.
    seq: u64,
}

impl Chan {
    /// The terminal as it was at `ts`: its last size set at or before `ts`
    /// (the first known, for an earlier time).
    fn size_at(&self, ts: Nanos) -> Option<&PtyInfo> {
        self.sizes
            .iter()
            .rev()
            .find(|(t, _)| *t <= ts)
            .or(self.sizes.front())
            .map(|(_, p)| p)
            .or(self.pty.as_ref())
    }

    /// Forgets the sizes no record can need any more: those replaced at or
    /// before `watermark`, the earliest time a record still to go out has.
    fn forget_sizes(&mut self, watermark: Nanos) {
        while self.sizes.get(1).is_some_and(|(t, _)| *t <= watermark) {
            self.sizes.pop_front();
        }
    }
}

/// Requests waiting for their reply before their record can be made.
#[derive(Debug)]
struct Waiting {
    draft: Draft,
    request: Request,
    chan: usize,
}

/// The most records held back to be put in time order. A log whose clock
/// jumps back, or a channel that stays quiet while others talk, can make
/// records wait; past this many, the earliest goes out anyway, so memory
/// stays bounded (and order is kept wherever the log's own order allows).
const MAX_HELD: usize = 20_000;

/// The most strings kept from records gone out: more than the strings of
/// the records held at once in a steady stream of lines.
const MAX_SPARE_STRINGS: usize = 1024;

/// The longest string kept from a record gone out (a line's text, at the
/// default `io_max_bytes`, fits): the spare strings stay a few MiB at most.
const MAX_SPARE_CAPACITY: usize = 4200;

/// Turns a connection's channel events into SIEM records, in time order.
///
/// The records of one connection come out in time order (ties: channels in
/// order of their ids; within a channel the open first, then requests, the
/// close, typed commands, and lines of data by stream and offset), each
/// channel's numbered from 0. A record waits until nothing earlier can still
/// come: a request waits for its reply (the record says how it ended), a
/// typed line for its echo, a channel's first records for its type.
///
/// [`RecordSink`] wraps it as a sink.
#[derive(Debug)]
pub struct RecordBuilder {
    opts: SiemOptions,
    conn: Arc<ConnInfo>,
    ongoing: Vec<String>,
    unclean: Vec<String>,
    chans: Vec<Chan>,
    index: HashMap<Context, usize>,
    held: HeldRecords,
    /// Requests waiting for a reply, by (channel, request index).
    waiting: HashMap<(usize, usize), Waiting>,
    /// Their times, for the earliest.
    waiting_times: BTreeSet<(Nanos, usize, usize)>,
    /// The latest event time seen.
    clock: Option<Nanos>,
    /// The connection's own records.
    conn_state: ConnState,
    /// The file operations and transfers of SFTP and SCP channels.
    transfers: TransferDecoder,
    /// Strings of records gone out, emptied, for the next records' (at most
    /// [`MAX_SPARE_STRINGS`]).
    spare_strings: Vec<String>,
    /// Boxes of drafts gone out, for the next drafts held (at most
    /// [`MAX_SPARE_STRINGS`] too).
    /// Boxed: the boxes are what is reused (a held record is boxed).
    #[allow(clippy::vec_box)]
    spare_drafts: Vec<Box<Draft>>,
    /// The last line record's time and its text (see [`Self::line`]).
    line_time: (Option<Nanos>, String),
}

type Emit<'e> = dyn FnMut(&SiemEvent) -> io::Result<()> + 'e;

impl RecordBuilder {
    /// A builder making records with `opts`.
    pub fn new(opts: SiemOptions) -> Self {
        RecordBuilder {
            opts,
            conn: Arc::new(ConnInfo::default()),
            ongoing: Vec::new(),
            unclean: Vec::new(),
            chans: Vec::new(),
            index: HashMap::new(),
            held: HeldRecords::default(),
            waiting: HashMap::new(),
            waiting_times: BTreeSet::new(),
            clock: None,
            conn_state: ConnState::new(&ConnectionRef::default()),
            transfers: TransferDecoder::default(),
            spare_strings: Vec::new(),
            spare_drafts: Vec::new(),
            line_time: (None, String::new()),
        }
    }

    /// A connection begins: its records carry its metadata.
    pub fn connection_start(&mut self, conn: &ConnectionRef<'_>) {
        self.conn = Arc::new(ConnInfo::new(conn.id, conn.meta));
        let channels = |keep: &dyn Fn(&crate::connection::ProtocolFile) -> bool| -> Vec<String> {
            conn.meta
                .and_then(|m| m.trail.as_ref())
                .map(|t| {
                    t.channels
                        .iter()
                        .filter(|c| c.protocol_file.as_ref().is_some_and(keep))
                        .filter_map(|c| c.id.clone())
                        .collect()
                })
                .unwrap_or_default()
        };
        // Channels the metadata says are still open get no close record.
        self.ongoing =
            channels(&|p| p.status.as_deref() == Some("ONGOING") || p.closed == Some(false));
        // Channels the gateway saw close uncleanly: their log may stop short.
        self.unclean = channels(&|p| p.status.as_deref() == Some("UNCLEAN_CLOSE"));
        self.chans.clear();
        self.index.clear();
        self.clock = None;
        self.transfers = TransferDecoder::default();
        self.conn_state = ConnState::new(conn);
        if let Some((ts, text)) = self.conn_state.connected.clone() {
            self.connection_started(ts, &text);
        }
    }

    /// The connection's events are over: every record held goes out.
    pub fn connection_end(&mut self, emit: &mut Emit<'_>) -> io::Result<()> {
        let waiting: Vec<(usize, usize)> = self.waiting.keys().copied().collect();
        for key in waiting {
            if let Some(w) = self.waiting.remove(&key) {
                self.waiting_times.remove(&(w.request.ts, key.0, key.1));
                self.hold(w.chan, w.draft);
            }
        }
        self.connection_ended();
        while let Some(h) = self.held.pop() {
            self.emit(h, emit)?;
        }
        Ok(())
    }

    fn chan(&mut self, ch: &ChannelState) -> usize {
        if let Some(&i) = self.index.get(&ch.context) {
            return i;
        }
        let prefix = match &self.conn.connection_id {
            Some(c) => format!("{c}/{}", ch.context.channel_id),
            None => ch.context.channel_id.clone(),
        };
        self.chans.push(Chan {
            context: Arc::new(ch.context.clone()),
            prefix,
            kind: ch.kind.clone(),
            kind_settled: ch.kind_settled,
            started: None,
            started_text: String::new(),
            // The connection's global requests have no open to record.
            open_decided: ch.is_global(),
            open_ts: None,
            refused: false,
            open_forward: None,
            commands: CommandRecognizer::default(),
            exec: None,
            pty: None,
            sizes: VecDeque::new(),
            lines: Default::default(),
            command_count: 0,
            file_count: 0,
            exec_listed: false,
            last: None,
            ended: false,
            seq: 0,
        });
        self.index.insert(ch.context.clone(), self.chans.len() - 1);
        self.chans.len() - 1
    }

    /// Folds in one channel event; records that can no longer be preceded
    /// by another go to `emit`, in order.
    pub fn event(&mut self, ev: &ChannelEvent<'_>, emit: &mut Emit<'_>) -> io::Result<()> {
        let c = self.chan(ev.channel);
        {
            let chan = &mut self.chans[c];
            // In place: most events leave the type as it was.
            chan.kind.clone_from(&ev.channel.kind);
            chan.kind_settled = ev.channel.kind_settled;
            if chan.exec.is_none() && ev.channel.exec.is_some() {
                chan.exec = ev.channel.exec.clone();
            }
            if let ChannelEventKind::Request(r) = ev.kind {
                let size = match &r.kind {
                    RequestKind::Pty(p) => Some(PtyInfo {
                        term: p.term.clone(),
                        cols: p.cols,
                        rows: p.rows,
                    }),
                    RequestKind::WindowChange { cols, rows } => {
                        chan.pty.as_ref().map(|p| PtyInfo {
                            term: p.term.clone(),
                            cols: *cols,
                            rows: *rows,
                        })
                    }
                    _ => None,
                };
                if let Some(size) = size {
                    chan.sizes.push_back((r.ts, size.clone()));
                    if chan.sizes.len() > MAX_HELD {
                        chan.sizes.pop_front();
                    }
                    chan.pty = Some(size);
                }
            }
        }
        let ts = ev.kind.ts();
        match ev.kind {
            ChannelEventKind::Started { ts } => {
                let chan = &mut self.chans[c];
                chan.started = Some(ts);
                chan.started_text = ev
                    .channel
                    .started
                    .as_ref()
                    .map_or_else(|| format_rfc3339(ts), |s| s.text.clone());
                let text = chan.started_text.clone();
                self.conn_state.saw(ts, &text);
                self.connection_started(ts, &text);
            }
            ChannelEventKind::Logged { .. } => return Ok(()),
            ChannelEventKind::Request(r) => self.request(c, ev.channel, r),
            ChannelEventKind::Reply {
                request,
                outcome,
                bound_port,
                ..
            } => self.answered(c, request, outcome, bound_port),
            ChannelEventKind::Unanswered(r) => {
                self.answered(c, r, &Outcome::Pending, None);
            }
            ChannelEventKind::Data {
                stream,
                ts,
                offset,
                data,
                redacted,
                ..
            } => {
                if !self.chans[c].open_decided {
                    self.made_up_open(c);
                }
                if self.opts.io {
                    self.io(c, stream, (ts, offset), data, redacted);
                }
            }
            ChannelEventKind::Ended { .. } => {
                if !self.chans[c].open_decided {
                    self.made_up_open(c);
                }
                self.flush_lines(c);
            }
            ChannelEventKind::Undecoded { .. } => {}
        }
        // File operations and transfers, as this event completes them: their
        // records take its time (see `file_op`).
        self.transfers.event(ev)?;
        for found in self.transfers.take() {
            match found {
                Found::Op(op) => self.file_op(c, ev.channel, ts, op),
                Found::File(file) => self.file_transferred(c, ts, file),
                // `sshtrail files` reports them; no record.
                Found::Problem(_) => {}
            }
        }
        if self.opts.recognize_commands {
            self.chans[c].commands.event(ev);
            let found: Vec<Command> = self.chans[c].commands.take();
            // A line given up never ran: no process launch.
            for cmd in found
                .iter()
                .filter(|c| c.confidence != crate::replay::Confidence::Abandoned)
            {
                self.add_command(c, cmd);
            }
        }
        if let ChannelEventKind::Ended { .. } = ev.kind {
            let st = &mut self.conn_state;
            if let Some(end) = &ev.channel.ended {
                st.saw(end.ts, &end.text);
            }
            if !ev.channel.is_global() {
                st.channels += 1;
                for (sum, b) in st.bytes.iter_mut().zip(ev.channel.bytes) {
                    *sum += b;
                }
            }
            self.close(c, ev.channel);
            self.chans[c].ended = true;
            self.chans[c].last = None;
        } else {
            self.chans[c].last = Some(self.chans[c].last.map_or(ts, |l| l.max(ts)));
        }
        self.clock = Some(ts);
        self.flush(emit)
    }

    /// The open record made up from the channel's first event, when no open
    /// request of its own came first.
    fn made_up_open(&mut self, c: usize) {
        let chan = &mut self.chans[c];
        chan.open_decided = true;
        if chan.kind.as_deref() == Some(GLOBAL_KIND) {
            return;
        }
        let Some(ts) = chan.started else { return };
        chan.open_ts = Some(ts);
        let mut d = Draft::new(
            ts,
            &chan.started_text,
            format!("{}/open", chan.prefix),
            Action::ChannelOpen,
            " (its first event; the open request is not in the log)".into(),
        );
        d.labeled = Some("open ");
        d.rank = 0;
        d.class = Class::Open;
        self.hold(c, d);
    }

    fn request(&mut self, c: usize, ch: &ChannelState, r: &Request) {
        let prefix = self.chans[c].prefix.clone();
        let pty = ch.pty.as_ref().map(|p| PtyInfo {
            term: p.term.clone(),
            cols: p.cols,
            rows: p.rows,
        });
        let interactive = pty.is_some();
        let mut d = Draft::new(
            r.ts,
            &r.ts_text,
            format!("{prefix}/r{}", r.index),
            Action::RequestFailed,
            String::new(),
        );
        d.idx = r.index as u64;
        d.origin = Some(r.direction);
        d.request = Some(r.name.clone());
        let fwd = r.forward();
        // Whether the record shows only when the request fails.
        let mut only_if_failed = false;
        let own_open = r.scope == Scope::Open && ch.own_open == Some(r.index);
        match &r.kind {
            RequestKind::Open(open) if own_open => {
                let chan = &mut self.chans[c];
                chan.open_decided = true;
                chan.open_ts = Some(r.ts);
                chan.open_forward = fwd.clone();
                d.action = Action::ChannelOpen;
                d.local_id = format!("{prefix}/open");
                d.rank = 0;
                d.labeled = Some("open ");
                if let Some(f) = &fwd {
                    d.message = format!(": {}", forward_text(f));
                }
                d.forward = fwd;
                let _: &OpenKind = open;
            }
            RequestKind::Open(_) => match &fwd {
                Some(f) => {
                    d.action = forward_action(f.kind);
                    d.message = forward_text(f);
                    d.forward = fwd;
                }
                None => {
                    d.action = Action::ChannelOpen;
                    d.message = format!("open a {} channel", r.name);
                }
            },
            RequestKind::Pty(p) => {
                d.action = Action::Pty;
                d.message = format!("terminal {} {}x{}", p.term, p.cols, p.rows);
                d.terminal = interactive;
            }
            RequestKind::Shell => {
                d.action = Action::Shell;
                d.message = "shell".into();
                d.process = Some(ProcessInfo::channel(prefix.clone(), interactive));
                d.terminal = interactive;
            }
            RequestKind::Exec { command } => {
                d.action = Action::Exec;
                d.message = format!("exec: {command}");
                let p = process_of(prefix.clone(), command, interactive);
                if p.privileged {
                    d.severity = Severity::Low;
                }
                d.process = Some(p);
                d.terminal = interactive;
            }
            RequestKind::Subsystem { name } => {
                d.action = Action::Subsystem;
                d.message = format!("subsystem {name}");
                d.process = Some(ProcessInfo {
                    name: Some(name.clone()).filter(|n| !n.is_empty()),
                    ..ProcessInfo::channel(prefix.clone(), interactive)
                });
                d.subsystem = Some(name.clone());
            }
            RequestKind::Env { name, value } => {
                d.action = Action::Env;
                d.message = format!("env {name}={value}");
                d.env = Some((name.clone(), value.clone()));
            }
            RequestKind::Signal { name } => {
                d.action = Action::Signal;
                d.message = format!("signal {name}");
                d.signal = Some(SignalInfo {
                    name: name.clone(),
                    core_dumped: None,
                    message: None,
                });
            }
            RequestKind::ExitStatus { status } => {
                d.action = Action::ExitStatus;
                d.message = format!("exit status {status}");
                d.process = Some(ProcessInfo {
                    command_line: ch.exec.clone(),
                    exit_code: Some(*status),
                    ..ProcessInfo::channel(prefix.clone(), interactive)
                });
                d.outcome = if *status == 0 {
                    EventOutcome::Success
                } else {
                    EventOutcome::Failure
                };
                // The status is the outcome, whatever a reply says.
                self.hold(c, d);
                return;
            }
            RequestKind::ExitSignal(s) => {
                let mut text = format!("killed by signal {}", s.signal);
                if s.core_dumped {
                    text.push_str(" (core dumped)");
                }
                if !s.message.is_empty() {
                    text.push_str(&format!(": {}", s.message));
                }
                d.action = Action::ExitSignal;
                d.message = text;
                d.process = Some(ProcessInfo {
                    command_line: ch.exec.clone(),
                    ..ProcessInfo::channel(prefix.clone(), interactive)
                });
                d.signal = Some(SignalInfo {
                    name: s.signal.clone(),
                    core_dumped: Some(s.core_dumped),
                    message: Some(s.message.clone()).filter(|m| !m.is_empty()),
                });
                d.outcome = EventOutcome::Failure;
                d.severity = Severity::Low;
                self.hold(c, d);
                return;
            }
            RequestKind::TcpipForward { .. }
            | RequestKind::CancelTcpipForward { .. }
            | RequestKind::StreamlocalForward
            | RequestKind::CancelStreamlocalForward
            | RequestKind::X11 { .. }
            | RequestKind::AuthAgent => {
                let f = fwd.unwrap_or_else(|| unreachable_forward(r));
                d.action = forward_action(f.kind);
                d.message = forward_text(&f);
                d.forward = Some(f);
            }
            RequestKind::WindowChange { .. }
            | RequestKind::XonXoff { .. }
            | RequestKind::Break { .. }
            | RequestKind::Eow
            | RequestKind::Keepalive
            | RequestKind::NoMoreSessions
            | RequestKind::HostKeys { .. }
            | RequestKind::Other => {
                // Keepalives fail by design (OpenSSH servers refuse them).
                if r.name.starts_with("keepalive@") {
                    return;
                }
                d.action = Action::RequestFailed;
                d.message = format!("request {}", r.name);
                only_if_failed = true;
            }
        }
        if r.want_reply {
            let key = (c, r.index);
            self.waiting_times.insert((r.ts, c, r.index));
            self.waiting.insert(
                key,
                Waiting {
                    draft: d,
                    request: r.clone(),
                    chan: c,
                },
            );
            return;
        }
        if only_if_failed {
            return;
        }
        self.answer(c, d, &Outcome::NoReplyWanted);
    }

    /// A request was answered (or given up as unanswered).
    fn answered(&mut self, c: usize, r: &Request, outcome: &Outcome, bound_port: Option<u32>) {
        let Some(mut w) = self.waiting.remove(&(c, r.index)) else {
            return;
        };
        self.waiting_times.remove(&(r.ts, c, r.index));
        if let Some(f) = &mut w.draft.forward {
            f.answered(outcome, bound_port);
            if w.draft.action == Action::TcpipForward || w.draft.rank == 0 {
                // The message names the port the server bound.
                let text = forward_text(f);
                w.draft.message = if w.draft.rank == 0 {
                    format!(": {text}")
                } else {
                    text
                };
            }
        }
        if w.draft.rank == 0 {
            let chan = &mut self.chans[c];
            if let Some(f) = &mut chan.open_forward {
                f.answered(outcome, bound_port);
            }
        }
        if w.draft.action == Action::RequestFailed && !matches!(outcome, Outcome::Failure(_)) {
            return;
        }
        self.answer(c, w.draft, outcome);
    }

    fn answer(&mut self, c: usize, mut d: Draft, outcome: &Outcome) {
        d.outcome(outcome);
        if d.rank == 0 && d.outcome == EventOutcome::Failure {
            self.chans[c].refused = true;
        }
        self.hold(c, d);
    }

    /// Adds the record of a command typed in the channel `ch`, known from
    /// elsewhere than this builder's own recovery (a shell's history, say);
    /// it goes out in time order with the channel's other records.
    pub fn command(&mut self, ch: &ChannelState, command: &Command) {
        let c = self.chan(ch);
        self.add_command(c, command);
    }

    fn add_command(&mut self, c: usize, cmd: &Command) {
        let chan = &mut self.chans[c];
        chan.command_count += 1;
        let n = chan.command_count;
        let id = format!("{}/cmd-{n}", chan.prefix);
        let mut d = Draft::new(
            cmd.ts,
            format_rfc3339(cmd.ts),
            id.clone(),
            Action::Command,
            format!("command: {}", cmd.command),
        );
        d.class = Class::Command;
        d.idx = n;
        let mut p = process_of(id, &cmd.command, true);
        p.confidence = Some(cmd.confidence);
        if p.privileged {
            d.severity = Severity::Low;
        }
        d.process = Some(p);
        // The terminal in force is filled in when the record goes out.
        self.hold(c, d);
    }

    /// A data chunk: the lines it ends become records (see [`super::lines`]).
    fn io(&mut self, c: usize, stream: Stream, at: (Nanos, u64), data: &[u8], redacted: bool) {
        // Out of its channel while it lends its lines to `line`.
        let mut lines = std::mem::take(&mut self.chans[c].lines[stream as usize]);
        let max = self.opts.io_max_bytes;
        lines.push(at, data, redacted, max, &mut |l| self.line(c, stream, l));
        self.chans[c].lines[stream as usize] = lines;
    }

    /// The channel ended: the lines still open become records.
    fn flush_lines(&mut self, c: usize) {
        for stream in Stream::ALL {
            let mut lines = std::mem::take(&mut self.chans[c].lines[stream as usize]);
            lines.flush(&mut |l| self.line(c, stream, l));
            self.chans[c].lines[stream as usize] = lines;
        }
    }

    /// An empty string, with room from a record gone out when there is one.
    fn spare_string(&mut self) -> String {
        self.spare_strings.pop().unwrap_or_default()
    }

    /// Keeps the strings of a record gone out for the next records (a few
    /// a record, each allocated and freed, were a tenth of `--io`'s work).
    fn recycle(&mut self, record: SiemEvent) {
        let io_text = record.io.map(|io| io.text);
        let term = record.pty.map(|p| p.term);
        let strings = [record.ts_text, record.id, record.message]
            .into_iter()
            .chain(record.channel_id)
            .chain(record.channel_type)
            .chain(io_text)
            .chain(term);
        for mut s in strings {
            if self.spare_strings.len() >= MAX_SPARE_STRINGS || s.capacity() > MAX_SPARE_CAPACITY {
                continue;
            }
            s.clear();
            self.spare_strings.push(s);
        }
    }

    /// The record of a file operation, at `ts`: when the event that
    /// completed it (its response, the channel's end) came. Records wait
    /// for nothing else, so a time the log has already passed could not be
    /// kept in order; the request's time is `started`.
    fn file_op(&mut self, c: usize, ch: &ChannelState, ts: Nanos, op: FileOp) {
        let download = op.protocol == Protocol::Scp
            && ch
                .exec
                .as_deref()
                .and_then(ScpCommand::parse)
                .is_some_and(|s| s.direction == TransferDirection::Download);
        let (action, file_type) = file_action(op.protocol, &op.op, &op.detail, download);
        // The path the record is about, and the other one named.
        let mut paths = op.paths.into_iter();
        let (first, second) = (paths.next(), paths.next());
        let (path, target) = match (op.op.as_str(), second) {
            // OpenSSH sends the link's target first, then the link made; a
            // hard link names the existing file first: the record is about
            // the path made.
            ("symlink" | "hardlink@openssh.com", Some(made)) => (Some(made), first),
            (_, second) => (first, second),
        };
        let (outcome, code, reason) = match op.status {
            OpStatus::Ok => (EventOutcome::Success, None, None),
            OpStatus::Failed { code, message } => (EventOutcome::Failure, code, Some(message)),
            OpStatus::NoResponse => (
                EventOutcome::Unknown,
                None,
                Some("no response came before the channel ended".to_string()),
            ),
        };
        let mut message = format!("{} {}", op.protocol.name(), op.op);
        for p in path.iter().chain(target.iter()) {
            message.push_str(&format!(" {p}"));
        }
        if !op.detail.is_empty() {
            message.push_str(&format!(" ({})", op.detail));
        }
        let info = FileInfo {
            protocol: op.protocol,
            op: op.op,
            path,
            target,
            file_type,
            mode: mode_in(op.protocol, &op.detail),
            detail: op.detail,
            code,
            size: None,
            sha256: None,
            complete: None,
            started: op.ts,
            ended: ts,
        };
        self.file_record(c, ts, Action::File(action), info, outcome, reason, message);
    }

    /// The record of a transferred file, at `ts` (when the event that ended
    /// it came).
    fn file_transferred(&mut self, c: usize, ts: Nanos, f: RecoveredFile) {
        let (action, op) = match f.direction {
            TransferDirection::Upload => (FileAction::Upload, "upload"),
            TransferDirection::Download => (FileAction::Download, "download"),
        };
        let sha256 = f.sha256_hex();
        let mut message = format!("{} {op} {}: {} bytes", f.protocol.name(), f.path, f.size);
        if let Some(h) = &sha256 {
            message.push_str(&format!(", sha256 {h}"));
        }
        let (outcome, reason) = if f.complete {
            (EventOutcome::Success, None)
        } else {
            let why = f
                .why_incomplete
                .clone()
                .unwrap_or_else(|| "incomplete".to_string());
            message.push_str(&format!("; incomplete: {why}"));
            (EventOutcome::Unknown, Some(why))
        };
        let info = FileInfo {
            protocol: f.protocol,
            op: op.to_string(),
            path: Some(f.path.clone()),
            target: None,
            file_type: FileType::File,
            detail: String::new(),
            code: None,
            size: Some(f.size),
            sha256,
            mode: f.mode,
            complete: Some(f.complete),
            started: f.started,
            ended: f.ended,
        };
        self.file_record(c, ts, Action::File(action), info, outcome, reason, message);
    }

    #[allow(clippy::too_many_arguments)]
    fn file_record(
        &mut self,
        c: usize,
        ts: Nanos,
        action: Action,
        info: FileInfo,
        outcome: EventOutcome,
        reason: Option<String>,
        mut message: String,
    ) {
        let chan = &mut self.chans[c];
        chan.file_count += 1;
        let n = chan.file_count;
        match (&outcome, &reason) {
            (EventOutcome::Failure, Some(r)) => message.push_str(&format!(": failed: {r}")),
            (EventOutcome::Unknown, Some(r)) if info.complete.is_none() => {
                message.push_str(&format!(": {r}"))
            }
            _ => {}
        }
        let mut d = Draft::new(
            ts,
            format_rfc3339(ts),
            format!("{}/file-{n}", chan.prefix),
            action,
            message,
        );
        d.class = Class::File;
        d.idx = n;
        d.outcome = outcome;
        if outcome == EventOutcome::Failure {
            d.severity = Severity::Low;
        }
        d.reason = reason;
        d.file = Some(info);
        self.hold(c, d);
    }

    /// The record of a line of `stream`.
    fn line(&mut self, c: usize, stream: Stream, line: Line<'_>) {
        let action = match stream {
            Stream::Stdin => Action::Input,
            Stream::Stdout => Action::Output,
            Stream::Stderr => Action::ErrorOutput,
        };
        let kept = cut_at_char_boundary(line.kept, self.opts.io_max_bytes);
        let mut text = self.spare_string();
        text.push_str(&String::from_utf8_lossy(&line.kept[..kept]));
        let io = IoChunk {
            stream,
            offset: line.offset,
            len: (line.text_len + line.end_len) as usize,
            kept,
            text,
            truncated: (kept as u64) < line.text_len,
            line_end: line.end_len > 0,
            redacted: line.redacted,
        };
        // Written into spare strings: `format!` made each anew.
        let (mut ts_text, mut id, mut message) = (
            self.spare_string(),
            self.spare_string(),
            self.spare_string(),
        );
        // The lines of one chunk of data share their time: written once.
        if self.line_time.0 != Some(line.ts) {
            self.line_time.1.clear();
            crate::time::write_rfc3339(line.ts, &mut self.line_time.1);
            self.line_time.0 = Some(line.ts);
        }
        ts_text.push_str(&self.line_time.1);
        let chan = &self.chans[c];
        // Pieces pushed one by one: `write!` took a tenth of the time of
        // making a line's record.
        id.push_str(&chan.prefix);
        id.push('/');
        id.push_str(stream.name());
        id.push('@');
        push_decimal(&mut id, line.offset);
        message.push_str(stream.name());
        message.push_str(" line of ");
        push_decimal(&mut message, io.len as u64);
        message.push_str(" bytes at offset ");
        push_decimal(&mut message, io.offset);
        if io.truncated {
            message.push_str(" (truncated)");
        }
        if !io.line_end {
            message.push_str(" (no line end)");
        }
        let mut d = Draft::new(line.ts, ts_text, id, action, message);
        d.class = match stream {
            Stream::Stdin => Class::Stdin,
            Stream::Stdout => Class::Stdout,
            Stream::Stderr => Class::Stderr,
        };
        d.idx = line.offset;
        d.io = Some(io);
        // The size in force at the line's time is filled in when it goes out.
        d.terminal = chan.pty.is_some();
        self.hold(c, d);
    }

    /// The close record, unless the open was refused or the metadata says
    /// the channel is still open.
    fn close(&mut self, c: usize, ch: &ChannelState) {
        let chan = &self.chans[c];
        let ongoing = self.ongoing.contains(&ch.context.channel_id);
        let Some(end) = &ch.ended else { return };
        if chan.refused || ongoing || ch.is_global() {
            return;
        }
        let integrity = ch.integrity.clone().unwrap_or_default();
        let summary = SessionSummary {
            started: chan.open_ts.or(chan.started).unwrap_or(end.ts),
            ended: end.ts,
            bytes: ch.bytes,
            integrity_ok: integrity.ok,
            integrity_verdict: integrity.verdict,
            problems: integrity.problems,
        };
        let mut d = Draft::new(
            end.ts,
            &end.text,
            format!("{}/close", chan.prefix),
            Action::ChannelClose,
            format!(
                " closed after {}: {} bytes client to server, {} bytes server to client",
                human_duration(summary.duration()),
                summary.bytes_client_to_server(),
                summary.bytes_server_to_client()
            ),
        );
        d.labeled = Some("");
        d.rank = 2;
        d.class = Class::Close;
        d.outcome = EventOutcome::Success;
        // A log that stops before the channel ended is no clean close.
        let mut cut = Vec::new();
        if ch.log_warnings > 0 {
            cut.push("the log's last line is cut off".to_string());
        }
        if self.unclean.contains(&ch.context.channel_id) {
            cut.push("the gateway saw the channel close uncleanly (UNCLEAN_CLOSE)".to_string());
        }
        let session = ch.shell || ch.exec.is_some() || ch.subsystem.is_some();
        if session && ch.exit_status.is_none() && ch.exit_signal.is_none() {
            cut.push(
                "no exit status or signal: the log stops before the remote process ended".into(),
            );
        }
        if !cut.is_empty() {
            let why = cut.join("; ");
            d.outcome = EventOutcome::Failure;
            d.severity = Severity::Low;
            d.message.push_str(&format!("; cut off: {why}"));
            d.reason = Some(why);
        }
        if summary.integrity_verdict == Verdict::Mismatch {
            d.severity = Severity::Medium;
            d.message
                .push_str(&format!("; integrity: {}", summary.problems.join("; ")));
        }
        d.forward = chan.open_forward.clone();
        d.session = Some(summary);
        self.hold(c, d);
    }

    fn hold(&mut self, c: usize, draft: Draft) {
        // In a box of a record gone out when there is one.
        let boxed = match self.spare_drafts.pop() {
            Some(mut boxed) => {
                *boxed = draft;
                boxed
            }
            None => Box::new(draft),
        };
        self.held
            .push(Held::new(Some(self.chans[c].context.clone()), boxed));
    }

    /// The earliest time a record still to be made can have.
    fn watermark(&self) -> Option<Nanos> {
        let mut w = self.clock?;
        if let Some((t, _, _)) = self.waiting_times.first() {
            w = w.min(*t);
        }
        for chan in &self.chans {
            if chan.ended {
                continue;
            }
            if !(chan.kind_settled && chan.open_decided) {
                if let Some(s) = chan.started {
                    w = w.min(s);
                }
            }
            if let Some(t) = chan.commands.waiting_since() {
                w = w.min(t);
            }
            for line in &chan.lines {
                if let Some(t) = line.since() {
                    w = w.min(t);
                }
            }
            if let Some(l) = chan.last {
                w = w.min(l);
            }
        }
        Some(w)
    }

    fn flush(&mut self, emit: &mut Emit<'_>) -> io::Result<()> {
        loop {
            let Some(w) = self.watermark() else {
                return Ok(());
            };
            while self.held.peek().is_some_and(|top| top.draft.ts < w) {
                if let Some(h) = self.held.pop() {
                    self.emit(h, emit)?;
                }
            }
            let held = self.held.peek().map_or(w, |top| top.draft.ts.min(w));
            for chan in &mut self.chans {
                chan.forget_sizes(held);
            }
            if self.held.len() <= MAX_HELD && self.waiting.len() <= MAX_HELD {
                return Ok(());
            }
            // Too much waits. A request still waiting for its reply goes out
            // without it first (it is the oldest thing in the way, and a
            // request answered this late is hardly ever answered), then the
            // earliest record, whatever may still come before it.
            let oldest_waiting = self.waiting_times.first().copied();
            let top = self.held.peek().map(|h| h.draft.ts);
            match (oldest_waiting, top) {
                (Some((ts, c, i)), Some(t)) if ts <= t || self.waiting.len() > MAX_HELD => {
                    self.give_up(ts, c, i)
                }
                (Some((ts, c, i)), None) => self.give_up(ts, c, i),
                _ => {
                    if let Some(h) = self.held.pop() {
                        self.emit(h, emit)?;
                    }
                }
            }
        }
    }

    /// A request waits no longer for its reply: its record goes out with
    /// the outcome unknown (a failure-only record, not at all).
    fn give_up(&mut self, ts: Nanos, c: usize, i: usize) {
        self.waiting_times.remove(&(ts, c, i));
        if let Some(w) = self.waiting.remove(&(c, i)) {
            if w.draft.action != Action::RequestFailed {
                self.answer(c, w.draft, &Outcome::Pending);
            }
        }
    }

    fn emit(&mut self, h: Held, emit: &mut Emit<'_>) -> io::Result<()> {
        let Some(channel) = h.channel else {
            return self.emit_connection(*h.draft, emit);
        };
        let Some(&c) = self.index.get(&*channel) else {
            return Ok(());
        };
        let mut boxed = h.draft;
        let d = &mut *boxed;
        let chan = &mut self.chans[c];
        // The first command that is the exec command has its exec record.
        if d.action == Action::Command
            && !chan.exec_listed
            && chan.exec.is_some()
            && d.process.as_ref().and_then(|p| p.command_line.as_ref()) == chan.exec.as_ref()
        {
            chan.exec_listed = true;
            if self.spare_drafts.len() < MAX_SPARE_STRINGS {
                self.spare_drafts.push(boxed);
            }
            return Ok(());
        }
        if let Some(before) = d.labeled {
            let label = match &chan.kind {
                Some(k) => format!("channel {} ({k})", chan.context.channel_id),
                None => format!("channel {}", chan.context.channel_id),
            };
            d.message = format!("{before}{label}{}", d.message);
        }
        let record_terminal = d.terminal || d.action == Action::Command;
        let seq = chan.seq;
        chan.seq += 1;
        let mut record = d.take_event(seq, &self.conn, self.opts.product_version);
        // The box, emptied, for the next draft held.
        if self.spare_drafts.len() < MAX_SPARE_STRINGS {
            self.spare_drafts.push(boxed);
        }
        let chan = &self.chans[c];
        // The channel's fields, copied into spare strings.
        let mut channel_id = self.spare_strings.pop().unwrap_or_default();
        channel_id.push_str(&chan.context.channel_id);
        record.channel_id = Some(channel_id);
        if let Some(kind) = &chan.kind {
            let mut channel_type = self.spare_strings.pop().unwrap_or_default();
            channel_type.push_str(kind);
            record.channel_type = Some(channel_type);
        }
        // The terminal's size in force at the record's time.
        if record_terminal {
            if let Some(p) = chan.size_at(record.ts) {
                let mut term = self.spare_strings.pop().unwrap_or_default();
                term.push_str(&p.term);
                record.pty = Some(PtyInfo {
                    term,
                    cols: p.cols,
                    rows: p.rows,
                });
            }
        }
        let sent = emit(&record);
        self.recycle(record);
        sent
    }
}

/// Which records of the connection itself a replay makes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ConnRecords {
    /// The whole connection: from the metadata, else from the logs.
    Whole,
    /// The first of its logs replayed alone (a batch): from the metadata
    /// only, so that the records are the same as for the whole.
    MetadataOnly,
    /// Another of its logs replayed alone: none (the first log's replay
    /// makes them).
    None,
}

/// What the connection's own records are made of, gathered as it goes.
#[derive(Debug)]
struct ConnState {
    records: ConnRecords,
    /// `connected` from the metadata, parsed, with its text.
    connected: Option<(Nanos, String)>,
    /// `disconnected` from the metadata.
    disconnected: Option<(Nanos, String)>,
    status: Option<String>,
    /// The metadata's byte counts summed over its channels, when every
    /// channel has them.
    meta_bytes: Option<(u64, u64)>,
    /// The channels the metadata lists (the global requests not counted).
    meta_channels: Option<u64>,
    /// Whether the start record was made.
    started: bool,
    /// The first and last event times, with their text.
    first: Option<(Nanos, String)>,
    last: Option<(Nanos, String)>,
    /// Bytes of the channels that ended (stdin, stdout, stderr).
    bytes: [u64; 3],
    /// Channels that ended (the global requests not counted).
    channels: u64,
    /// Records made of the connection itself.
    seq: u64,
}

impl ConnState {
    fn new(conn: &ConnectionRef<'_>) -> ConnState {
        let records = match (conn.part, conn.meta) {
            (None, _) => ConnRecords::Whole,
            (Some(p), Some(_)) if p.index == 0 => ConnRecords::MetadataOnly,
            (Some(_), _) => ConnRecords::None,
        };
        let time = |t: Option<&String>| {
            let t = t?;
            let ts = crate::time::parse_rfc3339(t.as_bytes(), true).ok()?;
            Some((ts, t.clone()))
        };
        let meta = conn.meta;
        let listed: Vec<&crate::connection::TrailChannel> = meta
            .and_then(|m| m.trail.as_ref())
            .map(|t| {
                t.channels
                    .iter()
                    .filter(|c| c.kind.as_deref() != Some(GLOBAL_KIND))
                    .collect()
            })
            .unwrap_or_default();
        let all_channels = meta
            .and_then(|m| m.trail.as_ref())
            .map(|t| t.channels.as_slice())
            .unwrap_or_default();
        let sum = |f: fn(&crate::connection::TrailChannel) -> Option<u64>| {
            if all_channels.is_empty() {
                return None;
            }
            all_channels.iter().map(f).sum::<Option<u64>>()
        };
        let meta_bytes = match (
            sum(|c| c.bytes_client_to_server),
            sum(|c| c.bytes_server_to_client),
        ) {
            (Some(a), Some(b)) => Some((a, b)),
            _ => None,
        };
        ConnState {
            records,
            connected: time(meta.and_then(|m| m.connected.as_ref())),
            disconnected: time(meta.and_then(|m| m.disconnected.as_ref())),
            status: meta.and_then(|m| m.status.clone()),
            meta_bytes,
            meta_channels: meta
                .and_then(|m| m.trail.as_ref())
                .map(|_| listed.len() as u64),
            started: false,
            first: None,
            last: None,
            bytes: [0; 3],
            channels: 0,
            seq: 0,
        }
    }

    /// Notes an event of the connection, at `ts` written `text`.
    fn saw(&mut self, ts: Nanos, text: &str) {
        if self.first.as_ref().is_none_or(|(f, _)| ts < *f) {
            self.first = Some((ts, text.to_string()));
        }
        if self.last.as_ref().is_none_or(|(l, _)| ts > *l) {
            self.last = Some((ts, text.to_string()));
        }
    }
}

/// The parts that are known, joined by spaces, for messages.
fn known(parts: &[Option<String>]) -> String {
    parts
        .iter()
        .flatten()
        .cloned()
        .collect::<Vec<_>>()
        .join(" ")
}

impl RecordBuilder {
    /// The connection's start record, at `ts` (written `text`), once.
    fn connection_started(&mut self, ts: Nanos, text: &str) {
        let st = &mut self.conn_state;
        // Of one log replayed alone, only the metadata's time is the
        // connection's.
        let times_from_logs = st.records == ConnRecords::Whole;
        if st.started
            || st.records == ConnRecords::None
            || (!times_from_logs && st.connected.is_none())
        {
            return;
        }
        st.started = true;
        let c = &self.conn;
        let who = c.user.as_ref().map(|u| format!("of {u}"));
        let from = c.remote_address.as_ref().map(|a| format!("from {a}"));
        let to = match (&c.account, &c.host, &c.host_address) {
            (None, None, None) => None,
            (account, host, address) => {
                let mut s = String::from("to ");
                if let Some(a) = account {
                    s.push_str(&format!("{a}@"));
                }
                s.push_str(host.as_deref().or(address.as_deref()).unwrap_or("?"));
                if let (Some(_), Some(a)) = (host, address) {
                    s.push_str(&format!(" ({a})"));
                }
                Some(s)
            }
        };
        let auth = (!c.authentication_method.is_empty())
            .then(|| format!("authenticated by {}", c.authentication_method.join("+")));
        let mut message = known(&[Some("connection".into()), who, from, to, auth]);
        if !c.has_metadata {
            message.push_str(" (no metadata: its first event)");
        }
        let prefix = self.conn_prefix();
        let mut d = Draft::new(
            ts,
            text,
            format!("{prefix}connection-start"),
            Action::ConnectionStart,
            message,
        );
        d.outcome = EventOutcome::Success;
        d.connection = Some(ConnectionFacts {
            started: ts,
            ended: None,
            bytes_client_to_server: None,
            bytes_server_to_client: None,
            status: None,
            channels: None,
        });
        self.held.push(Held::new(None, Box::new(d)));
    }

    /// The connection's end record, once its events are over.
    fn connection_ended(&mut self) {
        let st = &self.conn_state;
        if st.records == ConnRecords::None {
            return;
        }
        let whole = st.records == ConnRecords::Whole;
        let from_logs = |t: &Option<(Nanos, String)>| if whole { t.clone() } else { None };
        let start = st.connected.clone().or_else(|| from_logs(&st.first));
        let Some(end) = st.disconnected.clone().or_else(|| from_logs(&st.last)) else {
            return;
        };
        if let Some((ts, text)) = &start {
            self.connection_started(*ts, text);
        }
        let st = &self.conn_state;
        let (c2s, s2c) = match (st.meta_bytes, whole) {
            (Some((a, b)), _) => (Some(a), Some(b)),
            (None, true) => (Some(st.bytes[0]), Some(st.bytes[1] + st.bytes[2])),
            (None, false) => (None, None),
        };
        let channels = if whole {
            Some(st.channels)
        } else {
            st.meta_channels
        };
        let facts = ConnectionFacts {
            started: start.map_or(end.0, |s| s.0),
            ended: Some(end.0),
            bytes_client_to_server: c2s,
            bytes_server_to_client: s2c,
            status: st.status.clone(),
            channels,
        };
        let mut message = format!(
            "connection ended after {}",
            human_duration(facts.duration().unwrap_or(0))
        );
        if let (Some(a), Some(b)) = (c2s, s2c) {
            message.push_str(&format!(
                ": {a} bytes client to server, {b} bytes server to client"
            ));
        }
        if let Some(n) = channels {
            message.push_str(&format!(", {n} channel(s)"));
        }
        if let Some(s) = &facts.status {
            message.push_str(&format!(", status {s}"));
        }
        let prefix = self.conn_prefix();
        let mut d = Draft::new(
            end.0,
            &end.1,
            format!("{prefix}connection-end"),
            Action::ConnectionEnd,
            message,
        );
        d.outcome = EventOutcome::Success;
        d.connection = Some(facts);
        self.held.push(Held::new(None, Box::new(d)));
    }

    /// `<connection>/`, or nothing without a connection id.
    fn conn_prefix(&self) -> String {
        self.conn
            .connection_id
            .as_ref()
            .map_or_else(String::new, |c| format!("{c}/"))
    }

    fn emit_connection(&mut self, d: Draft, emit: &mut Emit<'_>) -> io::Result<()> {
        let seq = self.conn_state.seq;
        self.conn_state.seq += 1;
        let record = d.into_event(seq, &self.conn, self.opts.product_version);
        emit(&record)
    }
}

/// The activity of a file operation and what its path names. `download`:
/// the channel is an `scp -f` (the server sends).
fn file_action(
    protocol: Protocol,
    op: &str,
    detail: &str,
    download: bool,
) -> (FileAction, FileType) {
    use FileAction as A;
    use FileType as T;
    if protocol == Protocol::Scp {
        return match (op, download) {
            ("file", false) => (A::Create, T::File),
            ("file", true) => (A::Open, T::File),
            ("dir", false) => (A::Create, T::Folder),
            ("dir", true) => (A::Open, T::Folder),
            ("end-dir", _) => (A::Other, T::Folder),
            ("times", false) => (A::SetAttributes, T::Unknown),
            ("times", true) => (A::GetAttributes, T::Unknown),
            _ => (A::Other, T::Unknown),
        };
    }
    match op {
        "open" => {
            let flags = detail.split(' ').next().unwrap_or("");
            if flags.split('|').any(|f| f == "CREAT") {
                (A::Create, T::File)
            } else {
                (A::Open, T::File)
            }
        }
        "opendir" => (A::Open, T::Folder),
        "readdir" => (A::Read, T::Folder),
        "read" => (A::Read, T::File),
        "write" => (A::Write, T::File),
        "copy-data" => (A::Write, T::File),
        "mkdir" => (A::Create, T::Folder),
        "symlink" => (A::Create, T::Symlink),
        "hardlink@openssh.com" => (A::Create, T::File),
        "remove" => (A::Delete, T::File),
        "rmdir" => (A::Delete, T::Folder),
        "rename" | "posix-rename@openssh.com" => (A::Rename, T::Unknown),
        "setstat" | "fsetstat" | "lsetstat@openssh.com" => (A::SetAttributes, T::Unknown),
        "stat" | "lstat" | "fstat" | "realpath" | "readlink" | "expand-path@openssh.com" => {
            (A::GetAttributes, T::Unknown)
        }
        _ => (A::Other, T::Unknown),
    }
}

/// The permission bits an operation's detail names: SFTP attributes'
/// `mode=0644` (not in a name a response gave, `-> NAME`), SCP's
/// `mode 0644`.
fn mode_in(protocol: Protocol, detail: &str) -> Option<u32> {
    let octal = |w: &str| {
        (!w.is_empty() && w.len() <= 6 && w.bytes().all(|b| (b'0'..=b'7').contains(&b)))
            .then(|| u32::from_str_radix(w, 8).ok())
            .flatten()
    };
    let mut words = detail.split(' ');
    match protocol {
        Protocol::Scp => {
            words.find(|w| *w == "mode")?;
            octal(words.next()?)
        }
        _ if detail.starts_with("->") => None,
        _ => words.find_map(|w| w.strip_prefix("mode=").and_then(octal)),
    }
}

/// A forward request's forward: [`Request::forward`] gives one for every
/// forward kind, so this is never used; it keeps the record's shape.
fn unreachable_forward(r: &Request) -> Forward {
    Forward {
        kind: ForwardKind::TcpipForward,
        ts_text: r.ts_text.clone(),
        direction: r.direction,
        address: None,
        port: None,
        originator: None,
        originator_port: None,
        socket_path: None,
        outcome: Outcome::Pending,
    }
}

/// Commands of a channel known from elsewhere: see [`RecordSink::with_commands`].
type CommandSource<'f> = Box<dyn FnMut(&ChannelState) -> Vec<Command> + 'f>;

/// A [`RecordBuilder`] as a [`ChannelSink`]: every record, in order, goes
/// to a closure.
///
/// ```
/// use sshtrail::archive::Archive;
/// use sshtrail::siem::{Action, RecordSink, SiemOptions};
///
/// let log = b"2023-06-07T17:32:29Z stdin 6c730a\n2023-06-07T17:32:30Z stdout 6869\n";
/// let mut records = Vec::new();
/// let mut sink = RecordSink::new(SiemOptions::default(), |r| {
///     records.push(r.clone());
///     Ok(())
/// });
/// Archive::from_bytes("0.hex", log).replay(&mut sink, &mut |_| {}).unwrap();
/// drop(sink);
/// assert_eq!(records[0].action, Action::ConnectionStart);
/// assert_eq!(records[1].action, Action::ChannelOpen);
/// assert_eq!(records.last().unwrap().action, Action::ConnectionEnd);
/// ```
pub struct RecordSink<'f> {
    builder: RecordBuilder,
    emit: Box<Emit<'f>>,
    commands: Option<CommandSource<'f>>,
}

impl<'f> RecordSink<'f> {
    /// Records made with `opts`, handed to `emit`.
    pub fn new(opts: SiemOptions, emit: impl FnMut(&SiemEvent) -> io::Result<()> + 'f) -> Self {
        RecordSink {
            builder: RecordBuilder::new(opts),
            emit: Box::new(emit),
            commands: None,
        }
    }

    /// Also the commands `commands` gives for each channel when it starts
    /// (see [`RecordBuilder::command`]).
    pub fn with_commands(
        mut self,
        commands: impl FnMut(&ChannelState) -> Vec<Command> + 'f,
    ) -> Self {
        self.commands = Some(Box::new(commands));
        self
    }
}

impl ChannelSink for RecordSink<'_> {
    fn connection_start(&mut self, conn: &ConnectionRef<'_>) -> io::Result<()> {
        self.builder.connection_start(conn);
        Ok(())
    }

    fn event(&mut self, ev: &ChannelEvent<'_>) -> io::Result<()> {
        if let (ChannelEventKind::Started { .. }, Some(commands)) = (ev.kind, &mut self.commands) {
            for c in commands(ev.channel) {
                self.builder.command(ev.channel, &c);
            }
        }
        self.builder.event(ev, &mut *self.emit)
    }

    fn connection_end(&mut self, _conn: &ConnectionRef<'_>) -> io::Result<()> {
        self.builder.connection_end(&mut *self.emit)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decimals_are_those_of_format() {
        for n in [0, 1, 9, 10, 99, 100, 4096, 1 << 40, u64::MAX] {
            let mut s = String::from("x");
            push_decimal(&mut s, n);
            assert_eq!(s, format!("x{n}"));
        }
    }

    /// Held records come out in key order whatever order they went in, as
    /// from a heap alone: in order, reversed, interleaved, with pops
    /// between pushes.
    #[test]
    fn held_records_come_out_in_key_order() {
        let chans: Vec<Option<Arc<Context>>> = vec![
            None,
            Some(Arc::new(Context::channel("0"))),
            Some(Arc::new(Context::channel("1"))),
        ];
        let held = |n: u64| {
            // Times repeat: the channel, class and position decide.
            let mut d = Draft::new(
                (n % 7) as Nanos,
                String::new(),
                n.to_string(),
                Action::Output,
                String::new(),
            );
            d.class = if n.is_multiple_of(2) {
                Class::Stdout
            } else {
                Class::Stdin
            };
            d.idx = n;
            Held::new(chans[(n % 3) as usize].clone(), Box::new(d))
        };
        let orders: Vec<Vec<u64>> = vec![
            (0..200).collect(),
            (0..200).rev().collect(),
            (0..200).map(|i| (i * 37) % 200).collect(),
            (0..200u64)
                .map(|i| if i.is_multiple_of(5) { 200 - i } else { i })
                .collect(),
        ];
        for order in orders {
            let (mut ours, mut heap) = (HeldRecords::default(), BinaryHeap::new());
            let (mut a, mut b) = (Vec::new(), Vec::new());
            for (i, &n) in order.iter().enumerate() {
                ours.push(held(n));
                heap.push(held(n));
                assert_eq!(ours.len(), heap.len());
                if i.is_multiple_of(3) {
                    assert_eq!(
                        ours.peek().map(|h| h.draft.local_id.clone()),
                        heap.peek().map(|h| h.draft.local_id.clone())
                    );
                    a.extend(ours.pop().map(|h| h.draft.local_id));
                    b.extend(heap.pop().map(|h| h.draft.local_id));
                }
            }
            a.extend(std::iter::from_fn(|| ours.pop()).map(|h| h.draft.local_id));
            b.extend(std::iter::from_fn(|| heap.pop()).map(|h| h.draft.local_id));
            assert_eq!(a, b);
            assert_eq!(ours.len(), 0);
        }
    }

    #[test]
    fn words_and_programs() {
        let p = process_of("x".into(), "LC_ALL=C /usr/bin/sudo -u postgres psql", true);
        assert_eq!(p.name.as_deref(), Some("sudo"));
        assert!(p.privileged);
        assert!(!process_of("x".into(), "sudoku", true).privileged);
        assert_eq!(process_of("x".into(), "", false).name, None);
    }

    #[test]
    fn file_activities() {
        let sftp = |op, detail| file_action(Protocol::Sftp, op, detail, false);
        assert_eq!(
            sftp("open", "WRITE|CREAT|TRUNC mode=0644"),
            (FileAction::Create, FileType::File)
        );
        assert_eq!(sftp("open", "READ"), (FileAction::Open, FileType::File));
        assert_eq!(sftp("remove", ""), (FileAction::Delete, FileType::File));
        assert_eq!(sftp("rmdir", ""), (FileAction::Delete, FileType::Folder));
        assert_eq!(sftp("posix-rename@openssh.com", "").0, FileAction::Rename);
        assert_eq!(sftp("fsetstat", "").0, FileAction::SetAttributes);
        assert_eq!(sftp("lstat", "").0, FileAction::GetAttributes);
        assert_eq!(sftp("statvfs@openssh.com", "").0, FileAction::Other);
        assert_eq!(
            file_action(Protocol::Scp, "file", "mode 0640 size 3", false).0,
            FileAction::Create
        );
        assert_eq!(
            file_action(Protocol::Scp, "file", "mode 0640 size 3", true).0,
            FileAction::Open
        );
        assert_eq!(
            mode_in(Protocol::Sftp, "WRITE|CREAT|TRUNC mode=0644"),
            Some(0o644)
        );
        assert_eq!(
            mode_in(
                Protocol::Sftp,
                "size=4 uid=1 gid=1 mode=0600 atime=1 mtime=1"
            ),
            Some(0o600)
        );
        assert_eq!(mode_in(Protocol::Sftp, "size=4 uid=1 gid=1"), None);
        assert_eq!(mode_in(Protocol::Sftp, "-> /srv/x mode=0777"), None);
        assert_eq!(mode_in(Protocol::Scp, "mode 0755 size 3"), Some(0o755));
        assert_eq!(mode_in(Protocol::Scp, "mtime atime 1 0 1 0"), None);
    }
}
