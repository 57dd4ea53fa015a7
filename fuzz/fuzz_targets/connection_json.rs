//! The connection JSON reader: never a panic; an error is located; what
//! parses can be queried; path contexts never panic either.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sshtrail::connection::{context_from_path, is_uuid, Connection};

fuzz_target!(|data: &[u8]| {
    match Connection::from_json(data) {
        Ok(c) => {
            let _ = (c.user(), c.host());
            let ids: Vec<String> = c
                .trail
                .iter()
                .flat_map(|t| t.channels.iter().filter_map(|ch| ch.id.clone()))
                .collect();
            for id in ids {
                assert!(c.channel(&id).is_some());
            }
        }
        Err(e) => {
            assert!(e.line >= 1 && e.column >= 1, "{e}");
            assert!(e.to_string().contains("bad connection JSON"));
        }
    }
    let text = String::from_utf8_lossy(data);
    let _ = is_uuid(&text);
    for connection_is_dir in [false, true] {
        let ctx = context_from_path(std::path::Path::new(&*text), connection_is_dir);
        if let Some(id) = &ctx.connection_id {
            assert!(text.contains(id.as_str()));
        }
    }
});
