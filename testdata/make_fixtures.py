#!/usr/bin/env python3
"""Writes the golden fixtures in this folder, independently of sshtrail's code.

Python's own base64 and hex codecs make the expected bytes, so the tests
compare sshtrail against a second implementation, not against itself.
Run from anywhere: python3 testdata/make_fixtures.py
"""
import base64, os, struct

HERE = os.path.dirname(os.path.abspath(__file__))


def s(b):
    return struct.pack('>I', len(b)) + b


def u32(n):
    return struct.pack('>I', n)


def events():
    """A short shell session: open, pty, env, shell, typing, output, exit."""
    t = [0]

    def ts(step_us):
        t[0] += step_us
        sec, us = divmod(t[0], 1_000_000)
        return '2023-06-07T17:%02d:%02d.%06dZ' % (32 + sec // 60, sec % 60, us)

    ev = []
    add = lambda kind, payload, step=1000: ev.append((kind, ts(step), payload))
    modes = bytes([1]) + u32(3) + bytes([53]) + u32(1) + bytes([128]) + u32(38400) + bytes([129]) + u32(38400) + b'\x00'
    add('forward-new-channel-request', bytes([90]) + s(b'session') + u32(0) + u32(2097152) + u32(32768))
    add('reverse-new-channel-reply', bytes([91]) + u32(0) + u32(0) + u32(2097152) + u32(32768))
    add('forward-request', bytes([98]) + u32(0) + s(b'pty-req') + b'\x01' + s(b'xterm-256color') + u32(120) + u32(40) + u32(0) + u32(0) + s(modes))
    add('reverse-reply', bytes([99]) + u32(0))
    add('forward-request', bytes([98]) + u32(0) + s(b'env') + b'\x00' + s(b'LANG') + s(b'en_US.UTF-8'))
    add('forward-request', bytes([98]) + u32(0) + s(b'shell') + b'\x01')
    add('reverse-reply', bytes([99]) + u32(0))
    add('forward-global-request', bytes([80]) + s(b'keepalive@openssh.com') + b'\x01')
    add('reverse-global-reply', bytes([82]))
    add('stdout', 'alice@db-prod-01:~$ '.encode())
    for c in b'ls -l':
        add('stdin', bytes([c]), 150000)
        add('stdout', bytes([c]), 900)
    add('stdin', b'\r', 200000)
    add('stdout', b'\r\n', 800)
    add('stdout', 'total 8\r\n-rw-r--r-- 1 alice alice 42 Jun  7 17:30 h\xe9llo w\xf6rld \u2713 \u65e5\u672c.txt\r\n'.encode('utf-8'))
    add('stdout', b'\x1b[01;34mbin\x1b[0m\r\nalice@db-prod-01:~$ ', 400)
    add('session-note', b'', 5000)
    add('forward-request', bytes([98]) + u32(0) + s(b'window-change') + b'\x00' + u32(100) + u32(30) + u32(0) + u32(0), 300000)
    for c in b'fo':
        add('stdin', bytes([c]), 120000)
        add('stdout', bytes([c]), 700)
    add('stdin', b'\x7f', 90000)
    add('stdout', b'\x08\x1b[K', 700)
    add('stdin', b'\x1b[A', 90000)  # an arrow key: 3 bytes in one event
    add('stdin', b'\r', 90000)
    add('stderr', b'bash: f: command not found\r\n', 1500)
    add('stdout', bytes(range(256)), 1000)  # every byte value
    add('stdin', b'\x04', 500000)
    add('reverse-request', bytes([98]) + u32(0) + s(b'exit-status') + b'\x00' + u32(127), 2000)
    add('reverse-request', bytes([98]) + u32(0) + s(b'eow@openssh.com') + b'\x00')
    return ev


def jsonl_line(kind, ts, payload):
    return '{"type":"%s","ts":"%s","data":"%s"}\n' % (kind, ts, base64.b64encode(payload).decode())


def hex_line(kind, ts, payload):
    return '%s %s %s\n' % (ts, kind, payload.hex()) if payload else '%s %s\n' % (ts, kind)


def dump(kind, ts, payload):
    out = '%s %s %d\n' % (ts, kind, len(payload)) if payload else '%s %s\n' % (ts, kind)
    for off in range(0, len(payload), 16):
        chunk = payload[off:off + 16]
        cells = ['%02x' % b for b in chunk] + ['  '] * (16 - len(chunk))
        gutter = ''.join(chr(b) if 0x20 <= b < 0x7f else '.' for b in chunk)
        out += '%08x  %s  %s  |%s|\n' % (off, ' '.join(cells[:8]), ' '.join(cells[8:]), gutter)
    return out


def write(name, text, mode='w'):
    with open(os.path.join(HERE, name), mode, **({} if 'b' in mode else {'newline': ''})) as f:
        f.write(text)


def main():
    ev = events()
    write('session.jsonl', ''.join(jsonl_line(*e) for e in ev))
    write('session.hex', ''.join(hex_line(*e) for e in ev))
    write('session.hexdump', '# hex dump layout\n' + ''.join(dump(*e) for e in ev))
    for k in ('stdin', 'stdout', 'stderr'):
        write('session.%s.bin' % k, b''.join(p for kind, _, p in ev if kind == k), 'wb')

    # The same events spelled every legal way: key order, spaces, escapes,
    # missing padding, absent/null data, 'T' as space, CRLF, blank lines, extras.
    lines = []
    for i, (kind, ts, p) in enumerate(ev):
        b64 = base64.b64encode(p).decode()
        v = i % 8
        if v == 0:
            lines.append('{"ts":"%s", "type":"%s", "data":"%s"}\n' % (ts, kind, b64.rstrip('=')))
        elif v == 1:
            lines.append('  { "data" : "%s" , "type" : "%s" , "ts" : "%s" }\r\n' % (b64.replace('/', '\\/'), kind, ts))
        elif v == 2:
            lines.append('{"type":"%s","ts":"%s","data":"%s","command":"ls -la \\"x\\"","meta":{"a":[1,2,{"b":null}],"c":"\\u00e9"}}\n' % (kind, ts, b64))
        elif v == 3 and not p:
            lines.append('{"type":"%s","ts":"%s","data":null}\n' % (kind, ts))
        elif v == 4:
            lines.append('{"type":"%s","ts":"%s","data":"%s"}\n\n \t\n' % (kind.replace('-', '\\u002d'), ts.replace('T', ' '), b64))
        elif v == 5 and not p:
            lines.append('{"type":"%s","ts":"%s"}\r\n' % (kind, ts))
        else:
            lines.append(jsonl_line(kind, ts, p))
    write('variant.jsonl', ''.join(lines))

    # Hex with upper case, tabs, runs of spaces, CRLF and comments.
    hl = ['# exported by hand\n']
    for i, (kind, ts, p) in enumerate(ev):
        v = i % 4
        h = p.hex().upper() if v == 1 else p.hex()
        sep = '\t' if v == 2 else ('   ' if v == 3 else ' ')
        end = '\r\n' if v == 3 else '\n'
        hl.append(('%s%s%s%s%s' % (ts, sep, kind, sep, h) if p else '%s%s%s' % (ts, sep, kind)) + end)
    write('variant.hex', ''.join(hl))

    # Malformed files, each with the line it must be reported at.
    good = [jsonl_line(*e) for e in ev]
    hexes = [hex_line(*e) for e in ev]
    bad = {
        'bad-base64.jsonl': (good[:6] + ['{"type":"stdout","ts":"2023-06-07T17:32:30Z","data":"aGVsb*8="}\n'] + good[6:], 7, 'error'),
        'missing-ts.jsonl': (good[:3] + ['{"type":"stdout","data":"aGVsbG8="}\n'] + good[3:], 4, 'error'),
        'missing-type.jsonl': (good[:10] + ['{"ts":"2023-06-07T17:32:30Z","data":"aGVsbG8="}\n'] + good[10:], 11, 'error'),
        'bad-ts.jsonl': (good[:5] + ['{"type":"stdin","ts":"2023-02-30T15:12:30Z","data":"YQ=="}\n'] + good[5:], 6, 'error'),
        'not-object.jsonl': (good[:8] + ['["stdin","2023-06-07T15:12:30Z","YQ=="]\n'] + good[8:], 9, 'error'),
        'duplicate-key.jsonl': (good[:2] + ['{"type":"stdin","ts":"2023-06-07T15:12:30Z","type":"stdout"}\n'] + good[2:], 3, 'error'),
        'truncated.jsonl': (good + ['{"type":"stdout","ts":"2023-06-07T17:32:30Z","da'], len(good) + 1, 'warn'),
        'odd-hex.hex': (hexes[:4] + ['2023-06-07T15:12:30Z stdout 6c1\n'] + hexes[4:], 5, 'error'),
        'bad-hex-digit.hex': (hexes[:1] + ['2023-06-07T15:12:30Z stdout 6cxz\n'] + hexes[1:], 2, 'error'),
        'bad-dump-offset.hexdump': (['2023-06-07T15:12:30Z stdout 4\n', '00000000  6c 1b\n', '00000003  5b 4b\n'] + hexes, 3, 'error'),
        'dump-length.hexdump': (hexes[:2] + ['2023-06-07T15:12:30Z stdout 5\n', '00000000  6c 1b 5b 4b  |l.[K|\n'] + hexes[2:], 3, 'error'),
    }
    expect = []
    for name, (content, line, kind) in sorted(bad.items()):
        write(os.path.join('bad', name), ''.join(content))
        expect.append('%s\t%d\t%s\n' % (name, line, kind))
    write(os.path.join('bad', 'EXPECT.tsv'), ''.join(expect))


def connection_fixture():
    """A connection directory: a shell, an exec and a direct-tcpip channel,
    with its connection JSON; and a copy whose JSON disagrees with the logs."""
    import json
    conn_id = '6f1c2b7e-0d3a-4c55-9e1f-2a3b4c5d6e7f'
    shell = events()
    t0 = '2023-06-07T17:40:'
    def ts(i):
        return '%s%02d.%06dZ' % (t0, i // 1000, (i % 1000) * 1000)
    exec_ev = [
        ('forward-new-channel-request', ts(0), bytes([90]) + s(b'session') + u32(1) + u32(2097152) + u32(32768)),
        ('reverse-new-channel-reply', ts(1), bytes([91]) + u32(1) + u32(1) + u32(2097152) + u32(32768)),
        ('forward-request', ts(2), bytes([98]) + u32(1) + s(b'env') + b'\x00' + s(b'LC_ALL') + s(b'C')),
        ('forward-request', ts(3), bytes([98]) + u32(1) + s(b'exec') + b'\x01' + s(b'sudo systemctl restart postgresql')),
        ('reverse-reply', ts(4), bytes([99]) + u32(1)),
        ('stderr', ts(150), b'[sudo] password for alice: '),
        ('stdin', ts(2100), b'hunter2\n'),
        ('stdout', ts(3900), b'Restarted postgresql.service\n'),
        ('reverse-request', ts(3901), bytes([98]) + u32(1) + s(b'exit-status') + b'\x00' + u32(0)),
        ('reverse-request', ts(3902), bytes([98]) + u32(1) + s(b'eow@openssh.com') + b'\x00'),
    ]
    tcp_ev = [
        ('forward-new-channel-request', ts(5000), bytes([90]) + s(b'direct-tcpip') + u32(2) + u32(2097152) + u32(32768) + s(b'db.internal') + u32(5432) + s(b'127.0.0.1') + u32(50000)),
        ('reverse-new-channel-reply', ts(5001), bytes([91]) + u32(2) + u32(2) + u32(2097152) + u32(32768)),
        ('stdin', ts(5002), b'\x00\x00\x00\x08\x04\xd2\x16/'),
        ('stdout', ts(5003), b'N'),
        ('forward-global-request', ts(5004), bytes([80]) + s(b'tcpip-forward') + b'\x01' + s(b'0.0.0.0') + u32(0)),
        ('reverse-global-reply', ts(5005), bytes([81]) + u32(40123)),
    ]
    streams = lambda ev: {k: sum(len(p) for kind, _, p in ev if kind == k) for k in ('stdin', 'stdout', 'stderr')}
    def meta(tampered):
        chans = []
        for cid, kind, ev in (('0', 'shell', shell), ('1', 'exec', exec_ev), ('2', 'direct-tcpip', tcp_ev)):
            b = streams(ev)
            c2s, s2c = b['stdin'], b['stdout'] + b['stderr']
            status = 'OK'
            if tampered and cid == '0':
                c2s += 7
                s2c -= 1
                status = 'UNCLEAN_CLOSE'
            chans.append({'id': cid, 'type': kind, 'bytes_client_to_server': c2s, 'bytes_server_to_client': s2c,
                          'protocol_file': {'id': '7c9e6679-7425-40de-944b-e07fc1f90ae%s' % cid, 'name': 'trail', 'offset': 0, 'direction': 1,
                                            'open_time': '2023-06-07T17:32:00Z', 'close_time': '2023-06-07T17:40:06Z', 'payload_size': 0, 'closed': True, 'status': status}})
        return {
            'id': conn_id, 'proxy_id': 'eef4aefc-d64e-4c2c-aba4-4914c86ce059', 'type': 'SSH', 'authentication_method': ['PASSWORD', 'MFA'],
            'user_data': {'id': '5bf77342-221c-11ee-be56-0242ac120002', 'display_name': 'alice@example.com'},
            'target_host_data': {'id': '6a1e0b0c-0f2e-4d7e-9a51-0c1d2e3f4a5b', 'common_name': 'db-prod-01'},
            'target_host_address': '10.20.30.40', 'target_host_account': 'alice', 'remote_address': '203.0.113.9',
            'connected': '2023-06-07T17:32:00Z', 'disconnected': '2023-06-07T17:40:06Z', 'status': 'DISCONNECTED',
            'audit_enabled': True, 'trail': {'connection_id': conn_id, 'protocol': 'SSH', 'channels': chans},
            'tags': ['prod', 'db'], 'a_field_from_a_newer_api': {'ignored': [1, 2]},
        }
    for folder, tampered in (('conn', False), ('conn-tampered', True)):
        d = os.path.join(folder, conn_id)
        os.makedirs(os.path.join(HERE, d), exist_ok=True)
        write(os.path.join(d, 'connection.json'), json.dumps(meta(tampered), indent=2) + '\n')
        write(os.path.join(d, '0.jsonl'), ''.join(jsonl_line(*e) for e in shell))
        write(os.path.join(d, '1.jsonl'), ''.join(jsonl_line(*e) for e in exec_ev))
        write(os.path.join(d, '2.hex'), ''.join(hex_line(*e) for e in tcp_ev))


if __name__ == '__main__':
    main()
    connection_fixture()
