#!/usr/bin/env bash
# Everything the tests compare against: the asciinema CLI and scriptreplay
# (replay), the OCSF schema, two CEF parsers (SIEM). Safe to run again.
set -euo pipefail
cd "$(dirname "$0")/.."
bash .ci/replay-deps.sh
bash .ci/siem-deps.sh
