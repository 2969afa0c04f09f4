"""What the dashboard broadcasts, and to which group.

Frames use the envelope of docs/protocol.md: the channel layer carries
`{"type": "deliver", "text": <json frame>}` and the operator socket forwards `text` as is.
Services call these inside their transaction; each registers itself on commit
(`apps.conversations.events.on_commit`), so a rollback sends nothing.
"""

from __future__ import annotations

from typing import Any

from apps.conversations.events import on_commit, ops_group, user_group
from apps.conversations.events import publish_frame_now as publish_frame


def presence_frame(*, membership_id: int, user_id: int, name: str, status: str, changed_at: str) -> dict[str, Any]:
    return {
        "type": "presence",
        "operator": {"id": membership_id, "user": user_id, "name": name, "status": status, "changed_at": changed_at},
    }


@on_commit
def operator_status_changed(*, tenant_id: int, frame: dict[str, Any]) -> None:
    """Every operator of the tenant sees who is online, paused or offline."""
    publish_frame(ops_group(tenant_id), frame)


@on_commit
def colleague_invited(*, user_id: int, conversation_id: int, by_name: str) -> None:
    """A personal notice to the invited operator's sockets only."""
    publish_frame(
        user_group(user_id),
        {"type": "notice", "event": "invited", "conversation": conversation_id, "by": by_name},
    )


@on_commit
def visitor_invited(*, tenant_id: int, visitor_id: int, conversation_id: int) -> None:
    """Lets the other operators' "visitors online" lists show that someone already invited this visitor."""
    publish_frame(
        ops_group(tenant_id),
        {"type": "visitor", "event": "invited", "visitor": visitor_id, "conversation": conversation_id},
    )
