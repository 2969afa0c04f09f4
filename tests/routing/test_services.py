import re
from collections import Counter
from datetime import timedelta

from django.utils import timezone
from django_scopes import scopes_disabled

from apps.conversations import services as conversation_services
from apps.conversations.models import Conversation, Message
from apps.dashboard.models import OperatorStatus
from apps.routing import selectors, services, sweeps
from apps.routing.models import MissedChat, Offer, OperatorRouting, QueueEntry
from apps.routing.presence import presence_set
from tests import factories


def entry_of(conversation):
    with scopes_disabled():
        return QueueEntry.objects.get(conversation=conversation)


def offered_to(conversation):
    return entry_of(conversation).offered_to_id


def status_of(membership):
    with scopes_disabled():
        return OperatorStatus.objects.get(membership=membership).status


def later(seconds):
    return timezone.now() + timedelta(seconds=seconds)


def accept(tenant, conversation, membership, publish):
    with publish():
        return conversation_services.conversation_accept(
            tenant=tenant, conversation=conversation, membership=membership
        )


def test_a_new_chat_is_offered_to_an_online_operator_with_a_deadline(tenant, make_operator, start_chat, layer):
    operator = make_operator()
    layer.clear()
    conversation = start_chat()
    entry = entry_of(conversation)
    assert (entry.offered_to_id, entry.waiting, entry.position) == (operator.pk, True, 1)
    assert 14 <= (entry.offer_expires_at - timezone.now()).total_seconds() <= 15
    frames = layer.frames(f"u{operator.user_id}")
    assert [(f["type"], f["event"], f["conversation"]) for f in frames] == [("offer", "made", conversation.pk)]


def test_round_robin_spreads_new_chats_evenly(tenant, make_operator, start_chat):
    operators = [make_operator(limit=5) for _ in range(3)]
    chats = [start_chat() for _ in range(9)]
    counts = Counter(offered_to(c) for c in chats)
    assert counts == {op.pk: 3 for op in operators}


def test_least_busy_prefers_the_operator_with_the_fewest_chats_and_respects_limits(
    tenant, make_operator, start_chat, routing_settings, publish
):
    routing_settings(strategy="least_busy")
    busy, idle = make_operator(limit=2), make_operator(limit=2)
    first = start_chat()
    holder = offered_to(first)
    accept(tenant, first, busy if holder == busy.pk else idle, publish)
    other = idle if holder == busy.pk else busy
    second = start_chat()
    assert offered_to(second) == other.pk  # the one with nothing open
    third, fourth = start_chat(), start_chat()
    loads = Counter(offered_to(c) for c in (second, third, fourth))
    # 1 open + 1 offer for one, 2 offers for the other: nobody over 2.
    assert loads[holder] == 1 and loads[other.pk] == 2
    fifth = start_chat()
    entry = entry_of(fifth)
    assert (entry.offered_to_id, entry.waiting, entry.position) == (None, True, 4)


def test_sticky_offers_a_returning_visitor_to_their_last_operator(tenant, make_operator, start_chat, publish):
    _first_op, second_op = make_operator(limit=5), make_operator(limit=5)
    with scopes_disabled():
        visitor = factories.VisitorFactory(tenant=tenant)
    earlier = start_chat(visitor=visitor)
    accept(tenant, earlier, second_op, publish)
    with publish():
        conversation_services.conversation_close(tenant=tenant, conversation=earlier, by=second_op)
    start_chat()  # someone else's chat moves round robin on
    again = start_chat(visitor=visitor)
    assert offered_to(again) == second_op.pk


def test_sticky_falls_back_to_normal_routing_when_the_last_operator_is_offline(
    tenant, make_operator, start_chat, publish
):
    first_op, second_op = make_operator(limit=5), make_operator(limit=5)
    with scopes_disabled():
        visitor = factories.VisitorFactory(tenant=tenant)
    earlier = start_chat(visitor=visitor)
    accept(tenant, earlier, second_op, publish)
    with publish():
        conversation_services.conversation_close(tenant=tenant, conversation=earlier, by=second_op)
        presence_set(tenant=tenant, membership=second_op, status="offline")
    again = start_chat(visitor=visitor)
    assert offered_to(again) == first_op.pk


