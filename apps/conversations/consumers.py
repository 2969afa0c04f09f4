"""Websocket consumers: `/ws/widget/` (one visitor) and `/ws/app/` (one operator).

docs/protocol.md is the contract. The consumers are thin: they check a frame's size and
shape, ask the per-socket budget, and call one service or selector through
`database_sync_to_async`, inside the socket's tenant scope (resolved once by
`socket_auth` at connect). Whatever a service raises with a protocol `code` becomes an
`error` frame and the socket stays open; only a refused handshake closes it.

Delivery: services publish on commit to the groups (`c<id>`, `t<tenant>.ops`, `u<user>`)
and the consumer forwards `deliver` events as they are. The layer only carries hints;
`resume` replays from the database, so a lost event costs a fetch, never a message.
"""

from __future__ import annotations

import asyncio
import functools
import json
import logging
import time
from collections.abc import Awaitable, Callable
from importlib import import_module
from typing import Any

from channels.consumer import get_handler_name
from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncWebsocketConsumer
from django.conf import settings
from django.contrib.auth import HASH_SESSION_KEY, SESSION_KEY
from django.utils import translation
from django.utils.crypto import constant_time_compare
from django.utils.translation import gettext_lazy as _

from apps.accounts.models import Department, Membership, Tenant
from apps.conversations import events, frames, selectors, services
from apps.conversations.errors import ConversationClosed, ConversationError, Forbidden, NotFound
from apps.conversations.models import Conversation, Message, Visitor
from apps.conversations.socket_auth import CLOSE_REFUSED, CLOSE_UNAUTHENTICATED
from apps.core.budgets import frame_budget_take, socket_slot_claim, socket_slot_release
from apps.core.jsonbounds import JSONTooLarge, loads_bounded
from apps.core.sockettasks import SocketTasks
from apps.core.tenancy import tenant_scope

logger = logging.getLogger(__name__)

FRAME_MAX_BYTES = 16 * 1024
CLOSE_TOO_MANY_SOCKETS = 4429  # a visitor over PARLEY_SOCKETS_PER_VISITOR (docs/protocol.md)
# Per-socket token bucket: a burst of 20 frames, refilled at 10 per second.
BUDGET_BURST = 20
BUDGET_PER_SECOND = 10.0
# At most this many typing previews per second leave one visitor socket; the latest draft always does.
DRAFT_PREVIEWS_PER_SECOND = 4
DRAFT_MAX_CHARS = 500
# How often an open socket checks that its handshake would still succeed (session, membership, tenant).
REVALIDATE_SECONDS = 60.0
RESUME_MAX_CONVERSATIONS = 100
RESUME_PAGE = 500
REF_MAX_CHARS = 64
# Ids and sequence numbers beyond a signed 64-bit integer cannot be in the database (and overflow its drivers).
ID_MAX = 2**63 - 1

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
    """A frame the consumer refuses before any service runs."""

    def __init__(self, code: str, message: Any = None, *, field: str | None = None) -> None:
        self.code = code
        self.message = message if message is not None else MESSAGES.get(code, MESSAGES["bad_frame"])
        self.field = field
        super().__init__(code)


class TokenBucket:
    """`capacity` frames at once, refilled at `rate` per second."""

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


def in_tenant_scope(fn: Callable[..., Any]) -> Callable[..., Awaitable[Any]]:
    """Turn a sync `fn(tenant, **kwargs)` into an awaitable that runs in a DB thread inside the tenant's scope."""

    def scoped(tenant: Tenant, /, **kwargs: Any) -> Any:
        with tenant_scope(tenant):
            return fn(tenant, **kwargs)

    scoped.__name__ = scoped.__qualname__ = fn.__name__
    scoped.__doc__ = fn.__doc__
    return database_sync_to_async(scoped)


# --- frame fields ------------------------------------------------------------------------------


