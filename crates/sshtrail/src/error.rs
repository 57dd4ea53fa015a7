//! Errors that carry where (line, column) and what (expected vs found).

use std::fmt;

/// How bad a [`ParseError`] is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Severity {
    /// A malformed line: the event is lost and the input is broken.
    Error,
    /// The last line of the input has no line end and does not parse: the log
    /// was probably cut off while it was written (FORMAT.md section 5). Every
    /// event before it is kept.
    Warning,
}

/// A problem in the input, located at a 1-based line and byte column.
///
/// Its `Display` is `LINE:COLUMN: error: MESSAGE`; prefix it with the path to
/// get the `PATH:LINE:COLUMN: error: MESSAGE` form that editors understand.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct ParseError {
    /// 1-based line number.
    pub line: u64,
    /// 1-based byte column inside the line.
    pub column: u64,
    /// Whether the problem is an error or a warning.
    pub severity: Severity,
    /// What was expected and what was found.
    pub message: String,
}

impl ParseError {
    /// An error (not a warning) at `line` and `column`.
    pub fn new(line: u64, column: u64, message: impl Into<String>) -> Self {
        ParseError {
            line,
            column,
            severity: Severity::Error,
            message: message.into(),
        }
    }

    /// True for [`Severity::Warning`].
    pub fn is_warning(&self) -> bool {
        self.severity == Severity::Warning
    }
}

impl fmt::Display for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let level = match self.severity {
            Severity::Error => "error",
            Severity::Warning => "warning",
        };
        write!(
            f,
            "{}:{}: {}: {}",
            self.line, self.column, level, self.message
        )
    }
}

/// Describes a byte for an error message: `'x'`, `byte 0x07` or `end of line`.
pub(crate) fn describe(b: Option<u8>) -> String {
    match b {
        None => "end of line".to_string(),
        Some(c) if c.is_ascii_graphic() => format!("'{}'", c as char),
        Some(b' ') => "a space".to_string(),
        Some(b'\t') => "a tab".to_string(),
        Some(c) => format!("byte 0x{c:02x}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn display_names_line_column_and_level() {
        let mut e = ParseError::new(12, 7, "expected ':', found 'x'");
        assert_eq!(e.to_string(), "12:7: error: expected ':', found 'x'");
        e.severity = Severity::Warning;
        assert!(e.is_warning());
        assert_eq!(e.to_string(), "12:7: warning: expected ':', found 'x'");
    }

    #[test]
    fn describe_bytes() {
        assert_eq!(describe(None), "end of line");
        assert_eq!(describe(Some(b'x')), "'x'");
        assert_eq!(describe(Some(7)), "byte 0x07");
        assert_eq!(describe(Some(b' ')), "a space");
    }
}
