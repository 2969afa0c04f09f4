"""Routing under real concurrent transactions (PostgreSQL): the limit holds, the queue stays consistent."""

import threading
from collections import Counter

import pytest
from django.db import connection
from django_scopes import scopes_disabled

from apps.accounts.models import Role
from apps.conversations import services as conversation_services
from apps.conversations.models import Conversation
from apps.routing.models import Offer, QueueEntry
from apps.routing.presence import presence_set
from tests import factories

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


def test_fifty_chats_at_once_for_five_operators_with_a_limit_of_two_never_overfill(settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    with scopes_disabled():
        tenant = factories.TenantFactory(slug="rush")
        operators = [
            factories.MembershipFactory(tenant=tenant, role=Role.OPERATOR, user__email=f"rush{i}@example.test")
            for i in range(5)
        ]
        visitors = [factories.VisitorFactory(tenant=tenant) for _ in range(50)]
    for operator in operators:
        with scopes_disabled():
            type(operator).objects.filter(pk=operator.pk).update(max_concurrent_chats=2)
        operator.max_concurrent_chats = 2
        presence_set(tenant=tenant, membership=operator, status="online")

    barrier = threading.Barrier(10)
    errors: list[BaseException] = []

    def arrive(batch):
        try:
            barrier.wait()
            for visitor in batch:
                conversation_services.conversation_start(tenant=tenant, visitor=visitor)
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=arrive, args=(visitors[i::10],)) for i in range(10)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert not errors, errors

    with scopes_disabled():
        entries = list(QueueEntry.objects.filter(tenant=tenant).order_by("enqueued_at", "pk"))
        pending = Counter(
            Offer.objects.filter(tenant=tenant, outcome="pending").values_list("membership_id", flat=True)
        )
        assert Conversation.objects.filter(tenant=tenant).count() == 50
    assert len(entries) == 50 and all(e.waiting for e in entries)
    assert max(pending.values()) <= 2 and sum(pending.values()) == 10
    assert sorted(e.position for e in entries) == list(range(1, 51))
    # Positions follow arrival order, and exactly the chats that were offered hold an offer.
    assert [e.position for e in entries] == list(range(1, 51))
    assert sum(1 for e in entries if e.offered_to_id) == 10
