"""CI: runs convert_archive.py with Spark local[2] over an archive and checks
that its records equal `sshtrail convert`'s for the same inputs (compared
as sorted sets of records, row for row), that each Parquet file holds one
class and day, and that a second run converts nothing and adds no file.

    python check.py SSHTRAIL_BIN ARCHIVE WORKDIR

Prints `N passed, 0 failed`; any difference exits non-zero.
"""

import json
import os
import pathlib
import subprocess
import sys

import pyarrow.parquet as pq

HERE = pathlib.Path(__file__).resolve().parent


def norm(v):
    """Absent, null, {} and [] are one (Parquet has no empty struct)."""
    if isinstance(v, dict):
        out = {k: norm(x) for k, x in v.items()}
        return {k: x for k, x in out.items() if x is not None and x != {} and x != []}
    if isinstance(v, list):
        return [norm(x) for x in v]
    if isinstance(v, float) and v.is_integer():
        return int(v)
    return v


def key(r):
    return json.dumps(norm(r), sort_keys=True)


def job(archive, out, to):
    p = subprocess.run(
        [sys.executable, str(HERE / "convert_archive.py"), str(archive), str(out), "--to", to,
         "--master", "local[2]", "--source", "sshtrail", "--region", "eu-west-1", "--account", "123456789012"],
        capture_output=True, text=True,
        # The executors run this Python, which has the wheel.
        env={**os.environ, "PYSPARK_PYTHON": sys.executable},
    )
    if p.returncode != 0:
        sys.exit(f"convert_archive.py --to {to} failed:\n{p.stderr[-4000:]}")
    return json.loads(p.stdout.strip().splitlines()[-1])


def cli(bin_, archive, to):
    out = subprocess.run([bin_, "convert", "--to", to, str(archive)], check=True, capture_output=True).stdout
    return [json.loads(l) for l in out.decode().split("\n") if l]


def files(d):
    return sorted(p for p in d.rglob("*") if p.is_file() and not p.name.startswith((".", "_")))


def main():
    bin_, archive, work = sys.argv[1], pathlib.Path(sys.argv[2]), pathlib.Path(sys.argv[3])
    passed = 0
    conns = sum(1 for p in archive.iterdir() if (p / "connection.json").is_file())

    # OCSF Parquet in the Security Lake layout.
    lake = work / "lake"
    first = job(archive, lake, "ocsf-parquet")
    assert first["connections"] == conns, first
    want = sorted(key(r) for r in cli(bin_, archive, "ocsf"))
    got = []
    parts = [p for p in files(lake / "ext") if p.suffix == ".parquet"]
    assert parts, "no Parquet file"
    for p in parts:
        rel = p.relative_to(lake).parts
        cls = int(rel[1].rsplit("-", 1)[1])
        assert rel[2] == "region=eu-west-1" and rel[3] == "accountId=123456789012", rel
        day = rel[4].removeprefix("eventDay=")
        rows = pq.read_table(p).to_pylist()
        times = [r["time"] for r in rows]
        assert times == sorted(times), f"{p}: not sorted by time"
        for r in rows:
            assert r["class_uid"] == cls, p
            import datetime
            d = datetime.datetime.fromtimestamp(r["time"] / 1000, datetime.timezone.utc)
            assert d.strftime("%Y%m%d") == day, p
        got += rows
    got = sorted(key(r) for r in got)
    if got != want:
        sys.exit(f"Spark ocsf-parquet: {len(got)} records, the CLI's --to ocsf: {len(want)}; they differ")
    passed += 1

    # ECS as ndjson.
    ecs = work / "ecs"
    job(archive, ecs, "ecs")
    got = sorted(
        key(json.loads(l))
        for p in files(ecs / "records")
        for l in p.read_text().split("\n")
        if l
    )
    want = sorted(key(r) for r in cli(bin_, archive, "ecs"))
    if got != want:
        sys.exit(f"Spark ecs: {len(got)} records, the CLI's: {len(want)}; they differ")
    passed += 1

    # Idempotent: a second run converts nothing and adds no file.
    before = files(lake)
    again = job(archive, lake, "ocsf-parquet")
    assert again["connections"] == 0 and again["skipped"] == conns, again
    assert files(lake) == before, "a second run added files"
    passed += 1
    print(f"{passed} passed, 0 failed")


if __name__ == "__main__":
    main()
