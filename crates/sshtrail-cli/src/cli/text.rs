//! Small pieces of text for people.

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
