"""Screenshots of canned replies for docs/screenshots/.

    python -m tests.canned.screenshots [en ru pl] [--admin | --admin-only]

Starts Parley under daphne with the demo tenant (tests/dashboard/live.py) and the starter set
of each language (tests/canned/live_seed.py), opens a chat, types `/` + the first letters of
the delivery shortcut and shoots the suggestion list at 1280 and 375 px wide; at 1280 also the
canned-replies dialog and the `?` help with a hotkey.
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

from playwright.sync_api import sync_playwright

from tests.canned.live_seed import seed_canned
from tests.dashboard.live import ROOT, LiveParley, chromium_path
from tests.processes import CHROMIUM_ARGS

OUT = ROOT / "docs" / "screenshots"


def shoot(live: LiveParley, browser, lang: str, width: int, height: int) -> list[Path]:
    context = browser.new_context(viewport={"width": width, "height": height}, locale=lang)
    context.add_cookies([{"name": "django_language", "value": lang, "url": live.base_url}])
    page = context.new_page()
    live.login(page, "anna@acme.test")
    main = live.seed["conversations"][0]
    shots = []
    page.click('.boxes [data-box="mine"]')
    page.click(f'#conv-list .conv[data-id="{main}"]')
    page.wait_for_selector(".msg-note")
    page.click("#reply")
    page.keyboard.type("/del")
    page.wait_for_selector("#canned-suggestions .canned-option")
    page.keyboard.press("ArrowDown")
    page.wait_for_timeout(200)
    path = OUT / f"canned-suggestions-{width}-{lang}.png"
    page.screenshot(path=path)
    shots.append(path)
    if width >= 700:
        page.keyboard.press("Escape")
        page.click("#canned-open")
        page.wait_for_selector("#canned-dialog[open] .canned-row")
        page.locator("#canned-browse .canned-row").first.locator("select.canned-hotkey").select_option("1")
        page.wait_for_timeout(400)
        path = OUT / f"canned-dialog-{width}-{lang}.png"
        page.screenshot(path=path)
        shots.append(path)
        page.keyboard.press("Escape")
        page.locator("body").press("?")
        page.wait_for_selector("#help-dialog[open] .canned-help")
        path = OUT / f"canned-help-{width}-{lang}.png"
        page.screenshot(path=path)
        shots.append(path)
    context.close()
    return shots


def shoot_admin(live: LiveParley, browser, lang: str, width: int, height: int) -> list[Path]:
    """The admin's list of shared replies and the import page after a broken file."""
    context = browser.new_context(viewport={"width": width, "height": height}, locale=lang)
    context.add_cookies([{"name": "django_language", "value": lang, "url": live.base_url}])
    page = context.new_page()
    live.login(page, "anna@acme.test")
    page.goto(f"{live.base_url}/admin/canned/cannedreply/")
    path = OUT / f"canned-admin-{width}-{lang}.png"
    page.screenshot(path=path, full_page=width < 700)
    shots = [path]
    page.goto(f"{live.base_url}/admin/canned/cannedreply/import/")
    broken = "shortcut,title,text\nok,Fine,Text\nbad one,Title,Hi {{visitor.nmae}}\nshort,row\n"
    page.set_input_files(
        "input[name=file]", files=[{"name": "r.csv", "mimeType": "text/csv", "buffer": broken.encode()}]
    )
    page.click("input[type=submit]")
    page.wait_for_selector("#import-errors")
    path = OUT / f"canned-admin-import-{width}-{lang}.png"
    page.screenshot(path=path, full_page=width < 700)
    shots.append(path)
    context.close()
    return shots


def main() -> int:
    OUT.mkdir(parents=True, exist_ok=True)
    live = LiveParley(Path(tempfile.mkdtemp(prefix="parley-canned-shots-")), demo=True)
    try:
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=chromium_path(), args=CHROMIUM_ARGS)
            for lang in [arg for arg in sys.argv[1:] if not arg.startswith("--")] or ["en", "ru", "pl"]:
                seed_canned(live, lang)
                for width, height in ((1280, 800), (375, 740)):
                    if "--admin-only" not in sys.argv:
                        for path in shoot(live, browser, lang, width, height):
                            print(path.relative_to(ROOT))
                    if "--admin" in sys.argv or "--admin-only" in sys.argv:
                        for path in shoot_admin(live, browser, lang, width, height):
                            print(path.relative_to(ROOT))
            browser.close()
    finally:
        live.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
