//! What the user saw: channel output rendered through a terminal emulator
//! (avt, the one asciinema uses), as a transcript that keeps what scrolled
//! away or was cleared, or as the screen at one moment.

use super::downward::ParserTrack;
use crate::time::Nanos;
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
/// write them as they come and memory stays at one screen. Each thing
/// shown is in the transcript once, in order: what a full-screen program
/// (vim, less, top) showed on the alternate screen comes between two
/// marker lines, `── alternate screen: vim, 00:32.2 → 00:41.0 ──` and
/// `── end of alternate screen ──`, and the shell's lines that were on the
/// screen before it are not repeated after it.
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
    /// Lines that left the screen, with the time each last changed, when a
    /// transcript is kept.
    transcript: Option<Vec<(String, Nanos)>>,
    joiner: Utf8Joiner,
    alt: bool,
    text: String,
    /// Whether output arrived since the last clear (a clear of a screen
    /// with nothing new on it keeps nothing).
    dirty: bool,
    /// The time of the output being fed ([`Screen::set_time`]).
    now: Nanos,
    /// Each visible row's text and the time it last changed.
    rows: Vec<(String, Nanos)>,
    /// Whether each row's time is kept. Without times (a text transcript
    /// needs none), a row changed by the output is only marked `stale` and
    /// rendered when its text is read (a clear, a full-screen program),
    /// rather than after every chunk.
    timed: bool,
    /// Rows whose text in `rows` is out of date: the row as the terminal
    /// shows it now is what `rows` would hold ([`Screen::render_stale`]).
    /// Used only without times.
    stale: Vec<bool>,
    /// A scroll region may be set: a region scrolling away its top line
    /// leaves the rows below it where they were while `rows` moves them
    /// up, so a stale row could no longer be rendered from the terminal
    /// later. Meanwhile stale rows are rendered after each piece of output,
    /// as with times.
    scroll_region: bool,
    /// The region's rows, from 0, when known: one from the top scrolls its
    /// lines away and brings blank rows in at its bottom, above the rows
    /// below it, which stay where they are.
    region: Option<(usize, usize)>,
    /// Where the search for a scroll region stands at the end of the last
    /// chunk (a sequence can be split across chunks).
    region_scan: CsiScan,
    /// Where the terminal's parser stands, followed for a screen keeping
    /// times: output that only writes at the cursor and moves it down
    /// leaves the rows above it as they were, moved up, and those are not
    /// read again ([`ParserTrack::moves_only_down`]).
    parser: ParserTrack,
    /// Whether what the parser scan finds is used: false only in tests, for
    /// the reference the shortcut is checked against.
    follow_parser: bool,
    /// Rows at the top of the screen already in the transcript (the shell's
    /// lines kept before a full-screen program, shown again after it).
    emitted: usize,
    /// The full-screen program running: its name, when it started, and the
    /// lines that scrolled off its screen.
    program: Option<Program>,
}

/// Everything a [`Screen`] without a transcript needs to go on from where
/// it was: its size, avt's dump of the terminal (escape sequences that
/// recreate the screen's cells, the cursor, the pen, the saved cursors,
/// both buffers, the scroll region, tab stops, character sets and modes,
/// and a sequence the parser was in the middle of), the bytes of a
/// character split by the last chunk, and whether a full-screen program
/// switched to the alternate screen. A keyframe of a seek index holds one
/// per terminal ([`crate::replay::index`]).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct ScreenKeyframe {
    cols: usize,
    rows: usize,
    dump: String,
    pending_utf8: Vec<u8>,
    replaced: u64,
    alt: bool,
}

impl ScreenKeyframe {
    /// The escape sequences that draw the screen on a blank terminal of
    /// its size: what a player shows at once when it starts at a keyframe.
    pub fn dump(&self) -> &str {
        &self.dump
    }

    /// The terminal's columns and rows.
    pub fn size(&self) -> (usize, usize) {
        (self.cols, self.rows)
    }
}

/// The longest UTF-8 sequence less its last byte: all a joiner can wait on.
const MAX_PENDING_UTF8: usize = 3;

/// A full-screen program on the alternate screen.
struct Program {
    name: String,
    started: Nanos,
    scrolled: Vec<(String, Nanos)>,
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
    let mut text = String::new();
    push_line_text(line, &mut text);
    text
}

/// Appends `line`'s text without its trailing whitespace to `out`: what
/// `line.text().trim_end()` gives, without rendering the blank cells that
/// fill most of a row only to trim them off again. A cell of width 0 is
/// the second half of a wide character: no text of its own.
fn push_line_text(line: &avt::Line, out: &mut String) {
    let cells = line.cells();
    let end = cells
        .iter()
        .rposition(|c| c.width() != 0 && !c.char().is_whitespace())
        .map_or(0, |i| i + 1);
    // At least a byte a character: one allocation, not one per doubling.
    out.reserve(end);
    out.extend(
        cells[..end]
            .iter()
            .filter(|c| c.width() != 0)
            .map(avt::Cell::char),
    );
}

/// Whether `line` shows `text` (a right-trimmed row text, as
/// [`push_line_text`] renders): its characters, then only whitespace. The
/// cells are compared with the text where they lie, without rendering
/// them: most rows an output touches show what they showed (after a
/// scroll, every row is touched, and all but the new ones only moved).
fn line_shows(line: &avt::Line, text: &str) -> bool {
    let mut expected = text.chars();
    for cell in line.cells().iter().filter(|c| c.width() != 0) {
        match expected.next() {
            Some(ch) if ch == cell.char() => {}
            Some(_) => return false,
            // The text is trimmed: the rest of the row must be blank.
            None if cell.char().is_whitespace() => {}
            None => return false,
        }
    }
    expected.next().is_none()
}

/// Sets `row` to `line`'s text (right-trimmed) stamped `now`, unless the
/// row already shows that text: then it keeps its time.
fn update_row(row: &mut (String, Nanos), line: &avt::Line, now: Nanos) {
    if !line_shows(line, &row.0) {
        row.0.clear();
        push_line_text(line, &mut row.0);
        row.1 = now;
    }
}

