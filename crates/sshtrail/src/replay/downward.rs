//! Which output can only write at the cursor and move it down: a screen
//! keeping each row's time then knows that the rows above where the
//! cursor started were only moved up by scrolling, and need not be read
//! again ([`super::Screen`]).
//!
//! The scan follows avt's parser (a DEC ANSI parser) through escape
//! sequences, so that a sequence cut between two chunks is still read as
//! a sequence. It only says yes to what it knows: printing, the C0
//! controls (none moves the cursor up), strings (titles), and a few
//! control sequences that act on the cursor's row alone. Anything else,
//! or a parser state it lost track of, says no, and the caller reads every
//! row the terminal marked, as it would without this scan.

/// Where the terminal's parser stands after the output scanned so far.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum ParserState {
    /// Printing.
    Ground,
    /// After ESC.
    Escape,
    /// After ESC and intermediate bytes, the last of which counts.
    EscapeIntermediate { last: u8 },
    /// Inside a control sequence.
    Csi(CsiRead),
    /// Inside an operating system command (a window title): nothing in it
    /// is printed or executed.
    Osc,
    /// Not known: output was fed without being scanned, or went where the
    /// scan does not follow (C1 controls, device control strings). The
    /// next ESC puts the parser back in a known state.
    Unknown,
}

/// What is known of a control sequence being read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct CsiRead {
    /// No byte of it read yet.
    entry: bool,
    /// Only digits and separators so far: no private marker, no
    /// intermediate.
    plain: bool,
    /// A DEC private mode set or reset so far (`?` first, nothing else).
    private: bool,
    /// The first part of the parameter being read, as avt reads it (a
    /// `u16` that wraps), and whether its digits still go there (not after
    /// a `:`).
    value: u16,
    first_part: bool,
    /// Parameters ended so far.
    params: u8,
    /// Whether one of them names the alternate screen (47, 1047, 1049).
    alternate: bool,
    /// Whether avt may read the parameters otherwise than counted here
    /// (more of them than it keeps).
    unsure: bool,
}

impl CsiRead {
    const NEW: CsiRead = CsiRead {
        entry: true,
        plain: true,
        private: false,
        value: 0,
        first_part: true,
        params: 0,
        alternate: false,
        unsure: false,
    };

    /// Ends the parameter being read.
    fn end_param(&mut self) {
        self.alternate |= matches!(self.value, 47 | 1047 | 1049);
        self.value = 0;
        self.first_part = true;
        self.params = self.params.saturating_add(1);
        // avt keeps 32 parameters and adds the digits of any more to its
        // last one.
        self.unsure |= self.params >= 31;
    }
}

/// Which screen buffer the terminal shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Buffer {
    /// The one that scrolls lines away (which a transcript follows).
    Primary,
    /// The one full-screen programs use, which scrolls nothing away.
    Alternate,
    /// Not known (output went by that the scan did not follow).
    Unknown,
}

/// Control sequences (their final byte, with no intermediate and no
/// private marker) that act only on the cursor's row: insert characters,
/// cursor forward and backward, cursor to a column, erase in line, delete
/// characters, erase characters, and graphic rendition (colours).
const ROW_SEQUENCES: &[u8] = b"@CDGKPXm";

/// Whether `text[at]` starts a C1 control (U+0080 to U+009F, in UTF-8
/// `0xc2` then `0x80..=0x9f`).
fn starts_c1(text: &[u8], at: usize) -> bool {
    text[at] == 0xc2 && text.get(at + 1).is_some_and(|b| (0x80..=0x9f).contains(b))
}

/// The terminal's parser and screen buffer, followed through its output.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct ParserTrack {
    state: ParserState,
    buffer: Buffer,
}

impl ParserTrack {
    /// A new terminal's: printing, on the primary buffer.
    pub(super) const NEW: ParserTrack = ParserTrack {
        state: ParserState::Ground,
        buffer: Buffer::Primary,
    };

    /// A terminal's whose output went by unscanned.
    pub(super) const LOST: ParserTrack = ParserTrack {
        state: ParserState::Unknown,
        buffer: Buffer::Unknown,
    };

