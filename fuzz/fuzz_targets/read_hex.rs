//! The hex reader (line and dump layouts), forced: never a panic, every
//! record located, every payload decoded, every documented invariant kept.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sshtrail::Format;

fuzz_target!(|data: &[u8]| {
    sshtrail_fuzz::read_slice(data, Some(Format::Hex));
});
