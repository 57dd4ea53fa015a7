//! The reader with layout detection (`SliceReader::with_format(_, None)`):
//! same checks as the forced targets; the layout is the one the first line
//! that is neither blank nor a `#` comment names; forcing that layout reads
//! the same records.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sshtrail::{Format, SliceReader};

/// docs/FORMAT.md's rule, written out independently: the first line that is
/// neither blank (spaces, tabs, a CR before the LF) nor a comment (`#` after
/// spaces and tabs) starts with `{` (after spaces and tabs) in jsonl.
fn reference(data: &[u8]) -> Option<(Format, bool)> {
    for line in data.split(|&c| c == b'\n') {
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        let t: Vec<u8> = line
            .iter()
            .copied()
            .skip_while(|c| matches!(c, b' ' | b'\t'))
            .collect();
        if line.iter().all(|c| matches!(c, b' ' | b'\t' | b'\r')) || t.first() == Some(&b'#') {
            continue;
        }
        // Format::detect also skips a line whose first character after
        // spaces and tabs is a CR (see the hostile tests): flag that case.
        let cr_first = t.first() == Some(&b'\r');
        return Some((
            if t.first() == Some(&b'{') {
                Format::Jsonl
            } else {
                Format::Hex
            },
            cr_first,
        ));
    }
    None
}

fuzz_target!(|data: &[u8]| {
    let seen = sshtrail_fuzz::read_slice(data, None);
    let mut reader = SliceReader::new(data);
    let first = reader.next();
    let want = reference(data);
    match first {
        Some(_) => {
            let (want, cr_first) = want.expect("a record comes from an event line");
            let detected = reader.format().expect("layout known after a record");
            assert_eq!(detected, want);
            if !cr_first {
                assert_eq!(Format::detect(data), Some(want));
            }
            // Forcing the detected layout reads the same records, once past
            // the blank and comment lines that detection skips (a forced
            // jsonl reader reports a '#' line; a forced hex reader an
            // indented one).
            let start = seen[0].line();
            let forced: Vec<_> = sshtrail_fuzz::read_slice(data, Some(detected))
                .into_iter()
                .filter(|s| s.line() >= start)
                .collect();
            assert_eq!(forced, seen);
        }
        None => {
            assert!(seen.is_empty());
            assert_eq!(want, None);
        }
    }
});
