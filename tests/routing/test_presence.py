"""Presence across processes (the socket claims live in Redis) with a grace period."""

from datetime import timedelta

import pytest
from django.utils import timezone
from django_scopes import scopes_disabled

from apps.dashboard.models import OperatorStatus
from apps.routing import sweeps
from apps.routing.models import OperatorRouting
from apps.routing.presence import _redis, operator_connected, operator_disconnected, presence_set, presence_sweep


@pytest.fixture(autouse=True)
def _clean_claims(operator):
    _redis().delete(f"parley:opsockets:m{operator.pk}")
    yield
    _redis().delete(f"parley:opsockets:m{operator.pk}")


def status_of(membership):
    with scopes_disabled():
        return OperatorStatus.objects.get(membership=membership).status


def routing_of(membership):
    with scopes_disabled():
        return OperatorRouting.objects.get(membership=membership)


def later(seconds):
    return timezone.now() + timedelta(seconds=seconds)


def test_a_page_reload_within_the_grace_period_changes_nothing(tenant, operator, publish):
    presence_set(tenant=tenant, membership=operator, status="online")
    operator_connected(tenant=tenant, membership=operator, socket_id="process-a!1")
    operator_disconnected(tenant=tenant, membership=operator, socket_id="process-a!1")
    assert routing_of(operator).offline_due_at is not None
    operator_connected(tenant=tenant, membership=operator, socket_id="process-b!7")  # the reloaded page
    assert routing_of(operator).offline_due_at is None
    with publish():
        assert presence_sweep(now=later(61)) == 0
    assert status_of(operator) == "online"


def test_another_open_socket_in_another_process_keeps_the_operator_online(tenant, operator):
    presence_set(tenant=tenant, membership=operator, status="online")
    operator_connected(tenant=tenant, membership=operator, socket_id="process-a!1")
    operator_connected(tenant=tenant, membership=operator, socket_id="process-b!2")
    operator_disconnected(tenant=tenant, membership=operator, socket_id="process-a!1")
    assert routing_of(operator).offline_due_at is None


def test_offline_after_the_grace_period_and_back_to_the_previous_status_on_return(tenant, operator, publish, layer):
    presence_set(tenant=tenant, membership=operator, status="paused")
    operator_connected(tenant=tenant, membership=operator, socket_id="process-a!1")
    operator_disconnected(tenant=tenant, membership=operator, socket_id="process-a!1")
    with publish():
        assert presence_sweep(now=later(30)) == 0
        assert status_of(operator) == "paused"
        assert presence_sweep(now=later(61)) == 1
    assert status_of(operator) == "offline"
    row = routing_of(operator)
    assert (row.reason, row.previous_status) == ("disconnected", "paused")
    frame = [f for f in layer.frames(f"t{tenant.pk}.ops") if f["type"] == "presence"][-1]
    assert (frame["operator"]["status"], frame["operator"]["reason"]) == ("offline", "disconnected")
    with publish():
        operator_connected(tenant=tenant, membership=operator, socket_id="process-a!2")
    assert status_of(operator) == "paused"
    assert routing_of(operator).reason == ""


def test_a_process_that_died_without_a_disconnect_is_found_by_the_audit(tenant, operator, publish):
    presence_set(tenant=tenant, membership=operator, status="online")
    with scopes_disabled():
        OperatorStatus.objects.filter(membership=operator).update(changed_at=later(-120))
    # No socket claim anywhere (the process is gone and its claims expired).
    assert sweeps.presence_audit() == 1
    assert routing_of(operator).offline_due_at is not None
    with publish():
        presence_sweep(now=later(61))
    assert status_of(operator) == "offline"
