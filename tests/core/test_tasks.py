"""TransactionAwareTask: a task enqueued inside a transaction leaves only after the commit."""

import pytest
from celery import shared_task
from django.db import transaction

from apps.core.tasks import TransactionAwareTask

pytestmark = pytest.mark.django_db

RAN: list[int] = []


@shared_task(name="tests.core.remember", base=TransactionAwareTask)
def remember(value: int) -> None:
    RAN.append(value)


@pytest.fixture(autouse=True)
def _empty():
    RAN.clear()


def test_a_task_enqueued_inside_a_transaction_runs_only_after_the_commit(django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=False) as callbacks, transaction.atomic():
        remember.delay(1)
        assert RAN == []
    assert RAN == [] and len(callbacks) == 1
    callbacks[0]()
    assert RAN == [1]


def test_a_rolled_back_transaction_enqueues_nothing(django_capture_on_commit_callbacks):
    with (
        django_capture_on_commit_callbacks(execute=True) as callbacks,
        pytest.raises(RuntimeError),
        transaction.atomic(),
    ):
        remember.delay(2)
        raise RuntimeError("rolled back")
    assert (RAN, callbacks) == ([], [])


@pytest.mark.django_db(transaction=True)
def test_outside_a_transaction_it_is_enqueued_at_once():
    remember.delay(3)
    assert RAN == [3]
