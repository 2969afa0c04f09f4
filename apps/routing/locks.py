"""The tenant's routing lock: one router at a time per tenant, across processes.

A PostgreSQL transaction-level advisory lock (`pg_advisory_xact_lock`), released by the
commit or rollback. Everything that changes who has how many chats (an offer, an accept, an
expiry, the backlog) takes it first, so the limit check and the offer are one step. Order:
a caller may hold a conversation row lock when it takes this lock, never the other way round.
On SQLite the transaction itself holds the database's write lock (`transaction_mode=IMMEDIATE`).
"""

from __future__ import annotations

from django.db import connection

# The first key of the two-key advisory lock: Parley's routing (the second is the tenant id).
LOCK_CLASS = 0x50524C  # "PRL"


def tenant_routing_lock(tenant_id: int) -> None:
    """Block until this transaction holds the tenant's routing lock (call inside `transaction.atomic`)."""
    if connection.vendor != "postgresql":
        return
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_advisory_xact_lock(%s, %s)", [LOCK_CLASS, tenant_id])


def tenant_routing_try_lock(tenant_id: int) -> bool:
    """Take the lock if free; False when another router holds it (a sweeper then tries next tick)."""
    if connection.vendor != "postgresql":
        return True
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_try_advisory_xact_lock(%s, %s)", [LOCK_CLASS, tenant_id])
        return bool(cursor.fetchone()[0])
