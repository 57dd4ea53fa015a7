//! The SSH payload decoder for every event type, without a hint, with a
//! hint taken from the input and with every request name it knows: never a
//! panic, and the documented guarantees hold.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sshtrail::ssh::{decode, ChannelRequest, Decoded, Layout, Message};
use sshtrail::EventType;

const NAMES: [&str; 20] = [
    "pty-req",
    "x11-req",
    "env",
    "shell",
    "exec",
    "subsystem",
    "window-change",
    "xon-xoff",
    "signal",
    "exit-status",
    "exit-signal",
    "break",
    "eow@openssh.com",
    "auth-agent-req@openssh.com",
    "tcpip-forward",
    "cancel-tcpip-forward",
    "keepalive@openssh.com",
    "no-more-sessions@openssh.com",
    "hostkeys-00@openssh.com",
    "x-unknown@example.com",
];

fn check(kind: &EventType<'_>, payload: &[u8], hint: Option<&str>) {
    let decoded = decode(kind, payload, hint);
    let Decoded::Message { message, layout } = decoded else {
        return;
    };
    assert!(
        !matches!(
            kind,
            EventType::Stdin | EventType::Stdout | EventType::Stderr | EventType::Unknown(_)
        ),
        "data and unknown types are never decoded"
    );
    if layout == Layout::TypeSpecific {
        assert!(hint.is_some(), "layout 3 needs a hint");
    }
    match &message {
        Message::ChannelReply { recipient, .. } => assert!(recipient.is_some()),
        Message::ChannelRequest {
            request: ChannelRequest::PtyReq(p),
            ..
        } => {
            // Terminal modes end: at most one pair per 5 bytes.
            assert!(p.modes.iter().count() <= p.modes.0.len() / 5);
        }
        _ => {}
    }
    let _ = message.to_string();
    let _ = format!("{message:?}");
}

fuzz_target!(|input: &[u8]| {
    // First byte: length of a hint, then the hint, then the payload.
    let (hint, payload) = match input.split_first() {
        Some((&n, rest)) => rest.split_at(usize::from(n % 40).min(rest.len())),
        None => (&[][..], input),
    };
    let hint = std::str::from_utf8(hint).ok();
    let unknown = EventType::Unknown("x-note".into());
    for kind in EventType::KNOWN.iter().chain([&unknown]) {
        check(kind, payload, None);
        check(kind, payload, hint);
        for name in NAMES {
            check(kind, payload, Some(name));
        }
    }
});
