//! The command lines a user ran, recovered from a channel.
//!
//! Keystrokes go through a model of the shell's line editor (insert,
//! backspace/DEL, Ctrl-U/W/K, Ctrl-A/E/B/F, arrows, Home/End/Delete,
//! bracketed paste, Ctrl-C, Ctrl-D); at Enter, the line the emulated screen
//! shows is the cross-check. Each command says how sure it is:
//!
//! - `exact`: the editor model knew every key, and the screen echoed it;
//! - `echo`: completion or history recall changed the line in ways the keys
//!   alone do not tell, so the command was read off the screen;
//! - `uncertain`: neither is fully reliable; the best guess is given;
//! - `abandoned`: typed and given up with Ctrl-C or Ctrl-U, never run.
//!
//! The command is what follows the prompt on the screen: the prompt is
//! what stood before the cursor when the line's first key was typed, and
//! the line is read over every row it wrapped on, up to the cursor (so
//! spaces typed at its end count). A line typed after a prompt that is not
//! a shell's (`Name: `, no prompt at all) is a program's input, not a
//! command. A line with a history expansion (`!!`, `!$`, `^a^b`) is what
//! bash printed before running it.
//!
//! Lines typed without any echo (passwords at a prompt) are not commands and
//! are left out; keys typed on the alternate screen (vim, less, top) too.
//! Only a channel with a terminal (a `pty-req`) has typed commands; an exec
//! request is its channel's command, at the request's time.

use super::screen::{strip_ansi, Screen};
use crate::channel::{ChannelEvent, ChannelEventKind, RequestKind, Stream};
use crate::time::Nanos;
use crate::utf8::Utf8Joiner;

/// How a command was recovered.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
#[non_exhaustive]
pub enum Confidence {
    /// Every key was understood and the screen agrees.
    Exact,
    /// Read off the screen (completion or history recall was used).
    Echo,
    /// A best guess.
    Uncertain,
    /// Typed and given up (Ctrl-C, or Ctrl-U clearing the line): never
    /// run, but evidence of intent.
    Abandoned,
}

impl Confidence {
    /// `exact`, `echo`, `uncertain` or `abandoned`.
    pub fn name(self) -> &'static str {
        match self {
            Confidence::Exact => "exact",
            Confidence::Echo => "echo",
            Confidence::Uncertain => "uncertain",
            Confidence::Abandoned => "abandoned",
        }
    }
}

/// One command line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Command {
    /// When Enter was pressed (or the exec request's time).
    pub ts: Nanos,
    /// The command line.
    pub command: String,
    /// How it was recovered.
    pub confidence: Confidence,
}

/// The line editor model.
#[derive(Debug, Default)]
struct Editor {
    line: Vec<char>,
    cursor: usize,
    /// Text typed before the first key the model cannot follow.
    known_prefix: Option<String>,
    esc: Option<String>,
    paste: bool,
    /// The line as it stood before a key that gave it up (Ctrl-C, Ctrl-U).
    killed: Option<String>,
}

/// What a key did.
enum Key {
    None,
    Enter,
    Cancel,
}

impl Editor {
    fn unsure(&mut self) {
        if self.known_prefix.is_none() {
            self.known_prefix = Some(self.line.iter().collect());
        }
    }

    fn reset(&mut self) {
        *self = Editor::default();
    }

    fn insert(&mut self, c: char) {
        self.line.insert(self.cursor, c);
        self.cursor += 1;
    }

    fn word_start(&self) -> usize {
        let mut i = self.cursor;
        while i > 0 && self.line[i - 1] == ' ' {
            i -= 1;
        }
        while i > 0 && self.line[i - 1] != ' ' {
            i -= 1;
        }
        i
    }

    fn word_end(&self) -> usize {
        let mut i = self.cursor;
        while i < self.line.len() && self.line[i] == ' ' {
            i += 1;
        }
        while i < self.line.len() && self.line[i] != ' ' {
            i += 1;
        }
        i
    }

