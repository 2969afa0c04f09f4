"""Parley under daphne in a subprocess, against a migrated SQLite file: for browser tests and screenshots."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from tests.processes import CHROMIUM, free_port, parley_env, stop_process, wait_for_port

ROOT = Path(__file__).resolve().parents[2]
PASSWORD = "correct horse battery"

SEED = r"""
import json, sys
from datetime import timedelta
from django.utils import timezone
from django_scopes import scopes_disabled
from apps.accounts.models import Department, Membership, Role, Tenant, User
from apps.conversations import services
from apps.conversations.models import Visitor
from apps.conversations.tokens import visitor_token_issue
from apps.dashboard.services import operator_status_set

import os
password = "correct horse battery"
with scopes_disabled():
    tenant = Tenant.objects.create(name="Acme Shoes", slug="acme-shoes")
    members = []
    for email, name, role in [
        ("anna@acme.test", "Anna Operator", Role.OWNER),
        ("boris@acme.test", "Boris Colleague", Role.OPERATOR),
    ]:
        user = User.objects.create_user(email=email, password=password, name=name)
        members.append(Membership.objects.create(tenant=tenant, user=user, role=role))
    support = Department.objects.create(tenant=tenant, name="Support")
    support.members.set(members)
for m in members:
    operator_status_set(tenant=tenant, membership=m, status="online")
ua = ("Mozilla/5.0 (Macintosh; Intel Mac OS X 14_5) AppleWebKit/605.1.15 (KHTML, like Gecko) "
      "Version/17.5 Safari/605.1.15")
visitor = services.visitor_identify(
    tenant=tenant, anonymous_id="browser-test-visitor-0001", language="en-GB", user_agent=ua,
    url="https://shop.example/", title="Acme Shoes: home", referrer="https://www.google.com/search?q=shoes",
)
services.page_view_record(tenant=tenant, visitor=visitor, url="https://shop.example/boots", title="Boots")
services.page_view_record(tenant=tenant, visitor=visitor, url="https://shop.example/boots/trail-42", title="Trail 42")
extra = []
if os.environ.get("PARLEY_SEED_DEMO"):
    # A fuller picture for screenshots: a few more visitors and chats in every state.
    names = ["Maria Lopez", "", "Jan Kowalski", "Olga Ivanova", "Tom Baker", ""]
    texts = ["Do you ship to Poland?", "hi, is anyone there?", "Can I return boots after 30 days?",
             "My order #4411 has not arrived", "Thanks, all good!", "Is there a size chart?"]
    for i, (name, text) in enumerate(zip(names, texts)):
        v = services.visitor_identify(
            tenant=tenant, anonymous_id=f"demo-visitor-{i:04d}", name=name, user_agent=ua if i % 2 else
            "Mozilla/5.0 (Linux; Android 14) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0 Mobile Safari/537.36",
            language=["es", "en", "pl", "ru", "en", "de"][i], url=f"https://shop.example/page-{i}", title=f"Page {i}",
        )
        c = services.conversation_start(tenant=tenant, visitor=v)
        services.message_send(tenant=tenant, conversation=c, author_type="visitor", body=text, client_id=f"d{i}")
        if i in (2, 3, 4):
            services.conversation_accept(tenant=tenant, conversation=c, membership=members[0 if i != 3 else 1])
            services.message_send(tenant=tenant, conversation=c, author_type="operator", author=members[0],
                                  body="Let me check that for you.", client_id=f"r{i}")
        if i == 4:
            services.conversation_close(tenant=tenant, conversation=c, by=members[0])
        extra.append(c.pk)
    main = services.conversation_start(tenant=tenant, visitor=visitor)
    script = [
        ("visitor", "Hi! Do the Trail 42 boots run true to size?"),
        ("accept", ""),
        ("operator", "Hello! They run half a size small, so most people order one size up."),
        ("note", "Returning customer, bought twice last year."),
        ("visitor", "Great, and is there free shipping to Berlin?"),
    ]
    for n, (kind, text) in enumerate(script):
        if kind == "accept":
            services.conversation_accept(tenant=tenant, conversation=main, membership=members[0])
        elif kind == "visitor":
            services.message_send(tenant=tenant, conversation=main, author_type="visitor", body=text, client_id=f"m{n}")
        else:
            services.message_send(tenant=tenant, conversation=main, author_type="operator", author=members[0],
                                  body=text, client_id=f"m{n}", kind="note" if kind == "note" else "text")
    services.visitor_update(tenant=tenant, visitor=visitor, name="Lena Fischer", email="lena@example.de")
    services.visitor_note_add(tenant=tenant, visitor=visitor, author=members[0], body="Prefers email follow-ups.")
    extra.insert(0, main.pk)
print(json.dumps({
    "tenant": tenant.pk,
    "visitor": visitor.pk,
    "token": visitor_token_issue(tenant=tenant, visitor=visitor),
    "operators": [{"id": m.pk, "email": m.user.email, "name": m.name_for_team} for m in members],
    "conversations": extra,
}))
"""


def chromium_path() -> str:
    return CHROMIUM


class LiveParley:
    """Migrate a fresh SQLite file, seed a tenant, start daphne; `stop()` ends it."""

    def __init__(self, workdir: Path, *, demo: bool = False, env: dict[str, str] | None = None) -> None:
        self.workdir = workdir
        self.port = free_port()
        self.base_url = f"http://127.0.0.1:{self.port}"
        self.env = parley_env(
            DATABASE_URL=f"sqlite:///{workdir / 'parley.sqlite3'}",
            PARLEY_BASE_URL=self.base_url,
            PARLEY_MEDIA_ROOT=str(workdir / "media"),
            # The real channel layer on Redis: the suite's (make test starts one), else a database of our own.
            REDIS_URL=os.environ.get("PARLEY_DASHBOARD_TEST_REDIS")
            or os.environ.get("REDIS_URL")
            or "redis://127.0.0.1:6379/11",
            **(env or {}),
        )
        python = sys.executable
        subprocess.run(  # noqa: S603
            [python, "manage.py", "migrate", "--noinput", "-v", "0"], cwd=ROOT, env=self.env, check=True
        )
        args = [python, "manage.py", "shell", "-c", SEED]
        seeded = subprocess.run(  # noqa: S603
            args,
            cwd=ROOT,
            env={**self.env, "PARLEY_SEED_DEMO": "1" if demo else ""},
            check=True,
            capture_output=True,
            text=True,
        )
        self.seed = json.loads(seeded.stdout.strip().splitlines()[-1])
        self.log = open(workdir / "daphne.log", "w")  # noqa: SIM115
        self.process = subprocess.Popen(  # noqa: S603
            [python, "-m", "daphne", "-b", "127.0.0.1", "-p", str(self.port), "config.asgi:application"],
            cwd=ROOT,
            env=self.env,
            stdout=self.log,
            stderr=subprocess.STDOUT,
        )
        wait_for_port(self.port)

    def stop(self) -> None:
        stop_process(self.process)
        self.log.close()

    def login(self, page, email: str) -> None:
        page.goto(f"{self.base_url}/accounts/login/")
        page.fill("input[name=login]", email)
        page.fill("input[name=password]", PASSWORD)
        page.press("input[name=password]", "Enter")
        page.wait_for_load_state()
        page.goto(f"{self.base_url}/app/")
        page.wait_for_selector('#conn[data-state="online"]', state="attached", timeout=10000)
