//! Python bindings of the `sshtrail` library: read a trail log into events,
//! rebuild its channels, convert a connection to any output format, and
//! hand events and SIEM records to Arrow (pyarrow, through the Arrow C
//! stream interface). No logic of their own: each function calls the
//! library's API and converts the result.

use std::ffi::CString;
use std::io::{self, Read};
use std::path::PathBuf;
use std::sync::Arc;

use arrow_array::builder::{BinaryBuilder, StringBuilder, UInt64Builder};
use arrow_array::ffi_stream::FFI_ArrowArrayStream;
use arrow_array::{ArrayRef, RecordBatch, RecordBatchIterator};
use arrow_schema::{ArrowError, DataType, Field, Schema, SchemaRef};
use pyo3::create_exception;
use pyo3::exceptions::{PyOSError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyCapsule, PyDict};

use sshtrail::archive::{Archive, Discovery, Problem, ProblemKind, ReplayOptions};
use sshtrail::channel::{ChannelEvent, ChannelEventKind, ChannelSink, ConnectionRef};
use sshtrail::connection::Connection;
use sshtrail::output::{
    MemoryOutput, OutputFormat, SiemWriter, StreamOutput, WriterOptions, Writing,
};
use sshtrail::SliceReader;

create_exception!(
    sshtrail,
    ParseError,
    pyo3::exceptions::PyValueError,
    "A malformed trail log: `file`, `line` and `column` (1-based) say where."
);

/// A `ParseError` for `e` in `file`.
fn parse_error(py: Python<'_>, file: &str, e: &sshtrail::ParseError) -> PyErr {
    let err = ParseError::new_err(format!("{file}:{}:{}: {}", e.line, e.column, e.message()));
    let value = err.value(py);
    let _ = value.setattr("file", file);
    let _ = value.setattr("line", e.line);
    let _ = value.setattr("column", e.column);
    err
}

/// The Python exception of the first problem that is not a warning.
fn problem_error(py: Python<'_>, p: &Problem) -> PyErr {
    match &p.kind {
        ProblemKind::Parse(e) => parse_error(py, &p.path, e),
        ProblemKind::Read(e) => PyOSError::new_err(format!("{}: {e}", p.path)),
        _ => PyValueError::new_err(p.to_string()),
    }
}

/// A log given as bytes, or a path to read it from (compressed or not).
enum Source {
    Bytes(Vec<u8>),
    Path(PathBuf),
}

impl<'py> FromPyObject<'_, 'py> for Source {
    type Error = PyErr;

    fn extract(ob: Borrowed<'_, 'py, PyAny>) -> PyResult<Self> {
        if let Ok(b) = ob.cast::<PyBytes>() {
            return Ok(Source::Bytes(b.as_bytes().to_vec()));
        }
        if let Ok(b) = ob.extract::<Vec<u8>>() {
            if !ob.is_instance_of::<pyo3::types::PyString>() {
                return Ok(Source::Bytes(b));
            }
        }
        Ok(Source::Path(ob.extract::<PathBuf>()?))
    }
}

impl Source {
    /// The log's bytes, decompressed, and its name.
    fn read(self) -> PyResult<(String, Vec<u8>)> {
        match self {
            Source::Bytes(b) => Ok(("<bytes>".to_string(), b)),
            Source::Path(p) => {
                let name = p.display().to_string();
                let mut bytes = Vec::new();
                sshtrail::archive::open_input(&p)
                    .and_then(|mut r| r.read_to_end(&mut bytes))
                    .map_err(|e| PyOSError::new_err(format!("{name}: {e}")))?;
                Ok((name, bytes))
            }
        }
    }
}

/// Connection metadata given as JSON text or bytes.
fn metadata(connection: Option<&Bound<'_, PyAny>>) -> PyResult<Option<Connection>> {
    let Some(c) = connection else { return Ok(None) };
    if c.is_none() {
        return Ok(None);
    }
    let bytes: Vec<u8> = match c.extract::<String>() {
        Ok(s) => s.into_bytes(),
        Err(_) => c.extract::<Vec<u8>>()?,
    };
    Connection::from_json(&bytes)
        .map(Some)
        .map_err(|e| PyValueError::new_err(format!("connection metadata: {e}")))
}

