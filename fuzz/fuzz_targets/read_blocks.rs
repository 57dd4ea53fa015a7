//! `RecordBlocks` (how large logs are converted in parallel) must cut a log
//! into blocks that join to the log and that, each read alone, yield
//! exactly the records of the whole log, problems included, once line
//! numbers are moved to where the block starts.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sshtrail::format::RecordBlocks;
use sshtrail::Format;

fuzz_target!(|input: &[u8]| {
    // One byte of block size, then the log.
    let (size, data) = input.split_at(input.len().min(1));
    let target = usize::from(size.first().copied().unwrap_or(0)) + 1;
    // The layout comes from the start of the log, as the converter does.
    let format = Format::detect(&data[..data.len().min(1 << 16)]);
    let whole = sshtrail_fuzz::read_slice(data, format);
    let mut blocks = RecordBlocks::new(data, target, 1 << 20);
    let (mut block, mut joined, mut parts) = (Vec::new(), Vec::new(), Vec::new());
    while blocks
        .next_block(&mut block)
        .expect("a slice reads without error")
    {
        assert!(!block.is_empty(), "an empty block before the end");
        let before = sshtrail_fuzz::line_count(&joined) - 1;
        parts.extend(
            sshtrail_fuzz::read_slice(&block, format)
                .into_iter()
                .map(|s| sshtrail_fuzz::shift_lines(s, before)),
        );
        joined.extend_from_slice(&block);
    }
    assert_eq!(joined, data, "the blocks join to the log");
    assert_eq!(blocks.offset(), data.len() as u64);
    // Each block judges itself; the whole log only at its end.
    let (mut parts, mut whole) = (
        sshtrail_fuzz::without_verdicts(parts),
        sshtrail_fuzz::without_verdicts(whole),
    );
    // A dump header at the very end of a log that showed dumps before is a
    // dump cut off; a block without those dumps reads the line as an event.
    // (The converter takes such a last block to the careful path.)
    if let Some(sshtrail_fuzz::Seen::Problem(p)) = whole.last() {
        if p.contains("expected the dump of") {
            let line = whole.last().map(sshtrail_fuzz::Seen::line);
            whole.retain(|s| Some(s.line()) != line);
            parts.retain(|s| Some(s.line()) != line);
        }
    }
    assert_eq!(
        parts, whole,
        "blocks read like the whole log (target {target})"
    );
});
