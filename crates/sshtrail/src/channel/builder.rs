//! Folding events into channel state, and what each event means into a sink.

use std::collections::{HashMap, VecDeque};
use std::io;

use super::{
    ChannelEvent, ChannelEventKind, ChannelSink, ChannelState, ConnectionRef, ExitSignal,
    Integrity, LogPart, OpenKind, Outcome, Pty, Request, RequestKind, Scope, Stamp, Stream,
    GLOBAL_KIND,
};
use crate::connection::{Connection, Context};
use crate::error::ParseError;
use crate::event::{Direction, Event};
use crate::ssh::{self, ChannelOpen, ChannelRequest, Decoded, GlobalRequest, Message};

/// Why an event could not be folded in.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ReplayError {
    /// The event's payload does not decode (bad base64 or hex): the event is
    /// not counted, and the channel's integrity verdict names the problem.
    #[error("{0}")]
    Payload(ParseError),
    /// The sink failed.
    #[error(transparent)]
    Io(#[from] io::Error),
}

/// How many requests may wait for a reply in one queue. A log that asks for
/// more without replies is hostile or broken: the oldest is then given up
/// as unanswered, so memory stays bounded.
const MAX_PENDING: usize = 100_000;

/// Builds one channel from its events, in log order, pushing what each event
/// means into a [`ChannelSink`].
#[derive(Debug)]
pub struct ChannelBuilder {
    state: ChannelState,
    /// The metadata's entry for the channel: `Some(kind)` when listed.
    meta_kind: Option<Option<String>>,
    /// From the first shell, exec or subsystem request.
    inferred_kind: Option<String>,
    /// The log is the connection's global requests by its name (channel id
    /// `global`, the metadata giving no other type).
    named_global: bool,
    /// Global requests and replies seen.
    global_messages: u64,
    /// Anything a channel has was seen: data, an open, a channel request.
    channel_like: bool,
    env_index: HashMap<String, usize>,
    /// Requests waiting for a reply, by (scope, direction of the asker).
    pending: [VecDeque<Request>; 6],
    /// The decoded payload of the current event.
    buf: Vec<u8>,
    ended: bool,
}

fn queue(scope: Scope, asker: Direction) -> usize {
    let s = match scope {
        Scope::Channel => 0,
        Scope::Global => 2,
        Scope::Open => 4,
    };
    s + usize::from(asker == Direction::ServerToClient)
}

fn other(d: Direction) -> Direction {
    match d {
        Direction::ClientToServer => Direction::ServerToClient,
        Direction::ServerToClient => Direction::ClientToServer,
    }
}

fn lossy(s: ssh::SshStr<'_>) -> String {
    s.to_str_lossy().into_owned()
}

