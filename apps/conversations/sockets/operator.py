"""`/ws/app/`: one operator, the conversations of their tenant.

Every action goes to one service in `services/operators.py` by ids; this socket only
parses frames, answers, and forwards what the groups deliver.

Groups (docs/protocol.md, "Groups"): `t<tenant>.ops` and `u<user>` for the socket's life;
`c<id>.ops` for each conversation it follows: those assigned to the operator (joined at
connect and when a `conversation` event names them the assignee, left when it names someone
else or closes the chat) and those the dashboard has open (`watch` / `unwatch`).
"""

from __future__ import annotations

import functools

from channels.db import database_sync_to_async

from apps.accounts.models import Membership
from apps.conversations import events, frames, selectors, services
from apps.conversations.errors import NotFound
from apps.conversations.sockets import base
from apps.conversations.sockets.auth import operator_still_allowed
from apps.conversations.sockets.base import MESSAGES, FrameError, ParleySocket
from apps.routing import hooks as routing

# Conversations one socket may watch besides its assigned ones; a further `watch` drops the oldest.
WATCHED_MAX = 20


def _send(**kwargs) -> str:
    return frames.dumps(frames.ack_frame(services.operator_message_send(**kwargs), audience="operator"))


class OperatorConsumer(ParleySocket):
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
        "watch": "handle_watch",
        "unwatch": "handle_watch",
        "ping": "handle_ping",
    }

    async def start(self) -> None:
        self.membership: Membership = self.scope["parley_membership"]
        self.person = f"m{self.membership.pk}"
        self.name_for_team = await database_sync_to_async(frames.operator_public_name)(self.membership)
        self.assigned: set[int] = set()
        self.watched: dict[int, None] = {}  # insertion-ordered: the oldest watch is dropped first
        await self.join(events.ops_group(self.tenant.pk))
        await self.join(events.user_group(self.membership.user_id))
        for conversation_id in await database_sync_to_async(selectors.operator_assigned_conversation_ids)(
            tenant=self.tenant, membership_id=self.membership.pk
        ):
            self.assigned.add(conversation_id)
            await self.join(events.conversation_ops_group(conversation_id))
        await self.accept()
        await self.send_frame(
            {"type": "hello", "tenant": self.tenant.pk, "operator": self.membership.pk, "name": self.name_for_team}
        )
        await routing.operator_socket_opened(self)

    async def disconnect(self, code: int) -> None:
        await routing.operator_socket_closed(self)
        await super().disconnect(code)

    async def still_allowed(self) -> int | None:
        session = self.scope.get("session")
        return await database_sync_to_async(operator_still_allowed)(
            self.tenant, self.membership.pk, getattr(session, "session_key", None)
        )

    async def owned(self, conversation_id: int) -> None:
        if conversation_id in self.known_conversations:
            return
        await database_sync_to_async(services.operator_conversation_check)(
            tenant=self.tenant, membership_id=self.membership.pk, conversation_id=conversation_id
        )
        self.known_conversations.add(conversation_id)

    # --- which conversations' bodies reach this socket ---------------------------------------------------

    async def handle_watch(self, frame: dict) -> None:
        """`watch`: the dashboard opened the chat (its bodies, drafts and receipts come here); `unwatch`: closed it."""
        conversation_id = base.conversation_id(frame)
        await self.owned(conversation_id)
        if frame["type"] == "watch":
            self.watched.pop(conversation_id, None)
            self.watched[conversation_id] = None
            await self.join(events.conversation_ops_group(conversation_id))
            while len(self.watched) > WATCHED_MAX:
                await self.unfollow(next(iter(self.watched)))
        else:
            await self.unfollow(conversation_id)
        await self.send_ok(frame)

    async def unfollow(self, conversation_id: int) -> None:
        """Stop watching; the group is left unless the operator is still its assignee."""
        self.watched.pop(conversation_id, None)
        if conversation_id not in self.assigned:
            await self.leave(events.conversation_ops_group(conversation_id))

    async def conversation_deliver(self, event: dict) -> None:
        """A `conversation` frame, with its assignee beside it (None once closed): follow or stop following."""
        await self.deliver(event)
        conversation_id = event["conversation"]
        if event.get("assignee") == self.membership.pk:
            if conversation_id not in self.assigned:
                self.assigned.add(conversation_id)
                self.known_conversations.add(conversation_id)
                await self.join(events.conversation_ops_group(conversation_id))
        elif conversation_id in self.assigned:
            self.assigned.discard(conversation_id)
            if conversation_id not in self.watched:
                await self.leave(events.conversation_ops_group(conversation_id))

    # --- actions -------------------------------------------------------------------------------------------

    async def handle_send(self, frame: dict) -> None:
        ack = await database_sync_to_async(_send)(
            tenant=self.tenant,
            membership_id=self.membership.pk,
            conversation_id=base.conversation_id(frame),
            kind=frame.get("kind", "text"),
            client_id=frame.get("client_id"),
            body=frame.get("body"),
            attachment_tokens=frame.get("attachments") or None,
        )
        await events.outbox_flush()  # the broadcast is with the layer before the sender has its ack
        await self.send(text_data=ack)

    async def handle_resume(self, frame: dict) -> None:
        resumed: dict[str, int] = {}
        for conversation_id, after_seq in base.resume_targets(frame).items():
            fetch_page = functools.partial(
                database_sync_to_async(selectors.operator_replay_page),
                tenant=self.tenant,
                membership_id=self.membership.pk,
                conversation_id=conversation_id,
            )
            try:
                resumed[str(conversation_id)] = await self.replay(fetch_page, after_seq)
            except NotFound:
                await self.send_error(
                    "not_found", MESSAGES["not_found"], ref=base.ref(frame), conversation=conversation_id
                )
        await self.send_frame({"type": "resumed", "conversations": resumed})

    async def handle_typing(self, frame: dict) -> None:
        conversation_id = base.conversation_id(frame)
        on = frame.get("on")
        if not isinstance(on, bool):
            raise FrameError("bad_frame", field="on")
        await self.owned(conversation_id)
        await events.publish_typing(
            tenant_id=self.tenant.pk, conversation_id=conversation_id, side="operator", on=on, name=self.name_for_team
        )

    async def handle_read(self, frame: dict) -> None:
        conversation_id = base.conversation_id(frame)
        seq = base.seq(frame)
        await database_sync_to_async(services.operator_conversation_read)(
            tenant=self.tenant, membership_id=self.membership.pk, conversation_id=conversation_id, seq=seq
        )

    async def handle_action(self, frame: dict) -> None:
        action = frame["type"]
        fields = {}
        if action == "transfer":
            fields = {
                "to_operator": base.optional_id(frame, "to_operator"),
                "to_department": base.optional_id(frame, "to_department"),
                "note": frame.get("note") or "",
            }
        await database_sync_to_async(services.operator_conversation_act)(
            tenant=self.tenant,
            membership_id=self.membership.pk,
            conversation_id=base.conversation_id(frame),
            action=action,
            **fields,
        )
        await events.outbox_flush()
        await self.send_ok(frame)
