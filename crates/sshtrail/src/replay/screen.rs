//! What the user saw: channel output rendered through a terminal emulator
//! (avt, the one asciinema uses), as a transcript that keeps what scrolled
//! away or was cleared, or as the screen at one moment.

use crate::utf8::Utf8Joiner;

/// Sequences after which the screen's content is gone: clear screen, clear
/// scrollback, reset, and switching to or from the alternate screen.
const CLEARS: [&str; 9] = [
    "\x1b[2J",
    "\x1b[3J",
    "\x1bc",
    "\x1b[?1049h",
    "\x1b[?1049l",
    "\x1b[?47h",
    "\x1b[?47l",
    "\x1b[?1047h",
    "\x1b[?1047l",
];
/// The largest terminal emulated: far beyond any real screen, small enough
/// that a hostile pty-req cannot make every clear walk millions of cells.
const MAX_COLS: usize = 1000;
const MAX_ROWS: usize = 500;

const ALT_ON: [&str; 3] = ["\x1b[?1049h", "\x1b[?47h", "\x1b[?1047h"];
const ALT_OFF: [&str; 3] = ["\x1b[?1049l", "\x1b[?47l", "\x1b[?1047l"];

/// A terminal fed with a channel's output.
///
/// With a transcript ([`Screen::with_transcript`]), the lines that leave
/// the screen (scrolled away, cleared, or left for the alternate screen)
/// are kept until [`Screen::take_transcript`] takes them, so a writer can
/// write them as they come and memory stays at one screen.
///
/// ```
/// use sshtrail::replay::Screen;
/// let mut s = Screen::with_transcript(20, 2);
/// s.feed(b"one\r\ntwo\r\nthree");
/// assert_eq!(s.view(), ["two", "three"]);
/// assert_eq!(s.take_transcript(), ["one"]);
/// assert_eq!(s.into_transcript(), ["two", "three"]);
/// ```
pub struct Screen {
    vt: avt::Vt,
    /// Lines that left the screen, when a transcript is kept.
    transcript: Option<Vec<String>>,
    joiner: Utf8Joiner,
    alt: bool,
    text: String,
    /// Whether output arrived since the last clear (a clear of a screen
    /// with nothing new on it keeps nothing).
    dirty: bool,
}

impl std::fmt::Debug for Screen {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Screen")
            .field("size", &self.vt.size())
            .field("alt", &self.alt)
            .finish()
    }
}

fn line_text(line: &avt::Line) -> String {
    line.text().trim_end().to_string()
}

impl Screen {
    /// A blank screen of `cols` x `rows` (at least 1 x 1), keeping no
    /// transcript.
    pub fn new(cols: u32, rows: u32) -> Self {
        let vt = avt::Vt::builder()
            .size(
                (cols as usize).clamp(1, MAX_COLS),
                (rows as usize).clamp(1, MAX_ROWS),
            )
            .scrollback_limit(0)
            .build();
        Screen {
            vt,
            transcript: None,
            joiner: Utf8Joiner::default(),
            alt: false,
            text: String::new(),
            dirty: false,
        }
    }

    /// A blank screen that keeps the lines leaving it, for a transcript.
    pub fn with_transcript(cols: u32, rows: u32) -> Self {
        Screen {
            transcript: Some(Vec::new()),
            ..Screen::new(cols, rows)
        }
    }

    /// Feeds output bytes (UTF-8 split across calls is joined).
    pub fn feed(&mut self, bytes: &[u8]) {
        let mut text = std::mem::take(&mut self.text);
        text.clear();
        self.joiner.push(bytes, &mut text);
        let mut rest = text.as_str();
        // Feed up to each clearing sequence, keeping the screen it wipes.
        while let Some((at, seq)) = CLEARS
            .iter()
            .filter_map(|c| rest.find(c).map(|i| (i, *c)))
            .min()
        {
            self.feed_str(&rest[..at]);
            self.snapshot();
            self.feed_str(seq);
            if ALT_ON.contains(&seq) {
                self.alt = true;
            } else if ALT_OFF.contains(&seq) {
                self.alt = false;
            }
            rest = &rest[at + seq.len()..];
        }
        self.feed_str(rest);
        self.text = text;
    }

    fn feed_str(&mut self, s: &str) {
        if s.is_empty() {
            return;
        }
        self.dirty = true;
        let changes = self.vt.feed_str(s);
        if let Some(t) = &mut self.transcript {
            t.extend(changes.scrollback.map(|l| line_text(&l)));
        }
    }