def _conversation_id(frame: dict, *, required: bool = True) -> int | None:
    value = frame.get("conversation")
    if value is None and not required:
        return None
    if type(value) is not int or not 0 < value <= ID_MAX:
        raise FrameError("bad_frame", _("conversation must be a conversation id."), field="conversation")
    return value


def _seq(frame: dict, key: str = "seq") -> int:
    value = frame.get(key)
    if type(value) is not int or not 0 <= value <= ID_MAX:
        raise FrameError("bad_frame", _("seq must be a whole number."), field=key)
    return value


def _string(frame: dict, key: str, *, max_chars: int, required: bool = False, default: str = "") -> str:
    value = frame.get(key)
    if value is None and not required:
        return default
    if not isinstance(value, str) or len(value) > max_chars or (required and not value):
        raise FrameError("bad_frame", field=key)
    return value


def _optional_id(frame: dict, key: str) -> int | None:
    value = frame.get(key)
    if value is None:
        return None
    if type(value) is not int or not 0 < value <= ID_MAX:
        raise FrameError("bad_frame", field=key)
    return value


def _resume_targets(frame: dict) -> dict[int, int]:
    value = frame.get("conversations")
    if not isinstance(value, dict) or len(value) > RESUME_MAX_CONVERSATIONS:
        raise FrameError("bad_frame", _("conversations must map conversation ids to sequence numbers."))
    targets: dict[int, int] = {}
    for key, seq in value.items():
        if not (isinstance(key, str) and key.isascii() and key.isdigit() and 0 < len(key) <= 18 and int(key) > 0):
            raise FrameError("bad_frame", field="conversations")
        if type(seq) is not int or not 0 <= seq <= ID_MAX:
            raise FrameError("bad_frame", field="conversations")
        targets[int(key)] = seq
    return targets


def _ref(frame: dict) -> Any:
    ref = frame.get("ref", frame.get("client_id"))
    if isinstance(ref, str):
        return ref[:REF_MAX_CHARS]
    if type(ref) is int:
        return ref
    return None


def _replay_page(
    conversation: Conversation, after_seq: int, *, audience: frames.Audience
) -> tuple[list[str], int, int | None]:
    """One page of the messages after `after_seq`, in seq order, serialised for `audience` (no notes for a visitor).

    Returns `(frames, the conversation's last seq, the seq to continue after or None when done)`.
    The last seq is read before the messages, so every message up to it is in this page or an earlier one.
    """
    page = selectors.messages_after(
        conversation=conversation, after_seq=after_seq, include_private=audience == "operator", limit=RESUME_PAGE
    )
    texts = [
        frames.dumps(frames.message_frame(message, audience=audience))
        for message in page
        # Defence in depth: the selector already leaves notes out for a visitor.
        if audience == "operator" or not message.is_private
    ]
    return texts, conversation.last_seq, (page[-1].seq if len(page) >= RESUME_PAGE else None)


# --- visitor side: sync work, each inside the tenant scope ------------------------------------------


@in_tenant_scope
def visitor_open_conversation(tenant: Tenant, *, visitor: Visitor) -> tuple[int, int] | None:
    conversation = selectors.open_conversation_for_visitor(tenant=tenant, visitor=visitor)
    return (conversation.pk, conversation.last_seq) if conversation is not None else None


@in_tenant_scope
def visitor_still_allowed(tenant: Tenant, *, visitor_id: int) -> int | None:
    """None if the visitor's handshake would still succeed, else the close code."""
    if not Tenant.objects.filter(pk=tenant.pk, is_active=True).exists():
        return CLOSE_REFUSED
    if not Visitor.objects.filter(pk=visitor_id).exists():
        return CLOSE_UNAUTHENTICATED
    return None


@in_tenant_scope
def visitor_conversation_check(tenant: Tenant, *, visitor: Visitor, conversation_ids: list[int]) -> list[int]:
    """The ids among `conversation_ids` that are this visitor's."""
    owned = []
    for conversation_id in conversation_ids:
        try:
            selectors.conversation_for_visitor(tenant=tenant, visitor=visitor, conversation_id=conversation_id)
        except NotFound:
            continue
        owned.append(conversation_id)
    return owned


