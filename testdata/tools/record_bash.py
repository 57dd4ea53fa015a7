#!/usr/bin/env python3
"""Record a real interactive bash under a Linux pty as an SSH trail log.

A scenario is a list of steps, each a run of keystrokes typed like a human
(one write per key, 40-150 ms apart) into `bash --noprofile --rcfile RC -i`
running in a fresh pty. Every chunk read from the pty master is recorded as a
`stdout` event and every chunk written as a `stdin` event, with wall-clock
times. The SSH layer around the channel (CHANNEL_OPEN, OPEN_CONFIRMATION,
pty-req, env, shell, their replies, exit-status, eow@openssh.com) is
synthesized in the wire format a gateway records (docs/FORMAT.md section 6):
there is no SSH connection. The ground truth is bash's own history file.

Writes OUT/<connection_id>/{0.jsonl,connection.json,truth.json}.

    python3 testdata/tools/record_bash.py --scenario b-readline-edit --out testdata/realbash
    python3 testdata/tools/record_bash.py --list
    python3 testdata/tools/record_bash.py --out testdata/realbash --replace   # all

OUT/index.json gets (or has replaced) an entry per scenario recorded.

Python 3 standard library only.
"""

import argparse
import base64
import datetime
import fcntl
import hashlib
import json
import os
import random
import re
import select
import shutil
import signal
import struct
import subprocess
import sys
import tempfile
import termios
import time
import uuid

USER = "trailuser"
HOST = "vm"
PS1 = (r"\[\e]0;trailuser@vm: \w\a\]\[\e[01;32m\]trailuser@vm\[\e[00m\]:"
       r"\[\e[01;34m\]\w\[\e[00m\]$ ")
PROMPT_END = b"\x1b[00m$ "
NS = uuid.UUID("6a0b5f8e-3f51-4c47-9a57-2f1d3c0b7e11")  # for the stable fake ids

# ---------------------------------------------------------------------------
# keys

NAMED = {
    "Enter": b"\r", "Tab": b"\t", "BS": b"\x7f", "Esc": b"\x1b",
    "Up": b"\x1b[A", "Down": b"\x1b[B", "Right": b"\x1b[C", "Left": b"\x1b[D",
    "Home": b"\x1b[H", "End": b"\x1b[F", "Del": b"\x1b[3~", "Space": b" ",
}


def parse_keys(spec):
    """'echo hi{C-a}{M-f}{Enter}' -> list of (bytes, name). '{{' is a '{';
    a '}' outside a key name is itself."""
    out = []
    i = 0
    while i < len(spec):
        c = spec[i]
        if c == "{":
            if spec.startswith("{{", i):
                out.append((b"{", None))
                i += 2
                continue
            j = spec.index("}", i)
            name = spec[i + 1:j]
            if name in NAMED:
                out.append((NAMED[name], name))
            elif re.fullmatch(r"C-[a-z@\[\\\]^_]", name):
                out.append((bytes([ord(name[2].upper()) & 0x1F]), name))
            elif re.fullmatch(r"M-.", name):
                out.append((b"\x1b" + name[2].encode(), name))
            else:
                raise ValueError("unknown key {%s}" % name)
            i = j + 1
        else:
            out.append((c.encode(), None))
            i += 1
    return out


def spell(keys):
    """Spell keystrokes out: text in quotes, control keys named."""
    parts, text = [], ""
    for data, name in keys:
        if name is None:
            text += data.decode()
        else:
            if text:
                parts.append(json.dumps(text))
                text = ""
            parts.append(name)
    if text:
        parts.append(json.dumps(text))
    return " ".join(parts)


# ---------------------------------------------------------------------------
# scenarios


def S(keys, expect=None, wait="prompt", note=None, abandoned=None,
      secret_prompt=None, secret=None, pause=None, history=None):
    """One step. expect: the command bash runs, None if nothing runs.
    history: the entry the step leaves in bash's history when it is not
    `expect` (a line that never ran). wait: 'prompt', 'quiet', ('quiet', s),
    ('text', s) or 'exit'.
    """
    if history is None:
        history = expect
    return dict(keys=keys, expect=expect, history=history, wait=wait, note=note,
                abandoned=abandoned, secret_prompt=secret_prompt,
                secret=secret, pause=pause)


SCENARIOS = {}


def scenario(name, cols, rows, description):
    def deco(fn):
        SCENARIOS[name] = dict(name=name, cols=cols, rows=rows,
                               description=description, steps=fn)
        return fn
    return deco


@scenario("b-readline-edit", 80, 24,
          "readline editing: Left + C-t transpose, M-b M-b M-d kill word + retype, "
          "C-w + C-a M-f + C-y yank + C-e BS, M-b x3 C-k + BS, Backspace in the "
          "middle, C-a insert at start, M-f M-f then C-k")
def _readline_edit():
    return [
        S("echo hello wrold{Left}{Left}{Left}{C-t}{Enter}", "echo hello world",
          note="C-t with the cursor on 'o' of 'wrold' swaps 'r' and 'o'"),
        S("echo alpha beta gamma{M-b}{M-b}{M-d}delta{C-e} end{Enter}",
          "echo alpha delta gamma end",
          note="M-b twice goes to 'beta', M-d kills 'beta', 'delta' is typed "
               "there, C-e goes to the end"),
        S("echo one two three{C-w}{C-a}{M-f} {C-y}{C-e}{BS}{Enter}",
          "echo three one two",
          note="C-w kills 'three', C-a M-f goes after 'echo', a space and C-y "
               "yank 'three' there, C-e BS removes the space C-w left"),
        S("echo keep this; echo drop this{M-b}{M-b}{M-b}{C-k}{BS}{BS}{Enter}",
          "echo keep this",
          note="M-b x3 goes to the second 'echo', C-k kills 'echo drop this', "
               "BS BS removes '; '"),
        S("echo abXcd{Left}{Left}{BS}{Enter}", "echo abcd",
          note="Backspace in the middle deletes the 'X'"),
        S("cho start{C-a}e{Enter}", "echo start",
          note="C-a then 'e' inserted at the start"),
        S("echo first second third{C-a}{M-f}{M-f}{C-k}{Enter}", "echo first",
          note="C-a M-f M-f goes after 'first', C-k kills ' second third'"),
        S("exit{Enter}", "exit", wait="exit"),
    ]


@scenario("b-reverse-search", 80, 24,
          "reverse-i-search: C-r + text + Enter (accept and run), C-r + text + "
          "Right then C-e and edit, C-r then C-g (cancel) and a new command, "
          "C-r pressed twice, Up-arrow recall then edit")
