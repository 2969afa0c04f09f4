"""What routing broadcasts, and to which group (docs/protocol.md, "Routing").

- `offer` to `u<user>`: a chat offered to this operator (`made`), or no longer (`withdrawn`,
  `expired`, `taken`).
- `presence` to `t<tenant>.ops`: an operator's status, with the reason when the system set it.
- `sla` to `t<tenant>.ops`: a next-response clock started, or a response target passed unanswered.
- `queue` to `c<conversation>`: the waiting visitor's position and estimated wait; sent only
  to the conversations whose position changed.

Call only from services, through `transaction.on_commit`.
"""

from __future__ import annotations

import logging
from typing import Any

from apps.conversations.events import conversation_group, ops_group, publish_frames_now, user_group
from apps.conversations.events import publish_frame_now as publish_frame

logger = logging.getLogger(__name__)


def offer_frame(*, event: str, conversation_id: int, expires_at: str | None = None, **extra: Any) -> dict[str, Any]:
    return {"type": "offer", "event": event, "conversation": conversation_id, "expires_at": expires_at, **extra}


def publish_offer(*, user_id: int, frame: dict[str, Any]) -> None:
    publish_frame(user_group(user_id), frame)


def publish_offers(deliveries: list[tuple[int, dict[str, Any]]]) -> None:
    """Several offer frames in one hop into the event loop: `(user id, frame)`."""
    if not deliveries:
        return
    _send_many([(user_group(user_id), frame) for user_id, frame in deliveries])


def presence_frame(
    *, membership_id: int, user_id: int, name: str, status: str, changed_at: str, reason: str, detail: dict
) -> dict[str, Any]:
    return {
        "type": "presence",
        "operator": {
            "id": membership_id,
            "user": user_id,
            "name": name,
            "status": status,
            "changed_at": changed_at,
            "reason": reason,
            "detail": detail,
        },
    }


def publish_presence(*, tenant_id: int, frame: dict[str, Any]) -> None:
    publish_frame(ops_group(tenant_id), frame)


def queue_frame(*, conversation_id: int, position: int, eta: int | None, message: str) -> dict[str, Any]:
    return {
        "type": "queue",
        "event": "position",
        "conversation": conversation_id,
        "position": position,
        "eta": eta,
        "message": message,
    }


def publish_queue_positions(frames: list[dict[str, Any]]) -> None:
    """Each waiting visitor whose position changed hears it; one hop for all of them."""
    _send_many([(conversation_group(frame["conversation"]), frame) for frame in frames])


def publish_queue_left(*, conversation_id: int) -> None:
    """The chat left the queue (accepted, closed): the widget hides its position."""
    frame = {"type": "queue", "event": "left", "conversation": conversation_id, "position": 0}
    publish_frame(conversation_group(conversation_id), frame)


def publish_sla(*, tenant_id: int, conversation_id: int, event: str, kind: str, due_at: str) -> None:
    """A response target: `started` (a next-response clock began) or `breached`; `kind` is `first` or `next`."""
    publish_frame(
        ops_group(tenant_id),
        {"type": "sla", "event": event, "kind": kind, "conversation": conversation_id, "due_at": due_at},
    )


def _send_many(sends: list[tuple[str, dict[str, Any]]]) -> None:
    publish_frames_now(sends)
