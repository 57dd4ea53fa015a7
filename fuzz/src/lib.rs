//! Checks shared by the fuzz targets: read a log every way the library
//! offers, check the invariants its documentation promises, and describe
//! what was read in an owned form so that two readings can be compared.

use std::io;

use sshtrail::time::parse_rfc3339;
use sshtrail::{ssh, Event, EventType, Format, Payload, Record, SliceReader, StreamReader};

/// One record a reader yielded, detached from the input.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Seen {
    /// An event, its payload decoded (or the decoding error).
    Event {
        line: u64,
        kind: String,
        ts_text: String,
        ts: i128,
        payload: Result<Vec<u8>, String>,
        extras: Vec<(String, String)>,
    },
    /// A located problem, as displayed.
    Problem(String),
}

impl Seen {
    /// The line the record starts at.
    pub fn line(&self) -> u64 {
        match self {
            Seen::Event { line, .. } => *line,
            Seen::Problem(shown) => shown
                .split(':')
                .next()
                .and_then(|l| l.parse().ok())
                .expect("a problem starts with its line"),
        }
    }
}

/// Checks one record against the documented invariants and describes it.
/// `lines` is the number of lines of the input (for the line bounds).
pub fn check_record(record: Record<'_>, lines: u64, buf: &mut Vec<u8>) -> Seen {
    match record {
        Ok(ev) => check_event(&ev, lines, buf),
        Err(e) => {
            assert!(
                e.line >= 1 && e.line <= lines,
                "error line {} of {lines}",
                e.line
            );
            assert!(e.column >= 1, "error column 0: {e}");
            assert!(!e.message().is_empty());
            let shown = e.to_string();
            assert!(shown.starts_with(&format!("{}:{}: ", e.line, e.column)));
            Seen::Problem(shown)
        }
    }
}

/// Checks one event and describes it.
pub fn check_event(ev: &Event<'_>, lines: u64, buf: &mut Vec<u8>) -> Seen {
    assert!(
        ev.line >= 1 && ev.line <= lines,
        "event line {} of {lines}",
        ev.line
    );
    // The type name round-trips through the lookup.
    assert_eq!(EventType::from_name(ev.kind.name().into()), ev.kind);
    // The cached time parse agrees with the plain one.
    assert_eq!(
        parse_rfc3339(ev.ts_text.as_bytes(), true),
        Ok(ev.ts),
        "ts {:?}",
        ev.ts_text
    );
    // Extras: as many pairs as counted, each key quoted.
    let extras: Vec<(String, String)> = ev
        .extras
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    assert_eq!(extras.len(), ev.extras.len(), "extras of {ev:?}");
    for (k, v) in &extras {
        assert!(
            k.len() >= 2 && k.starts_with('"') && k.ends_with('"'),
            "{k}"
        );
        assert!(!v.is_empty());
    }
    let _ = ev.channel_id();
    let hint = ssh::request_hint(ev);
    let payload = match ev.decode_payload(buf) {
        Ok(()) => {
            let hint_len = ev.payload_len_hint();
            match ev.payload {
                Payload::Hex { .. } | Payload::HexDump { .. } => {
                    assert_eq!(buf.len(), hint_len, "hex length hint")
                }
                _ => assert!(
                    buf.len() <= hint_len,
                    "length hint {hint_len} < {}",
                    buf.len()
                ),
            }
            if let ssh::Decoded::Message { message, .. } =
                ssh::decode(&ev.kind, buf, hint.as_deref())
            {
                let _ = message.to_string();
            }
            Ok(buf.clone())
        }
        Err(e) => {
            assert!(e.line >= 1 && e.column >= 1, "{e}");
            Err(e.to_string())
        }
    };
    Seen::Event {
        line: ev.line,
        kind: ev.kind.name().to_string(),
        ts_text: ev.ts_text.to_string(),
        ts: ev.ts,
        payload,
        extras,
    }
}

/// The number of lines of `data` (a last line without a line end counts).
pub fn line_count(data: &[u8]) -> u64 {
    data.iter().filter(|&&c| c == b'\n').count() as u64 + 1
}

/// Checks the order of records: line numbers never go back, and a warning
/// (a cut-off last line) can only be the last record.
pub fn check_sequence(seen: &[Seen], records_lines: &[u64], warnings: &[bool]) {
    assert_eq!(seen.len(), records_lines.len());
    for w in records_lines.windows(2) {
        assert!(w[0] <= w[1], "line numbers went back: {records_lines:?}");
    }
    if let Some(i) = warnings.iter().position(|&w| w) {
        assert_eq!(
            i + 1,
            warnings.len(),
            "a warning that is not the last record"
        );
    }
}

fn record_meta(record: &Record<'_>) -> (u64, bool) {
    match record {
        Ok(ev) => (ev.line, false),
        Err(e) => (e.line, e.is_warning()),
    }
}

/// Whether a record is the reader's verdict on the whole input (no valid
/// event in it), which comes after everything, a cut-off last line too.
fn is_verdict(record: &Record<'_>) -> bool {
    matches!(record, Err(e) if matches!(e.kind, sshtrail::ParseErrorKind::NoEvent))
}

