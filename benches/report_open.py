"""How fast an `sshtrail report` page opens in Debian's Chromium (headless,
Playwright, no network): load until the player shows the terminal, a seek
to the middle of the session, a search over what the screen showed.

    python3 benches/report_open.py PAGE.html
"""

import json
import sys
import tempfile
import time

from playwright.sync_api import sync_playwright

ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync"]

page_path = sys.argv[1]
with sync_playwright() as p, tempfile.TemporaryDirectory() as profile:
    ctx = p.chromium.launch_persistent_context(
        profile, executable_path="/usr/bin/chromium", headless=True, args=ARGS)
    ctx.route("**/*", lambda r: r.continue_() if r.request.url.startswith("file://") else r.abort())
    page = ctx.new_page()
    t0 = time.monotonic()
    page.goto("file://" + page_path, timeout=300000)
    page.wait_for_selector(".terminal .ap-line", state="attached", timeout=300000)
    opened = time.monotonic() - t0
    info = page.evaluate("""() => { const t = window.sshtrailReport.terminals[0];
        return { parts: t.parts.length,
                 end: t.base + t.parts[t.parts.length - 1].end }; }""")
    t1 = time.monotonic()
    page.evaluate("(t) => window.sshtrailReport.terminals[0].seek(t)", info["end"] / 2)
    seek = time.monotonic() - t1
    t2 = time.monotonic()
    page.fill(".terminal input.q", "error")
    page.press(".terminal input.q", "Enter")
    page.wait_for_selector(".terminal .hits-count:not(:empty)")
    search = time.monotonic() - t2
    info["index"] = page.evaluate("() => window.sshtrailReport.terminals[0].index.length")
    memory = page.evaluate("() => performance.memory ? performance.memory.usedJSHeapSize : null")
    ctx.close()
print(json.dumps({"open_s": round(opened, 2), "seek_middle_s": round(seek, 2),
                  "search_s": round(search, 2), "parts": info["parts"],
                  "index_lines": info["index"], "js_heap_mib": memory and round(memory / 2**20, 1)}))