    fn escape(&mut self, seq: &str) -> Key {
        match seq {
            "[200~" => self.paste = true,
            "[201~" => self.paste = false,
            "[C" | "OC" => self.cursor = (self.cursor + 1).min(self.line.len()),
            "[D" | "OD" => self.cursor = self.cursor.saturating_sub(1),
            "[H" | "OH" | "[1~" | "[7~" => self.cursor = 0,
            "[F" | "OF" | "[4~" | "[8~" => self.cursor = self.line.len(),
            "[3~" => {
                if self.cursor < self.line.len() {
                    self.line.remove(self.cursor);
                }
            }
            "b" => self.cursor = self.word_start(),
            "f" => self.cursor = self.word_end(),
            "\x7f" | "\x08" => {
                let start = self.word_start();
                self.line.drain(start..self.cursor);
                self.cursor = start;
            }
            // History (up/down), anything else: the model loses track.
            _ => self.unsure(),
        }
        Key::None
    }

    fn key(&mut self, c: char) -> Key {
        if let Some(seq) = &mut self.esc {
            seq.push(c);
            let s = seq.as_str();
            let done = match s.as_bytes()[0] {
                b'[' => s.len() > 1 && matches!(c, '\x40'..='\x7e'),
                b'O' => s.len() > 1,
                _ => true,
            };
            if s.len() > 16 {
                self.esc = None;
                self.unsure();
            } else if done {
                let seq = self.esc.take().unwrap_or_default();
                return self.escape(&seq);
            }
            return Key::None;
        }
        if c == '\x1b' {
            self.esc = Some(String::new());
            return Key::None;
        }
        if self.paste {
            match c {
                '\r' => self.insert('\n'),
                c => self.insert(c),
            }
            return Key::None;
        }
        match c {
            '\r' | '\n' => return Key::Enter,
            '\x03' => {
                self.killed = Some(self.line.iter().collect());
                return Key::Cancel;
            }
            '\x04' if self.line.is_empty() => return Key::Cancel,
            '\x04' => {
                if self.cursor < self.line.len() {
                    self.line.remove(self.cursor);
                }
            }
            '\x01' => self.cursor = 0,
            '\x05' => self.cursor = self.line.len(),
            '\x02' => self.cursor = self.cursor.saturating_sub(1),
            '\x06' => self.cursor = (self.cursor + 1).min(self.line.len()),
            '\x08' | '\x7f' => {
                if self.cursor > 0 {
                    self.cursor -= 1;
                    self.line.remove(self.cursor);
                }
            }
            '\x15' => {
                self.killed = Some(self.line.iter().collect());
                self.line.drain(..self.cursor);
                self.cursor = 0;
            }
            '\x0b' => self.line.truncate(self.cursor),
            '\x17' => {
                let start = self.word_start();
                self.line.drain(start..self.cursor);
                self.cursor = start;
            }
            '\x0c' => {}
            // Tab completion, reverse search, and other editing keys.
            c if c.is_control() => self.unsure(),
            c => self.insert(c),
        }
        Key::None
    }
}

/// Prompt endings, for reading a command off the screen.
const PROMPT_ENDS: [&str; 6] = ["$ ", "# ", "% ", "> ", "\u{276f} ", "\u{279c} "];

/// Whether `prompt` (the text before the cursor when a line began) is a
/// shell's: it ends, spaces aside, with `$`, `#`, `%`, `>`, `❯` or `➜`.
fn is_shell_prompt(prompt: &str) -> bool {
    prompt
        .trim_end()
        .ends_with(['$', '#', '%', '>', '\u{276f}', '\u{279c}'])
}

/// The command after the first prompt ending in `line`.
fn after_prompt_end(line: &str) -> Option<String> {
    PROMPT_ENDS
        .iter()
        .filter_map(|p| line.find(p).map(|i| i + p.len()))
        .min()
        .map(|i| line[i..].to_string())
}

/// What the screen shows of the line being entered.
enum OnScreen {
    /// The text after the shell's prompt, spaces before the cursor kept.
    Command(String),
    /// The line answers a program's prompt (or none): not a command.
    NotShell,
    /// The prompt could not be found.
    Unknown,
}

/// Reads the line being entered off `screen`, after `prompt` (the text
/// before the cursor when the line began).
fn on_screen(screen: &Screen, prompt: Option<&str>) -> OnScreen {
    let (text, cursor) = screen.cursor_logical_line();
    let shown = text.trim_end().chars().count();
    let line: String = text.chars().take(cursor.max(shown)).collect();
    if let Some(p) = prompt {
        if let Some(rest) = line.strip_prefix(p) {
            return if is_shell_prompt(p) {
                OnScreen::Command(rest.to_string())
            } else {
                OnScreen::NotShell
            };
        }
    }
    // A history search being accepted shows `(reverse-i-search)`text': `
    // and the line found; bash redraws the prompt only after the Enter.
    if let Some(at) = line.find("-i-search)`") {
        if let Some(end) = line[at..].find("': ") {
            return OnScreen::Command(line[at + end + 3..].to_string());
        }
    }
    // Typed ahead, or the prompt was redrawn (a completion listing): find
    // the prompt's end on the line.
    match after_prompt_end(&line) {
        Some(cmd) => OnScreen::Command(cmd),
        None => OnScreen::Unknown,
    }
}

