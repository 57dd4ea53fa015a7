//! The smaller things a user trips over (issue 12): compressed trails read
//! by every command, other binary files named for what they are, a wrong
//! path that prints only its error, the asciicast header of an empty log,
//! one time precision in derived outputs. On the real recordings of
//! `testdata/realtrail`, compressed into scratch folders.

mod common;
use common::real_connection;

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

const BIN: &str = env!("CARGO_BIN_EXE_sshtrail");

/// p2-shell-editor: a shell with vim and a resize.
const SHELL: &str = "1c0eb6a5-9524-455b-bc54-0e310f597329";

fn run(args: &[&str]) -> Output {
    Command::new(BIN).args(args).output().unwrap()
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

fn arg(p: &Path) -> &str {
    p.to_str().unwrap()
}

fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    gz.write_all(bytes).unwrap();
    gz.finish().unwrap()
}

/// Two gzip members back to back, as `cat a.gz b.gz` or `pigz` make.
fn gzip_two_members(bytes: &[u8]) -> Vec<u8> {
    let half = bytes.len() / 2;
    let mut out = gzip(&bytes[..half]);
    out.extend(gzip(&bytes[half..]));
    out
}

/// Two zstd frames back to back.
fn zstd_two_frames(bytes: &[u8]) -> Vec<u8> {
    let half = bytes.len() / 2;
    let mut out = zstd::encode_all(&bytes[..half], 3).unwrap();
    out.extend(zstd::encode_all(&bytes[half..], 19).unwrap());
    out
}

/// A copy of the connection folder `plain` under `root`, its log `0.EXT`
/// stored as `name` with the bytes `pack` makes of it.
fn packed(plain: &Path, root: &Path, ext: &str, name: &str, pack: fn(&[u8]) -> Vec<u8>) -> PathBuf {
    let conn = root.join(plain.file_name().unwrap());
    fs::create_dir_all(&conn).unwrap();
    fs::copy(plain.join("connection.json"), conn.join("connection.json")).unwrap();
    let log = fs::read(plain.join(format!("0.{ext}"))).unwrap();
    fs::write(conn.join(name), pack(&log)).unwrap();
    conn
}

/// What a command printed, with the folder it read replaced by `DIR`.
fn seen(args: &[&str], dir: &Path) -> (Option<i32>, String, String) {
    let o = run(args);
    let d = dir.to_str().unwrap();
    (
        o.status.code(),
        text(&o.stdout).replace(d, "DIR"),
        text(&o.stderr).replace(d, "DIR"),
    )
}

/// Every file under `dir`, relative, with its bytes.
fn tree(dir: &Path) -> Vec<(String, Vec<u8>)> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                stack.push(p);
            } else {
                let rel = p.strip_prefix(dir).unwrap().to_string_lossy().into_owned();
                out.push((rel, fs::read(&p).unwrap()));
            }
        }
    }
    out.sort();
    out
}

