#!/usr/bin/env bash
# Tools the replay compatibility tests run: the asciinema CLI (reads our
# .cast files) and util-linux scriptreplay (replays our typescripts).
set -euo pipefail
if ! python3 -c 'import asciinema' 2>/dev/null || ! command -v asciinema >/dev/null; then
  python3 -m pip install --quiet --disable-pip-version-check asciinema==2.4.0
fi
if ! command -v scriptreplay >/dev/null; then
  apt-get update -qq && apt-get install -y -qq bsdutils
fi
asciinema --version
scriptreplay --version
