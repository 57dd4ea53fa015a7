//! Golden decodes of every SSH message `sshtrail::ssh` knows, in each of
//! docs/FORMAT.md's three payload layouts, plus robustness against truncated,
//! lying and random payloads, and a check against the acceptance sample log
//! (`testdata/checkdata/sample.jsonl`).
//!
//! Every payload is built by hand from the field lists of RFC 4254 (and
//! OpenSSH's PROTOCOL file) with the tiny [`Wire`] helper below, which only
//! appends bytes, booleans, uint32s and strings.

use std::borrow::Cow;
use std::collections::BTreeMap;

use sshtrail::ssh::{
    decode, open_failure_reason, request_hint, terminal_mode_name, ChannelOpen, ChannelRequest,
    Decoded, GlobalRequest, HostKey, Layout, Message, PtyReq, SshStr, TerminalModes,
};
use sshtrail::{EventType, SliceReader};

mod common;

// --- payload building ----------------------------------------------------

/// Appends SSH wire types (RFC 4251 section 5) to a byte vector.
#[derive(Default, Clone)]
struct Wire(Vec<u8>);

impl Wire {
    fn new() -> Self {
        Wire::default()
    }
    fn byte(mut self, b: u8) -> Self {
        self.0.push(b);
        self
    }
    fn boolean(self, b: bool) -> Self {
        self.byte(u8::from(b))
    }
    fn u32(mut self, v: u32) -> Self {
        self.0.extend_from_slice(&v.to_be_bytes());
        self
    }
    fn string(self, s: &[u8]) -> Self {
        self.u32(s.len() as u32).raw(s)
    }
    fn raw(mut self, bytes: &[u8]) -> Self {
        self.0.extend_from_slice(bytes);
        self
    }
    fn bytes(self) -> Vec<u8> {
        self.0
    }
}

fn prefixed(number: u8, body: &[u8]) -> Vec<u8> {
    Wire::new().byte(number).raw(body).bytes()
}

fn s(text: &str) -> SshStr<'_> {
    SshStr(text.as_bytes())
}

// --- decoding helpers ----------------------------------------------------

fn decoded<'a>(
    kind: &EventType<'_>,
    payload: &'a [u8],
    hint: Option<&'a str>,
) -> (Message<'a>, Layout) {
    match decode(kind, payload, hint) {
        Decoded::Message { message, layout } => (message, layout),
        Decoded::Undecoded => panic!("{kind} {hint:?}: undecoded {payload:02x?}"),
    }
}

