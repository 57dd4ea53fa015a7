//! Secrets typed at prompts, kept out of what people read.
//!
//! A password typed at `sudo`, `read -s` or `getpass` travels in the
//! channel's stdin like any key. The evidence formats keep it (they are the
//! evidence); every derived output (recordings with input, SIEM records of
//! the data, commands, search) replaces it by default.
//!
//! Input is a secret when the terminal did not echo it (the first output
//! after the keys does not start with them, while not in a full-screen
//! program), or when it answers a prompt that asks for one (the output line
//! before the first key matches a [`SecretRules`] pattern: `Password:`,
//! `Passphrase for key`, `Enter PIN:` …). Only channels with a terminal are
//! judged: without one nothing is echoed, and stdin is a program's input.
//!
//! Judging needs the output that follows the keys, so a [`SecretFilter`]
//! holds a channel's stdin (and the output that cannot decide yet) until it
//! knows, then passes everything on in order; each redacted byte becomes
//! `*`, so lengths and times are kept, and the data event says
//! `redacted: true`. Control bytes (Enter, Backspace, Ctrl-C) are kept: they
//! tell nothing of the secret.
//!
//! ```
//! use sshtrail::archive::Archive;
//! use sshtrail::channel::{ChannelEvent, ChannelEventKind, ChannelSink, Stream};
//! use sshtrail::redact::{SecretFilter, SecretRules};
//!
//! #[derive(Default)]
//! struct Keys(Vec<u8>);
//! impl ChannelSink for Keys {
//!     fn event(&mut self, ev: &ChannelEvent<'_>) -> std::io::Result<()> {
//!         if let ChannelEventKind::Data { stream: Stream::Stdin, data, .. } = ev.kind {
//!             self.0.extend_from_slice(data);
//!         }
//!         Ok(())
//!     }
//! }
//! // A terminal; "Password: " on screen; "hunter2" typed without echo.
//! let log = "2023-06-07T17:31:59Z forward-request 6200000000000000077074792d7265710100000005787465726d000000500000001800000000000000000000000100\n\
//!            2023-06-07T17:32:00Z stdout 50617373776f72643a20\n\
//!            2023-06-07T17:32:01Z stdin 68756e74657232\n\
//!            2023-06-07T17:32:02Z stdin 0d\n\
//!            2023-06-07T17:32:02Z stdout 0d0a\n";
//! let mut filter = SecretFilter::new(Keys::default(), SecretRules::default());
//! Archive::from_bytes("0.hex", log).replay(&mut filter, &mut |_| {}).unwrap();
//! assert_eq!(filter.redactions().bytes, 7);
//! assert_eq!(filter.into_inner().0, b"*******\r");
//! ```

use crate::connection::ChannelMap;
use std::io;

use regex::Regex;

use crate::channel::{ChannelEvent, ChannelEventKind, ChannelSink, ConnectionRef, Stream};
use crate::time::Nanos;

/// The prompts that ask for a secret: sudo's default (`[Pp]assword[: ]*`),
/// ssh's and ssh-add's passphrases, PINs, and `Enter password`.
const DEFAULT_PROMPTS: [&str; 3] = [
    r"[Pp]assword[^\n]*[:>]\s*$",
    r"(?i)pass ?phrase[^\n]*[:>]\s*$",
    r"(?i)\bPIN\b[^\n]*[:>]\s*$",
];

/// Sequences that switch to or from the alternate screen.
const ALT_ON: [&str; 3] = ["\x1b[?1049h", "\x1b[?47h", "\x1b[?1047h"];
const ALT_OFF: [&str; 3] = ["\x1b[?1049l", "\x1b[?47l", "\x1b[?1047l"];

/// The start every [`ALT_ON`] and [`ALT_OFF`] sequence shares, looked for
/// in every output event: its searcher is built once, not once an event.
static PRIVATE_MODE: std::sync::LazyLock<memchr::memmem::Finder<'static>> =
    std::sync::LazyLock::new(|| memchr::memmem::Finder::new(b"\x1b[?"));

/// Input and output held while a channel's keys wait for their echo; past
/// this many bytes the keys are judged not echoed.
const MAX_HELD: usize = 64 << 10;

