#!/usr/bin/env bash
# Peak memory and time of the whole-session commands on one large trail,
# whole process, as a user runs them:
#
#   benches/memory.sh [MB]          (default 256)
#
# Makes a MB-MiB interactive trail with the in-repo generator (gencorpus),
# runs each command under /usr/bin/time and prints a Markdown table. The
# outputs go to a temporary folder on the same disk and are removed.
set -euo pipefail
cd "$(dirname "$0")/.."
mb="${1:-256}"
cargo build -q --release -p sshtrail-cli -p sshtrail-benches
# SSHTRAIL_BIN measures another build (an older one, say) on the same trail.
bin="${SSHTRAIL_BIN:-target/release/sshtrail}"
work=$(mktemp -d "${TMPDIR:-/tmp}/sshtrail-memory.XXXXXX")
trap 'rm -rf "$work"' EXIT
log="$work/trail.jsonl"
target/release/gencorpus "$log" --mb "$mb" >/dev/null
echo "| command (${mb} MiB interactive trail) | time | peak memory | exit |"
echo "|---|---|---|---|"
run() {
  local label=$1; shift
  rm -rf "$work/out"*
  # The exit status is shown: a command that failed measured nothing.
  local status=0
  /usr/bin/time -f "%e %M" -o "$work/time" "$bin" "$@" >/dev/null 2>"$work/err" || status=$?
  read -r secs kib < <(tail -n 1 "$work/time")
  printf '| `%s` | %s s | %.1f MiB | %s |\n' "$label" "$secs" "$(echo "$kib / 1024" | bc -l)" "$status"
}
run "convert --to text" convert --to text "$log" -o "$work/out.txt"
run "convert --to ecs --io" convert --to ecs --io "$log" -o "$work/out.ecs"
run "convert --to asciicast" convert --to asciicast "$log" -o "$work/out.cast"
run "inspect" inspect "$log"
run "commands" commands "$log"
run "grep ERROR" grep ERROR "$log"
run "screen --at 1h" screen --at 1h "$log"
run "streams" streams -o "$work/out.streams" "$log"
run "cat --to jsonl" cat --to jsonl "$log"
