#!/usr/bin/env bash
# Everything the tests compare against: the asciinema CLI and scriptreplay
# (replay), the OCSF schema, two CEF parsers (SIEM), Chromium and Playwright
# (the evidence report); GNU time, which measures peak memory in
# tests/hostile_memory.rs; pyarrow and DuckDB, which read the ocsf-parquet
# files back (SIEM). Safe to run again.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ ! -x /usr/bin/time ]; then
  apt-get update -qq && apt-get install -y -qq time
fi
bash .ci/replay-deps.sh
bash .ci/siem-deps.sh
bash .ci/report-deps.sh
bash .ci/lake-deps.sh
