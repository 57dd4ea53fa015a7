//! The channel builder fed whatever events the reader makes of arbitrary
//! input, the way `sshtrail inspect` feeds it (events go to the channel
//! their `channel_id` names), finished with and without metadata: never a
//! panic, the stream bookkeeping adds up, replies answer requests that were
//! made, and the summary serializes.
#![no_main]

use std::collections::{HashMap, HashSet};

use libfuzzer_sys::fuzz_target;
use sshtrail::channel::{
    ChannelEvent, ChannelEventKind, ChannelSink, ConnectionBuilder, SummaryCollector,
};
use sshtrail::connection::{Connection, Context};
use sshtrail::SliceReader;

const META: &[u8] = br#"{"id":"c","trail":{"channels":[
  {"id":"0","type":"shell","bytes_client_to_server":1,"bytes_server_to_client":2,"protocol_file":{"status":"OK"}},
  {"id":"1","protocol_file":{"status":"UNCLEAN_CLOSE"}}]}}"#;

/// Checks what the builder hands on.
#[derive(Default)]
struct Check {
    /// Bytes seen per channel and stream.
    offsets: HashMap<(Context, usize), u64>,
    /// Requests made, per channel.
    requests: HashMap<Context, HashSet<usize>>,
    ended: HashSet<Context>,
    summaries: SummaryCollector,
}

impl ChannelSink for Check {
    fn event(&mut self, ev: &ChannelEvent<'_>) -> std::io::Result<()> {
        let ch = ev.channel;
        assert!(!self.ended.contains(&ch.context), "an event after the end");
        match ev.kind {
            ChannelEventKind::Data {
                stream,
                offset,
                data,
                ..
            } => {
                let seen = self
                    .offsets
                    .entry((ch.context.clone(), stream as usize))
                    .or_default();
                assert_eq!(offset, *seen, "chunk offsets run on");
                *seen += data.len() as u64;
                assert_eq!(ch.bytes_of(stream), *seen);
            }
            ChannelEventKind::Request(r) => {
                assert!(self
                    .requests
                    .entry(ch.context.clone())
                    .or_default()
                    .insert(r.index));
            }
            ChannelEventKind::Reply { request, .. } | ChannelEventKind::Unanswered(request) => {
                assert!(self
                    .requests
                    .get(&ch.context)
                    .is_some_and(|r| r.contains(&request.index)));
            }
            ChannelEventKind::Ended { .. } => {
                let integrity = ch.integrity.as_ref().expect("a verdict at the end");
                // The verdict agrees with its reasons: ok when everything
                // was compared and agreed, a mismatch names each
                // difference, unknown says what could not be compared.
                use sshtrail::channel::Verdict;
                let agrees = match integrity.verdict {
                    Verdict::Ok => integrity.problems.is_empty() && integrity.unchecked.is_empty(),
                    Verdict::Mismatch => !integrity.problems.is_empty(),
                    Verdict::Unknown => !integrity.unchecked.is_empty(),
                };
                assert!(agrees, "{integrity:?}");
                assert_eq!(integrity.ok, integrity.verdict == Verdict::Ok);
                self.ended.insert(ch.context.clone());
            }
            _ => {}
        }
        self.summaries.event(ev)
    }
}

fuzz_target!(|data: &[u8]| {
    let meta = Connection::from_json(META).unwrap();
    let with_meta = data.first().is_some_and(|b| b & 1 == 1);
    let base = Context {
        connection_id: Some("c".into()),
        channel_id: "0".into(),
    };
    let mut check = Check::default();
    let mut conn = ConnectionBuilder::new(Some("c"), with_meta.then_some(&meta));
    conn.start(&mut check).unwrap();
    conn.open_log(0, &base);
    for record in SliceReader::new(data) {
        match record {
            Ok(event) => {
                if let Err(sshtrail::channel::ReplayError::Payload(e)) =
                    conn.push(0, &base, &event, &mut check)
                {
                    conn.problem(&base, &e);
                }
            }
            Err(e) => conn.problem(&base, &e),
        }
    }
    let states = conn.finish(&mut check).unwrap();
    assert_eq!(states.len(), check.ended.len(), "every channel ends once");
    for c in check.summaries.connections() {
        for ch in &c.channels {
            assert!(ch.undecoded_events.len() as u64 <= ch.undecoded);
            let _ = serde_json::to_string(ch).unwrap();
        }
    }
});
