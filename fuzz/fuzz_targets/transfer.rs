//! The SFTP and SCP decoders fed arbitrary bytes as a channel's data, cut
//! into arbitrary chunks on stdin, stdout and stderr: never a panic, what
//! is found keeps its documented promises (a hash only of a whole file, a
//! complete file has one, problems name a line that was fed), and the same
//! bytes in fewer, larger chunks find the same things.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sshtrail::channel::{ChannelEvent, ChannelEventKind, ChannelSink, ChannelState, Stream};
use sshtrail::connection::Context;
use sha2::{Digest, Sha256};
use sshtrail::transfer::{Found, Limits, TransferDecoder};

/// The channels the bytes are fed as: the first input byte picks one.
const CHANNELS: [(Option<&str>, Option<&str>); 5] = [
    (Some("sftp"), None),
    (None, Some("scp -t x")),
    (None, Some("scp -p -f a")),
    (None, Some("scp -r -d -t 'a dir'")),
    (None, Some("scp -r -f a b/c")),
];

/// Feeds `chunks` (stream, bytes) to a fresh decoder as lines 1, 2, ...
/// and gives what it found, checked.
fn run(
    subsystem: Option<&str>,
    exec: Option<&str>,
    chunks: &[(Stream, Vec<u8>)],
    keep: bool,
) -> Vec<Found> {
    let mut channel = ChannelState::default();
    channel.context = Context::channel("0");
    channel.subsystem = subsystem.map(String::from);
    channel.exec = exec.map(String::from);
    let mut decoder = if keep {
        TransferDecoder::keeping_contents(
            Limits {
                zero_fill_bytes: 1 << 20,
                ..Limits::default()
            },
            None,
        )
    } else {
        TransferDecoder::default()
    };
    let mut found = Vec::new();
    let mut offsets = [0u64; 3];
    for (i, (stream, data)) in chunks.iter().enumerate() {
        let ev = ChannelEvent {
            channel: &channel,
            kind: ChannelEventKind::Data {
                stream: *stream,
                ts: i as i128,
                offset: offsets[*stream as usize],
                data,
                line: i as u64 + 1,
                redacted: false,
            },
        };
        offsets[*stream as usize] += data.len() as u64;
        decoder.event(&ev).unwrap();
        found.extend(decoder.take());
    }
    let end = ChannelEvent {
        channel: &channel,
        kind: ChannelEventKind::Ended {
            ts: chunks.len() as i128,
        },
    };
    decoder.event(&end).unwrap();
    found.extend(decoder.take());
    for f in &found {
        match f {
            Found::File(file) => {
                if file.sha256.is_some() {
                    assert!(file.missing.is_empty(), "a hash with gaps: {file:?}");
                }
                if file.complete {
                    assert!(file.sha256.is_some(), "complete without a hash: {file:?}");
                    assert!(file.why_incomplete.is_none(), "{file:?}");
                }
                for gap in &file.missing {
                    assert!(gap.start < gap.end && gap.end <= file.size, "{file:?}");
                }
                assert!(file.started <= file.ended || file.ended == 0, "{file:?}");
                if let Some(content) = &file.content {
                    // Kept: the size, zeros where nothing came, the hash
                    // of exactly these bytes.
                    assert!(keep);
                    assert_eq!(content.len(), file.size, "{file:?}");
                    let mut bytes = Vec::new();
                    content.copy_to(&mut bytes).unwrap();
                    assert_eq!(bytes.len() as u64, file.size);
                    for gap in &file.missing {
                        let gap = &bytes[gap.start as usize..gap.end as usize];
                        assert!(gap.iter().all(|&b| b == 0), "{file:?}");
                    }
                    if let Some(sha) = file.sha256 {
                        assert_eq!(<[u8; 32]>::from(Sha256::digest(&bytes)), sha);
                    }
                } else {
                    assert!(!keep || file.why_incomplete.is_some(), "{file:?}");
                }
                let _ = file.sha256_hex();
            }
            Found::Op(op) => assert!(op.line as usize <= chunks.len()),
            Found::Problem(p) => {
                assert!(p.line as usize <= chunks.len(), "{p}");
                assert!(!p.to_string().is_empty());
            }
            _ => {}
        }
    }
    found
}

/// What was found, without where and when (which chunking changes).
fn placeless(found: Vec<Found>) -> Vec<Found> {
    found
        .into_iter()
        .map(|f| match f {
            Found::File(mut file) => {
                (file.line, file.started, file.ended) = (0, 0, 0);
                Found::File(file)
            }
            Found::Op(mut op) => {
                (op.line, op.ts) = (0, 0);
                Found::Op(op)
            }
            Found::Problem(mut p) => {
                p.line = 0;
                Found::Problem(p)
            }
            other => other,
        })
        .collect()
}

fuzz_target!(|input: &[u8]| {
    let Some((&pick, mut rest)) = input.split_first() else {
        return;
    };
    let (subsystem, exec) = CHANNELS[usize::from(pick) % CHANNELS.len()];
    // Each chunk: a header byte (its stream, its length up to 63), then
    // its bytes.
    let mut chunks: Vec<(Stream, Vec<u8>)> = Vec::new();
    while let Some((&h, tail)) = rest.split_first() {
        let stream = match h % 8 {
            0..=3 => Stream::Stdin,
            4..=6 => Stream::Stdout,
            _ => Stream::Stderr,
        };
        let n = usize::from(h >> 3).min(tail.len());
        chunks.push((stream, tail[..n].to_vec()));
        rest = &tail[n..];
    }
    let found = run(subsystem, exec, &chunks, false);
    // The same bytes, consecutive chunks of a stream joined.
    let mut joined: Vec<(Stream, Vec<u8>)> = Vec::new();
    for (stream, data) in chunks.iter().cloned() {
        match joined.last_mut() {
            Some((s, d)) if *s == stream => d.extend_from_slice(&data),
            _ => joined.push((stream, data)),
        }
    }
    let again = run(subsystem, exec, &joined, false);
    // Kept contents: the same files, the bytes that were hashed.
    let kept = run(subsystem, exec, &chunks, true);
    assert_eq!(
        kept.iter().filter(|f| matches!(f, Found::File(_))).count(),
        found.iter().filter(|f| matches!(f, Found::File(_))).count()
    );
    let (a, b) = (placeless(found), placeless(again));
    if a != b {
        let i = a.iter().zip(&b).take_while(|(x, y)| x == y).count();
        panic!(
            "chunking changed what was found, from finding {i} ({} and {} found):\n{:?}\n{:?}",
            a.len(),
            b.len(),
            a.get(i),
            b.get(i)
        );
    }
});
