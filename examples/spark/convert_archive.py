"""Converts an archive of SSH trail logs with Spark, one connection a task.

    spark-submit convert_archive.py ARCHIVE_URI OUTPUT_URI --to ocsf-parquet \\
        [--source S --region R --account A]
    spark-submit convert_archive.py ARCHIVE_URI OUTPUT_URI --to ocsf|ecs|hec

ARCHIVE_URI is any Hadoop-compatible URI (a local path, hdfs://, s3a://)
holding connection folders: `<connection_id>/connection.json` and one log
a channel (`<channel>.jsonl` or `<channel>.hex`, compressed or not; when a
channel is kept in both layouts, the jsonl is read).

Spark lists the files (the `binaryFile` source), groups them by connection
folder, and each task converts its connections with the `sshtrail` Python
package (the Rust library: the records are those of `sshtrail convert`):
the connection's files are laid in a temporary folder on the executor and
converted as the command line converts a connection folder.

* `--to ocsf-parquet`: OCSF records as Parquet in the Amazon Security Lake
  layout, one source a class:
  `OUTPUT_URI/ext/<S>-<class_uid>/region=<R>/accountId=<A>/eventDay=<YYYYMMDD>/`.
* `--to ocsf`, `ecs`, `hec`: newline-delimited JSON under
  `OUTPUT_URI/records/day=<YYYY-MM-DD>/`.

`OUTPUT_URI/_sshtrail_manifest/` lists every connection converted, with the
size and SHA-256 of each input file. A run skips connections whose inputs
are listed there with the same hashes: running the job again converts only
what is new or changed (what changed is converted again and its records
added again: an archive's files are not meant to change).

The executors need the wheel: `pip install sshtrail-*.whl` on every node
(EMR: a bootstrap action; Databricks: a cluster library; Glue:
`--additional-python-modules s3://.../sshtrail-*.whl`), or ship it with
`spark-submit --py-files` only if the nodes' platform matches the wheel's
(abi3, manylinux).
"""

import argparse
import hashlib
import json
import os
import re
import tempfile

from pyspark.sql import Row, SparkSession
from pyspark.sql import functions as F

LOG = re.compile(r"^(?P<channel>[^/.]+)\.(?P<layout>jsonl|hex)(\.gz|\.zst)?$")
MANIFEST = "_sshtrail_manifest"


def connection_files(spark, archive):
    """(connection folder, [(name, bytes)]) of every connection folder."""
    files = (
        spark.read.format("binaryFile")
        .option("recursiveFileLookup", "true")
        .load(archive)
        # Only logs and metadata are read (not truth files, not outputs).
        .where(F.col("path").rlike(r"/(connection\.json|[^/.]+\.(jsonl|hex)(\.gz|\.zst)?)$"))
        .select("path", "content")
    )
    # A few tasks a core: each task is a Python worker's round trip.
    slices = spark.sparkContext.defaultParallelism * 4

    def keep(row):
        folder, _, name = row.path.rpartition("/")
        if name == "connection.json" or LOG.match(name):
            yield folder, (name, bytes(row.content))

    def choose(files):
        # A channel kept in both layouts: the jsonl.
        files = dict(files)
        names = set(files)
        for n in list(names):
            m = LOG.match(n)
            if m and m["layout"] == "hex":
                if any(
                    LOG.match(o) and LOG.match(o)["channel"] == m["channel"] and LOG.match(o)["layout"] == "jsonl"
                    for o in names
                ):
                    del files[n]
        return sorted(files.items())

    return (
        files.rdd.flatMap(keep)
        .groupByKey(numPartitions=slices)
        .mapValues(choose)
        .filter(lambda kv: "connection.json" in dict(kv[1]))
    )


def digest(files):
    return sorted((n, len(b), hashlib.sha256(b).hexdigest()) for n, b in files)


def convert_connection(folder, files, to, io):
    """The records of one connection, as JSON lines (the sshtrail package)."""
    import sshtrail

    fmt = "ocsf" if to == "ocsf-parquet" else to
    name = folder.rstrip("/").rpartition("/")[2]
    with tempfile.TemporaryDirectory() as tmp:
        conn = os.path.join(tmp, name)
        os.mkdir(conn)
        for n, b in files:
            with open(os.path.join(conn, n), "wb") as f:
                f.write(b)
        out = sshtrail.convert(conn, to=fmt, io=io)
    return [line for line in out.decode("utf-8").split("\n") if line]


