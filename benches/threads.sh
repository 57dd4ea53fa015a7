#!/usr/bin/env bash
# One large trail on 1 thread against 2 (`-j 1` against `-j 2`), whole
# process, as a user runs it:
#
#   benches/threads.sh [MB] [RUNS]          (defaults 256 and 5)
#
# Makes a MB-MiB interactive trail with the in-repo generator (gencorpus),
# then runs each command with -j 1 and -j 2 one after the other, RUNS
# times, under /usr/bin/time, and prints a Markdown table of the best time
# of each and the peak memory (of the 2-thread runs). Alternating keeps a
# busy machine from favouring one side; the best of several runs is the
# one least disturbed. Outputs go to /dev/null, or to a tmpfs (/dev/shm)
# for convert, and are removed.
set -euo pipefail
cd "$(dirname "$0")/.."
mb="${1:-256}"
runs="${2:-5}"
target="${CARGO_TARGET_DIR:-target}"
cargo build -q --release -p sshtrail-cli -p sshtrail-benches
# SSHTRAIL_BIN measures another build on the same trail.
bin="${SSHTRAIL_BIN:-$target/release/sshtrail}"
work=$(mktemp -d "${TMPDIR:-/tmp}/sshtrail-threads.XXXXXX")
out=$(mktemp -d /dev/shm/sshtrail-threads.XXXXXX 2>/dev/null || mktemp -d "$work/out.XXXXXX")
trap 'rm -rf "$work" "$out"' EXIT
log="$work/trail.jsonl"
"$target/release/gencorpus" "$log" --mb "$mb" >/dev/null
# Warm the page cache: every run reads the log from memory.
cat "$log" >/dev/null
echo "load before: $(cut -d' ' -f1-3 /proc/loadavg)" >&2
echo "| command (${mb} MiB interactive trail) | -j 1 | -j 2 | speed-up | peak memory -j 2 |"
echo "|---|---|---|---|---|"
# One run: prints "SECONDS KIB"; a failed command stops the script.
once() {
  /usr/bin/time -f "%e %M" -o "$work/time" "$bin" "$@" >/dev/null
  tail -n 1 "$work/time"
}
bench() {
  local label=$1; shift
  local best1=999999 best2=999999 kib2=0
  for _ in $(seq "$runs"); do
    for j in 1 2; do
      rm -f "$out"/*
      # `{}` in the arguments is -j's place.
      local args=()
      for a in "$@"; do [[ $a == "{}" ]] && args+=(-j "$j") || args+=("$a"); done
      read -r secs kib < <(once "${args[@]}")
      if [[ $j == 1 ]]; then
        best1=$(echo "if ($secs < $best1) $secs else $best1" | bc -l)
      else
        best2=$(echo "if ($secs < $best2) $secs else $best2" | bc -l)
        (( kib > kib2 )) && kib2=$kib
      fi
    done
  done
  printf '| `%s` | %.2f s | %.2f s | %.2fx | %.1f MiB |\n' "$label" "$best1" "$best2" \
    "$(echo "$best1 / $best2" | bc -l)" "$(echo "$kib2 / 1024" | bc -l)"
}
bench "cat --to jsonl" cat --to jsonl {} "$log"
bench "cat --filter stdout --to raw" cat --filter stdout --to raw {} "$log"
bench "stats" stats {} "$log"
bench "convert --to jsonl" convert --to jsonl {} "$log" -o "$out/trail.jsonl"
bench "convert --to hex" convert --to hex {} "$log" -o "$out/trail.hex"
echo "load after: $(cut -d' ' -f1-3 /proc/loadavg)" >&2
