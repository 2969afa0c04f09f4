"""What the conversation layer broadcasts, and to which group.

The only module that builds broadcast payloads and picks groups. Every function
decorated `@on_commit` registers itself on the current transaction's commit (robust:
a channel-layer failure never turns a stored write into an error), so a caller cannot
forget, and a rollback sends nothing; outside a transaction it runs at once. Each
frame is serialised once per audience and sent as `{"type": "deliver", "text": ...}`;
consumers forward `text` as is. In a daphne process the sends are handed to the event
loop (`_Outbox`) and the database thread goes on at once; elsewhere they are waited for.

Groups (docs/protocol.md, "Groups"): `c<conversation id>` (the visitor's sockets),
`c<conversation id>.ops` (the operator sockets that watch the chat: its assignee's, and
those that opened it), `t<tenant id>.ops` (every operator socket of the tenant: the lists'
compact `list` frames, coalesced by `listfeed`, and the rarer conversation, visitor and
presence frames), `u<user id>` (one operator). What costs per message (bodies, drafts, read
receipts) never goes to `t<tenant>.ops`, so a message costs the same whatever the team's
size. The channel layer carries hints: a failed send is logged, never raised, because
clients resync by `seq`.
"""

from __future__ import annotations

import asyncio
import collections
import functools
import logging
import os
import threading
import weakref
from collections.abc import Callable
from typing import Literal, ParamSpec

from asgiref.sync import SyncToAsync, async_to_sync
from channels.layers import get_channel_layer

from apps.conversations import frames, listfeed
from apps.conversations.models import Conversation, Message, Visitor
from apps.core.tenancy import on_commit_in_scope

logger = logging.getLogger(__name__)

Side = Literal["visitor", "operator"]
P = ParamSpec("P")

# Conversation events a visitor's sockets hear about (their own chat's status).
VISITOR_CONVERSATION_EVENTS = frozenset({"assigned", "transferred", "closed", "reopened", "rated"})

DRAFT_MAX_CHARS = 500


def on_commit(fn: Callable[P, None]) -> Callable[P, None]:
    """Make `fn(...)` register itself to run after the current transaction commits.

    `fn.now(...)` runs it at once (for a caller that is itself an on-commit callback).
    """

    @functools.wraps(fn)
    def register(*args: P.args, **kwargs: P.kwargs) -> None:
        on_commit_in_scope(functools.partial(fn, *args, **kwargs), robust=True)

    register.now = fn  # type: ignore[attr-defined]
    return register


def conversation_group(conversation_id: int) -> str:
    return f"c{conversation_id}"


def ops_group(tenant_id: int) -> str:
    return f"t{tenant_id}.ops"


def conversation_ops_group(conversation_id: int) -> str:
    """The operator sockets watching one conversation: its assignee's, and those that have it open."""
    return f"c{conversation_id}.ops"


def user_group(user_id: int) -> str:
    return f"u{user_id}"


def visitor_group(visitor_id: int) -> str:
    """All widget sockets of one visitor (their tabs); carries only `visitor.follow` between consumers."""
    return f"v{visitor_id}"


def _deliver(text: str) -> dict:
    return {"type": "deliver", "text": text}


async def _asend(sends: list[tuple[str, dict]]) -> None:
    """Send each `(group, layer message)`; one failure is logged and does not stop the others."""
    layer = get_channel_layer()
    if layer is None or not sends:
        return
    results = await asyncio.gather(
        *(layer.group_send(group, message) for group, message in sends), return_exceptions=True
    )
    for (group, _message), result in zip(sends, results, strict=True):
        if isinstance(result, BaseException):  # the layer is a hint; clients resync by seq
            logger.error("group_send to %s failed", group, exc_info=result)


class _Outbox:
    """Layer messages handed over by sync code (the database thread) to its process's event loop.

    The database thread must not wait on Redis: in a daphne process it runs every service of
    every socket, one at a time. So an on-commit publish only queues its sends here
    (`call_soon_threadsafe`) and returns. One task per loop sends what is queued, a batch at a
    time: each group's messages in the order they were handed over (commit order, so `seq`
    order per conversation), different groups concurrently. A socket that answers its client
    after a write awaits `outbox_flush()` first, so the answer (`ack`, `ok`) still follows the
    broadcast of what it acknowledges, as when the publish blocked.
    Lives and dies with its loop; only ever touched from the loop's thread.
    """

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop
        self.queue: collections.deque[list[tuple[str, dict]] | asyncio.Future] = collections.deque()
        self.task: asyncio.Task | None = None

    def put(self, item: list[tuple[str, dict]] | asyncio.Future) -> None:
        self.queue.append(item)
        if self.task is None:
            self.task = self.loop.create_task(self.drain(), name="parley events outbox")

    async def drain(self) -> None:
        try:
            while self.queue:
                by_group: dict[str, list[dict]] = {}
                barriers: list[asyncio.Future] = []
                while self.queue:
                    item = self.queue.popleft()
                    if isinstance(item, asyncio.Future):
                        barriers.append(item)
                        continue
                    for group, message in item:
                        by_group.setdefault(group, []).append(message)
                if by_group:
                    await asyncio.gather(*(_asend_in_order(group, messages) for group, messages in by_group.items()))
                for barrier in barriers:
                    if not barrier.done():
                        barrier.set_result(None)
        finally:
            self.task = None
            if self.queue:  # cancelled mid-batch (the loop is closing): release whoever waits
                for item in self.queue:
                    if isinstance(item, asyncio.Future) and not item.done():
                        item.set_result(None)
                self.queue.clear()


