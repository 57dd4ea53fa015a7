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

use crate::channel::{Channel, Step, Stream};
use crate::screen::{strip_ansi, Screen};
use crate::time::Nanos;
use crate::utf8::Utf8Joiner;

/// How a command was recovered.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
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

/// The commands of a channel: its exec command, or the lines typed in its shell.
pub fn commands(ch: &Channel<'_>) -> Result<Vec<Command>, crate::ParseError> {
    let mut out = Vec::new();
    if let Some(cmd) = &ch.exec {
        let ts = ch.started.as_ref().map_or(0, |s| s.0);
        out.push(Command {
            ts,
            command: cmd.clone(),
            confidence: Confidence::Exact,
        });
        return Ok(out);
    }
    let (cols, rows) = ch.pty.as_ref().map_or((80, 24), |p| (p.cols, p.rows));
    let mut screen = Screen::new(cols, rows);
    let mut editor = Editor::default();
    let mut keys = Utf8Joiner::default();
    let mut shown = Utf8Joiner::default();
    let mut buf = Vec::new();
    let mut text = String::new();
    // A line entered before its echo arrived: decided by the output that follows.
    let mut pending: Option<Pending> = None;
    for step in ch.timeline() {
        match step {
            Step::Data(Stream::Stdin, chunk) => {
                if let Some(p) = pending.take() {
                    out.extend(p.resolve());
                }
                chunk.decode(&mut buf)?;
                text.clear();
                keys.push(&buf, &mut text);
                for c in text.chars() {
                    match editor.key(c) {
                        Key::None => {}
                        Key::Cancel => editor.reset(),
                        Key::Enter => {
                            if !screen.in_alternate_screen() {
                                if let Some(p) = pending.take() {
                                    out.extend(p.resolve());
                                }
                                match finish_line(&editor, &screen.cursor_line(), chunk.ts) {
                                    Line::Done(cmd) => out.push(cmd),
                                    Line::AwaitEcho(p) => pending = Some(p),
                                    Line::Nothing => {}
                                }
                            }
                            editor.reset();
                        }
                    }
                }
            }
            Step::Data(_, chunk) => {
                chunk.decode(&mut buf)?;
                screen.feed(&buf);
                if let Some(p) = &mut pending {
                    text.clear();
                    shown.push(&buf, &mut text);
                    if p.following.len() < 4096 {
                        strip_ansi(&text, &mut p.following);
                    }
                }
            }
            Step::Resize(r) => screen.resize(r.cols, r.rows),
            Step::Exit(_) => {}
        }
    }
    if let Some(p) = pending.take() {
        out.extend(p.resolve());
    }
    Ok(out)
}

/// What Enter produced.
enum Line {
    Done(Command),
    AwaitEcho(Pending),
    Nothing,
}

/// A line whose echo had not arrived when Enter was pressed.
struct Pending {
    command: Command,
    line_at_enter: String,
    following: String,
}

impl Pending {
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
