#!/usr/bin/env bash
# The Python package (crates/sshtrail-py): builds the abi3 wheel with
# maturin, installs it into a virtual environment with pinned pytest and
# pyarrow, and runs its tests (crates/sshtrail-py/tests) on the shipped
# recordings. The wheel is built in CARGO_TARGET_DIR like the rest.
set -euo pipefail
cd "$(dirname "$0")/.."
venv="${SSHTRAIL_PY_VENV:-${TMPDIR:-/tmp}/sshtrail-py-venv}"
start=$(date +%s)
python3 -m venv "$venv"
"$venv/bin/python" -m pip install --quiet --disable-pip-version-check \
  'maturin==1.16.0' \
  'pytest==9.0.2' \
  'pyarrow==26.0.1'
wheels="$(mktemp -d)"
trap 'rm -rf "$wheels"' EXIT
"$venv/bin/maturin" build --release --quiet -m crates/sshtrail-py/Cargo.toml -o "$wheels"
"$venv/bin/python" -m pip install --quiet --disable-pip-version-check --force-reinstall --no-deps "$wheels"/sshtrail-*.whl
# The command line the tests compare the bindings with.
cargo build --quiet -p sshtrail-cli
bin="$(realpath "${CARGO_TARGET_DIR:-target}")/debug/sshtrail"
# The tests import the installed wheel, not the source folder.
(cd crates/sshtrail-py && SSHTRAIL_BIN="$bin" "$venv/bin/python" -m pytest -q tests)
echo ".ci/py.sh: $(( $(date +%s) - start )) s"
