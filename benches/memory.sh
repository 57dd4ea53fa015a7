#!/usr/bin/env bash
# Peak memory and time of every command and every output format on one
# large trail, whole process, as a user runs them:
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
# Every output format of convert: one-file formats write to /dev/null (a
# 2 GiB trail makes about 20 GB of ECS records a line; the writers are the
# same, the atomic temporary file aside), formats of several files (script
# and its .timing) and folders into the work folder.
for to in text asciicast asciicast-v3 jsonl hex hexdump raw ecs ocsf cef hec; do
  run "convert --to $to" convert --to "$to" "$log" -o /dev/null
done
run "convert --to script" convert --to script "$log" -o "$work/out.script"
run "convert --to script-advanced" convert --to script-advanced "$log" -o "$work/out.script"
run "convert --to ecs --io" convert --to ecs --io "$log" -o /dev/null
run "convert --to ocsf --io" convert --to ocsf --io "$log" -o /dev/null
run "convert --to html" convert --to html "$log" -o "$work/out.html"
run "convert --to files" convert --to files "$log" -o "$work/out.files"
run "convert --to ocsf-parquet" convert --to ocsf-parquet --source sshtrail --region eu-west-1 \
  --account 123456789012 "$log" -o "$work/out.lake"
# Every command.
run "cat --to jsonl" cat --to jsonl "$log"
run "cat -j 1 --to jsonl" cat -j 1 --to jsonl "$log"
run "stats" stats "$log"
run "inspect" inspect "$log"
run "commands" commands "$log"
run "grep warning:" grep warning: "$log"
run "files" files "$log"
run "report" report "$log" -o "$work/out.report.html"
run "streams" streams -o "$work/out.streams" "$log"
# The end of the session: the first `screen` builds the seek index, the
# second reads it; `play` from a minute before the end, at full speed.
end=$("$bin" stats --json "$log" | python3 -c 'import json, sys; print(max(0, int(json.load(sys.stdin)["duration_s"]) - 60))')
run "screen --at END (builds the index)" screen --at "${end}s" --index-dir "$work/index" "$log"
run "screen --at END (with the index)" screen --at "${end}s" --index-dir "$work/index" "$log"
run "screen --at END --no-index" screen --at "${end}s" --no-index "$log"
run "play --from END" play --from "${end}s" --speed 1000000 --idle-limit 0.001 --index-dir "$work/index" "$log"