    /// Whether the parser is lost.
    pub(super) fn is_lost(&self) -> bool {
        self.state == ParserState::Unknown
    }

    /// Scans `text`, the terminal's next output, and says whether it can
    /// only write on the cursor's row and move the cursor along it or down
    /// (with a scroll at the bottom row), on the primary buffer: then, on
    /// a screen without a scroll region, every row above the cursor's
    /// starting row is what was there, moved up by the lines scrolled
    /// away. False when unsure.
    pub(super) fn moves_only_down(&mut self, text: &[u8]) -> bool {
        let down = self.buffer == Buffer::Primary;
        self.scan(text) && down
    }

    /// Follows the parser through `text`; false if the text may do more
    /// than write at the cursor and move it down.
    fn scan(&mut self, text: &[u8]) -> bool {
        use ParserState::*;
        let mut down = self.state != Unknown;
        let mut i = 0;
        while i < text.len() {
            match self.state {
                Ground => {
                    // ESC, or the lead byte of a C1 control (U+0080..U+009F).
                    let Some(at) = memchr::memchr2(0x1b, 0xc2, &text[i..]) else {
                        return down;
                    };
                    let at = i + at;
                    i = at + 1;
                    if text[at] == 0x1b {
                        self.state = Escape;
                    } else if starts_c1(text, at) {
                        // A C1 control: index, reverse index, next line and
                        // the 8-bit introducers are not followed.
                        self.lose();
                        down = false;
                    }
                }
                Unknown => {
                    down = false;
                    match memchr::memchr(0x1b, &text[i..]) {
                        None => return false,
                        Some(at) => {
                            i += at + 1;
                            self.state = Escape;
                        }
                    }
                }
                Escape => {
                    let b = text[i];
                    i += 1;
                    self.state = match b {
                        b'[' => Csi(CsiRead::NEW),
                        b']' => Osc,
                        0x20..=0x2f => EscapeIntermediate { last: b },
                        // Index, next line, reverse index, restore the
                        // cursor.
                        b'D' | b'E' | b'M' | b'8' => {
                            down = false;
                            Ground
                        }
                        // A reset: back on the primary buffer.
                        b'c' => {
                            down = false;
                            self.buffer = Buffer::Primary;
                            Ground
                        }
                        // Device control and other strings: not followed.
                        b'P' | b'X' | b'^' | b'_' => {
                            down = false;
                            self.lose();
                            Unknown
                        }
                        // Any other escape moves nothing in avt: keypad
                        // modes, saving the cursor, tab stops, the string
                        // terminator, and those it does not know.
                        0x30..=0x7e => Ground,
                        0x1b => Escape,
                        0x18 | 0x1a => Ground,
                        // C0 controls are executed inside a sequence.
                        0x00..=0x1f | 0x7f => Escape,
                        _ => self.past_ascii(text, i - 1, &mut down),
                    };
                }
                EscapeIntermediate { last } => {
                    let b = text[i];
                    i += 1;
                    self.state = match b {
                        0x20..=0x2f => EscapeIntermediate { last: b },
                        0x30..=0x7e => {
                            // The screen alignment test fills every row;
                            // the rest designate character sets.
                            down &= !(last == b'#' && b == b'8');
                            Ground
                        }
                        0x1b => Escape,
                        0x18 | 0x1a => Ground,
                        0x00..=0x1f | 0x7f => EscapeIntermediate { last },
                        _ => self.past_ascii(text, i - 1, &mut down),
                    };
                }
                Csi(mut csi) => {
                    let b = text[i];
                    i += 1;
                    let entry = std::mem::replace(&mut csi.entry, false);
                    self.state = match b {
                        b'0'..=b'9' => {
                            if csi.first_part {
                                csi.value =
                                    csi.value.wrapping_mul(10).wrapping_add(u16::from(b - b'0'));
                            }
                            Csi(csi)
                        }
                        b';' => {
                            csi.end_param();
                            Csi(csi)
                        }
                        b':' => {
                            // At the start avt ignores the sequence; later
                            // it begins the parameter's next part.
                            csi.private &= !entry;
                            csi.first_part = false;
                            Csi(csi)
                        }
                        b'?' if entry => {
                            csi.plain = false;
                            csi.private = true;
                            Csi(csi)
                        }
                        // Other private markers, markers past the start
                        // (avt ignores the sequence) and intermediates.
                        0x20..=0x2f | 0x3c..=0x3f => {
                            csi.plain = false;
                            csi.private = false;
                            Csi(csi)
                        }
                        0x40..=0x7e => {
                            csi.end_param();
                            down &= csi.plain && ROW_SEQUENCES.contains(&b);
                            if csi.private && (b == b'h' || b == b'l') {
                                if csi.unsure {
                                    self.buffer = Buffer::Unknown;
                                } else if csi.alternate {
                                    self.buffer = if b == b'h' {
                                        Buffer::Alternate
                                    } else {
                                        Buffer::Primary
                                    };
                                }
                            }
                            Ground
                        }
                        0x1b => Escape,
                        0x18 | 0x1a => Ground,
                        0x00..=0x1f | 0x7f => Csi(csi),
                        _ => self.past_ascii(text, i - 1, &mut down),
                    };
                }
                Osc => {
                    let b = text[i];
                    i += 1;
                    match b {
                        0x07 | 0x18 | 0x1a => self.state = Ground,
                        0x1b => self.state = Escape,
                        0xc2 if starts_c1(text, i - 1) => {
                            self.lose();
                            down = false;
                        }
                        _ => {}
                    }
                }
            }
        }
        down
    }

