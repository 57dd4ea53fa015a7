//! Reporting problems as `PATH:LINE:COLUMN: error: MESSAGE` on stderr, and
//! the one way a command fails.

use std::collections::HashMap;
use std::io::{self, Write};
use std::process::ExitCode;

use sshtrail::archive::{Problem, ProblemKind};
use sshtrail::encode::escape_controls;
use sshtrail::output::Note;
use sshtrail::{ParseError, ParseErrorKind};

use super::exit;

/// Why a command could not do its work, reported once by `main`.
#[derive(Debug)]
pub enum Failure {
    /// The command line is wrong (exit status 2).
    Usage(String),
    /// An output could not be written (exit status 1).
    Output(String),
}

impl Failure {
    /// Prints the failure and gives the exit code.
    pub fn report(self) -> ExitCode {
        match self {
            Failure::Usage(m) => {
                say_error(&m);
                exit::code(exit::USAGE)
            }
            Failure::Output(m) => {
                say_error(&m);
                exit::code(exit::INPUT)
            }
        }
    }
}

/// What a command returns: its exit code, or why it could not run.
pub type CommandResult = Result<ExitCode, Failure>;

/// A usage failure.
pub fn usage(message: impl Into<String>) -> Failure {
    Failure::Usage(message.into())
}

/// Counts what was reported, to choose the exit status, and keeps the
/// first messages for records such as the batch manifest. Every message is
/// printed with its control characters escaped; after [`SHOWN_PER_FILE`]
/// for one file the rest are counted, and one line with the count is
/// printed when the reporter is dropped.
#[derive(Debug, Default)]
pub struct Reporter {
    pub errors: u64,
    pub warnings: u64,
    /// The first [`KEPT`] messages, as printed.
    pub messages: Vec<String>,
    /// Messages about each file.
    said: HashMap<String, Said>,
}

/// How many messages about one file were printed, and how many were not.
#[derive(Debug, Default)]
struct Said {
    shown: u64,
    hidden: u64,
}

/// How many messages a [`Reporter`] keeps.
pub const KEPT: usize = 20;

/// How many messages about one file are printed: ten million bad lines
/// would otherwise take longer to print than to read.
pub const SHOWN_PER_FILE: u64 = 1000;

impl Reporter {
    /// Reports a located problem in `path`.
    pub fn parse_error(&mut self, path: &str, e: &ParseError) {
        if e.is_warning() {
            self.warnings += 1;
        } else {
            self.errors += 1;
        }
        // The verdict on a whole input is shown however many lines were
        // bad before it.
        let always = matches!(e.kind, ParseErrorKind::NoEvent);
        self.say_line(path, always, || {
            format!(
                "{path}:{}:{}: {}: {}",
                e.line,
                e.column,
                e.severity.name(),
                e.kind
            )
        });
    }

    /// Warns about a whole input (`PATH: warning: MESSAGE`).
    pub fn warning(&mut self, path: &str, message: &str) {
        self.warnings += 1;
        self.say(path, format!("{path}: warning: {message}"));
    }

    /// Reports a problem with a whole input (cannot open, read error).
    pub fn input_error(&mut self, path: &str, message: &str) {
        self.errors += 1;
        self.say(path, format!("{path}: error: {message}"));
    }

    /// Reports a problem found in the data of `path`'s line `line` (what a
    /// channel carries, not the log's own layout).
    pub fn data_error(&mut self, path: &str, line: u64, message: &str) {
        self.errors += 1;
        self.say(path, format!("{path}:{line}: error: {message}"));
    }

    /// Reports what the archive found wrong.
    pub fn problem(&mut self, p: &Problem) {
        match &p.kind {
            ProblemKind::Parse(e) => self.parse_error(&p.path, e),
            ProblemKind::Read(e) => self.input_error(&p.path, &e.to_string()),
            ProblemKind::Metadata(e) => {
                self.errors += 1;
                self.say(
                    &p.path,
                    format!(
                        "{}:{}:{}: error: bad connection JSON: {}",
                        p.path, e.line, e.column, e.message
                    ),
                );
            }
            ProblemKind::NoLogs => self.input_error(
                &p.path,
                "no trail logs (*.jsonl, *.hex, *.hexdump, or those compressed: *.jsonl.gz, *.hex.zst) in this directory",
            ),
            ProblemKind::Loop => self.input_error(&p.path, "symbolic link loop: not followed"),
            ProblemKind::SameChannelSetAside { .. } => {
                self.warning(&p.path, &p.kind.message().unwrap_or_default())
            }
            ProblemKind::LayoutsDiffer { .. } => {
                self.input_error(&p.path, &p.kind.message().unwrap_or_default())
            }
            _ => {
                self.errors += 1;
                self.say(&p.path, format!("error: {p}"));
            }
        }
    }