def _reverse_search():
    return [
        S("echo first-command{Enter}", "echo first-command"),
        S("printf 'search target %d\\n' 42{Enter}", "printf 'search target %d\\n' 42"),
        S("echo second-command{Enter}", "echo second-command"),
        S("uname -s{Enter}", "uname -s"),
        S("{C-r}first{Enter}", "echo first-command",
          note="C-r 'first' finds 'echo first-command'; Enter accepts and runs it"),
        S("{C-r}search t{Right}{C-e} 7{Enter}", "printf 'search target %d\\n' 42 7",
          note="C-r 'search t' finds the printf; Right leaves the search (cursor "
               "moves one right), C-e goes to the end, ' 7' is appended"),
        S("{C-r}una{C-g}", None, wait="quiet",
          note="C-r 'una' finds 'uname -s'; C-g cancels the search and restores "
               "the empty line", abandoned=""),
        S("echo after-cancel{Enter}", "echo after-cancel"),
        S("{Up}{Up}{BS}8{Enter}", "printf 'search target %d\\n' 42 8",
          note="Up twice recalls the printf with 42 7; BS and '8' replace the 7"),
        S("{C-r}echo{C-r}{C-r}{Enter}", "echo second-command",
          note="C-r 'echo' first finds 'echo after-cancel'; C-r again goes to the "
               "older 'echo first-command', a third C-r to 'echo second-command'"),
        S("{Up}{C-a}{M-f}{C-k} edited-after-up{Enter}", "echo edited-after-up",
          note="Up recalls 'echo second-command', C-a M-f goes after 'echo', C-k "
               "kills the rest, ' edited-after-up' is typed"),
        S("exit{Enter}", "exit", wait="exit"),
    ]


@scenario("b-long-lines", 40, 12,
          "narrow 40x12 terminal: commands of 60-150 characters wrapping over "
          "2-4 rows, one edited in the middle after wrapping (C-a, M-f x4, "
          "insert), backspacing across a row boundary, and typing at the bottom "
          "row so the screen scrolls while typing")
def _long_lines():
    return [
        S("echo The quick brown fox jumps over the lazy dog and keeps on running{Enter}",
          "echo The quick brown fox jumps over the lazy dog and keeps on running"),
        S("printf '%s\\n' alpha bravo charlie delta echo foxtrot golf hotel india "
          "juliett kilo lima mike november oscar papa quebec romeo sierra{Enter}",
          "printf '%s\\n' alpha bravo charlie delta echo foxtrot golf hotel india "
          "juliett kilo lima mike november oscar papa quebec romeo sierra",
          note="150 characters after the 16-column prompt: wraps over 5 rows of 40"),
        S("echo one two three four five six seven eight nine ten eleven twelve"
          "{C-a}{M-f}{M-f}{M-f}{M-f} INSERTED{Enter}",
          "echo one two three INSERTED four five six seven eight nine ten eleven twelve",
          note="the line wraps, then C-a and M-f x4 go after 'three' (first row) "
               "and ' INSERTED' is inserted there, pushing the rest across the wrap"),
        S("echo abcdefghijklmnopqrstuvwxyz{BS}{BS}{BS}{BS}{BS}{BS}{BS}{BS}{BS}"
          "RSTUVWXYZ{Enter}",
          "echo abcdefghijklmnopqRSTUVWXYZ",
          note="the 16-column prompt leaves 24 columns: the row ends after 's'; "
               "BS x9 deletes 'rstuvwxyz', going back across the row boundary, "
               "and 'RSTUVWXYZ' is typed instead"),
        S("seq 1 12{Enter}", "seq 1 12", note="fills the screen: the prompt is on the bottom row"),
        S("echo scrolling while typing on the bottom row of a narrow terminal window{Enter}",
          "echo scrolling while typing on the bottom row of a narrow terminal window",
          note="typed on the bottom row: each wrap scrolls the screen up"),
        S("exit{Enter}", "exit", wait="exit"),
    ]


@scenario("b-tab-completion", 80, 24,
          "tab completion: unique file name (cat rea<Tab>), ambiguous (ls rep<Tab>"
          " completes the prefix, <Tab> rings the bell, a third <Tab> lists the "
          "candidates and redraws the prompt, then 5<Tab>), a "
          "directory (cd proj<Tab>), command names (unam<Tab>, hist<Tab>)")
def _tab_completion():
    return [
        S("touch report-2024.txt report-2025.txt readme.md{Enter}",
          "touch report-2024.txt report-2025.txt readme.md"),
        S("echo 'read me first' > readme.md{Enter}", "echo 'read me first' > readme.md"),
        S("mkdir projects{Enter}", "mkdir projects"),
        S("cat rea{Tab}", None, wait="quiet",
          note="Tab completes the unique 'readme.md' and adds a space"),
        S("{Enter}", "cat readme.md ", note="bash runs 'cat readme.md ' (completion's space)"),
        S("ls rep{Tab}", None, wait="quiet",
          note="first Tab completes the common prefix 'report-202' and rings the "
               "bell (ambiguous)"),
        S("{Tab}", None, wait="quiet",
          note="second Tab: only the bell. readline lists the candidates on a "
               "repeated Tab only when the previous Tab did not change the line"),
        S("{Tab}", None, wait="quiet",
          note="third Tab lists report-2024.txt report-2025.txt and redraws the "
               "prompt with 'ls report-202'"),
        S("5{Tab}", None, wait="quiet", note="'5' then Tab completes 'report-2025.txt '"),
        S(" -l{BS}{BS}{BS}{Enter}", "ls report-2025.txt ",
          note="' -l' typed and removed again with BS x3"),
        S("cd proj{Tab}", None, wait="quiet", note="directory completion adds '/', no space"),
        S("{Enter}", "cd projects/", note="the prompt and title change to ~/projects"),
        S("cd{Enter}", "cd"),
        S("unam{Tab}", None, wait="quiet", note="command-name completion: 'uname '"),
        S("-s{Enter}", "uname -s"),
        S("hist{Tab}", None, wait="quiet", note="command-name completion: 'history '"),
        S("| tail -3{Enter}", "history | tail -3"),
        S("exit{Enter}", "exit", wait="exit"),
    ]


@scenario("b-history-expansion", 80, 24,
          "history expansion: !!, echo !$, !-2, ^two^TWO, !ec; bash prints each "
          "expanded command before running it and keeps the expanded form")
