#!/usr/bin/env bash
# CI: every cargo-fuzz target for 45 s (fuzz/run.sh); fails on a crash, a
# leak, a timeout or an out-of-memory. Installs cargo-fuzz (pinned) when it
# is missing. Runs on the stable toolchain: fuzz/run.sh sets
# RUSTC_BOOTSTRAP=1 for cargo-fuzz's -Z flags.
set -euo pipefail
cd "$(dirname "$0")/.."

CARGO_FUZZ_VERSION=0.13.2
if ! cargo fuzz --version 2>/dev/null | grep -qF "$CARGO_FUZZ_VERSION"; then
  cargo install cargo-fuzz --version "$CARGO_FUZZ_VERSION" --locked
fi
bash fuzz/run.sh 45
