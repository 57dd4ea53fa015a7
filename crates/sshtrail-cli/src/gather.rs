//! Finding the logs and connection metadata that PATH arguments name: log
//! files, or connection directories holding `connection.json` and one log
//! per channel (FORMAT.md section 5).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use sshtrail::connection::{context_from_path, Connection, Context};

use crate::report::Reporter;

/// File extensions taken as trail logs inside a connection directory.
const LOG_EXTENSIONS: [&str; 5] = ["jsonl", "hex", "hexdump", "log", "trail"];

/// The logs and metadata of one connection.
#[derive(Debug, Default)]
pub struct ConnectionInput {
    /// Connection id, when known.
    pub id: Option<String>,
    /// Parsed metadata, when found.
    pub meta: Option<Connection>,
    /// Where the metadata came from.
    pub meta_path: Option<PathBuf>,
    /// Log files with their channel context.
    pub logs: Vec<(PathBuf, Context)>,
}

fn read_meta(path: &Path, rep: &mut Reporter) -> Option<Connection> {
    let bytes = match std::fs::read(path) {
        Ok(b) => b,
        Err(e) => {
            rep.input_error(&path.display().to_string(), &e.to_string());
            return None;
        }
    };
    match Connection::from_json(&bytes) {
        Ok(c) => Some(c),
        Err(e) => {
            rep.connection_error(&path.display().to_string(), &e);
            None
        }
    }
}

/// The metadata file for a log of connection `conn` at `path`, if one exists:
/// `<dir>/connection.json`, `<dir>/<conn>.json` or, for `<conn>/<chan>.ext`,
/// `<conn>.json` beside the folder.
fn meta_for(path: &Path, conn: Option<&str>) -> Option<PathBuf> {
    let dir = path.parent().unwrap_or(Path::new("."));
    let dir = if dir.as_os_str().is_empty() {
        Path::new(".")
    } else {
        dir
    };
    let mut candidates = vec![dir.join("connection.json")];
    if let Some(c) = conn {
        candidates.push(dir.join(format!("{c}.json")));
        if dir.file_name().is_some_and(|d| d == c) {
            if let Some(up) = dir.parent() {
                candidates.push(up.join(format!("{c}.json")));
            }
        }
    }
    candidates.into_iter().find(|p| p.is_file())
}

/// Groups the PATH arguments into connections. Problems (unreadable paths,
/// bad metadata) are reported and the rest goes on.
pub fn gather(paths: &[String], rep: &mut Reporter) -> Vec<ConnectionInput> {
    // Keyed by id and by where the connection lives: two copies of one
    // connection in different folders stay two connections.
    let mut groups: BTreeMap<(Option<String>, PathBuf), ConnectionInput> = BTreeMap::new();
    let mut seen: std::collections::HashSet<PathBuf> = std::collections::HashSet::new();
    let mut loose: Vec<ConnectionInput> = Vec::new();
    for arg in paths {
        let path = PathBuf::from(arg);
        if path.is_dir() {
            let meta_path = path.join("connection.json");
            let meta = meta_path
                .is_file()
                .then(|| read_meta(&meta_path, rep))
                .flatten();
            let dir_name = path.file_name().map(|n| n.to_string_lossy().into_owned());
            let id = meta.as_ref().and_then(|m| m.id.clone()).or(dir_name);
            let mut logs: Vec<PathBuf> = match std::fs::read_dir(&path) {
                Ok(rd) => rd
                    .filter_map(Result::ok)
                    .map(|e| e.path())
                    .filter(|p| {
                        p.is_file()
                            && p.extension()
                                .is_some_and(|x| LOG_EXTENSIONS.iter().any(|l| x == *l))
                    })
                    .collect(),
                Err(e) => {
                    rep.input_error(arg, &e.to_string());
                    continue;
                }
            };
            logs.sort();
            if logs.is_empty() {
                rep.input_error(
                    arg,
                    "no trail logs (*.jsonl, *.hex, *.hexdump) in this directory",
                );
            }
            let key = (
                id.clone(),
                std::fs::canonicalize(&path).unwrap_or(path.clone()),
            );
            let group = groups.entry(key).or_insert_with(|| ConnectionInput {
                id: id.clone(),
                ..Default::default()
            });
            if group.meta.is_none() && meta.is_some() {
                group.meta = meta;
                group.meta_path = Some(meta_path);
            }
            for log in logs {
                if !seen.insert(std::fs::canonicalize(&log).unwrap_or(log.clone())) {
                    continue;
                }
                let channel_id = log
                    .file_stem()
                    .map(|s| s.to_string_lossy().into_owned())
                    .unwrap_or_default();
                group.logs.push((
                    log,
                    Context {
                        connection_id: id.clone(),
                        channel_id,
                    },
                ));
            }
        } else if arg == "-" {
            loose.push(ConnectionInput {
                logs: vec![(
                    path,
                    Context {
                        connection_id: None,
                        channel_id: "-".into(),
                    },
                )],
                ..Default::default()
            });
        } else {
            let has_dir_meta = path
                .parent()
                .is_some_and(|d| d.join("connection.json").is_file());
            let mut context = context_from_path(&path, has_dir_meta);
            let meta_path = meta_for(&path, context.connection_id.as_deref());
            let meta = meta_path.as_ref().and_then(|p| read_meta(p, rep));
            if context.connection_id.is_none() {
                context.connection_id = meta.as_ref().and_then(|m| m.id.clone());
            }
            let id = context.connection_id.clone();
            if !seen.insert(std::fs::canonicalize(&path).unwrap_or(path.clone())) {
                continue;
            }
            if id.is_none() {
                loose.push(ConnectionInput {
                    id: None,
                    meta,
                    meta_path,
                    logs: vec![(path, context)],
                });
                continue;
            }
            let home = path
                .parent()
                .map(|d| std::fs::canonicalize(d).unwrap_or(d.to_path_buf()))
                .unwrap_or_default();
            let group = groups
                .entry((id.clone(), home))
                .or_insert_with(|| ConnectionInput {
                    id,
                    ..Default::default()
                });
            if group.meta.is_none() && meta.is_some() {
                group.meta = meta;
                group.meta_path = meta_path;
            }
            group.logs.push((path, context));
        }
    }
    let mut out: Vec<ConnectionInput> = groups.into_values().collect();
    out.extend(loose);
    out
}
