//! `sshtrail report`: the evidence page, checked in a real browser (Debian's
//! Chromium driven by Playwright, installed by `.ci/report-deps.sh`) and as
//! plain HTML.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use common::{real_connection, sshtrail, testdata_path};
use regex::Regex;
use sha2::{Digest, Sha256};

/// A shell with vim and a resize.
const VIM: &str = "1c0eb6a5-9524-455b-bc54-0e310f597329";

/// What `sshtrail screen --at AT PATH` prints, without its heading.
fn screen_at(path: &Path, at: &str) -> Vec<String> {
    let out = sshtrail(&["screen", "--at", at, path.to_str().unwrap()]);
    assert!(
        out.status.success(),
        "screen --at {at}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8(out.stdout).unwrap();
    let mut lines: Vec<String> = text
        .lines()
        .skip(1)
        .map(|l| l.trim_end().to_string())
        .collect();
    while lines.last().is_some_and(String::is_empty) {
        lines.pop();
    }
    lines
}

/// Runs `sshtrail report ARGS`, which must succeed.
fn report(args: &[&str]) {
    let out = sshtrail(&[&["report"], args].concat());
    assert!(
        out.status.success(),
        "report {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

fn sha256_hex(path: &Path) -> String {
    let bytes = std::fs::read(path).unwrap();
    Sha256::digest(&bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// The JSON in `<script type="application/json" class="CLASS">` (the first).
fn embedded(page: &str, class: &str) -> serde_json::Value {
    let open = format!("<script type=\"application/json\" class=\"{class}\">");
    let start = page.find(&open).unwrap() + open.len();
    let end = start + page[start..].find("</script>").unwrap();
    serde_json::from_str(&page[start..end]).unwrap()
}

/// The recording's parts: start, end and the cast of each.
fn parts(page: &str) -> Vec<(f64, f64, String)> {
    Regex::new(r#"<script type="application/json" class="part" data-start="([0-9.]+)" data-end="([0-9.]+)">([^<]*)</script>"#)
        .unwrap()
        .captures_iter(page)
        .map(|c| {
            (
                c[1].parse().unwrap(),
                c[2].parse().unwrap(),
                serde_json::from_str(&c[3]).unwrap(),
            )
        })
        .collect()
}

/// The offsets of the commands of the timeline (`data-t`).
fn command_times(page: &str) -> Vec<f64> {
    Regex::new(r#"class="cmd" data-t="([0-9.]+)""#)
        .unwrap()
        .captures_iter(page)
        .map(|c| c[1].parse().unwrap())
        .collect()
}

/// The offsets `sshtrail commands` prints, in seconds (to the millisecond).
fn listed_command_offsets(path: &Path) -> Vec<f64> {
    let out = sshtrail(&["commands", path.to_str().unwrap()]);
    assert!(out.status.success());
    let re = Regex::new(r"\+(\d+)m(\d+\.\d+)s").unwrap();
    String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(|l| {
            let c = re.captures(l).unwrap();
            c[1].parse::<f64>().unwrap() * 60.0 + c[2].parse::<f64>().unwrap()
        })
        .collect()
}

/// Runs the browser script on `plan`; fails (never skips) when the browser
/// tooling is missing.
fn browse(plan: &serde_json::Value) -> serde_json::Value {
    let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/browser/report_check.py");
    let dir = tempfile::tempdir().unwrap();
    let plan_path = dir.path().join("plan.json");
    std::fs::write(&plan_path, plan.to_string()).unwrap();
    assert!(
        Path::new("/usr/bin/chromium").exists(),
        "/usr/bin/chromium is missing: run .ci/report-deps.sh (Debian's chromium)"
    );
    let out = Command::new("python3")
        .arg(&script)
        .arg(&plan_path)
        .output()
        .expect("python3 is needed to drive the browser: run .ci/report-deps.sh");
    assert!(
        out.status.success(),
        "the browser check failed (is Playwright installed? .ci/report-deps.sh installs it): {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

#[test]
fn the_page_plays_seeks_and_searches_in_chromium_offline() {
    let (_dir, conn) = real_connection(VIM, "jsonl", true);
    let out = tempfile::tempdir().unwrap();
    let page_path = out.path().join("vim.html");
    report(&[conn.to_str().unwrap(), "-o", page_path.to_str().unwrap()]);
    let page = std::fs::read_to_string(&page_path).unwrap();

    // The commands of the timeline are those `sshtrail commands` lists, at
    // the same offsets.
    let times = command_times(&page);
    let listed = listed_command_offsets(&conn);
    assert_eq!(times.len(), listed.len());
    for (t, l) in times.iter().zip(&listed) {
        assert!((t - l).abs() < 0.001, "timeline {t} vs commands {l}");
    }
    // The fourth command starts vim, the fifth comes after it quit.
    let (vim_at, after_vim) = (times[3], times[4]);

    // The search's first moment for a word typed in vim only.
    let base: f64 = Regex::new(r#"class="terminal" data-channel="0" data-base="([0-9.]+)""#)
        .unwrap()
        .captures(&page)
        .unwrap()[1]
        .parse()
        .unwrap();
    let index = embedded(&page, "index");
    let hit = index
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e[1].as_str().unwrap().contains("alpha"))
        .expect("the index has the line typed in vim");
    let hit_at = base + hit[0].as_f64().unwrap() + 0.0001;
    assert!(
        vim_at < hit_at && hit_at < after_vim,
        "{hit_at} is inside vim ({vim_at} to {after_vim})"
    );

    let goto_at = "20";
    let plan = serde_json::json!({
        "page": page_path,
        "screenshot": std::env::var("SSHTRAIL_REPORT_SCREENSHOT").ok(),
        "steps": [
            {"op": "goto", "at": goto_at, "expect": screen_at(&conn, goto_at)},
            {"op": "command", "index": 3, "expect": screen_at(&conn, &format!("{vim_at:.6}"))},
            {"op": "search", "query": "alpha", "expect": screen_at(&conn, &format!("{hit_at:.6}"))},
            {"op": "command", "index": 5, "expect": screen_at(&conn, &format!("{:.6}", times[5]))},
            {"op": "idle", "value": "0.5", "at": goto_at, "expect": screen_at(&conn, goto_at)},
            {"op": "idle", "value": "0", "at": goto_at, "expect": screen_at(&conn, goto_at)},
        ],
    });
    let seen = browse(&plan);
    assert_eq!(seen["errors"], serde_json::json!([]), "{seen}");
    let steps = seen["steps"].as_array().unwrap();
    for (step, want) in steps.iter().zip(plan["steps"].as_array().unwrap()) {
        assert_eq!(step["screen"], want["expect"], "{step}");
        // The player's clock, mapped back, is the moment sought.
        let now = step["now"]["session"].as_f64().unwrap();
        let target = step["target"].as_f64().unwrap();
        assert!(
            (now - target).abs() < 0.002,
            "player at {now}, sought {target}"
        );
    }
    assert_eq!(steps[1]["command"], "vim /tmp/pub-notes.txt");
    // The terminal's size: 90x28 at first, 110x34 after the resize (before
    // the sixth command), as `inspect` lists them.
    assert_eq!(steps[0]["size"], serde_json::json!(["90", "28"]));
    assert_eq!(steps[3]["size"], serde_json::json!(["110", "34"]));
    // A marker on the progress bar at every command.
    assert_eq!(seen["markers"], times.len());
    // Idle gaps capped at 0.5 s, the player's clock runs behind the
    // session's (this recording has no gap over 2 s, the default, before
    // 20 s: both clocks agree there); not capped, it is the session's clock
    // less the channel's start. The screen is the same at the same moment.
    let player = |i: usize| steps[i]["now"]["player"].as_f64().unwrap();
    assert!(
        (player(0) - (20.0 - base)).abs() < 0.002,
        "default: {}",
        player(0)
    );
    assert!(
        player(4) < 20.0 - base - 1.0,
        "capped at 0.5 s: {}",
        player(4)
    );
    assert!(
        (player(5) - (20.0 - base)).abs() < 0.002,
        "not capped: {}",
        player(5)
    );
    let hits = steps[2]["hits"].as_array().unwrap();
    assert!(!hits.is_empty() && hits[0].as_str().unwrap().contains("alpha"));
    assert!(steps[2]["screen"]
        .as_array()
        .unwrap()
        .iter()
        .any(|l| l.as_str().unwrap().contains("public note alpha")));
    // The screen at the vim command (just typed, not yet run) is not vim's.
    assert!(!steps[1]["screen"].to_string().contains("public note alpha"));

    // The chain of custody: each input's size and SHA-256.
    let custody = seen["custody"].as_array().unwrap();
    let inputs = [conn.join("0.jsonl"), conn.join("connection.json")];
    assert_eq!(custody.len(), inputs.len(), "{custody:?}");
    for input in &inputs {
        let row = custody
            .iter()
            .find(|r| r["path"] == input.to_str().unwrap())
            .unwrap_or_else(|| panic!("{} not in {custody:?}", input.display()));
        assert_eq!(row["sha256"], sha256_hex(input).as_str());
        assert_eq!(
            row["size"],
            std::fs::metadata(input).unwrap().len().to_string().as_str()
        );
    }

    // No request left the page: the page itself is the only one.
    let page_url = format!("file://{}", page_path.display());
    assert_eq!(seen["requests"], serde_json::json!([page_url]));

    // Printed: the transcript and the timeline, without the player.
    assert_eq!(
        seen["print"],
        serde_json::json!({"player": false, "search": false, "controls": false, "transcript": true, "timeline": true})
    );
    // Without JavaScript: the metadata, the commands and the transcript.
    let no_js = &seen["no_js"];
    assert_eq!(no_js["who"], "trailuser@realtrail.test");
    assert_eq!(no_js["commands"][3], "vim /tmp/pub-notes.txt");
    assert_eq!(no_js["commands"].as_array().unwrap().len(), times.len());
    let transcript = no_js["transcript"].as_str().unwrap();
    assert!(
        transcript.contains("public note alpha") && transcript.contains("alternate screen: vim")
    );
    assert_eq!(no_js["player_text"], "", "no player without JavaScript");

    // Keyboard: Tab reaches the settings, the search and the timeline.
    let stops = seen["tab_stops"].to_string();
    for class in ["goto", "q", "cmd", "idle"] {
        assert!(stops.contains(class), "Tab never reached .{class}: {stops}");
    }
}

#[test]
fn a_long_recording_is_split_into_parts_that_each_show_the_right_screen() {
    let (_dir, conn) = real_connection(VIM, "jsonl", true);
    let out = tempfile::tempdir().unwrap();
    let page_path = out.path().join("parts.html");
    report(&[
        conn.to_str().unwrap(),
        "-o",
        page_path.to_str().unwrap(),
        "--part-size",
        "2048",
    ]);
    let page = std::fs::read_to_string(&page_path).unwrap();
    let parts = parts(&page);
    assert!(parts.len() >= 3, "{} parts", parts.len());
    // Each part is an asciicast v2 recording of its own.
    let mut last_end = -1.0;
    for (_, end, cast) in &parts {
        let mut lines = cast.lines();
        let header: serde_json::Value = serde_json::from_str(lines.next().unwrap()).unwrap();
        assert_eq!(header["version"], 2);
        for l in lines {
            let ev: (f64, String, String) = serde_json::from_str(l).unwrap();
            assert!(ev.0 >= last_end - 1e-9, "times go on across parts");
        }
        last_end = *end;
    }
    // In the browser, moments in the second and the last part show what
    // `screen --at` prints (the part is chosen and its screen drawn first).
    let second = parts[1].0 + 0.25;
    let last = parts.last().unwrap().1 - 0.05;
    let ats = [format!("{second:.3}"), format!("{last:.3}")];
    let plan = serde_json::json!({
        "page": page_path,
        "screenshot": null,
        "steps": ats.iter().map(|at| serde_json::json!(
            {"op": "goto", "at": at, "expect": screen_at(&conn, at)})).collect::<Vec<_>>(),
    });
    let seen = browse(&plan);
    assert_eq!(seen["errors"], serde_json::json!([]), "{seen}");
    for (step, want) in seen["steps"]
        .as_array()
        .unwrap()
        .iter()
        .zip(plan["steps"].as_array().unwrap())
    {
        assert_eq!(step["screen"], want["expect"], "{step}");
    }
}

#[test]
fn several_connections_give_an_index_and_pages_readable_without_javascript() {
    let out = tempfile::tempdir().unwrap();
    let dir = out.path().join("reports");
    let trees = testdata_path("realtrail");
    let a = trees.join(VIM);
    let b = trees.join("6be2d65f-23b2-471f-9b36-6f698b1dfc60");
    let c = trees.join("1b338b0d-311f-49d0-ab15-998b0c5f9d07");
    report(&[
        a.to_str().unwrap(),
        b.to_str().unwrap(),
        c.to_str().unwrap(),
        "-o",
        dir.to_str().unwrap(),
    ]);
    let index = std::fs::read_to_string(dir.join("index.html")).unwrap();
    for id in [VIM, "6be2d65f-23b2-471f-9b36-6f698b1dfc60"] {
        assert!(index.contains(&format!("href=\"{id}.html\"")), "{index}");
        let page = std::fs::read_to_string(dir.join(format!("{id}.html"))).unwrap();
        // Without JavaScript: the metadata, the redaction notice and the
        // transcript are plain HTML; the player's controls are hidden.
        assert!(page.contains("<dt>Who</dt><dd class=\"who\">trailuser@realtrail.test</dd>"));
        assert!(page.contains("<strong>Redaction is on:</strong>"));
        assert!(!page.contains("src=\"http"), "nothing is fetched");
    }
    let vim = std::fs::read_to_string(dir.join(format!("{VIM}.html"))).unwrap();
    assert!(vim
        .contains("<div class=\"controls\" role=\"group\" aria-label=\"Player settings\" hidden>"));
    let transcript = &vim[vim.find("<pre class=\"transcript\"").unwrap()..];
    let transcript = &transcript[..transcript.find("</pre>").unwrap()];
    assert!(transcript.contains("alternate screen: vim"));
    assert!(transcript.contains("public note alpha"));
    assert!(transcript.contains("end of alternate screen"));

    // An SCP upload: the file, as the client sent it (truth.json).
    let scp = "6be2d65f-23b2-471f-9b36-6f698b1dfc60";
    let truth: serde_json::Value =
        serde_json::from_slice(&std::fs::read(trees.join(scp).join("truth.json")).unwrap())
            .unwrap();
    let up = &truth["client"]["files"]["upload"];
    let page = std::fs::read_to_string(dir.join(format!("{scp}.html"))).unwrap();
    assert!(page.contains(&format!(
        "<tr><td>upload (scp)</td><td>{}</td><td>{}</td><td><code>{}</code></td><td>yes</td><td>agrees</td></tr>",
        up["remote"].as_str().unwrap(),
        up["size"],
        up["sha256"].as_str().unwrap()
    )), "the upload is listed");
    assert!(page.contains("exec: scp -p -t uploaded.tar"));

    // The index sorts by a column, ascending then descending, in Chromium.
    let durations: Vec<(String, f64)> = Regex::new(
        r#"<tr><td><a href="[^"]*">([^<]*)</a></td>(?:<td>[^<]*</td>){4}<td data-v="([0-9.]+)">"#,
    )
    .unwrap()
    .captures_iter(&index)
    .map(|c| (c[1].to_string(), c[2].parse().unwrap()))
    .collect();
    assert_eq!(durations.len(), 3, "{index}");
    let mut up = durations.clone();
    up.sort_by(|a, b| a.1.total_cmp(&b.1));
    let up: Vec<String> = up.into_iter().map(|d| d.0).collect();
    let down: Vec<String> = up.iter().rev().cloned().collect();
    let seen = browse(&serde_json::json!({"page": dir.join("index.html"), "sort_by": 5}));
    assert_eq!(seen["orders"], serde_json::json!([up, down]));
    assert_eq!(seen["aria_sort"], "descending");
    assert_eq!(seen["errors"], serde_json::json!([]));
    assert_eq!(seen["requests"].as_array().unwrap().len(), 1, "{seen}");

    // Writing again refuses to overwrite without --force.
    let again = sshtrail(&[
        "report",
        a.to_str().unwrap(),
        "-o",
        dir.join(format!("{VIM}.html")).to_str().unwrap(),
    ]);
    assert!(!again.status.success());
}

#[test]
fn a_batch_writes_one_report_a_connection_listed_in_the_manifest() {
    let out = tempfile::tempdir().unwrap();
    let dir = out.path().join("batch");
    let trees = testdata_path("realtrail");
    // A connection with three logs (two forwarded channels and the global
    // requests) and one with a shell.
    let forwards = "56461fdd-d065-4ddb-b56c-a3ea79593e58";
    let run = sshtrail(&[
        "convert",
        "--to",
        "html,text",
        "-o",
        dir.to_str().unwrap(),
        trees.join(forwards).to_str().unwrap(),
        trees.join(VIM).to_str().unwrap(),
    ]);
    assert!(
        run.status.success(),
        "{}",
        String::from_utf8_lossy(&run.stderr)
    );
    let manifest = std::fs::read_to_string(dir.join("manifest.jsonl")).unwrap();
    let mut pages = Vec::new();
    for line in manifest.lines() {
        let row: serde_json::Value = serde_json::from_str(line).unwrap();
        for o in row["outputs"].as_array().unwrap() {
            if o["format"] == "html" {
                let path = dir.join(o["path"].as_str().unwrap());
                assert_eq!(o["sha256"], sha256_hex(&path).as_str());
                pages.push(o["path"].as_str().unwrap().to_string());
            }
        }
    }
    pages.sort();
    let mut want = vec![
        format!("{forwards}/report.html"),
        format!("{VIM}/report.html"),
    ];
    want.sort();
    assert_eq!(pages, want, "one page a connection, listed once");
    // The page of the connection with three logs has all its channels and
    // all its logs in its chain of custody.
    let page = std::fs::read_to_string(dir.join(forwards).join("report.html")).unwrap();
    for ch in ["Channel 1 (direct-tcpip)", "Channel 1-2 (direct-tcpip)"] {
        assert!(page.contains(ch), "{ch}");
    }
    assert!(
        !page.contains("Channel global"),
        "the global requests are no channel"
    );
    for log in ["1.jsonl", "1-2.jsonl", "global.jsonl", "connection.json"] {
        let path = trees.join(forwards).join(log);
        assert!(page.contains(&format!(
            "<td class=\"path\">{}</td><td class=\"size\">{}</td><td class=\"sha256\"><code>{}</code></td>",
            path.display(),
            std::fs::metadata(&path).unwrap().len(),
            sha256_hex(&path)
        )), "{log} in the chain of custody");
    }
}

#[test]
fn secrets_typed_at_prompts_are_nowhere_on_the_page() {
    let id = "1dd56798-86a1-46a4-8404-827bac6c0920";
    let conn = testdata_path("realtrail").join(id);
    let truth: serde_json::Value =
        serde_json::from_slice(&std::fs::read(conn.join("truth.json")).unwrap()).unwrap();
    let out = tempfile::tempdir().unwrap();
    let page_path = out.path().join("secrets.html");
    report(&[conn.to_str().unwrap(), "-o", page_path.to_str().unwrap()]);
    let page = std::fs::read_to_string(&page_path).unwrap();
    let secrets = truth["client"]["secrets_typed_at_prompts"]
        .as_array()
        .unwrap();
    assert_eq!(secrets.len(), 2);
    for s in secrets {
        let secret = s["secret"].as_str().unwrap();
        for form in [
            secret.to_string(),
            secret.replace('&', "&amp;"),
            serde_json::to_string(secret)
                .unwrap()
                .trim_matches('"')
                .to_string(),
        ] {
            assert!(!page.contains(&form), "the secret {form:?} is on the page");
        }
    }
    // The commands around them are there, and the page says it redacts.
    assert!(page.contains("<code>echo visible-after-secrets</code>"));
    assert!(page.contains("<strong>Redaction is on:</strong>"));
}

#[test]
fn an_exec_channel_shows_its_command_output_and_end() {
    let conn = testdata_path("realtrail").join("1b338b0d-311f-49d0-ab15-998b0c5f9d07");
    let out = tempfile::tempdir().unwrap();
    let page_path = out.path().join("exec.html");
    report(&[conn.to_str().unwrap(), "-o", page_path.to_str().unwrap()]);
    let page = std::fs::read_to_string(&page_path).unwrap();
    assert!(page.contains("exec: echo going; kill -HUP $$ · killed by HUP"));
    assert!(page.contains("<h4>stdout</h4><pre class=\"output output-stdout\">going\n</pre>"));
    // No terminal, so no player.
    assert!(!page.contains("class=\"terminal\""));
}

#[test]
fn every_shipped_recording_gives_pages_whose_embedded_data_reads_back() {
    let out = tempfile::tempdir().unwrap();
    for tree in ["realbash", "realtrail"] {
        let dir = out.path().join(tree);
        report(&[
            testdata_path(tree).to_str().unwrap(),
            "-o",
            dir.to_str().unwrap(),
        ]);
        let mut pages = 0;
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.file_name().unwrap() == "index.html" {
                continue;
            }
            pages += 1;
            let page = std::fs::read_to_string(&path).unwrap();
            // Every part is a JSON string holding an asciicast v2 recording
            // whose events parse; the index is a JSON array of [time, text].
            for (start, end, cast) in parts(&page) {
                assert!(start <= end, "{}", path.display());
                let mut lines = cast.lines();
                let header: serde_json::Value =
                    serde_json::from_str(lines.next().unwrap()).unwrap();
                assert_eq!(header["version"], 2);
                for l in lines {
                    let _: (f64, String, String) = serde_json::from_str(l)
                        .unwrap_or_else(|e| panic!("{}: {l}: {e}", path.display()));
                }
            }
            if page.contains("class=\"terminal\"") {
                let index = embedded(&page, "index");
                assert!(index
                    .as_array()
                    .unwrap()
                    .iter()
                    .all(|e| e[0].as_f64().is_some() && e[1].as_str().is_some()));
            }
            // Exactly one closing tag per opened script element: nothing
            // embedded closed one early.
            assert_eq!(
                page.matches("<script").count(),
                page.matches("</script>").count(),
                "{}",
                path.display()
            );
        }
        let index = std::fs::read_to_string(dir.join("index.html")).unwrap();
        assert_eq!(index.matches("<tr><td><a href=").count(), pages, "{tree}");
        assert!(pages >= 8, "{tree}: {pages} pages");
    }
}
