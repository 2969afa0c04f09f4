"""Pages preload their whole ES module graph (apps/core/templatetags/static_modules.py)."""

import re
from pathlib import Path

import pytest
from django.template import Context, Template

from apps.core.templatetags.static_modules import module_graph

STATIC = Path(__file__).resolve().parents[2] / "static"


def preloaded(html: str) -> set[str]:
    return set(re.findall(r'<link rel="modulepreload" href="/static/([^"]+)">', html))


@pytest.mark.parametrize("app", ["widget", "dashboard"])
def test_every_module_of_an_app_and_the_shared_client_is_preloaded(app):
    html = Template("{% load static_modules %}{% module_preloads entry %}").render(Context({"entry": f"{app}/app.js"}))
    expected = {p.relative_to(STATIC).as_posix() for p in (STATIC / app / "js").rglob("*.js")}
    expected.add("shared/socket.js")
    assert preloaded(html) == expected


def test_the_graph_follows_multi_line_and_parent_imports_once(tmp_path, settings):
    (tmp_path / "app").mkdir()
    (tmp_path / "lib").mkdir()
    (tmp_path / "app" / "main.js").write_text(
        'import {\n  a,\n  b,\n} from "./a.js";\nimport { c } from "../lib/c.js";\n// import { x } from "./nope.js";\n'
    )
    (tmp_path / "app" / "a.js").write_text('import { c } from "../lib/c.js";\nexport const a = 1, b = 2;\n')
    (tmp_path / "lib" / "c.js").write_text('import { a } from "../app/a.js";\nexport const c = 3;\n')
    settings.STATICFILES_DIRS = [tmp_path]
    assert module_graph("app/main.js") == ["app/a.js", "lib/c.js"]


@pytest.mark.django_db
def test_the_widget_frame_preloads_its_modules(client, tenant):
    html = client.get(f"/widget/frame/{tenant.widget_key}/").content.decode()
    assert "widget/js/chat.js" in preloaded(html) and "shared/socket.js" in preloaded(html)