def test_an_unaccepted_offer_moves_to_the_next_operator_at_its_deadline_not_before(
    tenant, make_operator, start_chat, publish, layer
):
    first_op, second_op = make_operator(), make_operator()
    conversation = start_chat()
    holder = offered_to(conversation)
    with publish():
        assert sweeps.queue_sweep(now=later(10)) == 0
    assert offered_to(conversation) == holder
    layer.clear()
    with publish():
        assert sweeps.queue_sweep(now=later(16)) == 1
    nxt = second_op if holder == first_op.pk else first_op
    assert offered_to(conversation) == nxt.pk
    with scopes_disabled():
        outcomes = list(
            Offer.objects.filter(conversation=conversation).order_by("offered_at").values_list("outcome", flat=True)
        )
        assert OperatorRouting.objects.get(membership_id=holder).missed_in_row == 1
    assert outcomes == ["expired", "pending"]
    assert {(f["event"]) for f in layer.frames(f"u{nxt.user_id}")} == {"made"}


def test_three_missed_offers_in_a_row_pause_the_operator_with_the_reason(
    tenant, make_operator, start_chat, publish, layer, routing_settings
):
    routing_settings(missed_offers_to_pause=3, offer_rounds=1)
    sleepy = make_operator(limit=5)
    chats = [start_chat() for _ in range(3)]
    assert all(offered_to(c) == sleepy.pk for c in chats)
    layer.clear()
    with publish():
        sweeps.queue_sweep(now=later(16))
    assert status_of(sleepy) == "paused"
    with scopes_disabled():
        row = OperatorRouting.objects.get(membership=sleepy)
    assert (row.reason, row.reason_detail) == ("missed_offers", {"missed": 3})
    presence = [f for f in layer.frames(f"t{tenant.pk}.ops") if f["type"] == "presence"]
    assert presence[-1]["operator"]["status"] == "paused"
    assert presence[-1]["operator"]["reason"] == "missed_offers"
    # Nobody else is online: the chats wait, unoffered, and no offer loops back to the paused operator.
    assert [offered_to(c) for c in chats] == [None, None, None]
    # Switching back online clears the reason and offers the backlog again.
    with publish():
        presence_set(tenant=tenant, membership=sleepy, status="online")
    with scopes_disabled():
        assert OperatorRouting.objects.get(membership=sleepy).reason == ""
    assert [offered_to(c) for c in chats] == [sleepy.pk] * 3


def test_an_offer_never_loops_between_two_operators_beyond_the_rounds(
    tenant, make_operator, start_chat, publish, routing_settings
):
    routing_settings(missed_offers_to_pause=50, offer_rounds=2)
    _a, _b = make_operator(), make_operator()
    conversation = start_chat()
    seen = [offered_to(conversation)]
    for step in range(1, 8):
        with publish():
            sweeps.queue_sweep(now=later(16 * step))
        seen.append(offered_to(conversation))
    # Two rounds over both operators (4 offers), then it waits in the queue for someone new.
    assert len([s for s in seen if s is not None]) == 4
    assert seen[4:] == [None, None, None, None]
    assert entry_of(conversation).waiting


def test_the_backlog_is_offered_oldest_first_when_someone_comes_online(tenant, make_operator, start_chat, publish):
    chats = [start_chat() for _ in range(3)]
    assert [entry_of(c).position for c in chats] == [1, 2, 3]
    operator = make_operator(limit=2, online=False)
    with publish():
        presence_set(tenant=tenant, membership=operator, status="online")
    assert [offered_to(c) for c in chats] == [operator.pk, operator.pk, None]


def test_a_freed_slot_takes_the_next_chat_from_the_backlog(tenant, make_operator, start_chat, publish):
    operator = make_operator(limit=1)
    first, second = start_chat(), start_chat()
    accept(tenant, first, operator, publish)
    assert offered_to(second) is None
    with publish():
        conversation_services.conversation_close(tenant=tenant, conversation=first, by=operator)
    assert offered_to(second) == operator.pk