/// One event of a trail log.
#[pyclass(frozen, get_all, module = "sshtrail")]
struct Event {
    /// The event type (`stdin`, `stdout`, `channel-request`, ...).
    r#type: String,
    /// UTC nanoseconds since the epoch.
    time: i128,
    /// The time as the log wrote it.
    time_text: String,
    /// The decoded payload.
    payload: Py<PyBytes>,
    /// The 1-based line of the log.
    line: u64,
    /// The channel the event names, if it names one.
    channel_id: Option<String>,
}

#[pymethods]
impl Event {
    fn __repr__(&self) -> String {
        format!(
            "Event(type={:?}, time_text={:?}, line={})",
            self.r#type, self.time_text, self.line
        )
    }
}

/// The events of a log (jsonl or hex, told apart by their content).
fn events_of(py: Python<'_>, source: Source) -> PyResult<Vec<Event>> {
    let (name, bytes) = source.read()?;
    let mut out = Vec::new();
    let mut payload = Vec::new();
    for ev in SliceReader::new(&bytes) {
        let ev = match ev {
            Ok(ev) => ev,
            Err(e) if e.is_warning() => continue,
            Err(e) => return Err(parse_error(py, &name, &e)),
        };
        payload.clear();
        ev.decode_payload(&mut payload)
            .map_err(|e| parse_error(py, &name, &e))?;
        out.push(Event {
            r#type: ev.kind.name().to_string(),
            time: ev.ts,
            time_text: ev.ts_text.to_string(),
            payload: PyBytes::new(py, &payload).unbind(),
            line: ev.line,
            channel_id: ev.channel_id().map(|c| c.into_owned()),
        });
    }
    Ok(out)
}

/// read_events(source)
/// --
///
/// Reads a trail log (jsonl or hex; gzip or zstd compressed too) from
/// bytes or a path into its events. Raises ParseError at the first
/// malformed line.
#[pyfunction]
fn read_events(py: Python<'_>, source: Source) -> PyResult<Vec<Event>> {
    events_of(py, source)
}

/// events_table(source)
/// --
///
/// The events of a log as a pyarrow Table: type, time (timestamp, ns,
/// UTC), time_text, payload (binary), line, channel_id.
#[pyfunction]
fn events_table<'py>(py: Python<'py>, source: Source) -> PyResult<Bound<'py, PyAny>> {
    let events = events_of(py, source)?;
    let schema = Arc::new(Schema::new(vec![
        Field::new("type", DataType::Utf8, false),
        Field::new(
            "time",
            DataType::Timestamp(arrow_schema::TimeUnit::Nanosecond, Some("UTC".into())),
            false,
        ),
        Field::new("time_text", DataType::Utf8, false),
        Field::new("payload", DataType::Binary, false),
        Field::new("line", DataType::UInt64, false),
        Field::new("channel_id", DataType::Utf8, true),
    ]));
    let mut kind = StringBuilder::new();
    let mut time = Vec::with_capacity(events.len());
    let mut text = StringBuilder::new();
    let mut payload = BinaryBuilder::new();
    let mut line = UInt64Builder::new();
    let mut channel = StringBuilder::new();
    for e in &events {
        kind.append_value(&e.r#type);
        time.push(i64::try_from(e.time).map_err(|_| PyValueError::new_err("time out of range"))?);
        text.append_value(&e.time_text);
        payload.append_value(e.payload.bind(py).as_bytes());
        line.append_value(e.line);
        channel.append_option(e.channel_id.as_deref());
    }
    let columns: Vec<ArrayRef> = vec![
        Arc::new(kind.finish()),
        Arc::new(arrow_array::TimestampNanosecondArray::from(time).with_timezone("UTC")),
        Arc::new(text.finish()),
        Arc::new(payload.finish()),
        Arc::new(line.finish()),
        Arc::new(channel.finish()),
    ];
    let batch = RecordBatch::try_new(schema.clone(), columns)
        .map_err(|e| PyValueError::new_err(e.to_string()))?;
    to_pyarrow(py, schema, vec![batch])
}

/// An Arrow C stream of record batches (`__arrow_c_stream__`), which
/// pyarrow (and any Arrow library) imports without copying.
#[pyclass(module = "sshtrail")]
struct ArrowStream {
    schema: SchemaRef,
    batches: Option<Vec<RecordBatch>>,
}