    /// Where a character past ASCII, starting at `text[at]` inside an
    /// escape or control sequence, leaves the parser. A C1 control (U+0080
    /// to U+009F) is not followed. Any other ends the sequence as its final
    /// character, which avt knows as no sequence: nothing happens.
    fn past_ascii(&mut self, text: &[u8], at: usize, down: &mut bool) -> ParserState {
        if starts_c1(text, at) {
            *down = false;
            self.lose();
            ParserState::Unknown
        } else {
            ParserState::Ground
        }
    }

    /// The scan no longer follows the parser, nor which buffer is shown.
    fn lose(&mut self) {
        *self = ParserTrack::LOST;
    }
}

#[cfg(test)]
mod tests {
    use super::ParserState::*;
    use super::*;

    fn track(state: ParserState) -> ParserTrack {
        ParserTrack {
            state,
            buffer: Buffer::Primary,
        }
    }

    fn scan(from: ParserState, text: &str) -> (bool, ParserState) {
        let mut t = track(from);
        let down = t.moves_only_down(text.as_bytes());
        (down, t.state)
    }

    const CSI: ParserState = Csi(CsiRead::NEW);

    #[test]
    fn printing_and_row_sequences_move_only_down() {
        for text in [
            "",
            "plain text\r\nand more\n",
            "tab\there\x08\x08 bell\x07",
            "\x1b[1;31mred\x1b[0m \x1b[K\x1b[3P\x1b[2@\x1b[5X\x1b[10G\x1b[2C\x1b[D",
            "\x1b]0;user@host: ~\x07prompt$ ",
            "\x1b]2;title\x1b\\after",
            "\x1b(0lqk\x1b(B",
            "\x1b=\x1b>",
            "caf\u{e9} \u{4e2d}\u{6587}",
            // Sequences avt knows as none: they move nothing.
            "\x1bw\x1b7\x1bH",
            "\x1b\u{65e5}",
            "\x1b[1\u{e9}",
            "\x1b(\u{e9}",
        ] {
            assert_eq!(scan(Ground, text), (true, Ground), "{text:?}");
        }
    }

    #[test]
    fn anything_that_can_move_up_or_touch_other_rows_says_no() {
        for text in [
            "\x1b[A",
            "\x1b[2;5H",
            "\x1b[2J",
            "\x1b[J",
            "\x1b[L",
            "\x1b[M",
            "\x1b[S",
            "\x1b[T",
            "\x1b[5d",
            "\x1b[F",
            "\x1b[1;10r",
            "\x1b[?6h",
            "\x1b[?25l",
            "\x1b[?1049h",
            "\x1b[>0c",
            "\x1b[1 q",
            "\x1bM",
            "\x1b8",
            "\x1bc",
            "\x1bD",
            "\x1b#8",
            "\x1b(#8",
            "\u{8d}",
            "\u{85}",
            "\u{9b}A",
            "\x1b[1\u{9b}A",
            "\x1b\u{85}",
            "\x1bPq#0\x1b\\",
        ] {
            assert!(!scan(Ground, text).0, "{text:?}");
        }
    }

