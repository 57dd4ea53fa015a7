#!/usr/bin/env bash
# The independent Parquet readers that the ocsf-parquet tests
# (crates/sshtrail-cli/tests/lake.rs) read every file back with, into the
# python3 that the tests run: pyarrow and DuckDB, pinned.
set -euo pipefail
python3 -m pip install --quiet --disable-pip-version-check --root-user-action=ignore \
  'pyarrow==26.0.1' \
  'duckdb==1.5.6'
python3 -c 'import pyarrow, duckdb' \
  || { echo ".ci/lake-deps.sh: pyarrow and duckdb did not import" >&2; exit 1; }
