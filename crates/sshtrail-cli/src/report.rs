//! Reporting problems as `PATH:LINE:COLUMN: error: MESSAGE` on stderr.

use std::io::Write;

use sshtrail::ParseError;

/// Counts what was reported, to choose the exit status, and keeps the
/// first messages for records such as the batch manifest.
#[derive(Debug, Default)]
pub struct Reporter {
    pub errors: u64,
    pub warnings: u64,
    /// The first [`KEPT`] messages, as printed.
    pub messages: Vec<String>,
}

/// How many messages a [`Reporter`] keeps.
pub const KEPT: usize = 20;

impl Reporter {
    /// Reports a located problem in `path`.
    pub fn parse_error(&mut self, path: &str, e: &ParseError) {
        if e.is_warning() {
            self.warnings += 1;
        } else {
            self.errors += 1;
        }
        self.say(format!(
            "{path}:{}:{}: {}: {}",
            e.line,
            e.column,
            e.severity.name(),
            e.kind
        ));
    }

    /// Reports a problem with a whole input (cannot open, read error).
    pub fn input_error(&mut self, path: &str, message: &str) {
        self.errors += 1;
        self.say(format!("{path}: error: {message}"));
    }

    /// Reports a bad connection JSON at its line and column.
    pub fn connection_error(&mut self, path: &str, e: &sshtrail::connection::ConnectionError) {
        self.errors += 1;
        self.say(format!(
            "{path}:{}:{}: error: bad connection JSON: {}",
            e.line, e.column, e.message
        ));
    }

    fn say(&mut self, line: String) {
        let _ = writeln!(std::io::stderr().lock(), "{line}");
        if self.messages.len() < KEPT {
            self.messages.push(line);
        }
    }

    /// The exit status for what was reported.
    pub fn status(&self) -> u8 {
        if self.errors > 0 {
            crate::EXIT_INPUT
        } else {
            crate::EXIT_OK
        }
    }
}

/// A warning that is not about an input line.
pub fn warn(message: &str) {
    let _ = writeln!(std::io::stderr().lock(), "sshtrail: warning: {message}");
}

/// A usage error: printed, and the caller exits with status 2.
pub fn usage(message: &str) -> u8 {
    let _ = writeln!(std::io::stderr().lock(), "sshtrail: error: {message}");
    crate::EXIT_USAGE
}

/// Progress for people, on stderr.
pub fn note(message: &str) {
    let _ = writeln!(std::io::stderr().lock(), "sshtrail: {message}");
}