const GLOBAL_REQUESTS: [EventType<'static>; 2] = [
    EventType::ForwardGlobalRequest,
    EventType::ReverseGlobalRequest,
];
const GLOBAL_REPLIES: [EventType<'static>; 2] =
    [EventType::ForwardGlobalReply, EventType::ReverseGlobalReply];
const OPENS: [EventType<'static>; 2] = [
    EventType::ForwardNewChannelRequest,
    EventType::ReverseNewChannelRequest,
];
const OPEN_REPLIES: [EventType<'static>; 2] = [
    EventType::ForwardNewChannelReply,
    EventType::ReverseNewChannelReply,
];
const REQUESTS: [EventType<'static>; 2] = [EventType::ForwardRequest, EventType::ReverseRequest];
const REPLIES: [EventType<'static>; 2] = [EventType::ForwardReply, EventType::ReverseReply];

/// Checks a global request in layouts 1, 2 and 3; `fields` are the bytes
/// after `want_reply`. Returns the layout-1 message.
fn check_global_request(
    name: &str,
    want_reply: bool,
    fields: &[u8],
    want: GlobalRequest<'_>,
) -> String {
    let body = Wire::new()
        .string(name.as_bytes())
        .boolean(want_reply)
        .raw(fields)
        .bytes();
    let full = prefixed(80, &body);
    let expect = |want_reply| Message::GlobalRequest {
        name: s(name),
        want_reply,
        request: want.clone(),
    };
    let mut line = String::new();
    for kind in &GLOBAL_REQUESTS {
        for hint in [None, Some(name)] {
            assert_eq!(
                decoded(kind, &full, hint),
                (expect(want_reply), Layout::Full),
                "{name} L1"
            );
            assert_eq!(
                decoded(kind, &body, hint),
                (expect(want_reply), Layout::NoMessageNumber),
                "{name} L2"
            );
        }
        assert_eq!(
            decoded(kind, fields, Some(name)),
            (expect(false), Layout::TypeSpecific),
            "{name} L3"
        );
        line = decoded(kind, &full, None).0.to_string();
    }
    line
}

/// Checks a channel request in layouts 1, 2 and 3; `fields` are the bytes
/// after `want_reply`. Returns the layout-1 message's Display.
fn check_channel_request(
    request_type: &str,
    want_reply: bool,
    fields: &[u8],
    want: ChannelRequest<'_>,
) -> String {
    let recipient = 7;
    let body = Wire::new()
        .u32(recipient)
        .string(request_type.as_bytes())
        .boolean(want_reply)
        .raw(fields)
        .bytes();
    let full = prefixed(98, &body);
    let expect = |recipient, want_reply| Message::ChannelRequest {
        recipient,
        request_type: s(request_type),
        want_reply,
        request: want.clone(),
    };
    let mut line = String::new();
    for kind in &REQUESTS {
        for hint in [None, Some(request_type)] {
            let l1 = decoded(kind, &full, hint);
            assert_eq!(
                l1,
                (expect(Some(recipient), want_reply), Layout::Full),
                "{request_type} L1"
            );
            let l2 = decoded(kind, &body, hint);
            assert_eq!(
                l2,
                (expect(Some(recipient), want_reply), Layout::NoMessageNumber),
                "{request_type} L2"
            );
        }
        let l3 = decoded(kind, fields, Some(request_type));
        assert_eq!(
            l3,
            (expect(None, false), Layout::TypeSpecific),
            "{request_type} L3"
        );
        line = decoded(kind, &full, None).0.to_string();
    }
    line
}

/// Checks a message that has no layout 3 in layouts 1 and 2; the expected
/// messages differ when the message number carries information.
fn check_message(
    kinds: &[EventType<'_>],
    number: u8,
    body: &[u8],
    want_full: Message<'_>,
    want_numberless: Message<'_>,
) {
    let full = prefixed(number, body);
    for kind in kinds {
        for hint in [None, Some("shell")] {
            assert_eq!(
                decoded(kind, &full, hint),
                (want_full.clone(), Layout::Full),
                "{kind} {number} L1"
            );
            assert_eq!(
                decoded(kind, body, hint),
                (want_numberless.clone(), Layout::NoMessageNumber),
                "{kind} {number} L2"
            );
        }
    }
}

// --- golden payloads -----------------------------------------------------

/// The type-specific fields of a pty-req: xterm-256color, 120x40 characters,
/// 960x640 pixels, with a handful of modes.
fn pty_req_fields() -> Vec<u8> {
    let modes = Wire::new()
        .byte(1) // VINTR
        .u32(3)
        .byte(3) // VERASE
        .u32(127)
        .byte(53) // ECHO
        .u32(1)
        .byte(51) // ICANON
        .u32(1)
        .byte(42) // IUTF8
        .u32(1)
        .byte(128) // TTY_OP_ISPEED
        .u32(38400)
        .byte(129) // TTY_OP_OSPEED
        .u32(38400)
        .byte(0) // TTY_OP_END
        .bytes();
    Wire::new()
        .string(b"xterm-256color")
        .u32(120)
        .u32(40)
        .u32(960)
        .u32(640)
        .string(&modes)
        .bytes()
}

fn ed25519_blob() -> Vec<u8> {
    Wire::new()
        .string(b"ssh-ed25519")
        .string(&[0x5a; 32])
        .bytes()
}

fn rsa_blob() -> Vec<u8> {
    Wire::new()
        .string(b"ssh-rsa")
        .string(&[1, 0, 1])
        .string(&[0xc3; 65])
        .bytes()
}

/// Every golden payload: (event type, payload, hint), in every layout.
fn corpus() -> Vec<(EventType<'static>, Vec<u8>, Option<&'static str>)> {
    let mut out = Vec::new();
    let mut push = |kinds: &[EventType<'static>],
                    number: Option<u8>,
                    body: Vec<u8>,
                    hint: Option<&'static str>| {
        for kind in kinds {
            if let Some(n) = number {
                out.push((kind.clone(), prefixed(n, &body), hint));
            }
            out.push((kind.clone(), body.clone(), hint));
        }
    };
    let global = |name: &str, fields: &[u8]| {
        Wire::new()
            .string(name.as_bytes())
            .boolean(true)
            .raw(fields)
            .bytes()
    };
    let global_fields: [(&'static str, Vec<u8>); 6] = [
        (
            "tcpip-forward",
            Wire::new().string(b"0.0.0.0").u32(8080).bytes(),
        ),
        (
            "cancel-tcpip-forward",
            Wire::new().string(b"localhost").u32(2222).bytes(),
        ),
        ("keepalive@openssh.com", vec![]),
        ("no-more-sessions@openssh.com", vec![]),
        (
            "hostkeys-00@openssh.com",
            Wire::new()
                .string(&ed25519_blob())
                .string(&rsa_blob())
                .bytes(),
        ),
        ("foo@example.com", vec![1, 2, 3]),
    ];
    for (name, fields) in &global_fields {
        push(&GLOBAL_REQUESTS, Some(80), global(name, fields), None);
        push(&GLOBAL_REQUESTS, None, fields.clone(), Some(*name));
    }
    push(&GLOBAL_REPLIES, Some(81), vec![], None);
    push(
        &GLOBAL_REPLIES,
        Some(81),
        Wire::new().u32(8080).bytes(),
        None,
    );
    push(&GLOBAL_REPLIES, Some(82), vec![], None);
    let open = |ty: &str, fields: &[u8]| {
        Wire::new()
            .string(ty.as_bytes())
            .u32(0)
            .u32(2097152)
            .u32(32768)
            .raw(fields)
            .bytes()
    };
    for (ty, fields) in channel_open_fields() {
        push(&OPENS, Some(90), open(ty, &fields), None);
    }
    push(
        &OPEN_REPLIES,
        Some(91),
        Wire::new().u32(0).u32(5).u32(2097152).u32(32768).bytes(),
        None,
    );
    push(
        &OPEN_REPLIES,
        Some(92),
        Wire::new()
            .u32(3)
            .u32(2)
            .string(b"denied")
            .string(b"en")
            .bytes(),
        None,
    );
    for (ty, fields) in channel_request_fields() {
        let body = Wire::new()
            .u32(7)
            .string(ty.as_bytes())
            .boolean(true)
            .raw(&fields)
            .bytes();
        push(&REQUESTS, Some(98), body, None);
        push(&REQUESTS, None, fields, Some(ty));
    }
    push(&REPLIES, Some(99), Wire::new().u32(0).bytes(), None);
    push(&REPLIES, Some(100), Wire::new().u32(1).bytes(), None);
    out
}

fn channel_open_fields() -> Vec<(&'static str, Vec<u8>)> {
    vec![
        ("session", vec![]),
        ("x11", Wire::new().string(b"192.0.2.7").u32(6010).bytes()),
        (
            "direct-tcpip",
            Wire::new()
                .string(b"db.internal")
                .u32(5432)
                .string(b"127.0.0.1")
                .u32(50123)
                .bytes(),
        ),
        (
            "forwarded-tcpip",
            Wire::new()
                .string(b"0.0.0.0")
                .u32(8080)
                .string(b"198.51.100.9")
                .u32(40000)
                .bytes(),
        ),
        (
            "direct-streamlocal@openssh.com",
            Wire::new()
                .string(b"/run/app.sock")
                .string(b"")
                .u32(0)
                .bytes(),
        ),
        ("auth-agent@openssh.com", vec![]),
        (
            "tun@openssh.com",
            Wire::new().u32(1).u32(0x7fffffff).bytes(),
        ),
    ]
}

fn channel_request_fields() -> Vec<(&'static str, Vec<u8>)> {
    vec![
        ("pty-req", pty_req_fields()),
        (
            "x11-req",
            Wire::new()
                .boolean(false)
                .string(b"MIT-MAGIC-COOKIE-1")
                .string(b"0123456789abcdef")
                .u32(0)
                .bytes(),
        ),
        (
            "env",
            Wire::new().string(b"LANG").string(b"en_US.UTF-8").bytes(),
        ),
        ("shell", vec![]),
        ("exec", Wire::new().string(b"ls -l").bytes()),
        ("subsystem", Wire::new().string(b"sftp").bytes()),
        (
            "window-change",
            Wire::new().u32(100).u32(30).u32(800).u32(600).bytes(),
        ),
        ("xon-xoff", Wire::new().boolean(true).bytes()),
        ("signal", Wire::new().string(b"INT").bytes()),
        ("exit-status", Wire::new().u32(127).bytes()),
        (
            "exit-signal",
            Wire::new()
                .string(b"KILL")
                .boolean(true)
                .string(b"killed")
                .string(b"en")
                .bytes(),
        ),
        ("break", Wire::new().u32(500).bytes()),
        ("eow@openssh.com", vec![]),
        ("auth-agent-req@openssh.com", vec![]),
        ("keepalive@openssh.com", vec![]),
        ("winadj@putty.projects.tartarus.org", vec![0xde, 0xad]),
    ]
}

// --- global requests and replies ----------------------------------------

#[test]
fn global_request_tcpip_forward() {
    let fields = Wire::new().string(b"0.0.0.0").u32(8080).bytes();
    let want = GlobalRequest::TcpipForward {
        bind_address: s("0.0.0.0"),
        bind_port: 8080,
    };
    let line = check_global_request("tcpip-forward", true, &fields, want);
    assert_eq!(line, "tcpip-forward 0.0.0.0:8080 want_reply");
}

#[test]
fn global_request_cancel_tcpip_forward() {
    let fields = Wire::new().string(b"localhost").u32(2222).bytes();
    let want = GlobalRequest::CancelTcpipForward {
        bind_address: s("localhost"),
        bind_port: 2222,
    };
    let line = check_global_request("cancel-tcpip-forward", false, &fields, want);
    assert_eq!(line, "cancel-tcpip-forward localhost:2222");
}

#[test]
fn global_request_keepalive_and_no_more_sessions() {
    let line = check_global_request("keepalive@openssh.com", true, &[], GlobalRequest::Keepalive);
    assert_eq!(line, "keepalive@openssh.com want_reply");
    let line = check_global_request(
        "no-more-sessions@openssh.com",
        false,
        &[],
        GlobalRequest::NoMoreSessions,
    );
    assert_eq!(line, "no-more-sessions@openssh.com");
}

#[test]
fn global_request_hostkeys() {
    let (ed, rsa) = (ed25519_blob(), rsa_blob());
    let keys = vec![
        HostKey {
            blob: &ed,
            algorithm: s("ssh-ed25519"),
        },
        HostKey {
            blob: &rsa,
            algorithm: s("ssh-rsa"),
        },
    ];
    // Two keys: in layout 3 the fields also read as a layout-2 request named
    // by the first blob; the hint puts layout 3 first.
    let fields = Wire::new().string(&ed).string(&rsa).bytes();
    let line = check_global_request(
        "hostkeys-00@openssh.com",
        false,
        &fields,
        GlobalRequest::HostKeys(keys.clone()),
    );
    assert_eq!(line, "hostkeys-00@openssh.com ssh-ed25519 ssh-rsa");
    // One key, and no keys at all.
    let fields = Wire::new().string(&ed).bytes();
    let line = check_global_request(
        "hostkeys-00@openssh.com",
        false,
        &fields,
        GlobalRequest::HostKeys(keys[..1].to_vec()),
    );
    assert_eq!(line, "hostkeys-00@openssh.com ssh-ed25519");
    check_global_request(
        "hostkeys-00@openssh.com",
        false,
        &[],
        GlobalRequest::HostKeys(vec![]),
    );
    // A blob must start with its algorithm name (RFC 4253 section 6.6):
    // an empty blob, a cut one or one with a bad name spoils the message.
    for blob in [&b""[..], b"\0\0", b"\0\0\0\x0bssh-ed", b"\0\0\0\x03a b"] {
        let fields = Wire::new().string(&ed).string(blob).bytes();
        let body = Wire::new()
            .string(b"hostkeys-00@openssh.com")
            .boolean(false)
            .raw(&fields)
            .bytes();
        for kind in &GLOBAL_REQUESTS {
            assert_eq!(decode(kind, &prefixed(80, &body), None), Decoded::Undecoded);
            assert_eq!(decode(kind, &body, None), Decoded::Undecoded);
            assert_eq!(
                decode(kind, &fields, Some("hostkeys-00@openssh.com")),
                Decoded::Undecoded
            );
        }
    }
}

#[test]
fn unknown_names_must_be_ssh_names() {
    // RFC 4250 section 4.6.1: printable US-ASCII, no comma, at most one @,
    // 1 to 64 characters. Known names pass; anything else is undecoded.
    for name in [
        &b""[..],
        b"has space",
        b"a,b",
        b"two@at@signs",
        b"caf\xc3\xa9",
    ] {
        let global = Wire::new().byte(80).string(name).boolean(false).bytes();
        let open = Wire::new()
            .byte(90)
            .string(name)
            .u32(0)
            .u32(0)
            .u32(0)
            .bytes();
        let request = Wire::new()
            .byte(98)
            .u32(0)
            .string(name)
            .boolean(false)
            .bytes();
        for (kinds, payload) in [
            (&GLOBAL_REQUESTS, global),
            (&OPENS, open),
            (&REQUESTS, request),
        ] {
            for kind in kinds {
                assert_eq!(decode(kind, &payload, None), Decoded::Undecoded, "{name:?}");
            }
        }
        if let Ok(hint) = std::str::from_utf8(name) {
            assert_eq!(
                decode(&EventType::ForwardRequest, b"", Some(hint)),
                Decoded::Undecoded
            );
        }
    }
    let long = "x".repeat(65);
    let request = Wire::new()
        .byte(98)
        .u32(0)
        .string(long.as_bytes())
        .boolean(false)
        .bytes();
    assert_eq!(
        decode(&EventType::ForwardRequest, &request, None),
        Decoded::Undecoded
    );
    let request = Wire::new()
        .byte(98)
        .u32(0)
        .string(&long.as_bytes()[..64])
        .boolean(false)
        .bytes();
    assert!(matches!(
        decode(&EventType::ForwardRequest, &request, None),
        Decoded::Message { .. }
    ));
}

#[test]
fn global_request_unknown_keeps_raw_bytes() {
    let line = check_global_request(
        "foo@example.com",
        true,
        &[1, 2, 3],
        GlobalRequest::Other(&[1, 2, 3]),
    );
    assert_eq!(line, "foo@example.com (3 bytes) want_reply");
}

#[test]
fn global_replies() {
    let reply = |success, bound_port| Message::GlobalReply {
        success,
        bound_port,
    };
    check_message(
        &GLOBAL_REPLIES,
        81,
        &[],
        reply(Some(true), None),
        reply(None, None),
    );
    let port = Wire::new().u32(8080).bytes();
    check_message(
        &GLOBAL_REPLIES,
        81,
        &port,
        reply(Some(true), Some(8080)),
        reply(Some(true), Some(8080)),
    );
    check_message(
        &GLOBAL_REPLIES,
        82,
        &[],
        reply(Some(false), None),
        reply(None, None),
    );
    assert_eq!(
        reply(Some(true), Some(8080)).to_string(),
        "global-reply success port 8080"
    );
    assert_eq!(reply(Some(false), None).to_string(), "global-reply failure");
    assert_eq!(reply(None, None).to_string(), "global-reply");
    // REQUEST_FAILURE has no fields.
    for kind in &GLOBAL_REPLIES {
        assert_eq!(decode(kind, b"R\0", None), Decoded::Undecoded);
        assert_eq!(decode(kind, b"Q\0\0", None), Decoded::Undecoded);
    }
}

// --- channel open and its replies ----------------------------------------

#[test]
fn channel_opens() {
    // tun@openssh.com (tunnel mode, unit) is not decoded: its raw fields.
    let tun = Wire::new().u32(1).u32(0x7fffffff).bytes();
    let wants = [
        (ChannelOpen::Session, "channel-open session #0 window 2097152"),
        (
            ChannelOpen::X11 {
                originator_address: s("192.0.2.7"),
                originator_port: 6010,
            },
            "channel-open x11 #0 window 2097152 from 192.0.2.7:6010",
        ),
        (
            ChannelOpen::DirectTcpip {
                host: s("db.internal"),
                port: 5432,
                originator_address: s("127.0.0.1"),
                originator_port: 50123,
            },
            "channel-open direct-tcpip #0 window 2097152 to db.internal:5432 from 127.0.0.1:50123",
        ),
        (
            ChannelOpen::ForwardedTcpip {
                connected_address: s("0.0.0.0"),
                connected_port: 8080,
                originator_address: s("198.51.100.9"),
                originator_port: 40000,
            },
            "channel-open forwarded-tcpip #0 window 2097152 on 0.0.0.0:8080 from 198.51.100.9:40000",
        ),
        (
            ChannelOpen::DirectStreamlocal {
                socket_path: s("/run/app.sock"),
            },
            "channel-open direct-streamlocal@openssh.com #0 window 2097152 to /run/app.sock",
        ),
        (ChannelOpen::AuthAgent, "channel-open auth-agent@openssh.com #0 window 2097152"),
        (
            ChannelOpen::Other(&tun),
            "channel-open tun@openssh.com #0 window 2097152 (8 bytes)",
        ),
    ];
    let fields = channel_open_fields();
    assert_eq!(fields.len(), wants.len());
    for ((ty, fields), (open, line)) in fields.iter().zip(wants) {
        let body = Wire::new()
            .string(ty.as_bytes())
            .u32(0)
            .u32(2097152)
            .u32(32768)
            .raw(fields)
            .bytes();
        let want = Message::ChannelOpen {
            channel_type: s(ty),
            sender_channel: 0,
            initial_window: 2097152,
            max_packet: 32768,
            open,
        };
        check_message(&OPENS, 90, &body, want.clone(), want.clone());
        assert_eq!(want.to_string(), line);
    }
}

#[test]
fn open_confirmation() {
    let body = Wire::new().u32(0).u32(5).u32(2097152).u32(32768).bytes();
    let want = Message::OpenConfirmation {
        recipient: 0,
        sender: 5,
        window: 2097152,
        max_packet: 32768,
    };
    check_message(&OPEN_REPLIES, 91, &body, want.clone(), want.clone());
    assert_eq!(want.to_string(), "open-confirmation #0 -> #5");
}

#[test]
fn open_failure() {
    let body = Wire::new()
        .u32(3)
        .u32(2)
        .string(b"denied")
        .string(b"en")
        .bytes();
    let want = Message::OpenFailure {
        recipient: 3,
        reason: 2,
        description: s("denied"),
        language: s("en"),
    };
    check_message(&OPEN_REPLIES, 92, &body, want.clone(), want.clone());
    assert_eq!(want.to_string(), "open-failure #3 connect failed: denied");
    assert_eq!(open_failure_reason(1), "administratively prohibited");
    assert_eq!(open_failure_reason(2), "connect failed");
    assert_eq!(open_failure_reason(3), "unknown channel type");
    assert_eq!(open_failure_reason(4), "resource shortage");
    assert_eq!(open_failure_reason(0), "unknown reason");
    assert_eq!(open_failure_reason(99), "unknown reason");
    // A 91 is not a 92 and vice versa.
    for kind in &OPEN_REPLIES {
        assert_eq!(decode(kind, &prefixed(91, &body), None), Decoded::Undecoded);
    }
}

// --- channel requests and replies ----------------------------------------

#[test]
fn channel_request_pty_req_with_modes() {
    let fields = pty_req_fields();
    let (_, modes) = fields.split_at(4 + 14 + 16 + 4);
    let want = ChannelRequest::PtyReq(PtyReq {
        term: s("xterm-256color"),
        cols: 120,
        rows: 40,
        width_px: 960,
        height_px: 640,
        modes: TerminalModes(modes),
    });
    let line = check_channel_request("pty-req", true, &fields, want);
    assert_eq!(line, "pty-req xterm-256color 120x40 want_reply");

    let (m, _) = decoded(&EventType::ForwardRequest, &fields, Some("pty-req"));
    let Message::ChannelRequest {
        request: ChannelRequest::PtyReq(pty),
        ..
    } = m
    else {
        panic!("not a pty-req: {m:?}");
    };
    let got: Vec<_> = pty.modes.iter().collect();
    assert_eq!(
        got,
        vec![
            (1, Some("VINTR"), 3),
            (3, Some("VERASE"), 127),
            (53, Some("ECHO"), 1),
            (51, Some("ICANON"), 1),
            (42, Some("IUTF8"), 1),
            (128, Some("ISPEED"), 38400),
            (129, Some("OSPEED"), 38400),
        ]
    );
    assert_eq!(
        format!("{:?}", pty.modes),
        "[VINTR=3, VERASE=127, ECHO=1, ICANON=1, IUTF8=1, ISPEED=38400, OSPEED=38400]"
    );
}

#[test]
fn terminal_modes_stop_at_undefined_opcodes() {
    // 160 and up are undefined and stop parsing; unnamed opcodes below 160
    // are reported without a name.
    let modes = Wire::new()
        .byte(20)
        .u32(9)
        .byte(54)
        .u32(0)
        .byte(200)
        .u32(1)
        .byte(1)
        .u32(3)
        .bytes();
    let got: Vec<_> = TerminalModes(&modes).iter().collect();
    assert_eq!(got, vec![(20, None, 9), (54, Some("ECHOE"), 0)]);
    assert_eq!(TerminalModes(b"").iter().count(), 0);
    assert_eq!(TerminalModes(b"\x01\x00").iter().count(), 0);
    assert_eq!(terminal_mode_name(70), Some("OPOST"));
    assert_eq!(terminal_mode_name(91), Some("CS8"));
}

#[test]
fn channel_request_x11_req() {
    let fields = Wire::new()
        .boolean(false)
        .string(b"MIT-MAGIC-COOKIE-1")
        .string(b"0123456789abcdef")
        .u32(0)
        .bytes();
    let want = ChannelRequest::X11Req {
        single_connection: false,
        auth_protocol: s("MIT-MAGIC-COOKIE-1"),
        auth_cookie: s("0123456789abcdef"),
        screen: 0,
    };
    let line = check_channel_request("x11-req", true, &fields, want);
    assert_eq!(line, "x11-req MIT-MAGIC-COOKIE-1 screen 0 want_reply");
}

#[test]
fn channel_request_env() {
    let fields = Wire::new().string(b"LANG").string(b"en_US.UTF-8").bytes();
    let want = ChannelRequest::Env {
        name: s("LANG"),
        value: s("en_US.UTF-8"),
    };
    assert_eq!(
        check_channel_request("env", false, &fields, want),
        "env LANG=en_US.UTF-8"
    );
}

#[test]
fn channel_request_shell_exec_subsystem() {
    assert_eq!(
        check_channel_request("shell", true, &[], ChannelRequest::Shell),
        "shell want_reply"
    );
    let fields = Wire::new().string(b"ls -l").bytes();
    let want = ChannelRequest::Exec {
        command: s("ls -l"),
    };
    assert_eq!(
        check_channel_request("exec", false, &fields, want),
        "exec \"ls -l\""
    );
    let fields = Wire::new().string(b"sftp").bytes();
    let want = ChannelRequest::Subsystem { name: s("sftp") };
    assert_eq!(
        check_channel_request("subsystem", true, &fields, want),
        "subsystem sftp want_reply"
    );
}

#[test]
fn channel_request_window_change() {
    let fields = Wire::new().u32(100).u32(30).u32(800).u32(600).bytes();
    let want = ChannelRequest::WindowChange {
        cols: 100,
        rows: 30,
        width_px: 800,
        height_px: 600,
    };
    assert_eq!(
        check_channel_request("window-change", false, &fields, want),
        "window-change 100x30"
    );
}

#[test]
fn channel_request_flow_control_and_signals() {
    let want = ChannelRequest::XonXoff {
        client_can_do: true,
    };
    assert_eq!(
        check_channel_request("xon-xoff", false, &[1], want),
        "xon-xoff on"
    );
    // Any nonzero byte is true.
    let want = ChannelRequest::XonXoff {
        client_can_do: true,
    };
    check_channel_request("xon-xoff", false, &[0x80], want);
    let want = ChannelRequest::XonXoff {
        client_can_do: false,
    };
    check_channel_request("xon-xoff", false, &[0], want);

    let fields = Wire::new().string(b"INT").bytes();
    let want = ChannelRequest::Signal { name: s("INT") };
    assert_eq!(
        check_channel_request("signal", false, &fields, want),
        "signal INT"
    );

    let fields = Wire::new().u32(500).bytes();
    assert_eq!(
        check_channel_request("break", true, &fields, ChannelRequest::Break { ms: 500 }),
        "break 500ms want_reply"
    );
}

#[test]
fn channel_request_exit_status_and_signal() {
    let fields = Wire::new().u32(127).bytes();
    let want = ChannelRequest::ExitStatus { status: 127 };
    assert_eq!(
        check_channel_request("exit-status", false, &fields, want),
        "exit-status 127"
    );

    let fields = Wire::new()
        .string(b"KILL")
        .boolean(true)
        .string(b"killed")
        .string(b"en")
        .bytes();
    let want = ChannelRequest::ExitSignal {
        signal: s("KILL"),
        core_dumped: true,
        message: s("killed"),
        language: s("en"),
    };
    assert_eq!(
        check_channel_request("exit-signal", false, &fields, want),
        "exit-signal KILL (core dumped) \"killed\""
    );
}

#[test]
fn channel_request_openssh_extensions() {
    assert_eq!(
        check_channel_request("eow@openssh.com", false, &[], ChannelRequest::Eow),
        "eow@openssh.com"
    );
    let line = check_channel_request(
        "auth-agent-req@openssh.com",
        false,
        &[],
        ChannelRequest::AuthAgentReq,
    );
    assert_eq!(line, "auth-agent-req@openssh.com");
}

#[test]
fn channel_request_unknown_keeps_raw_bytes() {
    let line = check_channel_request(
        "keepalive@openssh.com",
        true,
        &[],
        ChannelRequest::Other(&[]),
    );
    assert_eq!(line, "keepalive@openssh.com (0 bytes) want_reply");
    let fields = [0xde, 0xad];
    let line = check_channel_request(
        "winadj@putty.projects.tartarus.org",
        false,
        &fields,
        ChannelRequest::Other(&fields),
    );
    assert_eq!(line, "winadj@putty.projects.tartarus.org (2 bytes)");
}

#[test]
fn channel_replies() {
    let reply = |recipient, success| Message::ChannelReply { recipient, success };
    let zero = Wire::new().u32(0).bytes();
    check_message(
        &REPLIES,
        99,
        &zero,
        reply(Some(0), Some(true)),
        reply(Some(0), None),
    );
    let one = Wire::new().u32(1).bytes();
    check_message(
        &REPLIES,
        100,
        &one,
        reply(Some(1), Some(false)),
        reply(Some(1), None),
    );
    assert_eq!(reply(Some(0), Some(true)).to_string(), "success");
    assert_eq!(reply(Some(1), Some(false)).to_string(), "failure");
    // Neither a global reply nor an open reply.
    for kind in GLOBAL_REPLIES.iter().chain(&OPEN_REPLIES) {
        assert_eq!(decode(kind, &prefixed(99, &zero), None), Decoded::Undecoded);
    }
}

// --- Display -------------------------------------------------------------

#[test]
fn display_lines() {
    let kind = EventType::ForwardRequest;
    let line = |fields: &[u8], hint| decoded(&kind, fields, Some(hint)).0.to_string();
    assert_eq!(
        line(&pty_req_fields(), "pty-req"),
        "pty-req xterm-256color 120x40"
    );
    assert_eq!(
        line(
            &Wire::new().u32(100).u32(30).u32(0).u32(0).bytes(),
            "window-change"
        ),
        "window-change 100x30"
    );
    assert_eq!(
        line(&Wire::new().u32(127).bytes(), "exit-status"),
        "exit-status 127"
    );
    assert_eq!(
        line(
            &Wire::new().string(b"LANG").string(b"en_US.UTF-8").bytes(),
            "env"
        ),
        "env LANG=en_US.UTF-8"
    );
    assert_eq!(
        line(&Wire::new().string(b"ls -l").bytes(), "exec"),
        "exec \"ls -l\""
    );
    // Quotes and line ends in a command stay escaped on one line.
    assert_eq!(
        line(&Wire::new().string(b"echo \"a\"\nb").bytes(), "exec"),
        "exec \"echo \\\"a\\\"\\nb\""
    );
    // Non-UTF-8 bytes are shown lossily.
    assert_eq!(
        line(&Wire::new().string(b"\xffx").bytes(), "signal"),
        "signal \u{fffd}x"
    );
    let m = Message::OpenFailure {
        recipient: 3,
        reason: 9,
        description: s(""),
        language: s(""),
    };
    assert_eq!(m.to_string(), "open-failure #3 unknown reason 9");
}

#[test]
fn ssh_str_shows_lossy_text() {
    let v = SshStr(b"caf\xc3\xa9 \xff");
    assert_eq!(v.as_bytes(), b"caf\xc3\xa9 \xff");
    assert_eq!(v.to_str_lossy(), "café \u{fffd}");
    assert_eq!(v.to_string(), "café \u{fffd}");
    assert_eq!(format!("{v:?}"), "\"café \u{fffd}\"");
    assert!(matches!(SshStr(b"ok").to_str_lossy(), Cow::Borrowed("ok")));
}

// --- robustness ----------------------------------------------------------

fn exercise(decoded: &Decoded<'_>) {
    if let Decoded::Message { message, .. } = decoded {
        let line = message.to_string();
        assert!(!line.contains('\n'), "{line:?}");
        let _ = format!("{message:?}");
    }
}

fn all_kinds() -> Vec<EventType<'static>> {
    let mut kinds = EventType::KNOWN.to_vec();
    kinds.push(EventType::Unknown(Cow::Borrowed("x-vendor-event")));
    kinds
}

const HINTS: [Option<&str>; 8] = [
    None,
    Some("pty-req"),
    Some("exec"),
    Some("exit-signal"),
    Some("tcpip-forward"),
    Some("hostkeys-00@openssh.com"),
    Some("shell"),
    Some("bogus@example.com"),
];

#[test]
fn every_prefix_of_every_golden_payload_is_safe() {
    let kinds = all_kinds();
    let corpus = corpus();
    assert!(corpus.len() > 100);
    for (kind, payload, hint) in &corpus {
        // The golden payload itself decodes.
        assert!(
            matches!(decode(kind, payload, *hint), Decoded::Message { .. }),
            "{kind} {payload:02x?}"
        );
        for end in 0..=payload.len() {
            let prefix = &payload[..end];
            for other in &kinds {
                for h in [*hint, None] {
                    exercise(&decode(other, prefix, h));
                }
            }
        }
    }
}

#[test]
fn lying_lengths_are_undecoded() {
    let huge = |len: u32| Wire::new().u32(len).bytes();
    let cases: Vec<(EventType<'static>, Vec<u8>)> = vec![
        // request type claims 4 GB
        (
            EventType::ForwardRequest,
            Wire::new()
                .byte(98)
                .u32(0)
                .raw(&huge(u32::MAX))
                .raw(b"pty-req\x01")
                .bytes(),
        ),
        // pty-req TERM claims 4 GB
        (
            EventType::ForwardRequest,
            Wire::new()
                .byte(98)
                .u32(0)
                .string(b"pty-req")
                .boolean(true)
                .raw(&huge(u32::MAX))
                .raw(b"xterm")
                .bytes(),
        ),
        // pty-req modes claim one byte more than there is
        (
            EventType::ForwardRequest,
            Wire::new()
                .byte(98)
                .u32(0)
                .string(b"pty-req")
                .boolean(true)
                .string(b"vt100")
                .u32(80)
                .u32(24)
                .u32(0)
                .u32(0)
                .raw(&huge(6))
                .raw(&[1, 0, 0, 0, 3])
                .bytes(),
        ),
        // exec command claims 4 GB
        (
            EventType::ForwardRequest,
            Wire::new()
                .byte(98)
                .u32(0)
                .string(b"exec")
                .boolean(false)
                .raw(&huge(u32::MAX))
                .bytes(),
        ),
        // global request name claims 4 GB
        (
            EventType::ReverseGlobalRequest,
            Wire::new()
                .byte(80)
                .raw(&huge(u32::MAX))
                .raw(b"hostkeys")
                .bytes(),
        ),
        // a host key blob claims 4 GB
        (
            EventType::ReverseGlobalRequest,
            Wire::new()
                .byte(80)
                .string(b"hostkeys-00@openssh.com")
                .boolean(false)
                .string(&ed25519_blob())
                .raw(&huge(u32::MAX))
                .raw(b"ssh-rsa")
                .bytes(),
        ),
        // channel type claims 4 GB
        (
            EventType::ForwardNewChannelRequest,
            Wire::new()
                .byte(90)
                .raw(&huge(u32::MAX))
                .raw(b"session")
                .bytes(),
        ),
        // open failure description claims 4 GB
        (
            EventType::ReverseNewChannelReply,
            Wire::new()
                .byte(92)
                .u32(0)
                .u32(1)
                .raw(&huge(u32::MAX))
                .raw(b"no")
                .bytes(),
        ),
        // open failure language claims 0x80000000
        (
            EventType::ReverseNewChannelReply,
            Wire::new()
                .byte(92)
                .u32(0)
                .u32(1)
                .string(b"no")
                .raw(&huge(0x8000_0000))
                .bytes(),
        ),
    ];
    for (kind, payload) in &cases {
        assert_eq!(
            decode(kind, payload, None),
            Decoded::Undecoded,
            "{kind} {payload:02x?}"
        );
        // With a hint naming a known request of that family (an unknown
        // hint would take the whole payload as its raw bytes, by design).
        let hint = if GLOBAL_REQUESTS.contains(kind) {
            "tcpip-forward"
        } else {
            "exec"
        };
        assert_eq!(
            decode(kind, payload, Some(hint)),
            Decoded::Undecoded,
            "{kind} {payload:02x?}"
        );
        for other in all_kinds() {
            exercise(&decode(&other, payload, None));
        }
    }
    // Only length fields: nothing to allocate, nothing to decode. (Four
    // 0xff bytes would be a layout-2 reply to channel 0xffffffff.)
    for kind in all_kinds() {
        assert_eq!(decode(&kind, &[0xff; 5], None), Decoded::Undecoded);
        assert_eq!(decode(&kind, &[0xff; 9], None), Decoded::Undecoded);
    }
}

#[test]
fn trailing_garbage_defeats_layout_one() {
    let mut checked = 0;
    for (kind, payload, hint) in corpus() {
        let Decoded::Message {
            message,
            layout: Layout::Full,
        } = decode(&kind, &payload, hint)
        else {
            continue;
        };
        // Unknown request and channel types keep everything after their
        // fixed fields, so garbage is theirs by definition.
        let open_ended = matches!(
            message,
            Message::GlobalRequest {
                request: GlobalRequest::Other(_),
                ..
            } | Message::ChannelRequest {
                request: ChannelRequest::Other(_),
                ..
            } | Message::ChannelOpen {
                open: ChannelOpen::Other(_),
                ..
            }
        );
        if open_ended {
            continue;
        }
        // REQUEST_SUCCESS ends with an optional uint32: four more bytes are
        // a port, not garbage.
        let optional_port = matches!(
            message,
            Message::GlobalReply {
                bound_port: None,
                ..
            }
        ) && payload == b"Q";
        for garbage in [&b"\0"[..], b"\xff", b"\0\0\0\0", b"junk!"] {
            if optional_port && garbage.len() == 4 {
                continue;
            }
            let longer = Wire::new().raw(&payload).raw(garbage).bytes();
            let got = decode(&kind, &longer, hint);
            assert!(
                !matches!(
                    got,
                    Decoded::Message {
                        layout: Layout::Full,
                        ..
                    }
                ),
                "{kind} {longer:02x?} -> {got:?}"
            );
        }
        checked += 1;
    }
    assert!(checked > 40, "{checked}");
    // The plain cases: nothing else fits either.
    let exit = Wire::new()
        .byte(98)
        .u32(0)
        .string(b"exit-status")
        .boolean(false)
        .u32(3)
        .byte(0)
        .bytes();
    assert_eq!(
        decode(&EventType::ReverseRequest, &exit, None),
        Decoded::Undecoded
    );
    assert_eq!(
        decode(&EventType::ReverseReply, b"c\0\0\0\0\0", None),
        Decoded::Undecoded
    );
}

/// xorshift64*: a small deterministic generator, good enough to shake a parser.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
    fn byte(&mut self) -> u8 {
        self.next() as u8
    }
}

#[test]
fn random_payloads_never_panic() {
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    let kinds = all_kinds();
    let corpus = corpus();
    let numbers = [80u8, 81, 82, 90, 91, 92, 98, 99, 100];
    let mut decoded_count = 0usize;
    for round in 0..60_000 {
        let mut payload: Vec<u8> = match round % 4 {
            // pure noise
            0 => (0..rng.below(48)).map(|_| rng.byte()).collect(),
            // a plausible message number, then noise with small lengths
            1 => {
                let mut p = vec![numbers[rng.below(numbers.len())]];
                for _ in 0..rng.below(12) {
                    match rng.below(3) {
                        0 => p.extend_from_slice(&(rng.below(12) as u32).to_be_bytes()),
                        1 => p.push(rng.byte()),
                        _ => p.extend_from_slice(b"pty-req"),
                    }
                }
                p
            }
            // a golden payload with a few bytes flipped
            2 => {
                let mut p = corpus[rng.below(corpus.len())].1.clone();
                for _ in 0..=rng.below(3) {
                    if !p.is_empty() {
                        let at = rng.below(p.len());
                        p[at] = rng.byte();
                    }
                }
                p
            }
            // a golden payload cut and spliced with another
            _ => {
                let a = &corpus[rng.below(corpus.len())].1;
                let b = &corpus[rng.below(corpus.len())].1;
                let mut p = a[..rng.below(a.len() + 1)].to_vec();
                p.extend_from_slice(&b[rng.below(b.len() + 1)..]);
                p
            }
        };
        if round % 7 == 0 {
            payload.truncate(rng.below(payload.len() + 1));
        }
        let hint = HINTS[rng.below(HINTS.len())];
        for kind in &kinds {
            let got = decode(kind, &payload, hint);
            exercise(&got);
            match &got {
                Decoded::Message { layout, .. } => {
                    decoded_count += 1;
                    assert!(kind.known_index().is_some_and(|i| i >= 3), "{kind} decoded");
                    if *layout == Layout::TypeSpecific {
                        assert!(hint.is_some());
                    }
                    if *layout == Layout::Full {
                        assert!(numbers.contains(&payload[0]));
                    }
                }
                Decoded::Undecoded => {}
            }
        }
    }
    assert!(decoded_count > 1000, "{decoded_count}");
}

// --- request hints from jsonl extras ---------------------------------------

#[test]
fn request_hint_reads_extras_and_feeds_layout_three() {
    // exec "ls -la" recorded with only its type-specific fields.
    let log = concat!(
        r#"{"type":"forward-request","ts":"2023-06-07T17:32:28Z","data":"AAAABmxzIC1sYQ==","request":"exec"}"#,
        "\n",
        r#"{"type":"forward-request","ts":"2023-06-07T17:32:28Z","data":"AAAAfw==","name":"ignored","request_type":"exit-\u0073tatus"}"#,
        "\n",
        r#"{"type":"forward-request","ts":"2023-06-07T17:32:28Z","data":"","request":7,"name":"shell"}"#,
        "\n",
        r#"{"type":"forward-request","ts":"2023-06-07T17:32:28Z","data":"","command":"ls"}"#,
        "\n",
    );
    let want = [
        (Some("exec"), "exec \"ls -la\""),
        (Some("exit-status"), "exit-status 127"),
        (Some("shell"), "shell"),
        (None, ""),
    ];
    let mut payload = Vec::new();
    let events: Vec<_> = SliceReader::new(log.as_bytes())
        .map(|e| e.unwrap())
        .collect();
    assert_eq!(events.len(), want.len());
    for (ev, (hint, line)) in events.iter().zip(want) {
        ev.decode_payload(&mut payload).unwrap();
        let got = request_hint(ev);
        assert_eq!(got.as_deref(), hint);
        match decode(&ev.kind, &payload, got.as_deref()) {
            Decoded::Message { message, layout } => {
                assert_eq!(layout, Layout::TypeSpecific);
                assert_eq!(message.to_string(), line);
            }
            Decoded::Undecoded => assert!(hint.is_none()),
        }
    }
}

// --- the acceptance sample log ---------------------------------------------

/// A short name for what a decoded message is.
fn message_kind(m: &Message<'_>) -> String {
    match m {
        Message::GlobalRequest { name, .. } => format!("global-request {name}"),
        Message::GlobalReply { success, .. } => format!("global-reply {success:?}"),
        Message::ChannelOpen { channel_type, .. } => format!("channel-open {channel_type}"),
        Message::OpenConfirmation { .. } => "open-confirmation".into(),
        Message::OpenFailure { .. } => "open-failure".into(),
        Message::ChannelRequest { request_type, .. } => format!("channel-request {request_type}"),
        Message::ChannelReply { success, .. } => format!("channel-reply {success:?}"),
        other => panic!("a message this test does not name: {other}"),
    }
}

#[test]
fn sample_log_decodes() {
    let input = common::read("checkdata/sample.jsonl");
    let mut payload = Vec::new();
    let mut kinds: BTreeMap<String, usize> = BTreeMap::new();
    let mut layouts: BTreeMap<String, usize> = BTreeMap::new();
    let (mut data, mut unknown_types, mut decoded_events) = (0, 0, 0);
    let mut undecoded = Vec::new();
    for ev in SliceReader::new(&input) {
        let ev = ev.unwrap();
        match ev.kind {
            EventType::Stdin | EventType::Stdout | EventType::Stderr => {
                data += 1;
                continue;
            }
            EventType::Unknown(_) => {
                unknown_types += 1;
                continue;
            }
            _ => {}
        }
        ev.decode_payload(&mut payload).unwrap();
        let hint = request_hint(&ev);
        match decode(&ev.kind, &payload, hint.as_deref()) {
            Decoded::Message { message, layout } => {
                decoded_events += 1;
                *kinds.entry(message_kind(&message)).or_default() += 1;
                *layouts.entry(format!("{layout:?}")).or_default() += 1;
                if decoded_events <= 14 {
                    eprintln!("line {:>4} {:<28} {message}", ev.line, ev.kind.name());
                }
            }
            Decoded::Undecoded => {
                undecoded.push((ev.line, ev.kind.name().to_string(), payload.clone()))
            }
        }
    }
    eprintln!(
        "data events: {data}, unknown-type events: {unknown_types}, decoded: {decoded_events}"
    );
    for (kind, n) in &kinds {
        eprintln!("  {n:>4}  {kind}");
    }
    eprintln!("layouts: {layouts:?}");
    for (line, kind, p) in &undecoded {
        eprintln!("undecoded: line {line} {kind} {} bytes {p:02x?}", p.len());
    }
    assert!(decoded_events > 0);
    // docs/FORMAT.md section 6 gives CHANNEL_SUCCESS/FAILURE a uint32 recipient
    // in every layout, so a reply event with an empty payload fits none of
    // them: the sample has such events. Everything with a payload decodes.
    let nonempty: Vec<_> = undecoded.iter().filter(|(_, _, p)| !p.is_empty()).collect();
    assert_eq!(
        nonempty.len(),
        0,
        "undecoded events with a payload: {nonempty:?}"
    );
    for (line, kind, _) in &undecoded {
        assert!(kind.ends_with("-reply"), "line {line}: {kind} undecoded");
    }
}
