"""What canned replies broadcast, and to which group.

Only the operator's own sockets (`u<user id>`) hear that their hotkeys or personal replies
changed, so their other dashboard tabs reload them; the frame names the membership and
carries no reply, so nothing of a reply reaches a socket that the HTTP API would not show
(a tab signed in to another tenant of the same person ignores it). Services call these
inside their transaction; each registers itself on commit, so a rollback sends nothing.
"""

from __future__ import annotations

from apps.conversations.events import on_commit, publish_frame_now, user_group


def canned_changed_frame(*, membership_id: int, what: str) -> dict:
    return {"type": "canned.changed", "operator": membership_id, "what": what}


@on_commit
def canned_changed(*, user_id: int, membership_id: int, what: str) -> None:
    """`what`: "hotkeys" (Alt+1..9 changed) or "replies" (a personal reply was added, changed or deleted)."""
    publish_frame_now(user_group(user_id), canned_changed_frame(membership_id=membership_id, what=what))
