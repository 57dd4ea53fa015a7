//! Counts per event type, time span and clock steps of one or more logs.

use std::collections::BTreeMap;

use crate::event::{Event, EventType};
use crate::time::{Nanos, NANOS_PER_SEC};

/// Events per type name, without allocating for the 15 known types.
///
/// ```
/// use sshtrail::stats::EventCounts;
/// use sshtrail::EventType;
/// let mut counts = EventCounts::default();
/// counts.add(&EventType::Stdout);
/// counts.add(&EventType::from_name("session-note".into()));
/// counts.add(&EventType::Stdout);
/// assert_eq!(counts.total(), 3);
/// assert_eq!(counts.to_map()["stdout"], 2);
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct EventCounts {
    known: [u64; EventType::KNOWN.len()],
    other: BTreeMap<String, u64>,
}

impl EventCounts {
    /// Counts one event of type `kind`.
    pub fn add(&mut self, kind: &EventType<'_>) {
        match kind.known_index() {
            Some(i) => self.known[i] += 1,
            None => match self.other.get_mut(kind.name()) {
                Some(n) => *n += 1,
                None => {
                    self.other.insert(kind.name().to_string(), 1);
                }
            },
        }
    }

    /// Adds another count to this one.
    pub fn merge(&mut self, other: &EventCounts) {
        for (a, b) in self.known.iter_mut().zip(other.known) {
            *a += b;
        }
        for (k, n) in &other.other {
            *self.other.entry(k.clone()).or_default() += n;
        }
    }

    /// Events counted.
    pub fn total(&self) -> u64 {
        self.known.iter().sum::<u64>() + self.other.values().sum::<u64>()
    }

    /// The counts by type name, types with no event left out.
    pub fn to_map(&self) -> BTreeMap<String, u64> {
        let mut map = self.other.clone();
        for (name, &n) in EventType::NAMES.iter().zip(&self.known) {
            if n > 0 {
                *map.entry(name.to_string()).or_default() += n;
            }
        }
        map
    }
}

impl serde::Serialize for EventCounts {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        self.to_map().serialize(s)
    }
}

/// Events and decoded payload bytes of one type.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct TypeCount {
    /// Number of events.
    pub events: u64,
    /// Decoded payload bytes.
    pub bytes: u64,
}

/// Running statistics; feed events with [`Stats::add`].
///
/// ```
/// use sshtrail::{stats::Stats, SliceReader};
/// let mut stats = Stats::default();
/// for ev in SliceReader::new(b"2023-06-07T17:32:30Z stdin 6c\n2023-06-07T17:32:29Z stdout 6c6c\n") {
///     let ev = ev.unwrap();
///     let len = ev.payload_len_hint() as u64;
///     stats.add(&ev, len);
/// }
/// assert_eq!(stats.events, 2);
/// assert_eq!(stats.backwards_steps, 1);
/// assert_eq!(stats.by_type()["stdout"].bytes, 2);
/// ```
#[derive(Debug, Clone, Default)]
pub struct Stats {
    /// Events counted.
    pub events: u64,
    known: [TypeCount; 15],
    unknown: BTreeMap<String, TypeCount>,
    first: Option<(Nanos, String)>,
    last: Option<Nanos>,
    last_text: String,
    prev: Option<Nanos>,
    /// Events whose time is before the previous event's time in the same log.
    pub backwards_steps: u64,
    /// Warnings seen (truncated last lines).
    pub warnings: u64,
    /// Errors seen (malformed lines).
    pub errors: u64,
}

impl Stats {
    /// Marks the start of another log: time steps are not compared across logs.
    pub fn start_log(&mut self) {
        self.prev = None;
    }

