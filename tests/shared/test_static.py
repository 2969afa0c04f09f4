"""The browser apps' sources: one socket client, text never parsed as HTML, nothing inline that a
strict Content-Security-Policy would block, and every module preloaded with its page."""

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
STATIC = ROOT / "static"
SHARED_CLIENT = STATIC / "shared" / "socket.js"
# The launcher on the host page is a classic script of a few KB (no modules): it keeps a
# listen-only socket while a conversation is open and draws its shadow root from constant markup.
LOADER = STATIC / "widget" / "loader.js"
APP_SOURCES = sorted(p for p in STATIC.rglob("*.js") if p != LOADER)


def code_lines(path: Path):
    for number, line in enumerate(path.read_text().splitlines(), 1):
        if not line.lstrip().startswith("//"):
            yield number, line


def test_the_apps_are_es_modules_under_static():
    names = {p.relative_to(STATIC).as_posix() for p in APP_SOURCES}
    assert {"shared/socket.js", "widget/app.js", "dashboard/app.js"} <= names
    assert "dashboard/js/socket.js" not in names


def test_only_the_shared_client_opens_a_websocket():
    offenders = [
        f"{path.relative_to(STATIC)}:{number}"
        for path in APP_SOURCES
        if path != SHARED_CLIENT
        for number, line in code_lines(path)
        if re.search(r"\bnew\s+WebSocket\b|\bWebSocket\s*\(", line)
    ]
    assert offenders == []


@pytest.mark.parametrize("app", ["widget", "dashboard"])
def test_both_apps_import_the_shared_client(app):
    importers = [
        path.relative_to(STATIC).as_posix()
        for path in (STATIC / app).rglob("*.js")
        if re.search(r"""from\s+["'](?:\.\./)+shared/socket\.js["']""", path.read_text())
    ]
    assert importers, f"no module of the {app} imports static/shared/socket.js"


def test_no_script_builds_html_from_strings():
    offenders = [
        f"{path.relative_to(STATIC)}:{number}: {line.strip()}"
        for path in APP_SOURCES
        for number, line in code_lines(path)
        if re.search(r"innerHTML|outerHTML|insertAdjacentHTML|document\.write|\beval\(|new Function", line)
    ]
    assert offenders == []


@pytest.mark.parametrize("template", ["templates/widget/frame.html", "templates/dashboard/app.html"])
def test_pages_have_no_inline_scripts_or_handlers(template):
    html = (ROOT / template).read_text()
    handlers = re.findall(r"""<[^>]*\son[a-z]+\s*=""", html)
    assert handlers == []
    for tag in re.findall(r"<script\b[^>]*>", html):
        assert "src=" in tag, tag  # data travels in json_script tags, which render as application/json
