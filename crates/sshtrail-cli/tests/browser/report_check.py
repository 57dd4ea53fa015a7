"""Opens an `sshtrail report` page in Debian's Chromium (headless, driven by
Playwright, no browser download), does what the plan says and prints what
the live DOM showed, as JSON, for tests/report.rs to judge.

    python3 report_check.py PLAN.json

PLAN: {"page": PATH, "screenshot": PATH or null, "steps": [STEP...]}, or
{"page": INDEX, "sort_by": COLUMN} for the index of several pages; a STEP
one of
    {"op": "goto", "at": "20"}             type the offset, press Go
    {"op": "command", "index": 3}          click the 4th command of the timeline
    {"op": "search", "query": "alpha"}     search, then click the first hit
    {"op": "idle", "value": "0", "at": "20"}  change the idle cap, then go to a moment
each with "expect": the screen lines the test expects; the step waits (up to
5 s) for the player to show them, and reports what it showed at the end.

Every request the page makes is recorded; only the page itself is let
through (the others are aborted).
"""

import json
import sys
import tempfile
import time

from playwright.sync_api import sync_playwright

CHROMIUM = "/usr/bin/chromium"
ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]

SCREEN_JS = """() => {
  const lines = Array.from(document.querySelectorAll('.terminal .ap-line'))
    .map(l => l.textContent.replace(/\\u00a0/g, ' ').replace(/\\s+$/, ''));
  while (lines.length && lines[lines.length - 1] === '') lines.pop();
  return lines;
}"""

NOW_JS = """async () => {
  const t = window.sshtrailReport.terminals[0];
  const p = await Promise.resolve(t.player.getCurrentTime());
  return { player: p, session: t.base + t.fromPlayer(p), at: Number(t.el.dataset.at) };
}"""


def screen_after(page, expect, seeking_to):
    """Waits for the seek to `seeking_to` to land and the screen to show
    `expect` (or 5 s), and gives the screen."""
    deadline = time.monotonic() + 5
    lines = []
    while time.monotonic() < deadline:
        at = page.evaluate("() => document.querySelector('.terminal').dataset.at")
        lines = page.evaluate(SCREEN_JS)
        if at is not None and abs(float(at) - seeking_to) < 1e-9 and lines == expect:
            break
        page.wait_for_timeout(50)
    return lines