/// How many printable bytes of keys and output are compared to tell an
/// echo: a password that starts like the program's next message is not
/// taken for its echo.
const COMPARED: usize = 8;

/// How much of the current output line is kept to match prompts.
const TAIL_KEPT: usize = 512;

/// What marks a prompt that asks for a secret.
#[derive(Debug, Clone)]
pub struct SecretRules {
    prompts: Vec<Regex>,
}

impl Default for SecretRules {
    fn default() -> Self {
        SecretRules {
            prompts: DEFAULT_PROMPTS
                .iter()
                .filter_map(|p| Regex::new(p).ok())
                .collect(),
        }
    }
}

impl SecretRules {
    /// The default prompts and `extra` patterns (regular expressions
    /// matched against the output line before the first key).
    pub fn with_prompts<S: AsRef<str>>(extra: &[S]) -> Result<Self, regex::Error> {
        let mut rules = SecretRules::default();
        for p in extra {
            rules.prompts.push(Regex::new(p.as_ref())?);
        }
        Ok(rules)
    }

    /// Whether `line` (the output line the cursor is on, escapes removed)
    /// asks for a secret.
    pub fn is_secret_prompt(&self, line: &str) -> bool {
        self.prompts.iter().any(|p| p.is_match(line))
    }
}

/// What was redacted.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Redactions {
    /// Secrets (runs of input judged secret).
    pub secrets: u64,
    /// Bytes replaced by `*`.
    pub bytes: u64,
}

impl Redactions {
    /// Adds `other`.
    pub fn add(&mut self, other: Redactions) {
        self.secrets += other.secrets;
        self.bytes += other.bytes;
    }
}

/// A data event held back.
#[derive(Debug)]
struct Held {
    stream: Stream,
    ts: Nanos,
    offset: u64,
    line: u64,
    data: Vec<u8>,
}

/// One channel's watch.
#[derive(Debug, Default)]
struct Watch {
    /// Data held since the first key not yet judged, in order.
    held: Vec<Held>,
    held_bytes: usize,
    /// The first printable bytes of the held keys (at most [`COMPARED`]).
    keys: Vec<u8>,
    /// The held keys answer a prompt that asks for a secret.
    prompted: bool,
    /// A full-screen program is running: its keys are not judged.
    alt: bool,
    /// No key since the last Enter: the next key starts a line.
    line_start: bool,
    /// The current output line, escapes removed (for prompts).
    tail: String,
    /// A UTF-8 character or escape sequence cut at a chunk's end.
    tail_rest: Vec<u8>,
}

/// The judge: decides, for each channel, which stdin is a secret. Used by
/// [`SecretFilter`] (a [`ChannelSink`]) and by the output writers; events
/// are handed back through `emit`, in order, redacted where needed.
#[derive(Debug, Default)]
pub struct SecretJudge {
    rules: SecretRules,
    channels: ChannelMap<Watch>,
    counts: Redactions,
}

impl SecretJudge {
    /// A judge with `rules`.
    pub fn new(rules: SecretRules) -> Self {
        SecretJudge {
            rules,
            channels: ChannelMap::default(),
            counts: Redactions::default(),
        }
    }

    /// What was redacted so far.
    pub fn redactions(&self) -> Redactions {
        self.counts
    }