    /// Appends the visible screen to the transcript (what a clear would lose).
    fn snapshot(&mut self) {
        if self.transcript.is_none() {
            return;
        }
        let mut view = self.view();
        while view.last().is_some_and(String::is_empty) {
            view.pop();
        }
        if let Some(t) = &mut self.transcript {
            t.extend(view);
        }
    }

    /// Resizes the terminal.
    pub fn resize(&mut self, cols: u32, rows: u32) {
        let changes = self.vt.resize(
            (cols as usize).clamp(1, MAX_COLS),
            (rows as usize).clamp(1, MAX_ROWS),
        );
        if let Some(t) = &mut self.transcript {
            t.extend(changes.scrollback.map(|l| line_text(&l)));
        }
    }

    /// The visible lines, right-trimmed.
    pub fn view(&self) -> Vec<String> {
        self.vt.view().map(line_text).collect()
    }

    /// The text of the line the cursor is on.
    pub fn cursor_line(&self) -> String {
        let row = self.vt.cursor().row;
        self.vt.view().nth(row).map(line_text).unwrap_or_default()
    }

    /// Whether a full-screen program switched to the alternate screen.
    pub fn in_alternate_screen(&self) -> bool {
        self.alt
    }

    /// Bytes that were not UTF-8 and became U+FFFD.
    pub fn replaced_bytes(&self) -> u64 {
        self.joiner.replaced()
    }

    /// The transcript lines that left the screen since the last call, in
    /// order (none without a transcript).
    pub fn take_transcript(&mut self) -> Vec<String> {
        self.transcript
            .as_mut()
            .map(std::mem::take)
            .unwrap_or_default()
    }

    /// The rest of the transcript: lines not taken yet and the final screen,
    /// without trailing blank lines. Without a transcript, the final screen.
    pub fn into_transcript(mut self) -> Vec<String> {
        let mut tail = String::new();
        self.joiner.finish(&mut tail);
        if !tail.is_empty() {
            self.vt.feed_str(&tail);
        }
        if self.transcript.is_none() {
            self.transcript = Some(Vec::new());
        }
        self.snapshot();
        let mut t = self.transcript.unwrap_or_default();
        while t.last().is_some_and(String::is_empty) {
            t.pop();
        }
        t
    }
}

/// Removes terminal escape sequences and control characters from output text.
pub fn strip_ansi(text: &str, out: &mut String) {
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\x1b' => match chars.next() {
                Some('[') => {
                    for d in chars.by_ref() {
                        if ('\x40'..='\x7e').contains(&d) {
                            break;
                        }
                    }
                }
                Some(']') | Some('P') | Some('_') => {
                    while let Some(d) = chars.next() {
                        if d == '\x07' || (d == '\x1b' && chars.peek() == Some(&'\\')) {
                            if d == '\x1b' {
                                chars.next();
                            }
                            break;
                        }
                    }
                }
                _ => {}
            },
            '\n' | '\t' => out.push(c),
            // Backspace moves back over what the next character replaces.
            '\x08' => {
                if !out.ends_with('\n') {
                    out.pop();
                }
            }
            c if c.is_control() => {}
            c => out.push(c),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ansi_is_stripped() {
        let mut out = String::new();
        strip_ansi(
            "\x1b[01;34mbin\x1b[0m\r\n\x1b]0;title\x07$ lss\x08\x1b[K",
            &mut out,
        );
        assert_eq!(out, "bin\n$ ls");
    }

    #[test]
    fn cleared_screens_stay_in_the_transcript() {
        let mut s = Screen::with_transcript(20, 3);
        s.feed(b"ls\r\na b c\r\n$ clear\r\n\x1b[H\x1b[2J\x1b[3J$ vim\r\n");
        s.feed(b"\x1b[?1049h\x1b[Hfile contents\x1b[?1049l");
        s.feed(b"$ exit");
        let t = s.into_transcript();
        assert_eq!(
            t,
            [
                "ls",
                "a b c",
                "$ clear",
                "$ vim",
                "file contents",
                "$ vim",
                "$ exit"
            ]
        );
    }

    #[test]
    fn alternate_screen_is_tracked_and_utf8_joined() {
        let mut s = Screen::new(10, 2);
        s.feed(b"\x1b[?1049h");
        assert!(s.in_alternate_screen());
        s.feed(b"\x1b[?1049l\xc3");
        assert!(!s.in_alternate_screen());
        s.feed(b"\xa9");
        assert_eq!(s.cursor_line(), "\u{e9}");
    }
}