/// Whether bash would expand history in `cmd`: `^old^new` at its start, or
/// a `!` (outside single quotes) followed by anything but a blank, `=` or
/// `(`.
fn expands_history(cmd: &str) -> bool {
    if cmd.trim_start().starts_with('^') {
        return true;
    }
    let mut quoted = false;
    let mut chars = cmd.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\'' => quoted = !quoted,
            '\\' => {
                chars.next();
            }
            '!' if !quoted => {
                if let Some(&n) = chars.peek() {
                    if !matches!(n, ' ' | '\t' | '=' | '(') {
                        return true;
                    }
                }
            }
            _ => {}
        }
    }
    false
}

/// Recovers the commands of one channel from its events, as they come: its
/// exec command, and the lines typed at its shell's prompt.
///
/// Feed it the channel's events with [`CommandRecognizer::event`]; take
/// the commands found so far with [`CommandRecognizer::take`]. A line whose
/// echo had not arrived at Enter waits for the output that follows (its
/// first line decides), and a line with a history expansion for the line
/// bash prints, so it may come out a little later than the Enter;
/// [`CommandRecognizer::waiting_since`] says since when. Lines given up
/// come out with [`Confidence::Abandoned`]: a caller that lists what ran
/// leaves them out.
///
/// ```
/// use sshtrail::channel::{ChannelBuilder, ChannelEvent, ChannelSink};
/// use sshtrail::connection::Context;
/// use sshtrail::replay::CommandRecognizer;
/// use sshtrail::SliceReader;
///
/// struct Commands(CommandRecognizer);
/// impl ChannelSink for Commands {
///     fn event(&mut self, ev: &ChannelEvent<'_>) -> std::io::Result<()> {
///         self.0.event(ev);
///         Ok(())
///     }
/// }
/// // A terminal (pty-req 80x24), "$ " on screen, then `ls` typed and
/// // echoed, then Enter.
/// let log = b"2023-06-07T17:31:59Z forward-request 6200000000000000077074792d7265710100000005787465726d000000500000001800000000000000000000000100\n\
/// 2023-06-07T17:32:00Z stdout 242020\n2023-06-07T17:32:01Z stdin 6c\n\
/// 2023-06-07T17:32:01Z stdout 6c\n2023-06-07T17:32:02Z stdin 73\n2023-06-07T17:32:02Z stdout 73\n\
/// 2023-06-07T17:32:03Z stdin 0d\n";
/// let mut sink = Commands(CommandRecognizer::default());
/// let mut builder = ChannelBuilder::new(Context::channel("0"), None);
/// for ev in SliceReader::new(log) {
///     builder.push(&ev.unwrap(), &mut sink).unwrap();
/// }
/// builder.finish(None, &mut sink).unwrap();
/// let commands = sink.0.take();
/// assert_eq!(commands[0].command, "ls");
/// ```
#[derive(Debug, Default)]
pub struct CommandRecognizer {
    screen: Option<Screen>,
    editor: Editor,
    keys: Utf8Joiner,
    shown: Utf8Joiner,
    text: String,
    /// What stood before the cursor when the line's first key was typed.
    prompt: Option<String>,
    /// The line being typed holds redacted keys (a secret).
    secret_line: bool,
    /// A line entered whose command the output that follows decides.
    pending: Option<Pending>,
    /// Output goes through `shown` from a line that awaited its echo until
    /// the next keys (even once the line is decided), so that a character
    /// split across chunks joins as it always did.
    showing: bool,
    found: Vec<Command>,
}

impl CommandRecognizer {
    fn screen(&mut self, ev: &ChannelEvent<'_>) -> &mut Screen {
        self.screen.get_or_insert_with(|| {
            let (cols, rows) = ev
                .channel
                .pty
                .as_ref()
                .map_or((80, 24), |p| (p.cols, p.rows));
            Screen::new(cols, rows)
        })
    }

