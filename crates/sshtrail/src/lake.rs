//! OCSF records in Parquet, laid out for a security data lake (Amazon
//! Security Lake custom sources), and any records as Arrow record batches.
//!
//! [`OcsfLake`] takes the OCSF records of a conversion ([`crate::siem`],
//! the same documents `convert --to ocsf` writes) and groups them by OCSF
//! class and UTC day: Security Lake wants one class a source, and
//! partitions by day. Each group waits in a spill file on disk (memory
//! stays bounded whatever the input's size); [`OcsfLake::write_group`]
//! writes it as one Parquet file, rows sorted by `time`, in row groups of
//! [`ROW_GROUP_ROWS`] rows written as they fill. [`LakeLayout::part_path`]
//! names the file:
//! `ext/<source>-<class_uid>/region=<region>/accountId=<account>/eventDay=<YYYYMMDD>/part-<run>.parquet`.
//!
//! The schema is not declared: it is inferred per group from its records
//! (arrow-json's inference), so a Parquet file has exactly the attributes
//! its records have, as nested structs and lists (no JSON strings).
//! Parquet has no empty struct: an attribute that is `{}` in every record
//! of a group is left out, and reads back as absent (as do `null`s).
//!
//! ```
//! use sshtrail::archive::Archive;
//! use sshtrail::lake::OcsfLake;
//! use sshtrail::siem::SiemOptions;
//!
//! let log = b"2023-06-07T17:32:00Z stdin 6c730a\n2023-06-07T17:32:01Z stdout 6869\n";
//! let archive = Archive::from_bytes("0.hex", log);
//! let mut lake = OcsfLake::new(None)?;
//! lake.convert(&archive, SiemOptions::default(), &mut |p| panic!("{p}"))?;
//! let groups = lake.groups();
//! assert_eq!(groups[0].class_uid, 4007); // SSH Activity
//! assert_eq!(groups[0].day, "20230607");
//! let mut parquet = Vec::new();
//! let rows = lake.write_group(&groups[0], &mut parquet)?;
//! assert_eq!(rows, groups[0].rows);
//! assert!(parquet.starts_with(b"PAR1"));
//! # Ok::<(), std::io::Error>(())
//! ```

use std::collections::BTreeMap;
use std::fs::File;
use std::io::{self, BufRead, BufReader, BufWriter, Seek, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use arrow_array::RecordBatch;
use arrow_schema::{DataType, Field, Fields, Schema, SchemaRef};
use parquet::arrow::ArrowWriter;
use parquet::basic::Compression;
use parquet::file::properties::WriterProperties;

use crate::archive::{Archive, Problem, ReplayCounts, ReplayOptions};
use crate::siem::{self, SiemEvent, SiemFormat, SiemOptions};

/// Rows in a Parquet row group: a row group is written (and its memory let
/// go) as soon as it fills.
pub const ROW_GROUP_ROWS: usize = 16 * 1024;

/// Rows in an Arrow record batch read from the spill.
pub const BATCH_ROWS: usize = 4096;

/// The most bytes of records sorted in memory at once when a group's
/// records came out of time order (sorted runs are then merged from disk).
const SORT_RUN_BYTES: usize = 32 << 20;

/// An error of Arrow or Parquet, as an I/O error.
fn other(e: impl std::fmt::Display) -> io::Error {
    io::Error::other(e.to_string())
}

/// Where a data lake's files go: the custom source's name, the AWS region
/// and account.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LakeLayout {
    /// The custom source's name (each OCSF class is the source
    /// `<source>-<class_uid>`).
    pub source: String,
    /// The region (`region=` partition).
    pub region: String,
    /// The account id (`accountId=` partition).
    pub account: String,
}

/// A name that can be one path component: letters, digits, `.`, `_`, `-`
/// (and not `.` or `..`).
fn component(what: &str, s: &str) -> Result<(), String> {
    if s.is_empty()
        || s == "."
        || s == ".."
        || !s
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
    {
        return Err(format!(
            "{what} {s:?}: expected letters, digits, '.', '_' or '-'"
        ));
    }
    Ok(())
}

