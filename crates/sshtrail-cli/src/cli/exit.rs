//! The exit statuses, named in one place.

use std::process::ExitCode;

/// Every input was read without error.
pub const OK: u8 = 0;
/// An input had a malformed line, could not be read, or an output could not
/// be written.
pub const INPUT: u8 = 1;
/// The command line was wrong.
pub const USAGE: u8 = 2;
/// Interrupted by Ctrl-C (128 + SIGINT).
pub const INTERRUPTED: u8 = 130;

/// `status` as the process's exit code.
pub fn code(status: u8) -> ExitCode {
    ExitCode::from(status)
}
