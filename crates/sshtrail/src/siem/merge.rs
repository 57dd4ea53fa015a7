//! The SIEM records of several connections, in time order across all of
//! them: a k-way merge of per-connection record streams.
//!
//! Each connection is replayed one record at a time
//! ([`ConnectionReplay::step`]) into its own [`RecordBuilder`], whose
//! records (in time order within the connection) wait in a small queue; the
//! merge always hands on the earliest head of the queues. Nothing holds a
//! whole log: a connection in flight keeps one read buffer a log and the
//! records its builder holds back (bounded, see [`RecordBuilder`]), and a
//! connection is opened only when the merge reaches the time its first
//! record can have ([`ConnectionSource::first_time`]), so what is open at
//! once is the connections that overlap in time, not the archive.

use std::cmp::Reverse;
use std::collections::{BinaryHeap, VecDeque};
use std::io;

use super::{RecordBuilder, SiemEvent, SiemOptions};
use crate::archive::{
    Archive, ConnectionReplay, ConnectionSource, Problem, ReplayCounts, ReplayOptions,
};
use crate::channel::{ChannelEvent, ChannelSink, ConnectionRef};
use crate::redact::{Redactions, SecretJudge, SecretRules};
use crate::time::Nanos;

/// A connection's record builder, behind the judge of secrets typed at
/// prompts when the records redact them.
struct Builder {
    records: RecordBuilder,
    judge: Option<SecretJudge>,
}

impl Builder {
    fn new(siem: SiemOptions, redact: Option<&SecretRules>) -> Self {
        Builder {
            records: RecordBuilder::new(siem),
            judge: redact.map(|rules| SecretJudge::new(rules.clone())),
        }
    }

    fn connection_start(&mut self, conn: &ConnectionRef<'_>) {
        self.records.connection_start(conn);
    }

    fn event(
        &mut self,
        ev: &ChannelEvent<'_>,
        emit: &mut dyn FnMut(&SiemEvent) -> io::Result<()>,
    ) -> io::Result<()> {
        let records = &mut self.records;
        match self.judge.as_mut() {
            Some(judge) => judge.event(ev, &mut |e| records.event(e, emit)),
            None => records.event(ev, emit),
        }
    }

    fn connection_end(
        &mut self,
        emit: &mut dyn FnMut(&SiemEvent) -> io::Result<()>,
    ) -> io::Result<()> {
        self.records.connection_end(emit)
    }

    fn redactions(&self) -> Redactions {
        self.judge
            .as_ref()
            .map_or_else(Redactions::default, SecretJudge::redactions)
    }
}

/// What a merge reported: the replays' counts and what was redacted.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct MergeCounts {
    /// Errors and warnings of the replays.
    pub replay: ReplayCounts,
    /// Secrets typed at prompts kept out of the records.
    pub redactions: Redactions,
}

/// Records of one connection as the builder lets them go, turned into
/// what the caller keeps (`T`), with their time.
struct Queue<'q, T> {
    builder: &'q mut Builder,
    queue: &'q mut VecDeque<(Nanos, T)>,
    make: &'q mut dyn FnMut(&SiemEvent) -> T,
}

impl<T> ChannelSink for Queue<'_, T> {
    fn connection_start(&mut self, conn: &ConnectionRef<'_>) -> io::Result<()> {
        self.builder.connection_start(conn);
        Ok(())
    }

    fn event(&mut self, ev: &ChannelEvent<'_>) -> io::Result<()> {
        let (queue, make) = (&mut *self.queue, &mut *self.make);
        self.builder.event(ev, &mut |r| {
            queue.push_back((r.ts, make(r)));
            Ok(())
        })
    }

    fn connection_end(&mut self, _conn: &ConnectionRef<'_>) -> io::Result<()> {
        let (queue, make) = (&mut *self.queue, &mut *self.make);
        self.builder.connection_end(&mut |r| {
            queue.push_back((r.ts, make(r)));
            Ok(())
        })
    }
}

/// Records of the only connection, handed on as the builder lets them go.
struct Direct<'q, T> {
    builder: &'q mut Builder,
    make: &'q mut dyn FnMut(&SiemEvent) -> T,
    emit: &'q mut dyn FnMut(T) -> io::Result<()>,
}