    /// Folds in one event of the channel.
    pub fn event(&mut self, ev: &ChannelEvent<'_>) {
        match ev.kind {
            ChannelEventKind::Request(r) => match &r.kind {
                RequestKind::Exec { command } => {
                    // The exec command is the channel's command, at the time
                    // it was asked for. Without a terminal, keys sent to it
                    // are input to that program; with one (`ssh -t host
                    // sudo -i`), lines typed at a shell prompt are commands
                    // too.
                    self.pending = None;
                    self.found.push(Command {
                        ts: r.ts,
                        command: command.clone(),
                        confidence: Confidence::Exact,
                    });
                }
                RequestKind::WindowChange { cols, rows } => {
                    let (cols, rows) = (*cols, *rows);
                    self.screen(ev).resize(cols, rows);
                }
                _ => {}
            },
            // Only a terminal's lines are typed commands: the data of
            // subsystems (sftp), forwarded ports and agent channels, and of
            // programs run without a terminal, never is.
            ChannelEventKind::Data { .. } if ev.channel.pty.is_none() => {}
            ChannelEventKind::Data {
                stream: Stream::Stdin,
                data,
                ts,
                redacted,
                ..
            } => {
                // A line with a secret in it answers a prompt: never a
                // command.
                self.secret_line |= redacted;
                self.keys(ev, data, ts)
            }
            ChannelEventKind::Data { data, .. } => {
                self.screen(ev).feed(data);
                if self.showing {
                    self.text.clear();
                    self.shown.push(data, &mut self.text);
                }
                if let Some(p) = &mut self.pending {
                    if p.following.len() < FOLLOWING_KEPT {
                        strip_ansi(&self.text, &mut p.following);
                    }
                    if p.decided() {
                        self.resolve();
                    }
                }
            }
            ChannelEventKind::Ended { .. } => self.resolve(),
            _ => {}
        }
    }

    fn resolve(&mut self) {
        if let Some(p) = self.pending.take() {
            self.found.extend(p.resolve());
        }
    }

    fn keys(&mut self, ev: &ChannelEvent<'_>, data: &[u8], ts: Nanos) {
        self.resolve();
        self.screen(ev);
        self.text.clear();
        self.keys.push(data, &mut self.text);
        let text = std::mem::take(&mut self.text);
        for c in text.chars() {
            let Some(screen) = &self.screen else { break };
            if screen.in_alternate_screen() {
                // A full-screen program's keys (vim, less, top) are its own.
                self.editor.reset();
                self.prompt = None;
                self.secret_line = false;
                continue;
            }
            if self.prompt.is_none() {
                // The line's first key: what stands before the cursor is
                // the prompt.
                let (line, cursor) = screen.cursor_logical_line();
                self.prompt = Some(line.chars().take(cursor).collect());
            }
            let before = self.editor.line.len();
            match self.editor.key(c) {
                Key::None => {
                    // Ctrl-U clearing the whole line gives it up.
                    if c == '\x15' && before > 0 && self.editor.line.is_empty() {
                        self.abandon(ts);
                        self.prompt = None;
                    }
                }
                Key::Cancel => {
                    self.abandon(ts);
                    self.editor.reset();
                    self.prompt = None;
                    self.secret_line = false;
                }
                Key::Enter => {
                    let secret = std::mem::take(&mut self.secret_line);
                    if !secret {
                        self.resolve();
                        match self.finish_line(ts) {
                            Line::Done(cmd) => self.found.push(cmd),
                            Line::Await(p) => self.pending = Some(p),
                            Line::Nothing => {}
                        }
                    }
                    self.editor.reset();
                    self.prompt = None;
                }
            }
        }
        self.text = text;
        self.showing = self.pending.is_some();
    }

    /// The line as it stood when given up, as an abandoned command (the
    /// editor's text before the key that gave it up, else the screen's).
    fn abandon(&mut self, ts: Nanos) {
        let Some(screen) = &self.screen else { return };
        let typed: String = self.editor.killed.take().unwrap_or_default();
        let text = match (&self.editor.known_prefix, typed.trim().is_empty()) {
            (None, false) => Some(typed),
            _ => match on_screen(screen, self.prompt.as_deref()) {
                OnScreen::Command(c) if !c.trim().is_empty() => Some(c),
                _ => None,
            },
        };
        if let Some(command) = text {
            if self.secret_line || !self.prompt.as_deref().is_some_and(is_shell_prompt) {
                return;
            }
            self.found.push(Command {
                ts,
                command: command.trim_end().to_string(),
                confidence: Confidence::Abandoned,
            });
        }
    }

