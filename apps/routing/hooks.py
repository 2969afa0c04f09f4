"""The few points where the conversation services and sockets call into routing.

Kept tiny and import-light so apps.conversations can import it at module level; the work
is in `services` and `presence`.
"""

from __future__ import annotations

from typing import Any


def conversation_started(*, tenant: Any, conversation: Any) -> None:
    """After the commit of a new conversation: a worker queues it and offers it.

    Not on the caller's thread (daphne's one database thread for a widget socket): a task,
    enqueued on commit. A lost task loses nothing: the sweeper routes a queued chat that has
    no waiting entry (`sweeps.unrouted_sweep`).
    """
    from .tasks import conversation_route

    conversation_route.delay(tenant.pk, conversation.pk)


def reply_awaited(*, tenant: Any, conversation: Any, since: Any) -> None:
    """A visitor wrote after an operator's reply (inside that transaction): a worker starts the next-response clock."""
    from .tasks import reply_clock_start

    reply_clock_start.delay(tenant.pk, conversation.pk, since.isoformat())


def conversation_taken(*, tenant: Any, conversation: Any, membership: Any) -> None:
    from .services import conversation_taken as taken

    taken(tenant=tenant, conversation=conversation, membership=membership)


def conversation_closed(*, tenant: Any, conversation: Any, by: Any) -> None:
    from .services import conversation_released

    conversation_released(tenant=tenant, conversation=conversation, by=by)


def conversation_transferred(*, tenant: Any, conversation: Any) -> None:
    from .services import conversation_transferred as transferred

    transferred(tenant=tenant, conversation=conversation)


def conversation_reopened(*, tenant: Any, conversation: Any) -> None:
    from .services import conversation_reopened as reopened

    reopened(tenant=tenant, conversation=conversation)


async def operator_socket_opened(consumer: Any) -> None:
    from .presence import socket_opened

    await socket_opened(consumer)


async def operator_socket_closed(consumer: Any) -> None:
    from .presence import socket_closed

    await socket_closed(consumer)
