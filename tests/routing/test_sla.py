"""Next-response targets: the clock starts when the visitor writes after an operator's reply and
stops at the next public reply; counted in business time; a breach is marked once and announced."""

from datetime import timedelta

from django.utils import timezone
from django_scopes import scopes_disabled

from apps.conversations import services as conversation_services
from apps.conversations.models import Conversation
from apps.routing import selectors, sweeps
from apps.routing.models import DepartmentRouting, QueueEntry, WeeklyHours
from tests import factories


def entry_of(conversation):
    with scopes_disabled():
        return QueueEntry.objects.get(conversation=conversation)


def awaiting_since(conversation):
    with scopes_disabled():
        return Conversation.objects.get(pk=conversation.pk).awaiting_reply_since


def later(seconds):
    return timezone.now() + timedelta(seconds=seconds)


def sla_frames(layer, tenant):
    return [(f["event"], f["kind"], f["conversation"]) for f in layer.frames(f"t{tenant.pk}.ops") if f["type"] == "sla"]


class Chat:
    """A chat accepted by an operator, with helpers to write as either side."""

    def __init__(self, tenant, operator, start_chat, publish, *, conversation=None):
        self.tenant, self.operator, self.publish = tenant, operator, publish
        self.conversation = conversation or start_chat()
        with publish():
            conversation_services.conversation_accept(
                tenant=tenant, conversation=self.conversation, membership=operator
            )
        self.n = 0

    def visitor(self, body="hello"):
        self.n += 1
        with self.publish():
            return conversation_services.message_send(
                tenant=self.tenant,
                conversation=self.conversation,
                author_type="visitor",
                body=body,
                client_id=f"v{self.n}",
            )[0]

    def operator_reply(self, client_id=None, kind="text"):
        self.n += 1
        with self.publish():
            return conversation_services.message_send(
                tenant=self.tenant,
                conversation=self.conversation,
                author_type="operator",
                author=self.operator,
                body="on it",
                client_id=client_id or f"o{self.n}",
                kind=kind,
            )[0]


def test_the_clock_starts_at_the_visitors_message_after_a_reply_and_a_breach_is_marked_once(
    tenant, make_operator, start_chat, publish, routing_settings, layer
):
    routing_settings(sla_next_response_seconds=120)
    chat = Chat(tenant, make_operator(), start_chat, publish)
    chat.visitor("before any reply")  # the first-response clock's business, not this one
    assert awaiting_since(chat.conversation) is None
    assert entry_of(chat.conversation).next_due_at is None
    chat.operator_reply()
    layer.clear()
    first = chat.visitor("thanks, and one more thing")
    chat.visitor("are you there?")  # the clock keeps its start
    assert awaiting_since(chat.conversation) == first.created_at
    entry = entry_of(chat.conversation)
    assert entry.next_started_at == first.created_at
    assert entry.next_due_at == first.created_at + timedelta(seconds=120)
    assert entry.due_at <= entry.next_due_at
    assert sla_frames(layer, tenant) == [("started", "next", chat.conversation.pk)]

    layer.clear()
    with publish():
        sweeps.queue_sweep(now=later(60))
    assert entry_of(chat.conversation).next_breached_at is None
    with publish():
        sweeps.queue_sweep(now=later(121))
        sweeps.queue_sweep(now=later(200))
    entry = entry_of(chat.conversation)
    assert entry.next_breached_at is not None
    assert entry.next_breaches == 1
    assert sla_frames(layer, tenant) == [("breached", "next", chat.conversation.pk)]
    state = selectors.sla_of(tenant=tenant, conversation_ids=[chat.conversation.pk])
    assert state[chat.conversation.pk]["kind"] == "next"
    assert state[chat.conversation.pk]["breached"] is True

    # The reply stops it (the mark goes), and the next visitor message starts a fresh one.
    chat.operator_reply()
    assert awaiting_since(chat.conversation) is None
    assert selectors.sla_of(tenant=tenant, conversation_ids=[chat.conversation.pk]) == {}
    again = chat.visitor("one more")
    entry = entry_of(chat.conversation)
    assert (entry.next_started_at, entry.next_breached_at) == (again.created_at, None)
    assert entry.next_breaches == 1


def test_a_reply_in_time_is_no_breach(tenant, make_operator, start_chat, publish, routing_settings, layer):
    routing_settings(sla_next_response_seconds=120)
    chat = Chat(tenant, make_operator(), start_chat, publish)
    chat.operator_reply()
    chat.visitor()
    note = chat.operator_reply(kind="note")  # a private note is no reply
    assert note.kind == "note"
    assert awaiting_since(chat.conversation) is not None
    chat.operator_reply()
    layer.clear()
    with publish():
        sweeps.queue_sweep(now=later(121))
    entry = entry_of(chat.conversation)
    assert (entry.next_breached_at, entry.next_breaches, entry.next_due_at) == (None, 0, None)
    assert sla_frames(layer, tenant) == []


