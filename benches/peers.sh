#!/usr/bin/env bash
# sshtrail side by side with its peers, whole process, in one run:
#
#   benches/peers.sh [MB]          (default 256)
#
# Makes an MB-MiB interactive trail with the in-repo generator (gencorpus)
# and its asciicast (`sshtrail convert --to asciicast`), then times each job
# and its peer on the same machine in the same minute: asciinema 3 on the
# cast (installed pinned, below), the naive reader (`naivecat`: a
# serde_json::Value a line), the `wc -l` floor, and sshtrail's own commands
# against each other where the goal is relative (issue 18). Each figure is
# the best of RUNS runs (default 3; peak memory of that run). Prints a
# Markdown table: ratio is sshtrail's time over the peer's.
#
# asciinema 3 is installed once into target/peers with
#   cargo install asciinema --version 3.2.0 --locked --root target/peers
# (ASCIINEMA=path uses another one). The outputs go to a temporary folder on
# the same disk, and are removed; so is the trail (KEEP=1 keeps them).
set -euo pipefail
cd "$(dirname "$0")/.."
mb="${1:-256}"
runs="${RUNS:-3}"
cargo build -q --release -p sshtrail-cli -p sshtrail-benches
target="${CARGO_TARGET_DIR:-target}"
bin="${SSHTRAIL_BIN:-$target/release/sshtrail}"
asciinema="${ASCIINEMA:-target/peers/bin/asciinema}"
if [ ! -x "$asciinema" ]; then
  cargo install -q asciinema --version 3.2.0 --locked --root target/peers
fi
"$asciinema" --version | grep -q '^asciinema 3\.' || {
  echo "peers.sh: $asciinema is not asciinema 3" >&2
  exit 1
}
work=$(mktemp -d "${TMPDIR:-/tmp}/sshtrail-peers.XXXXXX")
[ "${KEEP:-0}" = 1 ] || trap 'rm -rf "$work"' EXIT
log="$work/trail.jsonl"
cast="$work/trail.cast"
"$target/release/gencorpus" "$log" --mb "$mb" >/dev/null
"$bin" convert --to asciicast "$log" -o "$cast"
# The end of the session, for `screen --at`: the last event's offset from
# the first, in whole seconds, less one.
end=$("$bin" stats --json "$log" | python3 -c '
import json, sys
s = json.load(sys.stdin)
print(max(0, int(s["duration_s"]) - 1))')
index="$work/index"

# best LABEL CMD...: runs CMD RUNS times (outputs to $work/out*, removed
# before each run), keeps the best wall time (in milliseconds: /usr/bin/time
# counts in hundredths, too coarse for 0.1 s jobs) and that run's peak
# memory in $secs/$mib, and fails the script if CMD fails: a command that
# failed measured nothing.
best() {
  local label=$1; shift
  secs="" mib=""
  local i s k started ended
  for ((i = 0; i < runs; i++)); do
    rm -rf "$work"/out*
    started=$EPOCHREALTIME
    if ! /usr/bin/time -f "%M" -o "$work/time" "$@" >/dev/null 2>"$work/err"; then
      echo "peers.sh: $label failed: $*" >&2
      cat "$work/err" >&2
      exit 1
    fi
    ended=$EPOCHREALTIME
    s=$(printf '%.3f' "$(echo "$ended - $started" | bc -l)")
    k=$(tail -n 1 "$work/time")
    if [ -z "$secs" ] || [ "$(echo "$s < $secs" | bc -l)" = 1 ]; then
      secs=$s
      mib=$(printf '%.1f' "$(echo "$k / 1024" | bc -l)")
    fi
  done
}

# row JOB GOAL "OURS..." "PEER LABEL" "PEER..." where GOAL is "<= R" (our
# time at most R times the peer's), ">= R" (the peer's time at least R
# times ours: a speed-up) or "" (no goal: a floor to compare with).
row() {
  local job=$1 goal=$2 ours=$3 peer_label=$4 peer=$5
  best "$job" $ours
  local our_secs=$secs our_mib=$mib
  best "$peer_label" $peer
  local ratio holds
  ratio=$(printf '%.2f' "$(echo "$our_secs / ($secs + 0.0001)" | bc -l)")
  case $goal in
    "<= "*) holds=$(echo "$ratio <= ${goal#<= }" | bc -l) ;;
    ">= "*) ratio=$(printf '%.2f' "$(echo "$secs / ($our_secs + 0.0001)" | bc -l)")
            holds=$(echo "$ratio >= ${goal#>= }" | bc -l) ;;
    *) goal="—" holds="" ;;
  esac
  case $holds in 1) holds=yes ;; 0) holds=no ;; *) holds="—" ;; esac
  # The command as a reader would type it: TRAIL for the trail, and the
  # other temporary paths relative to the work folder.
  local shown=${ours#"$bin" }
  shown=${shown//"$log"/TRAIL}
  shown=${shown//"$work"\//}
  printf '| %s | `%s` | %s s | %s MiB | %s | %s s | %s MiB | %s | %s | %s |\n' \
    "$job" "$shown" "$our_secs" "$our_mib" "$peer_label" "$secs" "$mib" "$ratio" "$goal" "$holds"
}

s="$bin"
echo "| job (${mb} MiB interactive trail) | sshtrail | time | peak | peer | time | peak | ratio | goal | holds |"
echo "|---|---|---|---|---|---|---|---|---|---|"
row "stdout bytes" "<= 1" "$s cat --filter stdout --to raw $log" \
  "naive reader" "$target/release/naivecat $log"
row "stdout bytes" "" "$s cat --filter stdout --to raw $log" \
  "wc -l (the floor)" "wc -l $log"
row "text transcript" "<= 1" "$s convert --to text $log -o $work/out.txt" \
  "asciinema 3 convert -f txt" "$asciinema convert -f txt $cast $work/out.txt"
row "asciicast" "<= 0.5" "$s convert --to asciicast $log -o $work/out.cast" \
  "asciinema 3 convert -f asciicast-v2" "$asciinema convert -f asciicast-v2 $cast $work/out.cast"
row "typed commands" "<= 1" "$s commands $log" \
  "sshtrail convert --to text" "$s convert --to text $log -o $work/out.txt"
row "search" "<= 1" "$s grep warning: $log" \
  "sshtrail convert --to text" "$s convert --to text $log -o $work/out.txt"
row "ECS, a record a line" "<= 1.3" "$s convert --to ecs --io $log -o $work/out.ecs" \
  "sshtrail commands" "$s commands $log"
# The first run builds the index; `best` keeps the later, cached ones.
row "screen at the end" "<= 0.1" "$s screen --at ${end}s --index-dir $index $log" \
  "sshtrail screen --no-index" "$s screen --at ${end}s --no-index $log"
row "cat --to jsonl, 2 threads" ">= 1.7" "$s cat -j 2 --to jsonl $log" \
  "sshtrail cat -j 1" "$s cat -j 1 --to jsonl $log"
row "stats, 2 threads" ">= 1.7" "$s stats -j 2 $log" \
  "sshtrail stats -j 1" "$s stats -j 1 $log"
row "convert --to jsonl, 2 threads" ">= 1.7" "$s convert -j 2 --to jsonl $log -o $work/out.jsonl" \
  "sshtrail convert -j 1" "$s convert -j 1 --to jsonl $log -o $work/out.jsonl"
row "convert --to hex, 2 threads" ">= 1.7" "$s convert -j 2 --to hex $log -o $work/out.hex" \
  "sshtrail convert -j 1" "$s convert -j 1 --to hex $log -o $work/out.hex"