def _history_expansion():
    return [
        S("echo one two three{Enter}", "echo one two three"),
        S("!!{Enter}", "echo one two three", note="typed '!!'"),
        S("echo !${Enter}", "echo three", note="typed 'echo !$'"),
        S("!-2{Enter}", "echo one two three", note="typed '!-2'"),
        S("^two^TWO{Enter}", "echo one TWO three", note="typed '^two^TWO'"),
        S("!ec{Enter}", "echo one TWO three", note="typed '!ec'"),
        S("echo done: !!:2{Enter}", "echo done: TWO", note="typed 'echo done: !!:2'"),
        S("exit{Enter}", "exit", wait="exit"),
    ]


@scenario("b-abandoned", 80, 24,
          "abandoned lines: C-c on a partial line, C-u then another command, C-d "
          "inside a line (deletes the character under the cursor) and at its "
          "end (nothing), trailing spaces, leading spaces, a multi-line quote "
          "abandoned with C-c at the PS2 prompt; ends with exit 3")
def _abandoned():
    return [
        S("echo never-run-this{C-c}", None,
          note="C-c abandons the line; bash prints ^C and a new prompt",
          abandoned="echo never-run-this"),
        S("rm -rf ./nothing-here{C-u}echo after-ctrl-u{Enter}", "echo after-ctrl-u",
          note="C-u kills 'rm -rf ./nothing-here' (never run), then a different "
               "command is typed", abandoned="rm -rf ./nothing-here"),
        S("echo abcdef{Left}{Left}{Left}{C-d}{C-e}{C-d}{Enter}", "echo abcef",
          note="Left x3 puts the cursor on 'd', C-d deletes it; C-e then C-d at "
               "the end of a non-empty line changes nothing (readline rings the "
               "bell: a BEL in the output)"),
        S("echo trailing  {Enter}", "echo trailing  ", note="two trailing spaces"),
        S("   echo leading{Enter}", "   echo leading", note="three leading spaces"),
        S("echo 'unterminated{Enter}", None, wait="quiet",
          history="echo 'unterminated",
          note="an open quote: bash shows the PS2 prompt '> '. bash has already "
               "put this first line in its history, and it stays there although "
               "the command never runs"),
        S("still in the quote{C-c}", None,
          note="C-c at the PS2 prompt abandons the whole command (nothing runs)",
          abandoned="echo 'unterminated\nstill in the quote"),
        S("echo visible-after-abandon{Enter}", "echo visible-after-abandon"),
        S("exit 3{Enter}", "exit 3", wait="exit"),
    ]


@scenario("b-secrets", 80, 24,
          "secrets at no-echo prompts: read -rsp 'Password: ', a python3 getpass "
          "'Passphrase for key: ', read -rsp 'Enter PIN: ', stty -echo; read x "
          "(no prompt text), then ordinary commands")
def _secrets():
    return [
        S("read -rsp 'Password: ' PW; echo{Enter}", "read -rsp 'Password: ' PW; echo",
          wait=("text", "Password: ")),
        S("hunter2-fake{Enter}", None, secret_prompt="Password: ",
          secret="hunter2-fake", note="typed at the echo-off prompt"),
        S("python3 -c 'import getpass; p = getpass.getpass(\"Passphrase for key: \"); "
          "print(len(p))'{Enter}",
          "python3 -c 'import getpass; p = getpass.getpass(\"Passphrase for key: \"); "
          "print(len(p))'",
          wait=("text", "Passphrase for key: ")),
        S("correct horse battery staple (fake){Enter}", None,
          secret_prompt="Passphrase for key: ",
          secret="correct horse battery staple (fake)",
          note="typed at getpass's prompt (written to /dev/tty, echo off)"),
        S("read -rsp 'Enter PIN: ' P{Enter}", "read -rsp 'Enter PIN: ' P",
          wait=("text", "Enter PIN: ")),
        S("4921{Enter}", None, secret_prompt="Enter PIN: ", secret="4921",
          note="read -s does not echo the Enter either: the next prompt follows "
               "'Enter PIN: ' on the same row"),
        S("stty -echo; read x; stty echo{Enter}", "stty -echo; read x; stty echo",
          wait="quiet"),
        S("no-prompt-secret-fake{Enter}", None, secret_prompt="",
          secret="no-prompt-secret-fake",
          note="typed with echo off and no prompt text"),
        S("echo \"lengths ${{#PW} ${{#P} ${{#x}\"{Enter}",
          "echo \"lengths ${#PW} ${#P} ${#x}\""),
        S("echo visible-after-secrets{Enter}", "echo visible-after-secrets"),
        S("exit{Enter}", "exit", wait="exit"),
    ]


@scenario("b-vim", 80, 24,
          "full-screen programs: vim writing three lines (:wq), cat of the file, "
          "top -b -n 1 | head -3, less on a 100-line file (Space, q)")
def _vim():
    return [
        S("vim notes.txt{Enter}", "vim notes.txt", wait=("quiet", 1.5)),
        S("i", None, wait="quiet", note="vim: insert mode"),
        S("first line typed in vim{Enter}second line{Enter}third line, the last"
          "{Esc}", None, wait="quiet", pause=0.6,
          note="three lines typed in vim's insert mode, then Esc"),
        S(":wq{Enter}", None, note="vim: write and quit"),
        S("cat notes.txt{Enter}", "cat notes.txt"),
        S("top -b -n 1 | head -3{Enter}", "top -b -n 1 | head -3", wait=("quiet", 1.0)),
        S("seq 1 100 > numbers.txt{Enter}", "seq 1 100 > numbers.txt"),
        S("less numbers.txt{Enter}", "less numbers.txt", wait=("quiet", 0.8)),
        S(" ", None, wait="quiet", note="less: Space shows the next page"),
        S("q", None, note="less: q quits"),
        S("wc -l notes.txt numbers.txt{Enter}", "wc -l notes.txt numbers.txt"),
        S("exit{Enter}", "exit", wait="exit"),
    ]


# ---------------------------------------------------------------------------
# a terminal: cursor tracking and answers to queries (like an xterm)


