//! `commands`, `screen`, `play` and `grep`: the replay commands.

use std::io::{self, Write};
use std::time::Duration;

use clap::Args;
use serde_json::json;
use sshtrail::channel::{Channel, Step, Stream};
use sshtrail::commands::commands;
use sshtrail::screen::strip_ansi;
use sshtrail::time::{format_rfc3339, parse_rfc3339, Nanos, NANOS_PER_SEC};
use sshtrail::utf8::Utf8Joiner;

use crate::cat::output_failed;
use crate::gather::gather;
use crate::load::{channels, load_logs, LoadedLog};
use crate::report::{self, Reporter};
use crate::FormatArg;

/// Parses `1m30s`, `90`, `1.5s`, `2h`, `1h2m3.25s` (an offset from the start)
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

fn label(ch: &Channel<'_>) -> String {
    match &ch.context.connection_id {
        Some(c) => format!("{c}/{}", ch.context.channel_id),
        None => ch.context.channel_id.clone(),
    }
}

fn start_of(ch: &Channel<'_>) -> Nanos {
    ch.started.as_ref().map_or(0, |s| s.0)
}

fn offset_text(ns: Nanos) -> String {
    let ms = ns.max(0) / 1_000_000;
    let s = ms / 1000;
    format!("{}m{:02}.{:03}s", s / 60, s % 60, ms % 1000)
}