def test_a_closed_chat_breaches_nothing_and_a_zero_target_starts_no_clock(
    tenant, make_operator, start_chat, publish, routing_settings, layer
):
    settings = routing_settings(sla_next_response_seconds=120)
    operator = make_operator(limit=3)
    chat = Chat(tenant, operator, start_chat, publish)
    chat.operator_reply()
    chat.visitor()
    with publish():
        conversation_services.conversation_close(tenant=tenant, conversation=chat.conversation, by=operator)
    assert awaiting_since(chat.conversation) is None
    layer.clear()
    with publish():
        sweeps.queue_sweep(now=later(121))
    assert entry_of(chat.conversation).next_breached_at is None
    assert sla_frames(layer, tenant) == []

    settings.sla_next_response_seconds = 0
    with scopes_disabled():
        settings.save()
    other = Chat(tenant, operator, start_chat, publish)
    other.operator_reply()
    other.visitor()
    assert awaiting_since(other.conversation) is not None
    assert entry_of(other.conversation).next_due_at is None


def test_the_departments_target_wins_and_is_counted_in_business_time(
    tenant, make_operator, start_chat, publish, routing_settings
):
    routing_settings(sla_next_response_seconds=120, business_hours_enabled=True)
    # Open one hour a week, on a day that is not today in the tenant's zone: the clock waits for it.
    local_today = timezone.now().astimezone(selectors.schedule_for(tenant=tenant).zone).weekday()
    with scopes_disabled():
        WeeklyHours.objects.create(tenant=tenant, weekday=(local_today + 3) % 7, opens="09:00", closes="10:00")
        department = factories.DepartmentFactory(tenant=tenant)
        DepartmentRouting.objects.create(tenant=tenant, department=department, sla_next_response_seconds=600)
        visitor = factories.VisitorFactory(tenant=tenant)
    operator = make_operator()
    with publish():
        conversation = conversation_services.conversation_start(tenant=tenant, visitor=visitor, department=department)
    chat = Chat(tenant, operator, None, publish, conversation=conversation)
    chat.operator_reply()
    message = chat.visitor()
    due = entry_of(conversation).next_due_at
    assert due == selectors.schedule_for(tenant=tenant).add_business_seconds(message.created_at, 600)
    assert due - message.created_at > timedelta(days=1)


def test_an_operators_resend_does_not_stop_a_later_wait(tenant, make_operator, start_chat, publish):
    chat = Chat(tenant, make_operator(), start_chat, publish)
    chat.operator_reply(client_id="answer-1")
    chat.visitor()
    chat.operator_reply(client_id="answer-2")
    waiting = chat.visitor("still here")
    stored = chat.operator_reply(client_id="answer-2")  # a resend: stored already, nothing new
    assert stored.seq < waiting.seq
    assert awaiting_since(chat.conversation) == waiting.created_at
    assert entry_of(chat.conversation).next_started_at == waiting.created_at


def test_a_late_clock_task_for_an_answered_wait_does_nothing(tenant, make_operator, start_chat, publish):
    from apps.routing import services

    chat = Chat(tenant, make_operator(), start_chat, publish)
    chat.operator_reply()
    message = chat.visitor()
    chat.operator_reply()
    with scopes_disabled():
        QueueEntry.objects.filter(conversation=chat.conversation).update(next_started_at=None, next_due_at=None)
    assert (
        services.reply_clock_start(tenant=tenant, conversation_id=chat.conversation.pk, since=message.created_at)
        is None
    )
    assert entry_of(chat.conversation).next_due_at is None


def test_a_chat_accepted_before_its_routing_task_ran_still_gets_the_clock(
    tenant, make_operator, publish, django_capture_on_commit_callbacks, routing_settings
):
    routing_settings(sla_next_response_seconds=120)
    operator = make_operator()
    with scopes_disabled():
        visitor = factories.VisitorFactory(tenant=tenant)
    with django_capture_on_commit_callbacks(execute=False):  # the routing task never runs
        conversation = conversation_services.conversation_start(tenant=tenant, visitor=visitor)
    chat = Chat(tenant, operator, None, publish, conversation=conversation)
    chat.operator_reply()
    message = chat.visitor()
    entry = entry_of(conversation)
    assert (entry.waiting, entry.position) == (False, 0)  # not put in the queue by the clock
    assert entry.next_due_at == message.created_at + timedelta(seconds=120)
