#!/usr/bin/env bash
# The real browser the evidence report's tests (crates/sshtrail-cli/tests/
# report.rs, issue #15) open the page in: Debian's Chromium, driven by
# Python Playwright pointed at /usr/bin/chromium (Playwright downloads no
# browser of its own: only its driver, inside the wheel, is used).
# Safe to run again.
set -euo pipefail
if [ ! -x /usr/bin/chromium ]; then
  apt-get update -qq && apt-get install -y -qq chromium
fi
python3 -m pip install --quiet --disable-pip-version-check --root-user-action=ignore \
  'playwright==1.65.2' \
  'greenlet==3.5.6'
python3 -c 'import playwright.sync_api' \
  || { echo ".ci/report-deps.sh: playwright did not import" >&2; exit 1; }
/usr/bin/chromium --version