/// Loads the channels that PATH arguments name and hands them to `f`.
fn with_channels(
    paths: &[String],
    format: FormatArg,
    rep: &mut Reporter,
    mut f: impl FnMut(&Channel<'_>, &mut Reporter) -> io::Result<()>,
) -> io::Result<()> {
    let conns = gather(paths, rep);
    let logs: Vec<Vec<LoadedLog>> = conns.iter().map(|c| load_logs(c, rep)).collect();
    for (i, conn) in conns.iter().enumerate() {
        for ch in channels(&logs[i], conn, format.to_format(), rep) {
            f(&ch, rep)?;
        }
    }
    Ok(())
}

/// Arguments of `sshtrail commands`.
#[derive(Args, Debug)]
pub struct CommandsArgs {
    /// One JSON object per line.
    #[arg(long)]
    json: bool,
    /// Input layout.
    #[arg(long, value_enum, default_value_t = FormatArg::Auto)]
    format: FormatArg,
    /// Trail logs or connection directories.
    #[arg(required = true, value_name = "PATH")]
    paths: Vec<String>,
}

/// Runs `sshtrail commands`.
pub fn run_commands(args: CommandsArgs) -> u8 {
    let mut rep = Reporter::default();
    let mut out = io::BufWriter::new(io::stdout().lock());
    let result = with_channels(&args.paths, args.format, &mut rep, |ch, rep| {
        let cmds = match commands(ch) {
            Ok(c) => c,
            Err(e) => {
                rep.parse_error(&label(ch), &e);
                return Ok(());
            }
        };
        for c in cmds {
            if args.json {
                let line = json!({"connection_id": ch.context.connection_id, "channel_id": ch.context.channel_id, "ts": format_rfc3339(c.ts), "command": c.command, "confidence": c.confidence.name()});
                writeln!(out, "{line}")?;
            } else {
                writeln!(
                    out,
                    "{}  {}  +{}  {:<9}  {}",
                    format_rfc3339(c.ts),
                    label(ch),
                    offset_text(c.ts - start_of(ch)),
                    c.confidence.name(),
                    c.command
                )?;
            }
        }
        Ok(())
    });
    match result.and_then(|()| out.flush()) {
        Ok(()) => rep.status(),
        Err(e) => output_failed(&e, &rep),
    }
}

/// Arguments of `sshtrail screen`.
#[derive(Args, Debug)]
pub struct ScreenArgs {
    /// The moment: an offset from the channel's start (`1m30s`, `90`) or an RFC 3339 time.
    #[arg(long, value_name = "TIME")]
    at: String,
    /// Input layout.
    #[arg(long, value_enum, default_value_t = FormatArg::Auto)]
    format: FormatArg,
    /// Trail logs or connection directories.
    #[arg(required = true, value_name = "PATH")]
    paths: Vec<String>,
}

/// Runs `sshtrail screen`.
pub fn run_screen(args: ScreenArgs) -> u8 {
    let mut rep = Reporter::default();
    let mut out = io::BufWriter::new(io::stdout().lock());
    let mut usage = None;
    let mut first = true;
    let result = with_channels(&args.paths, args.format, &mut rep, |ch, rep| {
        let at = match parse_time_arg(&args.at, start_of(ch)) {
            Ok(t) => t,
            Err(m) => {
                usage = Some(m);
                return Ok(());
            }
        };
        let screen = match sshtrail::screen::replay(ch, Some(at)) {
            Ok(s) => s,
            Err(e) => {
                rep.parse_error(&label(ch), &e);
                return Ok(());
            }
        };
        if !first {
            writeln!(out)?;
        }
        first = false;
        writeln!(
            out,
            "== {} at {} (+{})",
            label(ch),
            format_rfc3339(at),
            offset_text(at - start_of(ch))
        )?;
        let mut view = screen.view();
        while view.last().is_some_and(String::is_empty) {
            view.pop();
        }
        for l in view {
            writeln!(out, "{l}")?;
        }
        Ok(())
    });
    if let Some(m) = usage {
        return report::usage(&m);
    }
    match result.and_then(|()| out.flush()) {
        Ok(()) => rep.status(),
        Err(e) => output_failed(&e, &rep),
    }
}

/// Arguments of `sshtrail play`.
#[derive(Args, Debug)]
pub struct PlayArgs {
    /// Playback speed factor.
    #[arg(long, default_value_t = 1.0)]
    speed: f64,
    /// Longest pause, in seconds.
    #[arg(long, value_name = "SECONDS")]
    idle_limit: Option<f64>,
    /// Start here (offset or RFC 3339); what came before is drawn at once.
    #[arg(long, value_name = "TIME")]
    from: Option<String>,
    /// Stop here (offset or RFC 3339).
    #[arg(long, value_name = "TIME")]
    to: Option<String>,
    /// Input layout.
    #[arg(long, value_enum, default_value_t = FormatArg::Auto)]
    format: FormatArg,
    /// A trail log (or a connection directory with one channel).
    #[arg(value_name = "PATH")]
    path: String,
}

/// Runs `sshtrail play`.
pub fn run_play(args: PlayArgs) -> u8 {
    if !(args.speed.is_finite() && args.speed > 0.0) {
        return report::usage("--speed must be a positive number");
    }
    if args
        .idle_limit
        .is_some_and(|l| !(l.is_finite() && l >= 0.0))
    {
        return report::usage("--idle-limit must be a number of seconds");
    }
    let mut rep = Reporter::default();
    let mut played = 0;
    let mut usage = None;
    let mut out = io::stdout().lock();
    let result = with_channels(
        std::slice::from_ref(&args.path),
        args.format,
        &mut rep,
        |ch, _| {
            played += 1;
            if played > 1 {
                usage = Some("PATH holds several channels: give one channel's log".to_string());
                return Ok(());
            }
            let start = start_of(ch);
            let parse =
                |t: &Option<String>| t.as_ref().map(|t| parse_time_arg(t, start)).transpose();
            let (from, to) = match (parse(&args.from), parse(&args.to)) {
                (Ok(f), Ok(t)) => (f.unwrap_or(start), t),
                (Err(m), _) | (_, Err(m)) => {
                    usage = Some(m);
                    return Ok(());
                }
            };
            let mut buf = Vec::new();
            let mut last = from;
            for step in ch.timeline() {
                let ts = step.ts();
                if to.is_some_and(|t| ts > t) {
                    break;
                }
                let Step::Data(stream, chunk) = step else {
                    continue;
                };
                if stream == Stream::Stdin {
                    continue;
                }
                if ts > last {
                    let mut gap = (ts - last) as f64 / NANOS_PER_SEC as f64 / args.speed;
                    if let Some(limit) = args.idle_limit {
                        gap = gap.min(limit);
                    }
                    out.flush()?;
                    std::thread::sleep(Duration::from_secs_f64(gap.min(86_400.0)));
                    last = ts;
                }
                if chunk.decode(&mut buf).is_ok() {
                    out.write_all(&buf)?;
                }
            }
            out.flush()
        },
    );
    if let Some(m) = usage {
        return report::usage(&m);
    }
    match result {
        Ok(()) => rep.status(),
        Err(e) => output_failed(&e, &rep),
    }
}

/// Arguments of `sshtrail grep`.
#[derive(Args, Debug)]
pub struct GrepArgs {
    /// A regular expression (Rust regex syntax).
    #[arg(value_name = "PATTERN")]
    pattern: String,
    /// Ignore case.
    #[arg(short = 'i', long)]
    ignore_case: bool,
    /// Search only the output, or only the typed commands.
    #[arg(long, value_enum)]
    only: Option<GrepWhat>,
    /// One JSON object per hit.
    #[arg(long)]
    json: bool,
    /// Input layout.
    #[arg(long, value_enum, default_value_t = FormatArg::Auto)]
    format: FormatArg,
    /// Trail logs or connection directories.
    #[arg(required = true, value_name = "PATH")]
    paths: Vec<String>,
}

/// What `grep` searches.
#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum GrepWhat {
    /// The text the session showed.
    Output,
    /// The commands typed.
    Commands,
}