def drop_empty(v):
    """Parquet (and Spark's JSON reader) has no empty struct: {} is left out."""
    if isinstance(v, dict):
        return {k: drop_empty(x) for k, x in v.items() if x != {}}
    if isinstance(v, list):
        return [drop_empty(x) for x in v]
    return v


def day_of(record, to):
    import datetime

    if to in ("ocsf", "ocsf-parquet"):
        t = datetime.datetime.fromtimestamp(record["time"] / 1000, datetime.timezone.utc)
    elif to == "hec":
        t = datetime.datetime.fromtimestamp(float(record["time"]), datetime.timezone.utc)
    else:
        return record["@timestamp"][:10]
    return t.strftime("%Y%m%d") if to == "ocsf-parquet" else t.strftime("%Y-%m-%d")


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("archive")
    p.add_argument("output")
    p.add_argument("--to", required=True, choices=["ocsf-parquet", "ocsf", "ecs", "hec"])
    p.add_argument("--source", default="sshtrail")
    p.add_argument("--region", default="us-east-1")
    p.add_argument("--account", default="000000000000")
    p.add_argument("--io", action="store_true", help="a record for each line of the data streams")
    p.add_argument("--master", help="e.g. local[2] (else spark-submit's)")
    a = p.parse_args(argv)

    # Days are UTC days.
    builder = (
        SparkSession.builder.appName("sshtrail convert_archive")
        .config("spark.sql.session.timeZone", "UTC")
        # The writer keeps the rows' order (by time within each file) when
        # it needs no sort of its own (planned writes re-sort by partition).
        .config("spark.sql.optimizer.plannedWrite.enabled", "false")
    )
    if a.master:
        builder = builder.master(a.master)
    spark = builder.getOrCreate()
    out = a.output.rstrip("/")

    # What an earlier run converted: connection folder -> input digests.
    done = {}
    try:
        for r in spark.read.json(f"{out}/{MANIFEST}").collect():
            done[r.connection] = json.loads(r.inputs)
    except Exception as e:  # no manifest yet
        if "PATH_NOT_FOUND" not in str(e) and "Path does not exist" not in str(e):
            raise
    done_b = spark.sparkContext.broadcast(done)

    conns = connection_files(spark, a.archive).cache()
    todo = conns.filter(
        lambda kv: done_b.value.get(kv[0]) != [list(d) for d in digest(kv[1])]
    )
    to, io = a.to, a.io

    def records(kv):
        folder, files = kv
        for line in convert_connection(folder, files, to, io):
            rec = json.loads(line)
            yield (day_of(rec, to), json.dumps(drop_empty(rec)) if to == "ocsf-parquet" else line)

    recs = todo.flatMap(records).cache()
    converted = todo.map(lambda kv: Row(connection=kv[0], inputs=json.dumps(digest(kv[1])))).collect()
    skipped = conns.count() - len(converted)
    if converted:
        if a.to == "ocsf-parquet":
            df = spark.read.json(recs.map(lambda r: r[1]))
            for cls in sorted(r[0] for r in df.select("class_uid").distinct().collect()):
                (
                    df.filter(F.col("class_uid") == cls)
                    .withColumn(
                        "eventDay",
                        F.date_format(
                            F.from_unixtime(F.col("time") / 1000, "yyyy-MM-dd HH:mm:ss"), "yyyyMMdd"
                        ),
                    )
                    .withColumn("region", F.lit(a.region))
                    .withColumn("accountId", F.lit(a.account))
                    .repartition("eventDay")
                    # Partition columns first, as the writer wants them: it
                    # then keeps this order (rows by time within a file).
                    .sortWithinPartitions("region", "accountId", "eventDay", "time")
                    .write.mode("append")
                    .partitionBy("region", "accountId", "eventDay")
                    .parquet(f"{out}/ext/{a.source}-{cls}")
                )
        else:
            df = spark.createDataFrame(recs, "day string, value string")
            df.write.mode("append").partitionBy("day").text(f"{out}/records")
        spark.createDataFrame(converted).coalesce(1).write.mode("append").json(f"{out}/{MANIFEST}")
    print(json.dumps({"connections": len(converted), "skipped": skipped, "records": recs.count()}))
    spark.stop()


if __name__ == "__main__":
    main()