    /// Counts one event with `bytes` decoded payload bytes.
    pub fn add(&mut self, event: &Event<'_>, bytes: u64) {
        self.events += 1;
        let slot = match event.kind.known_index() {
            Some(i) => &mut self.known[i],
            None => match self.unknown.get_mut(event.kind.name()) {
                Some(c) => c,
                None => self
                    .unknown
                    .entry(event.kind.name().to_string())
                    .or_default(),
            },
        };
        slot.events += 1;
        slot.bytes += bytes;
        if self.first.is_none() {
            self.first = Some((event.ts, event.ts_text.to_string()));
        }
        if self.prev.is_some_and(|p| event.ts < p) {
            self.backwards_steps += 1;
        }
        self.prev = Some(event.ts);
        self.last = Some(event.ts);
        self.last_text.clear();
        self.last_text.push_str(&event.ts_text);
    }

    /// Adds the statistics of what follows: `later` counted the events of
    /// the next block of the same log (from [`Stats::default`]), so the
    /// result is what counting both in one pass gives, including a step
    /// back in time between the last event here and the first there.
    ///
    /// ```
    /// use sshtrail::{stats::Stats, SliceReader};
    /// let log = b"2023-06-07T17:32:30Z stdin 6c\n2023-06-07T17:32:29Z stdout 6c6c\n";
    /// let count = |log: &[u8]| {
    ///     let mut stats = Stats::default();
    ///     for ev in SliceReader::new(log) {
    ///         let ev = ev.unwrap();
    ///         stats.add(&ev, ev.payload_len_hint() as u64);
    ///     }
    ///     stats
    /// };
    /// let mut joined = count(&log[..30]);
    /// joined.merge(&count(&log[30..]));
    /// assert_eq!(joined.events, 2);
    /// assert_eq!(joined.backwards_steps, 1);
    /// assert_eq!(joined.last_ts(), Some("2023-06-07T17:32:29Z"));
    /// ```
    pub fn merge(&mut self, later: &Stats) {
        self.events += later.events;
        for (a, b) in self.known.iter_mut().zip(&later.known) {
            a.events += b.events;
            a.bytes += b.bytes;
        }
        for (name, c) in &later.unknown {
            let slot = self.unknown.entry(name.clone()).or_default();
            slot.events += c.events;
            slot.bytes += c.bytes;
        }
        if let (Some(prev), Some((first, _))) = (self.prev, &later.first) {
            if *first < prev {
                self.backwards_steps += 1;
            }
        }
        self.backwards_steps += later.backwards_steps;
        if self.first.is_none() {
            self.first = later.first.clone();
        }
        if later.last.is_some() {
            self.last = later.last;
            self.last_text.clone_from(&later.last_text);
        }
        self.prev = later.prev.or(self.prev);
        self.warnings += later.warnings;
        self.errors += later.errors;
    }

    /// Counts per type name, for the types that occurred.
    pub fn by_type(&self) -> BTreeMap<String, TypeCount> {
        let mut out = self.unknown.clone();
        for (i, c) in self.known.iter().enumerate() {
            if c.events > 0 {
                out.insert(EventType::NAMES[i].to_string(), *c);
            }
        }
        out
    }

    /// The time text of the first event.
    pub fn first_ts(&self) -> Option<&str> {
        self.first.as_ref().map(|(_, t)| t.as_str())
    }

    /// The time text of the last event.
    pub fn last_ts(&self) -> Option<&str> {
        self.last.map(|_| self.last_text.as_str())
    }

    /// Seconds from the first event to the last (negative if the clock
    /// stepped back past the start).
    pub fn duration_s(&self) -> f64 {
        match (&self.first, self.last) {
            (Some((f, _)), Some(l)) => (l - f) as f64 / NANOS_PER_SEC as f64,
            _ => 0.0,
        }
    }

    fn json_view(&self) -> StatsJson<'_> {
        let mut by_type: BTreeMap<&str, TypeCount> =
            self.unknown.iter().map(|(k, v)| (k.as_str(), *v)).collect();
        for (i, c) in self.known.iter().enumerate() {
            if c.events > 0 {
                by_type.insert(EventType::NAMES[i], *c);
            }
        }
        StatsJson {
            events: self.events,
            by_type,
            first_ts: self.first_ts(),
            last_ts: self.last_ts(),
            duration_s: self.duration_s(),
            backwards_steps: self.backwards_steps,
            warnings: self.warnings,
            errors: self.errors,
        }
    }

    /// The statistics as the JSON object `sshtrail stats --json` prints.
    pub fn to_json(&self) -> serde_json::Value {
        serde_json::to_value(self.json_view()).unwrap_or_default()
    }

    /// Writes that object straight to `w`, without building a tree of it
    /// (a log can hold a million distinct types).
    pub fn write_json(&self, w: impl std::io::Write) -> serde_json::Result<()> {
        serde_json::to_writer(w, &self.json_view())
    }
}