/// Runs `sshtrail grep`.
pub fn run_grep(args: GrepArgs) -> u8 {
    let re = match regex::RegexBuilder::new(&args.pattern)
        .case_insensitive(args.ignore_case)
        .size_limit(1 << 24)
        .build()
    {
        Ok(r) => r,
        Err(e) => return report::usage(&format!("bad PATTERN: {e}")),
    };
    let mut rep = Reporter::default();
    let mut out = io::BufWriter::new(io::stdout().lock());
    let mut hits = 0u64;
    let result = with_channels(&args.paths, args.format, &mut rep, |ch, rep| {
        let start = start_of(ch);
        let mut hit = |out: &mut dyn Write, what: &str, ts: Nanos, text: &str| -> io::Result<()> {
            hits += 1;
            if args.json {
                let v = json!({"connection_id": ch.context.connection_id, "channel_id": ch.context.channel_id, "ts": format_rfc3339(ts), "offset_s": (ts - start) as f64 / NANOS_PER_SEC as f64, "in": what, "text": text});
                writeln!(out, "{v}")
            } else {
                writeln!(
                    out,
                    "{}  +{}  {}  {what}: {text}",
                    label(ch),
                    offset_text(ts - start),
                    format_rfc3339(ts)
                )
            }
        };
        if args.only != Some(GrepWhat::Commands) {
            let mut joiner = Utf8Joiner::default();
            let mut buf = Vec::new();
            let mut text = String::new();
            let mut line = String::new();
            for step in ch.timeline() {
                let Step::Data(stream, chunk) = step else {
                    continue;
                };
                if stream == Stream::Stdin || chunk.decode(&mut buf).is_err() {
                    continue;
                }
                text.clear();
                joiner.push(&buf, &mut text);
                strip_ansi(&text, &mut line);
                while let Some(nl) = line.find('\n') {
                    if re.is_match(&line[..nl]) {
                        hit(&mut out, "output", chunk.ts, &line[..nl])?;
                    }
                    line.drain(..=nl);
                }
                if line.len() > 1 << 16 {
                    line.drain(..line.len() - (1 << 15));
                }
            }
            if re.is_match(&line) {
                hit(
                    &mut out,
                    "output",
                    ch.ended.as_ref().map_or(start, |e| e.0),
                    &line,
                )?;
            }
        }
        if args.only != Some(GrepWhat::Output) {
            match commands(ch) {
                Ok(cmds) => {
                    for c in cmds.iter().filter(|c| re.is_match(&c.command)) {
                        hit(&mut out, "command", c.ts, &c.command)?;
                    }
                }
                Err(e) => rep.parse_error(&label(ch), &e),
            }
        }
        Ok(())
    });
    match result.and_then(|()| out.flush()) {
        Ok(()) if rep.errors > 0 => rep.status(),
        // Like grep: 1 when nothing matched.
        Ok(()) => u8::from(hits == 0),
        Err(e) => output_failed(&e, &rep),
    }
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
}