impl<T> ChannelSink for Direct<'_, T> {
    fn connection_start(&mut self, conn: &ConnectionRef<'_>) -> io::Result<()> {
        self.builder.connection_start(conn);
        Ok(())
    }

    fn event(&mut self, ev: &ChannelEvent<'_>) -> io::Result<()> {
        let (make, emit) = (&mut *self.make, &mut *self.emit);
        self.builder.event(ev, &mut |r| emit(make(r)))
    }

    fn connection_end(&mut self, _conn: &ConnectionRef<'_>) -> io::Result<()> {
        let (make, emit) = (&mut *self.make, &mut *self.emit);
        self.builder.connection_end(&mut |r| emit(make(r)))
    }
}

/// One connection in flight.
struct Flow<'a, T> {
    replay: Option<ConnectionReplay<'a>>,
    builder: Builder,
    queue: VecDeque<(Nanos, T)>,
}

impl<'a, T> Flow<'a, T> {
    /// Replays until a record waits in the queue or the connection is over.
    fn fill(
        &mut self,
        make: &mut dyn FnMut(&SiemEvent) -> T,
        problems: &mut dyn FnMut(Problem),
        counts: &mut MergeCounts,
    ) -> io::Result<()> {
        while self.queue.is_empty() {
            let Some(replay) = self.replay.as_mut() else {
                return Ok(());
            };
            let mut sink = Queue {
                builder: &mut self.builder,
                queue: &mut self.queue,
                make: &mut *make,
            };
            if !replay.step(&mut sink, problems)? {
                if let Some(replay) = self.replay.take() {
                    let one = replay.finish(&mut sink)?;
                    counts.replay.errors += one.errors;
                    counts.replay.warnings += one.warnings;
                    counts.redactions.add(self.builder.redactions());
                }
            }
        }
        Ok(())
    }
}

/// Replays every connection of `archive` and hands their SIEM records to
/// `emit`, in time order across all of them (ties: the connections in
/// archive order); each record is first turned by `make` into what waits
/// in the queues (the record itself, or the line it is written as). With
/// one connection there is nothing to merge: each record goes to `emit` as
/// soon as `make` has turned it.
/// Problems go to `problems`, as in [`Archive::replay_with`]. With
/// `redact`, secrets typed at prompts are judged before the records are
/// made ([`crate::redact`]), as every derived output does.
///
/// ```
/// use sshtrail::archive::{Archive, ReplayOptions};
/// use sshtrail::siem::{merge_records, SiemOptions};
///
/// let mut archive = Archive::from_bytes("a/0.hex", b"2023-06-07T17:32:29Z stdin 6c\n2023-06-07T17:32:31Z stdin 6c\n");
/// let other = Archive::from_bytes("b/0.hex", b"2023-06-07T17:32:30Z stdin 6c\n");
/// archive.connections.extend(other.connections);
/// let mut times = Vec::new();
/// merge_records(&archive, &ReplayOptions::default(), SiemOptions::default(), None,
///     &mut |r| r.ts_text.clone(), &mut |t| { times.push(t); Ok(()) }, &mut |p| panic!("{p}")).unwrap();
/// let mut sorted = times.clone();
/// sorted.sort();
/// assert_eq!(times, sorted);
/// ```
pub fn merge_records<T>(
    archive: &Archive,
    options: &ReplayOptions,
    siem: SiemOptions,
    redact: Option<&SecretRules>,
    make: &mut dyn FnMut(&SiemEvent) -> T,
    emit: &mut dyn FnMut(T) -> io::Result<()>,
    problems: &mut dyn FnMut(Problem),
) -> io::Result<MergeCounts> {
    merge(archive, options, siem, redact, make, emit, problems).map(|(counts, _)| counts)
}

