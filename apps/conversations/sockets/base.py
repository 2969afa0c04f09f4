"""What both websockets share: the handshake verdict, frame limits, budgets, errors, delivery, upkeep.

docs/protocol.md is the contract. A socket is thin: it checks a frame's size and shape,
asks the per-socket and per-person budgets, and calls one service or selector through
`database_sync_to_async` (services enter the tenant's scope themselves; the tenant was
resolved once by `sockets/auth.py` at connect). Whatever a service raises with a protocol
`code` becomes an `error` frame and the socket stays open; only a refused handshake
closes it.

Delivery: services publish on commit to the groups (`c<id>`, `c<id>.ops`, `t<tenant>.ops`,
`u<user>`) and the socket forwards `deliver` events as they are. The layer only carries hints;
`resume` replays from the database, so a lost event costs a fetch, never a message.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any

from channels.consumer import get_handler_name
from channels.generic.websocket import AsyncWebsocketConsumer
from django.conf import settings
from django.utils import translation
from django.utils.translation import gettext_lazy as _

from apps.accounts.models import Tenant
from apps.conversations import events, frames
from apps.conversations.errors import ConversationError
from apps.conversations.sockets.auth import CLOSE_UNAUTHENTICATED
from apps.core.budgets import frame_budget_take
from apps.core.ids import parse_id, parse_seq
from apps.core.jsonbounds import JSONTooLarge, loads_bounded
from apps.core.sockettasks import SocketTasks

logger = logging.getLogger(__name__)

try:  # what daphne (through autobahn) raises when a frame is sent on a socket the client has closed
    from autobahn.exception import Disconnected as PeerGone
except ImportError:  # another ASGI server: such a failure is logged like any other
    class PeerGone(Exception):  # noqa: N818
        pass

FRAME_MAX_BYTES = 16 * 1024
CLOSE_TOO_MANY_SOCKETS = 4429  # a visitor over PARLEY_SOCKETS_PER_VISITOR (docs/protocol.md)
# Per-socket token bucket: a burst of 20 frames, refilled at 10 per second.
BUDGET_BURST = 20
BUDGET_PER_SECOND = 10.0
# How often an open socket checks that its handshake would still succeed (session, membership, tenant).
REVALIDATE_SECONDS = 60.0
RESUME_MAX_CONVERSATIONS = 100
REF_MAX_CHARS = 64

MESSAGES = {
    "bad_json": _("The frame is not valid JSON."),
    "bad_frame": _("The frame is not valid."),
    "too_large": _("The frame is too large."),
    "rate_limited": _("Too many frames; slow down."),
    "unknown_type": _("Unknown frame type."),
    "not_found": _("Not found."),
    "server_error": _("Something went wrong on our side. Please try again."),
}


class FrameError(Exception):
    """A frame the socket refuses before any service runs (its shape, not its content)."""

    def __init__(self, code: str, message: Any = None, *, field: str | None = None) -> None:
        self.code = code
        self.message = message if message is not None else MESSAGES.get(code, MESSAGES["bad_frame"])
        self.field = field
        super().__init__(code)


class TokenBucket:
    """`capacity` frames at once, refilled at `rate` per second."""

    __slots__ = ("capacity", "clock", "rate", "tokens", "updated")

    def __init__(self, capacity: int = BUDGET_BURST, rate: float = BUDGET_PER_SECOND, clock=time.monotonic) -> None:
        self.capacity = capacity
        self.rate = rate
        self.clock = clock
        self.tokens = float(capacity)
        self.updated = clock()

    def take(self) -> bool:
        now = self.clock()
        self.tokens = min(self.capacity, self.tokens + (now - self.updated) * self.rate)
        self.updated = now
        if self.tokens >= 1:
            self.tokens -= 1
            return True
        return False


def group_refresh_seconds() -> float:
    """How often an open socket re-adds itself to its groups (settings.PARLEY_SOCKET_GROUP_REFRESH_SECONDS)."""
    return float(getattr(settings, "PARLEY_SOCKET_GROUP_REFRESH_SECONDS", 15))


# --- frame fields: shape only; what the values mean is checked by the services ----------------------


def conversation_id(frame: dict, *, required: bool = True) -> int | None:
    value = frame.get("conversation")
    if value is None and not required:
        return None
    parsed = parse_id(value, strings=False)
    if parsed is None:
        raise FrameError("bad_frame", _("conversation must be a conversation id."), field="conversation")
    return parsed


def seq(frame: dict, key: str = "seq") -> int:
    parsed = parse_seq(frame.get(key))
    if parsed is None:
        raise FrameError("bad_frame", _("seq must be a whole number."), field=key)
    return parsed


def optional_id(frame: dict, key: str) -> int | None:
    value = frame.get(key)
    if value is None:
        return None
    parsed = parse_id(value, strings=False)
    if parsed is None:
        raise FrameError("bad_frame", field=key)
    return parsed


def resume_targets(frame: dict) -> dict[int, int]:
    value = frame.get("conversations")
    if not isinstance(value, dict) or len(value) > RESUME_MAX_CONVERSATIONS:
        raise FrameError("bad_frame", _("conversations must map conversation ids to sequence numbers."))
    targets: dict[int, int] = {}
    for key, after in value.items():
        target = parse_id(key) if isinstance(key, str) else None
        if target is None or parse_seq(after) is None:
            raise FrameError("bad_frame", field="conversations")
        targets[target] = after
    return targets


def ref(frame: dict) -> Any:
    value = frame.get("ref", frame.get("client_id"))
    if isinstance(value, str):
        return value[:REF_MAX_CHARS]
    if type(value) is int:
        return value
    return None


class ParleySocket(SocketTasks, AsyncWebsocketConsumer):
    """Both sockets: `handlers` maps a frame `type` to the name of an async method taking the parsed frame."""

    handlers: dict[str, str] = {}
    side: str = ""
    # Whose budget a frame spends across all their sockets and processes ("v<visitor>", "m<membership>").
    person: str = ""

    async def dispatch(self, message: dict) -> None:
        # Channels closes stale database connections before every handler, on the process's one
        # database thread, so each broadcast to each socket queued behind database work (measured
        # in bench/: 50 msgs/s p99 went from 458 ms to 17 ms without it). Every database call
        # here runs through database_sync_to_async, which closes stale connections itself.
        handler = getattr(self, get_handler_name(message), None)
        if handler is None:
            raise ValueError(f"No handler for message type {message['type']}")
        await handler(message)

    async def connect(self) -> None:
        self.tenant: Tenant | None = self.scope.get("parley_tenant")
        self.language: str = self.scope.get("parley_language") or "en"
        self.joined: set[str] = set()
        self.known_conversations: set[int] = set()
        self.budget = TokenBucket()
        events.list_feed.serve_on(asyncio.get_running_loop())  # this process's loop ends the lists' windows
        refusal = self.scope.get("parley_refusal")
        if refusal is not None or self.tenant is None:
            # Accept first: a browser sees the close code only on an opened socket.
            await self.accept()
            await self.close(code=refusal or CLOSE_UNAUTHENTICATED)
            return
        await self.start()
        if getattr(self, "refused_at_start", False):
            return
        self.upkeep_checked_at = asyncio.get_running_loop().time()
        self.upkeep_arm()

    async def start(self) -> None:
        raise NotImplementedError

    async def still_allowed(self) -> int | None:
        """None while the handshake would still succeed, else the close code."""
        raise NotImplementedError

    def upkeep_arm(self) -> None:
        """Arm the next upkeep round: a timer, not a task that sleeps, so an idle socket holds one small
        handle (a task, its coroutine and its sleep cost ~2 KiB per socket). `SocketTasks` cancels it
        with the socket, however the socket ends."""
        self.arm_socket_timer(min(group_refresh_seconds(), REVALIDATE_SECONDS), self.upkeep_start)

    def upkeep_start(self) -> None:
        self.spawn(self.upkeep(), name=f"{self.side} socket upkeep")

    async def upkeep(self) -> None:
        """One round while the socket is open: re-join its groups, and close it once its credentials are gone.

        Re-joining: the core Redis layer keeps group memberships in Redis, where they expire
        (`group_expiry`) and vanish when Redis restarts empty while the socket survives.
        Credentials: a logout, password change or deactivation closes the socket (4401/4403)
        within REVALIDATE_SECONDS; its groups are left first, so nothing more reaches it.
        The next round is armed at the end, unless the socket was closed.
        """
        try:
            for group in list(self.joined):
                await self.channel_layer.group_add(group, self.channel_name)
        except Exception:  # Redis is down: the next round tries again
            logger.warning("%s socket: re-joining groups failed", self.side, exc_info=True)
        await self.upkeep_more()
        loop = asyncio.get_running_loop()
        if loop.time() - self.upkeep_checked_at >= REVALIDATE_SECONDS:
            self.upkeep_checked_at = loop.time()
            try:
                refusal = await self.still_allowed()
            except Exception:  # a database hiccup is not a reason to drop a working socket
                logger.warning("%s socket: revalidation failed", self.side, exc_info=True)
                refusal = None
            if refusal is not None:
                await self.leave_all()
                await self.close(code=refusal)
                return
        self.upkeep_arm()

    async def upkeep_more(self) -> None:
        """What else one side renews every round (the visitor's socket slot)."""

    async def disconnect(self, code: int) -> None:
        self.cancel_socket_timer()
        await self.leave_all()

    async def leave_all(self) -> None:
        for group in list(self.joined):
            try:
                await self.channel_layer.group_discard(group, self.channel_name)
            except Exception:  # the layer may be down; its groups expire on their own
                logger.warning("group_discard(%s) failed", group, exc_info=True)
        self.joined.clear()

    async def join(self, group: str) -> None:
        if group not in self.joined:
            await self.channel_layer.group_add(group, self.channel_name)
            self.joined.add(group)

    async def leave(self, group: str) -> None:
        if group in self.joined:
            self.joined.discard(group)
            await self.channel_layer.group_discard(group, self.channel_name)

    async def send_frame(self, frame: dict) -> None:
        await self.send(text_data=frames.dumps(frame))

    async def send_error(self, code: str, message: Any, *, ref: Any = None, **extra: Any) -> None:
        frame: dict[str, Any] = {"type": "error", "code": code, "message": str(message)}
        if ref is not None:
            frame["ref"] = ref
        frame.update({key: value for key, value in extra.items() if value is not None})
        await self.send_frame(frame)

    async def receive(self, text_data: str | None = None, bytes_data: bytes | None = None) -> None:
        with translation.override(self.language):
            await self.receive_frame(text_data, bytes_data)

    async def receive_frame(self, text_data: str | None, bytes_data: bytes | None) -> None:
        if text_data is None:
            # Binary frames carry nothing in this protocol; uploads go over HTTP.
            if bytes_data is not None and len(bytes_data) > FRAME_MAX_BYTES:
                await self.send_error("too_large", MESSAGES["too_large"])
            else:
                await self.send_error("bad_frame", MESSAGES["bad_frame"])
            return
        # Size first, before any parsing: a client cannot make us parse more than 16 KiB.
        if len(text_data) > FRAME_MAX_BYTES or (
            len(text_data) * 4 > FRAME_MAX_BYTES and len(text_data.encode("utf-8")) > FRAME_MAX_BYTES
        ):
            self.budget.take()
            await self.send_error("too_large", MESSAGES["too_large"])
            return
        try:
            # Bounded (size, nesting depth) before the parser runs; invalid Unicode replaced.
            frame = loads_bounded(text_data, max_bytes=FRAME_MAX_BYTES)
        except JSONTooLarge:
            self.budget.take()
            await self.send_error("too_large", MESSAGES["too_large"])
            return
        except ValueError:
            self.budget.take()
            await self.send_error("bad_json", MESSAGES["bad_json"])
            return
        if not isinstance(frame, dict) or not isinstance(frame.get("type"), str):
            self.budget.take()
            await self.send_error("bad_frame", MESSAGES["bad_frame"])
            return
        kind = frame["type"]
        frame_ref = ref(frame)
        if not self.budget.take() or (self.person and not await frame_budget_take(self.person)):
            if kind != "typing":  # typing over the budget is dropped without a word
                await self.send_error("rate_limited", MESSAGES["rate_limited"], ref=frame_ref)
            return
        handler_name = self.handlers.get(kind)
        if handler_name is None:
            await self.send_error("unknown_type", MESSAGES["unknown_type"], ref=frame_ref)
            return
        try:
            await getattr(self, handler_name)(frame)
        except FrameError as exc:
            await self.send_error(exc.code, exc.message, ref=frame_ref, field=exc.field)
        except ConversationError as exc:
            await self.send_error(exc.code, exc.message, ref=frame_ref, field=getattr(exc, "field", None))
        except PeerGone:
            # The client closed while its frame was handled: nobody to answer; a resend or
            # `resume` on its next socket covers whatever it did not hear.
            logger.debug("%s socket: closed by the client during %s", self.side, kind)
        except Exception:
            # Unknown failures (a database or layer outage) are the server's: the client keeps
            # the message in its outbox and resends it with the same client_id.
            logger.exception("%s socket: %s frame failed", self.side, kind)
            await self.send_error("server_error", MESSAGES["server_error"], ref=frame_ref)

    async def deliver(self, event: dict) -> None:
        """A broadcast from events.py, already serialised for this audience."""
        await self.send(text_data=event["text"])

    async def send_ok(self, frame: dict) -> None:
        await self.send_frame(
            {"type": "ok", "action": frame["type"], "conversation": frame.get("conversation"), "ref": ref(frame)}
        )

    async def handle_ping(self, frame: dict) -> None:
        await self.send_frame({"type": "pong"})

    async def replay(self, fetch_page: Callable[..., Awaitable[tuple]], after_seq: int) -> int:
        """Send every message after `after_seq`, a page (one database call) at a time; returns the last seq."""
        while True:
            texts, last_seq, continue_after = await fetch_page(after_seq=after_seq)
            for text in texts:
                await self.send(text_data=text)
            if continue_after is None:
                return last_seq
            after_seq = continue_after
