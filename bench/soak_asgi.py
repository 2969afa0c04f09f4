"""Parley's ASGI application plus a probe for bench/soak.py: every `SOAK_STATS_SECONDS` the
process appends one JSON line to `SOAK_STATS` with its asyncio task count, threads, open
file descriptors and RSS. Nothing else changes; the probe starts with the first connection
(daphne runs no ASGI lifespan).

    daphne bench.soak_asgi:application     (started by bench/soak.py)
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import threading
import time
from urllib.parse import urlsplit

from config.asgi import application as parley

_started = False


def _rss_kib() -> int:
    with open("/proc/self/status") as handle:
        for line in handle:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def _tcp_by_peer() -> dict[str, int]:
    """This process's TCP sockets: clients of the daphne port, PostgreSQL, Redis, other."""
    inodes = set()
    for fd in os.listdir("/proc/self/fd"):
        with contextlib.suppress(OSError):
            target = os.readlink(f"/proc/self/fd/{fd}")
            if target.startswith("socket:["):
                inodes.add(target[8:-1])
    own_port = int(os.environ.get("SOAK_PORT", "0"))
    redis_port = urlsplit(os.environ.get("REDIS_URL", "")).port or 6379
    counts = {"clients": 0, "postgres": 0, "redis": 0, "other": 0}
    for table in ("/proc/self/net/tcp", "/proc/self/net/tcp6"):
        with contextlib.suppress(OSError), open(table) as handle:
            next(handle)
            for row in handle:
                fields = row.split()
                if fields[9] not in inodes:
                    continue
                local_port = int(fields[1].rsplit(":", 1)[1], 16)
                remote_port = int(fields[2].rsplit(":", 1)[1], 16)
                if local_port == own_port:
                    counts["clients"] += 1
                elif remote_port == 5432:
                    counts["postgres"] += 1
                elif remote_port == redis_port:
                    counts["redis"] += 1
                else:
                    counts["other"] += 1
    return counts


async def _report(path: str, every: float) -> None:
    while True:
        line = {
            "t": time.time(),
            "tasks": len(asyncio.all_tasks()) - 1,  # not this probe
            "threads": threading.active_count(),
            "fds": len(os.listdir("/proc/self/fd")),
            "rss_kib": _rss_kib(),
            "tcp": _tcp_by_peer(),
        }
        with open(path, "a") as handle:
            handle.write(json.dumps(line) + "\n")
        await asyncio.sleep(every)


async def application(scope, receive, send):
    global _started
    if not _started and os.environ.get("SOAK_STATS"):
        _started = True
        probe = asyncio.get_running_loop().create_task(
            _report(os.environ["SOAK_STATS"], float(os.environ.get("SOAK_STATS_SECONDS", "5")))
        )
        probe.add_done_callback(lambda _task: None)
        application.probe = probe  # keep a reference
    return await parley(scope, receive, send)