/// [`merge_records`], and the most connections that were in flight at once.
fn merge<T>(
    archive: &Archive,
    options: &ReplayOptions,
    siem: SiemOptions,
    redact: Option<&SecretRules>,
    make: &mut dyn FnMut(&SiemEvent) -> T,
    emit: &mut dyn FnMut(T) -> io::Result<()>,
    problems: &mut dyn FnMut(Problem),
) -> io::Result<(MergeCounts, usize)> {
    if let [one] = archive.connections.as_slice() {
        // Nothing to merge: straight through.
        let mut builder = Builder::new(siem, redact);
        let mut sink = Direct {
            builder: &mut builder,
            make,
            emit,
        };
        let replay = one.replay(options, &mut sink, problems)?;
        let counts = MergeCounts {
            replay,
            redactions: builder.redactions(),
        };
        return Ok((counts, 1));
    }
    let mut counts = MergeCounts::default();
    let (mut open, mut most_open) = (0, 0);
    // Connections in the order their first records can come (one that can
    // be read only once is opened first).
    let mut order: Vec<(Option<Nanos>, usize)> = archive
        .connections
        .iter()
        .enumerate()
        .map(|(i, c)| (c.first_time(options), i))
        .collect();
    order.sort();
    let mut pending = order.into_iter().peekable();
    let mut flows: Vec<Option<Flow<'_, T>>> = archive.connections.iter().map(|_| None).collect();
    // The head of each flow's queue: (time, connection).
    let mut heads: BinaryHeap<Reverse<(Nanos, usize)>> = BinaryHeap::new();
    loop {
        // Open every connection whose first record can come before the
        // earliest head.
        while let Some(&(first, i)) = pending.peek() {
            if let (Some(f), Some(Reverse((h, _)))) = (first, heads.peek()) {
                if f > *h {
                    break;
                }
            }
            pending.next();
            let source: &ConnectionSource = &archive.connections[i];
            let mut builder = Builder::new(siem, redact);
            let mut queue = VecDeque::new();
            let replay = {
                let mut sink = Queue {
                    builder: &mut builder,
                    queue: &mut queue,
                    make: &mut *make,
                };
                ConnectionReplay::start(source, options, &mut sink, problems)?
            };
            let mut flow = Flow {
                replay: Some(replay),
                builder,
                queue,
            };
            flow.fill(make, problems, &mut counts)?;
            if let Some((ts, _)) = flow.queue.front() {
                heads.push(Reverse((*ts, i)));
                flows[i] = Some(flow);
                open += 1;
                most_open = most_open.max(open);
            }
        }
        let Some(Reverse((_, i))) = heads.pop() else {
            break;
        };
        let Some(flow) = flows[i].as_mut() else {
            continue;
        };
        if let Some((_, item)) = flow.queue.pop_front() {
            emit(item)?;
        }
        flow.fill(make, problems, &mut counts)?;
        match flow.queue.front() {
            Some((ts, _)) => heads.push(Reverse((*ts, i))),
            None => {
                flows[i] = None;
                open -= 1;
            }
        }
    }
    Ok((counts, most_open))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Connections `(start second, end second)` of one stdin event at each
    /// end, in memory, each its own.
    fn archive(spans: &[(u32, u32)]) -> Archive {
        let mut archive = Archive::default();
        for (i, (a, b)) in spans.iter().enumerate() {
            let log = format!(
                "2023-06-07T17:{:02}:{:02}Z stdin 6c\n2023-06-07T17:{:02}:{:02}Z stdout 6c\n",
                a / 60,
                a % 60,
                b / 60,
                b % 60
            );
            let id = format!("00000000-0000-4000-8000-00000000000{i}");
            let one = Archive::from_bytes(&format!("{id}/0.hex"), log);
            archive.connections.extend(one.connections);
        }
        archive
    }

    fn merged(archive: &Archive) -> (Vec<(Nanos, String)>, usize) {
        let mut out = Vec::new();
        let (_, most) = merge(
            archive,
            &ReplayOptions::default(),
            SiemOptions {
                recognize_commands: false,
                ..SiemOptions::default()
            },
            None,
            &mut |r| (r.ts, r.id.clone()),
            &mut |r| {
                out.push(r);
                Ok(())
            },
            &mut |p| panic!("{p}"),
        )
        .unwrap();
        (out, most)
    }

    #[test]
    fn connections_one_after_another_are_opened_one_at_a_time() {
        // Given latest first: the output is still in time order.
        let spans: Vec<(u32, u32)> = (0..9).rev().map(|i| (i * 10, i * 10 + 5)).collect();
        let (records, most) = merged(&archive(&spans));
        assert!(records.windows(2).all(|w| w[0].0 <= w[1].0));
        assert_eq!(records.len(), 9 * 4, "start, open, close, end each");
        assert_eq!(most, 1, "never more than one connection in flight");
    }

    #[test]
    fn overlapping_connections_interleave() {
        let (records, most) = merged(&archive(&[(0, 30), (10, 20), (25, 40)]));
        assert!(records.windows(2).all(|w| w[0].0 <= w[1].0));
        // The connection of each record: the last digit of its id.
        let who: String = records.iter().map(|(_, id)| &id[35..36]).collect();
        assert_eq!(who, "001111220022");
        assert_eq!(most, 2);
    }
}
