"""Invoice numbers under concurrency: 20 creations at once on PostgreSQL, no gaps, no duplicates."""

import threading

import pytest
from django.db import connection, connections
from django_scopes import scopes_disabled

from apps.invoices import services
from apps.invoices.models import Invoice

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


def test_twenty_concurrent_creations_get_numbers_1_to_20(tenant, conversation, operator):
    assert connection.vendor == "postgresql"
    barrier = threading.Barrier(20)
    errors = []

    def create():
        try:
            barrier.wait(timeout=10)
            services.invoice_create(
                tenant=tenant,
                conversation=conversation,
                created_by=operator,
                lines=[{"description": "Item", "quantity": "1", "unit_price": "9.99"}],
            )
        except Exception as error:  # collected, asserted below
            errors.append(error)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=create) for _ in range(20)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert errors == []
    with scopes_disabled():
        numbers = sorted(Invoice.objects.filter(tenant=tenant).values_list("number", flat=True))
    assert numbers == list(range(1, 21))
