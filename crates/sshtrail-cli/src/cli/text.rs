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
    let ms = ns.max(0) / 1_000_000;
    let s = ms / 1000;
    format!("{}m{:02}.{:03}s", s / 60, s % 60, ms % 1000)
}

/// `connection/channel`, or the channel id alone.
pub fn label(context: &Context) -> String {
    match &context.connection_id {
        Some(c) => format!("{c}/{}", context.channel_id),
        None => context.channel_id.clone(),
    }
}