class Terminal:
    """Tracks the cursor (enough to answer CSI 6n) and answers the queries
    full-screen programs send, as the client's terminal would."""

    def __init__(self, cols, rows):
        self.cols, self.rows = cols, rows
        self.r, self.c = 1, 1
        self.pending_wrap = False
        self.top, self.bottom = 1, rows
        self.saved = (1, 1)
        self.state = "ground"
        self.buf = bytearray()
        self.answers = []
        self.unanswered = []

    def feed(self, data):
        out = []
        for b in data:
            self._byte(b, out)
        return out

    def _lf(self):
        if self.r == self.bottom:
            pass  # scroll
        elif self.r < self.rows:
            self.r += 1

    def _byte(self, b, out):
        st = self.state
        if st == "ground":
            if b == 0x1B:
                self.state, self.buf = "esc", bytearray()
            elif b == 0x0D:
                self.c, self.pending_wrap = 1, False
            elif b in (0x0A, 0x0B, 0x0C):
                self._lf()
                self.pending_wrap = False
            elif b == 0x08:
                if self.c > 1:
                    self.c -= 1
                self.pending_wrap = False
            elif b == 0x09:
                self.c = min(self.cols, (self.c - 1) // 8 * 8 + 9)
            elif b < 0x20 or b == 0x7F or 0x80 <= b <= 0xBF:
                pass  # controls; UTF-8 continuation bytes take no column
            else:
                if self.pending_wrap:
                    self.c = 1
                    self._lf()
                    self.pending_wrap = False
                if self.c == self.cols:
                    self.pending_wrap = True
                else:
                    self.c += 1
        elif st == "esc":
            if b == ord("["):
                self.state = "csi"
            elif b == ord("]"):
                self.state = "osc"
            elif b == ord("P"):
                self.state = "dcs"
            elif b in b"()*+#%":
                self.state = "esc2"
            else:
                self.state = "ground"
                if b == ord("7"):
                    self.saved = (self.r, self.c)
                elif b == ord("8"):
                    self.r, self.c = self.saved
                elif b == ord("D"):
                    self._lf()
                elif b == ord("E"):
                    self.c = 1
                    self._lf()
                elif b == ord("M"):
                    if self.r > self.top:
                        self.r -= 1
                elif b == ord("c"):
                    self.r, self.c = 1, 1
        elif st == "esc2":
            self.state = "ground"
        elif st == "csi":
            self.buf.append(b)
            if 0x40 <= b <= 0x7E:
                self.state = "ground"
                self._csi(bytes(self.buf), out)
        elif st in ("osc", "dcs"):
            if b == 0x07 and st == "osc":
                self.state = "ground"
                self._string(st, bytes(self.buf), b"\x07", out)
            elif b == 0x1B:
                self.state = st + "_esc"
            else:
                self.buf.append(b)
        elif st in ("osc_esc", "dcs_esc"):
            kind = st[:3]
            if b == ord("\\"):
                self.state = "ground"
                self._string(kind, bytes(self.buf), b"\x1b\\", out)
            else:
                self.buf += b"\x1b" + bytes([b])
                self.state = kind

    def _csi(self, seq, out):
        final = chr(seq[-1])
        body = seq[:-1].decode("latin-1")
        priv = ""
        while body and body[0] in "?>=<":
            priv += body[0]
            body = body[1:]
        inter = ""
        while body and body[-1] in " !\"#$%&'()*+,-./":
            inter = body[-1] + inter
            body = body[:-1]
        try:
            ps = [int(p) if p else 0 for p in body.split(";")] if body else []
        except ValueError:
            ps = []

        def p(i, d=1):
            return ps[i] if len(ps) > i and ps[i] else d
        self.pending_wrap = False if final in "HfABCDEFGdr" else self.pending_wrap
        if priv == "" and inter == "":
            if final in "Hf":
                self.r, self.c = min(p(0), self.rows), min(p(1), self.cols)
            elif final == "A":
                self.r = max(1, self.r - p(0))
            elif final == "B":
                self.r = min(self.rows, self.r + p(0))
            elif final == "C":
                self.c = min(self.cols, self.c + p(0))
            elif final == "D":
                self.c = max(1, self.c - p(0))
            elif final == "E":
                self.r, self.c = min(self.rows, self.r + p(0)), 1
            elif final == "F":
                self.r, self.c = max(1, self.r - p(0)), 1
            elif final == "G":
                self.c = min(self.cols, p(0))
            elif final == "d":
                self.r = min(self.rows, p(0))
            elif final == "r":
                self.top, self.bottom = p(0), p(1, self.rows)
                self.r, self.c = 1, 1
            elif final == "s":
                self.saved = (self.r, self.c)
            elif final == "u":
                self.r, self.c = self.saved
            elif final == "n" and p(0, 0) == 6:
                out.append((b"[" + seq, b"\x1b[%d;%dR" % (self.r, self.c)))
            elif final == "n" and p(0, 0) == 5:
                out.append((b"[" + seq, b"\x1b[0n"))
            elif final == "c" and p(0, 0) == 0:
                out.append((b"[" + seq, b"\x1b[?64;1;2;6;9;15;18;21;22c"))
            elif final == "t" and p(0, 0) == 18:
                out.append((b"[" + seq, b"\x1b[8;%d;%dt" % (self.rows, self.cols)))
        elif priv == ">" and final == "c" and p(0, 0) == 0:
            out.append((b"[" + seq, b"\x1b[>41;379;0c"))
        elif priv == "?" and inter == "$" and final == "p":
            out.append((b"[" + seq, b"\x1b[?%d;2$y" % p(0, 0)))
        elif priv == "?" and final in "hl":
            if 1049 in ps or 47 in ps or 1047 in ps:
                if final == "h":
                    self.saved_alt = (self.r, self.c)
                elif hasattr(self, "saved_alt"):
                    self.r, self.c = self.saved_alt
        elif priv == "?" and final == "u" and not ps:
            self.unanswered.append(b"\x1b[" + seq)
        elif final in "nc" or (inter and final in "pq"):
            self.unanswered.append(b"\x1b[" + seq)

    def _string(self, kind, body, term, out):
        if kind == "osc":
            m = re.fullmatch(rb"(1[0-2]);\?", body)
            if m:
                colour = {b"10": b"rgb:0000/0000/0000", b"11": b"rgb:ffff/ffff/ffff",
                          b"12": b"rgb:0000/0000/0000"}[m.group(1)]
                out.append((b"]" + body + term, b"\x1b]" + m.group(1) + b";" + colour + term))
            elif body.endswith(b"?"):
                self.unanswered.append(b"\x1b]" + body + term)
        else:
            if body == b"$q q":
                out.append((b"P" + body + term, b"\x1bP1$r2 q\x1b\\"))
            elif body.startswith(b"$q"):
                out.append((b"P" + body + term, b"\x1bP0$r\x1b\\"))  # DECRQSS: not recognised
            elif body.startswith(b"+q"):
                # XTGETTCAP: left unanswered, as the terminal of the realtrail
                # recordings did (vim goes on without the answers)
                self.unanswered.append(b"\x1bP" + body + term)


# ---------------------------------------------------------------------------
# SSH wire format (docs/FORMAT.md section 6, layout 1)


def u32(n):
    return struct.pack(">I", n)


def sstr(b):
    if isinstance(b, str):
        b = b.encode()
    return u32(len(b)) + b


def channel_request(recipient, name, want_reply, fields=b""):
    return bytes([98]) + u32(recipient) + sstr(name) + bytes([1 if want_reply else 0]) + fields


# RFC 4254 section 8 opcodes, in the order the OpenSSH client writes them
CC_OPS = [(1, "VINTR"), (2, "VQUIT"), (3, "VERASE"), (4, "VKILL"), (5, "VEOF"),
          (6, "VEOL"), (7, "VEOL2"), (8, "VSTART"), (9, "VSTOP"), (10, "VSUSP"),
          (12, "VREPRINT"), (13, "VWERASE"), (14, "VLNEXT"), (18, "VDISCARD")]
FLAG_OPS = [(30, "iflag", "IGNPAR"), (31, "iflag", "PARMRK"), (32, "iflag", "INPCK"),
            (33, "iflag", "ISTRIP"), (34, "iflag", "INLCR"), (35, "iflag", "IGNCR"),
            (36, "iflag", "ICRNL"), (37, "iflag", "IUCLC"), (38, "iflag", "IXON"),
            (39, "iflag", "IXANY"), (40, "iflag", "IXOFF"), (41, "iflag", "IMAXBEL"),
            (42, "iflag", "IUTF8"),
            (50, "lflag", "ISIG"), (51, "lflag", "ICANON"), (52, "lflag", "XCASE"),
            (53, "lflag", "ECHO"), (54, "lflag", "ECHOE"), (55, "lflag", "ECHOK"),
            (56, "lflag", "ECHONL"), (57, "lflag", "NOFLSH"), (58, "lflag", "TOSTOP"),
            (59, "lflag", "IEXTEN"), (60, "lflag", "ECHOCTL"), (61, "lflag", "ECHOKE"),
            (62, "lflag", "PENDIN"),
            (70, "oflag", "OPOST"), (71, "oflag", "OLCUC"), (72, "oflag", "ONLCR"),
            (73, "oflag", "OCRNL"), (74, "oflag", "ONOCR"), (75, "oflag", "ONLRET"),
            (90, "cflag", "CS7"), (91, "cflag", "CS8"), (92, "cflag", "PARENB"),
            (93, "cflag", "PARODD")]
FIELD = {"iflag": 0, "oflag": 1, "cflag": 2, "lflag": 3}
IUTF8 = getattr(termios, "IUTF8", 0o40000)  # Linux; not in every Python's termios
SPEEDS = {getattr(termios, "B%d" % s): s for s in
          (0, 50, 75, 110, 134, 150, 200, 300, 600, 1200, 1800, 2400, 4800, 9600,
           19200, 38400, 57600, 115200, 230400)}


def setup_termios(fd):
    """What sshd does with the client's pty-req modes: a client terminal in its
    usual cooked state (Linux defaults, UTF-8)."""
    a = termios.tcgetattr(fd)
    a[0] = termios.ICRNL | termios.IXON | termios.IMAXBEL | IUTF8
    a[1] = termios.OPOST | termios.ONLCR
    a[2] = termios.CS8 | termios.CREAD | termios.B38400
    a[3] = (termios.ISIG | termios.ICANON | termios.ECHO | termios.ECHOE | termios.ECHOK
            | termios.IEXTEN | termios.ECHOCTL | termios.ECHOKE)
    a[4] = a[5] = termios.B38400
    cc = a[6]
    for name, val in (("VINTR", 3), ("VQUIT", 28), ("VERASE", 127), ("VKILL", 21),
                      ("VEOF", 4), ("VEOL", 0), ("VEOL2", 0), ("VSTART", 17),
                      ("VSTOP", 19), ("VSUSP", 26), ("VREPRINT", 18), ("VWERASE", 23),
                      ("VLNEXT", 22), ("VDISCARD", 15), ("VMIN", 1), ("VTIME", 0)):
        cc[getattr(termios, name)] = bytes([val])
    termios.tcsetattr(fd, termios.TCSANOW, a)


def encode_modes(fd):
    """The pty-req terminal modes of the pty's termios (as OpenSSH encodes a
    terminal: OSPEED, ISPEED, the special characters (0 = disabled -> 255),
    then the flags)."""
    a = termios.tcgetattr(fd)
    modes = [(129, SPEEDS.get(a[5], 38400)), (128, SPEEDS.get(a[4], 38400))]
    for op, name in CC_OPS:
        v = a[6][getattr(termios, name)]
        v = v[0] if isinstance(v, bytes) else v
        modes.append((op, 255 if v == 0 else v))
    for op, field, name in FLAG_OPS:
        if name in ("CS7", "CS8"):
            v = 1 if (a[FIELD[field]] & termios.CSIZE) == getattr(termios, name) else 0
        else:
            bit = IUTF8 if name == "IUTF8" else getattr(termios, name)
            v = 1 if a[FIELD[field]] & bit else 0
        modes.append((op, v))
    blob = b"".join(bytes([op]) + u32(v) for op, v in modes) + b"\x00"
    return modes, blob


# ---------------------------------------------------------------------------
# the recorder


def rfc3339(t):
    return datetime.datetime.fromtimestamp(t, datetime.timezone.utc).strftime(
        "%Y-%m-%dT%H:%M:%S.%fZ")


class Recorder:
    def __init__(self, fd, term, rng):
        self.fd = fd
        self.term = term
        self.rng = rng
        self.events = []           # (type, t, bytes)
        self.out = bytearray()     # everything read
        self.last_read = time.time()
        self.eof = False
        self.responses = []
        self.typed = bytearray()   # keystrokes (not terminal answers)
        self.keystrokes = 0

    def event(self, typ, data, t=None):
        self.events.append((typ, time.time() if t is None else t, bytes(data)))

    def _write(self, data):
        self.event("stdin", data)
        os.write(self.fd, data)

    def key(self, data):
        self.keystrokes += 1
        self.typed += data
        self._write(data)

    def pump(self, timeout):
        """Read whatever comes for `timeout` seconds."""
        deadline = time.time() + timeout
        while not self.eof:
            left = deadline - time.time()
            if left <= 0:
                break
            r, _, _ = select.select([self.fd], [], [], left)
            if not r:
                break
            try:
                data = os.read(self.fd, 4096)
            except OSError:
                data = b""
            now = time.time()
            if not data:
                self.eof = True
                break
            self.event("stdout", data, now)
            self.out += data
            self.last_read = now
            for query, answer in self.term.feed(data):
                time.sleep(0.0005)
                self._write(answer)
                self.responses.append({
                    "query": "\x1b" + query.decode("latin-1"),
                    "response": answer.decode("latin-1"),
                    "ts": rfc3339(self.events[-1][1])})

    def wait(self, cond, quiet=0.3, maxwait=15.0):
        """Pump until cond(output) holds and nothing came for `quiet` s."""
        start = time.time()
        while not self.eof and time.time() - start < maxwait:
            self.pump(0.05)
            if cond() and time.time() - self.last_read >= quiet:
                return True
        return self.eof

    def type_keys(self, keys, pause_before_enter=True):
        for i, (data, name) in enumerate(keys):
            delay = self.rng.uniform(0.04, 0.15)
            if name in ("Enter",) and pause_before_enter:
                delay += self.rng.uniform(0.1, 0.4)
            elif name is not None:
                delay += self.rng.uniform(0.05, 0.25)   # reaching for a chord
            self.pump(delay)
            self.key(data)


def run_scenario(sc, outdir, bash="bash"):
    name, cols, rows = sc["name"], sc["cols"], sc["rows"]
    steps = sc["steps"]()
    rng = random.Random(name)
    conn_id = str(uuid.uuid4())
    tmp = tempfile.mkdtemp(prefix="realbash-")
    home = os.path.join(tmp, USER)
    os.mkdir(home)
    histfile = os.path.join(home, ".bash_history")
    rcfile = os.path.join(tmp, "bashrc")
    with open(rcfile, "w") as f:
        f.write(
            "# generated by record_bash.py\n"
            "PS1='%s'\n"
            "HISTFILE=~/.bash_history\n"
            "HISTSIZE=1000\nHISTFILESIZE=2000\n"
            "HISTTIMEFORMAT='%%F %%T '\n"
            "unset HISTCONTROL\n"
            "shopt -s histappend\n"
            "shopt -s checkwinsize\n"
            "PROMPT_COMMAND='history -a'\n"
            "set -o emacs\n"
            "alias ls='ls --color=auto'\n"
            "alias grep='grep --color=auto'\n" % PS1)
    env = {
        "HOME": home, "USER": USER, "LOGNAME": USER, "SHELL": "/bin/bash",
        "TERM": "xterm-256color", "LANG": "C.UTF-8",
        "PATH": "/usr/local/bin:/usr/bin:/bin:/usr/games",
        "PWD": home, "MAIL": "/var/mail/" + USER,
    }

    t_connect = time.time()
    master, slave = os.openpty()
    setup_termios(slave)
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", rows, cols, 0, 0))
    modes, modes_blob = encode_modes(slave)
    term = Terminal(cols, rows)
    rec = Recorder(master, term, rng)

    # --- synthesized SSH layer: open, pty-req, env, shell
    time.sleep(0.07)
    window, max_packet = 1048576, 16384
    rec.event("forward-new-channel-request",
              bytes([90]) + sstr("session") + u32(0) + u32(window) + u32(max_packet))
    time.sleep(0.0008)
    rec.event("reverse-new-channel-reply", bytes([91]) + u32(0) + u32(0) + u32(0) + u32(32768))
    time.sleep(0.04)
    requests = []
    pty_fields = sstr("xterm-256color") + u32(cols) + u32(rows) + u32(0) + u32(0) + sstr(modes_blob)
    rec.event("forward-request", channel_request(0, "pty-req", True, pty_fields))
    requests.append(["client->server", "pty-req", True, "success", rec.events[-1][1]])
    time.sleep(0.0003)
    rec.event("forward-request", channel_request(0, "env", False, sstr("LANG") + sstr("C.UTF-8")))
    requests.append(["client->server", "env", False, None, rec.events[-1][1]])
    time.sleep(0.0001)
    rec.event("forward-request", channel_request(0, "shell", True))
    requests.append(["client->server", "shell", True, "success", rec.events[-1][1]])
    time.sleep(0.001)
    rec.event("reverse-reply", bytes([99]) + u32(0))
    time.sleep(0.0006)
    rec.event("reverse-reply", bytes([99]) + u32(0))
    t_open = rec.events[0][1]

    pid = os.fork()
    if pid == 0:
        try:
            os.close(master)
            os.setsid()
            fcntl.ioctl(slave, termios.TIOCSCTTY, 0)
            for fd in (0, 1, 2):
                os.dup2(slave, fd)
            if slave > 2:
                os.close(slave)
            os.chdir(home)
            os.execvpe(bash, [bash, "--noprofile", "--rcfile", rcfile, "-i"], env)
        finally:
            os._exit(127)
    os.close(slave)

    notes = []
    secrets = []
    expected = []   # the history the scenario expects
    ran = []        # the commands that run
    try:
        rec.wait(lambda: rec.out.endswith(PROMPT_END), quiet=0.4)
        rec.pump(rng.uniform(0.8, 1.5))
        for i, st in enumerate(steps):
            keys = parse_keys(st["keys"])
            mark = len(rec.out)
            rec.type_keys(keys)
            if st["pause"]:
                rec.pump(st["pause"])
            w = st["wait"]
            if w == "prompt":
                rec.wait(lambda: rec.out[mark:].endswith(PROMPT_END), quiet=0.3)
            elif w == "quiet":
                rec.wait(lambda: True, quiet=0.4)
            elif isinstance(w, tuple) and w[0] == "quiet":
                rec.wait(lambda: True, quiet=w[1])
            elif isinstance(w, tuple) and w[0] == "text":
                needle = w[1].encode()
                rec.wait(lambda: needle in rec.out[mark:], quiet=0.3)
            elif w == "exit":
                rec.wait(lambda: False, maxwait=10)
            # a human looks at the screen before typing on
            rec.pump(rng.uniform(0.3, 0.9))
            note = {"step": i + 1, "typed": spell(keys)}
            if st["expect"] is not None:
                note["expected_command"] = st["expect"]
                ran.append(st["expect"])
            if st["history"] is not None:
                note["history_entry"] = st["history"]
                expected.append(st["history"])
            if st["abandoned"] is not None:
                note["abandoned"] = st["abandoned"]
            if st["secret"] is not None:
                note["secret_typed_at_prompt"] = st["secret_prompt"]
                secrets.append({"prompt": st["secret_prompt"], "secret": st["secret"]})
            if st["note"]:
                note["note"] = st["note"]
            notes.append(note)
        # drain until the pty closes
        rec.wait(lambda: False, maxwait=10)
    finally:
        deadline = time.time() + 5
        status = None
        while time.time() < deadline:
            p, st_ = os.waitpid(pid, os.WNOHANG)
            if p:
                status = st_
                break
            time.sleep(0.05)
        if status is None:
            os.kill(pid, signal.SIGKILL)
            _, status = os.waitpid(pid, 0)
        os.close(master)

    exit_code = os.waitstatus_to_exitcode(status)
    # --- synthesized SSH layer: end of the session (EOF and CLOSE are not trail events)
    t_eof = time.time()
    time.sleep(0.0001)
    if exit_code >= 0:
        rec.event("reverse-request", channel_request(0, "exit-status", False, u32(exit_code)))
        requests.append(["server->client", "exit-status", False, None, rec.events[-1][1]])
    else:
        rec.event("reverse-request", channel_request(
            0, "exit-signal", False, sstr(signal.Signals(-exit_code).name[3:]) + b"\x00"
            + sstr("") + sstr("")))
        requests.append(["server->client", "exit-signal", False, None, rec.events[-1][1]])
    time.sleep(0.0001)
    rec.event("reverse-request", channel_request(0, "eow@openssh.com", False))
    requests.append(["server->client", "eow@openssh.com", False, None, rec.events[-1][1]])
    time.sleep(0.00005)
    t_close_s2c = time.time()
    time.sleep(0.0017)
    t_close_c2s = time.time()
    t_disconnect = t_close_c2s + 0.5

    # --- history (the truth)
    commands = []
    with open(histfile, "rb") as f:
        hist = f.read().decode("utf-8", "replace")
    cur = None
    for line in hist.split("\n")[:-1] if hist.endswith("\n") else hist.split("\n"):
        m = re.fullmatch(r"#(\d+)", line)
        if m:
            cur = {"epoch": int(m.group(1)),
                   "time": datetime.datetime.fromtimestamp(
                       int(m.group(1)), datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
                   "command": None}
            commands.append(cur)
        elif cur is not None:
            cur["command"] = line if cur["command"] is None else cur["command"] + "\n" + line
        else:
            commands.append({"epoch": None, "time": None, "command": line})
    shutil.rmtree(tmp)

    # --- does bash's history agree with the scenario?
    history = [c["command"] for c in commands]
    problems = []
    if history != expected:
        problems.append({"expected": expected, "history": history})
    hi = 0
    for note in notes:
        if "history_entry" in note:
            if hi < len(history) and history[hi] != note["history_entry"]:
                note["history_entry_recorded"] = history[hi]
            if note.get("expected_command") == note["history_entry"]:
                del note["history_entry"]
            hi += 1

    # --- write the files
    cdir = os.path.join(outdir, conn_id)
    os.makedirs(cdir)
    lines = []
    counts = {}
    for typ, t, data in rec.events:
        counts[typ] = counts.get(typ, 0) + 1
        lines.append('{"type":%s,"ts":"%s","data":"%s"}\n' % (
            json.dumps(typ), rfc3339(t), base64.b64encode(data).decode()))
    with open(os.path.join(cdir, "0.jsonl"), "w", newline="\n") as f:
        f.write("".join(lines))
    n_in = sum(len(d) for ty, _, d in rec.events if ty == "stdin")
    n_out = sum(len(d) for ty, _, d in rec.events if ty == "stdout")
    payload = sum(len(d) for _, _, d in rec.events)
    written = b"".join(d for ty, _, d in rec.events if ty == "stdin")
    read = b"".join(d for ty, _, d in rec.events if ty == "stdout")
    assert read == bytes(rec.out)

    def fid(*parts):
        return str(uuid.uuid5(NS, "/".join(parts)))
    user_id, host_id = fid("user", USER), fid("host", HOST)
    dur = int(t_disconnect - t_connect)
    connection = {
        "id": conn_id,
        "proxy_id": fid("proxy", "realbash"),
        "type": "SSH",
        "authentication_method": ["PUBLICKEY"],
        "user_data": {"id": user_id, "display_name": USER + "@realbash.test"},
        "user_roles": [],
        "target_host_data": {"id": host_id, "common_name": "realbash-vm"},
        "target_host_address": "127.0.0.1",
        "target_host_account": USER,
        "target_host_roles": [],
        "remote_address": "127.0.0.1",
        "connected": rfc3339(t_connect),
        "disconnected": rfc3339(t_disconnect),
        "duration": "PT%02d:%02d:%02d" % (dur // 3600, dur // 60 % 60, dur % 60),
        "status": "DISCONNECTED",
        "last_activity": rfc3339(rec.events[-1][1]),
        "bytes_in": n_in,
        "bytes_out": n_out,
        "created": rfc3339(t_connect),
        "updated": rfc3339(t_disconnect),
        "audit_enabled": True,
        "trail": {
            "connection_id": conn_id,
            "host_id": host_id,
            "user_id": user_id,
            "protocol": "SSH",
            "channels": [{
                "id": "0",
                "type": "shell",
                "bytes_client_to_server": n_in,
                "bytes_server_to_client": n_out,
                "protocol_file": {
                    "id": fid("protocol_file", conn_id, "0"),
                    "name": "0.jsonl",
                    "offset": 0,
                    "direction": 0,
                    "open_time": rfc3339(t_open),
                    "close_time": rfc3339(t_close_c2s),
                    "payload_size": payload,
                    "closed": True,
                    "status": "OK",
                },
                "transferred_files": [],
            }],
        },
        "index_status": "NOT_INDEXED",
        "tags": ["realbash", name],
    }
    with open(os.path.join(cdir, "connection.json"), "w") as f:
        json.dump(connection, f, indent=2, ensure_ascii=False)
        f.write("\n")

    bash_version = subprocess.run([bash, "--version"], capture_output=True,
                                  text=True).stdout.splitlines()[0]
    reqs = [{"direction": d, "request": r, "want_reply": w, "reply": rep, "ts": rfc3339(t)}
            for d, r, w, rep, t in requests]
    channel = {
        "id": "0",
        "type": "shell",
        "ssh_channel_type": "session",
        "initiator": "client",
        "client_channel_number": 0,
        "server_channel_number": 0,
        "log_files": {"jsonl": "0.jsonl"},
        "events_total": len(rec.events),
        "event_counts": dict(sorted(counts.items())),
        "bytes": {"stdin": n_in, "stdout": n_out, "stderr": 0},
        "open": {"window": window, "max_packet": max_packet},
        "open_result": "confirmed",
        "open_failure": None,
        "pty": {"term": "xterm-256color", "cols": cols, "rows": rows,
                "width_px": 0, "height_px": 0, "modes": [list(m) for m in modes]},
        "resizes": [],
        "env": [{"name": "LANG", "value": "C.UTF-8"}],
        "exec": None,
        "subsystem": None,
        "shell": True,
        "agent_forwarding_requested": False,
        "signals": [],
        "exit": {"status": exit_code if exit_code >= 0 else None,
                 "signal": signal.Signals(-exit_code).name[3:] if exit_code < 0 else None},
        "exit_status": exit_code if exit_code >= 0 else None,
        "exit_signal": signal.Signals(-exit_code).name[3:] if exit_code < 0 else None,
        "requests": reqs,
        "eof": {"client->server": None, "server->client": rfc3339(t_eof)},
        "close": {"client->server": rfc3339(t_close_c2s),
                  "server->client": rfc3339(t_close_s2c)},
        "commands": commands,
    }
    truth = {
        "scenario": name,
        "description": sc["description"],
        "connection_id": conn_id,
        "recorded_with": {
            "shell": bash_version,
            "driver": "testdata/tools/record_bash.py: a Linux pty, keystrokes scripted",
            "ssh_layer": "synthesized by the recorder (no SSH connection): channel open "
                         "and confirmation, pty-req, env, shell, replies, exit-status, "
                         "eow@openssh.com",
        },
        "connected": rfc3339(t_connect),
        "disconnected": rfc3339(t_disconnect),
        "client": {
            "env_sent": {"LANG": "C.UTF-8"},
            "pty_requested": {"term": "xterm-256color", "cols": cols, "rows": rows},
            "secrets_typed_at_prompts": secrets,
            "terminal": {
                "keystrokes_sent": rec.keystrokes,
                "terminal_responses": rec.responses,
                "queries_not_answered": [q.decode("latin-1") for q in term.unanswered],
                "pty_bytes_written": len(written),
                "pty_written_b64": base64.b64encode(written).decode(),
                "pty_bytes_read": len(read),
                "pty_read_sha256": hashlib.sha256(read).hexdigest(),
            },
        },
        "channels": [channel],
        "commands": commands,
        "expected_commands": ran,
        "notes": notes,
        "history_mismatch": problems or None,
        "byte_accounting": "bytes.stdin/stdout = sum of trail event payload lengths; "
                           "connection.json bytes_client_to_server = bytes_in = stdin, "
                           "bytes_server_to_client = bytes_out = stdout; "
                           "protocol_file.payload_size = sum of all event payloads",
        "environment": "bash --noprofile --rcfile RC -i in a fresh HOME (removed after); "
                       "PS1 with the literal 'trailuser@vm'; HISTFILE=~/.bash_history, "
                       "HISTTIMEFORMAT set, HISTCONTROL unset, histappend, "
                       "PROMPT_COMMAND='history -a'; /etc/bash.bashrc and /etc/inputrc "
                       "(Debian 12) are read as bash always reads them",
        "not_in_trail": "CHANNEL_WINDOW_ADJUST, CHANNEL_EOF and CHANNEL_CLOSE have no "
                        "trail event type; their times are channels[].eof and .close",
    }
    with open(os.path.join(cdir, "truth.json"), "w") as f:
        json.dump(truth, f, indent=2, ensure_ascii=False)
        f.write("\n")
    return conn_id, exit_code, problems


def update_index(outdir, sc, conn_id, exit_code, replace):
    """Add or replace the scenario's entry in OUT/index.json."""
    path = os.path.join(outdir, "index.json")
    if os.path.exists(path):
        with open(path) as f:
            index = json.load(f)
    else:
        index = {
            "generator": "testdata/tools/record_bash.py: real bash under a Linux pty, "
                         "scripted keystrokes, synthesized SSH layer",
            "layout": "<connection_id>/{0.jsonl,connection.json,truth.json}",
            "connections": [],
        }
    entry = {
        "scenario": sc["name"],
        "connection_id": conn_id,
        "size": "%dx%d" % (sc["cols"], sc["rows"]),
        "channels": [{"id": "0", "type": "shell"}],
        "exit_status": exit_code,
        "description": sc["description"],
    }
    conns = index["connections"]
    for i, e in enumerate(conns):
        if e["scenario"] == sc["name"]:
            old = os.path.join(outdir, e["connection_id"])
            if os.path.isdir(old) and e["connection_id"] != conn_id:
                if replace:
                    shutil.rmtree(old)
                else:
                    print("note: %s still holds the previous %s (use --replace)"
                          % (old, sc["name"]), file=sys.stderr)
            conns[i] = entry
            break
    else:
        conns.append(entry)
    order = list(SCENARIOS)
    conns.sort(key=lambda e: order.index(e["scenario"]) if e["scenario"] in order else 99)
    with open(path, "w") as f:
        json.dump(index, f, indent=2, ensure_ascii=False)
        f.write("\n")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--scenario", action="append", help="scenario name (repeatable); all if absent")
    ap.add_argument("--out", default="testdata/realbash")
    ap.add_argument("--list", action="store_true")
    ap.add_argument("--bash", default="bash")
    ap.add_argument("--replace", action="store_true",
                    help="delete the folder of the scenario's previous recording")
    args = ap.parse_args()
    if args.list:
        for n, sc in SCENARIOS.items():
            print("%-22s %3dx%-3d %s" % (n, sc["cols"], sc["rows"], sc["description"]))
        return 0
    names = args.scenario or list(SCENARIOS)
    rc = 0
    for n in names:
        if n not in SCENARIOS:
            print("unknown scenario %s" % n, file=sys.stderr)
            return 2
        conn_id, code, problems = run_scenario(SCENARIOS[n], args.out, args.bash)
        update_index(args.out, SCENARIOS[n], conn_id, code, args.replace)
        print("%s %s exit %d%s" % (n, conn_id, code,
                                   "" if not problems else " HISTORY MISMATCH"))
        if problems:
            print(json.dumps(problems, indent=1), file=sys.stderr)
            rc = 1
    return rc


if __name__ == "__main__":
    sys.exit(main())