impl LakeLayout {
    /// The layout, each name checked to be a safe path component.
    pub fn new(source: &str, region: &str, account: &str) -> Result<LakeLayout, String> {
        component("source", source)?;
        component("region", region)?;
        component("account", account)?;
        Ok(LakeLayout {
            source: source.to_string(),
            region: region.to_string(),
            account: account.to_string(),
        })
    }

    /// The folder of a class and day, relative to the output folder.
    pub fn folder(&self, class_uid: u32, day: &str) -> PathBuf {
        Path::new("ext")
            .join(format!("{}-{class_uid}", self.source))
            .join(format!("region={}", self.region))
            .join(format!("accountId={}", self.account))
            .join(format!("eventDay={day}"))
    }

    /// The Parquet file of a class and day written by the run `run`,
    /// relative to the output folder (`run` must be a safe path component).
    pub fn part_path(&self, class_uid: u32, day: &str, run: &str) -> PathBuf {
        self.folder(class_uid, day)
            .join(format!("part-{run}.parquet"))
    }
}

/// One class and day of records: one Parquet file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LakeGroup {
    /// The OCSF `class_uid`.
    pub class_uid: u32,
    /// The UTC day of the records' `time`, `YYYYMMDD`.
    pub day: String,
    /// How many records.
    pub rows: u64,
}

/// The records of a group waiting on disk.
struct Spill {
    file: BufWriter<File>,
    rows: u64,
    /// The last `time` pushed, and whether times never went back.
    last: i64,
    sorted: bool,
}

/// OCSF records grouped by class and day, spilled to disk, written as
/// Parquet one group at a time.
pub struct OcsfLake {
    dir: tempfile::TempDir,
    groups: BTreeMap<(u32, String), Spill>,
    line: Vec<u8>,
}

/// The UTC day `YYYYMMDD` of a time in milliseconds.
fn day_of(millis: i64) -> String {
    let text = crate::time::format_rfc3339(i128::from(millis) * 1_000_000);
    text.get(..10).unwrap_or("").replace('-', "")
}

/// `time` and `class_uid` of an OCSF record.
fn time_and_class(line: &[u8]) -> io::Result<(i64, u32)> {
    #[derive(serde::Deserialize)]
    struct Head {
        time: i64,
        class_uid: u32,
    }
    let h: Head = serde_json::from_slice(line)
        .map_err(|e| io::Error::new(io::ErrorKind::InvalidData, format!("OCSF record: {e}")))?;
    Ok((h.time, h.class_uid))
}

impl OcsfLake {
    /// An empty lake spilling into a temporary folder in `temp_in` (the
    /// system's temporary folder for `None`).
    pub fn new(temp_in: Option<&Path>) -> io::Result<OcsfLake> {
        let dir = match temp_in {
            Some(p) => tempfile::Builder::new()
                .prefix(".sshtrail-lake-")
                .tempdir_in(p)?,
            None => tempfile::Builder::new()
                .prefix("sshtrail-lake-")
                .tempdir()?,
        };
        Ok(OcsfLake {
            dir,
            groups: BTreeMap::new(),
            line: Vec::new(),
        })
    }

    /// Adds one record.
    pub fn push(&mut self, record: &SiemEvent) -> io::Result<()> {
        let mut line = std::mem::take(&mut self.line);
        line.clear();
        siem::write(SiemFormat::Ocsf, record, &mut line);
        let r = self.push_line(&line);
        self.line = line;
        r
    }

