#!/usr/bin/env bash
# Runs every example in examples/ on the shipped fixtures and checks what
# each prints, so that an example that stops working fails CI.
set -euo pipefail
cd "$(dirname "$0")/.."
conn=testdata/conn/6f1c2b7e-0d3a-4c55-9e1f-2a3b4c5d6e7f

out=$(cargo run -q -p sshtrail --example read_filter -- testdata/session.jsonl stdout 2>&1)
grep -q "406 bytes in all" <<<"$out" || { echo "read_filter: $out" >&2; exit 1; }

out=$(cargo run -q -p sshtrail --example channels -- "$conn")
grep -q 'asks for the command "sudo systemctl restart postgresql"' <<<"$out" \
  && grep -q "tcpip-forward" <<<"$out" \
  || { echo "channels: $out" >&2; exit 1; }

out=$(cargo run -q -p sshtrail --example convert -- "$conn")
grep -q "0.cast: " <<<"$out" && grep -q "0.ecs.ndjson: " <<<"$out" \
  || { echo "convert: $out" >&2; exit 1; }
echo "examples: 3 ran"
