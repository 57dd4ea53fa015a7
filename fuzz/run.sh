#!/usr/bin/env bash
# Runs every cargo-fuzz target for SECONDS_PER_TARGET seconds (default 60)
# and fails if any of them finds a crash (panic, abort, sanitizer report),
# a leak, a timeout (one input over 10 s) or an out-of-memory (over 2 GiB).
#
#   fuzz/run.sh [SECONDS_PER_TARGET]
#
# The machine has only a stable toolchain: cargo-fuzz's -Z flags (the
# sanitizer and the coverage instrumentation) are allowed on stable with
# RUSTC_BOOTSTRAP=1. AddressSanitizer (with LeakSanitizer) is on, and so are
# debug assertions and overflow checks. Builds go to fuzz/target; inputs
# that found new coverage to fuzz/corpus/<target> (not committed; the
# committed seeds are fuzz/seeds/<target>); a failing input to
# fuzz/artifacts/<target>/, and each target's log to fuzz/artifacts/<target>.log.
set -euo pipefail

secs="${1:-60}"
case "$secs" in
  '' | *[!0-9]*) echo "usage: fuzz/run.sh [SECONDS_PER_TARGET]" >&2; exit 2 ;;
esac
cd "$(dirname "$0")"
export RUSTC_BOOTSTRAP=1
unset CARGO_TARGET_DIR
command -v cargo-fuzz >/dev/null || {
  echo "fuzz/run.sh: cargo-fuzz is not installed (cargo install cargo-fuzz --version 0.13.2 --locked)" >&2
  exit 1
}

targets=$(cargo fuzz list)
flags=(--sanitizer address --debug-assertions)
cargo fuzz build "${flags[@]}"

failed=()
for t in $targets; do
  mkdir -p "corpus/$t" "artifacts/$t"
  case "$t" in
    ssh_decode | connection_json | cast_script) max_len=4096 ;;
    *) max_len=16384 ;;
  esac
  log="artifacts/$t.log"
  start=$(date +%s)
  if cargo fuzz run "${flags[@]}" "$t" "corpus/$t" "seeds/$t" -- \
      -max_total_time="$secs" -timeout=10 -rss_limit_mb=2048 -malloc_limit_mb=2048 \
      -max_len="$max_len" -dict=dict/trail.dict -print_final_stats=1 \
      -artifact_prefix="artifacts/$t/" >"$log" 2>&1; then
    runs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$log" | grep -o '[0-9]*$' || echo '?')
    echo "fuzz/run.sh: $t: ok, $runs runs in $(( $(date +%s) - start )) s"
  else
    echo "fuzz/run.sh: $t: FAILED (log: fuzz/$log)" >&2
    grep -E '^(==[0-9]+==|SUMMARY|thread .* panicked|artifact_prefix|Test unit written|Base64)' "$log" | head -20 >&2 || true
    for f in "artifacts/$t"/*; do
      [ -f "$f" ] || continue
      echo "--- fuzz/$f:" >&2
      head -c 512 "$f" | od -A d -t x1z | head -40 >&2
    done
    failed+=("$t")
  fi
done

if [ "${#failed[@]}" -gt 0 ]; then
  echo "fuzz/run.sh: failing targets: ${failed[*]}" >&2
  exit 1
fi
echo "fuzz/run.sh: all $(echo $targets | wc -w) targets ran ${secs} s each without a crash, leak or timeout"
