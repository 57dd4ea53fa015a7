"""The Python package on the shipped recordings: events against the
fixtures' own facts, channels against the recordings' ground truth
(truth.json), conversions against the command line's, records as Arrow."""

import json
import subprocess

import pyarrow as pa
import pytest

import sshtrail
from conftest import TESTDATA

REAL = TESTDATA / "realtrail"
CONNECTIONS = json.loads((REAL / "index.json").read_text())["connections"]


def test_events_from_bytes_and_from_a_path_agree():
    path = TESTDATA / "session.jsonl"
    from_path = sshtrail.read_events(path)
    from_str = sshtrail.read_events(str(path))
    from_bytes = sshtrail.read_events(path.read_bytes())
    assert len(from_path) == len(path.read_bytes().splitlines())
    for a, b, c in zip(from_path, from_str, from_bytes):
        assert (a.type, a.time, a.payload, a.line) == (b.type, b.time, b.payload, b.line)
        assert (a.type, a.time, a.payload, a.line) == (c.type, c.time, c.payload, c.line)
    # The fixture's data streams, decoded, are the bytes shipped beside it.
    for stream in ("stdin", "stdout", "stderr"):
        got = b"".join(e.payload for e in from_path if e.type == stream)
        assert got == (TESTDATA / f"session.{stream}.bin").read_bytes(), stream


def test_the_hex_layout_reads_to_the_same_events_as_jsonl():
    conn = REAL / CONNECTIONS[0]["connection_id"]
    j = sshtrail.read_events(conn / "0.jsonl")
    h = sshtrail.read_events(conn / "0.hex")
    assert [(e.type, e.time, e.payload) for e in j] == [(e.type, e.time, e.payload) for e in h]


@pytest.mark.parametrize(
    "line", (TESTDATA / "bad" / "EXPECT.tsv").read_text().splitlines()
)
def test_a_malformed_log_raises_parse_error_with_file_line_and_column(line):
    name, want_line, severity = line.split("\t")[:3]
    path = TESTDATA / "bad" / name
    if severity != "error":
        sshtrail.read_events(path)
        return
    with pytest.raises(sshtrail.ParseError) as e:
        sshtrail.read_events(path)
    assert e.value.file == str(path)
    assert e.value.line == int(want_line)
    assert e.value.column >= 1
    assert str(e.value).startswith(f"{path}:{want_line}:{e.value.column}: ")
    with pytest.raises(sshtrail.ParseError):
        sshtrail.read_events(path.read_bytes())


def test_a_missing_path_is_an_os_error():
    with pytest.raises(OSError):
        sshtrail.read_events(TESTDATA / "no-such.jsonl")


@pytest.mark.parametrize("conn", CONNECTIONS, ids=lambda c: c["scenario"])
def test_channels_match_the_ground_truth(conn):
    folder = REAL / conn["connection_id"]
    truth = json.loads((folder / "truth.json").read_text())
    got = {c["channel_id"]: c for c in sshtrail.channels(folder)}
    for t in truth["channels"]:
        c = got[t["id"]]
        assert c["connection_id"] == conn["connection_id"]
        assert c["bytes"] == t["bytes"], t["id"]
        assert c["exec"] == t.get("exec")
        assert c["subsystem"] == t.get("subsystem")
        assert c["shell"] == t.get("shell", False)
        assert c["exit_status"] == t.get("exit_status")
        assert c["exit_signal"] == (t.get("exit_signal") or {}).get("signal")
        if t.get("pty"):
            assert c["pty"]["term"] == t["pty"]["term"]
        assert c["env"] == {e["name"]: e["value"] for e in t.get("env", [])}
        # The connection metadata is read: the verdict against it.
        assert c["integrity"] == "ok"


def test_channels_of_bytes_with_connection_metadata():
    folder = REAL / CONNECTIONS[0]["connection_id"]
    meta = (folder / "connection.json").read_text()
    with_meta = sshtrail.channels((folder / "0.jsonl").read_bytes(), meta, name="0.jsonl")
    assert with_meta[0]["connection_id"] == CONNECTIONS[0]["connection_id"]
    assert with_meta[0]["integrity"] == "ok"
    without = sshtrail.channels((folder / "0.jsonl").read_bytes())
    assert without[0]["connection_id"] is None
    assert without[0]["integrity"] == "unknown"
    with pytest.raises(ValueError):
        sshtrail.channels(b"", "{not json")


