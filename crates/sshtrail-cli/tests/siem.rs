//! SIEM output (issue #5) checked against independent implementations:
//! OCSF events against the OCSF 1.3.0 JSON schema (PyPI `ocsf-json-schema`
//! and `jsonschema`), CEF lines with two CEF parsers (PyPI `cefp` and
//! `pycef`) including a round trip of tricky values, ECS field names
//! against the official ECS 8.11 field reference (vendored in
//! `testdata/siem/`), HEC envelopes as concatenated JSON. The validators
//! are installed by `.ci/siem-deps.sh`; a missing one fails the test,
//! never skips it.
//!
//! Two sources of records: the library (with hand-made typed commands
//! holding pipes, equals signs, backslashes, line breaks and UTF-8), and
//! the `sshtrail convert --to FORMAT` binary.

mod common;
use common::{real_connection, sshtrail};

use std::path::{Path, PathBuf};
use std::process::Command;

use sshtrail::archive::{Archive, Discovery};
use sshtrail::channel::ChannelState;
use sshtrail::replay::{Command as Typed, Confidence};
use sshtrail::siem::{self, RecordSink, SiemEvent, SiemFormat, SiemOptions};
use sshtrail::time::parse_rfc3339;

const FIXTURE: &str = "conn/6f1c2b7e-0d3a-4c55-9e1f-2a3b4c5d6e7f";
const TRICKY: &str = "siem/conn-tricky/0b5e7c1a-3d2f-4e6a-8b9c-1d2e3f4a5b6c";
const OCSF_VERSION: &str = "1.3.0";
const SHELL_EDITOR: &str = "1c0eb6a5-9524-455b-bc54-0e310f597329";
/// The real SFTP and SCP recordings (`testdata/realtrail`): p-sftp-tree,
/// p-scp-legacy-upload, p-scp-legacy-download, p-scp-over-sftp-upload.
const SFTP_TREE: &str = "a5a03a75-f761-49d2-8309-4dbae79f38f1";
const TRANSFERS: [&str; 4] = [
    SFTP_TREE,
    "6be2d65f-23b2-471f-9b36-6f698b1dfc60",
    "fa5f783f-3bc3-46cd-b704-7dbdfd51f115",
    "bf5e427e-375f-434a-8cb1-5c841e5b671e",
];

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn testdata(name: &str) -> PathBuf {
    root().join("testdata").join(name)
}