#[pymethods]
impl ArrowStream {
    /// Exports the batches once, as an `arrow_array_stream` capsule.
    #[pyo3(signature = (requested_schema=None))]
    fn __arrow_c_stream__<'py>(
        &mut self,
        py: Python<'py>,
        requested_schema: Option<Bound<'py, PyAny>>,
    ) -> PyResult<Bound<'py, PyCapsule>> {
        let _ = requested_schema;
        let batches = self
            .batches
            .take()
            .ok_or_else(|| PyValueError::new_err("the stream was already consumed"))?;
        let reader = RecordBatchIterator::new(
            batches.into_iter().map(Ok::<_, ArrowError>),
            self.schema.clone(),
        );
        let stream = FFI_ArrowArrayStream::new(Box::new(reader));
        let name = CString::new("arrow_array_stream").expect("no NUL");
        PyCapsule::new(py, stream, Some(name))
    }
}

/// `pyarrow.table()` of the batches.
fn to_pyarrow<'py>(
    py: Python<'py>,
    schema: SchemaRef,
    batches: Vec<RecordBatch>,
) -> PyResult<Bound<'py, PyAny>> {
    let stream = Bound::new(
        py,
        ArrowStream {
            schema,
            batches: Some(batches),
        },
    )?;
    py.import("pyarrow")?.getattr("table")?.call1((stream,))
}

/// An archive of one log in memory (named `name`: its channel comes from
/// the name), with the connection's metadata when given.
fn archive_of(name: &str, log: Vec<u8>, meta: Option<Connection>) -> Archive {
    let archive = Archive::from_bytes(name, log);
    match meta {
        Some(m) => archive.with_metadata(m),
        None => archive,
    }
}

/// An archive of a log given as bytes, or of what a path names (a log, a
/// connection folder or a tree).
fn archive_from(
    py: Python<'_>,
    source: Source,
    connection: Option<&Bound<'_, PyAny>>,
    name: &str,
) -> PyResult<Archive> {
    let meta = metadata(connection)?;
    match source {
        Source::Bytes(b) => Ok(archive_of(name, b, meta)),
        Source::Path(p) => {
            let mut first: Option<PyErr> = None;
            let archive = Archive::open(&[&p], &Discovery::standard(), &mut |prob| {
                if !prob.is_warning() && first.is_none() {
                    first = Some(problem_error(py, &prob));
                }
            });
            if let Some(e) = first {
                return Err(e);
            }
            Ok(match meta {
                Some(m) => archive.with_metadata(m),
                None => archive,
            })
        }
    }
}

/// Replays `archive` into `sink`, raising the first problem.
fn replay(py: Python<'_>, archive: &Archive, sink: &mut dyn ChannelSink) -> PyResult<()> {
    let mut first: Option<PyErr> = None;
    let r = archive.replay_with(&ReplayOptions::default(), sink, &mut |p| {
        if !p.is_warning() && first.is_none() {
            first = Some(problem_error(py, &p));
        }
    });
    if let Some(e) = first {
        return Err(e);
    }
    r.map(|_| ()).map_err(|e| PyOSError::new_err(e.to_string()))
}

/// Collects each channel as it ends.
struct Channels {
    out: Vec<serde_json::Value>,
    title: Option<String>,
}

impl ChannelSink for Channels {
    fn connection_start(&mut self, conn: &ConnectionRef<'_>) -> io::Result<()> {
        self.title = conn.title();
        Ok(())
    }

    fn event(&mut self, ev: &ChannelEvent<'_>) -> io::Result<()> {
        if let ChannelEventKind::Ended { .. } = ev.kind {
            let c = ev.channel;
            self.out.push(serde_json::json!({
                "connection_id": c.context.connection_id,
                "channel_id": c.context.channel_id,
                "title": self.title,
                "kind": c.kind,
                "open_type": c.open_type,
                "pty": c.pty.as_ref().map(|p| serde_json::json!({"term": p.term, "cols": p.cols, "rows": p.rows})),
                "env": c.env.iter().cloned().collect::<std::collections::BTreeMap<_, _>>(),
                "shell": c.shell,
                "exec": c.exec,
                "subsystem": c.subsystem,
                "exit_status": c.exit_status,
                "exit_signal": c.exit_signal.as_ref().map(|s| s.signal.clone()),
                "started": c.started.as_ref().map(|s| s.text.clone()),
                "ended": c.ended.as_ref().map(|s| s.text.clone()),
                "bytes": {"stdin": c.bytes[0], "stdout": c.bytes[1], "stderr": c.bytes[2]},
                "requests": c.requests,
                "integrity": c.integrity.as_ref().map(|i| i.verdict.name()),
            }));
        }
        Ok(())
    }
}