def cli_convert(cli, to, folder, *extra):
    out = subprocess.run(
        [cli, "convert", "--to", to, *extra, str(folder)],
        check=True,
        capture_output=True,
    )
    return out.stdout


@pytest.mark.parametrize("to", ["ocsf", "ecs", "cef", "hec"])
@pytest.mark.parametrize("conn", CONNECTIONS, ids=lambda c: c["scenario"])
def test_siem_conversions_are_the_command_lines(cli, conn, to):
    folder = REAL / conn["connection_id"]
    assert sshtrail.convert(folder, to=to) == cli_convert(cli, to, folder)
    assert sshtrail.convert(folder, to=to, io=True) == cli_convert(cli, to, folder, "--io")


def test_bytes_and_metadata_convert_as_the_folder_does(cli):
    conn = next(c for c in CONNECTIONS if len(c["channels"]) == 1)
    folder = REAL / conn["connection_id"]
    log = (folder / "0.jsonl").read_bytes()
    meta = (folder / "connection.json").read_bytes()
    assert sshtrail.convert(log, meta, "ocsf") == cli_convert(cli, "ocsf", folder)


@pytest.mark.parametrize("to", ["asciicast", "asciicast-v3", "jsonl", "hex", "raw", "text"])
def test_a_channel_converts_as_the_command_line_converts_it(cli, to):
    log = TESTDATA / "session.jsonl"
    assert sshtrail.convert(log, to=to) == cli_convert(cli, to, log)


def test_several_files_are_parts(cli, tmp_path):
    log = TESTDATA / "session.jsonl"
    with pytest.raises(ValueError, match="convert_parts"):
        sshtrail.convert(log, to="script")
    parts = sshtrail.convert_parts(log, to="script")
    out = tmp_path / "s.typescript"
    subprocess.run([cli, "convert", "--to", "script", str(log), "-o", str(out)], check=True)
    assert parts == {
        "session.typescript": out.read_bytes(),
        "session.typescript.timing": (tmp_path / "s.typescript.timing").read_bytes(),
    }


def test_every_format_is_known():
    assert "ocsf" in sshtrail.output_formats()
    with pytest.raises(ValueError, match="unknown output format"):
        sshtrail.convert(TESTDATA / "session.jsonl", to="splunk")


def test_events_table_is_the_events():
    path = TESTDATA / "session.jsonl"
    table = sshtrail.events_table(path)
    events = sshtrail.read_events(path)
    assert table.num_rows == len(events)
    assert table.schema.field("time").type == pa.timestamp("ns", tz="UTC")
    assert table.column("payload").to_pylist() == [e.payload for e in events]
    assert table.column("type").to_pylist() == [e.type for e in events]
    assert table.column("time").cast(pa.int64()).to_pylist() == [e.time for e in events]


def norm(v):
    if isinstance(v, dict):
        out = {k: norm(x) for k, x in v.items()}
        return {k: x for k, x in out.items() if x not in (None, {}, [])}
    if isinstance(v, list):
        return [norm(x) for x in v]
    return v


@pytest.mark.parametrize("to", ["ocsf", "ecs"])
def test_records_table_holds_the_records_as_nested_structs(cli, to):
    folder = REAL / CONNECTIONS[0]["connection_id"]
    table = sshtrail.records_table(folder, to=to, io=True)
    want = [json.loads(l) for l in cli_convert(cli, to, folder, "--io").decode().split("\n") if l]
    assert table.num_rows == len(want)
    assert pa.types.is_struct(table.schema.field("metadata" if to == "ocsf" else "event").type)
    got = [json.dumps(norm(r), sort_keys=True) for r in table.to_pylist()]
    assert got == [json.dumps(norm(r), sort_keys=True) for r in want]