@in_tenant_scope
def visitor_send(
    tenant: Tenant,
    *,
    visitor: Visitor,
    conversation_id: int | None,
    client_id: str,
    body: str,
    attachments: list,
    current_conversation_id: int | None = None,
) -> tuple[int, bool, str]:
    """Store the visitor's message (once per client id) in the named or the open conversation.

    `current_conversation_id` is the socket's open conversation, if it knows one: sending
    into it skips the locked look-up for "the open conversation or a new one" (a transaction
    and two queries per message). Returns `(conversation id, started now, ack frame)`.
    """

    def send(conversation: Conversation) -> Message:
        message, _created = services.message_send(
            tenant=tenant,
            conversation=conversation,
            author_type=Message.Author.VISITOR,
            body=body,
            client_id=client_id,
            attachment_tokens=attachments,
        )
        return message

    started = False
    if conversation_id is not None:
        conversation = selectors.conversation_for_visitor(
            tenant=tenant, visitor=visitor, conversation_id=conversation_id
        )
        message = send(conversation)
    else:
        current = None
        if current_conversation_id is not None:
            current = (
                Conversation.objects.filter(tenant=tenant, visitor=visitor, pk=current_conversation_id)
                .exclude(status=Conversation.Status.CLOSED)
                .first()
            )
        try:
            if current is None:
                raise ConversationClosed()
            conversation, message = current, send(current)
        except ConversationClosed:
            # Closed meanwhile (or never known): the visitor's next words start a new chat.
            conversation, started = services.conversation_open_or_start(tenant=tenant, visitor=visitor)
            message = send(conversation)
    return conversation.pk, started, frames.dumps(frames.ack_frame(message, audience="visitor"))


@in_tenant_scope
def visitor_replay(
    tenant: Tenant, *, visitor: Visitor, conversation_id: int, after_seq: int
) -> tuple[list[str], int, int | None]:
    conversation = selectors.conversation_for_visitor(tenant=tenant, visitor=visitor, conversation_id=conversation_id)
    return _replay_page(conversation, after_seq, audience="visitor")


@in_tenant_scope
def visitor_read(tenant: Tenant, *, visitor: Visitor, conversation_id: int, seq: int) -> None:
    conversation = selectors.conversation_for_visitor(tenant=tenant, visitor=visitor, conversation_id=conversation_id)
    services.message_mark_read(tenant=tenant, conversation=conversation, side="visitor", seq=seq)


@in_tenant_scope
def visitor_rate(tenant: Tenant, *, visitor: Visitor, conversation_id: int, rating: str, comment: str) -> None:
    conversation = selectors.conversation_for_visitor(tenant=tenant, visitor=visitor, conversation_id=conversation_id)
    services.conversation_rate(tenant=tenant, conversation=conversation, rating=rating, comment=comment)


# --- operator side ---------------------------------------------------------------------------------


def _operator(membership_id: int) -> Membership:
    """The socket's membership, reloaded: a deactivated operator loses access at once."""
    membership = Membership.objects.select_related("user", "tenant").filter(pk=membership_id, is_active=True).first()
    if membership is None or not membership.user.is_active:
        raise Forbidden()
    return membership


def _operator_conversation(tenant: Tenant, membership: Membership, conversation_id: int) -> Conversation:
    return selectors.conversation_for_operator(tenant=tenant, membership=membership, conversation_id=conversation_id)


