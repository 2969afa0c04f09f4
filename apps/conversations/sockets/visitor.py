"""`/ws/widget/`: one visitor, their own conversations only.

A visitor's message goes to `services.visitor_message_receive` (the one way in, shared
with the widget's HTTP API and the other channels); this socket only parses the frame,
acknowledges what the service returns, and joins the conversation's group.
"""

from __future__ import annotations

import asyncio
import functools
import json
import logging
import time

from channels.db import database_sync_to_async

from apps.conversations import events, frames, selectors, services
from apps.conversations.errors import NotFound
from apps.conversations.models import Visitor
from apps.conversations.sockets import base
from apps.conversations.sockets.auth import visitor_still_allowed
from apps.conversations.sockets.base import CLOSE_TOO_MANY_SOCKETS, MESSAGES, FrameError, ParleySocket
from apps.core.budgets import socket_slot_claim, socket_slot_release

logger = logging.getLogger(__name__)

# At most this many typing previews per second leave one visitor socket: the first keystroke at once
# (the leading edge), then the newest draft when the interval is over.
DRAFT_PREVIEWS_PER_SECOND = 4


def _open_conversation(tenant, visitor) -> tuple[int, int] | None:
    conversation = selectors.open_conversation_for_visitor(tenant=tenant, visitor=visitor)
    return (conversation.pk, conversation.last_seq) if conversation is not None else None


def _receive(**kwargs) -> tuple[int, str]:
    received = services.visitor_message_receive(**kwargs)
    return received.conversation.pk, frames.dumps(frames.ack_frame(received.message, audience="visitor"))


class VisitorConsumer(ParleySocket):
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
        open_conversation = await database_sync_to_async(_open_conversation)(self.tenant, self.visitor)
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
        return await database_sync_to_async(visitor_still_allowed)(self.tenant, self.visitor.pk)

    @staticmethod
    def slot_lifetime() -> float:
        # Renewed by every upkeep round; three missed rounds (a dead process) free the slot.
        return 3 * min(base.group_refresh_seconds(), base.REVALIDATE_SECONDS) + 5

    async def upkeep_more(self) -> None:
        await socket_slot_claim(self.person, self.channel_name, lifetime=self.slot_lifetime())

    async def follow(self, conversation_id: int) -> None:
        """Mark a conversation as this visitor's (checked by the caller) and hear its broadcasts."""
        self.known_conversations.add(conversation_id)
        await self.join(events.conversation_group(conversation_id))

    async def owned(self, conversation_id: int) -> None:
        """Raise NotFound unless the conversation is this visitor's; remember the answer."""
        if conversation_id in self.known_conversations:
            return
        owned = await database_sync_to_async(selectors.visitor_conversations_owned)(
            tenant=self.tenant, visitor=self.visitor, conversation_ids=[conversation_id]
        )
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
        named = base.conversation_id(frame, required=False)
        conversation_id, ack = await database_sync_to_async(_receive)(
            tenant=self.tenant,
            visitor=self.visitor,
            conversation_id=named,
            current_conversation_id=self.current_conversation,
            client_id=frame.get("client_id"),
            body=frame.get("body"),
            attachment_tokens=frame.get("attachments") or None,
        )
        # The broadcast first, then the join and the ack: the sender's tabs hear the message in the
        # same order as when the publish blocked the database thread (docs/protocol.md, "Delivery").
        await events.outbox_flush()
        if named is None:
            self.current_conversation = conversation_id
        await self.follow(conversation_id)
        await self.send(text_data=ack)

    async def visitor_follow(self, event: dict) -> None:
        """A conversation of this visitor started elsewhere (another tab, the contact form, an operator's
        invitation): hear its broadcasts too."""
        self.current_conversation = self.current_conversation or event["conversation"]
        await self.follow(event["conversation"])

    async def handle_resume(self, frame: dict) -> None:
        targets = base.resume_targets(frame)
        unknown = [cid for cid in targets if cid not in self.known_conversations]
        if unknown:
            owned = set(
                await database_sync_to_async(selectors.visitor_conversations_owned)(
                    tenant=self.tenant, visitor=self.visitor, conversation_ids=unknown
                )
            )
            for conversation_id in unknown:
                if conversation_id in owned:
                    # Join before reading, so a message committed meanwhile comes live if not replayed.
                    await self.follow(conversation_id)
                else:
                    await self.send_error(
                        "not_found", MESSAGES["not_found"], ref=base.ref(frame), conversation=conversation_id
                    )
        resumed: dict[str, int] = {}
        for conversation_id, after_seq in targets.items():
            if conversation_id not in self.known_conversations:
                continue
            fetch_page = functools.partial(
                database_sync_to_async(selectors.visitor_replay_page),
                tenant=self.tenant,
                visitor=self.visitor,
                conversation_id=conversation_id,
            )
            resumed[str(conversation_id)] = await self.replay(fetch_page, after_seq)
        await self.send_frame({"type": "resumed", "conversations": resumed})

    async def handle_typing(self, frame: dict) -> None:
        conversation_id = base.conversation_id(frame, required=False) or self.current_conversation
        if conversation_id is None:
            return  # nothing to show operators before the first message
        on = frame.get("on")
        if not isinstance(on, bool):
            raise FrameError("bad_frame", field="on")
        draft = services.typing_draft(frame.get("draft")) if on else ""
        await self.owned(conversation_id)
        if not on:
            self.draft_pending = None
            await self.publish_typing(conversation_id, False, "")
            return
        now = time.monotonic()
        if now >= self.draft_next_at:
            # The leading edge: the first keystroke after a quiet interval shows at once.
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
        conversation_id = base.conversation_id(frame)
        seq = base.seq(frame)
        await self.owned(conversation_id)
        await database_sync_to_async(services.visitor_conversation_read)(
            tenant=self.tenant, visitor=self.visitor, conversation_id=conversation_id, seq=seq
        )

    async def handle_rate(self, frame: dict) -> None:
        conversation_id = base.conversation_id(frame)
        await self.owned(conversation_id)
        await database_sync_to_async(services.visitor_conversation_rate)(
            tenant=self.tenant,
            visitor=self.visitor,
            conversation_id=conversation_id,
            rating=frame.get("rating"),
            comment=frame.get("comment") or "",
        )
        await events.outbox_flush()
        await self.send_ok(frame)
