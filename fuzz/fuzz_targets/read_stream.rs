//! `StreamReader` fed in small chunks (sizes taken from the input) must
//! yield exactly what `SliceReader` yields over the whole input, with the
//! layout detected or forced; with a tiny record limit it must still end
//! and never panic.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sshtrail::Format;

fuzz_target!(|input: &[u8]| {
    // Up to 4 chunk sizes, then the log. The first size also picks the
    // layout mode, the second whether to run with a tiny record limit.
    let (sizes, data) = input.split_at(input.len().min(4));
    let mode = sizes.first().copied().unwrap_or(0);
    let format = [None, Some(Format::Jsonl), Some(Format::Hex)][usize::from(mode % 3)];
    let want = sshtrail_fuzz::read_slice(data, format);
    let got = sshtrail_fuzz::read_stream(data, format, sizes, None);
    assert_eq!(got, want, "format {format:?}, chunk sizes {sizes:?}");
    if sizes.get(1).is_some_and(|s| s & 1 == 1) {
        // A record limit smaller than many records: errors, never a hang.
        let limit = usize::from(sizes[1] / 2) + 1;
        sshtrail_fuzz::read_stream(data, format, sizes, Some(limit));
    }
});