@in_tenant_scope
def operator_still_allowed(tenant: Tenant, *, membership_id: int, session_key: str | None) -> int | None:
    """None if the operator's handshake would still succeed (logged in, same password, active), else the close code."""
    membership = Membership.objects.select_related("user", "tenant").filter(pk=membership_id, is_active=True).first()
    if membership is None or not membership.user.is_active or not membership.tenant.is_active:
        return CLOSE_REFUSED
    session = import_module(settings.SESSION_ENGINE).SessionStore(session_key=session_key).load() if session_key else {}
    if str(session.get(SESSION_KEY)) != str(membership.user_id) or not constant_time_compare(
        session.get(HASH_SESSION_KEY) or "", membership.user.get_session_auth_hash()
    ):
        return CLOSE_UNAUTHENTICATED
    return None


@in_tenant_scope
def operator_conversation_check(tenant: Tenant, *, membership_id: int, conversation_id: int) -> None:
    _operator_conversation(tenant, _operator(membership_id), conversation_id)


@in_tenant_scope
def operator_send(
    tenant: Tenant, *, membership_id: int, conversation_id: int, kind: str, client_id: str, body: str, attachments: list
) -> str:
    membership = _operator(membership_id)
    conversation = _operator_conversation(tenant, membership, conversation_id)
    if kind == Message.Kind.NOTE:
        message, _created = services.note_add(
            tenant=tenant, conversation=conversation, author=membership, body=body, client_id=client_id
        )
    else:
        message, _created = services.message_send(
            tenant=tenant,
            conversation=conversation,
            author_type=Message.Author.OPERATOR,
            author=membership,
            body=body,
            client_id=client_id,
            attachment_tokens=attachments,
        )
    return frames.dumps(frames.ack_frame(message, audience="operator"))


@in_tenant_scope
def operator_replay(
    tenant: Tenant, *, membership_id: int, conversation_id: int, after_seq: int
) -> tuple[list[str], int, int | None]:
    conversation = _operator_conversation(tenant, _operator(membership_id), conversation_id)
    return _replay_page(conversation, after_seq, audience="operator")


@in_tenant_scope
def operator_read(tenant: Tenant, *, membership_id: int, conversation_id: int, seq: int) -> None:
    conversation = _operator_conversation(tenant, _operator(membership_id), conversation_id)
    services.message_mark_read(tenant=tenant, conversation=conversation, side="operator", seq=seq)


def _transfer_target(model: type, target_id: int | None) -> Any:
    if target_id is None:
        return None
    queryset = model.objects.all()
    if model is Membership:
        queryset = queryset.filter(is_active=True).select_related("user")
    target = queryset.filter(pk=target_id).first()
    if target is None:
        raise NotFound()
    return target


@in_tenant_scope
def operator_act(tenant: Tenant, *, membership_id: int, conversation_id: int, action: str, fields: dict) -> None:
    """One conversation action (accept, close, reopen, transfer) by this operator."""
    membership = _operator(membership_id)
    conversation = _operator_conversation(tenant, membership, conversation_id)
    if action == "accept":
        services.conversation_accept(tenant=tenant, conversation=conversation, membership=membership)
    elif action == "close":
        services.conversation_close(tenant=tenant, conversation=conversation, by=membership)
    elif action == "reopen":
        services.conversation_reopen(tenant=tenant, conversation=conversation, by=membership)
    elif action == "transfer":
        services.conversation_transfer(
            tenant=tenant,
            conversation=conversation,
            by=membership,
            to_membership=_transfer_target(Membership, fields["to_operator"]),
            to_department=_transfer_target(Department, fields["to_department"]),
            note=fields["note"],
        )
    else:  # pragma: no cover - the consumer only routes known actions here
        raise FrameError("unknown_type")


# --- the consumers -------------------------------------------------------------------------------------


