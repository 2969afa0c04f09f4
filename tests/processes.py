"""Plumbing shared by the tests that run Parley for real (daphne, Redis, Chromium) in subprocesses.

pytest-django's live_server cannot serve websockets, and the test database lives in the
test process, so these tests start daphne against a database of their own.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import time

CHROMIUM = os.environ.get("PARLEY_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking"]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_for_port(port: int, timeout: float = 20.0, process: subprocess.Popen | None = None) -> None:
    """Return once 127.0.0.1:`port` accepts connections; fail early if `process` has exited."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process is not None and process.poll() is not None:
            raise RuntimeError(f"process exited with {process.returncode} before listening on {port}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"nothing listens on 127.0.0.1:{port} after {timeout}s")


def stop_process(process: subprocess.Popen | None, sig: int = signal.SIGTERM) -> None:
    if process is None or process.poll() is not None:
        return
    process.send_signal(sig)
    try:
        process.wait(5)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(5)


def die_with_parent() -> None:
    """`preexec_fn` for children: if pytest is killed outright, the kernel stops the child too."""
    with contextlib.suppress(Exception):
        import ctypes

        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG


def parley_env(**overrides: str) -> dict[str, str]:
    """The environment of a Parley subprocess: production-like settings, fast and quiet."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTEST_", "DJANGO_SETTINGS"))}
    env.update(
        DJANGO_SETTINGS_MODULE="config.settings",
        DJANGO_SECRET_KEY="django-insecure-live-test",
        DJANGO_SECURE_SSL="0",
        DJANGO_DEBUG="0",
        PARLEY_PLAIN_STATIC="1",
        CELERY_TASK_ALWAYS_EAGER="1",
        PYTHONUNBUFFERED="1",
        LOG_LEVEL="WARNING",
    )
    env.update(overrides)
    return env