/// `seen` without the verdict on the whole input: a block read alone
/// judges itself, the whole log only at its end.
pub fn without_verdicts(seen: Vec<Seen>) -> Vec<Seen> {
    seen.into_iter()
        .filter(|s| !matches!(s, Seen::Problem(p) if p.ends_with(VERDICT)))
        .collect()
}

/// How the verdict reads.
const VERDICT: &str = "the input ended without one valid event: not a trail log";

/// Reads `data` with a [`SliceReader`], checking every record.
pub fn read_slice(data: &[u8], format: Option<Format>) -> Vec<Seen> {
    let lines = line_count(data);
    let mut buf = Vec::new();
    let (mut seen, mut at, mut warn) = (Vec::new(), Vec::new(), Vec::new());
    for record in SliceReader::with_format(data, format) {
        if is_verdict(&record) {
            seen.push(check_record(record, lines, &mut buf));
            continue;
        }
        let (l, w) = record_meta(&record);
        at.push(l);
        warn.push(w);
        seen.push(check_record(record, lines, &mut buf));
    }
    check_sequence(&without_verdicts(seen.clone()), &at, &warn);
    check_verdict(&seen);
    seen
}

/// The verdict comes at most once, last, and only after problems with no
/// event.
fn check_verdict(seen: &[Seen]) {
    let verdicts = seen
        .iter()
        .filter(|s| matches!(s, Seen::Problem(p) if p.ends_with(VERDICT)))
        .count();
    if verdicts == 0 {
        return;
    }
    assert_eq!(verdicts, 1, "one verdict");
    assert!(
        matches!(seen.last(), Some(Seen::Problem(p)) if p.ends_with(VERDICT)),
        "the verdict is last"
    );
    assert!(
        seen.iter().all(|s| !matches!(s, Seen::Event { payload: Ok(_), .. })),
        "a verdict with a valid event"
    );
}

/// Reads `data` with a [`StreamReader`] fed through [`Dribble`], checking
/// every record.
pub fn read_stream(
    data: &[u8],
    format: Option<Format>,
    sizes: &[u8],
    max_record: Option<usize>,
) -> Vec<Seen> {
    let lines = line_count(data);
    let mut buf = Vec::new();
    let (mut seen, mut at, mut warn) = (Vec::new(), Vec::new(), Vec::new());
    let mut reader = StreamReader::with_format(Dribble::new(data, sizes), format);
    if let Some(max) = max_record {
        reader = reader.max_record(max);
    }
    let read = reader.for_each(|record| -> io::Result<()> {
        if !is_verdict(&record) {
            let (l, w) = record_meta(&record);
            at.push(l);
            warn.push(w);
        }
        seen.push(check_record(record, lines, &mut buf));
        Ok(())
    });
    match read {
        Ok(()) => {}
        // No line end within the record limit: not a trail log, and
        // reading stops (only a tiny limit can see that in these inputs).
        Err(e) if max_record.is_some() && e.to_string().contains("no line end in the first") => {
            assert!(at.is_empty(), "records before the verdict: {at:?}");
        }
        Err(e) => panic!("an in-memory reader cannot fail: {e}"),
    }
    check_sequence(&without_verdicts(seen.clone()), &at, &warn);
    check_verdict(&seen);
    seen
}

/// An `io::Read` that hands out its data in small chunks whose sizes cycle
/// through `sizes` (each 1 to 64 bytes; 0 in `sizes` also means 1).
pub struct Dribble<'a> {
    data: &'a [u8],
    sizes: &'a [u8],
    turn: usize,
}

impl<'a> Dribble<'a> {
    pub fn new(data: &'a [u8], sizes: &'a [u8]) -> Self {
        Dribble {
            data,
            sizes,
            turn: 0,
        }
    }
}

impl io::Read for Dribble<'_> {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        let size = match self.sizes.get(self.turn % self.sizes.len().max(1)) {
            Some(&s) => usize::from(s % 64).max(1),
            None => 7,
        };
        self.turn += 1;
        let n = size.min(out.len()).min(self.data.len());
        out[..n].copy_from_slice(&self.data[..n]);
        self.data = &self.data[n..];
        Ok(n)
    }
}

/// `seen` with its line numbers moved down by `by` lines, as records of a
/// block read alone compare with the same records read in the whole log.
pub fn shift_lines(seen: Seen, by: u64) -> Seen {
    match seen {
        Seen::Event {
            line,
            kind,
            ts_text,
            ts,
            payload,
            extras,
        } => Seen::Event {
            line: line + by,
            kind,
            ts_text,
            ts,
            // A payload's decoding error is located too.
            payload: payload.map_err(|shown| shift_shown(&shown, by)),
            extras,
        },
        Seen::Problem(shown) => Seen::Problem(shift_shown(&shown, by)),
    }
}

/// `LINE:COLUMN: message` with LINE moved down by `by`.
fn shift_shown(shown: &str, by: u64) -> String {
    let (line, rest) = shown
        .split_once(':')
        .expect("a problem starts with its line");
    let line: u64 = line.parse().expect("a problem starts with its line");
    format!("{}:{rest}", line + by)
}