    /// Keeps `message` among the messages (as many as are kept) without
    /// printing it: it was printed already.
    pub fn keep(&mut self, message: String) {
        if self.messages.len() < KEPT {
            self.messages.push(message);
        }
    }

    fn say(&mut self, path: &str, line: String) {
        self.say_line(path, false, || line);
    }

    /// Prints the line `line` makes about `path` (escaped), unless
    /// [`SHOWN_PER_FILE`] were printed about it already and it is not
    /// `always` shown; a line neither printed nor kept is not even made
    /// (ten million bad lines are counted, not formatted).
    fn say_line(&mut self, path: &str, always: bool, line: impl FnOnce() -> String) {
        let said = match self.said.get_mut(path) {
            Some(n) => n,
            None => self.said.entry(path.to_string()).or_default(),
        };
        let shown = always || said.shown < SHOWN_PER_FILE;
        if shown {
            said.shown += 1;
        } else {
            said.hidden += 1;
        }
        let kept = self.messages.len() < KEPT;
        if !shown && !kept {
            return;
        }
        let line = escape_controls(&line()).into_owned();
        if shown {
            let _ = writeln!(io::stderr().lock(), "{line}");
        }
        if kept {
            self.messages.push(line);
        }
    }

    /// The exit status for what was reported.
    pub fn status(&self) -> u8 {
        if self.errors > 0 {
            exit::INPUT
        } else {
            exit::OK
        }
    }

    /// The exit code for what was reported.
    pub fn code(&self) -> ExitCode {
        exit::code(self.status())
    }

    /// Ends the run after an output error: a closed pipe (`| head`) is
    /// normal and ends it quietly.
    pub fn output_failed(&self, e: &io::Error) -> CommandResult {
        if e.kind() == io::ErrorKind::BrokenPipe {
            return Ok(self.code());
        }
        Err(Failure::Output(format!("writing the output failed: {e}")))
    }
}

impl Drop for Reporter {
    /// Says how many messages were not shown, file by file.
    fn drop(&mut self) {
        let mut hidden: Vec<(&String, u64)> = self
            .said
            .iter()
            .filter(|(_, said)| said.hidden > 0)
            .map(|(path, said)| (path, said.hidden))
            .collect();
        hidden.sort();
        for (path, n) in hidden {
            note(&format!(
                "{path}: {n} more message(s) not shown (the first {SHOWN_PER_FILE} were)"
            ));
        }
    }
}

/// A warning that is not about an input line.
pub fn warn(message: &str) {
    let message = escape_controls(message);
    let _ = writeln!(io::stderr().lock(), "sshtrail: warning: {message}");
}

/// What a writer had to make up or repair, as a warning; returns the
/// warning's text.
pub fn note_warning(note: &Note, log: Option<&str>) -> String {
    let label = match &note.channel.connection_id {
        Some(c) => format!("{c}/{}", note.channel.channel_id),
        None => note.channel.channel_id.clone(),
    };
    let text = match (note.line, log) {
        (Some(line), Some(path)) => format!("{path}:{line}: {}", note.message),
        (Some(line), None) => format!("channel {label}:{line}: {}", note.message),
        (None, _) => format!("channel {label}: {}", note.message),
    };
    warn(&text);
    text
}

/// Says how many secrets typed at prompts were redacted, if any.
pub fn note_redactions(r: sshtrail::redact::Redactions) {
    if r.secrets > 0 {
        note(&format!(
            "redacted {} secret(s) typed at prompts ({} byte(s) shown as *); --no-redact keeps them",
            r.secrets, r.bytes
        ));
    }
}

/// An error that is not about an input line.
pub fn say_error(message: &str) {
    let message = escape_controls(message);
    let _ = writeln!(io::stderr().lock(), "sshtrail: error: {message}");
}

/// Progress for people, on stderr.
pub fn note(message: &str) {
    let message = escape_controls(message);
    let _ = writeln!(io::stderr().lock(), "sshtrail: {message}");
}