#[test]
fn compressed_trails_read_in_every_command_as_their_text() {
    for (layout, name, pack) in [
        ("jsonl", "0.jsonl.gz", gzip as fn(&[u8]) -> Vec<u8>),
        ("jsonl", "0.jsonl.gz", gzip_two_members),
        ("jsonl", "0.jsonl.zst", zstd_two_frames),
        ("hex", "0.hex.gz", gzip),
        ("hex", "0.hex.zst", zstd_two_frames),
        // Told by the magic bytes, not the name.
        ("jsonl", "0.jsonl", gzip),
    ] {
        let (_keep, plain) = real_connection(SHELL, layout, true);
        let scratch = tempfile::tempdir().unwrap();
        let packed = packed(&plain, scratch.path(), layout, name, pack);
        let case = format!("{layout} as {name}");
        let plain_log = plain.join(format!("0.{layout}"));
        let packed_log = packed.join(name);
        // The evidence output is the decompressed text, byte for byte.
        let to = if layout == "jsonl" { "jsonl" } else { "hex" };
        let o = run(&["cat", "--to", to, arg(&packed_log)]);
        assert_eq!(o.status.code(), Some(0), "{case}: {}", text(&o.stderr));
        assert_eq!(o.stdout, fs::read(&plain_log).unwrap(), "{case}");
        // Every other command says what it says of the plain log.
        let commands: Vec<Vec<&str>> = vec![
            vec!["cat"],
            vec!["stats", "--json"],
            vec!["inspect"],
            vec!["inspect", "--json"],
            vec!["convert", "--to", "text"],
            vec!["convert", "--to", "asciicast"],
            vec!["convert", "--to", "ecs"],
            vec!["convert", "--to", "ocsf"],
            vec!["commands", "--all"],
            vec!["grep", "pub-notes"],
            vec!["screen", "--at", "12"],
            vec!["play", "--speed", "1000000"],
        ];
        for command in &commands {
            // `cat` and `stats` take files; the others the folder.
            let (p, q) = if matches!(command[0], "cat" | "stats") {
                (plain_log.clone(), packed_log.clone())
            } else {
                (plain.clone(), packed.clone())
            };
            let mut a = command.clone();
            a.push(arg(&p));
            let want = seen(&a, &p);
            let mut b = command.clone();
            b.push(arg(&q));
            let got = seen(&b, &q);
            assert_eq!(want.0, Some(0), "{case}: {command:?}: {}", want.2);
            assert!(!want.1.is_empty(), "{case}: {command:?} printed nothing");
            assert_eq!(got, want, "{case}: {command:?}");
        }
        // Streams and a batch write the same files, named as for the
        // plain log (`0.jsonl.gz` gives `0.cast`, not `0.jsonl.cast`).
        for (what, extra) in [
            ("streams", vec![]),
            ("convert", vec!["--to", "asciicast,jsonl,text"]),
        ] {
            let out_plain = scratch.path().join(format!("{what}-plain"));
            let out_packed = scratch.path().join(format!("{what}-packed"));
            for (input, out) in [(&plain, &out_plain), (&packed, &out_packed)] {
                let mut a = vec![what];
                a.extend(&extra);
                a.extend(["-o", arg(out), arg(input)]);
                let o = run(&a);
                assert_eq!(
                    o.status.code(),
                    Some(0),
                    "{case}: {a:?}: {}",
                    text(&o.stderr)
                );
            }
            let (mut want, mut got) = (tree(&out_plain), tree(&out_packed));
            if what == "convert" {
                // The manifest vouches for the file as stored.
                let row = |t: &mut Vec<(String, Vec<u8>)>| {
                    let i = t.iter().position(|(n, _)| n == "manifest.jsonl").unwrap();
                    let m: serde_json::Value = serde_json::from_slice(&t.remove(i).1).unwrap();
                    m
                };
                let (mw, mg) = (row(&mut want), row(&mut got));
                assert_eq!(mw["status"], "converted", "{case}");
                assert_eq!(mg["status"], "converted", "{case}");
                assert_eq!(mg["events"], mw["events"], "{case}");
                assert_eq!(
                    mg["size"],
                    fs::metadata(&packed_log).unwrap().len(),
                    "{case}"
                );
                assert_eq!(mg["outputs"].as_array().unwrap().len(), 3, "{case}");
            }
            assert!(!want.is_empty(), "{case}: {what} wrote nothing");
            assert_eq!(
                got.iter().map(|f| &f.0).collect::<Vec<_>>(),
                want.iter().map(|f| &f.0).collect::<Vec<_>>(),
                "{case}: {what}"
            );
            assert!(got == want, "{case}: {what}: the files differ");
        }
    }
}

