#!/usr/bin/env python3
"""Makes testdata/siem/conn-tricky/: a connection directory whose metadata
and requests hold the values SIEM formats find hard (pipes, equals signs,
backslashes, line breaks, UTF-8, an IPv6 source, a host name as the target
address), and whose channels exercise every record type of
`sshtrail convert --to ecs|ocsf|cef|hec`:

  0.hex  a shell: pty-req, env (twice), a refused x11-req, agent forwarding,
         shell, typed input and UTF-8 output (one chunk longer than 4096
         bytes), a signal, a failed unknown request, a keepalive and its
         failure (no record), tcpip-forward on port 0 (bound to 40000) and
         its cancel, a refused streamlocal-forward, a server-opened agent
         channel the client refuses, and an exit-signal.
  1.hex  a direct-tcpip channel the server refuses (connect failed).
  2.hex  an sftp subsystem whose trail is still ONGOING (no close record).

SSH messages are built here with Python's own struct module (layout 1 of
docs/FORMAT.md section 6), so the tests compare sshtrail with a second
implementation. Run it again after changing it, and read the diff.
"""
import json
import os
import struct

HERE = os.path.dirname(os.path.abspath(__file__))
CONN = "0b5e7c1a-3d2f-4e6a-8b9c-1d2e3f4a5b6c"


def s(b):
    if isinstance(b, str):
        b = b.encode()
    return struct.pack(">I", len(b)) + b


def u32(n):
    return struct.pack(">I", n)


def boolean(v):
    return b"\x01" if v else b"\x00"


def channel_open(kind, sender, extra=b""):
    return bytes([90]) + s(kind) + u32(sender) + u32(2097152) + u32(32768) + extra


def open_confirmation(recipient, sender):
    return bytes([91]) + u32(recipient) + u32(sender) + u32(2097152) + u32(32768)


def open_failure(recipient, reason, text):
    return bytes([92]) + u32(recipient) + u32(reason) + s(text) + s("")


def request(name, want, extra=b""):
    return bytes([98]) + u32(0) + s(name) + boolean(want) + extra


def channel_reply(ok):
    return bytes([99 if ok else 100]) + u32(0)


def global_request(name, want, extra=b""):
    return bytes([80]) + s(name) + boolean(want) + extra


def global_reply(ok, port=None):
    if not ok:
        return bytes([82])
    return bytes([81]) + (u32(port) if port is not None else b"")


class Log:
    def __init__(self, start):
        self.t = start
        self.lines = []
        self.bytes = {"stdin": 0, "stdout": 0, "stderr": 0}

    def add(self, kind, payload, step_us=1000):
        self.t += step_us
        sec, us = divmod(self.t, 1_000_000)
        m, sec = divmod(sec, 60)
        ts = "2024-02-29T23:%02d:%02d.%06dZ" % (m, sec, us)
        if kind in self.bytes:
            self.bytes[kind] += len(payload)
        self.lines.append("%s %s %s" % (ts, kind, payload.hex()))

    def text(self):
        return "\n".join(self.lines) + "\n"


