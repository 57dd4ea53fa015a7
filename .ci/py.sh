#!/usr/bin/env bash
# The Python package (crates/sshtrail-py): builds the abi3 wheel with
# maturin, installs it into a virtual environment with pinned pytest and
# pyarrow, and runs its tests (crates/sshtrail-py/tests) on the shipped
# recordings; then runs the Spark job (examples/spark/convert_archive.py,
# pinned PySpark on the machine's Java 17) with local[2] over the shipped
# archive, whose records must equal the CLI's convert (examples/spark/check.py).
# The wheel is built in CARGO_TARGET_DIR like the rest.
set -euo pipefail
cd "$(dirname "$0")/.."
# The bindings are a workspace of their own: they build into the same
# target folder as the rest.
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$PWD/target}"
venv="${SSHTRAIL_PY_VENV:-${TMPDIR:-/tmp}/sshtrail-py-venv}"
start=$(date +%s)
# The bindings are outside the workspace: their own format and lint check.
cargo fmt --manifest-path crates/sshtrail-py/Cargo.toml -- --check
cargo clippy --quiet --manifest-path crates/sshtrail-py/Cargo.toml -- -D warnings
python3 -m venv "$venv"
"$venv/bin/python" -m pip install --quiet --disable-pip-version-check \
  'maturin==1.16.0' \
  'pytest==9.0.2' \
  'pyarrow==26.0.1' \
  'pyspark==4.0.1'
if ! command -v java >/dev/null; then
  apt-get update -qq && apt-get install -y -qq openjdk-17-jre-headless
fi
wheels="$(mktemp -d)"
work="$(mktemp -d)"
trap 'rm -rf "$wheels" "$work"' EXIT
"$venv/bin/maturin" build --release --quiet -m crates/sshtrail-py/Cargo.toml -o "$wheels"
"$venv/bin/python" -m pip install --quiet --disable-pip-version-check --force-reinstall --no-deps "$wheels"/sshtrail-*.whl
# The command line the tests compare the bindings with.
cargo build --quiet -p sshtrail-cli
bin="$(realpath "$CARGO_TARGET_DIR")/debug/sshtrail"
# The tests import the installed wheel, not the source folder.
(cd crates/sshtrail-py && SSHTRAIL_BIN="$bin" "$venv/bin/python" -m pytest -q tests)
"$venv/bin/python" examples/spark/check.py "$bin" testdata/realtrail "$work"
echo ".ci/py.sh: $(( $(date +%s) - start )) s"