/// The typed, owned form of a decoded message's request.
fn request_kind(message: &Message<'_>) -> RequestKind {
    match message {
        Message::GlobalRequest { name, request, .. } => match request {
            GlobalRequest::TcpipForward {
                bind_address,
                bind_port,
            } => RequestKind::TcpipForward {
                address: lossy(*bind_address),
                port: *bind_port,
            },
            GlobalRequest::CancelTcpipForward {
                bind_address,
                bind_port,
            } => RequestKind::CancelTcpipForward {
                address: lossy(*bind_address),
                port: *bind_port,
            },
            GlobalRequest::Keepalive => RequestKind::Keepalive,
            GlobalRequest::NoMoreSessions => RequestKind::NoMoreSessions,
            GlobalRequest::HostKeys(keys) => RequestKind::HostKeys {
                algorithms: keys.iter().map(|k| lossy(k.algorithm)).collect(),
            },
            GlobalRequest::Other(_) => match name.as_bytes() {
                b"streamlocal-forward@openssh.com" => RequestKind::StreamlocalForward,
                b"cancel-streamlocal-forward@openssh.com" => RequestKind::CancelStreamlocalForward,
                b"keepalive@openssh.com" => RequestKind::Keepalive,
                _ => RequestKind::Other,
            },
        },
        Message::ChannelOpen {
            channel_type, open, ..
        } => RequestKind::Open(match open {
            ChannelOpen::Session => OpenKind::Session,
            ChannelOpen::X11 {
                originator_address,
                originator_port,
            } => OpenKind::X11 {
                originator: lossy(*originator_address),
                originator_port: *originator_port,
            },
            ChannelOpen::DirectTcpip {
                host,
                port,
                originator_address,
                originator_port,
            } => OpenKind::DirectTcpip {
                host: lossy(*host),
                port: *port,
                originator: lossy(*originator_address),
                originator_port: *originator_port,
            },
            ChannelOpen::ForwardedTcpip {
                connected_address,
                connected_port,
                originator_address,
                originator_port,
            } => OpenKind::ForwardedTcpip {
                address: lossy(*connected_address),
                port: *connected_port,
                originator: lossy(*originator_address),
                originator_port: *originator_port,
            },
            ChannelOpen::DirectStreamlocal { socket_path } => OpenKind::DirectStreamlocal {
                socket_path: lossy(*socket_path),
            },
            ChannelOpen::AuthAgent => OpenKind::AuthAgent,
            ChannelOpen::Other(_) => match channel_type.as_bytes() {
                b"forwarded-streamlocal@openssh.com" => OpenKind::ForwardedStreamlocal,
                _ => OpenKind::Other,
            },
        }),
        Message::ChannelRequest { request, .. } => match request {
            ChannelRequest::PtyReq(p) => RequestKind::Pty(Pty {
                term: lossy(p.term),
                cols: p.cols,
                rows: p.rows,
                width_px: p.width_px,
                height_px: p.height_px,
                modes: p
                    .modes
                    .iter()
                    .map(|(op, name, v)| {
                        (name.map_or_else(|| format!("OP{op}"), str::to_string), v)
                    })
                    .collect(),
            }),
            ChannelRequest::X11Req {
                single_connection,
                auth_protocol,
                screen,
                ..
            } => RequestKind::X11 {
                single_connection: *single_connection,
                auth_protocol: lossy(*auth_protocol),
                screen: *screen,
            },
            ChannelRequest::Env { name, value } => RequestKind::Env {
                name: lossy(*name),
                value: lossy(*value),
            },
            ChannelRequest::Shell => RequestKind::Shell,
            ChannelRequest::Exec { command } => RequestKind::Exec {
                command: lossy(*command),
            },
            ChannelRequest::Subsystem { name } => RequestKind::Subsystem { name: lossy(*name) },
            ChannelRequest::WindowChange { cols, rows, .. } => RequestKind::WindowChange {
                cols: *cols,
                rows: *rows,
            },
            ChannelRequest::XonXoff { client_can_do } => RequestKind::XonXoff {
                client_can_do: *client_can_do,
            },
            ChannelRequest::Signal { name } => RequestKind::Signal { name: lossy(*name) },
            ChannelRequest::ExitStatus { status } => RequestKind::ExitStatus { status: *status },
            ChannelRequest::ExitSignal {
                signal,
                core_dumped,
                message,
                ..
            } => RequestKind::ExitSignal(ExitSignal {
                signal: lossy(*signal),
                core_dumped: *core_dumped,
                message: lossy(*message),
            }),
            ChannelRequest::Break { ms } => RequestKind::Break { ms: *ms },
            ChannelRequest::Eow => RequestKind::Eow,
            ChannelRequest::AuthAgentReq => RequestKind::AuthAgent,
            ChannelRequest::Other(_) => RequestKind::Other,
        },
        Message::GlobalReply { .. }
        | Message::OpenConfirmation { .. }
        | Message::OpenFailure { .. }
        | Message::ChannelReply { .. } => RequestKind::Other,
    }
}

impl ChannelBuilder {
    /// A builder for the channel `context` names; `meta` is the connection
    /// metadata, whose entry for the channel gives its type.
    pub fn new(context: Context, meta: Option<&Connection>) -> Self {
        let meta_kind = meta
            .and_then(|m| m.channel(&context.channel_id))
            .map(|c| c.kind.clone());
        let mut state = ChannelState {
            context,
            ..ChannelState::default()
        };
        if let Some(k) = &meta_kind {
            state.kind = k.clone();
            state.kind_settled = k.is_some();
        }
        let named_global =
            state.context.channel_id == GLOBAL_KIND && !matches!(meta_kind, Some(Some(_)));
        if named_global {
            state.kind = Some(GLOBAL_KIND.to_string());
            state.kind_settled = true;
        }
        ChannelBuilder {
            state,
            meta_kind,
            inferred_kind: None,
            named_global,
            global_messages: 0,
            channel_like: false,
            env_index: HashMap::new(),
            pending: Default::default(),
            buf: Vec::new(),
            ended: false,
        }
    }