/// The shape of `stats --json`.
#[derive(serde::Serialize)]
struct StatsJson<'a> {
    events: u64,
    by_type: BTreeMap<&'a str, TypeCount>,
    first_ts: Option<&'a str>,
    last_ts: Option<&'a str>,
    duration_s: f64,
    backwards_steps: u64,
    warnings: u64,
    errors: u64,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::SliceReader;

    #[test]
    fn counts_types_bytes_and_steps() {
        let log = b"2023-06-07T17:32:30Z stdin 6c\n2023-06-07T17:32:29.5Z stdout 6c6c\n2023-06-07T17:32:31Z session-note\n2023-06-07T17:32:32Z session-note 00\n";
        let mut s = Stats::default();
        let mut buf = Vec::new();
        for ev in SliceReader::new(log) {
            let ev = ev.unwrap();
            ev.decode_payload(&mut buf).unwrap();
            s.add(&ev, buf.len() as u64);
        }
        let j = s.to_json();
        assert_eq!(j["events"], 4);
        assert_eq!(j["by_type"]["stdin"]["bytes"], 1);
        assert_eq!(j["by_type"]["stdout"]["bytes"], 2);
        assert_eq!(j["by_type"]["session-note"]["events"], 2);
        assert_eq!(j["by_type"]["session-note"]["bytes"], 1);
        assert_eq!(j["first_ts"], "2023-06-07T17:32:30Z");
        assert_eq!(j["last_ts"], "2023-06-07T17:32:32Z");
        assert_eq!(j["duration_s"], 2.0);
        assert_eq!(j["backwards_steps"], 1);
        assert!(j["by_type"].get("stderr").is_none());
    }

    #[test]
    fn steps_are_not_compared_across_logs() {
        let mut s = Stats::default();
        for log in [
            &b"2023-06-07T17:32:30Z stdin\n"[..],
            b"2023-06-07T17:32:29Z stdin\n",
        ] {
            s.start_log();
            for ev in SliceReader::new(log) {
                s.add(&ev.unwrap(), 0);
            }
        }
        assert_eq!(s.backwards_steps, 0);
        assert_eq!(s.to_json()["duration_s"], -1.0);
    }

    /// Statistics counted in pieces cut after any line and merged in
    /// order are those counted in one pass.
    #[test]
    fn merged_pieces_count_as_one_pass() {
        let log = b"2023-06-07T17:32:30Z stdin 6c\n2023-06-07T17:32:29.5Z stdout 6c6c\n2023-06-07T17:32:31Z x-note\n2023-06-07T17:32:31Z stdout 00\n2023-06-07T17:32:20Z x-note 00\n2023-06-07T17:32:40Z stderr 01\n";
        let count = |part: &[u8]| {
            let mut s = Stats::default();
            let mut buf = Vec::new();
            for ev in SliceReader::new(part) {
                let ev = ev.unwrap();
                ev.decode_payload(&mut buf).unwrap();
                s.add(&ev, buf.len() as u64);
            }
            s
        };
        let whole = count(log).to_json();
        assert_eq!(whole["backwards_steps"], 2);
        let cuts: Vec<usize> = std::iter::once(0)
            .chain(
                log.iter()
                    .enumerate()
                    .filter(|(_, &c)| c == b'\n')
                    .map(|(i, _)| i + 1),
            )
            .collect();
        for &a in &cuts {
            for &b in cuts.iter().filter(|&&b| b >= a) {
                let mut merged = Stats::default();
                for part in [&log[..a], &log[a..b], &log[b..]] {
                    merged.merge(&count(part));
                }
                assert_eq!(merged.to_json(), whole, "cut at {a} and {b}");
            }
        }
    }
}