def test_queue_positions_shrink_and_only_those_behind_are_told_once_per_sweep(
    tenant, make_operator, start_chat, publish, layer
):
    chats = [start_chat() for _ in range(5)]
    operator = make_operator(limit=5, online=False)
    layer.clear()
    with publish():
        conversation_services.conversation_accept(tenant=tenant, conversation=chats[1], membership=operator)
        conversation_services.conversation_accept(tenant=tenant, conversation=chats[2], membership=operator)
    assert [entry_of(c).position for c in chats] == [1, 0, 0, 2, 3]

    def told():
        return {
            int(g[1:]): [f for f in layer.frames(g) if f["type"] == "queue"]
            for g in set(layer.groups())
            if re.fullmatch(r"c\d+", g)
        }

    # The chats that left hear it at once; the ones behind wait for the sweep.
    assert {cid: [f["event"] for f in frames] for cid, frames in told().items() if frames} == {
        chats[1].pk: ["left"],
        chats[2].pk: ["left"],
    }
    layer.clear()
    with publish():
        assert sweeps.positions_sweep() == 2
        assert sweeps.positions_sweep() == 0  # told already: nothing again
    frames = {cid: fs for cid, fs in told().items() if fs}
    # One frame each for two accepts, with the final place; not chats[0]: its place did not change.
    assert {cid: [f["position"] for f in fs] for cid, fs in frames.items()} == {chats[3].pk: [2], chats[4].pk: [3]}
    told = {cid: fs[0] for cid, fs in frames.items()}
    # Two accepts in the last half hour are no rate yet: no estimate rather than a wild one.
    assert told[chats[4].pk]["eta"] is None
    assert selectors.eta_seconds(position=3, rate=3 / 1800) == 1800


def test_the_retention_phrase_is_sent_once_and_asks_for_an_email(
    tenant, make_operator, start_chat, publish, routing_settings
):
    routing_settings(retention_phrase="Still there? Leave your email.")
    conversation = start_chat()
    with publish():
        sweeps.queue_sweep(now=later(31))
        sweeps.queue_sweep(now=later(45))
    with scopes_disabled():
        messages = list(Message.objects.filter(conversation=conversation, data__event="retention"))
    assert len(messages) == 1
    assert (messages[0].body, messages[0].data["ask_email"]) == ("Still there? Leave your email.", True)


def test_missed_chats_are_recorded_with_their_reason(tenant, make_operator, start_chat, publish, routing_settings):
    routing_settings(queue_timeout_seconds=60)
    operator = make_operator(online=False)
    waited, left, unanswered = start_chat(), start_chat(), start_chat()
    with publish():
        conversation_services.conversation_close(tenant=tenant, conversation=left)
        conversation_services.conversation_close(tenant=tenant, conversation=unanswered, by=operator)
        sweeps.queue_sweep(now=later(61))
    with scopes_disabled():
        reasons = dict(MissedChat.objects.values_list("conversation_id", "reason").order_by("reason"))
    assert reasons[left.pk] == "visitor_left"
    assert reasons[unanswered.pk] == "closed_unanswered"
    assert reasons[waited.pk] == "queue_timeout"
    assert entry_of(waited).waiting  # still in the queue: someone may still answer


def test_a_reopened_chat_never_sits_with_an_offline_operator(tenant, make_operator, start_chat, publish):
    gone, present = make_operator(limit=5), make_operator(limit=5)
    conversation = start_chat()
    accept(tenant, conversation, gone, publish)
    with publish():
        conversation_services.conversation_close(tenant=tenant, conversation=conversation, by=gone)
        presence_set(tenant=tenant, membership=gone, status="offline")
        reopened = conversation_services.conversation_reopen(tenant=tenant, conversation=conversation)
    assert (reopened.status, reopened.assignee_id) == ("queued", None)
    assert offered_to(conversation) == present.pk


def test_a_transfer_to_a_department_queues_the_chat_for_its_members(tenant, make_operator, start_chat, publish):
    sales, support = make_operator(limit=5), make_operator(limit=5)
    with scopes_disabled():
        department = factories.DepartmentFactory(tenant=tenant, name="Sales")
        department.members.add(sales)
    conversation = start_chat()
    accept(tenant, conversation, support, publish)
    with publish():
        conversation_services.conversation_transfer(
            tenant=tenant, conversation=conversation, by=support, to_department=department
        )
    with scopes_disabled():
        assert Conversation.objects.get(pk=conversation.pk).status == "queued"
    assert offered_to(conversation) == sales.pk