#[test]
fn a_cut_off_or_corrupt_compressed_log_is_an_error_naming_it() {
    let (_keep, plain) = real_connection(SHELL, "jsonl", true);
    let log = fs::read(plain.join("0.jsonl")).unwrap();
    let scratch = tempfile::tempdir().unwrap();
    let gz = gzip(&log);
    let zst = zstd::encode_all(&log[..], 3).unwrap();
    // The text decodes whole, but its checksum (the trailer's first four
    // bytes) does not match: found only at the end.
    let mut corrupt = gz.clone();
    let crc = corrupt.len() - 8;
    corrupt[crc] ^= 0x01;
    for (name, bytes, says) in [
        (
            "cut.jsonl.gz",
            gz[..gz.len() / 2].to_vec(),
            "the gzip data is cut off",
        ),
        (
            "cut.jsonl.zst",
            zst[..zst.len() / 2].to_vec(),
            "the zstd data ",
        ),
        (
            "corrupt.jsonl.gz",
            corrupt,
            "the gzip data cannot be decompressed: ",
        ),
        (
            "header.jsonl.gz",
            b"\x1f\x8b\x08\xff\xff".to_vec(),
            "the gzip data ",
        ),
    ] {
        let path = scratch.path().join(name);
        fs::write(&path, &bytes).unwrap();
        let p = arg(&path);
        let out = scratch.path().join(format!("out-{name}"));
        for a in [
            vec!["cat", "--to", "jsonl", p],
            vec!["inspect", p],
            vec!["convert", "--to", "text", p],
            vec!["commands", p],
            vec!["convert", "--to", "asciicast", "-o", arg(&out), p],
        ] {
            let o = run(&a);
            let err = text(&o.stderr);
            assert_eq!(o.status.code(), Some(1), "{name}: {a:?}: {err}");
            // `PATH: error: [reading failed: ]the gzip data ...`.
            let line = err.lines().find(|l| l.contains(says));
            assert!(
                line.is_some_and(|l| l.starts_with(&format!("{p}: error: "))),
                "{name}: {a:?}: {err}"
            );
            assert!(!err.contains("panicked"), "{name}: {a:?}: {err}");
        }
    }
}

#[test]
fn other_binary_files_are_named_not_parsed() {
    let scratch = tempfile::tempdir().unwrap();
    let (_keep, plain) = real_connection(SHELL, "jsonl", true);
    let zip_of_log = {
        // A zip's local header, then the log: still not a trail log.
        let mut z = b"PK\x03\x04\x14\0\0\0\x08\0".to_vec();
        z.extend(fs::read(plain.join("0.jsonl")).unwrap());
        z
    };
    for (name, bytes, kind) in [
        (
            "shot.png",
            b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR\0\0\0\x10".to_vec(),
            "PNG image data",
        ),
        (
            "tool.jsonl",
            b"\x7fELF\x02\x01\x01\0\0\0\0\0\0\0\0\0\x03\0>\0".to_vec(),
            "ELF executable data",
        ),
        ("logs.zip", zip_of_log.clone(), "zip archive data"),
        (
            "logs.jsonl.gz",
            gzip(&zip_of_log),
            "gzip data holding zip archive data",
        ),
    ] {
        let path = scratch.path().join(name);
        fs::write(&path, &bytes).unwrap();
        let p = arg(&path);
        for a in [
            vec!["cat", p],
            vec!["stats", p],
            vec!["inspect", p],
            vec!["convert", "--to", "ecs", p],
            vec!["grep", "x", p],
            vec!["play", p],
        ] {
            let o = run(&a);
            let err = text(&o.stderr);
            assert_eq!(o.status.code(), Some(1), "{name}: {a:?}: {err}");
            assert!(
                err.starts_with(&format!("{p}: error: this is {kind}, not a trail log\n")),
                "{name}: {a:?}: {err}"
            );
            assert!(!err.contains("timestamp"), "{name}: {a:?}: {err}");
        }
    }
}