    /// Adds one OCSF record given as its JSON line (as `convert --to ocsf`
    /// writes it, with or without its line feed).
    pub fn push_line(&mut self, line: &[u8]) -> io::Result<()> {
        let line = line.strip_suffix(b"\n").unwrap_or(line);
        let (time, class_uid) = time_and_class(line)?;
        let key = (class_uid, day_of(time));
        let spill = match self.groups.get_mut(&key) {
            Some(s) => s,
            None => {
                let path = self.dir.path().join(format!("{}-{}.ndjson", key.0, key.1));
                let file = BufWriter::new(File::create_new(path)?);
                self.groups.entry(key).or_insert(Spill {
                    file,
                    rows: 0,
                    last: i64::MIN,
                    sorted: true,
                })
            }
        };
        if time < spill.last {
            spill.sorted = false;
        }
        spill.last = spill.last.max(time);
        spill.rows += 1;
        spill.file.write_all(line)?;
        spill.file.write_all(b"\n")
    }

    /// Replays every connection of `archive` and adds their OCSF records
    /// (in time order across connections, [`siem::merge_records`]; secrets
    /// typed at prompts redacted by the default rules).
    pub fn convert(
        &mut self,
        archive: &Archive,
        options: SiemOptions,
        problems: &mut dyn FnMut(Problem),
    ) -> io::Result<ReplayCounts> {
        let rules = crate::redact::SecretRules::default();
        self.convert_with(
            archive,
            &ReplayOptions::default(),
            options,
            Some(&rules),
            problems,
        )
        .map(|c| c.replay)
    }

    /// [`OcsfLake::convert`] with the replay options and redaction rules
    /// (`None`: keeps every key) given.
    pub fn convert_with(
        &mut self,
        archive: &Archive,
        replay: &ReplayOptions,
        options: SiemOptions,
        redact: Option<&crate::redact::SecretRules>,
        problems: &mut dyn FnMut(Problem),
    ) -> io::Result<siem::MergeCounts> {
        siem::merge_records(
            archive,
            replay,
            options,
            redact,
            &mut |r| {
                let mut line = Vec::new();
                siem::write(SiemFormat::Ocsf, r, &mut line);
                line
            },
            &mut |line| self.push_line(&line),
            problems,
        )
    }

    /// The groups, by class then day.
    pub fn groups(&self) -> Vec<LakeGroup> {
        self.groups
            .iter()
            .map(|((class_uid, day), s)| LakeGroup {
                class_uid: *class_uid,
                day: day.clone(),
                rows: s.rows,
            })
            .collect()
    }

    /// Writes the group `group` as one Parquet file into `out`, its rows
    /// sorted by `time`; returns how many rows.
    pub fn write_group<W: Write + Send>(&mut self, group: &LakeGroup, out: W) -> io::Result<u64> {
        let key = (group.class_uid, group.day.clone());
        let spill = self
            .groups
            .get_mut(&key)
            .ok_or_else(|| other(format!("no group {}/{}", group.class_uid, group.day)))?;
        spill.file.flush()?;
        let sorted = spill.sorted;
        let path = self.dir.path().join(format!("{}-{}.ndjson", key.0, key.1));
        let path = if sorted {
            path
        } else {
            let out = self
                .dir
                .path()
                .join(format!("{}-{}.sorted.ndjson", key.0, key.1));
            sort_by_time(&path, &out, self.dir.path())?;
            out
        };
        let mut input = BufReader::new(File::open(&path)?);
        let schema = infer_schema(&mut input)?;
        let props = WriterProperties::builder()
            .set_compression(Compression::SNAPPY)
            .set_max_row_group_row_count(Some(ROW_GROUP_ROWS))
            .build();
        let mut writer = ArrowWriter::try_new(out, schema.clone(), Some(props)).map_err(other)?;
        let mut rows = 0u64;
        for batch in read_batches(input, schema)? {
            let batch = batch?;
            rows += batch.num_rows() as u64;
            writer.write(&batch).map_err(other)?;
        }
        writer.close().map_err(other)?;
        Ok(rows)
    }
}

