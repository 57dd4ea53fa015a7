//! The channel builder fed whatever events the reader makes of arbitrary
//! input, the way `sshtrail inspect` feeds it (events go to the channel
//! their `channel_id` names), finished with and without metadata: never a
//! panic, and the stream bookkeeping adds up.
#![no_main]

use std::collections::BTreeMap;

use libfuzzer_sys::fuzz_target;
use sshtrail::channel::{ChannelBuilder, Stream};
use sshtrail::connection::{Connection, Context};
use sshtrail::SliceReader;

const META: &[u8] = br#"{"id":"c","trail":{"channels":[
  {"id":"0","type":"shell","bytes_client_to_server":1,"bytes_server_to_client":2,"protocol_file":{"status":"OK"}},
  {"id":"1","protocol_file":{"status":"UNCLEAN_CLOSE"}}]}}"#;

fuzz_target!(|data: &[u8]| {
    let meta = Connection::from_json(META).unwrap();
    let base = Context {
        connection_id: Some("c".into()),
        channel_id: "0".into(),
    };
    let mut builders: BTreeMap<Context, ChannelBuilder<'_>> = BTreeMap::new();
    builders.insert(base.clone(), ChannelBuilder::new(base.clone()));
    let mut buf = Vec::new();
    for record in SliceReader::new(data) {
        let event = match record {
            Ok(ev) => ev,
            Err(e) => {
                builders.get_mut(&base).unwrap().log_problem(&e);
                continue;
            }
        };
        let context = match event.channel_id() {
            Some(id) => Context {
                connection_id: base.connection_id.clone(),
                channel_id: id.into_owned(),
            },
            None => base.clone(),
        };
        let builder = builders
            .entry(context.clone())
            .or_insert_with(|| ChannelBuilder::new(context));
        if let Err(e) = builder.push(&event, &mut buf) {
            builder.log_problem(&e);
        }
    }
    let with_meta = data.first().is_some_and(|b| b & 1 == 1);
    for builder in builders.into_values() {
        let ch = builder.finish(with_meta.then_some(&meta));
        for s in Stream::ALL {
            let chunks = &ch.streams[s as usize];
            let mut offset = 0u64;
            for c in chunks {
                assert_eq!(c.offset, offset, "chunk offsets run on");
                c.decode(&mut buf).expect("a pushed chunk decodes");
                assert_eq!(buf.len(), c.len);
                offset += c.len as u64;
            }
            assert_eq!(ch.bytes_of(s), offset);
        }
        assert!(ch.undecoded.len() as u64 <= ch.undecoded_count);
        assert_eq!(ch.integrity.ok, ch.integrity.problems.is_empty());
        for r in &ch.requests {
            if let Some(f) = r.forward {
                assert!(f < ch.forwards.len());
            }
        }
        let _ = ch.to_json().to_string();
    }
});