#[test]
fn a_path_that_cannot_be_read_prints_only_its_error() {
    let scratch = tempfile::tempdir().unwrap();
    let missing = scratch.path().join("nope.jsonl");
    // Found, but it cannot be opened (open(2) of a socket fails).
    let socket = scratch.path().join("0.jsonl");
    let _listener = std::os::unix::net::UnixListener::bind(&socket).unwrap();
    let png = scratch.path().join("shot.png");
    fs::write(&png, b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR").unwrap();
    for path in [&missing, &socket, &png] {
        let p = arg(path);
        for a in [
            vec!["inspect", p],
            vec!["inspect", "--json", p],
            vec!["play", p],
            vec!["convert", "--to", "text", p],
            vec!["commands", p],
        ] {
            let o = run(&a);
            let err = text(&o.stderr);
            assert_eq!(o.status.code(), Some(1), "{a:?}: {err}");
            let stdout = text(&o.stdout);
            if a.contains(&"--json") {
                assert_eq!(stdout, "{\"connections\":[]}\n", "{a:?}");
            } else {
                assert_eq!(stdout, "", "{a:?}");
            }
            assert_eq!(err.lines().count(), 1, "{a:?}: {err}");
            assert!(err.starts_with(&format!("{p}: error: ")), "{a:?}: {err}");
        }
    }
}

#[test]
fn an_empty_log_has_no_start_time_in_its_asciicast_header() {
    let scratch = tempfile::tempdir().unwrap();
    let empty = scratch.path().join("0.jsonl");
    fs::write(&empty, b"").unwrap();
    for (to, version) in [("asciicast", 2), ("asciicast-v3", 3)] {
        let o = run(&["convert", "--to", to, arg(&empty)]);
        assert_eq!(o.status.code(), Some(0), "{}", text(&o.stderr));
        let out = text(&o.stdout);
        let header: serde_json::Value = serde_json::from_str(out.lines().next().unwrap()).unwrap();
        assert_eq!(header["version"], version, "{out}");
        assert!(header.get("timestamp").is_none(), "{to}: {out}");
    }
    // A real recording keeps its start.
    let (_keep, plain) = real_connection(SHELL, "jsonl", true);
    let o = run(&["convert", "--to", "asciicast", arg(&plain)]);
    let header: serde_json::Value =
        serde_json::from_str(text(&o.stdout).lines().next().unwrap()).unwrap();
    assert!(
        header["timestamp"].as_i64().unwrap() > 1_700_000_000,
        "{header}"
    );
}

/// Every RFC 3339 time in `text`: `(whole, fraction digits, zone)`.
fn times(text: &str) -> Vec<(String, usize, String)> {
    let re = regex::Regex::new(
        r"\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}:\d{2}(?:\.(\d+))?([Zz]|[+-]\d{2}:\d{2})",
    )
    .unwrap();
    re.captures_iter(text)
        .map(|c| {
            (
                c[0].to_string(),
                c.get(1).map_or(0, |f| f.as_str().len()),
                c[2].to_string(),
            )
        })
        .collect()
}

#[test]
fn derived_times_have_six_fraction_digits_and_evidence_keeps_the_logs_text() {
    let (_keep, plain) = real_connection(SHELL, "jsonl", true);
    let conn = arg(&plain);
    let mut seen_any = 0;
    for a in [
        vec!["commands", "--all", conn],
        vec!["commands", "--json", conn],
        vec!["grep", "pub-notes", conn],
        vec!["grep", "--json", "pub-notes", conn],
        vec!["inspect", conn],
        vec!["inspect", "--json", conn],
        vec!["screen", "--at", "12", conn],
        vec!["convert", "--to", "ecs", "--io", conn],
        vec!["convert", "--to", "ocsf", "--io", conn],
        // (CEF writes its times as epoch milliseconds, as CEF says.)
        vec!["convert", "--to", "hec", "--io", conn],
    ] {
        let o = run(&a);
        assert_eq!(o.status.code(), Some(0), "{a:?}: {}", text(&o.stderr));
        let out = text(&o.stdout);
        let found = times(&out);
        assert!(!found.is_empty(), "{a:?}: no time in {out}");
        seen_any += found.len();
        for (t, digits, zone) in found {
            assert!(digits == 6 && zone == "Z", "{a:?}: {t}");
        }
    }
    assert!(seen_any > 100, "{seen_any}");
    // Evidence: each chunk of `streams` has its event's own time text.
    let log = fs::read_to_string(plain.join("0.jsonl")).unwrap();
    let lines: Vec<&str> = log.lines().collect();
    let scratch = tempfile::tempdir().unwrap();
    let out = scratch.path().join("streams");
    let o = run(&["streams", "-o", arg(&out), conn]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o.stderr));
    let index = out.join(SHELL).join("0").join("index.json");
    let index: serde_json::Value = serde_json::from_slice(&fs::read(index).unwrap()).unwrap();
    let mut chunks = 0;
    for stream in ["stdin", "stdout", "stderr"] {
        for c in index["streams"][stream]["chunks"].as_array().unwrap() {
            let line: serde_json::Value =
                serde_json::from_str(lines[c["line"].as_u64().unwrap() as usize - 1]).unwrap();
            assert_eq!(c["ts"], line["ts"], "{c}");
            chunks += 1;
        }
    }
    assert!(chunks > 100, "{chunks}");
}

