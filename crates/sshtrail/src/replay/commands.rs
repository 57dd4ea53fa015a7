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
//! - `uncertain`: neither is fully reliable; the best guess is given.
//!
//! Lines typed without any echo (passwords at a prompt) are not commands and
//! are left out; keys typed on the alternate screen (vim, less, top) too.

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
}

impl Confidence {
    /// `exact`, `echo` or `uncertain`.
    pub fn name(self) -> &'static str {
        match self {
            Confidence::Exact => "exact",
            Confidence::Echo => "echo",
            Confidence::Uncertain => "uncertain",
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
            '\x03' => return Key::Cancel,
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
const PROMPT_ENDS: [&str; 5] = ["$ ", "# ", "% ", "> ", "\u{276f} "];

fn from_screen(screen_line: &str, known_prefix: &str) -> Option<String> {
    let prefix = known_prefix.trim_start();
    if !prefix.is_empty() {
        if let Some(at) = screen_line.rfind(prefix) {
            return Some(screen_line[at..].to_string());
        }
    }
    PROMPT_ENDS
        .iter()
        .filter_map(|p| screen_line.find(p).map(|i| i + p.len()))
        .min()
        .map(|i| screen_line[i..].to_string())
}

/// Recovers the commands of one channel from its events, as they come: its
/// exec command, or the lines typed in its shell.
///
/// Feed it the channel's events with [`CommandRecognizer::event`]; take
/// the commands found so far with [`CommandRecognizer::take`]. A line whose
/// echo had not arrived at Enter waits for the output that follows (its
/// first line decides), so it may come out a little later than the Enter;
/// [`CommandRecognizer::waiting_since`] says since when.
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
/// // "$ " on screen, then `ls` typed and echoed, then Enter.
/// let log = b"2023-06-07T17:32:00Z stdout 242020\n2023-06-07T17:32:01Z stdin 6c\n\
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
    /// A line entered before its echo arrived: decided by the output that follows.
    pending: Option<Pending>,
    /// Output goes through `shown` from a line that awaited its echo until
    /// the next keys (even once the line is decided), so that a character
    /// split across chunks joins as it always did.
    showing: bool,
    /// The channel ran an exec command: that is its one command.
    exec: bool,
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
        if self.exec {
            return;
        }
        match ev.kind {
            ChannelEventKind::Request(r) => match &r.kind {
                RequestKind::Exec { command } => {
                    // The exec command is the channel's command; keys typed
                    // into it are input to that program.
                    self.exec = true;
                    self.pending = None;
                    self.found.push(Command {
                        ts: ev.channel.start(),
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
            ChannelEventKind::Data {
                stream: Stream::Stdin,
                data,
                ts,
                ..
            } => self.keys(ev, data, ts),
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
            match self.editor.key(c) {
                Key::None => {}
                Key::Cancel => self.editor.reset(),
                Key::Enter => {
                    let Some(screen) = &self.screen else { continue };
                    if !screen.in_alternate_screen() {
                        let line = screen.cursor_line();
                        self.resolve();
                        match finish_line(&self.editor, &line, ts) {
                            Line::Done(cmd) => self.found.push(cmd),
                            Line::AwaitEcho(p) => self.pending = Some(p),
                            Line::Nothing => {}
                        }
                    }
                    self.editor.reset();
                }
            }
        }
        self.text = text;
        self.showing = self.pending.is_some();
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
    AwaitEcho(Pending),
    Nothing,
}

/// A line whose echo had not arrived when Enter was pressed.
#[derive(Debug)]
struct Pending {
    command: Command,
    line_at_enter: String,
    following: String,
}

impl Pending {
    /// Whether the output that follows can no longer change the verdict:
    /// its first line is complete, or no more of it is kept.
    fn decided(&self) -> bool {
        self.following.contains('\n') || self.following.len() >= FOLLOWING_KEPT
    }

    /// Echoed (the prompt line plus the first line of output ends with the
    /// command): a command. Never echoed: input to a program, such as a
    /// password, and not a command.
    fn resolve(self) -> Option<Command> {
        let first = self
            .following
            .split('\n')
            .next()
            .unwrap_or_default()
            .trim_end_matches('\r');
        let line = format!("{}{first}", self.line_at_enter);
        let cmd = self.command.command.lines().last().unwrap_or_default();
        line.trim_end().ends_with(cmd).then_some(self.command)
    }
}

fn finish_line(editor: &Editor, screen_line: &str, ts: Nanos) -> Line {
    let typed: String = editor.line.iter().collect();
    match &editor.known_prefix {
        None => {
            let cmd = typed.trim();
            if cmd.is_empty() {
                return Line::Nothing;
            }
            let command = Command {
                ts,
                command: cmd.to_string(),
                confidence: Confidence::Exact,
            };
            let last_line = cmd.lines().last().unwrap_or(cmd);
            if screen_line.trim_end().ends_with(last_line) {
                Line::Done(command)
            } else {
                Line::AwaitEcho(Pending {
                    command,
                    line_at_enter: screen_line.to_string(),
                    following: String::new(),
                })
            }
        }
        Some(prefix) => match from_screen(screen_line, prefix) {
            Some(cmd) if !cmd.trim().is_empty() => Line::Done(Command {
                ts,
                command: cmd.trim().to_string(),
                confidence: Confidence::Echo,
            }),
            _ if !typed.trim().is_empty() => Line::Done(Command {
                ts,
                command: typed.trim().to_string(),
                confidence: Confidence::Uncertain,
            }),
            _ => Line::Nothing,
        },
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
        assert_eq!(
            from_screen("alice@db:~$ cd /usr/local/", "cd /us").as_deref(),
            Some("cd /usr/local/")
        );
        assert_eq!(
            from_screen("alice@db:~$ history-recalled", "").as_deref(),
            Some("history-recalled")
        );
        assert_eq!(from_screen("no prompt here", ""), None);
    }
}