    #[test]
    fn a_sequence_cut_between_chunks_is_followed() {
        assert_eq!(scan(Ground, "ok\x1b"), (true, Escape));
        let (down, after) = scan(Escape, "[3");
        assert!(down);
        assert!(matches!(after, Csi(c) if c.plain && c.value == 3));
        assert_eq!(scan(after, "A text"), (false, Ground));
        assert_eq!(scan(after, "1m text"), (true, Ground));
        let (down, after) = scan(Ground, "\x1b[?");
        assert!(down);
        assert!(matches!(after, Csi(c) if !c.plain && c.private));
        assert_eq!(scan(after, "25l"), (false, Ground));
        assert_eq!(scan(Ground, "\x1b]0;ti"), (true, Osc));
        // Inside a title, a cursor sequence's letters are only its text.
        assert_eq!(scan(Osc, "[A tle\x07x"), (true, Ground));
        assert_eq!(
            scan(Ground, "\x1b("),
            (true, EscapeIntermediate { last: b'(' })
        );
        assert_eq!(scan(EscapeIntermediate { last: b'(' }, "B"), (true, Ground));
        assert_eq!(
            scan(Ground, "\x1b#"),
            (true, EscapeIntermediate { last: b'#' })
        );
        assert_eq!(
            scan(EscapeIntermediate { last: b'#' }, "8"),
            (false, Ground)
        );
        assert_eq!(scan(CSI, "?1049h"), (false, Ground));
    }

    #[test]
    fn the_alternate_buffer_is_followed_even_through_cut_sequences() {
        let mut t = ParserTrack::NEW;
        assert!(t.moves_only_down(b"text"));
        for (chunk, shown) in [
            (&b"\x1b[?104"[..], Buffer::Primary),
            (b"9h", Buffer::Alternate),
            (b"\x1b[?25l\x1b[?2004h", Buffer::Alternate),
            (b"\x1b[?1;1049l", Buffer::Primary),
            (b"\x1b[?47h", Buffer::Alternate),
            (b"\x1bc", Buffer::Primary),
            (b"\x1b[?1047h", Buffer::Alternate),
            (b"\x1b[?1047:2l", Buffer::Primary),
            // avt reads a parameter as a u16 that wraps: 66585 is 1049.
            (b"\x1b[?66585h", Buffer::Alternate),
            (b"\x1b[?1049 l", Buffer::Alternate),
            (b"\x1b[1049l", Buffer::Alternate),
            (b"\x1b[?:1049l", Buffer::Alternate),
        ] {
            t.moves_only_down(chunk);
            assert_eq!(t.buffer, shown, "{:?}", String::from_utf8_lossy(chunk));
        }
        // On the alternate buffer, nothing moves only down: its scrolls
        // are not seen.
        assert!(!t.moves_only_down(b"text\r\n"));
        // Past the parameters avt keeps, which buffer is not known.
        let many = format!("\x1b[?{}1049h", "1;".repeat(40));
        t.moves_only_down(many.as_bytes());
        assert_eq!(t.buffer, Buffer::Unknown);
    }

    #[test]
    fn a_lost_parser_is_found_again_at_the_next_escape() {
        assert_eq!(scan(Unknown, "text"), (false, Unknown));
        assert_eq!(scan(Unknown, "text\x1b[0m"), (false, Ground));
        assert_eq!(scan(Ground, "\u{9d}title"), (false, Unknown));
        assert_eq!(scan(Ground, "\x1bPdata"), (false, Unknown));
        // Found again, but not which buffer is shown.
        let mut t = ParserTrack::LOST;
        assert!(!t.moves_only_down(b"\x1b[0m"));
        assert!(!t.moves_only_down(b"text"));
        t.moves_only_down(b"\x1b[?1049l");
        assert!(t.moves_only_down(b"text"));
    }
}