/// The schema of the JSON records of `input` (then rewound), made
/// writable as Parquet: structs that never had a member are left out.
fn infer_schema<R: BufRead + Seek>(input: &mut R) -> io::Result<SchemaRef> {
    let (schema, _) = arrow_json::reader::infer_json_schema_from_seekable(input, None)
        .map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e.to_string()))?;
    let fields: Vec<Field> = schema.fields().iter().filter_map(|f| writable(f)).collect();
    Ok(Arc::new(Schema::new(fields)))
}

/// `field`, less the structs without members at any depth (`None` if it
/// is one).
fn writable(field: &Field) -> Option<Field> {
    let data_type = match field.data_type() {
        DataType::Struct(members) => {
            let kept: Vec<Field> = members.iter().filter_map(|f| writable(f)).collect();
            if kept.is_empty() {
                return None;
            }
            DataType::Struct(Fields::from(kept))
        }
        DataType::List(item) => DataType::List(Arc::new(writable(item)?)),
        other => other.clone(),
    };
    Some(field.clone().with_data_type(data_type))
}

/// The JSON records of `input` as record batches of `schema`, at most
/// [`BATCH_ROWS`] rows each (values of other types than inferred become
/// text, as inference widens them).
pub fn read_batches<R: BufRead>(
    input: R,
    schema: SchemaRef,
) -> io::Result<impl Iterator<Item = io::Result<RecordBatch>>> {
    let reader = arrow_json::ReaderBuilder::new(schema)
        .with_batch_size(BATCH_ROWS)
        .with_coerce_primitive(true)
        .build(input)
        .map_err(other)?;
    Ok(reader.map(|b| b.map_err(other)))
}

/// Newline-delimited JSON records (OCSF, ECS or any) as record batches,
/// their schema inferred from all of them: how the bindings hand records
/// to Arrow.
pub fn ndjson_batches(ndjson: &[u8]) -> io::Result<(SchemaRef, Vec<RecordBatch>)> {
    let mut cursor = io::Cursor::new(ndjson);
    let schema = infer_schema(&mut cursor)?;
    let batches = read_batches(cursor, schema.clone())?.collect::<io::Result<Vec<_>>>()?;
    Ok((schema, batches))
}