fn scratch(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("sshtrail-siem-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

/// Runs `validate.py KIND FILE ARGS...`; panics with its report on failure.
fn validate(kind: &str, file: &Path, args: &[&str]) {
    validate_report(kind, file, args);
}

/// [`validate`], returning the validator's `ok: ...` line.
fn validate_report(kind: &str, file: &Path, args: &[&str]) -> String {
    let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/siem/validate.py");
    let out = Command::new("python3")
        .arg(&script)
        .arg(kind)
        .arg(file)
        .args(args)
        .output()
        .unwrap_or_errno(
            "python3 is needed to run the SIEM validators (.ci/siem-deps.sh installs them)",
        );
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    match out.status.code() {
        Some(0) => {
            assert!(text.starts_with("ok: "), "{text}");
            text
        }
        Some(3) => {
            panic!("a SIEM validator is not installed; run .ci/siem-deps.sh (CI runs it):\n{text}")
        }
        _ => panic!("{kind} validation of {} failed:\n{text}", file.display()),
    }
}

trait OrErrno<T> {
    fn unwrap_or_errno(self, what: &str) -> T;
}

impl<T> OrErrno<T> for std::io::Result<T> {
    fn unwrap_or_errno(self, what: &str) -> T {
        self.unwrap_or_else(|e| panic!("{what}: {e}"))
    }
}

/// A connection directory (or one loose log) in memory.
/// Commands with every value CEF and JSON find hard, and a sudo, a
/// millisecond apart from the channel's start.
fn tricky_commands(ch: &ChannelState) -> Vec<Typed> {
    let Some(start) = &ch.started else {
        return Vec::new();
    };
    let texts = [
        "sudo -u postgres psql -c 'select 1 | 2'",
        "echo a|b=c \\\\server\\share key=value",
        "printf 'line1\\nline2' \"$HOME\" # tab\there",
        "grep -r 'caf\u{e9} \u{2603} \u{1f600}' /srv/\u{65e5}\u{672c}",
        "cmd\rwith carriage return\nand newline",
        " leading and trailing spaces ",
        "trailing backslash \\",
        "=starts with equals",
    ];
    texts
        .iter()
        .enumerate()
        .map(|(i, t)| Typed {
            ts: start.ts + (i as i128 + 1) * 1_000_000,
            command: t.to_string(),
            confidence: Confidence::Exact,
        })
        .collect()
}

fn library_records(path: &Path) -> Vec<SiemEvent> {
    let opts = SiemOptions {
        io: true,
        recognize_commands: false,
        ..SiemOptions::default()
    };
    let mut out = Vec::new();
    let mut sink = RecordSink::new(opts, |r| {
        out.push(r.clone());
        Ok(())
    })
    .with_commands(tricky_commands);
    Archive::open(&[path], &Discovery::connection_folders(), &mut |p| {
        panic!("{p}")
    })
    .replay(&mut sink, &mut |p| panic!("{p}"))
    .unwrap();
    drop(sink);
    out
}

fn write_all(evs: &[SiemEvent], format: SiemFormat, path: &Path) {
    let mut out = Vec::new();
    for e in evs {
        siem::write(format, e, &mut out);
    }
    std::fs::write(path, out).unwrap();
}

/// What a CEF parser reads back for `v`: control characters as the text of
/// their escape (`\e`, `\t`, `\x00`), but line feed and carriage return
/// in extension values (`header`: those too), which CEF escapes itself.
fn as_parsed(v: &str, header: bool) -> String {
    let mut out = String::new();
    for c in v.chars() {
        match c {
            '\n' | '\r' if !header => out.push(c),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\x1b' => out.push_str("\\e"),
            c if c.is_control() => out.push_str(&format!("\\x{:02x}", c as u32)),
            c => out.push(c),
        }
    }
    out
}

/// What each CEF line must parse back into: the header fields and the
/// extension's key-value pairs, unescaped.
fn cef_expectations(evs: &[SiemEvent], path: &Path) {
    let list: Vec<serde_json::Value> = evs
        .iter()
        .map(|e| {
            let ext: serde_json::Map<String, serde_json::Value> = siem::cef_extension(e)
                .into_iter()
                .map(|(k, v)| {
                    (
                        k.to_string(),
                        serde_json::Value::String(as_parsed(&v, false)),
                    )
                })
                .collect();
            let header: Vec<String> = [
                "sshtrail",
                "sshtrail",
                e.product_version,
                e.action.name(),
                e.action.title(),
                &e.severity.cef().to_string(),
            ]
            .iter()
            .map(|h| as_parsed(h, true))
            .collect();
            serde_json::json!({"header": header, "extension": ext})
        })
        .collect();
    std::fs::write(path, serde_json::to_vec(&list).unwrap()).unwrap();
}

#[test]
fn what_the_library_writes_passes_the_independent_validators() {
    let dir = scratch("lib");
    let mut evs = Vec::new();
    for name in [FIXTURE, TRICKY, "session.jsonl"] {
        evs.extend(library_records(&testdata(name)));
    }
    // A real shell session with vim: ESC, BEL and friends in the text.
    let (_real, shell) = real_connection(SHELL_EDITOR, "jsonl", true);
    evs.extend(library_records(&shell));
    assert!(
        evs.iter()
            .filter_map(|e| e.io.as_ref())
            .any(|io| io.text.contains('\x1b')),
        "control characters are in the records"
    );
    assert!(evs.len() > 100);
    // The tricky values are really in the records.
    let cef_ext: Vec<_> = evs.iter().flat_map(siem::cef_extension).collect();
    for want in [
        "echo a|b=c \\\\server\\share key=value",
        "J\u{f6}rg|ops=admin\\x",
        "post=gres|\\",
        "prod|eu,pci=yes,line\nbreak",
        "cmd\rwith carriage return\nand newline",
    ] {
        assert!(
            cef_ext.iter().any(|(_, v)| v == want),
            "{want:?} is in no record"
        );
    }
    let fields = testdata("siem/ecs-8.11-fields.tsv");
    for format in SiemFormat::ALL {
        let file = dir.join(format!("records.{format}"));
        write_all(&evs, format, &file);
        match format {
            SiemFormat::Ecs => validate("ecs", &file, &[fields.to_str().unwrap()]),
            SiemFormat::Ocsf => validate("ocsf", &file, &[OCSF_VERSION]),
            SiemFormat::Cef => {
                let expect = dir.join("cef-expect.json");
                cef_expectations(&evs, &expect);
                validate("cef", &file, &[expect.to_str().unwrap()]);
            }
            SiemFormat::Hec => validate("hec", &file, &[]),
            other => panic!("no independent validator for {other}"),
        }
    }
    // A header with a pipe, a backslash and control characters survives
    // too (cefp; pycef cannot read it).
    let mut odd = evs[0].clone();
    odd.product_version = "1.0|beta\\2\x1b\n";
    let file = dir.join("header.cef");
    write_all(std::slice::from_ref(&odd), SiemFormat::Cef, &file);
    let expect = dir.join("header-expect.json");
    cef_expectations(std::slice::from_ref(&odd), &expect);
    validate("cef", &file, &[expect.to_str().unwrap()]);
    std::fs::remove_dir_all(&dir).unwrap();
}

/// The validators are not vacuous: broken records fail them.
#[test]
fn the_validators_reject_broken_records() {
    let dir = scratch("bad");
    let evs = library_records(&testdata(FIXTURE));
    let rejects = |kind: &str, body: String, args: &[&str]| {
        let file = dir.join(format!("bad.{kind}"));
        std::fs::write(&file, body).unwrap();
        let r = std::panic::catch_unwind(|| validate(kind, &file, args));
        let msg = match r {
            Ok(()) => panic!("{kind} validator accepted a broken record"),
            Err(e) => e.downcast_ref::<String>().cloned().unwrap_or_default(),
        };
        assert!(msg.contains("validation of"), "{msg}");
    };
    let mut ecs = Vec::new();
    siem::write(SiemFormat::Ecs, &evs[0], &mut ecs);
    let mut doc: serde_json::Value = serde_json::from_slice(&ecs).unwrap();
    doc["session"] = serde_json::json!({"id": "x"}); // not an ECS 8.11 field
    let fields = testdata("siem/ecs-8.11-fields.tsv");
    rejects("ecs", format!("{doc}\n"), &[fields.to_str().unwrap()]);
    let mut doc: serde_json::Value = serde_json::from_slice(&ecs).unwrap();
    doc["event"]["type"] = serde_json::json!(["connection"]); // not for category session
    rejects("ecs", format!("{doc}\n"), &[fields.to_str().unwrap()]);

    let mut ocsf = Vec::new();
    siem::write(SiemFormat::Ocsf, &evs[0], &mut ocsf);
    let mut doc: serde_json::Value = serde_json::from_slice(&ocsf).unwrap();
    doc.as_object_mut().unwrap().remove("dst_endpoint");
    rejects("ocsf", format!("{doc}\n"), &[OCSF_VERSION]);
    let mut doc: serde_json::Value = serde_json::from_slice(&ocsf).unwrap();
    doc["sshtrail"] = serde_json::json!(1); // a top-level name OCSF does not define
    rejects("ocsf", format!("{doc}\n"), &[OCSF_VERSION]);

    // A File System Activity record (class 1001) is held to its own schema.
    let (_real, sftp) = real_connection(SFTP_TREE, "jsonl", true);
    let out = convert("ocsf", &[], &[&sftp]);
    let upload: serde_json::Value = out
        .split(|&b| b == b'\n')
        .filter(|l| !l.is_empty())
        .map(|l| serde_json::from_slice::<serde_json::Value>(l).unwrap())
        .find(|d| d["class_uid"] == 1001 && d["file"]["hashes"].is_array())
        .expect("a file record with its hash");
    let mut doc = upload.clone();
    doc["file"].as_object_mut().unwrap().remove("name");
    rejects("ocsf", format!("{doc}\n"), &[OCSF_VERSION]);
    let mut doc = upload.clone();
    doc["file"]["hashes"][0]["algorithm_id"] = "SHA-256".into();
    rejects("ocsf", format!("{doc}\n"), &[OCSF_VERSION]);
    let mut doc = upload;
    doc["dst_endpoint"] = serde_json::json!({"ip": "127.0.0.1"}); // not in class 1001
    rejects("ocsf", format!("{doc}\n"), &[OCSF_VERSION]);

    rejects("cef", "CEF:0|a|b|1|x|y|5|msg=a=b c\n".into(), &[]);
    rejects("hec", "{\"time\":\"now\",\"event\":{}}".into(), &[]);
    std::fs::remove_dir_all(&dir).unwrap();
}

// ------------------------------------------------------ the binary

fn convert(format: &str, extra: &[&str], paths: &[&Path]) -> Vec<u8> {
    let mut args = vec!["convert", "--to", format];
    args.extend_from_slice(extra);
    let paths: Vec<String> = paths.iter().map(|p| p.display().to_string()).collect();
    args.extend(paths.iter().map(String::as_str));
    let out = sshtrail(&args);
    assert!(
        out.status.success(),
        "sshtrail {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(!out.stdout.is_empty(), "sshtrail {args:?} wrote nothing");
    out.stdout
}

#[test]
fn convert_writes_records_that_pass_the_validators() {
    let dir = scratch("bin");
    let inputs = [
        testdata(FIXTURE),
        testdata(TRICKY),
        testdata("session.jsonl"),
    ];
    let inputs: Vec<&Path> = inputs.iter().map(PathBuf::as_path).collect();
    let fields = testdata("siem/ecs-8.11-fields.tsv");
    for format in ["ecs", "ocsf", "cef", "hec"] {
        let file = dir.join(format!("out.{format}"));
        std::fs::write(&file, convert(format, &["--io"], &inputs)).unwrap();
        match format {
            "ecs" => validate("ecs", &file, &[fields.to_str().unwrap()]),
            "ocsf" => validate("ocsf", &file, &[OCSF_VERSION]),
            other => validate(other, &file, &[]),
        }
    }
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn convert_ecs_carries_the_connection_metadata() {
    let out = convert("ecs", &[], &[&testdata(FIXTURE)]);
    let docs: Vec<serde_json::Value> = out
        .split(|&b| b == b'\n')
        .filter(|l| !l.is_empty())
        .map(|l| serde_json::from_slice(l).unwrap())
        .collect();
    assert!(docs.len() >= 14);
    for d in &docs {
        assert!(d["@timestamp"].is_string() && d["event"]["action"].is_string());
        assert_eq!(d["user"]["name"], "alice@example.com");
        assert_eq!(d["host"]["name"], "db-prod-01");
        assert_eq!(d["destination"]["ip"], "10.20.30.40");
        assert_eq!(d["source"]["ip"], "203.0.113.9");
        assert_eq!(d["user"]["effective"]["name"], "alice");
        assert_eq!(d["tags"], serde_json::json!(["prod", "db"]));
        assert_eq!(
            d["sshtrail"]["authentication_method"],
            serde_json::json!(["PASSWORD", "MFA"])
        );
        assert_eq!(
            d["sshtrail"]["connection_id"],
            "6f1c2b7e-0d3a-4c55-9e1f-2a3b4c5d6e7f"
        );
        let action = d["event"]["action"].as_str().unwrap();
        assert_eq!(
            d["sshtrail"]["channel_id"].is_string(),
            !action.starts_with("ssh-connection-"),
            "{d}"
        );
    }
    let times: Vec<&str> = docs
        .iter()
        .map(|d| d["sshtrail"]["ts"].as_str().unwrap())
        .collect();
    let parsed: Vec<_> = times
        .iter()
        .map(|t| parse_rfc3339(t.as_bytes(), true).unwrap())
        .collect();
    assert!(
        parsed.windows(2).all(|w| w[0] <= w[1]),
        "time order: {times:?}"
    );
    let actions: Vec<&str> = docs
        .iter()
        .map(|d| d["event"]["action"].as_str().unwrap())
        .collect();
    assert_eq!(actions.first(), Some(&"ssh-connection-start"));
    assert_eq!(actions.last(), Some(&"ssh-connection-end"));
    for a in [
        "ssh-channel-open",
        "ssh-pty",
        "ssh-shell",
        "ssh-exec",
        "ssh-env",
        "ssh-tcpip-forward",
        "ssh-exit-status",
        "ssh-channel-close",
    ] {
        assert!(actions.contains(&a), "no {a} in {actions:?}");
    }
}

#[test]
fn convert_is_deterministic_and_writes_output_files_atomically() {
    let dir = scratch("file");
    for format in ["ecs", "ocsf", "cef", "hec"] {
        let a = convert(format, &["--io"], &[&testdata(FIXTURE)]);
        let b = convert(format, &["--io"], &[&testdata(FIXTURE)]);
        assert_eq!(a, b, "{format}: same input, same bytes");
        let file = dir.join(format!("records.{format}"));
        let out = sshtrail(&[
            "convert",
            "--to",
            format,
            "--io",
            "-o",
            file.to_str().unwrap(),
            testdata(FIXTURE).to_str().unwrap(),
        ]);
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(out.stdout.is_empty(), "-o writes nothing to stdout");
        assert_eq!(
            std::fs::read(&file).unwrap(),
            a,
            "{format}: -o writes what stdout gets"
        );
    }
    let names: Vec<String> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert!(
        names.iter().all(|n| !n.starts_with('.')),
        "temporary files left: {names:?}"
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn convert_io_adds_the_text_of_the_lines() {
    let plain = convert("ecs", &[], &[&testdata(FIXTURE)]);
    let io = convert("ecs", &["--io"], &[&testdata(FIXTURE)]);
    let count = |b: &[u8], what: &str| String::from_utf8_lossy(b).matches(what).count();
    assert_eq!(count(&plain, "\"ssh-stdout\""), 0);
    assert!(count(&io, "\"action\":\"ssh-stdout\"") > 0);
    assert!(String::from_utf8_lossy(&io).contains("\"io\":{\"text\":"));
}

/// The lines of one stream of a jsonl log, split independently of
/// sshtrail: (offset of the first byte, time of the event holding it,
/// text cut after 4096 bytes), lines ended by LF, CR or CR LF, empty ones
/// left out.
fn stream_lines(log: &str, stream: &str) -> Vec<(u64, i128, String)> {
    use base64::Engine as _;
    let mut bytes: Vec<(u8, i128)> = Vec::new();
    for l in log.lines() {
        let v: serde_json::Value = serde_json::from_str(l).unwrap();
        if v["type"] != stream {
            continue;
        }
        let ts = parse_rfc3339(v["ts"].as_str().unwrap().as_bytes(), false).unwrap();
        let data = base64::engine::general_purpose::STANDARD
            .decode(v["data"].as_str().unwrap())
            .unwrap();
        bytes.extend(data.into_iter().map(|b| (b, ts)));
    }
    let mut out = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        let start = i;
        while i < bytes.len() && bytes[i].0 != b'\r' && bytes[i].0 != b'\n' {
            i += 1;
        }
        if i > start {
            let mut text: Vec<u8> = bytes[start..i].iter().map(|b| b.0).collect();
            // A record keeps the first 4096 bytes, at a character boundary.
            if text.len() > 4096 {
                let mut n = 4096;
                while text[n] & 0xC0 == 0x80 {
                    n -= 1;
                }
                text.truncate(n);
            }
            out.push((
                start as u64,
                bytes[start].1,
                String::from_utf8_lossy(&text).into_owned(),
            ));
        }
        if i < bytes.len() && bytes[i].0 == b'\r' && bytes.get(i + 1).is_some_and(|b| b.0 == b'\n')
        {
            i += 1;
        }
        i += 1;
    }
    out
}

/// The real shell session: `--io` makes one record a line of each stream,
/// timed at its first byte: one stdin record a typed command line (201
/// keystroke events make 10 lines), not one a key.
#[test]
fn convert_io_writes_one_record_a_line() {
    let (_dir, conn) = real_connection(SHELL_EDITOR, "jsonl", true);
    let log = std::fs::read_to_string(conn.join("0.jsonl")).unwrap();
    let out = convert("ecs", &["--io"], &[&conn]);
    let docs: Vec<serde_json::Value> = out
        .split(|&b| b == b'\n')
        .filter(|l| !l.is_empty())
        .map(|l| serde_json::from_slice(l).unwrap())
        .collect();
    for stream in ["stdin", "stdout"] {
        let got: Vec<(u64, i128, String)> = docs
            .iter()
            .filter(|d| d["sshtrail"]["io"]["stream"] == stream)
            .map(|d| {
                (
                    d["sshtrail"]["io"]["offset"].as_u64().unwrap(),
                    parse_rfc3339(d["@timestamp"].as_str().unwrap().as_bytes(), false).unwrap(),
                    d["process"]["io"]["text"].as_str().unwrap().to_string(),
                )
            })
            .collect();
        assert_eq!(got, stream_lines(&log, stream), "{stream}");
    }
    let typed: Vec<&str> = docs
        .iter()
        .filter(|d| d["event"]["action"] == "ssh-stdin")
        .map(|d| d["process"]["io"]["text"].as_str().unwrap())
        .collect();
    assert_eq!(typed.len(), 10, "{typed:?}");
    let truth: serde_json::Value = serde_json::from_slice(
        &std::fs::read(testdata(&format!("realtrail/{SHELL_EDITOR}/truth.json"))).unwrap(),
    )
    .unwrap();
    for c in truth["commands"].as_array().unwrap() {
        let c = c["command"].as_str().unwrap();
        // `echo fixed` was typed over a typo: its line holds the DELs.
        if c != "echo fixed" {
            assert!(typed.contains(&c), "{c:?} is no stdin record: {typed:?}");
        }
    }
    // Every format makes the same records.
    for format in ["ocsf", "cef", "hec"] {
        let text = String::from_utf8(convert(format, &["--io"], &[&conn])).unwrap();
        assert_eq!(
            text.lines().filter(|l| l.contains("ssh-stdin")).count(),
            10,
            "{format}"
        );
    }
}

/// The connection's own records come once: first and last on a stream, and
/// in a batch (one file a channel, converted log by log) in the file of
/// the connection's first log, the same records.
#[test]
fn connection_records_come_once_on_a_stream_and_in_a_batch() {
    let (dir, conn) = real_connection("56461fdd-d065-4ddb-b56c-a3ea79593e58", "jsonl", true);
    let stream = String::from_utf8(convert("ecs", &[], &[&conn])).unwrap();
    let lines: Vec<&str> = stream.lines().collect();
    let action = |l: &str| {
        serde_json::from_str::<serde_json::Value>(l).unwrap()["event"]["action"]
            .as_str()
            .unwrap()
            .to_string()
    };
    assert_eq!(action(lines[0]), "ssh-connection-start");
    assert_eq!(action(lines[lines.len() - 1]), "ssh-connection-end");
    assert_eq!(
        lines
            .iter()
            .filter(|l| action(l).starts_with("ssh-connection-"))
            .count(),
        2
    );
    let out = dir.path().join("out");
    let o = sshtrail(&[
        "convert",
        "--to",
        "ecs,jsonl",
        "-o",
        out.to_str().unwrap(),
        conn.to_str().unwrap(),
    ]);
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    let mut found = Vec::new();
    for name in ["1-2", "1", "global"] {
        let file = out
            .join("56461fdd-d065-4ddb-b56c-a3ea79593e58")
            .join(format!("{name}.ecs.ndjson"));
        let text = std::fs::read_to_string(&file).unwrap();
        for l in text
            .lines()
            .filter(|l| action(l).starts_with("ssh-connection-"))
        {
            found.push((name, l.to_string()));
        }
    }
    assert_eq!(
        found,
        [
            ("1-2", lines[0].to_string()),
            ("1-2", lines[lines.len() - 1].to_string())
        ],
        "in the first log's file, as on the stream"
    );
}

/// The ECS documents of `convert --to ecs PATHS`: (`@timestamp` as
/// nanoseconds, connection id, action).
fn ecs_stream(paths: &[&Path]) -> Vec<(i128, String, String)> {
    let out = convert("ecs", &["--io"], paths);
    out.split(|&b| b == b'\n')
        .filter(|l| !l.is_empty())
        .map(|l| {
            let d: serde_json::Value = serde_json::from_slice(l).unwrap();
            (
                parse_rfc3339(d["@timestamp"].as_str().unwrap().as_bytes(), false).unwrap(),
                d["sshtrail"]["connection_id"].as_str().unwrap().to_string(),
                d["event"]["action"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

/// Every real recording on one command line (in id order, which is not
/// their time order): one stream in time order across the connections.
#[test]
fn records_of_several_connections_come_in_time_order() {
    let index: serde_json::Value =
        serde_json::from_slice(&std::fs::read(testdata("realtrail/index.json")).unwrap()).unwrap();
    let mut dirs = Vec::new();
    for c in index["connections"].as_array().unwrap() {
        dirs.push(real_connection(
            c["connection_id"].as_str().unwrap(),
            "jsonl",
            true,
        ));
    }
    let paths: Vec<&Path> = dirs.iter().map(|(_, p)| p.as_path()).collect();
    let records = ecs_stream(&paths);
    assert!(
        records.windows(2).all(|w| w[0].0 <= w[1].0),
        "out of time order"
    );
    let starts: Vec<&str> = records
        .iter()
        .filter(|r| r.2 == "ssh-connection-start")
        .map(|r| &r.1[..8])
        .collect();
    assert_eq!(
        starts,
        [
            "a5a03a75", "6be2d65f", "fa5f783f", "bf5e427e", "1dd56798", "1c0eb6a5", "56461fdd",
            "971de967", "1b338b0d"
        ]
    );
}

/// A real shell session and a copy of it 10 seconds later under another
/// id: their records interleave in time order.
#[test]
fn records_of_overlapping_connections_interleave() {
    const ID: &str = "1c0eb6a5-9524-455b-bc54-0e310f597329";
    const COPY: &str = "1c0eb6a5-0000-4000-8000-000000000010";
    let (_a, first) = real_connection(ID, "jsonl", true);
    let (_b, moved) = real_connection(ID, "jsonl", true);
    let shifted = moved.with_file_name(COPY);
    std::fs::rename(&moved, &shifted).unwrap();
    let later = |t: &str| {
        sshtrail::time::format_rfc3339(parse_rfc3339(t.as_bytes(), false).unwrap() + 10_000_000_000)
    };
    let log = std::fs::read_to_string(shifted.join("0.jsonl")).unwrap();
    let log: String = log
        .lines()
        .map(|l| {
            let mut v: serde_json::Value = serde_json::from_str(l).unwrap();
            v["ts"] = later(v["ts"].as_str().unwrap()).into();
            format!("{v}\n")
        })
        .collect();
    std::fs::write(shifted.join("0.jsonl"), log).unwrap();
    let mut meta: serde_json::Value =
        serde_json::from_slice(&std::fs::read(shifted.join("connection.json")).unwrap()).unwrap();
    meta["id"] = COPY.into();
    for k in ["connected", "disconnected"] {
        meta[k] = later(meta[k].as_str().unwrap()).into();
    }
    std::fs::write(shifted.join("connection.json"), meta.to_string()).unwrap();

    let records = ecs_stream(&[shifted.as_path(), first.as_path()]);
    assert!(
        records.windows(2).all(|w| w[0].0 <= w[1].0),
        "out of time order"
    );
    let switches = records.windows(2).filter(|w| w[0].1 != w[1].1).count();
    assert!(
        switches > 10,
        "the connections follow each other ({switches} switches)"
    );
    assert_eq!(
        records.iter().filter(|r| r.1 == ID).count(),
        records.len() / 2
    );
}

/// `--io` records of a real shell session with vim carry ESC, BEL, DEL and
/// friends: no CEF line holds a raw control character (CEF has no escape
/// for them, so they are written as escaped text), and the JSON formats
/// escape every one JSON requires (U+0000 to U+001F, which serde_json does;
/// DEL and C1 are legal JSON and stay).
#[test]
fn no_raw_control_character_in_any_siem_line() {
    let (_dir, conn) = real_connection(SHELL_EDITOR, "hex", true);
    for format in ["cef", "ecs", "ocsf", "hec"] {
        let out = convert(format, &["--io"], &[&conn]);
        let text = String::from_utf8(out).unwrap();
        for line in text.lines() {
            let raw: Vec<char> = line
                .chars()
                .filter(|&c| c.is_control() && (format == "cef" || c < ' '))
                .collect();
            assert!(
                raw.is_empty(),
                "{format}: raw control characters {raw:?} in {line}"
            );
            if format != "cef" {
                serde_json::from_str::<serde_json::Value>(line).unwrap();
            }
        }
        if format == "cef" {
            assert!(text.contains("\\\\e[?1049h"), "vim's ESC, escaped");
        } else {
            assert!(
                text.contains("\\u001b[?1049h"),
                "{format}: vim's ESC, JSON-escaped"
            );
        }
    }
}

// ------------------------------------------------------ file records

/// `(direction, remote path, size, sha256)` of every file the recording's
/// `truth.json` says moved.
fn truth_files(id: &str) -> Vec<(&'static str, String, u64, String)> {
    let t: serde_json::Value = serde_json::from_slice(
        &std::fs::read(testdata(&format!("realtrail/{id}/truth.json"))).unwrap(),
    )
    .unwrap();
    let f = &t["client"]["files"];
    let mut want = Vec::new();
    for (key, d) in [
        ("put", "upload"),
        ("upload", "upload"),
        ("get", "download"),
        ("download", "download"),
    ] {
        let list = match &f[key] {
            serde_json::Value::Array(a) => a.clone(),
            o @ serde_json::Value::Object(_) => vec![o.clone()],
            _ => Vec::new(),
        };
        for x in list {
            want.push((
                d,
                x["remote"].as_str().unwrap().to_string(),
                x["size"].as_u64().unwrap(),
                x["sha256"].as_str().unwrap().to_string(),
            ));
        }
    }
    assert!(!want.is_empty(), "{id}: the truth names no file");
    want
}

/// Whether `path`, as the server saw it, names the truth's `remote`: the
/// same, or an absolute path ending with it (OpenSSH's sftp client makes
/// paths absolute).
fn names_remote(path: &serde_json::Value, remote: &str) -> bool {
    path.as_str()
        .is_some_and(|p| p == remote || (p.starts_with('/') && p.ends_with(&format!("/{remote}"))))
}

fn json_docs(out: &[u8]) -> Vec<serde_json::Value> {
    out.split(|&b| b == b'\n')
        .filter(|l| !l.is_empty())
        .map(|l| serde_json::from_slice(l).unwrap())
        .collect()
}

/// The four real SFTP and SCP recordings through `convert` pass the
/// validators in every format, and the OCSF validation covers File System
/// Activity (class 1001) records.
#[test]
fn file_records_of_real_transfers_pass_the_validators() {
    let dir = scratch("files");
    let copies: Vec<_> = TRANSFERS
        .iter()
        .map(|id| real_connection(id, "jsonl", true))
        .collect();
    let inputs: Vec<&Path> = copies.iter().map(|(_, p)| p.as_path()).collect();
    let fields = testdata("siem/ecs-8.11-fields.tsv");
    for format in ["ecs", "ocsf", "cef", "hec"] {
        let file = dir.join(format!("files.{format}"));
        let out = convert(format, &[], &inputs);
        std::fs::write(&file, &out).unwrap();
        match format {
            "ecs" => {
                validate("ecs", &file, &[fields.to_str().unwrap()]);
                let files = json_docs(&out)
                    .iter()
                    .filter(|d| d["event"]["category"] == serde_json::json!(["file"]))
                    .count();
                assert!(files >= 40, "{files} ECS file records");
            }
            "ocsf" => {
                let ok = validate_report("ocsf", &file, &[OCSF_VERSION]);
                let counted = ok
                    .split_whitespace()
                    .find_map(|w| w.strip_prefix("1001:"))
                    .and_then(|n| n.trim_end_matches(')').parse::<usize>().ok())
                    .unwrap_or_else(|| panic!("no class 1001 record validated: {ok}"));
                assert!(counted >= 40, "{ok}");
            }
            "cef" => {
                validate("cef", &file, &[]);
            }
            _ => {
                validate("hec", &file, &[]);
            }
        }
    }
    std::fs::remove_dir_all(&dir).unwrap();
}

/// Every file `truth.json` says moved is an OCSF File System Activity
/// record and an ECS `file` record (and a CEF and a HEC one) with the
/// truth's SHA-256 and size.
#[test]
fn every_transferred_file_is_a_file_record_with_its_hash() {
    for id in TRANSFERS {
        let (_copy, conn) = real_connection(id, "jsonl", true);
        let ocsf = json_docs(&convert("ocsf", &[], &[&conn]));
        let ecs = json_docs(&convert("ecs", &[], &[&conn]));
        let hec = json_docs(&convert("hec", &[], &[&conn]));
        let cef = String::from_utf8(convert("cef", &[], &[&conn])).unwrap();
        for (direction, remote, size, sha256) in truth_files(id) {
            let activity = if direction == "upload" { 3 } else { 2 };
            assert!(
                ocsf.iter().any(|d| d["class_uid"] == 1001
                    && d["category_uid"] == 1
                    && d["activity_id"] == activity
                    && d["type_uid"] == 100_100 + activity
                    && d["status"] == "Success"
                    && d["metadata"]["event_code"] == format!("ssh-file-{direction}")
                    && names_remote(&d["file"]["path"], &remote)
                    && d["file"]["size"] == size
                    && d["file"]["type_id"] == 1
                    && d["file"]["hashes"]
                        == serde_json::json!([
                            {"algorithm_id": 3, "algorithm": "SHA-256", "value": sha256}
                        ])
                    && d["connection_uid"] == id),
                "{id}: no OCSF 1001 record of the {direction} of {remote} ({size} bytes, {sha256})"
            );
            assert!(
                ecs.iter()
                    .any(|d| d["event"]["category"] == serde_json::json!(["file"])
                        && d["event"]["action"] == format!("ssh-file-{direction}")
                        && d["event"]["outcome"] == "success"
                        && names_remote(&d["file"]["path"], &remote)
                        && d["file"]["size"] == size
                        && d["file"]["hash"]["sha256"] == sha256.as_str()
                        && d["file"]["name"] == remote.rsplit('/').next().unwrap()
                        && d["sshtrail"]["connection_id"] == id),
                "{id}: no ECS file record of the {direction} of {remote}"
            );
            assert!(
                hec.iter()
                    .any(|e| e["event"]["action"] == format!("ssh-file-{direction}")
                        && names_remote(&e["event"]["file_path"], &remote)
                        && e["event"]["file_size"] == size
                        && e["event"]["file_hash"] == sha256.as_str()),
                "{id}: no HEC file record of the {direction} of {remote}"
            );
            assert!(
                cef.lines()
                    .any(|l| l.contains(&format!("|ssh-file-{direction}|"))
                        && l.contains(&format!(" fsize={size} "))
                        && l.contains(&format!(" fileHash={sha256} "))),
                "{id}: no CEF file record of the {direction} of {remote}"
            );
        }
        // In time order, each at or after the request it answers.
        let times: Vec<&str> = ecs
            .iter()
            .map(|d| d["@timestamp"].as_str().unwrap())
            .collect();
        assert!(times.windows(2).all(|w| w[0] <= w[1]), "{id}: out of order");
        for d in ecs
            .iter()
            .filter(|d| d["event"]["category"] == serde_json::json!(["file"]))
        {
            assert!(d["event"]["start"].as_str().unwrap() <= d["@timestamp"].as_str().unwrap());
        }
    }
}

/// p-sftp-tree: the failing get is a failed record with the server's
/// message; mkdir, rm, rename and chmod have their activity.
#[test]
fn sftp_failures_removals_and_renames_have_their_activity() {
    let (_copy, conn) = real_connection(SFTP_TREE, "jsonl", true);
    let ocsf = json_docs(&convert("ocsf", &[], &[&conn]));
    let ecs = json_docs(&convert("ecs", &[], &[&conn]));
    let ocsf_of = |path_end: &str, activity: u32| {
        ocsf.iter()
            .find(|d| {
                d["class_uid"] == 1001
                    && d["activity_id"] == activity
                    && d["file"]["path"]
                        .as_str()
                        .is_some_and(|p| p.ends_with(path_end))
            })
            .unwrap_or_else(|| panic!("no OCSF activity {activity} on {path_end}"))
    };
    let ecs_of = |path_end: &str, action: &str| {
        ecs.iter()
            .find(|d| {
                d["event"]["action"] == action
                    && d["file"]["path"]
                        .as_str()
                        .is_some_and(|p| p.ends_with(path_end))
            })
            .unwrap_or_else(|| panic!("no ECS {action} on {path_end}"))
    };

    // `-get missing-file.txt`: the client's lstat fails.
    let missing = ocsf_of("/evidence/missing-file.txt", 8);
    assert_eq!(missing["activity_name"], "Get Attributes");
    assert_eq!(missing["status"], "Failure");
    assert_eq!(missing["status_id"], 2);
    assert_eq!(missing["status_detail"], "No such file");
    assert_eq!(missing["status_code"], "2");
    assert!(missing["message"]
        .as_str()
        .unwrap()
        .ends_with("failed: No such file"));
    let missing = ecs_of("/evidence/missing-file.txt", "ssh-file-get-attributes");
    assert_eq!(missing["event"]["outcome"], "failure");
    assert_eq!(missing["event"]["reason"], "No such file");
    assert_eq!(missing["event"]["type"], serde_json::json!(["info"]));
    assert_eq!(missing["file"]["name"], "missing-file.txt");

    // rm "résumé notes.txt".
    let rm = ocsf_of("/evidence/r\u{e9}sum\u{e9} notes.txt", 4);
    assert_eq!(rm["activity_name"], "Delete");
    assert_eq!(rm["status"], "Success");
    assert_eq!(rm["file"]["name"], "r\u{e9}sum\u{e9} notes.txt");
    assert!(rm["file"]["parent_folder"]
        .as_str()
        .unwrap()
        .ends_with("/evidence"));
    let rm = ecs_of("/evidence/r\u{e9}sum\u{e9} notes.txt", "ssh-file-delete");
    assert_eq!(rm["event"]["type"], serde_json::json!(["deletion"]));
    assert_eq!(rm["sshtrail"]["file"]["op"], "remove");

    // rename blob.bin blob.dat (OpenSSH's posix-rename).
    let mv = ocsf_of("/evidence/blob.bin", 5);
    assert_eq!(mv["activity_name"], "Rename");
    assert!(mv["file_result"]["path"]
        .as_str()
        .unwrap()
        .ends_with("/evidence/blob.dat"));
    assert_eq!(mv["file_result"]["name"], "blob.dat");
    let mv = ecs_of("/evidence/blob.bin", "ssh-file-rename");
    assert_eq!(mv["event"]["type"], serde_json::json!(["change"]));
    assert!(mv["sshtrail"]["file"]["target"]
        .as_str()
        .unwrap()
        .ends_with("/evidence/blob.dat"));

    // mkdir evidence; chmod 600 blob.dat.
    let mkdir = ocsf_of("/evidence", 1);
    assert_eq!(
        (&mkdir["file"]["type_id"], &mkdir["file"]["type"]),
        (&serde_json::json!(2), &serde_json::json!("Folder"))
    );
    let chmod = ecs_of("/evidence/blob.dat", "ssh-file-set-attributes");
    assert_eq!(chmod["file"]["mode"], "0600");
    assert_eq!(chmod["event"]["type"], serde_json::json!(["change"]));
    assert_eq!(
        ocsf_of("/evidence/blob.dat", 6)["activity_name"],
        "Set Attributes"
    );
}

/// p-sftp-tree with its data re-cut into one-byte events: SFTP packets
/// now span hundreds of events, and the file records are the same ones,
/// still in time order (each takes the time of the event that completes it).
#[test]
fn file_records_do_not_depend_on_how_the_data_is_cut() {
    use base64::Engine;
    let b64 = base64::engine::general_purpose::STANDARD;
    let (_copy, conn) = real_connection(SFTP_TREE, "jsonl", true);
    let file_records = |conn: &Path| -> Vec<serde_json::Value> {
        let docs = json_docs(&convert("ecs", &[], &[conn]));
        let times: Vec<&str> = docs
            .iter()
            .map(|d| d["@timestamp"].as_str().unwrap())
            .collect();
        assert!(times.windows(2).all(|w| w[0] <= w[1]), "out of time order");
        docs.into_iter()
            .filter(|d| d["event"]["category"] == serde_json::json!(["file"]))
            .collect()
    };
    let whole = file_records(&conn);
    let log = std::fs::read_to_string(conn.join("0.jsonl")).unwrap();
    let mut cut = String::new();
    for line in log.lines() {
        let v: serde_json::Value = serde_json::from_str(line).unwrap();
        let data = v["data"].as_str().map(|d| b64.decode(d).unwrap());
        match (v["type"].as_str(), data) {
            (Some("stdin" | "stdout"), Some(bytes)) if bytes.len() > 1 => {
                for b in bytes {
                    let mut one = v.clone();
                    one["data"] = b64.encode([b]).into();
                    cut.push_str(&format!("{one}\n"));
                }
            }
            _ => cut.push_str(&format!("{line}\n")),
        }
    }
    assert!(cut.lines().count() > 10 * log.lines().count());
    std::fs::write(conn.join("0.jsonl"), cut).unwrap();
    let recut = file_records(&conn);
    assert!(whole.len() >= 30, "{} file records", whole.len());
    assert_eq!(recut, whole);
}