class ParleySocket(SocketTasks, AsyncWebsocketConsumer):
    """What both sockets share: the handshake verdict, frame limits, the budget, errors, delivery.

    `handlers` maps a frame `type` to the name of an async method taking the parsed frame.
    """

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
        refusal = self.scope.get("parley_refusal")
        if refusal is not None or self.tenant is None:
            # Accept first: a browser sees the close code only on an opened socket.
            await self.accept()
            await self.close(code=refusal or CLOSE_UNAUTHENTICATED)
            return
        await self.start()
        if getattr(self, "refused_at_start", False):
            return
        self.upkeep_task = self.spawn(self.upkeep(), name=f"{self.side} socket upkeep")

    async def start(self) -> None:
        raise NotImplementedError

    async def still_allowed(self) -> int | None:
        """None while the handshake would still succeed, else the close code."""
        raise NotImplementedError

    async def upkeep(self) -> None:
        """While the socket is open: re-join its groups, and close it once its credentials are gone.

        Re-joining: the core Redis layer keeps group memberships in Redis, where they expire
        (`group_expiry`) and vanish when Redis restarts empty while the socket survives.
        Credentials: a logout, password change or deactivation closes the socket (4401/4403)
        within REVALIDATE_SECONDS; its groups are left first, so nothing more reaches it.
        """
        loop = asyncio.get_running_loop()
        checked_at = loop.time()
        while True:
            await asyncio.sleep(min(group_refresh_seconds(), REVALIDATE_SECONDS))
            try:
                for group in list(self.joined):
                    await self.channel_layer.group_add(group, self.channel_name)
            except Exception:  # Redis is down: the next round tries again
                logger.warning("%s socket: re-joining groups failed", self.side, exc_info=True)
            if loop.time() - checked_at < REVALIDATE_SECONDS:
                continue
            checked_at = loop.time()
            try:
                refusal = await self.still_allowed()
            except Exception:  # a database hiccup is not a reason to drop a working socket
                logger.warning("%s socket: revalidation failed", self.side, exc_info=True)
                continue
            if refusal is not None:
                await self.leave_all()
                await self.close(code=refusal)
                return

    async def disconnect(self, code: int) -> None:
        task = getattr(self, "upkeep_task", None)
        if task is not None and task is not asyncio.current_task():
            task.cancel()
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
        ref = _ref(frame)
        if not self.budget.take() or (self.person and not await frame_budget_take(self.person)):
            if kind != "typing":  # typing over the budget is dropped without a word
                await self.send_error("rate_limited", MESSAGES["rate_limited"], ref=ref)
            return
        handler_name = self.handlers.get(kind)
        if handler_name is None:
            await self.send_error("unknown_type", MESSAGES["unknown_type"], ref=ref)
            return
        try:
            await getattr(self, handler_name)(frame)
        except FrameError as exc:
            await self.send_error(exc.code, exc.message, ref=ref, field=exc.field)
        except ConversationError as exc:
            await self.send_error(exc.code, exc.message, ref=ref, field=getattr(exc, "field", None))
        except Exception:
            # Unknown failures (a database or layer outage) are the server's: the client keeps
            # the message in its outbox and resends it with the same client_id.
            logger.exception("%s socket: %s frame failed", self.side, kind)
            await self.send_error("server_error", MESSAGES["server_error"], ref=ref)

    async def deliver(self, event: dict) -> None:
        """A broadcast from events.py, already serialised for this audience."""
        await self.send(text_data=event["text"])

    async def send_ok(self, frame: dict) -> None:
        await self.send_frame(
            {"type": "ok", "action": frame["type"], "conversation": frame.get("conversation"), "ref": _ref(frame)}
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


class VisitorConsumer(ParleySocket):
    """`/ws/widget/`: one visitor, their own conversations only."""

    side = "visitor"
    handlers = {
        "send": "handle_send",
        "resume": "handle_resume",
        "typing": "handle_typing",
        "read": "handle_read",
        "rate": "handle_rate",
        "ping": "handle_ping",
    }

    async def start(self) -> None:
        self.visitor: Visitor = self.scope["parley_visitor"]
        self.person = f"v{self.visitor.pk}"
        if not await socket_slot_claim(self.person, self.channel_name, lifetime=self.slot_lifetime()):
            # More open sockets than one visitor needs (PARLEY_SOCKETS_PER_VISITOR): refused, no retry loop.
            self.refused_at_start = True
            await self.accept()
            await self.close(code=CLOSE_TOO_MANY_SOCKETS)
            return
        self.current_conversation: int | None = None
        self.draft_interval = 1.0 / DRAFT_PREVIEWS_PER_SECOND
        self.draft_next_at = 0.0
        self.draft_pending: tuple[int, str] | None = None
        self.draft_task: asyncio.Task | None = None
        await self.join(events.visitor_group(self.visitor.pk))
        open_conversation = await visitor_open_conversation(self.tenant, visitor=self.visitor)
        last_seq = 0
        if open_conversation is not None:
            self.current_conversation, last_seq = open_conversation
            await self.follow(self.current_conversation)
        await self.accept()
        await self.send_frame(
            {
                "type": "hello",
                "visitor": self.visitor.pk,
                "conversation": self.current_conversation,
                "last_seq": last_seq,
            }
        )

    async def disconnect(self, code: int) -> None:
        task = getattr(self, "draft_task", None)
        if task is not None:
            task.cancel()
        if self.person and not getattr(self, "refused_at_start", False):
            await socket_slot_release(self.person, self.channel_name)
        await super().disconnect(code)

    async def still_allowed(self) -> int | None:
        return await visitor_still_allowed(self.tenant, visitor_id=self.visitor.pk)

    @staticmethod
    def slot_lifetime() -> float:
        # Renewed by every upkeep round; three missed rounds (a dead process) free the slot.
        return 3 * min(group_refresh_seconds(), REVALIDATE_SECONDS) + 5

    async def upkeep(self) -> None:
        renew = self.spawn(self.renew_slot(), name="visitor socket slot")
        try:
            await super().upkeep()
        finally:
            renew.cancel()

    async def renew_slot(self) -> None:
        while True:
            await asyncio.sleep(min(group_refresh_seconds(), REVALIDATE_SECONDS))
            await socket_slot_claim(self.person, self.channel_name, lifetime=self.slot_lifetime())

    async def follow(self, conversation_id: int) -> None:
        """Mark a conversation as this visitor's (checked by the caller) and hear its broadcasts."""
        self.known_conversations.add(conversation_id)
        await self.join(events.conversation_group(conversation_id))

    async def owned(self, conversation_id: int) -> None:
        """Raise NotFound unless the conversation is this visitor's; remember the answer."""
        if conversation_id in self.known_conversations:
            return
        owned = await visitor_conversation_check(self.tenant, visitor=self.visitor, conversation_ids=[conversation_id])
        if not owned:
            raise NotFound()
        await self.follow(conversation_id)

    async def deliver(self, event: dict) -> None:
        # events.py already sends a visitor only public frames; a note or a draft reaching this
        # point would be a bug there, and it must still never reach the visitor's screen.
        text = event["text"]
        if '"note"' in text or '"draft"' in text:
            frame = json.loads(text)
            if "draft" in frame or (frame.get("type") == "message" and frame["message"].get("kind") == "note"):
                logger.error("a private frame was sent to a visitor group: %s", frame.get("type"))
                return
        await self.send(text_data=text)

    async def handle_send(self, frame: dict) -> None:
        conversation_id = _conversation_id(frame, required=False)
        if conversation_id is not None:
            await self.owned(conversation_id)
        attachments = frame.get("attachments") or []
        if not isinstance(attachments, list):
            raise FrameError("bad_frame", field="attachments")
        conversation_id, started, ack = await visitor_send(
            self.tenant,
            visitor=self.visitor,
            conversation_id=conversation_id,
            client_id=_string(frame, "client_id", max_chars=64, required=True),
            body=_string(frame, "body", max_chars=5000),
            attachments=attachments,
            current_conversation_id=self.current_conversation,
        )
        if frame.get("conversation") is None:
            self.current_conversation = conversation_id
        await self.follow(conversation_id)
        await self.send(text_data=ack)
        if started:
            # The visitor's other tabs hear the new chat from now on, not only after their own first send.
            await events.apublish_visitor_follow(visitor_id=self.visitor.pk, conversation_id=conversation_id)

    async def visitor_follow(self, event: dict) -> None:
        """Another socket of this visitor started a conversation: hear its broadcasts too."""
        self.current_conversation = self.current_conversation or event["conversation"]
        await self.follow(event["conversation"])

    async def handle_resume(self, frame: dict) -> None:
        targets = _resume_targets(frame)
        unknown = [cid for cid in targets if cid not in self.known_conversations]
        if unknown:
            owned = set(await visitor_conversation_check(self.tenant, visitor=self.visitor, conversation_ids=unknown))
            for conversation_id in unknown:
                if conversation_id in owned:
                    # Join before reading, so a message committed meanwhile comes live if not replayed.
                    await self.follow(conversation_id)
                else:
                    await self.send_error(
                        "not_found", MESSAGES["not_found"], ref=_ref(frame), conversation=conversation_id
                    )
        resumed: dict[str, int] = {}
        for conversation_id, after_seq in targets.items():
            if conversation_id not in self.known_conversations:
                continue
            fetch_page = functools.partial(
                visitor_replay, self.tenant, visitor=self.visitor, conversation_id=conversation_id
            )
            resumed[str(conversation_id)] = await self.replay(fetch_page, after_seq)
        await self.send_frame({"type": "resumed", "conversations": resumed})

    async def handle_typing(self, frame: dict) -> None:
        conversation_id = _conversation_id(frame, required=False) or self.current_conversation
        if conversation_id is None:
            return  # nothing to show operators before the first message
        on = frame.get("on")
        if not isinstance(on, bool):
            raise FrameError("bad_frame", field="on")
        draft = _string(frame, "draft", max_chars=DRAFT_MAX_CHARS * 4)[:DRAFT_MAX_CHARS] if on else ""
        await self.owned(conversation_id)
        if not on:
            self.draft_pending = None
            await self.publish_typing(conversation_id, False, "")
            return
        now = time.monotonic()
        if now >= self.draft_next_at:
            self.draft_next_at = now + self.draft_interval
            await self.publish_typing(conversation_id, True, draft)
            return
        # Too soon: keep only the newest draft and send it when the interval is over.
        self.draft_pending = (conversation_id, draft)
        if self.draft_task is None or self.draft_task.done():
            self.draft_task = self.spawn(self.flush_draft(self.draft_next_at - now), name="draft flush")

    async def flush_draft(self, delay: float) -> None:
        await asyncio.sleep(delay)
        pending, self.draft_pending = self.draft_pending, None
        if pending is not None:
            self.draft_next_at = time.monotonic() + self.draft_interval
            await self.publish_typing(pending[0], True, pending[1])

    async def publish_typing(self, conversation_id: int, on: bool, draft: str) -> None:
        await events.publish_typing(
            tenant_id=self.tenant.pk,
            conversation_id=conversation_id,
            side="visitor",
            on=on,
            draft=draft,
            name=self.visitor.name,
        )

    async def handle_read(self, frame: dict) -> None:
        conversation_id = _conversation_id(frame)
        seq = _seq(frame)
        await self.owned(conversation_id)
        await visitor_read(self.tenant, visitor=self.visitor, conversation_id=conversation_id, seq=seq)

    async def handle_rate(self, frame: dict) -> None:
        conversation_id = _conversation_id(frame)
        await self.owned(conversation_id)
        await visitor_rate(
            self.tenant,
            visitor=self.visitor,
            conversation_id=conversation_id,
            rating=_string(frame, "rating", max_chars=16, required=True),
            comment=_string(frame, "comment", max_chars=2000),
        )
        await self.send_ok(frame)


class OperatorConsumer(ParleySocket):
    """`/ws/app/`: one operator, the conversations of their tenant."""

    side = "operator"
    handlers = {
        "send": "handle_send",
        "resume": "handle_resume",
        "typing": "handle_typing",
        "read": "handle_read",
        "accept": "handle_action",
        "close": "handle_action",
        "reopen": "handle_action",
        "transfer": "handle_action",
        "ping": "handle_ping",
    }

    async def start(self) -> None:
        self.membership: Membership = self.scope["parley_membership"]
        self.person = f"m{self.membership.pk}"
        self.public_name = await database_sync_to_async(frames.operator_public_name)(self.membership)
        await self.join(events.ops_group(self.tenant.pk))
        await self.join(events.user_group(self.membership.user_id))
        await self.accept()
        await self.send_frame(
            {"type": "hello", "tenant": self.tenant.pk, "operator": self.membership.pk, "name": self.public_name}
        )

    async def still_allowed(self) -> int | None:
        session = self.scope.get("session")
        return await operator_still_allowed(
            self.tenant, membership_id=self.membership.pk, session_key=getattr(session, "session_key", None)
        )

    async def owned(self, conversation_id: int) -> None:
        if conversation_id in self.known_conversations:
            return
        await operator_conversation_check(
            self.tenant, membership_id=self.membership.pk, conversation_id=conversation_id
        )
        self.known_conversations.add(conversation_id)

    async def handle_send(self, frame: dict) -> None:
        kind = frame.get("kind", Message.Kind.TEXT)
        if kind not in (Message.Kind.TEXT, Message.Kind.NOTE):
            raise FrameError("bad_frame", _("kind must be text or note."), field="kind")
        attachments = frame.get("attachments") or []
        if not isinstance(attachments, list) or (attachments and kind == Message.Kind.NOTE):
            raise FrameError("bad_frame", field="attachments")
        ack = await operator_send(
            self.tenant,
            membership_id=self.membership.pk,
            conversation_id=_conversation_id(frame),
            kind=kind,
            client_id=_string(frame, "client_id", max_chars=64, required=True),
            body=_string(frame, "body", max_chars=5000),
            attachments=attachments,
        )
        await self.send(text_data=ack)

    async def handle_resume(self, frame: dict) -> None:
        resumed: dict[str, int] = {}
        for conversation_id, after_seq in _resume_targets(frame).items():
            fetch_page = functools.partial(
                operator_replay, self.tenant, membership_id=self.membership.pk, conversation_id=conversation_id
            )
            try:
                resumed[str(conversation_id)] = await self.replay(fetch_page, after_seq)
            except NotFound:
                await self.send_error("not_found", MESSAGES["not_found"], ref=_ref(frame), conversation=conversation_id)
        await self.send_frame({"type": "resumed", "conversations": resumed})

    async def handle_typing(self, frame: dict) -> None:
        conversation_id = _conversation_id(frame)
        on = frame.get("on")
        if not isinstance(on, bool):
            raise FrameError("bad_frame", field="on")
        await self.owned(conversation_id)
        await events.publish_typing(
            tenant_id=self.tenant.pk, conversation_id=conversation_id, side="operator", on=on, name=self.public_name
        )

    async def handle_read(self, frame: dict) -> None:
        conversation_id = _conversation_id(frame)
        seq = _seq(frame)
        await operator_read(self.tenant, membership_id=self.membership.pk, conversation_id=conversation_id, seq=seq)

    async def handle_action(self, frame: dict) -> None:
        action = frame["type"]
        fields: dict[str, Any] = {}
        if action == "transfer":
            fields = {
                "to_operator": _optional_id(frame, "to_operator"),
                "to_department": _optional_id(frame, "to_department"),
                "note": _string(frame, "note", max_chars=2000),
            }
            if fields["to_operator"] is None and fields["to_department"] is None:
                raise FrameError(
                    "bad_frame", _("Name an operator or a department to transfer to."), field="to_operator"
                )
        await operator_act(
            self.tenant,
            membership_id=self.membership.pk,
            conversation_id=_conversation_id(frame),
            action=action,
            fields=fields,
        )
        await self.send_ok(frame)
