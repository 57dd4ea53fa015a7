//! Argument types and parsers that several commands share.

use clap::{Args, ValueEnum};
use sshtrail::output::OutputFormat;
use sshtrail::time::{parse_rfc3339, Nanos, NANOS_PER_SEC};
use sshtrail::{Filter, Format};

use super::report::warn;

/// Input layout choice on the command line.
#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum FormatArg {
    /// Detect from the first line of each file.
    Auto,
    /// One JSON object a line.
    Jsonl,
    /// Hex line or dump layout.
    Hex,
}

impl FormatArg {
    /// The layout, `None` for detection.
    pub fn to_format(self) -> Option<Format> {
        match self {
            FormatArg::Auto => None,
            FormatArg::Jsonl => Some(Format::Jsonl),
            FormatArg::Hex => Some(Format::Hex),
        }
    }
}

/// The logs a command reads, and their layout.
#[derive(Args, Debug, Clone)]
pub struct Inputs {
    /// Input layout.
    #[arg(long, value_enum, default_value_t = FormatArg::Auto)]
    pub format: FormatArg,
    /// Trail logs, connection directories (a `connection.json` and one log
    /// per channel) or trees of them, walked recursively.
    #[arg(required = true, value_name = "PATH")]
    pub paths: Vec<String>,
}

/// Secrets typed at prompts, in what people read.
#[derive(Args, Debug, Clone, Default)]
pub struct Redaction {
    /// Keep secrets typed at prompts in derived outputs (the evidence
    /// formats always keep every byte).
    #[arg(long)]
    pub no_redact: bool,
    /// Another prompt that asks for a secret (a regular expression matched
    /// against the output line before the first key); repeatable.
    #[arg(long = "secret-prompt", value_name = "REGEX")]
    pub secret_prompts: Vec<String>,
}

impl Redaction {
    /// The rules, or `None` with `--no-redact` (said with a warning).
    pub fn rules(&self) -> Result<Option<sshtrail::redact::SecretRules>, String> {
        if self.no_redact {
            warn("--no-redact: secrets typed at prompts are kept in derived outputs");
            return Ok(None);
        }
        sshtrail::redact::SecretRules::with_prompts(&self.secret_prompts)
            .map(Some)
            .map_err(|e| format!("--secret-prompt: {e}"))
    }
}

/// What to do at a malformed line.
#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum OnError {
    /// Stop at the first error (exit status 1).
    Stop,
    /// Report every bad line and keep going (exit status still 1).
    Skip,
}

/// Parses `--filter`, warning about names that are not SSH event types.
pub fn parse_filter(list: Option<&str>) -> Result<Filter, String> {
    let Some(list) = list else {
        return Ok(Filter::all());
    };
    let filter: Filter = list.parse().map_err(|e| format!("--filter: {e}"))?;
    for name in filter.unknown_names() {
        let hint = sshtrail::closest_known(name)
            .map(|k| format!(" (did you mean \"{k}\"?)"))
            .unwrap_or_default();
        warn(&format!("--filter: \"{name}\" is not one of the 15 SSH event types{hint}; it only matches events of that exact type"));
    }
    Ok(filter)
}

/// The `--to` that writes OCSF records as Parquet in the Security Lake
/// layout (a folder of its own, not a writer of channels).
pub const OCSF_PARQUET: &str = "ocsf-parquet";

/// The possible values of `--to`, with their help, for clap: every format
/// of the library, and [`OCSF_PARQUET`].
pub fn output_formats() -> clap::builder::PossibleValuesParser {
    clap::builder::PossibleValuesParser::new(
        OutputFormat::ALL
            .iter()
            .map(|f| clap::builder::PossibleValue::new(f.name()).help(f.description()))
            .chain(std::iter::once(
                clap::builder::PossibleValue::new(OCSF_PARQUET).help(
                    "OCSF records as Parquet, Amazon Security Lake layout: -o DIR --source --region --account",
                ),
            )),
    )
}

/// Parses `1m30s`, `90`, `1.5s`, `2h`, `1h2m3.25s` (an offset from `start`)
/// or an RFC 3339 time, into nanoseconds since the epoch.
pub fn parse_time_arg(s: &str, start: Nanos) -> Result<Nanos, String> {
    if let Ok(t) = parse_rfc3339(s.as_bytes(), true) {
        return Ok(t);
    }
    let bad = || {
        format!("bad time {s:?}: expected an offset like 90, 1m30s, 1h2m3.5s or an RFC 3339 time")
    };
    let mut total: f64 = 0.0;
    let mut num = String::new();
    let mut any = false;
    for c in s.chars() {
        match c {
            '0'..='9' | '.' => num.push(c),
            'h' | 'm' | 's' => {
                let v: f64 = num.parse().map_err(|_| bad())?;
                total += v * match c {
                    'h' => 3600.0,
                    'm' => 60.0,
                    _ => 1.0,
                };
                num.clear();
                any = true;
            }
            _ => return Err(bad()),
        }
    }
    if !num.is_empty() {
        total += num.parse::<f64>().map_err(|_| bad())?;
        any = true;
    }
    if !any || !total.is_finite() || total > 1e9 {
        return Err(bad());
    }
    Ok(start + (total * NANOS_PER_SEC as f64).round() as Nanos)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn time_arguments() {
        let s = 1_000 * NANOS_PER_SEC;
        assert_eq!(parse_time_arg("90", s).unwrap(), s + 90 * NANOS_PER_SEC);
        assert_eq!(parse_time_arg("1m30s", s).unwrap(), s + 90 * NANOS_PER_SEC);
        assert_eq!(
            parse_time_arg("1h2m3.5s", s).unwrap(),
            s + 3723 * NANOS_PER_SEC + NANOS_PER_SEC / 2
        );
        assert_eq!(
            parse_time_arg("1970-01-01T00:00:05Z", s).unwrap(),
            5 * NANOS_PER_SEC
        );
        for bad in ["", "m", "1x", "1..2s", "-5"] {
            assert!(parse_time_arg(bad, s).is_err(), "{bad}");
        }
    }

    #[test]
    fn every_library_format_is_a_value_of_to() {
        use clap::builder::TypedValueParser;
        let cmd = clap::Command::new("t");
        let parser = output_formats();
        for f in OutputFormat::ALL {
            let got = parser.parse_ref(&cmd, None, std::ffi::OsStr::new(f.name()));
            assert_eq!(got.unwrap(), f.name());
        }
        assert!(parser
            .parse_ref(&cmd, None, std::ffi::OsStr::new("splunk"))
            .is_err());
    }
}
