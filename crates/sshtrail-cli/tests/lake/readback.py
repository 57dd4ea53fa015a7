"""Reads every Parquet file of an `sshtrail convert --to ocsf-parquet`
folder back with two independent readers, pyarrow and DuckDB, and checks
that they give the same records as `convert --to ocsf` (compared as sorted
sets of records), that each file holds one OCSF class and one UTC day (the
ones its path names) and that its rows are sorted by time.

Usage: readback.py LAKE_DIR OCSF_NDJSON [RUN]
(RUN: only the files `part-<RUN>.parquet`). A missing reader is an error,
never a skip. Prints `N passed, 0 failed` on success.
"""

import datetime
import json
import pathlib
import re
import sys

import duckdb
import pyarrow.parquet as pq

PATH = re.compile(
    r"^ext/(?P<source>[A-Za-z0-9._-]+)-(?P<cls>\d+)/region=(?P<region>[^/]+)/"
    r"accountId=(?P<account>[^/]+)/eventDay=(?P<day>\d{8})/part-(?P<run>[^/]+)\.parquet$"
)


def norm(v):
    """Absent, null, {} and [] are one (Parquet has no empty struct)."""
    if isinstance(v, dict):
        out = {}
        for k, x in v.items():
            x = norm(x)
            if x is None or x == {} or x == []:
                continue
            out[k] = x
        return out
    if isinstance(v, list):
        return [norm(x) for x in v]
    if isinstance(v, float) and v.is_integer():
        return int(v)
    return v


def key(record):
    return json.dumps(norm(record), sort_keys=True)


def main():
    lake, ndjson = pathlib.Path(sys.argv[1]), pathlib.Path(sys.argv[2])
    run = sys.argv[3] if len(sys.argv) > 3 else None
    text = ndjson.read_bytes().decode("utf-8")
    expected = [json.loads(l) for l in text.split("\n") if l.strip()]
    files = sorted(p for p in lake.rglob("*.parquet"))
    if run is not None:
        files = [p for p in files if p.name == f"part-{run}.parquet"]
    if not files:
        sys.exit(f"no Parquet file under {lake}")
    from_arrow, from_duck = [], []
    con = duckdb.connect()
    checks = 0
    for f in files:
        rel = f.relative_to(lake).as_posix()
        m = PATH.match(rel)
        if not m:
            sys.exit(f"{rel}: not the Security Lake layout")
        rows = pq.read_table(f).to_pylist()
        cur = con.execute("SELECT * FROM read_parquet(?, hive_partitioning = false)", [str(f)])
        names = [d[0] for d in cur.description]
        duck = [dict(zip(names, r)) for r in cur.fetchall()]
        if not rows:
            sys.exit(f"{rel}: no rows")
        times = [r["time"] for r in rows]
        if times != sorted(times):
            sys.exit(f"{rel}: rows not sorted by time")
        for r in rows:
            if r["class_uid"] != int(m["cls"]):
                sys.exit(f"{rel}: a record of class {r['class_uid']}")
            day = datetime.datetime.fromtimestamp(r["time"] / 1000, datetime.timezone.utc)
            if day.strftime("%Y%m%d") != m["day"]:
                sys.exit(f"{rel}: a record of {day:%Y%m%d}")
        if [r["time"] for r in duck] != times:
            sys.exit(f"{rel}: DuckDB reads other rows or another order than pyarrow")
        from_arrow += rows
        from_duck += duck
        checks += 1
    want = sorted(key(r) for r in expected)
    for name, got in (("pyarrow", from_arrow), ("duckdb", from_duck)):
        got = sorted(key(r) for r in got)
        if got != want:
            missing = set(want) - set(got)
            extra = set(got) - set(want)
            print(f"{name}: {len(got)} records, expected {len(want)}", file=sys.stderr)
            for m in list(missing)[:3]:
                print(f"  missing: {m[:2000]}", file=sys.stderr)
            for m in list(extra)[:3]:
                print(f"  extra:   {m[:2000]}", file=sys.stderr)
            sys.exit(f"{name} does not read back the records of --to ocsf")
        checks += 1
    print(f"{len(files)} files, {len(want)} records")
    print(f"{checks} passed, 0 failed")


if __name__ == "__main__":
    main()