    /// What Enter made of the line: a command (maybe awaiting its echo or
    /// its expansion), or nothing.
    fn finish_line(&self, ts: Nanos) -> Line {
        let Some(screen) = &self.screen else {
            return Line::Nothing;
        };
        let typed: String = self.editor.line.iter().collect();
        let shown = on_screen(screen, self.prompt.as_deref());
        let (command, confidence) = match (&self.editor.known_prefix, shown) {
            (_, OnScreen::NotShell) => return Line::Nothing,
            // Every key was understood.
            (None, shown) => {
                if typed.trim().is_empty() {
                    return Line::Nothing;
                }
                match shown {
                    OnScreen::Command(s) if s.trim_end() == typed.trim_end() => {
                        (typed, Confidence::Exact)
                    }
                    // The echo is late (typed fast, a slow link): the
                    // output that follows decides.
                    OnScreen::Command(s) if typed.trim_end().starts_with(s.trim_end()) => {
                        return Line::Await(Pending::echo_of(screen, ts, typed));
                    }
                    OnScreen::Command(s) if !s.trim().is_empty() => (s, Confidence::Echo),
                    _ => {
                        return Line::Await(Pending::echo_of(screen, ts, typed));
                    }
                }
            }
            // Completion, history, a search: the screen tells.
            (Some(_), OnScreen::Command(s)) if !s.trim().is_empty() => (s, Confidence::Echo),
            (Some(_), _) if !typed.trim().is_empty() => (typed, Confidence::Uncertain),
            _ => return Line::Nothing,
        };
        let command = Command {
            ts,
            command,
            confidence,
        };
        if expands_history(&command.command) {
            // Bash prints the expanded line before running it.
            return Line::Await(Pending {
                command,
                line_at_enter: String::new(),
                following: String::new(),
                expansion: true,
            });
        }
        Line::Done(command)
    }

    /// The terminal the recognizer emulates for `ev`'s channel (made at
    /// the size of its `pty-req`, if not yet). The recognizer only feeds
    /// and resizes it; a caller that also wants what the terminal showed
    /// can keep its transcript ([`Screen::keep_transcript`]) rather than
    /// run a second emulator on the same output.
    pub fn screen_mut(&mut self, ev: &ChannelEvent<'_>) -> &mut Screen {
        self.screen(ev)
    }

    /// Gives up the emulated screen (at the channel's end, for the rest of
    /// its transcript); `None` if the channel made none.
    pub fn take_screen(&mut self) -> Option<Screen> {
        self.screen.take()
    }

    /// The commands found since the last call, in order.
    pub fn take(&mut self) -> Vec<Command> {
        std::mem::take(&mut self.found)
    }

    /// The time of the Enter of a line still waiting for its echo: commands
    /// found later are never earlier than this.
    pub fn waiting_since(&self) -> Option<Nanos> {
        self.pending.as_ref().map(|p| p.command.ts)
    }
}

/// How much of the output after a line waiting for its echo is kept (its
/// first line decides).
const FOLLOWING_KEPT: usize = 4096;

/// What Enter produced.
enum Line {
    Done(Command),
    Await(Pending),
    Nothing,
}

/// A line entered whose command the output that follows decides.
#[derive(Debug)]
struct Pending {
    command: Command,
    line_at_enter: String,
    following: String,
    /// Waiting for the expansion bash prints (else for the echo).
    expansion: bool,
}

impl Pending {
    /// `typed` (entered at `ts`), taken as exact if the output that follows
    /// `screen`'s line at Enter echoes it.
    fn echo_of(screen: &Screen, ts: Nanos, typed: String) -> Pending {
        let (text, _) = screen.cursor_logical_line();
        Pending {
            command: Command {
                ts,
                command: typed,
                confidence: Confidence::Exact,
            },
            line_at_enter: text.trim_end().to_string(),
            following: String::new(),
            expansion: false,
        }
    }
}

impl Pending {
    /// Whether the output that follows can no longer change the verdict:
    /// its deciding line is complete, or no more of it is kept.
    fn decided(&self) -> bool {
        let lines_needed = if self.expansion { 2 } else { 1 };
        self.following.matches('\n').count() >= lines_needed
            || self.following.len() >= FOLLOWING_KEPT
    }

