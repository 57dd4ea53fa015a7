//! Errors that carry where (line, column) and what (expected vs found).

use std::fmt;

/// How bad a [`ParseError`] is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Severity {
    /// A malformed line: the event is lost and the input is broken.
    Error,
    /// The last line of the input has no line end and does not parse: the log
    /// was probably cut off while it was written (docs/FORMAT.md section 5). Every
    /// event before it is kept.
    Warning,
}

impl Severity {
    /// `error` or `warning`, as messages print it.
    pub fn name(self) -> &'static str {
        match self {
            Severity::Error => "error",
            Severity::Warning => "warning",
        }
    }
}

/// What is wrong at a [`ParseError`]'s place.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ParseErrorKind {
    /// The text does not have the layout's shape; the message says what was
    /// expected and what was found (`expected ':', found 'x'`).
    Syntax(String),
    /// The payload does not decode: bad base64 or hex digits.
    Payload(String),
    /// The timestamp is not an RFC 3339 time, or names no real instant.
    Time(String),
    /// A record longer than a streaming reader keeps in memory.
    TooLong {
        /// The longest record kept, in bytes.
        max: usize,
    },
    /// The input ended without one valid event, after lines that were not
    /// events: it is not a trail log (an empty or blank input is not this).
    NoEvent,
}

impl fmt::Display for ParseErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ParseErrorKind::Syntax(m) | ParseErrorKind::Payload(m) | ParseErrorKind::Time(m) => {
                f.write_str(m)
            }
            ParseErrorKind::TooLong { max } => write!(
                f,
                "expected an event of at most {max} bytes, found a longer one (streamed input keeps one event in memory)"
            ),
            ParseErrorKind::NoEvent => {
                f.write_str("the input ended without one valid event: not a trail log")
            }
        }
    }
}

/// A problem in the input, located at a 1-based line and byte column.
///
/// Its `Display` is `LINE:COLUMN: MESSAGE`, without a severity: a front end
/// prints `PATH:LINE:COLUMN: error: MESSAGE` (or `warning:` for
/// [`Severity::Warning`]), the form editors understand.
///
/// ```
/// use sshtrail::{ParseError, ParseErrorKind, Severity};
/// let e = ParseError::syntax(3, 1, "expected '{' (a JSON object), found 'x'");
/// assert_eq!(e.to_string(), "3:1: expected '{' (a JSON object), found 'x'");
/// assert_eq!(e.severity, Severity::Error);
/// assert!(matches!(e.kind, ParseErrorKind::Syntax(_)));
/// ```
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub struct ParseError {
    /// 1-based line number.
    pub line: u64,
    /// 1-based byte column inside the line.
    pub column: u64,
    /// Whether the problem is an error or a warning.
    pub severity: Severity,
    /// What is wrong.
    pub kind: ParseErrorKind,
}

impl ParseError {
    /// An error (not a warning) of `kind` at `line` and `column`.
    pub fn new(line: u64, column: u64, kind: ParseErrorKind) -> Self {
        ParseError {
            line,
            column,
            severity: Severity::Error,
            kind,
        }
    }

    /// A [`ParseErrorKind::Syntax`] error.
    pub fn syntax(line: u64, column: u64, message: impl Into<String>) -> Self {
        Self::new(line, column, ParseErrorKind::Syntax(message.into()))
    }

    /// A [`ParseErrorKind::Payload`] error.
    pub fn payload(line: u64, column: u64, message: impl Into<String>) -> Self {
        Self::new(line, column, ParseErrorKind::Payload(message.into()))
    }

    /// A [`ParseErrorKind::Time`] error.
    pub fn time(line: u64, column: u64, message: impl Into<String>) -> Self {
        Self::new(line, column, ParseErrorKind::Time(message.into()))
    }

    /// True for [`Severity::Warning`].
    pub fn is_warning(&self) -> bool {
        self.severity == Severity::Warning
    }

    /// The message without the place: what was expected and what was found.
    pub fn message(&self) -> String {
        self.kind.to_string()
    }
}

impl fmt::Display for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}: {}", self.line, self.column, self.kind)
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
    fn display_names_line_column_and_no_severity() {
        let mut e = ParseError::syntax(12, 7, "expected ':', found 'x'");
        assert_eq!(e.to_string(), "12:7: expected ':', found 'x'");
        e.severity = Severity::Warning;
        assert!(e.is_warning());
        assert_eq!(e.to_string(), "12:7: expected ':', found 'x'");
        assert_eq!(e.severity.name(), "warning");
        let long = ParseError::new(1, 1, ParseErrorKind::TooLong { max: 16 });
        assert!(long.message().contains("at most 16 bytes"));
    }

    #[test]
    fn describe_bytes() {
        assert_eq!(describe(None), "end of line");
        assert_eq!(describe(Some(b'x')), "'x'");
        assert_eq!(describe(Some(7)), "byte 0x07");
        assert_eq!(describe(Some(b' ')), "a space");
    }
}