def test_a_page_address_rule_chooses_the_department(tenant, make_operator, start_chat):
    from apps.routing.models import DepartmentRouting

    sales, _other = make_operator(limit=5), make_operator(limit=5)
    with scopes_disabled():
        department = factories.DepartmentFactory(tenant=tenant, name="Sales")
        department.members.add(sales)
        DepartmentRouting.objects.create(tenant=tenant, department=department, url_patterns="/pricing\n/buy")
        visitor = factories.VisitorFactory(tenant=tenant, current_url="https://acme.test/pricing?plan=pro")
    conversation = start_chat(visitor=visitor)
    with scopes_disabled():
        assert Conversation.objects.get(pk=conversation.pk).department_id == department.pk
    assert offered_to(conversation) == sales.pk


def test_broadcast_offers_to_everyone_and_the_first_accept_wins(
    tenant, make_operator, start_chat, publish, routing_settings, layer
):
    routing_settings(strategy="broadcast")
    a, b = make_operator(), make_operator()
    layer.clear()
    conversation = start_chat()
    assert {f["event"] for f in layer.frames(f"u{a.user_id}")} == {"made"}
    assert {f["event"] for f in layer.frames(f"u{b.user_id}")} == {"made"}
    layer.clear()
    accept(tenant, conversation, b, publish)
    assert [f["event"] for f in layer.frames(f"u{a.user_id}") if f["type"] == "offer"] == ["withdrawn"]
    with scopes_disabled():
        outcomes = dict(Offer.objects.filter(conversation=conversation).values_list("membership_id", "outcome"))
    assert outcomes == {a.pk: "withdrawn", b.pk: "accepted"}


def test_sla_breach_is_marked_and_announced_when_nobody_answered(
    tenant, make_operator, start_chat, publish, routing_settings, layer
):
    routing_settings(sla_first_response_seconds=60)
    conversation = start_chat()
    layer.clear()
    with publish():
        sweeps.queue_sweep(now=later(61))
    assert entry_of(conversation).sla_breached_at is not None
    sla = [f for f in layer.frames(f"t{tenant.pk}.ops") if f["type"] == "sla"]
    assert [(f["event"], f["conversation"]) for f in sla] == [("breached", conversation.pk)]


def test_a_new_operator_gets_the_tenants_newcomer_limit(tenant, routing_settings):
    routing_settings(default_chat_limit=3)
    with scopes_disabled():
        newcomer = factories.MembershipFactory(tenant=tenant)
    assert newcomer.max_concurrent_chats == 3


def test_route_leaves_a_chat_that_was_accepted_meanwhile_alone(tenant, make_operator, publish):
    operator = make_operator()
    with scopes_disabled():
        conversation = factories.ConversationFactory(tenant=tenant, status="open", assignee=operator)
    assert services.conversation_route(tenant=tenant, conversation=conversation) is None
    with scopes_disabled():
        assert not QueueEntry.objects.filter(conversation=conversation).exists()


def test_an_email_conversation_is_routed_but_gets_no_retention_phrase(tenant, make_operator, publish):
    operator = make_operator()
    with scopes_disabled():
        visitor = factories.VisitorFactory(tenant=tenant)
    with publish():
        conversation = conversation_services.conversation_start(tenant=tenant, visitor=visitor, channel="email")
        sweeps.queue_sweep(now=later(31))
    assert offered_to(conversation) is not None or entry_of(conversation).waiting
    assert entry_of(conversation).retention_due_at is None
    with scopes_disabled():
        assert not Message.objects.filter(conversation=conversation, data__event="retention").exists()
    assert operator.pk


def test_a_new_chat_is_routed_by_a_task_after_the_commit_and_the_sweep_routes_it_if_the_task_is_lost(
    tenant, make_operator, django_capture_on_commit_callbacks, publish
):
    operator = make_operator()
    with scopes_disabled():
        visitor = factories.VisitorFactory(tenant=tenant)
    # The commit's callbacks are dropped, the routing task with them (as if the broker lost it).
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        conversation = conversation_services.conversation_start(tenant=tenant, visitor=visitor)
    assert callbacks  # routing waits for the commit: the caller's transaction did none of it
    with scopes_disabled():
        assert not QueueEntry.objects.filter(conversation=conversation).exists()
    with publish():
        assert sweeps.unrouted_sweep(now=later(2)) == 0  # within the grace the task still may come
        assert sweeps.unrouted_sweep(now=later(6)) == 1
        assert sweeps.unrouted_sweep(now=later(7)) == 0  # routed once: it has its entry now
    assert offered_to(conversation) == operator.pk
    with scopes_disabled():
        assert Offer.objects.filter(conversation=conversation).count() == 1
