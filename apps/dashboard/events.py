"""What the dashboard broadcasts, and to which group.

Frames use the envelope of docs/protocol.md: the channel layer carries
`{"type": "deliver", "text": <json frame>}` and the operator socket forwards `text` as is.
Call these only from services, inside `transaction.on_commit`.
"""

from __future__ import annotations

import json
import logging
from typing import Any

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer

logger = logging.getLogger(__name__)


def ops_group(tenant_id: int) -> str:
    return f"t{tenant_id}.ops"


def user_group(user_id: int) -> str:
    return f"u{user_id}"


def _deliver(group: str, frame: dict[str, Any]) -> None:
    try:
        layer = get_channel_layer()
        if layer is None:
            return
        async_to_sync(layer.group_send)(group, {"type": "deliver", "text": json.dumps(frame, separators=(",", ":"))})
    except Exception:  # the layer carries hints; clients reload state over HTTP on reconnect
        logger.exception("group_send to %s failed", group)


def presence_frame(*, membership_id: int, user_id: int, name: str, status: str, changed_at: str) -> dict[str, Any]:
    return {
        "type": "presence",
        "operator": {"id": membership_id, "user": user_id, "name": name, "status": status, "changed_at": changed_at},
    }


def operator_status_changed(*, tenant_id: int, frame: dict[str, Any]) -> None:
    """Every operator of the tenant sees who is online, paused or offline."""
    _deliver(ops_group(tenant_id), frame)


def colleague_invited(*, user_id: int, conversation_id: int, by_name: str) -> None:
    """A personal notice to the invited operator's sockets only."""
    _deliver(
        user_group(user_id),
        {"type": "notice", "event": "invited", "conversation": conversation_id, "by": by_name},
    )


def visitor_invited(*, tenant_id: int, visitor_id: int, conversation_id: int) -> None:
    """Lets the other operators' "visitors online" lists show that someone already invited this visitor."""
    _deliver(
        ops_group(tenant_id),
        {"type": "visitor", "event": "invited", "visitor": visitor_id, "conversation": conversation_id},
    )


def visitor_follow(*, visitor_id: int, conversation_id: int) -> None:
    """Tell the visitor's sockets (the widget consumer's per-visitor group) to follow a chat an operator started."""
    from apps.conversations.consumers import visitor_group

    try:
        layer = get_channel_layer()
        if layer is not None:
            async_to_sync(layer.group_send)(
                visitor_group(visitor_id), {"type": "visitor.follow", "conversation": conversation_id}
            )
    except Exception:
        logger.exception("visitor.follow for visitor %s failed", visitor_id)
