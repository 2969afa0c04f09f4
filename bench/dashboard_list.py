"""How fast the dashboard's conversation list answers with 100,000 conversations in a tenant.

    .venv/bin/python bench/dashboard_list.py            # PostgreSQL db parley_dash_bench on 127.0.0.1
    .venv/bin/python bench/dashboard_list.py --rows 20000 --iterations 30

Creates (once) a dedicated database `parley_dash_bench`, bulk-creates a tenant with
`--rows` conversations (the visitor's question and, once taken, the operator's answer:
60 queued, 8 open per operator for 10 operators, all the rest closed) plus a noisy
neighbour tenant, then times `GET /app/api/conversations?box=...` through Django's test
client (full middleware: session, membership, tenant scope) and prints a table.
It also measures the dashboard's first load: the HTML of /app/ and every CSS/JS file it
loads (the ES modules included), raw and gzipped.
"""

from __future__ import annotations

import argparse
import gzip
import os
import re
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

DB_NAME = "parley_dash_bench"
TENANT = "dash-bench-v2"  # bump when the seed's shape changes
QUEUED = 60
OPEN_PER_OPERATOR = 8
PG_BASE = os.environ.get("PARLEY_BENCH_PG", "postgres://postgres@127.0.0.1:5432")


def ensure_database() -> None:
    import psycopg

    with psycopg.connect(f"{PG_BASE}/postgres", autocommit=True) as conn:
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [DB_NAME]).fetchone()
        if not exists:
            conn.execute(f'CREATE DATABASE "{DB_NAME}"')


def setup_django() -> None:
    os.environ["DATABASE_URL"] = f"{PG_BASE}/{DB_NAME}"
    # Persistent connections, as production runs: otherwise every request pays a PostgreSQL connect.
    os.environ.setdefault("DATABASE_CONN_MAX_AGE", "60")
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    os.environ.setdefault("DJANGO_SECURE_SSL", "0")
    os.environ.setdefault("PARLEY_PLAIN_STATIC", "1")
    os.environ.setdefault("CHANNEL_LAYER_BACKEND", "channels.layers.InMemoryChannelLayer")
    os.environ.setdefault("LOG_LEVEL", "ERROR")
    import django

    django.setup()
    from django.conf import settings

    # The in-memory layer takes no Redis host list; nothing is broadcast while seeding anyway.
    settings.CHANNEL_LAYERS = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}
    from django.core.management import call_command

    call_command("migrate", verbosity=0, interactive=False)


def seed(slug: str, rows: int, operators: int = 10) -> None:
    """Bulk-create `rows` conversations for the tenant `slug`, unless it already has them."""
    from datetime import timedelta

    from django.db import connection, transaction
    from django.utils import timezone
    from django_scopes import scopes_disabled

    from apps.accounts.models import Membership, Tenant, User
    from apps.conversations.models import Conversation, Message, Visitor

    with scopes_disabled():
        tenant = Tenant.objects.filter(slug=slug).first()
        if tenant and Conversation.objects.filter(tenant=tenant).count() >= rows:
            return
        started = time.perf_counter()
        if tenant:
            tenant.delete()
        tenant = Tenant.objects.create(name=slug.title(), slug=slug)
        members = []
        for i in range(operators):
            email = f"op{i}@{slug}.bench"
            User.objects.filter(email=email).delete()
            user = User.objects.create_user(email=email, password="bench password 1", name=f"Operator {i}")
            members.append(Membership.objects.create(tenant=tenant, user=user))
        now = timezone.now()
        batch = 5000
        with transaction.atomic():
            for start in range(0, rows, batch):
                count = min(batch, rows - start)
                visitors = Visitor.objects.bulk_create(
                    [
                        Visitor(
                            tenant=tenant,
                            anonymous_id=f"{slug}-{start + i:09d}",
                            name=f"Visitor {start + i}" if i % 3 else "",
                            last_seen_at=now - timedelta(minutes=start + i),
                        )
                        for i in range(count)
                    ]
                )
                conversations = []
                for i, visitor in enumerate(visitors):
                    n = start + i
                    at = now - timedelta(minutes=n)
                    # The newest are live: a queue of QUEUED, OPEN_PER_OPERATOR open chats each, the rest closed.
                    if n < QUEUED:
                        status, assignee = Conversation.Status.QUEUED, None
                    elif n < QUEUED + OPEN_PER_OPERATOR * operators:
                        status, assignee = Conversation.Status.OPEN, members[n % operators]
                    else:
                        status, assignee = Conversation.Status.CLOSED, members[n % operators]
                    conversations.append(
                        Conversation(
                            tenant=tenant,
                            visitor=visitor,
                            status=status,
                            assignee=assignee,
                            created_at=at - timedelta(minutes=5),
                            last_message_at=at,
                            closed_at=at if status == Conversation.Status.CLOSED else None,
                            last_seq=1 if assignee is None else 2,
                            operator_read_seq=2 if status == Conversation.Status.CLOSED else 0,
                        )
                    )
                conversations = Conversation.objects.bulk_create(conversations)
                messages = []
                for c in conversations:
                    messages.append(
                        Message(tenant=tenant, conversation=c, seq=1, author_type="visitor", body="Hello, a question",
                                client_id="v1", created_at=c.created_at)
                    )
                    if c.assignee_id:
                        messages.append(
                            Message(tenant=tenant, conversation=c, seq=2, author_type="operator", author=c.assignee,
                                    body="Happy to help.", client_id="o1", created_at=c.last_message_at)
                        )
                Message.objects.bulk_create(messages, batch_size=batch)
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE")
        print(f"seeded {rows:,} conversations for {slug} in {time.perf_counter() - started:.1f}s", file=sys.stderr)


