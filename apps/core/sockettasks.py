"""Background work of a websocket that lives exactly as long as the socket.

A consumer that starts a task with `asyncio.ensure_future` and cancels it in `disconnect`
leaks it whenever `disconnect` is not reached: a handler that raises ends the consumer
without it, and the task (a periodic group re-join, a throttled flush) keeps running, and
logging, until the process stops. `SocketTasks.spawn` registers each task with the consumer;
the consumer's own ASGI call cancels them all when it ends, however it ends (disconnect,
error, crash), and a task that fails is logged once and forgotten. Periodic work waits on one
timer per socket (`arm_socket_timer`), cancelled the same way: an idle socket holds no task.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Coroutine
from typing import Any

logger = logging.getLogger(__name__)


class SocketTasks:
    """Mixin for a Channels consumer (list it before the consumer class)."""

    async def __call__(self, scope, receive, send):
        self.socket_tasks: set[asyncio.Task] = set()
        try:
            return await super().__call__(scope, receive, send)
        finally:
            await self.cancel_socket_tasks()

    socket_timer: asyncio.TimerHandle | None = None

    def arm_socket_timer(self, delay: float, callback: Callable[[], None]) -> None:
        """Call `callback` in `delay` seconds (one timer per socket: arming again replaces it)."""
        self.cancel_socket_timer()
        self.socket_timer = asyncio.get_running_loop().call_later(delay, callback)

    def cancel_socket_timer(self) -> None:
        if self.socket_timer is not None:
            self.socket_timer.cancel()
            self.socket_timer = None

    def spawn(self, coroutine: Coroutine[Any, Any, Any], *, name: str) -> asyncio.Task:
        task = asyncio.get_running_loop().create_task(coroutine, name=name)
        self.socket_tasks.add(task)
        task.add_done_callback(self._socket_task_done)
        return task

    def _socket_task_done(self, task: asyncio.Task) -> None:
        self.socket_tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            logger.warning("socket task %s failed: %r", task.get_name(), task.exception())

    async def cancel_socket_tasks(self) -> None:
        self.cancel_socket_timer()
        current = asyncio.current_task()
        tasks = [task for task in getattr(self, "socket_tasks", ()) if task is not current]
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        self.cancel_socket_timer()  # in case a task armed it again before it was cancelled