    /// Takes one event; hands it (and any held before it) to `emit`, in
    /// order, once judged.
    pub fn event(
        &mut self,
        ev: &ChannelEvent<'_>,
        emit: &mut dyn FnMut(&ChannelEvent<'_>) -> io::Result<()>,
    ) -> io::Result<()> {
        let terminal = ev.channel.pty.is_some();
        let context = &ev.channel.context;
        match ev.kind {
            ChannelEventKind::Data {
                stream,
                ts,
                offset,
                data,
                line,
                ..
            } if terminal => {
                let watch = self.channels.get_or_insert_with(context, || Watch {
                    line_start: true,
                    ..Watch::default()
                });
                if stream == Stream::Stdin {
                    if watch.alt {
                        return emit(ev);
                    }
                    if watch.held.is_empty() {
                        watch.prompted =
                            watch.line_start && self.rules.is_secret_prompt(&watch.tail);
                        watch.keys.clear();
                    }
                    if watch.keys.len() < COMPARED {
                        let room = COMPARED - watch.keys.len();
                        watch.keys.extend(printable(data, false, room));
                    }
                    if data.iter().any(|&b| b == b'\r' || b == b'\n') {
                        watch.line_start = true;
                    } else if !data.is_empty() {
                        watch.line_start = false;
                    }
                    hold(watch, stream, ts, offset, line, data);
                    if watch.keys.is_empty() && !watch.prompted {
                        // Only control keys: nothing to judge.
                        return release(watch, false, &mut self.counts, ev, emit);
                    }
                    if watch.held_bytes > MAX_HELD {
                        return release(watch, true, &mut self.counts, ev, emit);
                    }
                    return Ok(());
                }
                // Output: it may decide the keys held before it.
                let verdict = if watch.held.is_empty() {
                    None
                } else {
                    let shown = printable(data, true, COMPARED);
                    if !shown.is_empty() {
                        let n = shown.len().min(watch.keys.len());
                        Some(watch.prompted || shown[..n] != watch.keys[..n])
                    } else if data.contains(&b'\n') {
                        // A new line before any of the keys: not echoed. (A
                        // carriage return alone is a redraw starting over.)
                        Some(true)
                    } else {
                        // Escapes only: the next output decides.
                        None
                    }
                };
                follow_output(watch, data);
                match verdict {
                    Some(secret) => {
                        release(watch, secret, &mut self.counts, ev, emit)?;
                        emit(ev)
                    }
                    None if watch.held.is_empty() => emit(ev),
                    None => {
                        hold(watch, stream, ts, offset, line, data);
                        if watch.held_bytes > MAX_HELD {
                            return release(watch, true, &mut self.counts, ev, emit);
                        }
                        Ok(())
                    }
                }
            }
            // The log's events as read, for the evidence formats (which
            // are never redacted): passed on, judging nothing.
            ChannelEventKind::Logged { .. } => emit(ev),
            _ => {
                // Anything else of a channel with held keys ends the wait:
                // keys without their echo are judged secret.
                let ended = matches!(ev.kind, ChannelEventKind::Ended { .. });
                if let Some(watch) = self.channels.get_mut(context) {
                    if !watch.held.is_empty() {
                        release(watch, true, &mut self.counts, ev, emit)?;
                    }
                }
                if ended {
                    self.channels.remove(context);
                }
                emit(ev)
            }
        }
    }
}

/// Keeps a copy of a data event.
fn hold(watch: &mut Watch, stream: Stream, ts: Nanos, offset: u64, line: u64, data: &[u8]) {
    watch.held_bytes += data.len();
    watch.held.push(Held {
        stream,
        ts,
        offset,
        line,
        data: data.to_vec(),
    });
}

/// Hands the held events on, in order, the keys redacted when `secret`.
fn release(
    watch: &mut Watch,
    secret: bool,
    counts: &mut Redactions,
    ev: &ChannelEvent<'_>,
    emit: &mut dyn FnMut(&ChannelEvent<'_>) -> io::Result<()>,
) -> io::Result<()> {
    let secret = secret || watch.prompted;
    let held = std::mem::take(&mut watch.held);
    watch.held_bytes = 0;
    watch.keys.clear();
    watch.prompted = false;
    let mut redacted_any = false;
    for mut h in held {
        let mut redacted = false;
        if secret && h.stream == Stream::Stdin {
            let n = redact(&mut h.data);
            if n > 0 {
                counts.bytes += n;
                redacted = true;
                redacted_any = true;
            }
        }
        emit(&ChannelEvent {
            channel: ev.channel,
            kind: ChannelEventKind::Data {
                stream: h.stream,
                ts: h.ts,
                offset: h.offset,
                data: &h.data,
                line: h.line,
                redacted,
            },
        })?;
    }
    if redacted_any {
        counts.secrets += 1;
    }
    Ok(())
}

/// Replaces every printable byte (UTF-8 continuation bytes included) with
/// `*`; returns how many.
fn redact(data: &mut [u8]) -> u64 {
    let mut n = 0;
    for b in data.iter_mut() {
        if *b >= 0x20 && *b != 0x7f {
            *b = b'*';
            n += 1;
        }
    }
    n
}

/// The first `max` printable bytes of `data`, escape sequences and control
/// bytes skipped; in output, a new line stops the search.
fn printable(data: &[u8], output: bool, max: usize) -> Vec<u8> {
    let mut found = Vec::new();
    let mut i = 0;
    while i < data.len() && found.len() < max {
        match data[i] {
            0x1b => i = skip_escape(data, i),
            b'\n' if output => break,
            b if b >= 0x20 && b != 0x7f => {
                found.push(b);
                i += 1;
            }
            _ => i += 1,
        }
    }
    found
}

/// The index after the escape sequence starting at `data[at]` (CSI, OSC
/// and two-byte escapes).
fn skip_escape(data: &[u8], at: usize) -> usize {
    let mut i = at + 1;
    match data.get(i) {
        Some(b'[') => {
            i += 1;
            while i < data.len() && !(0x40..=0x7e).contains(&data[i]) {
                i += 1;
            }
            i + 1
        }
        Some(b']') | Some(b'P') | Some(b'_') => {
            while i < data.len() {
                if data[i] == 0x07 {
                    return i + 1;
                }
                if data[i] == 0x1b && data.get(i + 1) == Some(&b'\\') {
                    return i + 2;
                }
                i += 1;
            }
            i
        }
        Some(_) => i + 1,
        None => i,
    }
}

/// Follows the output: the alternate screen, and the current line's text.
fn follow_output(watch: &mut Watch, data: &[u8]) {
    // Output is most of a session: no copy unless a sequence was cut.
    let joined;
    let bytes: &[u8] = if watch.tail_rest.is_empty() {
        data
    } else {
        let mut b = std::mem::take(&mut watch.tail_rest);
        b.extend_from_slice(data);
        joined = b;
        &joined
    };
    for i in PRIVATE_MODE.find_iter(bytes) {
        let seq = &bytes[i..];
        if ALT_ON.iter().any(|s| seq.starts_with(s.as_bytes())) {
            watch.alt = true;
        } else if ALT_OFF.iter().any(|s| seq.starts_with(s.as_bytes())) {
            watch.alt = false;
        }
    }
    // Only what follows the last line feed can be the line a prompt is on.
    let mut i = match memchr::memrchr(b'\n', bytes) {
        Some(n) => {
            watch.tail.clear();
            n + 1
        }
        None => 0,
    };
    while i < bytes.len() {
        match bytes[i] {
            0x1b => {
                let end = skip_escape(bytes, i);
                if end > bytes.len() {
                    // Cut at the chunk's end: finished by the next one.
                    watch.tail_rest = bytes[i..].to_vec();
                    break;
                }
                i = end;
                continue;
            }
            b'\r' => {}
            0x08 => {
                watch.tail.pop();
            }
            b if b < 0x20 || b == 0x7f => {}
            b if b < 0x80 => watch.tail.push(char::from(b)),
            _ => {
                let len = utf8_len(bytes[i]);
                if i + len > bytes.len() {
                    watch.tail_rest = bytes[i..].to_vec();
                    break;
                }
                match std::str::from_utf8(&bytes[i..i + len]) {
                    Ok(c) => watch.tail.push_str(c),
                    Err(_) => watch.tail.push(char::REPLACEMENT_CHARACTER),
                }
                i += len;
                continue;
            }
        }
        i += 1;
    }
    if watch.tail.len() > TAIL_KEPT {
        let cut = watch.tail.len() - TAIL_KEPT;
        let cut = (cut..watch.tail.len())
            .find(|&c| watch.tail.is_char_boundary(c))
            .unwrap_or(watch.tail.len());
        watch.tail.drain(..cut);
    }
}

/// The length of the UTF-8 sequence a lead byte starts (1 for others).
fn utf8_len(lead: u8) -> usize {
    match lead {
        0xc0..=0xdf => 2,
        0xe0..=0xef => 3,
        0xf0..=0xf7 => 4,
        _ => 1,
    }
}

/// A [`ChannelSink`] that passes a connection's channel events on to
/// `inner` with the secrets typed at prompts redacted.
#[derive(Debug)]
pub struct SecretFilter<S> {
    inner: S,
    judge: SecretJudge,
}

impl<S: ChannelSink> SecretFilter<S> {
    /// Redacts what `rules` and the echo tell before `inner` sees it.
    pub fn new(inner: S, rules: SecretRules) -> Self {
        SecretFilter {
            inner,
            judge: SecretJudge::new(rules),
        }
    }

    /// What was redacted so far.
    pub fn redactions(&self) -> Redactions {
        self.judge.redactions()
    }

    /// The sink.
    pub fn into_inner(self) -> S {
        self.inner
    }
}

impl<S: ChannelSink> ChannelSink for SecretFilter<S> {
    fn connection_start(&mut self, conn: &ConnectionRef<'_>) -> io::Result<()> {
        self.inner.connection_start(conn)
    }

    fn event(&mut self, ev: &ChannelEvent<'_>) -> io::Result<()> {
        let inner = &mut self.inner;
        self.judge.event(ev, &mut |e| inner.event(e))
    }

    fn connection_end(&mut self, conn: &ConnectionRef<'_>) -> io::Result<()> {
        self.inner.connection_end(conn)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::archive::Archive;

    /// The stdin a sink gets, with the redacted flag, chunk by chunk.
    #[derive(Default)]
    struct Keys(Vec<(String, bool)>);

    impl ChannelSink for Keys {
        fn event(&mut self, ev: &ChannelEvent<'_>) -> io::Result<()> {
            if let ChannelEventKind::Data {
                stream: Stream::Stdin,
                data,
                redacted,
                ..
            } = ev.kind
            {
                self.0
                    .push((String::from_utf8_lossy(data).into_owned(), redacted));
            }
            Ok(())
        }
    }

    const PTY_REQ: &str = "6200000000000000077074792d7265710100000005787465726d000000500000001800000000000000000000000100";

    /// Judges a session given as (stream, bytes) steps, a terminal first
    /// unless `terminal` is false.
    fn judge(steps: &[(&str, &[u8])], terminal: bool) -> (Vec<(String, bool)>, Redactions) {
        let mut log = String::new();
        if terminal {
            log.push_str(&format!("2023-06-07T17:32:00Z forward-request {PTY_REQ}\n"));
        }
        for (i, (stream, bytes)) in steps.iter().enumerate() {
            let hex: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
            log.push_str(&format!("2023-06-07T17:32:{:02}Z {stream} {hex}\n", i + 1));
        }
        let mut filter = SecretFilter::new(Keys::default(), SecretRules::default());
        Archive::from_bytes("0.hex", log)
            .replay(&mut filter, &mut |p| panic!("{p}"))
            .unwrap();
        let counts = filter.redactions();
        (filter.into_inner().0, counts)
    }

    fn keys(v: &[(&str, bool)]) -> Vec<(String, bool)> {
        v.iter().map(|(s, r)| (s.to_string(), *r)).collect()
    }

    #[test]
    fn echoed_keys_are_kept_and_unechoed_ones_starred() {
        let (got, n) = judge(
            &[
                ("stdout", b"$ "),
                ("stdin", b"l"),
                ("stdout", b"l"),
                ("stdin", b"s\r"),
                ("stdout", b"s\r\nfile\r\n$ "),
                ("stdin", b"sudo -v\r"),
                ("stdout", b"sudo -v\r\n"),
                ("stdout", b"[sudo] password for u: "),
                ("stdin", b"Sesame"),
                ("stdin", b"\r"),
                ("stdout", b"\r\nSorry, try again.\r\n"),
            ],
            true,
        );
        assert_eq!(
            got,
            keys(&[
                ("l", false),
                ("s\r", false),
                ("sudo -v\r", false),
                ("******", true),
                ("\r", false),
            ])
        );
        assert_eq!(
            n,
            Redactions {
                secrets: 1,
                bytes: 6
            }
        );
    }

    #[test]
    fn a_secret_prompt_redacts_even_what_is_echoed() {
        // `read -p "Password: "` with echo on: the prompt tells.
        let (got, _) = judge(
            &[
                ("stdout", b"Password: "),
                ("stdin", b"abc"),
                ("stdout", b"abc"),
                ("stdin", b"\r"),
                ("stdout", b"\r\n$ "),
                ("stdin", b"ls"),
                ("stdout", b"ls"),
            ],
            true,
        );
        assert_eq!(got, keys(&[("***", true), ("\r", false), ("ls", false)]));
    }

    #[test]
    fn a_password_that_starts_like_the_next_message_is_still_a_secret() {
        let (got, _) = judge(
            &[
                ("stdout", b"Name? "),
                ("stdin", b"Sorry"),
                ("stdout", b"Sorry, no such user\r\n"),
            ],
            true,
        );
        // "Sorry" was typed and the program printed a line starting with
        // it: compared over several bytes it matches, an echo. But a
        // password "Sorrx" would not be.
        assert_eq!(got, keys(&[("Sorry", false)]));
        let (got, _) = judge(
            &[
                ("stdout", b"Name? "),
                ("stdin", b"Sorrx"),
                ("stdout", b"Sorry, no such user\r\n"),
            ],
            true,
        );
        assert_eq!(got, keys(&[("*****", true)]));
    }

    #[test]
    fn redraws_escapes_and_full_screen_programs_are_understood() {
        // Readline redraws start with a carriage return and cursor moves.
        let (got, _) = judge(
            &[
                ("stdout", b"(reverse-i-search)`': "),
                ("stdin", b"c"),
                ("stdout", b"\r\x1b[C\x1b[Cc': echo"),
                ("stdin", b"x"),
                ("stdout", b"\x1b[1@"),
                ("stdout", b"x"),
            ],
            true,
        );
        assert_eq!(got, keys(&[("c", false), ("x", false)]));
        // In vim (the alternate screen) keys are commands to the program.
        let (got, n) = judge(
            &[
                ("stdout", b"\x1b[?1049h~"),
                ("stdin", b"ihello\x1b:wq\r"),
                ("stdout", b"\x1b[?1049l$ "),
            ],
            true,
        );
        assert_eq!(got, keys(&[("ihello\x1b:wq\r", false)]));
        assert_eq!(n, Redactions::default());
    }

    #[test]
    fn without_a_terminal_nothing_is_judged() {
        // An exec's stdin (scp, a script piped in) is the program's input.
        let (got, n) = judge(&[("stdin", b"C0644 5 f\n"), ("stdout", b"\0")], false);
        assert_eq!(got, keys(&[("C0644 5 f\n", false)]));
        assert_eq!(n, Redactions::default());
    }

    #[test]
    fn keys_left_without_an_echo_at_the_end_are_secrets() {
        let (got, n) = judge(&[("stdout", b"PIN? "), ("stdin", b"1234")], true);
        assert_eq!(got, keys(&[("****", true)]));
        assert_eq!(n.secrets, 1);
    }

    #[test]
    fn default_prompts() {
        let rules = SecretRules::default();
        for p in [
            "Password: ",
            "[sudo] password for alice: ",
            "alice@db's password: ",
            "Enter passphrase for key '/home/a/.ssh/id_ed25519': ",
            "Passphrase for key: ",
            "Enter PIN: ",
            "Enter password:",
        ] {
            assert!(rules.is_secret_prompt(p), "{p}");
        }
        for p in [
            "alice@vm:~$ ",
            "Name: ",
            "alice@vm:~$ echo password",
            "PINE: ",
        ] {
            assert!(!rules.is_secret_prompt(p), "{p}");
        }
        let rules = SecretRules::with_prompts(&["^Token: $"]).unwrap();
        assert!(rules.is_secret_prompt("Token: "));
        assert!(SecretRules::with_prompts(&["("]).is_err());
    }

    #[test]
    fn printable_bytes_are_starred_and_controls_kept() {
        let mut d = b"h\xc3\xa9\r\x7f".to_vec();
        assert_eq!(redact(&mut d), 3);
        assert_eq!(d, b"***\r\x7f");
        assert_eq!(printable(b"\x1b[1@ab", true, 8), b"ab");
        assert_eq!(printable(b"\x1b]0;t\x07\r\nx", true, 8), b"");
        assert_eq!(printable(b"\r\x1b[Cc': ", true, 8), b"c': ");
        assert_eq!(printable(b"\x1b[A", false, 8), b"");
        assert_eq!(printable(b"abc\rdef", false, 4), b"abcd");
    }
}