/// The README's opening, up to its usage reference.
fn readme_opening() -> String {
    let readme = fs::read_to_string(common::testdata_path("../README.md")).unwrap();
    let end = readme.find("\n## Usage").unwrap();
    readme[..end].to_string()
}

#[test]
fn the_readmes_first_commands_print_readable_text_as_shown() {
    let opening = readme_opening();
    let root = common::testdata_path("..");
    let lines: Vec<&str> = opening.lines().collect();
    let mut commands = 0;
    for (i, line) in lines.iter().enumerate() {
        let Some(args) = line.strip_prefix("    cargo run --release -p sshtrail-cli -- ") else {
            continue;
        };
        commands += 1;
        let args: Vec<&str> = args.split_whitespace().collect();
        // Run where the repository's testdata is, in a scratch folder: a
        // command writing `-o FILE` leaves nothing in the checkout.
        let scratch = tempfile::tempdir().unwrap();
        std::os::unix::fs::symlink(root.join("testdata"), scratch.path().join("testdata")).unwrap();
        let o = Command::new(BIN)
            .args(&args)
            .current_dir(scratch.path())
            .output()
            .unwrap();
        assert_eq!(o.status.code(), Some(0), "{args:?}: {}", text(&o.stderr));
        if let Some(k) = args.iter().position(|a| *a == "-o") {
            // An output file: written, and the page the README promises.
            let written = fs::read_to_string(scratch.path().join(args[k + 1])).unwrap();
            assert!(written.starts_with("<!DOCTYPE html>"), "{args:?}");
            assert!(o.stdout.is_empty(), "{args:?}");
            continue;
        }
        let out = String::from_utf8(o.stdout).expect("text, not binary");
        // Readable on a terminal: no escape sequences, no control bytes.
        assert!(
            !out.chars().any(|c| c.is_control() && c != '\n'),
            "{args:?} writes control characters to the terminal"
        );
        // The output shown under the command (after a blank line, up to
        // the next blank line) is what it prints, `...` standing for lines
        // left out.
        let shown: Vec<&str> = lines[i + 2..]
            .iter()
            .take_while(|l| !l.is_empty())
            .map(|l| l.strip_prefix("    ").unwrap_or(l))
            .collect();
        assert!(shown.len() > 3, "{args:?}: no output shown");
        let printed: Vec<&str> = out.lines().collect();
        let mut at = 0;
        for want in shown.iter().filter(|l| l.trim() != "...") {
            match printed[at..].iter().position(|p| p == want) {
                Some(k) => at += k + 1,
                None => panic!("{args:?}: the README shows {want:?}, not printed in order:\n{out}"),
            }
        }
    }
    assert!(commands >= 2, "{commands} commands in the README's opening");
    // Where the logs come from: the gateway's API and the folder layout.
    for must in [
        "connection-manager",
        "format=jsonl",
        "format=hex",
        "<connection_id>/connection.json",
        "<connection_id>/<channel_id>.jsonl",
        ".jsonl.gz",
    ] {
        assert!(
            opening.contains(must),
            "the README's opening does not say {must}"
        );
    }
}
