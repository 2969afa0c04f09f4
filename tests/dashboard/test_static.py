"""The dashboard's scripts never parse strings as HTML: text goes through text nodes only."""

import re
from pathlib import Path

STATIC = Path(__file__).resolve().parents[2] / "static" / "dashboard"


def test_no_script_builds_html_from_strings():
    offenders = []
    for source in sorted(STATIC.rglob("*.js")):
        for number, line in enumerate(source.read_text().splitlines(), 1):
            if line.lstrip().startswith("//"):
                continue
            if re.search(r"innerHTML|outerHTML|insertAdjacentHTML|document\.write|\beval\(|new Function", line):
                offenders.append(f"{source.name}:{number}: {line.strip()}")
    assert offenders == []


def test_links_from_visitors_are_http_only():
    dom = (STATIC / "js" / "dom.js").read_text()
    assert 'url.protocol === "http:" || url.protocol === "https:"' in dom