/// The first clearing sequence ([`CLEARS`]) in `text`: where, and which.
/// Each one starts with ESC, so one scan for ESC finds them all, instead of
/// a search of the whole text for each sequence.
fn next_clear(text: &str) -> Option<(usize, &'static str)> {
    let bytes = text.as_bytes();
    memchr::memchr_iter(0x1b, bytes).find_map(|i| {
        CLEARS
            .iter()
            .find(|c| bytes[i..].starts_with(c.as_bytes()))
            .map(|c| (i, *c))
    })
}

/// Where a scan for a sequence setting a scroll region stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum CsiScan {
    /// Outside any sequence.
    Ground,
    /// After ESC.
    Escape,
    /// Inside a control sequence (after ESC `[`, or the C1 CSI).
    Csi,
}

/// Whether `text` (following a chunk that left `scan` where it stood)
/// holds a control sequence ending in `r`, as the one setting a scroll
/// region (DECSTBM) does; with `resets`, also one ending in `p` (the soft
/// reset, `CSI ! p`) or a full reset (`ESC c`), which put the margins back
/// to the whole screen. `scan` is left where the scan ends. Any such
/// sequence counts, and controls inside a sequence are passed over as the
/// terminal executes them: a false alarm costs time, a miss a wrong line
/// (or, for a reset, rows timed as if a region still held them).
fn sets_scroll_region(scan: &mut CsiScan, text: &[u8], resets: bool) -> bool {
    let mut found = false;
    let mut i = 0;
    while i < text.len() {
        match *scan {
            CsiScan::Ground => match memchr::memchr2(0x1b, 0x9b, &text[i..]) {
                None => return found,
                Some(at) => {
                    let at = i + at;
                    i = at + 1;
                    if text[at] == 0x1b {
                        *scan = CsiScan::Escape;
                    } else if at > 0 && text[at - 1] == 0xc2 {
                        // U+009B, the C1 control sequence introducer.
                        *scan = CsiScan::Csi;
                    }
                }
            },
            CsiScan::Escape => {
                *scan = match text[i] {
                    b'[' => CsiScan::Csi,
                    0x1b => CsiScan::Escape,
                    b'c' => {
                        found |= resets;
                        CsiScan::Ground
                    }
                    _ => CsiScan::Ground,
                };
                i += 1;
            }
            CsiScan::Csi => {
                let b = text[i];
                i += 1;
                match b {
                    b'r' => {
                        // The rest is scanned too: it may end inside the
                        // next sequence.
                        *scan = CsiScan::Ground;
                        found = true;
                    }
                    b'p' => {
                        *scan = CsiScan::Ground;
                        found |= resets;
                    }
                    0x1b => *scan = CsiScan::Escape,
                    0x18 | 0x1a => *scan = CsiScan::Ground,
                    0x00..=0x3f => {}
                    _ => *scan = CsiScan::Ground,
                }
            }
        }
    }
    found
}

/// Whether `vt` has a scroll region narrower than its screen (its dump
/// sets one only then), and which rows it spans, from 0, if the dump says.
fn scroll_region_of(vt: &avt::Vt) -> (bool, Option<(usize, usize)>) {
    let dump = vt.dump();
    let set = sets_scroll_region(&mut CsiScan::Ground, dump.as_bytes(), false);
    (set, set.then(|| region_in_dump(&dump)).flatten())
}

/// The rows (from 0) of the first `CSI top ; bottom r` in a dump: the
/// terminal's region (cells hold no ESC, and a sequence the parser was
/// in the middle of comes last).
fn region_in_dump(dump: &str) -> Option<(usize, usize)> {
    let bytes = dump.as_bytes();
    let mut from = 0;
    while let Some(at) = memchr::memmem::find(&bytes[from..], b"\x1b[") {
        let start = from + at + 2;
        let len = bytes[start..]
            .iter()
            .position(|b| !(b.is_ascii_digit() || *b == b';'))?;
        let end = start + len;
        if bytes[end] == b'r' {
            let (top, bottom) = dump[start..end].split_once(';')?;
            let top: usize = top.parse().ok()?;
            let bottom: usize = bottom.parse().ok()?;
            return Some((top.checked_sub(1)?, bottom.checked_sub(1)?));
        }
        from = end;
    }
    None
}

