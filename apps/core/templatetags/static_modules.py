"""`{% module_preloads "widget/app.js" %}`: a modulepreload link for every ES module the entry
imports, directly or not, so the browser fetches the whole graph at once instead of one level
of imports after another. Follows the relative `import ... from "./x.js"` statements of the
files under static/ (no build step), so a module a feature adds is preloaded without a template
edit. The links use the plain static URL, which is what the entry's relative imports resolve to.
"""

from __future__ import annotations

import posixpath
import re
from functools import lru_cache

from django import template
from django.conf import settings
from django.contrib.staticfiles import finders
from django.utils.html import format_html_join

register = template.Library()

# `import x from "./x.js"`, `export ... from "./x.js"` and a feature's bare `import "./x.js"`.
IMPORT = re.compile(r"""^\s*(?:import|export)\b(?:[^"';]*?\bfrom)?\s*["'](\.{1,2}/[^"']+)["']""", re.M)


def module_graph(entry: str) -> list[str]:
    """Static paths of every module `entry` imports (not `entry` itself), in discovery order."""
    seen: list[str] = []
    queue = [entry]
    while queue:
        path = queue.pop(0)
        source = finders.find(path)
        if not source:
            continue
        with open(source, encoding="utf-8") as handle:
            text = handle.read()
        for relative in IMPORT.findall(text):
            target = posixpath.normpath(posixpath.join(posixpath.dirname(path), relative))
            if target != entry and target not in seen:
                seen.append(target)
                queue.append(target)
    return seen


_cached_graph = lru_cache(maxsize=16)(module_graph)


@register.simple_tag
def module_preloads(entry: str) -> str:
    modules = module_graph(entry) if settings.DEBUG else _cached_graph(entry)
    return format_html_join(
        "\n", '<link rel="modulepreload" href="{}">', ((settings.STATIC_URL + path,) for path in modules)
    )