    /// Echo: echoed (the prompt line plus the first line of output ends
    /// with the command) is a command; never echoed is input to a program,
    /// such as a password. Expansion: the line after the command's own is
    /// what bash ran, unless it says the event was not found (then nothing
    /// ran).
    fn resolve(mut self) -> Option<Command> {
        let mut lines = self.following.split('\n').map(|l| l.trim_end_matches('\r'));
        let first = lines.next().unwrap_or_default();
        if self.expansion {
            let ran = lines.next().unwrap_or_default();
            if ran.trim().is_empty() || ran.contains(": event not found") {
                return None;
            }
            if ran.contains("substitution failed") {
                return None;
            }
            self.command.command = ran.to_string();
            self.command.confidence = Confidence::Echo;
            return Some(self.command);
        }
        let line = format!("{}{first}", self.line_at_enter);
        let cmd = self.command.command.lines().last().unwrap_or_default();
        line.trim_end()
            .ends_with(cmd.trim_end())
            .then_some(self.command)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn edit(keys: &str) -> String {
        let mut e = Editor::default();
        for c in keys.chars() {
            if let Key::Cancel = e.key(c) {
                e.reset();
            }
        }
        e.line.iter().collect()
    }

    #[test]
    fn the_line_editor() {
        assert_eq!(edit("lss\x7f -l"), "ls -l");
        assert_eq!(edit("ls\x08\x08cat"), "cat");
        assert_eq!(edit("rm -rf /\x15echo ok"), "echo ok");
        assert_eq!(edit("git commit -m\x17push"), "git commit push");
        assert_eq!(edit("tail\x01sudo \x05 -f"), "sudo tail -f");
        assert_eq!(edit("ac\x1b[Db\x1b[Cd"), "abcd");
        assert_eq!(edit("bc\x1bOHa\x1b[Fd"), "abcd");
        assert_eq!(edit("abxc\x1b[D\x1b[D\x1b[3~"), "abc");
        assert_eq!(edit("oops\x03ls"), "ls");
        assert_eq!(edit("\x1b[200~echo a\rb\x1b[201~"), "echo a\nb");
        assert_eq!(edit("one two\x1bbX"), "one Xtwo");
        assert_eq!(edit("abc\x1b[D\x0b"), "ab");
    }

    #[test]
    fn unknown_keys_make_the_model_unsure() {
        let mut e = Editor::default();
        for c in "cd /us\t".chars() {
            e.key(c);
        }
        assert_eq!(e.known_prefix.as_deref(), Some("cd /us"));
        let mut e = Editor::default();
        for c in "\x1b[A".chars() {
            e.key(c);
        }
        assert_eq!(e.known_prefix.as_deref(), Some(""));
    }

    #[test]
    fn reading_commands_off_the_screen() {
        let mut screen = Screen::new(20, 4);
        screen.feed(b"alice@db:~$ cd /usr/local/ ");
        match on_screen(&screen, Some("alice@db:~$ ")) {
            OnScreen::Command(c) => assert_eq!(c, "cd /usr/local/ "),
            _ => panic!("a command"),
        }
        match on_screen(&screen, None) {
            OnScreen::Command(c) => assert_eq!(c, "cd /usr/local/ "),
            _ => panic!("found by the prompt's end"),
        }
        let mut screen = Screen::new(40, 4);
        screen.feed(b"Name: bob");
        assert!(matches!(
            on_screen(&screen, Some("Name: ")),
            OnScreen::NotShell
        ));
        assert!(matches!(on_screen(&screen, None), OnScreen::Unknown));
        let mut screen = Screen::new(60, 4);
        screen.feed(b"(reverse-i-search)`fir': echo first-command");
        match on_screen(&screen, Some("u@h:~$ ")) {
            OnScreen::Command(c) => assert_eq!(c, "echo first-command"),
            _ => panic!("the line found"),
        }
    }

    #[test]
    fn history_expansion_is_told() {
        for cmd in ["!!", "echo !$", "!-2", "^two^TWO", "!ec", "sudo !!"] {
            assert!(expands_history(cmd), "{cmd}");
        }
        for cmd in [
            "echo hi!",
            "echo 'a!b'",
            "[ ! -f x ]",
            "a != b",
            "echo \\!x",
        ] {
            assert!(!expands_history(cmd), "{cmd}");
        }
    }
}
