"""The tenant's list views: compact `list` frames on `t<tenant>.ops`, coalesced per tenant.

Every operator socket of a tenant is in `t<tenant>.ops`, so what goes there is paid once per
online operator. Message bodies, drafts and read receipts therefore go to `c<id>.ops` (the
operators who have the chat open, and its assignee); the lists get one small item per
conversation change (docs/protocol.md, "list"), and at most one `list` frame per tenant per
`PARLEY_LIST_COALESCE_SECONDS` (0.25 s): the first change of a quiet tenant goes at once
(the leading edge: a new chat rings without delay), the changes during the following window
are merged per conversation (the newest state wins, nothing is lost: visitor message seqs
are kept, read marks only grow) and go together when it ends.

Coalescing needs a loop that outlives the publish: the daphne process's, which each socket
registers when it connects (`serve_on`). Where there is none (a Celery worker, the SMTP
process, a synchronous test), every item goes at once, in the publish that made it.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Awaitable, Callable, Iterable
from typing import Any

from django.conf import settings

logger = logging.getLogger(__name__)

# The seqs of visitor messages one item may name (a window longer than that counts the rest as one burst).
VISITOR_SEQS_MAX = 50


def coalesce_seconds() -> float:
    return float(getattr(settings, "PARLEY_LIST_COALESCE_SECONDS", 0.25))


def list_frame(items: Iterable[dict[str, Any]]) -> dict[str, Any]:
    return {"type": "list", "conversations": list(items)}


def merge(old: dict[str, Any] | None, new: dict[str, Any]) -> dict[str, Any]:
    """One conversation's item after two changes: the newest message wins, read marks only grow."""
    if old is None:
        return new
    merged = {**old, **new}
    if old.get("last_seq", 0) > new.get("last_seq", 0):  # a late, older message change: keep the newer
        for key in ("last_seq", "last_message_at", "last_message", "status"):
            if key in old:
                merged[key] = old[key]
    if "operator_read_seq" in old or "operator_read_seq" in new:
        merged["operator_read_seq"] = max(old.get("operator_read_seq", 0), new.get("operator_read_seq", 0))
    seqs = sorted(set(old.get("visitor_seqs", ())) | set(new.get("visitor_seqs", ())))
    if seqs:
        merged["visitor_seqs"] = seqs[-VISITOR_SEQS_MAX:]
    return merged


class ListFeed:
    """Per process: which tenants are inside a coalescing window, and what waits for its end.

    `changed()` is called from any thread (the database thread that committed); the window's
    end runs on the registered loop and sends what waited through `flush(tenant_id, frame)`.
    """

    def __init__(self, flush: Callable[[int, dict[str, Any]], Awaitable[None]]) -> None:
        self.flush = flush
        self.lock = threading.Lock()
        self.loop: asyncio.AbstractEventLoop | None = None
        # tenant id -> {conversation id: item} for tenants inside a window (empty: nothing waits yet).
        self.windows: dict[int, dict[int, dict[str, Any]]] = {}

    def serve_on(self, loop: asyncio.AbstractEventLoop) -> None:
        """The loop that will end the windows (the server's; called by each socket at connect)."""
        with self.lock:
            if loop is not self.loop:
                self.loop = loop
                self.windows = {}  # a previous loop's windows (a test's) can no longer end

    def changed(self, tenant_id: int, item: dict[str, Any]) -> dict[str, Any] | None:
        """Record a change; returns the `list` frame to send now, or None when it waits for the window's end."""
        delay = coalesce_seconds()
        with self.lock:
            loop = self.loop
            if delay <= 0 or loop is None or loop.is_closed() or not loop.is_running():
                return list_frame([item])
            waiting = self.windows.get(tenant_id)
            if waiting is not None:
                waiting[item["id"]] = merge(waiting.get(item["id"]), item)
                return None
            self.windows[tenant_id] = {}
        self._schedule(loop, tenant_id, delay)
        return list_frame([item])

    def _schedule(self, loop: asyncio.AbstractEventLoop, tenant_id: int, delay: float) -> None:
        try:
            running = asyncio.get_running_loop()
        except RuntimeError:
            running = None
        if running is loop:
            loop.call_later(delay, self._window_ended, loop, tenant_id)
        else:
            loop.call_soon_threadsafe(loop.call_later, delay, self._window_ended, loop, tenant_id)

    def _window_ended(self, loop: asyncio.AbstractEventLoop, tenant_id: int) -> None:
        with self.lock:
            if loop is not self.loop:
                return
            waiting = self.windows.pop(tenant_id, None)
            if waiting:
                self.windows[tenant_id] = {}  # what arrives while this goes out waits for the next end
        if not waiting:
            return
        loop.call_later(coalesce_seconds(), self._window_ended, loop, tenant_id)
        task = loop.create_task(self.flush(tenant_id, list_frame(waiting.values())))
        task.add_done_callback(_log_failure)


def _log_failure(task: asyncio.Task) -> None:
    if not task.cancelled() and task.exception() is not None:
        logger.error("list frame failed", exc_info=task.exception())