    /// The channel as it stands.
    pub fn state(&self) -> &ChannelState {
        &self.state
    }

    /// Adds one event and hands what it means to `sink`. A payload that does
    /// not decode is [`ReplayError::Payload`]: the event is not counted (the
    /// caller reports it and counts it with [`ChannelBuilder::log_problem`]).
    pub fn push(
        &mut self,
        event: &Event<'_>,
        sink: &mut dyn ChannelSink,
    ) -> Result<(), ReplayError> {
        event
            .decode_payload(&mut self.buf)
            .map_err(ReplayError::Payload)?;
        self.state.events.add(&event.kind);
        let first = self.state.started.is_none();
        if first {
            self.state.started = Some(Stamp {
                ts: event.ts,
                text: event.ts_text.to_string(),
            });
        }
        match &mut self.state.ended {
            // The text's buffer is reused: no allocation an event.
            Some(e) if event.ts >= e.ts => {
                e.ts = event.ts;
                e.text.clear();
                e.text.push_str(&event.ts_text);
            }
            Some(_) => {}
            None => {
                self.state.ended = Some(Stamp {
                    ts: event.ts,
                    text: event.ts_text.to_string(),
                })
            }
        }
        if first {
            self.emit(sink, ChannelEventKind::Started { ts: event.ts })?;
        }
        sink.event(&ChannelEvent {
            channel: &self.state,
            kind: ChannelEventKind::Logged {
                event,
                payload: &self.buf,
            },
        })?;
        if let Some(stream) = Stream::of(&event.kind) {
            self.channel_like = true;
            let i = stream as usize;
            let offset = self.state.bytes[i];
            self.state.bytes[i] += self.buf.len() as u64;
            if !self.state.kind_settled {
                self.settle_kind();
            }
            sink.event(&ChannelEvent {
                channel: &self.state,
                kind: ChannelEventKind::Data {
                    stream,
                    ts: event.ts,
                    offset,
                    data: &self.buf,
                    line: event.line,
                    redacted: false,
                },
            })?;
            return Ok(());
        }
        let Some(direction) = event.kind.direction() else {
            return Ok(());
        };
        let hint = ssh::request_hint(event);
        // The message borrows `buf`; it is taken out for the time of the call.
        let buf = std::mem::take(&mut self.buf);
        let result = match ssh::decode(&event.kind, &buf, hint.as_deref()) {
            Decoded::Message { message, .. } => self.message(event, direction, &message, sink),
            Decoded::Undecoded => {
                self.state.undecoded += 1;
                sink.event(&ChannelEvent {
                    channel: &self.state,
                    kind: ChannelEventKind::Undecoded {
                        event_type: &event.kind,
                        line: event.line,
                        ts: event.ts,
                        len: buf.len(),
                    },
                })
            }
        };
        self.buf = buf;
        result.map_err(ReplayError::Io)
    }

    fn emit(&self, sink: &mut dyn ChannelSink, kind: ChannelEventKind<'_>) -> io::Result<()> {
        sink.event(&ChannelEvent {
            channel: &self.state,
            kind,
        })
    }

    /// The channel type as far as it is known: the metadata's, else the
    /// open's type unless it is a session, else what a session asked for.
    fn current_kind(&self) -> Option<String> {
        if let Some(Some(k)) = &self.meta_kind {
            return Some(k.clone());
        }
        // Global requests only: the connection's, logged apart.
        if self.named_global || (self.global_messages > 0 && !self.channel_like) {
            return Some(GLOBAL_KIND.to_string());
        }
        match self.state.open_type.as_deref() {
            Some("session") | None => self
                .inferred_kind
                .clone()
                .or_else(|| self.state.open_type.clone()),
            Some(other) => Some(other.to_string()),
        }
    }

    fn settle_kind(&mut self) {
        self.state.kind = self.current_kind();
        self.state.kind_settled = true;
    }

    fn update_kind(&mut self) {
        if matches!(self.meta_kind, Some(Some(_))) {
            return;
        }
        self.state.kind = self.current_kind();
        let open_other = self
            .state
            .open_type
            .as_deref()
            .is_some_and(|t| t != "session");
        if open_other || self.inferred_kind.is_some() {
            self.state.kind_settled = true;
        }
    }

