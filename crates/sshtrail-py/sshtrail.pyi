"""Read, rebuild and convert SSH trail logs (the sshtrail library).

Every function calls the Rust library: the records, conversions and
channels are those of the `sshtrail` command line.
"""

import os
from typing import Any, Literal, TypedDict, Union

import pyarrow

__version__: str

Source = Union[bytes, bytearray, str, "os.PathLike[str]"]
"""A log as bytes, or a path to one (or, where a folder is accepted, to a
connection folder or a tree of them). Paths may be gzip or zstd compressed."""

Connection = Union[str, bytes, None]
"""Connection metadata: the connection object as JSON (connection.json)."""

class ParseError(ValueError):
    """A malformed trail log."""

    file: str
    """The log (its path, or `<bytes>`)."""
    line: int
    """1-based line."""
    column: int
    """1-based byte column in the line."""

class Event:
    """One event of a trail log."""

    @property
    def type(self) -> str:
        """The event type: `stdin`, `stdout`, `channel-request`, ..."""
    @property
    def time(self) -> int:
        """UTC nanoseconds since the epoch."""
    @property
    def time_text(self) -> str:
        """The time as the log wrote it."""
    @property
    def payload(self) -> bytes:
        """The decoded payload."""
    @property
    def line(self) -> int:
        """The 1-based line of the log."""
    @property
    def channel_id(self) -> str | None:
        """The channel the event names, if it names one."""

class Pty(TypedDict):
    term: str
    cols: int
    rows: int

class Bytes(TypedDict):
    stdin: int
    stdout: int
    stderr: int

class Channel(TypedDict):
    """A rebuilt channel, as it ended."""

    connection_id: str | None
    channel_id: str
    title: str | None
    kind: str | None
    open_type: str | None
    pty: Pty | None
    env: dict[str, str]
    shell: bool
    exec: str | None
    subsystem: str | None
    exit_status: int | None
    exit_signal: str | None
    started: str | None
    ended: str | None
    bytes: Bytes
    requests: int
    integrity: Literal["ok", "mismatch", "unknown"] | None

def read_events(source: Source) -> list[Event]:
    """Reads a trail log (jsonl or hex) into its events.

    Raises ParseError at the first malformed line, OSError if a path
    cannot be read."""

def events_table(source: Source) -> pyarrow.Table:
    """The events of a log as a pyarrow Table: type, time (timestamp[ns,
    UTC]), time_text, payload (binary), line, channel_id."""

def channels(source: Source, connection: Connection = None, *, name: str = "0.jsonl") -> list[Channel]:
    """Rebuilds the channels of a log with their metadata (a log given as
    bytes is the channel its `name` says)."""

def convert(
    log: Source,
    connection: Connection = None,
    to: str = "asciicast",
    *,
    name: str = "0.jsonl",
    io: bool = False,
    redact: bool = True,
) -> bytes:
    """Converts a connection's log to the output format `to` (any name of
    output_formats()) and returns its one output's bytes; SIEM records
    (ecs, ocsf, cef, hec) in time order. Raises ValueError for a format
    that writes several files (use convert_parts)."""

def convert_parts(
    log: Source,
    connection: Connection = None,
    to: str = "asciicast",
    *,
    name: str = "0.jsonl",
    io: bool = False,
    redact: bool = True,
) -> dict[str, bytes]:
    """Every file a conversion writes, by name (`<channel>.<ext>`,
    `<channel>.<ext>.timing`, `<channel>/<file>`)."""

def records_table(
    log: Source,
    connection: Connection = None,
    to: Literal["ocsf", "ecs"] = "ocsf",
    *,
    name: str = "0.jsonl",
    io: bool = False,
    redact: bool = True,
) -> pyarrow.Table:
    """The SIEM records of a connection as a pyarrow Table of nested
    structs (schema inferred from the records, as ocsf-parquet)."""

def output_formats() -> list[str]:
    """The format names convert takes."""

class ArrowStream:
    """Record batches exported once through the Arrow C stream interface."""

    def __arrow_c_stream__(self, requested_schema: Any = None) -> Any: ...