async def _asend_in_order(group: str, messages: list[dict]) -> None:
    for message in messages:
        await _asend([(group, message)])


_outboxes: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, _Outbox] = weakref.WeakKeyDictionary()


def _outbox(loop: asyncio.AbstractEventLoop) -> _Outbox:
    outbox = _outboxes.get(loop)
    if outbox is None:
        outbox = _outboxes[loop] = _Outbox(loop)
    return outbox


def _serving_loop() -> asyncio.AbstractEventLoop | None:
    """The running event loop this sync thread works for (asgiref's `sync_to_async` sets it), if any.

    None in a Celery worker, a management command or a plain sync test: there the publish blocks.
    """
    loop = getattr(SyncToAsync.threadlocal, "main_event_loop", None)
    if loop is None or getattr(SyncToAsync.threadlocal, "main_event_loop_pid", None) != os.getpid():
        return None
    if loop.is_closed() or not loop.is_running():
        return None
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return loop
    return None  # called from async code itself: it awaits `_asend` instead


class PublisherLoop:
    """One event loop in a daemon thread that a sync process (a Celery worker) publishes through.

    Without it each publish runs in a new event loop (`async_to_sync`), and the channel layer,
    whose connections belong to a loop, connects to Redis again every time: about a third of
    routing a chat in a worker (bench/routing.py). A publish still waits until it is sent.
    Forked children (Celery's prefork pool) start their own loop on first use.
    """

    def __init__(self) -> None:
        self._loop: asyncio.AbstractEventLoop | None = None
        self._pid: int | None = None
        self._lock = threading.Lock()

    def _running(self) -> asyncio.AbstractEventLoop:
        with self._lock:
            if self._loop is None or self._pid != os.getpid():
                loop = asyncio.new_event_loop()
                threading.Thread(target=loop.run_forever, name="parley-publisher", daemon=True).start()
                self._loop, self._pid = loop, os.getpid()
            return self._loop

    def send(self, sends: list[tuple[str, dict]], *, timeout: float = 10.0) -> None:
        asyncio.run_coroutine_threadsafe(_asend(sends), self._running()).result(timeout)


_publisher: PublisherLoop | None = None


def publish_through_one_loop() -> None:
    """This process's sync publishes share one event loop (config/celery.py calls it as a worker starts)."""
    global _publisher
    if _publisher is None:
        _publisher = PublisherLoop()


def _publish(sends: list[tuple[str, dict]]) -> None:
    """Hand `(group, layer message)` sends to the serving event loop, or send them at once and wait."""
    if not sends:
        return
    loop = _serving_loop()
    if loop is not None:
        loop.call_soon_threadsafe(lambda: _outbox(loop).put(sends))
        return
    try:
        if _publisher is not None:
            _publisher.send(sends)
        else:
            async_to_sync(_asend)(sends)
    except Exception:
        logger.exception("publishing failed")


def _send_layer(sends: list[tuple[str, dict]]) -> None:
    """`_send` for layer messages that carry more than a frame (`conversation.deliver`)."""
    _publish(sends)


async def outbox_flush() -> None:
    """Wait until every publish handed over to this loop so far is with the channel layer.

    A socket calls it between the service that wrote and its answer to the client.
    """
    loop = asyncio.get_running_loop()
    outbox = _outboxes.get(loop)
    if outbox is None or (outbox.task is None and not outbox.queue):
        return
    barrier = loop.create_future()
    outbox.put(barrier)
    await barrier


def _send(deliveries: list[tuple[str, str]]) -> None:
    """Broadcast serialised frames, `(group, text)`: handed to the event loop in a daphne process."""
    _publish([(group, _deliver(text)) for group, text in deliveries])


def publish_frames_now(sends: list[tuple[str, dict]]) -> None:
    """Several frames, `(group, frame)`, of another app at once, in one hand-over."""
    _send([(group, frames.dumps(frame)) for group, frame in sends])


