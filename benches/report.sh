#!/usr/bin/env bash
# The evidence report on one large trail: the time and peak memory of
# `sshtrail report`, the page's size, and how fast it opens, seeks and
# searches in Chromium (benches/report_open.py; .ci/report-deps.sh installs
# the browser):
#
#   benches/report.sh [MB...]        (default 16 64)
#
# Each MB-MiB interactive trail comes from the in-repo generator (gencorpus).
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build -q --release -p sshtrail-cli -p sshtrail-benches
bin="${SSHTRAIL_BIN:-${CARGO_TARGET_DIR:-target}/release/sshtrail}"
work=$(mktemp -d "${TMPDIR:-/tmp}/sshtrail-report.XXXXXX")
trap 'rm -rf "$work"' EXIT
echo "| trail | report time | peak memory | page | opens in | seek to the middle | search | parts |"
echo "|---|---|---|---|---|---|---|---|"
for mb in "${@:-16 64}"; do
  for m in $mb; do
    log="$work/trail-$m.jsonl"
    "${CARGO_TARGET_DIR:-target}/release/gencorpus" "$log" --mb "$m" >/dev/null
    /usr/bin/time -f "%e %M" -o "$work/time" "$bin" report "$log" -o "$work/page-$m.html" 2>/dev/null
    read -r secs kib < <(tail -n 1 "$work/time")
    size=$(stat -c %s "$work/page-$m.html")
    open=$(python3 benches/report_open.py "$work/page-$m.html")
    python3 - "$m" "$secs" "$kib" "$size" "$open" <<'PY'
import json, sys
m, secs, kib, size, o = sys.argv[1], float(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]), json.loads(sys.argv[5])
print(f"| {m} MiB | {secs:.1f} s | {kib/1024:.0f} MiB | {size/2**20:.1f} MiB | {o['open_s']} s | {o['seek_middle_s']} s | {o['search_s']} s ({o['index_lines']} lines) | {o['parts']} |")
PY
  done
done
