"""Queue positions and ETA per department: a chat's place counts only the chats waiting for the
same department (the chats without one form the tenant's general queue), and its estimate comes
from that queue's recent accepts."""

import re

from django_scopes import scopes_disabled

from apps.conversations import services as conversation_services
from apps.conversations.models import Conversation
from apps.routing import selectors, services, sweeps
from apps.routing.models import QueueEntry
from tests import factories


def position_of(conversation):
    with scopes_disabled():
        return QueueEntry.objects.get(conversation=conversation).position


def told(layer):
    """Queue frames per conversation id, in the order sent."""
    frames = {}
    for group in set(layer.groups()):
        if re.fullmatch(r"c\d+", group):  # a visitor's group (not c<id>.ops)
            for frame in layer.frames(group):
                if frame["type"] == "queue":
                    frames.setdefault(int(group[1:]), []).append(frame)
    return frames


def test_each_department_counts_its_own_waiting_chats(tenant, start_chat, make_operator, publish, layer):
    with scopes_disabled():
        sales, support = factories.DepartmentFactory(tenant=tenant), factories.DepartmentFactory(tenant=tenant)
    sales_1 = start_chat(department=sales)
    support_1 = start_chat(department=support)
    general_1 = start_chat()
    sales_2 = start_chat(department=sales)
    general_2 = start_chat()
    assert [position_of(c) for c in (sales_1, sales_2, support_1, general_1, general_2)] == [1, 2, 1, 1, 2]

    operator = make_operator(limit=5, online=False)
    layer.clear()
    with publish():
        conversation_services.conversation_accept(tenant=tenant, conversation=sales_1, membership=operator)
        sweeps.positions_sweep()
    frames = told(layer)
    # Only the chat behind it in the sales queue moved; the other queues heard nothing.
    assert set(frames) == {sales_1.pk, sales_2.pk}
    assert [f["position"] for f in frames[sales_2.pk]] == [1]
    assert [f["event"] for f in frames[sales_1.pk]] == ["left"]
    assert [position_of(c) for c in (sales_2, support_1, general_1, general_2)] == [1, 1, 1, 2]

    layer.clear()
    with publish():
        conversation_services.conversation_accept(tenant=tenant, conversation=general_1, membership=operator)
        sweeps.positions_sweep()
    assert set(told(layer)) == {general_1.pk, general_2.pk}
    assert position_of(general_2) == 1


def test_the_eta_comes_from_the_departments_own_accepts(tenant, start_chat, make_operator, publish):
    with scopes_disabled():
        sales, support = factories.DepartmentFactory(tenant=tenant), factories.DepartmentFactory(tenant=tenant)
    operator = make_operator(limit=10, online=False)
    for _ in range(3):
        chat = start_chat(department=sales)
        with publish():
            conversation_services.conversation_accept(tenant=tenant, conversation=chat, membership=operator)
    waiting_sales, waiting_support, waiting_general = (
        start_chat(department=sales),
        start_chat(department=support),
        start_chat(),
    )
    assert selectors.accept_rate(tenant=tenant, department_id=sales.pk) == 3 / selectors.ETA_WINDOW.total_seconds()
    assert selectors.accept_rate(tenant=tenant, department_id=support.pk) == 0
    assert selectors.queue_state(tenant=tenant, conversation_id=waiting_sales.pk)["eta"] == 600
    assert selectors.queue_state(tenant=tenant, conversation_id=waiting_support.pk)["eta"] is None
    assert selectors.queue_state(tenant=tenant, conversation_id=waiting_general.pk)["eta"] is None


def test_a_waiting_chat_moved_to_another_department_joins_the_end_of_its_queue(tenant, start_chat, publish, layer):
    with scopes_disabled():
        sales, support = factories.DepartmentFactory(tenant=tenant), factories.DepartmentFactory(tenant=tenant)
    sales_1, sales_2, sales_3 = (start_chat(department=sales) for _ in range(3))
    support_1 = start_chat(department=support)
    with scopes_disabled():
        Conversation.objects.filter(pk=sales_1.pk).update(department=support)
    layer.clear()
    with publish():
        services.conversation_route(tenant=tenant, conversation=sales_1)
        sweeps.positions_sweep()
    assert [position_of(c) for c in (sales_2, sales_3, support_1, sales_1)] == [1, 2, 1, 2]
    frames = told(layer)
    assert {cid: [f["position"] for f in fs] for cid, fs in frames.items()} == {
        sales_1.pk: [2],
        sales_2.pk: [1],
        sales_3.pk: [2],
    }