async def _flush_list(tenant_id: int, frame: dict) -> None:
    """The end of a tenant's coalescing window (on the server's loop): what changed during it, queued
    behind the list frames handed over before it."""
    _outbox(asyncio.get_running_loop()).put([(ops_group(tenant_id), _deliver(frames.dumps(frame)))])


list_feed = listfeed.ListFeed(flush=_flush_list)


def publish_frame_now(group: str, frame: dict) -> None:
    """Send a frame of another app at once (from a function that is itself registered `@on_commit`)."""
    _send([(group, frames.dumps(frame))])


@on_commit
def frame_published(group: str, frame: dict) -> None:
    """A frame of another app (dashboard presence, notices) on commit, through the same envelope and error handling."""
    publish_frame_now(group, frame)


@on_commit
def visitor_followed(*, visitor_id: int, conversation_id: int) -> None:
    """The visitor's open widget sockets (their other tabs) start hearing a conversation that began elsewhere.

    Sent by `conversation_start` only, before the conversation's first message is announced.
    """
    _publish([(visitor_group(visitor_id), {"type": "visitor.follow", "conversation": conversation_id})])


@on_commit
def message_created(message: Message) -> None:
    """A new message: the watching operators get the full frame, the visitor the public one (never a note),
    the tenant's lists a compact item (coalesced)."""
    deliveries = [
        (
            conversation_ops_group(message.conversation_id),
            frames.dumps(frames.message_frame(message, audience="operator")),
        )
    ]
    listed = list_feed.changed(message.tenant_id, frames.list_item_for_message(message))
    if listed is not None:
        deliveries.append((ops_group(message.tenant_id), frames.dumps(listed)))
    if not message.is_private:
        deliveries.append(
            (
                conversation_group(message.conversation_id),
                frames.dumps(frames.message_frame(message, audience="visitor")),
            )
        )
    _send(deliveries)


@on_commit
def messages_read(*, tenant_id: int, conversation_id: int, side: Side, seq: int) -> None:
    """Both sides of the chat see the receipt; an operators' read also clears the lists' unread count."""
    text = frames.dumps(frames.read_frame(conversation_id=conversation_id, side=side, seq=seq))
    deliveries = [(conversation_ops_group(conversation_id), text), (conversation_group(conversation_id), text)]
    if side == "operator":
        listed = list_feed.changed(
            tenant_id, frames.list_item_for_read(conversation_id=conversation_id, operator_read_seq=seq)
        )
        if listed is not None:
            deliveries.append((ops_group(tenant_id), frames.dumps(listed)))
    _send(deliveries)


@on_commit
def conversation_changed(conversation: Conversation, event: str) -> None:
    """`created`, `assigned`, `transferred`, `closed`, `reopened`, `rated`, `updated` (subject, department).

    Every operator socket gets it (it is a row of the lists), with the assignee beside the frame:
    the assignee's sockets join `c<id>.ops`, a previous assignee's leave it (unless they watch it).
    """
    sends = [
        (
            ops_group(conversation.tenant_id),
            {
                **_deliver(frames.dumps(frames.conversation_frame(conversation, event, audience="operator"))),
                "type": "conversation.deliver",
                "conversation": conversation.pk,
                "assignee": conversation.assignee_id if not conversation.is_closed else None,
            },
        )
    ]
    if event in VISITOR_CONVERSATION_EVENTS:
        sends.append(
            (
                conversation_group(conversation.pk),
                _deliver(frames.dumps(frames.conversation_frame(conversation, event, audience="visitor"))),
            )
        )
    _send_layer(sends)


@on_commit
def visitor_changed(visitor: Visitor) -> None:
    _send([(ops_group(visitor.tenant_id), frames.dumps(frames.visitor_frame(visitor)))])


async def publish_typing(
    *, tenant_id: int, conversation_id: int, side: Side, on: bool, draft: str | None = None, name: str = ""
) -> None:
    """Typing is never stored (so it is sent at once). The watching operators see a visitor's draft; a
    visitor sees only that an operator types.

    The caller (the typing service) has already checked that the conversation is the sender's and
    the socket throttles drafts.
    """
    ops_draft = None
    if side == "visitor" and draft is not None:
        ops_draft = str(draft)[:DRAFT_MAX_CHARS] if on else ""
    deliveries = [
        (
            conversation_ops_group(conversation_id),
            frames.dumps(
                frames.typing_frame(conversation_id=conversation_id, side=side, on=on, name=name, draft=ops_draft)
            ),
        )
    ]
    if side == "operator":
        deliveries.append(
            (
                conversation_group(conversation_id),
                frames.dumps(frames.typing_frame(conversation_id=conversation_id, side=side, on=on, name=name)),
            )
        )
    await _asend([(group, _deliver(text)) for group, text in deliveries])