    /// Records a request and hands it on; one that wants a reply waits in
    /// its queue.
    fn request(&mut self, request: Request, sink: &mut dyn ChannelSink) -> io::Result<()> {
        self.state.requests += 1;
        self.emit(sink, ChannelEventKind::Request(&request))?;
        if request.want_reply {
            let q = &mut self.pending[queue(request.scope, request.direction)];
            q.push_back(request);
            if q.len() > MAX_PENDING {
                if let Some(old) = q.pop_front() {
                    self.emit(sink, ChannelEventKind::Unanswered(&old))?;
                }
            }
        }
        Ok(())
    }

    fn reply(
        &mut self,
        event: &Event<'_>,
        scope: Scope,
        replier: Direction,
        outcome: Outcome,
        bound_port: Option<u32>,
        sink: &mut dyn ChannelSink,
    ) -> io::Result<()> {
        let Some(request) = self.pending[queue(scope, other(replier))].pop_front() else {
            self.state.unmatched_replies += 1;
            return Ok(());
        };
        self.emit(
            sink,
            ChannelEventKind::Reply {
                request: &request,
                outcome: &outcome,
                ts: event.ts,
                bound_port,
            },
        )
    }

    fn message(
        &mut self,
        event: &Event<'_>,
        direction: Direction,
        message: &Message<'_>,
        sink: &mut dyn ChannelSink,
    ) -> io::Result<()> {
        let new_request = |b: &Self, scope, name: String, want_reply| Request {
            index: b.state.requests as usize,
            ts: event.ts,
            ts_text: event.ts_text.to_string(),
            line: event.line,
            direction,
            scope,
            name,
            summary: message.to_string(),
            want_reply,
            kind: request_kind(message),
        };
        if matches!(
            message,
            Message::GlobalRequest { .. } | Message::GlobalReply { .. }
        ) {
            self.global_messages += 1;
        } else {
            self.channel_like = true;
        }
        match message {
            Message::GlobalRequest {
                name, want_reply, ..
            } => {
                let r = new_request(self, Scope::Global, lossy(*name), *want_reply);
                self.request(r, sink)
            }
            Message::GlobalReply {
                success,
                bound_port,
            } => {
                let outcome = match success {
                    Some(true) => Outcome::Success,
                    Some(false) => Outcome::Failure(None),
                    None => Outcome::Replied,
                };
                self.reply(event, Scope::Global, direction, outcome, *bound_port, sink)
            }
            Message::ChannelOpen { channel_type, .. } => {
                let name = lossy(*channel_type);
                let r = new_request(self, Scope::Open, name.clone(), true);
                if self.state.own_open.is_none() {
                    self.state.own_open = Some(r.index);
                    self.state.open_type = Some(name);
                    self.update_kind();
                }
                self.request(r, sink)
            }
            Message::OpenConfirmation { .. } => {
                self.reply(event, Scope::Open, direction, Outcome::Success, None, sink)
            }
            Message::OpenFailure {
                reason,
                description,
                ..
            } => {
                let why = format!(
                    "{} ({})",
                    ssh::open_failure_reason(*reason),
                    description.to_str_lossy()
                );
                self.reply(
                    event,
                    Scope::Open,
                    direction,
                    Outcome::Failure(Some(why)),
                    None,
                    sink,
                )
            }
            Message::ChannelRequest {
                request_type,
                want_reply,
                ..
            } => {
                let r = new_request(self, Scope::Channel, lossy(*request_type), *want_reply);
                let st = &mut self.state;
                match &r.kind {
                    RequestKind::Pty(p) => st.pty = Some(p.clone()),
                    RequestKind::Env { name, value } => {
                        // A later value replaces an earlier one, in place.
                        match self.env_index.get(name) {
                            Some(&i) => st.env[i].1 = value.clone(),
                            None if st.env.len() < ChannelState::MAX_ENV => {
                                self.env_index.insert(name.clone(), st.env.len());
                                st.env.push((name.clone(), value.clone()));
                            }
                            None => {}
                        }
                    }
                    RequestKind::Shell => {
                        st.shell = true;
                        self.inferred_kind.get_or_insert_with(|| "shell".into());
                        self.update_kind();
                    }
                    RequestKind::Exec { command } => {
                        st.exec = Some(command.clone());
                        self.inferred_kind.get_or_insert_with(|| "exec".into());
                        self.update_kind();
                    }
                    RequestKind::Subsystem { name } => {
                        st.subsystem = Some(name.clone());
                        self.inferred_kind.get_or_insert_with(|| "subsystem".into());
                        self.update_kind();
                    }
                    RequestKind::ExitStatus { status } => st.exit_status = Some(*status),
                    RequestKind::ExitSignal(s) => st.exit_signal = Some(s.clone()),
                    _ => {}
                }
                self.request(r, sink)
            }
            Message::ChannelReply { success, .. } => {
                let outcome = match success {
                    Some(true) => Outcome::Success,
                    Some(false) => Outcome::Failure(None),
                    None => Outcome::Replied,
                };
                self.reply(event, Scope::Channel, direction, outcome, None, sink)
            }
        }
    }

