"""Soak: many widget sockets held open for minutes, a few of them chatting, against one Parley.

    .venv/bin/python bench/soak.py                                  # the issue's run: 2,000 sockets, 10 minutes
    .venv/bin/python bench/soak.py --sockets 500 --minutes 3        # what a shared 2-core machine allows

Starts a private Redis, prepares its own PostgreSQL database (`bench/parley_setup.py`:
tenants, operators with sessions, visitors with tokens), starts one daphne on
`bench.soak_asgi` (Parley plus a probe that logs the process's asyncio tasks, threads,
file descriptors and RSS), then from this process (asyncio + `websockets`):

- opens every operator socket (`/ws/app/`) and `--sockets` visitor sockets (`/ws/widget/`),
  `--chatty` of which send a message every `--interval` seconds (each also resent once with
  the same `client_id` now and then: an idempotent resend must not make a second message);
  the others stay idle but for a `ping` every 30 s;
- checks every message: exactly one `ack` per send (the resend gets the same `seq`), and
  every operator of the tenant hears of it: its body (operators who watch the chat; counted
  for duplicates) or its seq in a `list` item (every operator's lists); lost = neither;
- samples the server every `--sample` seconds; after `--minutes` closes every socket and
  waits `--settle` seconds, so the task count must fall back to what it was before the
  sockets opened (anything above is a leak).

Prints markdown tables (samples, then the verdict) and writes them to
bench/results/soak-<UTC timestamp>.md. Every process it starts is stopped on exit.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import datetime as dt
import itertools
import json
import os
import random
import resource
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

BENCH = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH))

from realtime import (  # noqa: E402
    PYTHON,
    ROOT,
    Processes,
    daphne_argv,
    free_port,
    machine_info,
    redis_server_binary,
    wait_for_port,
)
from websockets.asyncio.client import connect  # noqa: E402
from websockets.exceptions import ConnectionClosed  # noqa: E402

PING_SECONDS = 30


@dataclass
class Tracked:
    tenant: int
    sent_at: float
    acks: list[int] = field(default_factory=list)
    conversation: int | None = None
    seen_by: dict[int, int] = field(default_factory=dict)  # operator index -> message frames received
    seen_at: float | None = None  # the first message frame at any operator


@dataclass
class Totals:
    sent: int = 0
    resends: int = 0
    errors: dict[str, int] = field(default_factory=dict)
    unexpected_closes: int = 0
    connect_failures: int = 0
    connect_errors: dict[str, int] = field(default_factory=dict)
    latencies: list[float] = field(default_factory=list)


class Soak:
    def __init__(self, args: argparse.Namespace, port: int, credentials: dict) -> None:
        self.args = args
        self.base = f"ws://127.0.0.1:{port}"
        self.origin = f"http://localhost:{port}"
        self.credentials = credentials
        self.messages: dict[str, Tracked] = {}
        self.listed: dict[tuple[int, int], set[int]] = {}  # (conversation, seq) -> operators whose lists named it
        self.listed_at: dict[tuple[int, int], float] = {}  # (conversation, seq) -> first time a list named it
        self.totals = Totals()
        self.sockets: list = []
        self.tasks: set[asyncio.Task] = set()
        self.closing = False
        self.operators_per_tenant = [len(t["operators"]) for t in credentials["tenants"]]

    def spawn(self, coroutine) -> None:
        task = asyncio.create_task(coroutine)
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)

    async def open(self, path: str, cookie: str | None = None):
        for attempt in range(4):
            try:
                ws = await connect(
                    self.base + path,
                    origin=self.origin,
                    additional_headers={"Cookie": cookie} if cookie else None,
                    compression=None,
                    proxy=None,
                    open_timeout=60,
                    ping_interval=None,
                    max_queue=None,
                    close_timeout=2,
                )
                hello = json.loads(await asyncio.wait_for(ws.recv(), 60))
                if hello.get("type") != "hello":
                    raise RuntimeError(f"no hello: {hello}")
                self.sockets.append(ws)
                return ws
            except Exception as exc:  # refused, timed out, dropped: retried, then counted by kind
                failure = f"{type(exc).__name__}: {str(exc)[:80]}"
                await asyncio.sleep(0.5 * (attempt + 1))
        self.totals.connect_failures += 1
        self.totals.connect_errors[failure] = self.totals.connect_errors.get(failure, 0) + 1
        return None

    def note_error(self, frame: dict) -> None:
        code = str(frame.get("code"))
        self.totals.errors[code] = self.totals.errors.get(code, 0) + 1


    async def operator_reader(self, ws, tenant: int, index: int) -> None:
        try:
            async for raw in ws:
                frame = json.loads(raw)
                if frame.get("type") == "message":
                    tracked = self.messages.get(frame["message"].get("client_id") or "")
                    if tracked is not None:
                        tracked.seen_by[index] = tracked.seen_by.get(index, 0) + 1
                        tracked.seen_at = tracked.seen_at or time.monotonic()
                elif frame.get("type") == "list":
                    # Bodies go only to the operators who watch a chat (docs/protocol.md, "Groups"); every
                    # operator's lists hear of each visitor message by its seq.
                    # The list item may arrive before the visitor's ack names the seq (an ack follows its
                    # broadcast), so sightings are kept by (conversation, seq) and matched in the verdict.
                    now = time.monotonic()
                    for item in frame.get("conversations", ()):
                        for seq in item.get("visitor_seqs", ()):
                            key = (item.get("id"), seq)
                            self.listed.setdefault(key, set()).add(index)
                            self.listed_at.setdefault(key, now)
                elif frame.get("type") == "error":
                    self.note_error(frame)
        except ConnectionClosed:
            if not self.closing:
                self.totals.unexpected_closes += 1

    async def visitor(self, token: str, tenant: int, chatty: bool, number: int) -> None:
        try:
            await self.visitor_session(token, tenant, chatty, number)
        except Exception as exc:  # a bug of this script must not pass for a quiet server
            key = f"visitor task: {type(exc).__name__}: {str(exc)[:80]}"
            self.totals.errors[key] = self.totals.errors.get(key, 0) + 1

    async def visitor_session(self, token: str, tenant: int, chatty: bool, number: int) -> None:
        ws = await self.open(f"/ws/widget/?token={token}")
        if ws is None:
            return
        self.spawn(self.visitor_reader(ws))
        rng = random.Random(number)
        await asyncio.sleep(rng.uniform(0, self.args.interval if chatty else PING_SECONDS))
        counter = itertools.count()
        while not self.closing:
            try:
                if chatty:
                    client_id = f"soak-{number}-{next(counter)}"
                    frame = {"type": "send", "client_id": client_id, "body": f"soak message {client_id}"}
                    self.messages[client_id] = Tracked(tenant=tenant, sent_at=time.monotonic())
                    await ws.send(json.dumps(frame))
                    self.totals.sent += 1
                    if rng.random() < 0.1:  # a client that missed its ack resends the same client_id
                        await asyncio.sleep(0.5)
                        await ws.send(json.dumps(frame))
                        self.totals.resends += 1
                    await asyncio.sleep(self.args.interval)
                else:
                    await ws.send('{"type": "ping"}')
                    await asyncio.sleep(PING_SECONDS)
            except ConnectionClosed:
                return

    async def visitor_reader(self, ws) -> None:
        try:
            async for raw in ws:
                frame = json.loads(raw)
                if frame.get("type") == "ack":
                    tracked = self.messages.get(frame.get("client_id") or "")
                    if tracked is not None:
                        tracked.acks.append(frame["seq"])
                        tracked.conversation = frame.get("conversation")
                elif frame.get("type") == "error":
                    self.note_error(frame)
        except ConnectionClosed:
            if not self.closing:
                self.totals.unexpected_closes += 1

    async def start(self) -> None:
        for tenant, entry in enumerate(self.credentials["tenants"]):
            for index, cookie in enumerate(entry["operators"]):
                ws = await self.open("/ws/app/", cookie)
                if ws is not None:
                    self.spawn(self.operator_reader(ws, tenant, index))
        chatty_tokens = [
            (token, tenant) for tenant, entry in enumerate(self.credentials["tenants"]) for token in entry["visitors"]
        ]
        plan = [(token, tenant, True) for token, tenant in chatty_tokens]
        plan += [(token, -1, False) for token in self.credentials["idle_tokens"]]  # idle: the tenant is not needed
        # Open in batches: a real crowd arrives over time, not in one SYN flood.
        batch_size = self.args.open_rate // 2 or 1
        for start in range(0, len(plan), batch_size):
            batch = plan[start : start + batch_size]
            for number, (token, tenant, chatty) in enumerate(batch, start):
                self.spawn(self.visitor(token, tenant, chatty, number))
            await asyncio.sleep(0.5)

    async def stop(self) -> None:
        self.closing = True
        self.stopped_at = time.monotonic()
        await asyncio.gather(*(ws.close() for ws in self.sockets), return_exceptions=True)
        for task in list(self.tasks):
            task.cancel()
        await asyncio.gather(*self.tasks, return_exceptions=True)

    def verdict(self) -> dict:
        """Messages: acks per send, and deliveries per operator of the tenant (only messages old enough)."""
        lost = duplicated = unacked = ack_mismatch = checked = 0
        self.totals.latencies.clear()  # taken here, from what the operators heard
        # Messages of the last seconds before every socket closed may still have been in flight (a list
        # item waits up to PARLEY_LIST_COALESCE_SECONDS): only older ones are checked.
        cutoff = getattr(self, "stopped_at", time.monotonic()) - 10
        for tracked in self.messages.values():
            if tracked.sent_at > cutoff:
                continue
            checked += 1
            if not tracked.acks:
                unacked += 1
            elif len(set(tracked.acks)) != 1:
                ack_mismatch += 1
            key = (tracked.conversation, tracked.acks[0]) if tracked.acks else None
            listed_for = self.listed.get(key, set())
            heard = [at for at in (tracked.seen_at, self.listed_at.get(key)) if at is not None]
            if heard:  # the first time any operator heard of it, by its body or its list item
                self.totals.latencies.append(min(heard) - tracked.sent_at)
            for index in range(self.operators_per_tenant[tracked.tenant]):
                times = tracked.seen_by.get(index, 0)
                lost += times == 0 and index not in listed_for
                duplicated += max(0, times - 1)
        latencies = sorted(self.totals.latencies)

        def pct(share: float) -> float | None:
            if not latencies:
                return None
            return round(latencies[min(len(latencies) - 1, int(share * len(latencies)))] * 1000, 1)

        return {
            "checked": checked,
            "unacked": unacked,
            "ack_mismatch": ack_mismatch,
            "lost_deliveries": lost,
            "duplicated_deliveries": duplicated,
            "p50_ms": pct(0.5),
            "p99_ms": pct(0.99),
        }


def read_stats(path: Path) -> list[dict]:
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def prepare(args, procs: Processes, env: dict, origin: str) -> dict:
    out = procs.log_dir / "credentials.json"
    tenants = args.tenants
    chatty_per_tenant = max(1, args.chatty // tenants)
    argv = [
        PYTHON, str(BENCH / "parley_setup.py"), "--out", str(out), "--origin", origin,
        "--tenants", str(tenants), "--operators", str(args.operators),
        "--visitors", str(chatty_per_tenant), "--idle", str(max(0, args.sockets - chatty_per_tenant * tenants)),
    ]  # fmt: skip
    setup = procs.start("setup", argv, env)
    try:
        code = setup.wait(600)
    finally:
        procs.stop(setup)
    if code != 0:
        raise RuntimeError(f"setup failed ({code}); see {procs.log_dir}/setup.log")
    credentials = json.loads(out.read_text())
    return credentials


def per_min_kib(samples: list[dict], warm_at: float) -> float | None:
    """RSS growth per minute from the first sample after warm-up to the last."""
    warm = next((s for s in samples if s["minute"] * 60 >= warm_at), None)
    last = samples[-1] if samples else None
    if not warm or not last or last["minute"] <= warm["minute"] or not warm["rss_kib"] or not last["rss_kib"]:
        return None
    return (last["rss_kib"] - warm["rss_kib"]) / (last["minute"] - warm["minute"])


def tcp(stat: dict) -> str:
    counts = stat.get("tcp") or {}
    return ", ".join(str(counts.get(name, "-")) for name in ("clients", "postgres", "redis", "other"))


def mib(kib: float | None) -> str:
    return "-" if kib is None else f"{kib / 1024:.1f}"


def report(args, machine: dict, samples: list[dict], stats: list[dict], baseline: dict, final: dict, soak: Soak,
           warm_at: float) -> str:  # fmt: skip
    verdict = soak.verdict()
    errors = soak.totals.errors
    leaked = final.get("tasks", 0) - baseline.get("tasks", 0) if final and baseline else "-"
    rate = "-" if per_min_kib(samples, warm_at) is None else f"{per_min_kib(samples, warm_at) / 1024:.2f}"
    lines = [
        f"# Soak {dt.datetime.now(dt.UTC):%Y-%m-%d %H:%M} UTC",
        "",
        f"{args.sockets} widget sockets ({args.chatty} chatty: a message every {args.interval:g} s, 10 % resent "
        f"with the same client_id; the rest idle, a ping every {PING_SECONDS} s), "
        f"{args.tenants} tenants x {args.operators} operators, {args.minutes:g} minutes, one daphne process. "
        f"Machine: {machine.get('cpu', '?')}, {machine.get('nproc', '?')} cores, "
        f"load before {machine.get('load', '?')}, commit {machine.get('commit', '?')}.",
        "",
        "| min | open sockets | server RSS MiB | asyncio tasks | threads | fds | messages sent | errors |",
        "| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for sample in samples:
        lines.append(
            f"| {sample['minute']:.1f} | {sample['open']} | {mib(sample['rss_kib'])} | {sample['tasks']} | "
            f"{sample['threads']} | {sample['fds']} | {sample['sent']} | {sample['errors']} |"
        )
    warm = next((s for s in samples if s["minute"] * 60 >= warm_at), samples[0] if samples else None)
    last = samples[-1] if samples else None
    growth = last["rss_kib"] - warm["rss_kib"] if warm and last and warm["rss_kib"] and last["rss_kib"] else None
    lines += [
        "",
        "| verdict | value |",
        "| --- | ---: |",
        f"| sockets opened / failed to open | {len(soak.sockets)} / {soak.totals.connect_failures} |",
        f"| why sockets failed to open | {json.dumps(soak.totals.connect_errors) or '-'} |",
        f"| unexpected closes | {soak.totals.unexpected_closes} |",
        f"| error frames | {sum(soak.totals.errors.values())} {json.dumps(soak.totals.errors) if errors else ''} |",
        f"| messages sent (+ idempotent resends) | {soak.totals.sent} (+{soak.totals.resends}) |",
        f"| messages checked (older than 10 s at the end) | {verdict['checked']} |",
        f"| without ack / with two different seqs | {verdict['unacked']} / {verdict['ack_mismatch']} |",
        f"| operator deliveries lost / duplicated | {verdict['lost_deliveries']} / "
        f"{verdict['duplicated_deliveries']} |",
        f"| send -> first operator p50 / p99 ms | {verdict['p50_ms']} / {verdict['p99_ms']} |",
        f"| server RSS before sockets / after warm-up / at the end | {mib(baseline.get('rss_kib'))} / "
        f"{mib(warm['rss_kib'] if warm else None)} / {mib(last['rss_kib'] if last else None)} MiB |",
        f"| RSS growth after warm-up | {mib(growth)} MiB ({rate} MiB/min) |",
        f"| asyncio tasks before sockets / with sockets / {args.settle:g} s after all closed | "
        f"{baseline.get('tasks', '-')} / {last['tasks'] if last else '-'} / {final.get('tasks', '-')} |",
        f"| tasks leaked (after close minus before) | {leaked} |",
        f"| fds before / with sockets / after close | {baseline.get('fds', '-')} / {last['fds'] if last else '-'} / "
        f"{final.get('fds', '-')} |",
        f"| TCP after close (clients, PostgreSQL, Redis, other) | {tcp(final)} (before: {tcp(baseline)}) |",
    ]  # fmt: skip
    return "\n".join(lines) + "\n"


async def drive(args, port: int, credentials: dict, stats_path: Path, server_pid: int, machine: dict) -> str:
    soak = Soak(args, port, credentials)
    await asyncio.sleep(args.sample)  # the probe starts with the first connection: open one, then read
    probe = await soak.open("/ws/app/", credentials["tenants"][0]["operators"][0])
    await asyncio.sleep(args.sample + 1)
    baseline = (read_stats(stats_path) or [{}])[-1]
    if probe is not None:
        await probe.close()
        soak.sockets.remove(probe)
    await asyncio.sleep(args.sample + 1)
    baseline = (read_stats(stats_path) or [baseline])[-1]
    started = time.monotonic()
    await soak.start()
    samples = []
    end = started + args.minutes * 60
    while time.monotonic() < end:
        await asyncio.sleep(min(args.sample, max(0.1, end - time.monotonic())))
        stat = (read_stats(stats_path) or [{}])[-1]
        samples.append(
            {
                "minute": (time.monotonic() - started) / 60,
                "open": sum(1 for ws in soak.sockets if ws.state.name == "OPEN"),
                "rss_kib": stat.get("rss_kib"),
                "tasks": stat.get("tasks"),
                "threads": stat.get("threads"),
                "fds": stat.get("fds"),
                "sent": soak.totals.sent,
                "errors": sum(soak.totals.errors.values()),
            }
        )
        print(json.dumps(samples[-1]), flush=True)
    await soak.stop()
    await asyncio.sleep(args.settle)
    final = (read_stats(stats_path) or [{}])[-1]
    warm_at = min(60.0, args.minutes * 60 / 3)
    return report(args, machine, samples, read_stats(stats_path), baseline, final, soak, warm_at)


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sockets", type=int, default=2000, help="visitor sockets in all (chatty ones included)")
    parser.add_argument("--chatty", type=int, default=100, help="visitor sockets that send messages")
    parser.add_argument("--interval", type=float, default=10.0, help="seconds between a chatty socket's messages")
    parser.add_argument("--minutes", type=float, default=10.0)
    parser.add_argument("--tenants", type=int, default=4)
    parser.add_argument("--operators", type=int, default=2, help="operator sockets per tenant")
    parser.add_argument("--open-rate", type=int, default=40, help="new sockets per second while opening")
    parser.add_argument("--sample", type=float, default=15.0, help="seconds between samples")
    parser.add_argument("--settle", type=float, default=20.0, help="seconds to wait after closing every socket")
    parser.add_argument("--database-url", default="postgres://postgres@127.0.0.1:5432/parley_soak")
    return parser.parse_args(argv)


def main(argv=None) -> int:
    args = parse_args(argv)
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))  # for us and the daphne we start
    log_dir = Path(tempfile.mkdtemp(prefix="parley-soak-"))
    procs = Processes(log_dir)
    try:
        redis_port = free_port()
        redis = procs.start("redis", [redis_server_binary(), "--port", str(redis_port), "--bind", "127.0.0.1",
                                      "--save", "", "--appendonly", "no"])  # fmt: skip
        wait_for_port(redis_port, redis, "redis")
        port = free_port()
        origin = f"http://localhost:{port}"
        stats_path = log_dir / "server-stats.jsonl"
        env = dict(
            os.environ,
            PYTHONPATH=str(ROOT),
            DATABASE_URL=args.database_url,
            REDIS_URL=f"redis://127.0.0.1:{redis_port}/0",
            DJANGO_DEBUG="0",
            DJANGO_SECURE_SSL="0",
            PARLEY_PLAIN_STATIC="1",
            DJANGO_ALLOWED_HOSTS="localhost,127.0.0.1",
            PARLEY_BASE_URL=origin,
            LOG_LEVEL="WARNING",
            CELERY_TASK_ALWAYS_EAGER="1",
            PARLEY_SOCKETS_PER_VISITOR="5",
            SOAK_STATS=str(stats_path),
            SOAK_PORT=str(port),
            SOAK_STATS_SECONDS=str(min(5.0, args.sample)),
        )
        credentials = prepare(args, procs, env, origin)
        # A handshake waits for the database (token, tenant): on a loaded machine daphne's default 5 s drops some.
        argv = [*daphne_argv(port, "bench.soak_asgi:application")]
        argv[-1:-1] = ["--websocket_connect_timeout", "60"]
        server = procs.start("daphne", argv, env)
        wait_for_port(port, server, "daphne")
        machine = machine_info()
        machine["load"] = " ".join(f"{x:.1f}" for x in os.getloadavg())
        text = asyncio.run(drive(args, port, credentials, stats_path, server.pid, machine))
        print(text)
        results = BENCH / "results"
        results.mkdir(exist_ok=True)
        (results / f"soak-{dt.datetime.now(dt.UTC):%Y%m%dT%H%M%SZ}.md").write_text(text)
        print(f"server logs: {log_dir}", file=sys.stderr)
        return 0
    finally:
        procs.stop_all()
        with contextlib.suppress(Exception):
            resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))


if __name__ == "__main__":
    sys.exit(main())
