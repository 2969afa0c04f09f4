"""Open-loop websocket load generator for bench/realtime.py (runs in its own process).

    python bench/loadgen.py CONFIG.json RESULT.json

It speaks docs/protocol.md to whatever server the config points at (Parley or one
of the baselines): operators connect to /ws/app/ with a session cookie, visitors to
/ws/widget/?token=..., visitors `send` messages at a fixed aggregate rate and the
operator who has the visitor's chat open must receive the `message` frame. After the
warm-up each conversation is opened (`watch`, docs/protocol.md) by one operator of its
tenant, the tenant's operators taking turns, as a team shares its chats; Parley sends the
body to that operator only and a compact `list` frame to all (the baselines ignore
`watch` and relay every message to every operator of the tenant).

Latency is measured from the time a message was SCHEDULED to be sent, not from
the moment it was actually written, so a stalled client or server cannot hide its
own delay (no coordinated omission). The schedule never waits for answers.

Every loop here is bounded: each phase has a fixed number of sends and a deadline.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import json
import os
import resource
import sys
import time
from dataclasses import dataclass, field

from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import InvalidHandshake

CLK_TCK = os.sysconf("SC_CLK_TCK")
BODY = "Hello, I have a question about my order, could someone help me please?"
DRAFT_TAIL = "I would like to know whether the parcel"


# ---------------------------------------------------------------- server probes


def proc_cpu_seconds(pids: list[int]) -> float:
    """utime + stime of the server processes, in seconds."""
    total = 0.0
    for pid in pids:
        try:
            with open(f"/proc/{pid}/stat") as handle:
                stat = handle.read()
        except FileNotFoundError:
            continue
        fields = stat[stat.rindex(")") + 2 :].split()
        # After the comm field: state is fields[0], so utime (14) and stime (15) are 11 and 12.
        total += (int(fields[11]) + int(fields[12])) / CLK_TCK
    return total


def proc_rss_kib(pids: list[int]) -> int:
    total = 0
    for pid in pids:
        try:
            with open(f"/proc/{pid}/status") as handle:
                for line in handle:
                    if line.startswith("VmRSS:"):
                        total += int(line.split()[1])
                        break
        except FileNotFoundError:
            continue
    return total


def own_cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def percentile(sorted_values: list[float], fraction: float) -> float | None:
    if not sorted_values:
        return None
    index = min(len(sorted_values) - 1, max(0, int(round(fraction * (len(sorted_values) - 1)))))
    return sorted_values[index]


def summary_ms(values: list[float]) -> dict:
    ordered = sorted(values)
    return {
        "n": len(ordered),
        "p50": _ms(percentile(ordered, 0.50)),
        "p99": _ms(percentile(ordered, 0.99)),
        "max": _ms(ordered[-1] if ordered else None),
    }


def _ms(seconds: float | None) -> float | None:
    return None if seconds is None else round(seconds * 1000, 2)


# ---------------------------------------------------------------- bookkeeping


@dataclass
class Tracked:
    scheduled: float
    tenant: int
    sent_at: float | None = None
    first: float | None = None
    last: float | None = None
    receivers: int = 0
    acked: float | None = None
    error: str | None = None


@dataclass
class Visitor:
    tenant: int
    index: int
    token: str
    ordinal: int = 0
    ws: ClientConnection | None = None
    conversation: int | None = None


@dataclass
class Operator:
    tenant: int
    index: int
    cookie: str
    ordinal: int = 0
    ws: ClientConnection | None = None


@dataclass
class State:
    messages: dict[str, Tracked] = field(default_factory=dict)
    previews: dict[str, Tracked] = field(default_factory=dict)
    cross_tenant: int = 0
    stray: int = 0
    late: int = 0
    errors: dict[str, int] = field(default_factory=dict)
    closed_sockets: int = 0
    connect_retries: int = 0
    operator_frames: dict[str, int] = field(default_factory=dict)
    visitor_frames: dict[str, int] = field(default_factory=dict)


class LoadGenerator:
    def __init__(self, config: dict) -> None:
        self.config = config
        self.pids: list[int] = config["server_pids"]
        self.origin = config["origin"]
        self.state = State()
        self.visitors: list[Visitor] = []
        self.operators: list[Operator] = []
        self.tasks: set[asyncio.Task] = set()
        self.ops_per_tenant: dict[int, int] = {}
        self.watch = config.get("watch", True)
        # Client ids must be new on every run: Parley answers a known one with the old ack and publishes nothing.
        self.nonce = format(int(time.time() * 1000) % 36**6, "x")
        self.aux_pids: dict[str, int] = config.get("aux_pids", {})
        # Per reported batch of messages: its keys and its deadline, to count late arrivals at the end.
        self.deadlines: list[tuple[dict, list[str], float]] = []

    # ------------------------------------------------------------ sockets

    async def _connect(self, url: str, cookie: str | None, attempts: int = 4) -> ClientConnection:
        """Open a socket; a handshake the server dropped (daphne's connect timeout under load) is retried."""
        for attempt in range(attempts):
            try:
                return await self._connect_once(url, cookie)
            except (OSError, InvalidHandshake, TimeoutError):
                self.state.connect_retries += 1
                if attempt == attempts - 1:
                    raise
                await asyncio.sleep(0.5 * (attempt + 1))
        raise AssertionError("unreachable")

    async def _connect_once(self, url: str, cookie: str | None) -> ClientConnection:
        headers = {"Cookie": cookie} if cookie else None
        return await connect(
            url,
            origin=self.origin,
            additional_headers=headers,
            compression=None,
            proxy=None,
            open_timeout=30,
            ping_interval=None,
            max_queue=None,
            close_timeout=2,
        )

    def _spawn(self, coroutine) -> None:
        task = asyncio.create_task(coroutine)
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)

    async def _operator_reader(self, operator: Operator) -> None:
        state = self.state
        try:
            async for raw in operator.ws:
                now = time.monotonic()
                frame = json.loads(raw)
                kind = frame.get("type")
                state.operator_frames[kind] = state.operator_frames.get(kind, 0) + 1
                if kind == "message":
                    key = (frame.get("message") or {}).get("client_id")
                    tracked = state.messages.get(key)
                elif kind == "typing":
                    draft = frame.get("draft") or ""
                    key = draft.split(" ", 1)[0]
                    tracked = state.previews.get(key)
                else:
                    continue
                if tracked is None:
                    state.stray += 1
                    continue
                if tracked.tenant != operator.tenant:
                    state.cross_tenant += 1
                    continue
                if tracked.first is None:
                    tracked.first = now
                tracked.last = now
                tracked.receivers += 1
        except Exception:  # noqa: BLE001 - a dropped socket is counted, the run goes on
            state.closed_sockets += 1

    async def _visitor_reader(self, visitor: Visitor) -> None:
        state = self.state
        try:
            async for raw in visitor.ws:
                frame = json.loads(raw)
                kind = frame.get("type")
                state.visitor_frames[kind] = state.visitor_frames.get(kind, 0) + 1
                if kind == "ack":
                    if visitor.conversation is None:
                        visitor.conversation = frame.get("conversation")
                    tracked = state.messages.get(frame.get("client_id"))
                    if tracked is not None and tracked.acked is None:
                        tracked.acked = time.monotonic()
                elif kind == "error":
                    code = frame.get("code", "?")
                    state.errors[code] = state.errors.get(code, 0) + 1
                    tracked = state.messages.get(frame.get("ref"))
                    if tracked is not None:
                        tracked.error = code
        except Exception:  # noqa: BLE001
            state.closed_sockets += 1

    async def connect_all(self) -> None:
        app_urls = self.config["app_urls"]
        widget_urls = self.config["widget_urls"]
        semaphore = asyncio.Semaphore(self.config.get("connect_concurrency", 20))

        async def open_operator(operator: Operator) -> None:
            async with semaphore:
                url = app_urls[operator.ordinal % len(app_urls)]
                operator.ws = await self._connect(url, operator.cookie)
            self._spawn(self._operator_reader(operator))

        async def open_visitor(visitor: Visitor) -> None:
            async with semaphore:
                url = widget_urls[visitor.ordinal % len(widget_urls)]
                visitor.ws = await self._connect(url.format(token=visitor.token), None)
            self._spawn(self._visitor_reader(visitor))

        for tenant_index, tenant in enumerate(self.config["tenants"]):
            self.ops_per_tenant[tenant_index] = len(tenant["operators"])
            for index, cookie in enumerate(tenant["operators"]):
                self.operators.append(Operator(tenant_index, index, cookie, ordinal=len(self.operators)))
            for index, token in enumerate(tenant["visitors"]):
                self.visitors.append(Visitor(tenant_index, index, token, ordinal=len(self.visitors)))
        await asyncio.gather(*(open_operator(op) for op in self.operators))
        # Interleave tenants so that round-robin over `self.visitors` spreads load evenly.
        self.visitors.sort(key=lambda v: (v.index, v.tenant))
        await asyncio.gather(*(open_visitor(v) for v in self.visitors))

    async def warm_up(self) -> dict:
        """Each visitor sends one message and waits for its ack: opens its conversation."""
        keys = []
        for visitor in self.visitors:
            key = f"{self.nonce}w-{visitor.tenant}-{visitor.index}"
            now = time.monotonic()
            self.state.messages[key] = Tracked(now, visitor.tenant, sent_at=now)
            keys.append(key)
            await visitor.ws.send(json.dumps({"type": "send", "client_id": key, "body": "warm-up"}))
            await asyncio.sleep(0.003)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            # A chat's first message reaches the list only (nobody has it open yet) when watching.
            if all(v.conversation is not None for v in self.visitors) and (
                self.watch or all(self.state.messages[k].first is not None for k in keys)
            ):
                break
            await asyncio.sleep(0.05)
        missing = sum(1 for v in self.visitors if v.conversation is None)
        undelivered = sum(1 for k in keys if self.state.messages[k].first is None)
        if self.watch:
            await self.open_chats()
        await asyncio.sleep(0.5)
        return {"visitors_without_conversation": missing, "undelivered": undelivered, "errors": dict(self.state.errors)}

    async def open_chats(self) -> None:
        """Each visitor's chat is open in one operator's dashboard; a tenant's operators take turns."""
        by_tenant: dict[int, list[Operator]] = {}
        for operator in self.operators:
            by_tenant.setdefault(operator.tenant, []).append(operator)
        for visitor in self.visitors:
            if visitor.conversation is None:
                continue
            team = by_tenant[visitor.tenant]
            watcher = team[visitor.index % len(team)]
            await watcher.ws.send(json.dumps({"type": "watch", "conversation": visitor.conversation}))

    def expected_receivers(self, tenant: int) -> int:
        """Operator sockets that must get a message's body: its chat's watcher, or the whole tenant without `watch`."""
        return 1 if self.watch else self.ops_per_tenant[tenant]

    # ------------------------------------------------------------ open-loop schedules

    async def _schedule(self, rate: float, count: int, start: float, emit) -> list[float]:
        """Call emit(i, scheduled_time) for i in range(count) at start + i/rate; return send lags."""
        lags = []
        interval = 1.0 / rate
        i = 0
        while i < count:
            now = time.monotonic()
            due = start + i * interval
            if due > now:
                await asyncio.sleep(due - now)
                continue
            # Send everything that is due (catching up after a stall keeps the schedule).
            while i < count and start + i * interval <= now:
                scheduled = start + i * interval
                await emit(i, scheduled)
                lags.append(time.monotonic() - scheduled)
                i += 1
        return lags

    def _message_emitter(self, prefix: str):
        visitors = self.visitors
        messages = self.state.messages

        async def emit(i: int, scheduled: float) -> None:
            visitor = visitors[i % len(visitors)]
            key = f"{self.nonce}{prefix}-{i}"
            tracked = Tracked(scheduled, visitor.tenant, sent_at=time.monotonic())
            messages[key] = tracked
            frame = {"type": "send", "client_id": key, "body": BODY}
            if visitor.conversation is not None:
                frame["conversation"] = visitor.conversation
            try:
                await visitor.ws.send(json.dumps(frame))
            except Exception as exc:  # noqa: BLE001
                tracked.error = f"send failed: {type(exc).__name__}"

        return emit

    def _preview_emitter(self, prefix: str):
        visitors = self.visitors
        previews = self.state.previews

        async def emit(i: int, scheduled: float) -> None:
            visitor = visitors[i % len(visitors)]
            key = f"{self.nonce}{prefix}-{i}"
            previews[key] = Tracked(scheduled, visitor.tenant, sent_at=time.monotonic())
            frame = {
                "type": "typing",
                "conversation": visitor.conversation,
                "on": True,
                "draft": f"{key} {DRAFT_TAIL}",
            }
            with contextlib.suppress(Exception):
                await visitor.ws.send(json.dumps(frame))

        return emit

    async def _drain(self, keys: list[str], table: dict[str, Tracked], deadline: float) -> None:
        while time.monotonic() < deadline:
            if all(table[k].first is not None or table[k].error for k in keys):
                return
            await asyncio.sleep(0.02)

    def _aux_cpu(self) -> dict[str, float]:
        return {name: proc_cpu_seconds([pid]) for name, pid in self.aux_pids.items()}

    def _aux_pct(self, before: dict[str, float], wall: float) -> dict[str, float]:
        after = self._aux_cpu()
        return {name: round(100 * (after[name] - before[name]) / wall, 1) for name in before}

    def _message_report(self, keys: list[str]) -> dict:
        latencies, all_ops, acks, ack_to_operator = [], [], [], []
        lost = refused = partial = 0
        for key in keys:
            tracked = self.state.messages[key]
            if tracked.first is None:
                lost += 1
                if tracked.error:
                    refused += 1
                continue
            latencies.append(tracked.first - tracked.scheduled)
            if tracked.receivers >= self.expected_receivers(tracked.tenant):
                all_ops.append(tracked.last - tracked.scheduled)
            else:
                partial += 1
            if tracked.acked is not None:
                acks.append(tracked.acked - tracked.scheduled)
                ack_to_operator.append(tracked.first - tracked.acked)
        report = {
            "sent": len(keys),
            "delivered": len(latencies),
            "lost": lost,
            "refused": refused,
            "partial_fanout": partial,
            "latency": summary_ms(latencies),
            "latency_all_ops": summary_ms(all_ops),
            "ack": summary_ms(acks),
            # How long after the visitor's ack the first operator had it: the broadcast path alone.
            "ack_to_operator": summary_ms(ack_to_operator),
            "late": 0,
        }
        self.deadlines.append((report, keys, time.monotonic()))
        return report

    def count_late(self) -> None:
        """Of the messages counted lost, how many arrived after their deadline (slow, not gone)."""
        for report, keys, deadline in self.deadlines:
            report["late"] = sum(
                1 for k in keys if (t := self.state.messages[k]).first is not None and t.first > deadline
            )

    async def run_rate(self, step: int, rate: float, seconds: float, drain: float) -> dict:
        count = max(1, int(rate * seconds))
        prefix = f"r{step}"
        gc.collect()
        cpu0, gen0, t0 = proc_cpu_seconds(self.pids), own_cpu_seconds(), time.monotonic()
        aux0 = self._aux_cpu()
        start = t0 + 0.05
        lags = await self._schedule(rate, count, start, self._message_emitter(prefix))
        keys = [f"{self.nonce}{prefix}-{i}" for i in range(count)]
        await self._drain(keys, self.state.messages, start + count / rate + drain)
        cpu1, gen1, t1 = proc_cpu_seconds(self.pids), own_cpu_seconds(), time.monotonic()
        report = self._message_report(keys)
        wall = t1 - t0
        report.update(
            rate=rate,
            seconds=round(wall, 2),
            server_cpu_s=round(cpu1 - cpu0, 3),
            server_cpu_pct=round(100 * (cpu1 - cpu0) / wall, 1),
            server_cpu_ms_per_msg=round(1000 * (cpu1 - cpu0) / max(1, report["delivered"]), 3),
            generator_cpu_pct=round(100 * (gen1 - gen0) / wall, 1),
            aux_cpu_pct=self._aux_pct(aux0, wall),
            send_lag=summary_ms(lags),
        )
        return report

    async def run_storm(self, seconds: float, preview_hz: float, message_rate: float, drain: float) -> dict:
        preview_rate = preview_hz * len(self.visitors)
        previews = max(1, int(preview_rate * seconds))
        messages = max(1, int(message_rate * seconds))
        gc.collect()
        cpu0, gen0, t0 = proc_cpu_seconds(self.pids), own_cpu_seconds(), time.monotonic()
        aux0 = self._aux_cpu()
        start = t0 + 0.05
        await asyncio.gather(
            self._schedule(preview_rate, previews, start, self._preview_emitter("p")),
            self._schedule(message_rate, messages, start + 0.0007, self._message_emitter("storm")),
        )
        message_keys = [f"{self.nonce}storm-{i}" for i in range(messages)]
        await self._drain(message_keys, self.state.messages, start + seconds + drain)
        # Previews may legitimately be dropped by throttling: just wait a little for the last ones.
        await asyncio.sleep(min(drain, 1.0))
        cpu1, gen1, t1 = proc_cpu_seconds(self.pids), own_cpu_seconds(), time.monotonic()
        preview_keys = [f"{self.nonce}p-{i}" for i in range(previews)]
        preview_latency = [
            self.state.previews[k].first - self.state.previews[k].scheduled
            for k in preview_keys
            if self.state.previews[k].first is not None
        ]
        frames = sum(self.state.previews[k].receivers for k in preview_keys)
        wall = t1 - t0
        return {
            "seconds": round(wall, 2),
            "previews_sent": previews,
            "previews_forwarded": len(preview_latency),
            "preview_frames_received": frames,
            "preview_rate": preview_rate,
            "preview_latency": summary_ms(preview_latency),
            "messages": self._message_report(message_keys),
            "message_rate": message_rate,
            "server_cpu_s": round(cpu1 - cpu0, 3),
            "server_cpu_pct": round(100 * (cpu1 - cpu0) / wall, 1),
            "generator_cpu_pct": round(100 * (gen1 - gen0) / wall, 1),
            "aux_cpu_pct": self._aux_pct(aux0, wall),
        }

    async def run_idle(self, tokens: list[str]) -> dict:
        """RSS growth of the server per idle widget socket."""
        widget_urls = self.config["widget_urls"]
        semaphore = asyncio.Semaphore(self.config.get("connect_concurrency", 20))
        sockets: list[ClientConnection] = []
        failures: dict[str, int] = {}
        await asyncio.sleep(1.0)
        rss0 = proc_rss_kib(self.pids)
        t0 = time.monotonic()

        async def open_one(index: int, token: str) -> None:
            url = widget_urls[index % len(widget_urls)]
            async with semaphore:
                try:
                    sockets.append(await self._connect(url.format(token=token), None))
                except Exception as exc:  # noqa: BLE001
                    name = type(exc).__name__
                    failures[name] = failures.get(name, 0) + 1

        # Bounded: a server that accepts slowly gets `idle_connect_cap` seconds, then is measured as it is.
        tasks = [asyncio.create_task(open_one(i, t)) for i, t in enumerate(tokens)]
        _done, pending = await asyncio.wait(tasks, timeout=self.config.get("idle_connect_cap", 90))
        for task in pending:
            task.cancel()
        await asyncio.gather(*pending, return_exceptions=True)
        connect_seconds = time.monotonic() - t0
        # Let the server finish joining groups etc., then sample RSS.
        await asyncio.sleep(3.0)
        rss1 = proc_rss_kib(self.pids)
        await asyncio.gather(*(ws.close() for ws in sockets), return_exceptions=True)
        await asyncio.sleep(2.0)
        rss2 = proc_rss_kib(self.pids)
        opened = len(sockets)
        return {
            "requested": len(tokens),
            "opened": opened,
            "not_attempted_in_time": len(pending),
            "failures": failures,
            "connect_seconds": round(connect_seconds, 2),
            "rss_before_kib": rss0,
            "rss_with_sockets_kib": rss1,
            "rss_after_close_kib": rss2,
            "kib_per_socket": round((rss1 - rss0) / opened, 2) if opened else None,
        }

    async def settle(self, cap: float) -> float:
        """Wait (at most `cap` s) until every message sent so far has arrived or was refused."""
        t0 = time.monotonic()
        pending = [t for t in self.state.messages.values() if t.first is None and not t.error]
        while pending and time.monotonic() - t0 < cap:
            await asyncio.sleep(0.1)
            pending = [t for t in pending if t.first is None and not t.error]
        await asyncio.sleep(0.5)
        return round(time.monotonic() - t0, 1)

    async def close(self) -> None:
        sockets = [v.ws for v in self.visitors if v.ws] + [o.ws for o in self.operators if o.ws]
        await asyncio.gather(*(ws.close() for ws in sockets), return_exceptions=True)
        for task in list(self.tasks):
            task.cancel()

    # ------------------------------------------------------------ whole run

    async def run(self) -> dict:
        cfg = self.config
        result: dict = {"phases": cfg["phases"]}
        t0 = time.monotonic()
        await self.connect_all()
        result["connect_seconds"] = round(time.monotonic() - t0, 2)
        result["warm_up"] = await self.warm_up()
        if "idle" in cfg["phases"]:
            result["idle"] = await self.run_idle(cfg["idle_tokens"])
        if "rates" in cfg["phases"]:
            steps = []
            saturated_at = None
            for step, rate in enumerate(cfg["rates"]):
                if saturated_at is not None:
                    steps.append({"rate": rate, "skipped": f"saturated at {saturated_at:g}/s"})
                    continue
                report = await self.run_rate(step, rate, cfg["step_seconds"], cfg["drain_seconds"])
                steps.append(report)
                print(f"  rate {rate:>5g}/s: {_brief(report)}", file=sys.stderr, flush=True)
                p99 = report["latency"]["p99"]
                if report["lost"] > 0.01 * report["sent"] or (p99 is not None and p99 > cfg["saturation_ms"]):
                    saturated_at = rate
                    # Let the server work off its backlog, so the next phase starts clean.
                    result["settle_seconds"] = await self.settle(cfg.get("settle_seconds", 20))
                else:
                    await asyncio.sleep(0.5)
            result["rates"] = steps
        if "storm" in cfg["phases"]:
            storm = cfg["storm"]
            result["storm"] = await self.run_storm(
                storm["seconds"], storm["preview_hz"], storm["message_rate"], cfg["drain_seconds"]
            )
            print(f"  storm: previews {result['storm']['previews_forwarded']}/{result['storm']['previews_sent']}"
                  f" p99 {result['storm']['preview_latency']['p99']} ms; "
                  f"messages {_brief(result['storm']['messages'])}", file=sys.stderr, flush=True)
        await asyncio.sleep(1.0)
        self.count_late()
        result["cross_tenant_frames"] = self.state.cross_tenant
        result["stray_frames"] = self.state.stray
        result["errors"] = self.state.errors
        result["closed_sockets"] = self.state.closed_sockets
        result["connect_retries"] = self.state.connect_retries
        result["operator_frames"] = self.state.operator_frames
        result["visitor_frames"] = self.state.visitor_frames
        await self.close()
        return result


def _brief(report: dict) -> str:
    lat = report["latency"]
    return f"delivered {report['delivered']}/{report['sent']}, p50 {lat['p50']} ms, p99 {lat['p99']} ms"


def raise_fd_limit() -> None:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard == resource.RLIM_INFINITY or soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


async def main_async(config: dict) -> dict:
    generator = LoadGenerator(config)
    try:
        return await asyncio.wait_for(generator.run(), timeout=config.get("timeout", 600))
    finally:
        await generator.close()


def main() -> None:
    config_path, result_path = sys.argv[1], sys.argv[2]
    with open(config_path) as handle:
        config = json.load(handle)
    raise_fd_limit()
    result = asyncio.run(main_async(config))
    with open(result_path, "w") as handle:
        json.dump(result, handle, indent=1)


if __name__ == "__main__":
    main()
