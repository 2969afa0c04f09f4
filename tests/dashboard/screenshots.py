"""Screenshots of the dashboard for docs/screenshots/: `python -m tests.dashboard.screenshots`.

Starts Parley under daphne with a demo tenant (tests/dashboard/live.py), logs in as an
operator, and shoots the list, a chat with the visitor card, and the visitors pane at
1280 and 375 px wide, in English, Russian and Polish.
"""

from __future__ import annotations

import json
import sys
import tempfile
import time
from pathlib import Path

from playwright.sync_api import sync_playwright
from websockets.sync.client import connect

from tests.dashboard.live import ROOT, LiveParley, chromium_path
from tests.processes import CHROMIUM_ARGS

OUT = ROOT / "docs" / "screenshots"


def shoot(live: LiveParley, browser, lang: str, width: int, height: int) -> list[Path]:
    context = browser.new_context(viewport={"width": width, "height": height}, locale=lang)
    context.add_cookies([{"name": "django_language", "value": lang, "url": live.base_url}])
    page = context.new_page()
    try:
        live.login(page, "anna@acme.test")
    except Exception:
        page.screenshot(path=OUT / "debug-login.png")
        raise
    main = live.seed["conversations"][0]
    shots = []
    if width < 700:
        page.wait_for_selector("#conv-list .conv")
        path = OUT / f"dashboard-{width}-{lang}-list.png"
        page.screenshot(path=path)
        shots.append(path)
    page.click('.boxes [data-box="mine"]')
    page.click(f'#conv-list .conv[data-id="{main}"]')
    page.wait_for_selector(".msg-note")
    page.wait_for_selector("#card-pages li", state="attached")
    # The visitor types: the preview shows under the messages.
    with connect(f"ws://127.0.0.1:{live.port}/ws/widget/?token={live.seed['token']}", origin=live.base_url) as ws:
        ws.send(json.dumps({"type": "typing", "conversation": main, "on": True, "draft": "And how long does it take"}))
        page.wait_for_selector("#typing:not([hidden])")
        time.sleep(0.2)
        path = OUT / f"dashboard-{width}-{lang}-chat.png"
        page.screenshot(path=path)
        shots.append(path)
    if width < 700:
        page.click("#act-card")
        page.wait_for_selector("#card-pages li")
        path = OUT / f"dashboard-{width}-{lang}-card.png"
        page.screenshot(path=path)
        shots.append(path)
        page.click("#card-back")
        page.click("#chat-back")
    page.click('.boxes [data-box="visitors"]')
    page.wait_for_selector(".visitor-list .visitor")
    path = OUT / f"dashboard-{width}-{lang}-visitors.png"
    page.screenshot(path=path)
    shots.append(path)
    if width >= 700:
        page.keyboard.press("?")
        page.wait_for_selector("#help-dialog[open]")
        path = OUT / f"dashboard-{width}-{lang}-help.png"
        page.screenshot(path=path)
        shots.append(path)
    context.close()
    return shots


def main() -> int:
    OUT.mkdir(parents=True, exist_ok=True)
    live = LiveParley(Path(tempfile.mkdtemp(prefix="parley-shots-")), demo=True)
    try:
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=chromium_path(), args=CHROMIUM_ARGS)
            for lang in sys.argv[1:] or ["en", "ru", "pl"]:
                for width, height in ((1280, 800), (375, 740)):
                    for path in shoot(live, browser, lang, width, height):
                        print(path.relative_to(ROOT))
            browser.close()
    finally:
        live.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