    /// Counts a problem the reader found in the channel's log, for the
    /// integrity verdict.
    pub fn log_problem(&mut self, e: &ParseError) {
        if e.is_warning() {
            self.state.log_warnings += 1;
        } else {
            self.state.log_errors += 1;
        }
    }

    /// Ends the channel: requests still waiting for a reply are handed on
    /// as [`ChannelEventKind::Unanswered`], the integrity verdict is made
    /// against `meta`, and [`ChannelEventKind::Ended`] closes the channel.
    /// Returns the final state.
    pub fn finish(
        mut self,
        meta: Option<&Connection>,
        sink: &mut dyn ChannelSink,
    ) -> io::Result<ChannelState> {
        self.end(meta, sink)?;
        Ok(self.state)
    }

    fn end(&mut self, meta: Option<&Connection>, sink: &mut dyn ChannelSink) -> io::Result<()> {
        if self.ended {
            return Ok(());
        }
        self.ended = true;
        let mut unanswered: Vec<Request> =
            self.pending.iter_mut().flat_map(|q| q.drain(..)).collect();
        unanswered.sort_by_key(|r| r.index);
        for r in &unanswered {
            self.emit(sink, ChannelEventKind::Unanswered(r))?;
        }
        self.state.kind = self.current_kind();
        self.state.kind_settled = true;
        self.state.integrity = Some(Integrity::of(&self.state, meta));
        let ts = self.state.ended.as_ref().map_or(0, |e| e.ts);
        self.emit(sink, ChannelEventKind::Ended { ts })
    }
}

/// One channel of a [`ConnectionBuilder`].
#[derive(Debug)]
struct Slot {
    builder: ChannelBuilder,
    /// The logs that fed it (by the number the caller gave them).
    logs: Vec<usize>,
}

/// Builds every channel of one connection: events go to the channel they
/// name (a `channel_id` key), else to the channel of the log they come from.
///
/// ```
/// use sshtrail::channel::{ConnectionBuilder, SummaryCollector};
/// use sshtrail::connection::Context;
/// use sshtrail::SliceReader;
///
/// let log = b"2023-06-07T17:32:29Z stdin 6c\n";
/// let context = Context::channel("0");
/// let mut summaries = SummaryCollector::default();
/// let mut conn = ConnectionBuilder::new(None, None);
/// conn.start(&mut summaries).unwrap();
/// conn.open_log(0, &context);
/// for event in SliceReader::new(log) {
///     conn.push(0, &context, &event.unwrap(), &mut summaries).unwrap();
/// }
/// conn.finish(&mut summaries).unwrap();
/// assert_eq!(summaries.connections()[0].channels[0].bytes.stdin, 1);
/// ```
#[derive(Debug)]
pub struct ConnectionBuilder<'m> {
    id: Option<String>,
    meta: Option<&'m Connection>,
    meta_path: Option<&'m std::path::Path>,
    part: Option<LogPart>,
    logs: Option<&'m dyn super::LogFiles>,
    slots: Vec<Slot>,
    index: HashMap<Context, usize>,
    /// The slot found last: consecutive events are nearly always of the
    /// same channel, found again by comparing ids rather than hashing.
    last: usize,
}

impl<'m> ConnectionBuilder<'m> {
    /// A connection named `id` (else by its metadata), described by `meta`.
    pub fn new(id: Option<&str>, meta: Option<&'m Connection>) -> Self {
        ConnectionBuilder {
            id: id.map(str::to_string),
            meta,
            meta_path: None,
            part: None,
            logs: None,
            slots: Vec::new(),
            index: HashMap::new(),
            last: 0,
        }
    }