/// A JSON value as a Python object (through the json module).
fn to_python<'py>(py: Python<'py>, v: &serde_json::Value) -> PyResult<Bound<'py, PyAny>> {
    py.import("json")?.getattr("loads")?.call1((v.to_string(),))
}

/// channels(source, connection=None, *, name="0.jsonl")
/// --
///
/// Rebuilds the channels of a log (bytes, or a path: a log, a connection
/// folder or a tree) with their metadata: one dict a channel (type,
/// terminal, environment, command, exit, bytes per stream, integrity
/// verdict against the connection metadata).
#[pyfunction]
#[pyo3(signature = (source, connection=None, *, name="0.jsonl"))]
fn channels<'py>(
    py: Python<'py>,
    source: Source,
    connection: Option<&Bound<'py, PyAny>>,
    name: &str,
) -> PyResult<Bound<'py, PyAny>> {
    let archive = archive_from(py, source, connection, name)?;
    let mut sink = Channels {
        out: Vec::new(),
        title: None,
    };
    replay(py, &archive, &mut sink)?;
    to_python(py, &serde_json::Value::Array(sink.out))
}

/// The format named `to`.
fn format_named(to: &str) -> PyResult<OutputFormat> {
    to.parse::<OutputFormat>()
        .map_err(|e| PyValueError::new_err(e.to_string()))
}

/// Every part a conversion writes, by file name (`<channel>.<ext>`,
/// `<channel>.<ext>.timing`, `<channel>/<file>`), as the CLI names them.
fn convert_into(
    py: Python<'_>,
    archive: &Archive,
    format: OutputFormat,
    options: &WriterOptions,
) -> PyResult<Vec<(String, Vec<u8>)>> {
    let mut out = MemoryOutput::default();
    match format.siem_format() {
        // SIEM records: in time order across the connection's channels.
        Some(siem) => {
            // One stream, as the command line writes it.
            let mut stream = StreamOutput::merged(Vec::new());
            let mut writer = SiemWriter::new(siem, options).redacting(options.redact.clone());
            let mut first: Option<PyErr> = None;
            let r =
                writer.write_merged(archive, &ReplayOptions::default(), &mut stream, &mut |p| {
                    if !p.is_warning() && first.is_none() {
                        first = Some(problem_error(py, &p));
                    }
                });
            if let Some(e) = first {
                return Err(e);
            }
            r.map_err(|e| PyOSError::new_err(e.to_string()))?;
            return Ok(vec![(
                format!("records.{}", format.ext()),
                stream.into_inner(),
            )]);
        }
        None => {
            let mut writer = format.writer(options);
            replay(py, archive, &mut Writing::new(&mut writer, &mut out))?;
        }
    }
    Ok(out
        .parts()
        .map(|(k, bytes)| {
            let channel = k.channel.clone().unwrap_or_else(|| "connection".into());
            let name = match &k.name {
                None => format!("{channel}.{}", k.ext),
                Some(n) if format.needs_folder() => format!("{channel}/{n}"),
                Some(n) => format!("{channel}.{}.{n}", k.ext),
            };
            (name, bytes.to_vec())
        })
        .collect())
}

/// The writers' settings.
fn options(io: bool, redact: bool) -> WriterOptions {
    WriterOptions {
        io,
        redact: if redact {
            WriterOptions::default().redact
        } else {
            None
        },
        ..WriterOptions::default()
    }
}