/// Sorts the JSON lines of `input` by their `time` (stably) into `output`,
/// in memory runs of at most [`SORT_RUN_BYTES`] merged from files in `tmp`.
fn sort_by_time(input: &Path, output: &Path, tmp: &Path) -> io::Result<()> {
    let mut runs: Vec<PathBuf> = Vec::new();
    let mut lines: Vec<(i64, Vec<u8>)> = Vec::new();
    let mut bytes = 0usize;
    let flush = |lines: &mut Vec<(i64, Vec<u8>)>, runs: &mut Vec<PathBuf>| -> io::Result<()> {
        lines.sort_by_key(|(t, _)| *t);
        let path = tmp.join(format!("run-{}.ndjson", runs.len()));
        let mut w = BufWriter::new(File::create_new(&path)?);
        for (_, l) in lines.drain(..) {
            w.write_all(&l)?;
        }
        w.flush()?;
        runs.push(path);
        Ok(())
    };
    for line in BufReader::new(File::open(input)?).split(b'\n') {
        let mut line = line?;
        let (time, _) = time_and_class(&line)?;
        line.push(b'\n');
        bytes += line.len();
        lines.push((time, line));
        if bytes >= SORT_RUN_BYTES {
            flush(&mut lines, &mut runs)?;
            bytes = 0;
        }
    }
    if !lines.is_empty() {
        flush(&mut lines, &mut runs)?;
    }
    // Merge: the smallest time first; among equal times, the earlier run
    // (a stable sort). Each run's next line waits in `pending`.
    type Lines = std::io::Split<BufReader<File>>;
    fn next(lines: &mut Lines) -> io::Result<Option<(i64, Vec<u8>)>> {
        match lines.next() {
            Some(line) => {
                let line = line?;
                let (t, _) = time_and_class(&line)?;
                Ok(Some((t, line)))
            }
            None => Ok(None),
        }
    }
    let mut readers: Vec<Lines> = runs
        .iter()
        .map(|p| File::open(p).map(|f| BufReader::new(f).split(b'\n')))
        .collect::<io::Result<_>>()?;
    let mut heap = std::collections::BinaryHeap::new();
    let mut pending: Vec<Option<Vec<u8>>> = Vec::with_capacity(readers.len());
    for (i, r) in readers.iter_mut().enumerate() {
        let first = next(r)?;
        if let Some((t, _)) = &first {
            heap.push(std::cmp::Reverse((*t, i)));
        }
        pending.push(first.map(|(_, l)| l));
    }
    let mut w = BufWriter::new(File::create_new(output)?);
    while let Some(std::cmp::Reverse((_, i))) = heap.pop() {
        if let Some(l) = pending[i].take() {
            w.write_all(&l)?;
            w.write_all(b"\n")?;
        }
        if let Some((t, l)) = next(&mut readers[i])? {
            pending[i] = Some(l);
            heap.push(std::cmp::Reverse((t, i)));
        }
    }
    w.flush()?;
    for p in runs {
        std::fs::remove_file(p)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(time: i64, class_uid: u32, n: u32) -> Vec<u8> {
        format!(
            r#"{{"time":{time},"class_uid":{class_uid},"n":{n},"obj":{{"a":"x{n}"}},"empty":{{}}}}"#
        )
        .into_bytes()
    }

    #[test]
    fn groups_by_class_and_day_and_sorts_out_of_order_records() {
        let mut lake = OcsfLake::new(None).unwrap();
        let day = 86_400_000i64;
        // Out of order within class 4007, day 1; two days; two classes.
        for (t, c, n) in [
            (day + 5, 4007, 0),
            (day + 1, 4007, 1),
            (day + 3, 4007, 2),
            (day + 3, 4007, 3),
            (2 * day + 1, 4007, 4),
            (day + 2, 1007, 5),
        ] {
            lake.push_line(&record(t, c, n)).unwrap();
        }
        let groups = lake.groups();
        let keys: Vec<_> = groups
            .iter()
            .map(|g| (g.class_uid, g.day.as_str(), g.rows))
            .collect();
        assert_eq!(
            keys,
            [
                (1007, "19700102", 1),
                (4007, "19700102", 4),
                (4007, "19700103", 1)
            ]
        );
        let mut out = Vec::new();
        let rows = lake.write_group(&groups[1], &mut out).unwrap();
        assert_eq!(rows, 4);
        let reader =
            parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder::try_new(bytes_of(out))
                .unwrap()
                .build()
                .unwrap();
        let mut ns = Vec::new();
        for batch in reader {
            let batch = batch.unwrap();
            assert!(batch.schema().field_with_name("empty").is_err());
            let obj = batch.column_by_name("obj").unwrap();
            assert!(matches!(obj.data_type(), DataType::Struct(_)));
            let n = batch
                .column_by_name("n")
                .unwrap()
                .as_any()
                .downcast_ref::<arrow_array::Int64Array>()
                .unwrap()
                .clone();
            ns.extend(n.values().iter().copied());
        }
        // By time, equal times in the order pushed.
        assert_eq!(ns, [1, 2, 3, 0]);
    }

    fn bytes_of(v: Vec<u8>) -> File {
        let mut f = tempfile::tempfile().unwrap();
        f.write_all(&v).unwrap();
        f.rewind().unwrap();
        f
    }

    #[test]
    fn layout_refuses_names_that_leave_the_folder() {
        assert!(LakeLayout::new("../x", "eu-west-1", "1").is_err());
        assert!(LakeLayout::new("src", "a/b", "1").is_err());
        let l = LakeLayout::new("sshtrail", "eu-west-1", "123456789012").unwrap();
        assert_eq!(
            l.part_path(4007, "20230607", "r1"),
            Path::new("ext/sshtrail-4007/region=eu-west-1/accountId=123456789012/eventDay=20230607/part-r1.parquet")
        );
    }
}
