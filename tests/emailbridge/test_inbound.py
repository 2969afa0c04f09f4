"""Inbound mail through the one service: stored raw first, parsed by the task, filtered, checked for loops,
threaded (signed reply address, signed Message-ID, body marker; never the subject), failures kept and re-runnable."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone
from django_scopes import scopes_disabled

from apps.conversations import services as conversation_services
from apps.conversations.models import Attachment, Conversation, Message
from apps.emailbridge import addressing, services
from apps.emailbridge.errors import EmailTooLarge, UnknownRecipient
from apps.emailbridge.models import EmailSettings, InboundEmail
from apps.emailbridge.services import inbound as inbound_module
from tests.emailbridge.mail import build

Status = InboundEmail.Status


def messages_of(conversation_id):
    with scopes_disabled():
        return list(Message.objects.filter(conversation_id=conversation_id).order_by("seq"))


def conversation_of(row):
    with scopes_disabled():
        return Conversation.objects.get(pk=row.conversation_id)


def test_new_mail_becomes_an_email_conversation_with_the_senders_visitor(tenant, receive):
    row = receive(
        build(to=tenant.inbound_address, subject="Pricing", text="How much is it?"), to=tenant.inbound_address
    )
    assert row.status == Status.DELIVERED
    conversation = conversation_of(row)
    assert conversation.channel == Conversation.Channel.EMAIL
    assert conversation.subject == "Pricing"
    with scopes_disabled():  # a foreign key, loaded here, outside any request's scope
        assert conversation.visitor.email == "customer@example.com"
        assert conversation.visitor.name == "Customer"
    [message] = messages_of(conversation.pk)
    assert message.body == "How much is it?"
    assert message.author_type == Message.Author.VISITOR
    assert message.kind == Message.Kind.EMAIL  # the dashboard renders it as an email (js/features/email.js)
    assert message.data["email"]["subject"] == "Pricing"
    assert message.data["email"]["from"] == "customer@example.com"


def test_the_raw_mail_is_stored_before_anything_parses_it(tenant):
    raw = build(to=tenant.inbound_address)
    row = services.inbound_email_receive(
        raw=raw, recipient=tenant.inbound_address, envelope_from="a@b.c", source="smtp"
    )
    with scopes_disabled():
        row = InboundEmail.objects.get(pk=row.pk)
    assert row.status == Status.RECEIVED  # the parse task runs on commit
    with row.raw.open("rb") as handle:
        assert handle.read() == raw
    assert row.raw_size == len(raw)


def test_unknown_recipients_and_oversized_mail_store_nothing(tenant, settings):
    with pytest.raises(UnknownRecipient):
        services.inbound_email_receive(raw=b"x", recipient="nobody@inbound.localhost", envelope_from="", source="smtp")
    settings.PARLEY_EMAIL_MAX_BYTES = 1000
    with pytest.raises(EmailTooLarge):
        services.inbound_email_receive(
            raw=b"x" * 1001, recipient=tenant.inbound_address, envelope_from="", source="smtp"
        )
    with scopes_disabled():
        assert not InboundEmail.objects.exists()


def test_the_same_message_id_twice_is_one_message(tenant, receive):
    raw = build(to=tenant.inbound_address, message_id="<same@example.com>")
    first = receive(raw, to=tenant.inbound_address)
    second = receive(raw, to=tenant.inbound_address)
    assert first.status == Status.DELIVERED
    assert second.status == Status.DUPLICATE
    assert second.conversation_id == first.conversation_id
    assert len(messages_of(first.conversation_id)) == 1


def test_attachments_become_chat_attachments_and_too_large_ones_are_listed(tenant, receive):
    with scopes_disabled():
        EmailSettings.objects.create(tenant=tenant, attachment_max_bytes=1000)
    raw = build(
        to=tenant.inbound_address,
        attachments=[
            ("Счёт.pdf", "application/pdf", b"%PDF-1.4 small"),
            ("Zamówienie.zip", "application/zip", b"PK\x03\x04" + b"0" * 2000),
            ("fake.png", "image/png", b"<svg onload=alert(1)>"),
        ],
    )
    row = receive(raw, to=tenant.inbound_address)
    with scopes_disabled():
        stored = list(Attachment.objects.filter(message_id=row.chat_message_id).order_by("pk"))
    assert [a.filename for a in stored] == ["Счёт.pdf", "fake.png"]
    assert stored[1].content_type == "application/octet-stream"  # not really an image: downloads, never shown
    assert [e["filename"] for e in row.attachments] == ["Счёт.pdf", "Zamówienie.zip", "fake.png"]
    assert row.attachments[1]["skipped"] == "too_large"
    [message] = messages_of(row.conversation_id)
    assert message.data["email"]["attachments_skipped"] == [
        {"filename": "Zamówienie.zip", "size": 2004, "reason": "too_large"}
    ]


def test_more_attachments_than_a_chat_message_allows_are_all_kept(tenant, receive):
    files = [(f"file{i}.txt", "text/plain", f"content {i}".encode()) for i in range(14)]
    row = receive(build(to=tenant.inbound_address, attachments=files), to=tenant.inbound_address)
    with scopes_disabled():
        assert Attachment.objects.filter(message_id=row.chat_message_id).count() == 14


# --- threading ----------------------------------------------------------------------------------


@pytest.fixture
def email_conversation(tenant, receive):
    row = receive(build(to=tenant.inbound_address, subject="Order 42"), to=tenant.inbound_address)
    return conversation_of(row)


def test_a_reply_to_the_signed_reply_address_threads(tenant, receive, email_conversation):
    address = addressing.reply_address(tenant.pk, email_conversation.pk)
    row = receive(build(to=address, subject="Re: Order 42", text="Thanks!"), to=address)
    assert row.conversation_id == email_conversation.pk
    assert [m.body for m in messages_of(email_conversation.pk)][-1] == "Thanks!"


def test_a_reply_naming_a_parley_message_id_threads(tenant, receive, email_conversation):
    ours = addressing.new_message_id(tenant.pk, email_conversation.pk)
    raw = build(to=tenant.inbound_address, headers={"In-Reply-To": f"<{ours}>", "References": f"<{ours}>"})
    row = receive(raw, to=tenant.inbound_address)
    assert row.conversation_id == email_conversation.pk


def test_a_rewritten_in_reply_to_still_threads_through_references(tenant, receive, email_conversation):
    ours = addressing.new_message_id(tenant.pk, email_conversation.pk)
    raw = build(
        to=tenant.inbound_address,
        headers={"In-Reply-To": "<AM0PR01MB1234@eurprd01.prod.outlook.com>", "References": f"<{ours}>"},
    )
    assert receive(raw, to=tenant.inbound_address).conversation_id == email_conversation.pk


def test_the_body_marker_threads_when_every_header_was_rewritten(tenant, receive, email_conversation):
    marker = addressing.body_marker(tenant.pk, email_conversation.pk)
    raw = build(
        to=tenant.inbound_address,
        headers={"In-Reply-To": "<rewritten@outlook.com>"},
        text=f"Yes please.\n\n> Your order is ready.\n> {marker}\n",
    )
    row = receive(raw, to=tenant.inbound_address)
    assert row.conversation_id == email_conversation.pk
    assert messages_of(email_conversation.pk)[-1].body == "Yes please."


def test_a_forged_signature_starts_a_new_conversation(tenant, receive, email_conversation):
    forged_id = addressing.new_message_id(tenant.pk, email_conversation.pk)[:-30] + "0" * 20 + "@inbound.localhost"
    raw = build(
        to=tenant.inbound_address,
        headers={"In-Reply-To": f"<{forged_id}>"},
        text=f"[ref P-{tenant.pk}-{email_conversation.pk}-{'0' * 20}]",
    )
    assert receive(raw, to=tenant.inbound_address).conversation_id != email_conversation.pk


def test_another_sender_quoting_the_subject_gets_a_new_conversation(tenant, receive, email_conversation):
    raw = build(to=tenant.inbound_address, sender="Stranger <stranger@example.org>", subject="Re: Order 42")
    row = receive(raw, to=tenant.inbound_address)
    assert row.conversation_id != email_conversation.pk
    with scopes_disabled():
        assert conversation_of(row).visitor.email == "stranger@example.org"


def test_a_reply_to_the_senders_own_earlier_mail_threads_but_not_for_someone_else(tenant, receive):
    first = receive(build(to=tenant.inbound_address, message_id="<first@example.com>"), to=tenant.inbound_address)
    same_sender = build(to=tenant.inbound_address, headers={"In-Reply-To": "<first@example.com>"})
    other_sender = build(
        to=tenant.inbound_address, sender="other@example.org", headers={"In-Reply-To": "<first@example.com>"}
    )
    assert receive(same_sender, to=tenant.inbound_address).conversation_id == first.conversation_id
    assert receive(other_sender, to=tenant.inbound_address).conversation_id != first.conversation_id


def test_a_reply_to_a_closed_conversation_reopens_it(tenant, receive, email_conversation):
    conversation_services.conversation_close(tenant=tenant, conversation=email_conversation)
    address = addressing.reply_address(tenant.pk, email_conversation.pk)
    receive(build(to=address, text="One more thing"), to=address)
    reopened = conversation_of(InboundEmail(conversation_id=email_conversation.pk))
    assert reopened.status == Conversation.Status.QUEUED
    assert [m.data.get("event") for m in messages_of(email_conversation.pk)][-2] == "reopened"


def test_another_tenants_signed_ids_never_reach_its_conversation(tenant, other_tenant, receive):
    theirs = receive(build(to=other_tenant.inbound_address), to=other_tenant.inbound_address)
    their_id = addressing.new_message_id(other_tenant.pk, theirs.conversation_id)
    marker = addressing.body_marker(other_tenant.pk, theirs.conversation_id)
    raw = build(to=tenant.inbound_address, headers={"In-Reply-To": f"<{their_id}>"}, text=marker)
    row = receive(raw, to=tenant.inbound_address)
    assert row.tenant_id == tenant.pk
    assert row.conversation_id != theirs.conversation_id
    assert conversation_of(row).tenant_id == tenant.pk


def test_a_reply_address_routes_to_the_tenant_it_was_signed_for(tenant, other_tenant, receive):
    theirs = receive(build(to=other_tenant.inbound_address), to=other_tenant.inbound_address)
    address = addressing.reply_address(other_tenant.pk, theirs.conversation_id)
    row = receive(build(to=address), to=address)
    assert row.tenant_id == other_tenant.pk and row.conversation_id == theirs.conversation_id


# --- filter rules -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("subject", "text", "kept_out"),
    [
        ("I want to BUY", "hello", False),
        ("hello", "Хочу КУПИТЬ подписку", False),
        ("Zakup licencji", "hello", False),
        ("newsletter", "nothing interesting", True),
    ],
)
def test_keyword_filter_in_any_language_and_case(tenant, receive, subject, text, kept_out):
    with scopes_disabled():
        EmailSettings.objects.create(tenant=tenant, filter_words="buy\nкупить\nzakup")
    row = receive(build(to=tenant.inbound_address, subject=subject, text=text), to=tenant.inbound_address)
    assert (row.status == Status.FILTERED) is kept_out
    assert (row.conversation_id is None) is kept_out
    if kept_out:
        assert "filtered" in row.flags and row.text == "nothing interesting"


def test_a_filtered_message_can_be_promoted_by_an_operator(tenant, owner, receive):
    with scopes_disabled():
        EmailSettings.objects.create(tenant=tenant, filter_words="buy")
    row = receive(build(to=tenant.inbound_address, text="just saying hi"), to=tenant.inbound_address)
    promoted = services.inbound_email_promote(tenant=tenant, inbound=row, by=owner)
    assert promoted.status == Status.DELIVERED
    assert messages_of(promoted.conversation_id)[0].body == "just saying hi"


def test_replies_in_a_thread_are_never_filtered(tenant, receive, email_conversation):
    with scopes_disabled():
        EmailSettings.objects.create(tenant=tenant, filter_words="buy")
    address = addressing.reply_address(tenant.pk, email_conversation.pk)
    assert receive(build(to=address, text="ok"), to=address).status == Status.DELIVERED


# --- loop safety --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("headers", "sender", "envelope_from", "flag"),
    [
        ({"Auto-Submitted": "auto-replied"}, "customer@example.com", "customer@example.com", "auto_reply"),
        ({"X-Autoreply": "yes"}, "customer@example.com", "customer@example.com", "auto_reply"),
        ({"Precedence": "auto_reply"}, "customer@example.com", "customer@example.com", "auto_reply"),
        ({}, "customer@example.com", "", "auto_reply"),  # null envelope sender
        ({"X-Failed-Recipients": "gone@example.com"}, "mailer-daemon@example.com", "", "bounce"),
        ({"X-Auto-Response-Suppress": "All"}, "Out of Office <customer@example.com>", "customer@example.com", None),
    ],
)
def test_automatic_mail_is_stored_and_kept_out_of_conversations(tenant, receive, headers, sender, envelope_from, flag):
    subject = "Automatic reply: Order 42" if "X-Auto-Response-Suppress" in headers else "Hello"
    raw = build(to=tenant.inbound_address, sender=sender, subject=subject, headers=headers)
    row = receive(raw, to=tenant.inbound_address, envelope_from=envelope_from)
    assert row.status == Status.IGNORED
    assert row.conversation_id is None
    assert flag is None or flag in row.flags
    with row.raw.open("rb") as handle:
        assert handle.read() == raw


def test_a_delivery_report_is_a_bounce(tenant, receive):
    report = (
        b"From: MAILER-DAEMON@mx.example.com\r\nTo: " + tenant.inbound_address.encode() + b"\r\n"
        b"Subject: Undelivered Mail Returned to Sender\r\nMessage-ID: <dsn1@mx.example.com>\r\n"
        b"MIME-Version: 1.0\r\nContent-Type: multipart/report; report-type=delivery-status; boundary=B\r\n\r\n"
        b"--B\r\nContent-Type: text/plain\r\n\r\nI'm sorry.\r\n"
        b"--B\r\nContent-Type: message/delivery-status\r\n\r\nReporting-MTA: dns; mx.example.com\r\n\r\n"
        b"Final-Recipient: rfc822; gone@example.com\r\nAction: failed\r\nStatus: 5.1.1\r\n--B--\r\n"
    )
    row = receive(report, to=tenant.inbound_address, envelope_from="")
    assert row.status == Status.IGNORED and "bounce" in row.flags


def test_parleys_own_mail_coming_back_is_a_loop(tenant, receive, email_conversation):
    own_id = addressing.new_message_id(tenant.pk, email_conversation.pk)
    row = receive(build(to=tenant.inbound_address, message_id=f"<{own_id}>"), to=tenant.inbound_address)
    assert row.status == Status.IGNORED and "own_mail" in row.flags
    assert len(messages_of(email_conversation.pk)) == 1


def test_mailing_list_mail_is_a_conversation_but_flagged(tenant, receive):
    raw = build(
        to=tenant.inbound_address, headers={"List-Id": "<news.example.com>", "List-Unsubscribe": "<mailto:u@x>"}
    )
    row = receive(raw, to=tenant.inbound_address)
    assert row.status == Status.DELIVERED and "mailing_list" in row.flags


def test_the_hourly_limit_holds_mail_and_a_rerun_delivers_it(tenant, receive, settings):
    with scopes_disabled():
        EmailSettings.objects.create(tenant=tenant, inbound_per_hour=2)
    rows = [receive(build(to=tenant.inbound_address), to=tenant.inbound_address) for _ in range(3)]
    assert [r.status for r in rows] == [Status.DELIVERED, Status.DELIVERED, Status.HELD]
    assert "rate_limited" in rows[2].flags
    with rows[2].raw.open("rb") as handle:
        assert handle.read()
    assert services.inbound_email_rerun(tenant=tenant, inbound=rows[2]).status == Status.DELIVERED


# --- failures -----------------------------------------------------------------------------------


def test_a_message_that_fails_to_process_stays_stored_flagged_and_re_runnable(tenant, receive, monkeypatch):
    def broken(raw):
        raise RuntimeError("parser bug")

    monkeypatch.setattr(inbound_module, "parse_email", broken)
    row = receive(build(to=tenant.inbound_address, text="keep me"), to=tenant.inbound_address)
    assert row.status == Status.FAILED
    assert "parser bug" in row.error
    with scopes_disabled():
        assert not Conversation.objects.filter(tenant=tenant).exists()
    monkeypatch.undo()
    row = services.inbound_email_rerun(tenant=tenant, inbound=row)
    assert row.status == Status.DELIVERED
    assert messages_of(row.conversation_id)[0].body == "keep me"


def test_malformed_mail_is_stored_flagged_and_still_delivered(tenant, receive):
    raw = (
        b"From: x@example.com\r\nTo: " + tenant.inbound_address.encode() + b"\r\nSubject: broken\r\n"
        b"Content-Type: multipart/mixed; boundary=\r\nContent-Transfer-Encoding: base64\r\n\r\nnot base64 \xff\r\n"
    )
    row = receive(raw, to=tenant.inbound_address)
    assert "malformed" in row.flags
    assert row.status == Status.DELIVERED


def test_processing_twice_changes_nothing(tenant, receive):
    row = receive(build(to=tenant.inbound_address), to=tenant.inbound_address)
    again = services.inbound_email_process(tenant=tenant, inbound=row)
    assert again.status == Status.DELIVERED and again.attempts == 1
    assert len(messages_of(row.conversation_id)) == 1


def test_the_sweeper_picks_up_mail_a_dead_worker_left_and_gives_up_after_five_tries(
    tenant, django_capture_on_commit_callbacks
):
    row = services.inbound_email_receive(
        raw=build(to=tenant.inbound_address), recipient=tenant.inbound_address, envelope_from="a@b.c", source="smtp"
    )  # the on-commit parse never runs: the worker "died"
    later = timezone.now() + timedelta(minutes=10)
    assert services.inbound_emails_sweep(now=later) == 1
    with scopes_disabled():
        row = InboundEmail.objects.get(pk=row.pk)
    assert row.status == Status.DELIVERED
    stuck = services.inbound_email_receive(
        raw=build(to=tenant.inbound_address), recipient=tenant.inbound_address, envelope_from="a@b.c", source="smtp"
    )
    with scopes_disabled():
        InboundEmail.objects.filter(pk=stuck.pk).update(attempts=5)
    assert services.inbound_emails_sweep(now=later) == 0
    with scopes_disabled():
        assert InboundEmail.objects.get(pk=stuck.pk).status == Status.FAILED


def test_an_email_visitors_id_cannot_be_computed_from_their_address(tenant, receive):
    """A widget client that knows someone's address must not be able to claim their email history."""
    import hashlib

    from django_scopes import scopes_disabled

    from tests.emailbridge.mail import build

    row = receive(build(to=tenant.inbound_address, subject="Hello"), to=tenant.inbound_address)
    with scopes_disabled():
        visitor = row.conversation.visitor
    plain = hashlib.sha256(visitor.email.encode()).hexdigest()[:40]
    assert visitor.anonymous_id.startswith("email-") and plain not in visitor.anonymous_id