def drop_stale_seeds() -> None:
    from django_scopes import scopes_disabled

    from apps.accounts.models import Tenant, User

    with scopes_disabled():
        stale = Tenant.objects.filter(slug__startswith="dash-bench").exclude(slug=TENANT)
        for tenant in stale:
            User.objects.filter(email__endswith=f"@{tenant.slug}.bench").delete()
            tenant.delete()


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


def time_list(iterations: int) -> list[tuple]:
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext
    from django_scopes import scopes_disabled

    from apps.accounts.models import Membership

    with scopes_disabled():
        operator = Membership.objects.select_related("user").get(user__email=f"op0@{TENANT}.bench")
    client = Client()
    client.force_login(operator.user)
    results = []
    first = client.get("/app/api/conversations", {"box": "closed"}).json()
    cases = [
        ("queued (all 60, oldest first)", {"box": "queued", "limit": 200}),
        ("mine", {"box": "mine"}),
        ("open", {"box": "open"}),
        ("closed", {"box": "closed"}),
        ("closed, page 2", {"box": "closed", "before": first["next_before"]}),
        ("closed, limit 200", {"box": "closed", "limit": 200}),
    ]
    for label, params in cases:
        for _ in range(3):
            client.get("/app/api/conversations", params)
        timings, sql_times = [], []
        for _ in range(iterations):
            with CaptureQueriesContext(connection) as queries:
                started = time.perf_counter()
                response = client.get("/app/api/conversations", params)
                timings.append((time.perf_counter() - started) * 1000)
            assert response.status_code == 200, response.content
            sql_times.append(sum(float(q["time"]) for q in queries.captured_queries) * 1000)
        rows = len(response.json()["conversations"])
        results.append(
            (label, rows, len(queries), statistics.median(sql_times), statistics.median(timings),
             percentile(timings, 95), max(timings), len(response.content))
        )
    return results


def first_load() -> list[tuple[str, int, int]]:
    from django.contrib.staticfiles import finders
    from django.test import Client
    from django_scopes import scopes_disabled

    from apps.accounts.models import Membership

    with scopes_disabled():
        operator = Membership.objects.select_related("user").get(user__email=f"op0@{TENANT}.bench")
    client = Client()
    client.force_login(operator.user)
    html = client.get("/app/").content
    files = [("/app/ (HTML)", html)]
    static_paths = ["dashboard/app.css", "dashboard/app.js"]
    for path in sorted(Path(finders.find("dashboard/app.js")).parent.joinpath("js").glob("*.js")):
        static_paths.append(f"dashboard/js/{path.name}")
    referenced = set(re.findall(rb'(?:href|src)="/static/([^"]+)"', html))
    for path in static_paths:
        assert path.encode() in referenced or path.startswith("dashboard/js/"), path
        files.append((path, Path(finders.find(path)).read_bytes()))
    return [(name, len(body), len(gzip.compress(body, 9))) for name, body in files]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--iterations", type=int, default=50)
    args = parser.parse_args()
    ensure_database()
    setup_django()
    drop_stale_seeds()
    seed(TENANT, args.rows)
    seed("dash-neighbour", max(1000, args.rows // 5))
    from django.db import connection

    load = os.getloadavg()[0]
    print(f"\nConversation list endpoint, {args.rows:,} conversations in the tenant "
          f"(+ {max(1000, args.rows // 5):,} in a neighbour), PostgreSQL {connection.pg_version // 10000}, "
          f"{args.iterations} requests each, Django test client (full middleware), "
          f"{os.cpu_count()} CPUs, load average {load:.1f}\n")
    print("| box | rows | SQL queries | SQL ms p50 | p50 ms | p95 ms | max ms | JSON bytes |")
    print("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
    for label, rows, queries, sql_ms, p50, p95, worst, size in time_list(args.iterations):
        print(f"| {label} | {rows} | {queries} | {sql_ms:.1f} | {p50:.1f} | {p95:.1f} | {worst:.1f} | {size:,} |")
    print("\nDashboard first load (HTML + CSS + every ES module), gzip -9\n")
    print("| file | bytes | gzipped |")
    print("| --- | ---: | ---: |")
    total_raw = total_gz = 0
    for name, raw, gz in first_load():
        total_raw += raw
        total_gz += gz
        print(f"| {name} | {raw:,} | {gz:,} |")
    print(f"| **total** | **{total_raw:,}** | **{total_gz:,}** |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
