"""Records/s and MB/s of the Spark job (local[N]) next to the command
line's `convert` on the same archive.

    python bench.py SSHTRAIL_BIN ARCHIVE [--copies K] [--cores N] [--to ocsf]

The archive is copied K times (each copy's connection ids kept, folders
renamed) so that the run is long enough to time; both convert every copy.
MB are of input log files (MB = 10^6 bytes).
"""

import argparse
import json
import os
import pathlib
import shutil
import subprocess
import sys
import tempfile
import time

HERE = pathlib.Path(__file__).resolve().parent


def main():
    p = argparse.ArgumentParser()
    p.add_argument("bin")
    p.add_argument("archive", type=pathlib.Path)
    p.add_argument("--copies", type=int, default=20)
    p.add_argument("--cores", type=int, default=2)
    p.add_argument("--to", default="ocsf")
    a = p.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        tmp = pathlib.Path(tmp)
        src = tmp / "archive"
        for i in range(a.copies):
            for c in a.archive.iterdir():
                if (c / "connection.json").is_file():
                    shutil.copytree(c, src / f"{i:04d}" / c.name)
        size = sum(p.stat().st_size for p in src.rglob("*") if p.suffix in (".jsonl", ".hex"))
        logs = sum(p.stat().st_size for p in src.rglob("*.jsonl"))

        t = time.perf_counter()
        out = subprocess.run(
            [a.bin, "convert", "--to", a.to, "-j", str(a.cores), str(src)],
            check=True, capture_output=True,
        ).stdout
        cli_s = time.perf_counter() - t
        records = out.count(b"\n")

        t = time.perf_counter()
        job = subprocess.run(
            [sys.executable, str(HERE / "convert_archive.py"), str(src), str(tmp / "out"),
             "--to", a.to, "--master", f"local[{a.cores}]"],
            check=True, capture_output=True, text=True,
            # The executors run this Python, which has the wheel.
            env={**os.environ, "PYSPARK_PYTHON": sys.executable},
        )
        spark_s = time.perf_counter() - t
        spark_records = json.loads(job.stdout.strip().splitlines()[-1])["records"]
        assert spark_records == records, (spark_records, records)
        # The jsonl logs are what is read (a channel kept in both layouts is read once).
        for name, s in (("sshtrail convert (CLI)", cli_s), (f"Spark local[{a.cores}]", spark_s)):
            print(
                f"{name}: {records} records from {logs / 1e6:.1f} MB of jsonl logs "
                f"in {s:.2f} s: {records / s:,.0f} records/s, {logs / 1e6 / s:.2f} MB/s"
            )
        print(f"(the archive on disk, both layouts: {size / 1e6:.1f} MB)")


if __name__ == "__main__":
    main()