/// `mm:ss.d` (tenths), for the markers around a full-screen program.
fn clock(ns: Nanos) -> String {
    let tenths = ns.max(0) / 100_000_000;
    format!(
        "{:02}:{:02}.{}",
        tenths / 600,
        tenths / 10 % 60,
        tenths % 10
    )
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
            now: 0,
            rows: Vec::new(),
            timed: true,
            stale: Vec::new(),
            scroll_region: false,
            region: None,
            region_scan: CsiScan::Ground,
            parser: ParserTrack::NEW,
            follow_parser: true,
            emitted: 0,
            program: None,
        }
    }

    /// A blank screen that keeps the lines leaving it, for a transcript,
    /// without the time each line last changed: the times of
    /// [`Screen::take_timed_transcript`] and
    /// [`Screen::into_timed_transcript`] are then meaningless (the markers
    /// around a full-screen program keep theirs). The lines are the same as
    /// [`Screen::with_transcript`]'s, for less work: a row changed by the
    /// output is rendered only when its text is needed.
    pub fn with_untimed_transcript(cols: u32, rows: u32) -> Self {
        let mut screen = Screen::with_transcript(cols, rows);
        screen.timed = false;
        screen.stale = vec![false; screen.rows.len()];
        screen
    }

    /// A blank screen that keeps the lines leaving it, for a transcript.
    pub fn with_transcript(cols: u32, rows: u32) -> Self {
        let mut screen = Screen::new(cols, rows);
        screen.transcript = Some(Vec::new());
        screen.rows = vec![(String::new(), 0); screen.vt.size().1];
        screen
    }

    /// Keeps the lines leaving the screen from now on, as
    /// [`Screen::with_transcript`] does: a screen that has shown nothing
    /// yet is then the same as one made with it. This lets a screen made
    /// for something else (the one a
    /// [`CommandRecognizer`](super::CommandRecognizer) reads) give the
    /// transcript too, so the emulator runs once for both.
    pub fn keep_transcript(&mut self) {
        if self.transcript.is_none() {
            self.transcript = Some(Vec::new());
            self.rows = vec![(String::new(), 0); self.vt.size().1];
            if self.parser.is_lost() {
                // Output came that nobody scanned: a scroll region it may
                // have set is assumed, which costs only time.
                self.scroll_region = true;
                self.region = scroll_region_of(&self.vt).1;
            }
        }
    }

    /// Sets the time of the output fed next (for the transcript's times
    /// and markers: an offset from the session's start, say).
    pub fn set_time(&mut self, now: Nanos) {
        self.now = now;
    }

    /// Feeds output bytes (UTF-8 split across calls is joined).
    pub fn feed(&mut self, bytes: &[u8]) {
        let mut text = std::mem::take(&mut self.text);
        text.clear();
        self.joiner.push(bytes, &mut text);
        let region_seq = self.transcript.is_some()
            && sets_scroll_region(&mut self.region_scan, text.as_bytes(), true);
        if region_seq && !self.scroll_region {
            // Stale rows are rendered while the terminal still shows them
            // where `rows` has them.
            self.render_stale();
            self.scroll_region = true;
        }
        let mut rest = text.as_str();
        // Feed up to each clearing sequence, keeping the screen it wipes.
        while let Some((at, seq)) = next_clear(rest) {
            self.feed_str(&rest[..at]);
            if ALT_ON.contains(&seq) {
                if !self.alt {
                    self.enter_program();
                }
                self.feed_str(seq);
                self.alt = true;
            } else if ALT_OFF.contains(&seq) {
                if self.alt {
                    self.leave_program();
                }
                self.feed_str(seq);
                self.alt = false;
            } else if self.alt && self.program.is_some() {
                // A full-screen program clearing its own screen: what it
                // showed stays in its section.
                self.keep_program_screen();
                self.feed_str(seq);
            } else {
                self.snapshot();
                self.feed_str(seq);
            }
            self.sync_rows();
            rest = &rest[at + seq.len()..];
        }
        self.feed_str(rest);
        self.text = text;
        if region_seq {
            (self.scroll_region, self.region) = scroll_region_of(&self.vt);
        }
    }

    fn feed_str(&mut self, s: &str) {
        if s.is_empty() {
            return;
        }
        self.dirty = true;
        if self.transcript.is_none() {
            self.vt.feed_str(s);
            // Not followed without a transcript.
            self.parser = ParserTrack::LOST;
            return;
        }
        if self.alt && self.program.is_some() {
            // A line feed on the bottom row scrolls the program's top line
            // away: keep it (less paging, vim's last message).
            let mut rest = s;
            while let Some(nl) = rest.find('\n') {
                self.feed_timed(&rest[..nl]);
                let bottom = self.vt.size().1 - 1;
                if self.vt.cursor().row == bottom {
                    self.render_stale();
                    let top = self.rows.first().cloned().unwrap_or_default();
                    if let Some(p) = &mut self.program {
                        p.scrolled.push(top);
                    }
                }
                self.feed_timed("\n");
                rest = &rest[nl + 1..];
            }
            self.feed_timed(rest);
            return;
        }
        self.feed_timed(s);
    }

    /// Feeds `s`, keeping what scrolled away and each row's time.
    fn feed_timed(&mut self, s: &str) {
        if s.is_empty() {
            return;
        }
        // With times, the parser is followed through every piece, even one
        // that cannot use what it finds (a screen without times never asks).
        let only_down = self.timed && self.parser.moves_only_down(s.as_bytes());
        // Output that writes only at the cursor, moving it down, leaves the
        // rows above the cursor's row as they were, to be moved up by the
        // scrolls: they need not be read again, neither when they scroll
        // away nor where they land. Not on the alternate screen, whose
        // scrolls `rows` does not follow, nor with a scroll region.
        let kept_above = if only_down && self.follow_parser && !self.alt && !self.scroll_region {
            self.vt.cursor().row
        } else {
            0
        };
        // The rows that scroll: all of them, or those of a region from the
        // top (the rows below it stay).
        let scrolling = match self.region {
            Some((0, bottom)) if self.scroll_region => (bottom + 1).min(self.rows.len()),
            _ => self.rows.len(),
        };
        // The lines that scrolled away, in order. The rows move up: their
        // times go with them. A row scrolled away as it stood keeps its
        // time, and its text, already rendered, is taken rather than
        // rendered again. One this very output wrote before scrolling it
        // away takes the output's time, as do the lines past a screenful
        // (a chunk of 1,000 lines on a 24-row screen keeps all 1,000).
        let (changed, scrolled) = {
            let changes = self.vt.feed_str(s);
            let mut scrolled = 0;
            for line in changes.scrollback {
                let at = scrolled;
                scrolled += 1;
                if self.alt {
                    continue;
                }
                if self.emitted > 0 {
                    // Already in the transcript, before a full-screen program.
                    self.emitted -= 1;
                    continue;
                }
                let known = self.rows.get_mut(at).filter(|_| {
                    // A stale row's text is not what it showed; rows below
                    // a region do not scroll.
                    at < scrolling && (self.timed || !self.stale.get(at).copied().unwrap_or(true))
                });
                let kept = match known {
                    Some(row) if at < kept_above || line_shows(&line, &row.0) => {
                        (std::mem::take(&mut row.0), row.1)
                    }
                    _ => (line_text(&line), self.now),
                };
                if let Some(t) = &mut self.transcript {
                    t.push(kept);
                }
            }
            (changes.lines, scrolled)
        };
        if scrolled > 0 && !self.alt {
            let n = scrolled.min(scrolling);
            self.rows.drain(..n);
            // Blank rows come in at the bottom of the rows that scroll.
            let blank_at = scrolling - n;
            self.rows.splice(
                blank_at..blank_at,
                std::iter::repeat_n((String::new(), self.now), n),
            );
            if !self.timed {
                let n = n.min(self.stale.len());
                self.stale.drain(..n);
                let at = blank_at.min(self.stale.len());
                self.stale.splice(at..at, std::iter::repeat_n(false, n));
            }
            let rows = self.vt.size().1;
            self.rows.resize(rows, (String::new(), self.now));
        }
        // The terminal marks every row after a scroll; those kept above
        // now lie `scrolled` rows higher.
        self.sync_changed(&changed, kept_above.saturating_sub(scrolled));
        if self.scroll_region {
            // Under a region, rows move in ways `rows` does not follow in
            // every case (a reverse index or deleted lines at its edges, a
            // region set and scrolled in one piece): every row is read.
            self.sync_rows();
        }
    }

    /// Brings the rows `changed` up to date (all of them after a scroll),
    /// but for the first `untouched`, known to be as they were.
    fn sync_changed(&mut self, changed: &[usize], untouched: usize) {
        let rows = self.vt.size().1;
        self.rows.resize(rows, (String::new(), self.now));
        if !self.timed {
            self.stale.resize(rows, false);
            for &i in changed {
                if let Some(s) = self.stale.get_mut(i) {
                    *s = true;
                }
            }
            if self.scroll_region {
                self.render_stale();
            }
            return;
        }
        for &i in changed {
            if i >= rows || i < untouched {
                continue;
            }
            update_row(&mut self.rows[i], self.vt.line(i), self.now);
        }
    }

    /// Brings each row's text up to date, stamping rows whose text changed
    /// with the time of the output.
    fn sync_rows(&mut self) {
        if self.transcript.is_none() {
            return;
        }
        let rows = self.vt.size().1;
        self.rows.resize(rows, (String::new(), self.now));
        if !self.timed {
            self.stale.clear();
            self.stale.resize(rows, true);
            if self.scroll_region {
                self.render_stale();
            }
            return;
        }
        for (row, line) in self.rows.iter_mut().zip(self.vt.view()) {
            update_row(row, line, self.now);
        }
    }

    /// Renders the rows marked stale (a screen without times), so that
    /// `rows` holds what each row shows.
    fn render_stale(&mut self) {
        for ((row, stale), line) in self
            .rows
            .iter_mut()
            .zip(self.stale.iter_mut())
            .zip(self.vt.view())
        {
            if std::mem::take(stale) {
                row.0.clear();
                push_line_text(line, &mut row.0);
            }
        }
    }

    /// A full-screen program starts: the shell's screen goes to the
    /// transcript (and is not repeated when it comes back).
    fn enter_program(&mut self) {
        if self.transcript.is_none() {
            return;
        }
        self.render_stale();
        let name = self.program_name();
        let shown = self.snapshot();
        self.emitted = shown;
        self.program = Some(Program {
            name,
            started: self.now,
            scrolled: Vec::new(),
        });
    }

    /// Keeps the program's screen before it is cleared.
    fn keep_program_screen(&mut self) {
        if !self.dirty {
            return;
        }
        self.render_stale();
        let mut view = self.rows.clone();
        while view.last().is_some_and(|(l, _)| l.is_empty()) {
            view.pop();
        }
        if let Some(p) = &mut self.program {
            p.scrolled.extend(view);
        }
        self.dirty = false;
    }

    /// The program ends: what it showed goes to the transcript between
    /// markers.
    fn leave_program(&mut self) {
        self.dirty = true;
        self.keep_program_screen();
        let Some(program) = self.program.take() else {
            return;
        };
        let mut lines = program.scrolled;
        // Blank rows around what it showed say nothing.
        while lines.last().is_some_and(|(l, _)| l.is_empty()) {
            lines.pop();
        }
        let first = lines
            .iter()
            .position(|(l, _)| !l.is_empty())
            .unwrap_or(lines.len());
        lines.drain(..first);
        if let Some(t) = &mut self.transcript {
            t.push((
                format!(
                    "\u{2500}\u{2500} alternate screen: {}, {} \u{2192} {} \u{2500}\u{2500}",
                    program.name,
                    clock(program.started),
                    clock(self.now)
                ),
                program.started,
            ));
            t.extend(lines);
            t.push((
                "\u{2500}\u{2500} end of alternate screen \u{2500}\u{2500}".to_string(),
                self.now,
            ));
        }
        self.dirty = false;
    }

    /// The program about to run: the first word after the prompt on the
    /// nearest line above the cursor that has one.
    fn program_name(&self) -> String {
        let row = self.vt.cursor().row;
        self.rows
            .iter()
            .take(row + 1)
            .rev()
            .find_map(|(line, _)| {
                ["$ ", "# ", "% ", "> "]
                    .iter()
                    .filter_map(|p| line.find(p).map(|i| &line[i + p.len()..]))
                    .next()
                    .and_then(|cmd| cmd.split_whitespace().next())
                    .map(|w| w.rsplit('/').next().unwrap_or(w).to_string())
            })
            .unwrap_or_else(|| "a full-screen program".to_string())
    }

    /// Appends the visible screen to the transcript (what a clear would
    /// lose), but for rows already there; returns how many rows it kept.
    fn snapshot(&mut self) -> usize {
        if self.transcript.is_none() || !self.dirty {
            return 0;
        }
        self.render_stale();
        let mut view = self.rows.clone();
        while view.last().is_some_and(|(l, _)| l.is_empty()) {
            view.pop();
        }
        let kept = view.len();
        let skip = std::mem::take(&mut self.emitted).min(kept);
        if let Some(t) = &mut self.transcript {
            t.extend(view.into_iter().skip(skip));
        }
        self.dirty = false;
        kept
    }

    /// The state to go on from ([`Screen::from_keyframe`]). `None` for a
    /// screen keeping a transcript, whose lines in waiting a keyframe does
    /// not hold.
    pub fn keyframe(&self) -> Option<ScreenKeyframe> {
        if self.transcript.is_some() {
            return None;
        }
        let (cols, rows) = self.vt.size();
        Some(ScreenKeyframe {
            cols,
            rows,
            dump: self.vt.dump(),
            pending_utf8: self.joiner.pending().to_vec(),
            replaced: self.joiner.replaced(),
            alt: self.alt,
        })
    }

    /// A screen (without a transcript) as `keyframe` was taken: fed the
    /// same bytes next, it shows what the screen it was taken from shows.
    /// A keyframe read from a file is only terminal input replayed (the
    /// size is clamped as [`Screen::new`] does), so a damaged one gives a
    /// wrong screen, never a panic; the seek index checks its keyframes'
    /// digests before using them.
    pub fn from_keyframe(keyframe: &ScreenKeyframe) -> Screen {
        let mut screen = Screen::new(
            u32::try_from(keyframe.cols).unwrap_or(u32::MAX),
            u32::try_from(keyframe.rows).unwrap_or(u32::MAX),
        );
        screen.vt.feed_str(&keyframe.dump);
        let mut pending = keyframe.pending_utf8.clone();
        pending.truncate(MAX_PENDING_UTF8);
        screen.joiner = Utf8Joiner::resumed(pending, keyframe.replaced);
        screen.alt = keyframe.alt;
        // The dump may end inside a sequence, and may set a region.
        screen.parser = ParserTrack::LOST;
        (screen.scroll_region, screen.region) = scroll_region_of(&screen.vt);
        screen
    }

    /// Resizes the terminal.
    pub fn resize(&mut self, cols: u32, rows: u32) {
        let scrolled: Vec<String> = {
            let changes = self.vt.resize(
                (cols as usize).clamp(1, MAX_COLS),
                (rows as usize).clamp(1, MAX_ROWS),
            );
            changes.scrollback.map(|l| line_text(&l)).collect()
        };
        if let Some(t) = &mut self.transcript {
            let now = self.now;
            t.extend(scrolled.into_iter().map(|l| (l, now)));
        }
        self.sync_rows();
        if self.scroll_region {
            // A change of the number of rows resets the margins.
            (self.scroll_region, self.region) = scroll_region_of(&self.vt);
        }
    }

    /// The visible lines, right-trimmed.
    pub fn view(&self) -> Vec<String> {
        self.vt.view().map(line_text).collect()
    }

    /// Where the cursor is: its column and row, from 0.
    pub fn cursor(&self) -> (usize, usize) {
        let c = self.vt.cursor();
        (c.col, c.row)
    }

    /// The text of the line the cursor is on.
    pub fn cursor_line(&self) -> String {
        let row = self.vt.cursor().row;
        self.vt.view().nth(row).map(line_text).unwrap_or_default()
    }

    /// The logical line the cursor is on: the rows a long line wrapped
    /// over, joined (blank cells as spaces, not trimmed), and the cursor's
    /// offset into it in cells. A shell prompt with a command wider than
    /// the terminal is one logical line over several rows.
    pub fn cursor_logical_line(&self) -> (String, usize) {
        let cursor = self.vt.cursor();
        let (cols, rows) = self.vt.size();
        // The rows the emulator marked as wrapping into the next one, read
        // around the cursor only: this runs at every line typed, and
        // joining the whole screen's rows to find them was a third of
        // recognising commands.
        let mut first = cursor.row;
        while first > 0 && is_wrapped(self.vt.line(first - 1)) {
            first -= 1;
        }
        let mut last = cursor.row;
        while last + 1 < rows && is_wrapped(self.vt.line(last)) {
            last += 1;
        }
        let text: String = self
            .vt
            .view()
            .skip(first)
            .take(last + 1 - first)
            .map(|l| l.text())
            .collect();
        (text, (cursor.row - first) * cols + cursor.col)
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
        self.take_timed_transcript()
            .into_iter()
            .map(|(l, _)| l)
            .collect()
    }

    /// [`Screen::take_transcript`], each line with the time it last
    /// changed ([`Screen::set_time`]'s clock).
    pub fn take_timed_transcript(&mut self) -> Vec<(String, Nanos)> {
        self.transcript
            .as_mut()
            .map(std::mem::take)
            .unwrap_or_default()
    }

    /// The rest of the transcript: lines not taken yet and the final screen,
    /// without trailing blank lines. Without a transcript, the final screen.
    pub fn into_transcript(self) -> Vec<String> {
        self.into_timed_transcript()
            .into_iter()
            .map(|(l, _)| l)
            .collect()
    }

    /// [`Screen::into_transcript`], each line with its time.
    pub fn into_timed_transcript(mut self) -> Vec<(String, Nanos)> {
        let mut tail = String::new();
        self.joiner.finish(&mut tail);
        if !tail.is_empty() {
            self.feed_str(&tail);
        }
        if self.transcript.is_none() {
            self.transcript = Some(Vec::new());
            self.rows = Vec::new();
            self.sync_rows_always();
        }
        if self.alt {
            // The session ended inside a full-screen program.
            self.leave_program();
        }
        self.dirty = true;
        self.snapshot();
        let mut t = self.transcript.unwrap_or_default();
        while t.last().is_some_and(|(l, _)| l.is_empty()) {
            t.pop();
        }
        t
    }

    /// The rows' texts, for a screen that kept no transcript.
    fn sync_rows_always(&mut self) {
        let now = self.now;
        self.rows = self.vt.view().map(|l| (line_text(l), now)).collect();
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

/// Whether the emulator marked `line` as wrapping into the row below.
/// avt keeps that flag to itself; its text unwrapper shows it: it holds a
/// wrapped row back, waiting for the rest of the line.
fn is_wrapped(line: &avt::Line) -> bool {
    avt::util::TextUnwrapper::new().push(line).is_none()
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

    /// A screen keeping a transcript, with or without times.
    fn screen_keeping_transcript(timed: bool, cols: u32, rows: u32) -> Screen {
        if timed {
            Screen::with_transcript(cols, rows)
        } else {
            Screen::with_untimed_transcript(cols, rows)
        }
    }

    /// One output of more lines than the screen has rows: every line is in
    /// the transcript, in order, those written by that output at its time.
    #[test]
    fn an_output_scrolling_more_than_a_screenful_keeps_every_line() {
        for timed in [true, false] {
            let mut s = screen_keeping_transcript(timed, 20, 4);
            s.set_time(1);
            s.feed(b"$ seq\r\n");
            s.set_time(2);
            let many: String = (0..100).map(|i| format!("line{i}\r\n")).collect();
            s.feed(many.as_bytes());
            s.set_time(3);
            s.feed(b"$ ");
            let t = s.into_timed_transcript();
            let mut want = vec![("$ seq".to_string(), 1)];
            want.extend((0..100).map(|i| (format!("line{i}"), 2)));
            want.push(("$".to_string(), 3));
            let got: Vec<_> = t
                .iter()
                .map(|(l, at)| (l.trim_end().to_string(), *at))
                .collect();
            if timed {
                assert_eq!(got, want);
            } else {
                let lines: Vec<_> = got.into_iter().map(|(l, _)| l).collect();
                let want: Vec<_> = want.into_iter().map(|(l, _)| l).collect();
                assert_eq!(lines, want);
            }
        }
    }

    #[test]
    fn cleared_screens_stay_in_the_transcript() {
        let mut s = Screen::with_transcript(20, 3);
        s.feed(b"ls\r\na b c\r\n$ clear\r\n\x1b[H\x1b[2J\x1b[3J$ vim\r\n");
        s.feed(b"\x1b[?1049h\x1b[Hfile contents\x1b[?1049l");
        s.feed(b"$ exit");
        let t = s.into_transcript();
        // Each thing once: the shell's lines before vim are not repeated
        // after it, and vim's screen sits between markers.
        assert_eq!(
            t,
            [
                "ls",
                "a b c",
                "$ clear",
                "$ vim",
                "\u{2500}\u{2500} alternate screen: vim, 00:00.0 \u{2192} 00:00.0 \u{2500}\u{2500}",
                "file contents",
                "\u{2500}\u{2500} end of alternate screen \u{2500}\u{2500}",
                "$ exit"
            ]
        );
    }

    #[test]
    fn a_line_wrapped_over_rows_is_one_logical_line() {
        let mut s = Screen::new(10, 4);
        s.feed(b"$ echo 0123456789abcdef");
        assert_eq!(s.cursor_line(), "def");
        let (text, at) = s.cursor_logical_line();
        assert_eq!((text.trim_end(), at), ("$ echo 0123456789abcdef", 23));
        assert_eq!(text.len(), 30, "three rows of ten");
        s.feed(b"\r\nok\r\n$ ");
        assert_eq!(s.cursor_logical_line(), ("$         ".to_string(), 2));
        // Exactly the width: the cursor waits at the last column.
        let mut s = Screen::new(10, 4);
        s.feed(b"$ 12345678");
        assert_eq!(s.cursor_logical_line().0, "$ 12345678");
    }

    #[test]
    fn the_logical_line_is_read_from_the_rows_around_the_cursor() {
        let mut s = Screen::new(10, 6);
        // A line above, a wrapped line over three rows, a line below.
        s.feed(b"above\r\n$ echo 0123456789abcdef\r\nbelow");
        // Up two rows: the middle row of the wrapped line.
        s.feed(b"\x1b[2A");
        let (text, at) = s.cursor_logical_line();
        assert_eq!(text.trim_end(), "$ echo 0123456789abcdef");
        assert_eq!(text.len(), 30, "the three rows of the wrapped line only");
        assert_eq!(at, 10 + 5, "the second row, column 5");
        // Up one more: its first row, the same line.
        s.feed(b"\x1b[A");
        assert_eq!(s.cursor_logical_line().0, text);
        // Up again: the line above, alone.
        s.feed(b"\x1b[A");
        assert_eq!(s.cursor_logical_line().0, "above     ");
        // The line below, alone, though the row above it wrapped into it.
        s.feed(b"\x1b[4B");
        assert_eq!(s.cursor_logical_line().0, "below     ");
        // A wrapped row whose continuation was erased: still one line.
        let mut s = Screen::new(10, 4);
        s.feed(b"0123456789ab\x1b[2K");
        assert_eq!(
            s.cursor_logical_line(),
            (format!("0123456789{}", " ".repeat(10)), 12)
        );
    }

    #[test]
    fn a_program_s_lines_that_scroll_away_are_kept_with_their_times() {
        let mut s = Screen::with_transcript(20, 3);
        s.set_time(1_000_000_000);
        s.feed(b"$ less f\r\n");
        s.set_time(2_000_000_000);
        s.feed(b"\x1b[?1049h\x1b[H1\r\n2\r\n3\r\n4\r\n5");
        s.set_time(12_300_000_000);
        s.feed(b"\x1b[?1049l$ ");
        let t = s.into_timed_transcript();
        let lines: Vec<&str> = t.iter().map(|(l, _)| l.as_str()).collect();
        assert_eq!(
            lines,
            [
                "$ less f",
                "\u{2500}\u{2500} alternate screen: less, 00:02.0 \u{2192} 00:12.3 \u{2500}\u{2500}",
                "1",
                "2",
                "3",
                "4",
                "5",
                "\u{2500}\u{2500} end of alternate screen \u{2500}\u{2500}",
                "$"
            ]
        );
        // Each line with the time it was written.
        assert_eq!(t[0].1, 1_000_000_000);
        assert_eq!(t[2].1, 2_000_000_000);
    }

    /// A small random generator (xorshift), for tests that must give the
    /// same cases on every run.
    struct Rng(u64);
    impl Rng {
        fn below(&mut self, n: usize) -> usize {
            self.0 ^= self.0 << 13;
            self.0 ^= self.0 >> 7;
            self.0 ^= self.0 << 17;
            (self.0 % n as u64) as usize
        }
    }

    /// Pieces of terminal output: text, wide characters, line ends, and
    /// sequences that only act on the cursor's row, that move the cursor
    /// anywhere, scroll, set regions, switch screens, and C1 controls, so
    /// that random chunks of them (cut anywhere) exercise every path.
    const PIECES: &[&str] = &[
        "abc",
        "a longer line of text that wraps",
        "\u{4e2d}\u{6587}",
        "caf\u{e9}",
        "\r\n",
        "\n",
        "\r",
        "\x08",
        "\t",
        "   ",
        "l1\r\nl2\r\nl3\r\nl4\r\nl5\r\nl6\r\nl7\r\nl8\r\nl9\r\n",
        "\x1b[31m",
        "\x1b[0m",
        "\x1b[K",
        "\x1b[2P",
        "\x1b[3@",
        "\x1b[4G",
        "\x1b[2D",
        "\x1b[A",
        "\x1b[2;3H",
        "\x1b[H",
        "\x1b[J",
        "\x1b[2J",
        "\x1b[L",
        "\x1b[M",
        "\x1b[S",
        "\x1bM",
        "\x1bD",
        "\x1b7",
        "\x1b8",
        "\x1b#8",
        "\x1b(0q\x1b(B",
        "\x1b[2;4r",
        "\x1b[r",
        "\x1b]0;title\x07",
        "\x1b]0;t[A\x1b\\",
        "\x1b[?1049h",
        "\x1b[?1049l",
        "\x1b[?6h",
        "\x1b[?6l",
        "\u{8d}",
        "\u{85}",
        "\u{9b}2A",
        "\x1b[",
        "3",
        "\x1b",
        "$ ",
        // Broken sequences, as damaged or cut output has them.
        "\x1b\u{4e2d}",
        "\x1bw",
        "\x1b\x1b",
        "\x1b(",
        "\x1b[1\u{e9}",
        "\x1b\u{85}",
        "\x1bE",
    ];

    #[test]
    fn rows_above_output_that_moves_only_down_are_not_read_again() {
        for seed in 1..=1000u64 {
            let mut rng = Rng(seed.wrapping_mul(0x9e37_79b9_7f4a_7c15));
            let cols = 8 + rng.below(12) as u32;
            let rows = 2 + rng.below(5) as u32;
            let mut fast = Screen::with_transcript(cols, rows);
            let mut reference = Screen::with_transcript(cols, rows);
            reference.follow_parser = false;
            let mut output = Vec::new();
            for _ in 0..60 {
                for _ in 0..1 + rng.below(8) {
                    output.extend_from_slice(PIECES[rng.below(PIECES.len())].as_bytes());
                }
            }
            let mut at = 0;
            let mut now = 0;
            while at < output.len() {
                let end = (at + 1 + rng.below(40)).min(output.len());
                now += 1 + rng.below(3) as Nanos;
                let resize = (rng.below(25) == 0).then(|| (8 + rng.below(12), 2 + rng.below(5)));
                for s in [&mut fast, &mut reference] {
                    s.set_time(now);
                    if let Some((cols, rows)) = resize {
                        s.resize(cols as u32, rows as u32);
                    }
                    s.feed(&output[at..end]);
                }
                assert_eq!(fast.rows, reference.rows, "seed {seed}, at {end}");
                let shown: Vec<String> = reference.vt.view().map(line_text).collect();
                let kept: Vec<String> = reference.rows.iter().map(|r| r.0.clone()).collect();
                assert_eq!(
                    kept, shown,
                    "rows against the terminal: seed {seed}, at {end}"
                );
                assert_eq!(
                    fast.take_timed_transcript(),
                    reference.take_timed_transcript(),
                    "seed {seed}, at {end}"
                );
                at = end;
            }
            assert_eq!(
                fast.into_timed_transcript(),
                reference.into_timed_transcript()
            );
        }
    }

    #[test]
    fn a_row_shows_its_text_exactly_when_it_renders_to_it() {
        let mut rng = Rng(7);
        for _ in 0..3000 {
            let mut vt = avt::Vt::new(8, 1);
            let mut text = String::new();
            for _ in 0..rng.below(5) {
                let piece = ["a", "b ", " ", "\u{4e2d}", "\t", "\x1b[2G", "\x1b[K"];
                text.push_str(piece[rng.below(piece.len())]);
            }
            vt.feed_str(&text);
            let line = vt.line(0);
            let rendered = line_text(line);
            assert!(line_shows(line, &rendered), "{text:?}");
            let shorter = rendered.chars().count().saturating_sub(1);
            let shorter: String = rendered.chars().take(shorter).collect();
            for other in ["", "a", "b", "a b", "ab", "\u{4e2d}", "a\u{4e2d}", &shorter] {
                assert_eq!(
                    line_shows(line, other),
                    rendered == other,
                    "{text:?} against {other:?}"
                );
            }
        }
    }

    /// Feeds `chunks` to a screen with times and one without, and checks
    /// that both give the same transcript, as it is taken and at the end.
    fn same_untimed_transcript(cols: u32, rows: u32, chunks: &[&[u8]]) {
        let mut timed = Screen::with_transcript(cols, rows);
        let mut untimed = Screen::with_untimed_transcript(cols, rows);
        for (i, chunk) in chunks.iter().enumerate() {
            timed.feed(chunk);
            untimed.feed(chunk);
            assert_eq!(
                timed.take_transcript(),
                untimed.take_transcript(),
                "chunk {i}"
            );
        }
        assert_eq!(timed.into_transcript(), untimed.into_transcript());
    }

    #[test]
    fn a_status_line_below_a_scroll_region_keeps_its_place_and_time() {
        for timed in [true, false] {
            let mut s = screen_keeping_transcript(timed, 20, 4);
            s.set_time(1);
            // A region over the top three rows, a status line below it.
            s.feed(b"\x1b[1;3r\x1b[4;1Hstatus 10%\x1b[3;1H");
            assert_eq!(s.region, Some((0, 2)));
            // Lines that scroll the region, set and scrolled in one piece
            // too, as a program starting does.
            for (now, chunk) in [
                (2, &b"a\r\nb\r\nc\r\nd\r\n"[..]),
                (3, b"e\r\nf"),
                (4, b"\x1b[1;2r\x1b[2;1Hg\r\nh\r\ni"),
            ] {
                s.set_time(now);
                s.feed(chunk);
                s.render_stale();
                let shown: Vec<String> = s.vt.view().map(line_text).collect();
                let kept: Vec<String> = s.rows.iter().map(|r| r.0.clone()).collect();
                assert_eq!(kept, shown, "at {now}");
                if timed {
                    // Written once, at 1: the scrolls above never moved it.
                    assert_eq!(s.rows[3], ("status 10%".to_string(), 1), "at {now}");
                }
            }
            let t = s.into_timed_transcript();
            let lines: Vec<&str> = t.iter().map(|(l, _)| l.as_str()).collect();
            // The blank rows scrolled away first; `e` was written over by
            // `g` before it could scroll.
            assert_eq!(
                lines,
                ["", "", "a", "b", "c", "d", "g", "h", "i", "f", "status 10%"]
            );
            if timed {
                assert_eq!(t.last(), Some(&("status 10%".to_string(), 1)));
            }
        }
        assert_eq!(region_in_dump("x\x1b[0m\x1b[2;4r\x1b[1;9r"), Some((1, 3)));
        assert_eq!(region_in_dump("\x1b[2;4"), None);
        assert_eq!(region_in_dump("\x1b[0;4r"), None);
    }

    /// A reset (full, or soft in a chunk of its own) forgets a region:
    /// the rows and times are those of a screen that never had one.
    #[test]
    fn a_reset_forgets_the_scroll_region() {
        for (reset, lines) in [
            (&b"\x1bc"[..], &b"a\r\nb\r\nc\r\nd"[..]),
            (b"\x1b[!p", b"a\r\nb\r\nc\r\nd"),
            // The full reset and the lines in one chunk.
            (b"\x1bca\r\nb\r\nc\r\nd", b""),
        ] {
            let run = |region: &[u8]| {
                let mut s = Screen::with_transcript(20, 4);
                s.set_time(1);
                s.feed(region);
                s.feed(b"\x1b[Hx");
                s.set_time(2);
                s.feed(reset);
                s.set_time(3);
                s.feed(lines);
                s.set_time(4);
                s.feed(b"\r\ne\r\nf\r\ng\r\nh");
                (s.rows.clone(), s.into_timed_transcript())
            };
            let had_region = run(b"\x1b[1;3r");
            assert_eq!(had_region, run(b""), "{reset:?}");
        }
        let mut scan = CsiScan::Ground;
        assert!(!sets_scroll_region(&mut scan, b"\x1bc\x1b[!p", false));
        assert!(sets_scroll_region(&mut scan, b"\x1bc", true));
        assert!(sets_scroll_region(&mut scan, b"\x1b[!p", true));
    }

    #[test]
    fn a_transcript_without_times_has_the_same_lines() {
        // Typing, scrolling, a clear, a full-screen program whose lines
        // scroll away, and a screen full of output left at the end.
        same_untimed_transcript(
            12,
            3,
            &[
                b"$ ",
                b"l",
                b"s",
                b"\r\na\r\nb\r\nc\r\n$ ",
                b"x\x08 \x08",
                b"clear\r\n\x1b[H\x1b[2J$ less f\r\n",
                b"\x1b[?1049h\x1b[H1\r\n2\r\n3",
                b"\r\n4\r\n5",
                b"\x1b[?1049l$ a long line that wraps\r\nend",
            ],
        );
        // A scroll region over the top two of four rows: scrolling it moves
        // its top line away and leaves the bottom rows where they are (the
        // transcript keeps the rows as the screen with times keeps them).
        // The sequence setting it comes split over two chunks.
        same_untimed_transcript(
            10,
            4,
            &[
                b"one\r\ntwo\r\nthree\r\nfour",
                b"\x1b[1;",
                b"2r\x1b[2;1Hx\ny\nz",
                b"\x1b[2J",
                b"\x1b[rfive\r\nsix\r\nseven\r\neight\r\nnine",
                b"\x1b[2J",
            ],
        );
    }

    #[test]
    fn a_scroll_region_is_seen_in_the_output() {
        let mut scan = CsiScan::Ground;
        assert!(sets_scroll_region(&mut scan, b"a\x1b[1;20rb", false));
        assert!(!sets_scroll_region(&mut scan, b"\x1b[0m\x1b[2J x r", false));
        assert!(!sets_scroll_region(&mut scan, b"\x1b[3", false));
        assert!(sets_scroll_region(&mut scan, b";9r", false));
        assert!(sets_scroll_region(&mut scan, "\u{9b}r".as_bytes(), false));
        // A chunk with a region that ends inside the next sequence.
        assert!(sets_scroll_region(&mut scan, b"\x1b[r\x1b[2J\x1b[", false));
        assert!(sets_scroll_region(&mut scan, b"2;4r", false));
        let mut s = Screen::new(10, 5);
        assert!(!scroll_region_of(&s.vt).0);
        s.feed(b"\x1b[2;4r");
        assert!(scroll_region_of(&s.vt).0);
        s.feed(b"\x1b[r");
        assert!(!scroll_region_of(&s.vt).0);
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