def main():
    plan = json.load(open(sys.argv[1]))
    result = {"steps": [], "requests": [], "errors": []}
    with sync_playwright() as p, tempfile.TemporaryDirectory() as profile:
        ctx = p.chromium.launch_persistent_context(
            profile, executable_path=CHROMIUM, headless=True, args=ARGS,
            viewport={"width": 1280, "height": 900},
        )
        page_url = "file://" + plan["page"]

        def route(r):
            if r.request.url == page_url:
                r.continue_()
            else:
                r.abort()

        ctx.route("**/*", route)
        ctx.on("request", lambda r: result["requests"].append(r.url))
        page = ctx.new_page()
        page.on("pageerror", lambda e: result["errors"].append(str(e)))
        page.on("console", lambda m: m.type == "error" and result["errors"].append(m.text))
        page.goto(page_url)
        if "sort_by" in plan:
            # The index of several pages: sort by a column, twice.
            button = page.locator("table.index th button[data-col='%d']" % plan["sort_by"])
            orders = []
            for _ in range(2):
                button.click()
                orders.append(page.evaluate("""() => Array.from(
                    document.querySelectorAll('table.index tbody tr td:first-child')).map(
                    td => td.textContent)"""))
            result["orders"] = orders
            result["aria_sort"] = button.locator("xpath=..").get_attribute("aria-sort")
            ctx.close()
            json.dump(result, sys.stdout)
            return
        page.wait_for_selector(".terminal .ap-line", state="attached", timeout=10000)

        for step in plan["steps"]:
            got = {"op": step["op"]}
            if step["op"] == "goto":
                page.fill(".terminal input.goto", step["at"])
                page.click(".terminal button.go")
                target = page.evaluate("(s) => window.sshtrailReport.parseOffset(s)", step["at"])
            elif step["op"] == "command":
                button = page.locator(".terminal button.cmd").nth(step["index"])
                target = float(button.get_attribute("data-t"))
                got["command"] = button.locator("code").inner_text()
                button.click()
            elif step["op"] == "idle":
                # Change the cap on idle gaps, then go to a moment.
                page.fill(".terminal input.idle", step["value"])
                page.press(".terminal input.idle", "Tab")
                page.fill(".terminal input.goto", step["at"])
                page.click(".terminal button.go")
                target = page.evaluate("(s) => window.sshtrailReport.parseOffset(s)", step["at"])
            elif step["op"] == "search":
                page.fill(".terminal input.q", step["query"])
                page.press(".terminal input.q", "Enter")
                hits = page.locator(".terminal button.hit")
                got["hits"] = [hits.nth(i).inner_text() for i in range(hits.count())]
                if not got["hits"]:
                    result["steps"].append(got)
                    continue
                target = float(hits.nth(0).get_attribute("data-t")) + 0.0001
                hits.nth(0).click()
            else:
                raise SystemExit("unknown step " + step["op"])
            got["target"] = target
            got["screen"] = screen_after(page, step.get("expect"), target)
            got["now"] = page.evaluate(NOW_JS)
            got["size"] = page.evaluate("""() => {
                const t = getComputedStyle(document.querySelector('.terminal .ap-term'));
                return [t.getPropertyValue('--term-cols').trim(), t.getPropertyValue('--term-rows').trim()];
            }""")
            result["steps"].append(got)

        result["markers"] = page.evaluate(
            "() => document.querySelectorAll('.terminal .ap-marker-container').length")
        result["custody"] = page.evaluate("""() => Array.from(
            document.querySelectorAll('table.custody tbody tr')).map(r => ({
              path: r.querySelector('.path').textContent,
              size: r.querySelector('.size').textContent,
              sha256: r.querySelector('.sha256').textContent }))""")
        # Keyboard: Tab reaches the timeline's first command.
        focused = []
        for _ in range(40):
            page.keyboard.press("Tab")
            focused.append(page.evaluate(
                "() => (document.activeElement.className || document.activeElement.tagName)"))
        result["tab_stops"] = focused
        if plan.get("screenshot"):
            page.set_viewport_size({"width": 1280, "height": 1600})
            page.evaluate("() => { document.activeElement.blur(); window.scrollTo(0, 0); }")
            page.wait_for_timeout(300)
            page.screenshot(path=plan["screenshot"], full_page=False)
            page.set_viewport_size({"width": 1280, "height": 900})

        # The print view: the transcript and the timeline, not the player.
        page.emulate_media(media="print")
        result["print"] = page.evaluate("""() => {
            const shown = s => { const e = document.querySelector(s);
              return !!e && getComputedStyle(e).display !== 'none' && e.getClientRects().length > 0; };
            return { player: shown('.player'), search: shown('.search'), controls: shown('.controls'),
                     transcript: shown('pre.transcript'), timeline: shown('ol.timeline') };
        }""")
        page.emulate_media(media="screen")

        # With JavaScript off: the facts, the timeline and the transcript
        # are there to read.
        nojs = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=ARGS)
        ctx2 = nojs.new_context(java_script_enabled=False)
        ctx2.route("**/*", route)
        page2 = ctx2.new_page()
        page2.goto(page_url)
        result["no_js"] = {
            "who": page2.inner_text("dd.who"),
            "commands": [page2.locator("button.cmd code").nth(i).inner_text()
                         for i in range(page2.locator("button.cmd").count())],
            "transcript": page2.inner_text("pre.transcript"),
            "player_text": page2.inner_text(".player"),
        }
        nojs.close()
        ctx.close()
    json.dump(result, sys.stdout)


if __name__ == "__main__":
    main()