    /// Says where the metadata was read from (sinks report it).
    pub fn with_meta_path(mut self, path: Option<&'m std::path::Path>) -> Self {
        self.meta_path = path;
        self
    }

    /// Names the logs the events are read from (sinks may hash them).
    pub fn with_logs(mut self, logs: &'m dyn super::LogFiles) -> Self {
        self.logs = Some(logs);
        self
    }

    /// Says the events will be those of one of the connection's logs only.
    pub fn with_part(mut self, part: Option<LogPart>) -> Self {
        self.part = part;
        self
    }

    fn conn_ref(&self) -> ConnectionRef<'_> {
        ConnectionRef {
            id: self.id.as_deref(),
            meta: self.meta,
            meta_path: self.meta_path,
            part: self.part,
            logs: self.logs,
        }
    }

    /// Tells `sink` the connection begins.
    pub fn start(&mut self, sink: &mut dyn ChannelSink) -> io::Result<()> {
        sink.connection_start(&self.conn_ref())
    }

    fn slot(&mut self, context: &Context) -> &mut Slot {
        if self
            .slots
            .get(self.last)
            .is_some_and(|s| s.builder.state.context == *context)
        {
            return &mut self.slots[self.last];
        }
        let i = match self.index.get(context) {
            Some(&i) => i,
            None => {
                self.slots.push(Slot {
                    builder: ChannelBuilder::new(context.clone(), self.meta),
                    logs: Vec::new(),
                });
                self.index.insert(context.clone(), self.slots.len() - 1);
                self.slots.len() - 1
            }
        };
        self.last = i;
        &mut self.slots[i]
    }

    /// Log number `log`, of the channel `context`, starts: the channel
    /// exists from now on, even if the log turns out empty.
    pub fn open_log(&mut self, log: usize, context: &Context) {
        let slot = self.slot(context);
        if !slot.logs.contains(&log) {
            slot.logs.push(log);
        }
    }

    /// Adds an event read from log number `log`, whose channel is `context`.
    pub fn push(
        &mut self,
        log: usize,
        context: &Context,
        event: &Event<'_>,
        sink: &mut dyn ChannelSink,
    ) -> Result<(), ReplayError> {
        let named;
        let target = match event.channel_id() {
            Some(id) if *id != context.channel_id => {
                named = Context {
                    connection_id: context.connection_id.clone(),
                    channel_id: id.into_owned(),
                };
                &named
            }
            _ => context,
        };
        let slot = self.slot(target);
        if !slot.logs.contains(&log) {
            slot.logs.push(log);
        }
        slot.builder.push(event, sink)
    }

    // Only the seek index (feature `terminal`) resumes a replay.
    #[cfg(feature = "terminal")]
    /// Tells the channel `context` had a terminal of `cols` x `rows`
    /// before the events pushed next (a replay resumed in the middle of a
    /// log, after its `pty-req`): its state says so from now on.
    pub(crate) fn assume_terminal(&mut self, context: &Context, cols: u32, rows: u32) {
        let state = &mut self.slot(context).builder.state;
        if state.pty.is_none() {
            state.pty = Some(Pty {
                term: String::new(),
                cols,
                rows,
                width_px: 0,
                height_px: 0,
                modes: Vec::new(),
            });
        }
    }

    /// Counts a problem found in a log of channel `context`.
    pub fn problem(&mut self, context: &Context, e: &ParseError) {
        self.slot(context).builder.log_problem(e);
    }

    /// Log number `log` has no more events: the channels only it fed end.
    pub fn log_ended(&mut self, log: usize, sink: &mut dyn ChannelSink) -> io::Result<()> {
        for slot in &mut self.slots {
            slot.logs.retain(|&l| l != log);
            if slot.logs.is_empty() {
                slot.builder.end(self.meta, sink)?;
            }
        }
        Ok(())
    }

    /// Ends every channel and the connection; returns the channels' final
    /// states, in the order they appeared.
    pub fn finish(mut self, sink: &mut dyn ChannelSink) -> io::Result<Vec<ChannelState>> {
        for slot in &mut self.slots {
            slot.builder.end(self.meta, sink)?;
        }
        sink.connection_end(&self.conn_ref())?;
        Ok(self.slots.into_iter().map(|s| s.builder.state).collect())
    }
}
