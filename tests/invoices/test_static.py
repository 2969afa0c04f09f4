"""The stylesheets the invoice card lives in stay well-formed (a lost brace after a merge hides whole sections)."""

from pathlib import Path

import pytest

STATIC = Path(__file__).resolve().parents[2] / "static"


@pytest.mark.parametrize("path", sorted(STATIC.rglob("*.css")), ids=lambda p: str(p.relative_to(STATIC)))
def test_every_stylesheet_closes_each_block_it_opens(path):
    depth = 0
    for number, line in enumerate(path.read_text().splitlines(), start=1):
        depth += line.count("{") - line.count("}")
        assert depth >= 0, f"{path.name}:{number} closes a block that is not open"
        if line.startswith("/*") and depth:
            pytest.fail(f"{path.name}:{number}: a section starts inside an unclosed block")
    assert depth == 0


@pytest.mark.parametrize("app", ["dashboard", "widget"])
def test_the_invoice_card_rules_are_top_level(app):
    css = (STATIC / app / "app.css").read_text()
    head = css.split("/* Invoice")[0]
    assert head.count("{") == head.count("}")