def shell():
    log = Log(0)
    log.add("forward-new-channel-request", channel_open("session", 0))
    log.add("reverse-new-channel-reply", open_confirmation(0, 0))
    modes = bytes([53]) + u32(1) + bytes([128]) + u32(38400) + bytes([129]) + u32(38400) + b"\x00"
    log.add("forward-request", request("pty-req", True, s("xterm-256color") + u32(100) + u32(30) + u32(0) + u32(0) + s(modes)))
    log.add("reverse-reply", channel_reply(True))
    log.add("forward-request", request("env", False, s("LANG") + s("C.UTF-8")))
    log.add("forward-request", request("env", False, s("PS1") + s("a=b|c\\d\ne \u00fc \u2603")))
    log.add("forward-request", request("x11-req", True, boolean(False) + s("MIT-MAGIC-COOKIE-1") + s("00ff") + u32(0)))
    log.add("reverse-reply", channel_reply(False))
    log.add("forward-request", request("auth-agent-req@openssh.com", True))
    log.add("reverse-reply", channel_reply(True))
    log.add("forward-request", request("shell", True))
    log.add("reverse-reply", channel_reply(True))
    log.add("stdout", "m\u00fcller@db:~$ ".encode())
    for ch in b"ls\r":
        log.add("stdin", bytes([ch]), 120000)
        log.add("stdout", bytes([ch]) if ch != 13 else b"\r\n", 900)
    # 5000 bytes, a 3-byte character across byte 4096.
    log.add("stdout", b"x" * 4095 + "\u2603".encode() + b"y" * 902)
    log.add("stderr", "ls: cannot open directory 'caf\u00e9|=\\': Permission denied\r\n".encode())
    log.add("forward-request", request("signal", False, s("INT")))
    log.add("forward-request", request("nobody@example.com", True, b"\x00\x01"))
    log.add("reverse-reply", channel_reply(False))
    log.add("forward-global-request", global_request("keepalive@openssh.com", True))
    log.add("reverse-global-reply", global_reply(False))
    log.add("forward-global-request", global_request("tcpip-forward", True, s("127.0.0.1") + u32(0)))
    log.add("reverse-global-reply", global_reply(True, 40000))
    log.add("forward-global-request", global_request("cancel-tcpip-forward", True, s("127.0.0.1") + u32(40000)))
    log.add("reverse-global-reply", global_reply(True))
    log.add("forward-global-request", global_request("streamlocal-forward@openssh.com", True, s("/tmp/s.sock")))
    log.add("reverse-global-reply", global_reply(False))
    log.add("reverse-new-channel-request", channel_open("auth-agent@openssh.com", 7))
    log.add("forward-new-channel-reply", open_failure(7, 1, "agent forwarding disabled"))
    log.add("reverse-request", request("exit-signal", False, s("KILL") + boolean(False) + s("killed|by=admin\\now") + s("")))
    return log


def direct_tcpip():
    log = Log(10_000_000)
    log.add("forward-new-channel-request", channel_open("direct-tcpip", 1, s("intranet.example") + u32(443) + s("::1") + u32(51000)))
    log.add("reverse-new-channel-reply", open_failure(1, 2, "connect failed: Connection refused"))
    return log


def sftp():
    log = Log(20_000_000)
    log.add("forward-new-channel-request", channel_open("session", 2))
    log.add("reverse-new-channel-reply", open_confirmation(2, 2))
    log.add("forward-request", request("subsystem", True, s("sftp")))
    log.add("reverse-reply", channel_reply(True))
    log.add("stdin", b"\x00\x00\x00\x05\x01\x00\x00\x00\x03")
    log.add("stdout", b"\x00\x00\x00\x05\x02\x00\x00\x00\x03")
    return log


def main():
    d = os.path.join(HERE, "conn-tricky", CONN)
    os.makedirs(d, exist_ok=True)
    logs = {"0": shell(), "1": direct_tcpip(), "2": sftp()}
    channels = []
    for cid, log in logs.items():
        with open(os.path.join(d, cid + ".hex"), "w") as f:
            f.write(log.text())
        status = {"0": "OK", "1": "OK", "2": "ONGOING"}[cid]
        channels.append({
            "id": cid,
            "type": {"0": "shell", "1": "direct-tcpip", "2": "subsystem"}[cid],
            "bytes_client_to_server": log.bytes["stdin"],
            "bytes_server_to_client": log.bytes["stdout"] + log.bytes["stderr"],
            "protocol_file": {"status": status, "closed": status != "ONGOING"},
        })
    meta = {
        "id": CONN,
        "type": "SSH",
        "authentication_method": ["PUBLICKEY", "MFA"],
        "user_data": {"id": "u-1|2=3", "display_name": "J\u00f6rg|ops=admin\\x"},
        "target_host_data": {"id": "h-42", "common_name": "db|prod=01\\\u00fc"},
        "target_host_address": "db-01.internal.example",
        "target_host_account": "post=gres|\\",
        "remote_address": "2001:db8::7",
        "connected": "2024-02-29T23:00:00Z",
        "status": "CONNECTED",
        "tags": ["prod|eu", "pci=yes", "line\nbreak"],
        "trail": {"connection_id": CONN, "channels": channels},
    }
    with open(os.path.join(d, "connection.json"), "w", encoding="utf-8") as f:
        json.dump(meta, f, indent=2, ensure_ascii=False)
        f.write("\n")


if __name__ == "__main__":
    main()
