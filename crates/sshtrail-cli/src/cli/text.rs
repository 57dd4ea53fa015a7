//! Small pieces of text for people.

/// Writes one line for a person: the formatted text with its control
/// characters escaped (ids, file names, metadata and commands come from the
/// input, where ESC, BEL or a line end could set the terminal's title or
/// forge a line), then a line end. Gives what `writeln!` gives.
macro_rules! person_line {
    ($out:expr, $($arg:tt)*) => {
        writeln!(
            $out,
            "{}",
            sshtrail::encode::escape_controls(&format!($($arg)*))
        )
    };
}
pub(crate) use person_line;

use sshtrail::connection::Context;
use sshtrail::time::Nanos;

/// `1m05.250s`: an offset into a session, as `play --from` takes it.
pub fn offset_text(ns: Nanos) -> String {
    let mut text = String::new();
    push_offset_text(ns, &mut text);
    text
}

/// Appends [`offset_text`]'s text to `out`.
pub fn push_offset_text(ns: Nanos, out: &mut String) {
    use std::fmt::Write;
    let ms = ns.max(0) / 1_000_000;
    let s = ms / 1000;
    // Writing into a String cannot fail.
    let _ = write!(out, "{}m{:02}.{:03}s", s / 60, s % 60, ms % 1000);
}

/// `connection/channel`, or the channel id alone.
pub fn label(context: &Context) -> String {
    let mut text = String::new();
    push_label(context, &mut text);
    text
}

/// Appends [`label`]'s text to `out`.
pub fn push_label(context: &Context, out: &mut String) {
    if let Some(c) = &context.connection_id {
        out.push_str(c);
        out.push('/');
    }
    out.push_str(&context.channel_id);
}
