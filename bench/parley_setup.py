"""Prepare Parley's benchmark database and print the credentials the load generator uses.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/parley_bench python bench/parley_setup.py --out creds.json

Creates the database if it is missing, migrates it, empties it (`flush`), then creates
the tenants, operators (a user, a membership and a logged-in session each) and visitors
(a row and a signed token each, from `visitor_token_issue`). Run by bench/realtime.py
before each Parley server starts; the generator then only talks to the sockets.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

ROOT = Path(__file__).resolve().parent.parent


def ensure_database(url: str) -> None:
    parts = urlsplit(url)
    if not parts.scheme.startswith("postgres"):
        return
    import psycopg
    from psycopg import sql

    name = parts.path.lstrip("/")
    admin_url = urlunsplit(parts._replace(scheme="postgresql", path="/postgres"))
    with psycopg.connect(admin_url, autocommit=True) as connection:
        exists = connection.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone()
        if not exists:
            connection.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
            print(f"created database {name}", file=sys.stderr)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--out", required=True)
    parser.add_argument("--origin", required=True)
    parser.add_argument("--tenants", type=int, default=4)
    parser.add_argument("--operators", type=int, default=5)
    parser.add_argument("--visitors", type=int, default=20)
    parser.add_argument("--idle", type=int, default=2000)
    args = parser.parse_args()

    started = time.monotonic()
    ensure_database(os.environ.get("DATABASE_URL", ""))
    sys.path.insert(0, str(ROOT))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    import django

    django.setup()

    from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY
    from django.contrib.sessions.backends.db import SessionStore
    from django.core.management import call_command

    from apps.accounts.models import Membership, Role, Tenant, User
    from apps.conversations.models import Visitor
    from apps.conversations.tokens import visitor_token_issue
    from apps.core.tenancy import SESSION_TENANT_KEY, scopes_disabled

    call_command("migrate", interactive=False, verbosity=0)
    call_command("flush", interactive=False, verbosity=0)

    tenants_out = []
    idle_tokens: list[str] = []
    base, extra = divmod(args.idle, args.tenants)
    idle_per_tenant = [base + (1 if i < extra else 0) for i in range(args.tenants)]
    with scopes_disabled():
        for t in range(args.tenants):
            tenant = Tenant.objects.create(name=f"Bench {t}", slug=f"bench-{t}")
            cookies = []
            for o in range(args.operators):
                user = User(email=f"op{o}@bench-{t}.example", name=f"Operator {t}.{o}")
                user.set_unusable_password()
                user.save()
                Membership.objects.create(tenant=tenant, user=user, role=Role.OPERATOR, max_concurrent_chats=50)
                session = SessionStore()
                session[SESSION_KEY] = str(user.pk)
                session[BACKEND_SESSION_KEY] = "django.contrib.auth.backends.ModelBackend"
                session[HASH_SESSION_KEY] = user.get_session_auth_hash()
                session[SESSION_TENANT_KEY] = tenant.pk
                session.create()
                cookies.append(f"sessionid={session.session_key}")
            visitors = Visitor.objects.bulk_create(
                [Visitor(tenant=tenant, anonymous_id=f"bench-{t}-{v}") for v in range(args.visitors)]
            )
            idle = Visitor.objects.bulk_create(
                [Visitor(tenant=tenant, anonymous_id=f"bench-{t}-idle-{v}") for v in range(idle_per_tenant[t])]
            )
            tenants_out.append(
                {
                    "operators": cookies,
                    "visitors": [visitor_token_issue(tenant=tenant, visitor=v) for v in visitors],
                }
            )
            idle_tokens += [visitor_token_issue(tenant=tenant, visitor=v) for v in idle]
    # Interleave the idle sockets' tenants.
    idle_tokens.sort(key=lambda token: hash(token))
    Path(args.out).write_text(json.dumps({"tenants": tenants_out, "idle_tokens": idle_tokens}))
    print(f"setup done in {time.monotonic() - started:.1f}s", file=sys.stderr)


if __name__ == "__main__":
    main()