/// convert(log, connection=None, to="asciicast", *, name="0.jsonl", io=False, redact=True)
/// --
///
/// Converts a connection's log (bytes, or a path) to the output format
/// `to` (any `sshtrail convert --to` takes but ocsf-parquet) and returns
/// the bytes of its one output. SIEM formats (ecs, ocsf, cef, hec) give the
/// connection's records in time order. A format writing several files
/// (script's timing, files) raises ValueError: use convert_parts.
#[pyfunction]
#[pyo3(signature = (log, connection=None, to="asciicast", *, name="0.jsonl", io=false, redact=true))]
fn convert<'py>(
    py: Python<'py>,
    log: Source,
    connection: Option<&Bound<'py, PyAny>>,
    to: &str,
    name: &str,
    io: bool,
    redact: bool,
) -> PyResult<Bound<'py, PyBytes>> {
    let format = format_named(to)?;
    let archive = archive_from(py, log, connection, name)?;
    let mut parts = convert_into(py, &archive, format, &options(io, redact))?;
    match parts.len() {
        0 => Ok(PyBytes::new(py, b"")),
        1 => Ok(PyBytes::new(py, &parts.remove(0).1)),
        n => Err(PyValueError::new_err(format!(
            "--to {to} wrote {n} files ({}): use convert_parts",
            parts
                .iter()
                .map(|p| p.0.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        ))),
    }
}

/// convert_parts(log, connection=None, to="asciicast", *, name="0.jsonl", io=False, redact=True)
/// --
///
/// Like convert, every file the conversion writes, by name.
#[pyfunction]
#[pyo3(signature = (log, connection=None, to="asciicast", *, name="0.jsonl", io=false, redact=true))]
fn convert_parts<'py>(
    py: Python<'py>,
    log: Source,
    connection: Option<&Bound<'py, PyAny>>,
    to: &str,
    name: &str,
    io: bool,
    redact: bool,
) -> PyResult<Bound<'py, PyDict>> {
    let format = format_named(to)?;
    let archive = archive_from(py, log, connection, name)?;
    let dict = PyDict::new(py);
    for (k, v) in convert_into(py, &archive, format, &options(io, redact))? {
        dict.set_item(k, PyBytes::new(py, &v))?;
    }
    Ok(dict)
}

/// records_table(log, connection=None, to="ocsf", *, name="0.jsonl", io=False, redact=True)
/// --
///
/// The SIEM records (ocsf or ecs) of a connection as a pyarrow Table of
/// nested structs, the schema inferred from the records (as
/// `convert --to ocsf-parquet` writes them).
#[pyfunction]
#[pyo3(signature = (log, connection=None, to="ocsf", *, name="0.jsonl", io=false, redact=true))]
fn records_table<'py>(
    py: Python<'py>,
    log: Source,
    connection: Option<&Bound<'py, PyAny>>,
    to: &str,
    name: &str,
    io: bool,
    redact: bool,
) -> PyResult<Bound<'py, PyAny>> {
    let format = format_named(to)?;
    if !matches!(format, OutputFormat::Ocsf | OutputFormat::Ecs) {
        return Err(PyValueError::new_err(format!(
            "records_table takes ocsf or ecs, not {to}"
        )));
    }
    let archive = archive_from(py, log, connection, name)?;
    let parts = convert_into(py, &archive, format, &options(io, redact))?;
    let ndjson: Vec<u8> = parts.into_iter().flat_map(|(_, b)| b).collect();
    if ndjson.is_empty() {
        return to_pyarrow(py, Arc::new(Schema::empty()), Vec::new());
    }
    let (schema, batches) = sshtrail::lake::ndjson_batches(&ndjson)
        .map_err(|e| PyValueError::new_err(e.to_string()))?;
    to_pyarrow(py, schema, batches)
}

/// output_formats()
/// --
///
/// The names convert takes.
#[pyfunction]
fn output_formats() -> Vec<&'static str> {
    OutputFormat::ALL.iter().map(|f| f.name()).collect()
}

/// Read, rebuild and convert SSH trail logs (the sshtrail library).
#[pymodule]
#[pyo3(name = "sshtrail")]
fn sshtrail_module(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add("ParseError", m.py().get_type::<ParseError>())?;
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    m.add_class::<Event>()?;
    m.add_class::<ArrowStream>()?;
    m.add_function(wrap_pyfunction!(read_events, m)?)?;
    m.add_function(wrap_pyfunction!(events_table, m)?)?;
    m.add_function(wrap_pyfunction!(channels, m)?)?;
    m.add_function(wrap_pyfunction!(convert, m)?)?;
    m.add_function(wrap_pyfunction!(convert_parts, m)?)?;
    m.add_function(wrap_pyfunction!(records_table, m)?)?;
    m.add_function(wrap_pyfunction!(output_formats, m)?)?;
    Ok(())
}
