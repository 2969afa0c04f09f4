"""Outbound mail through Celery: headers and threading (locmem backend), the customer's answer threading back,
an email to a visitor who left (with attachments), acknowledgements only to people, retries then failure,
and one run against a real SMTP sink process."""

from __future__ import annotations

import email
import subprocess
import sys
from datetime import timedelta
from email import policy

import pytest
from django.core import mail
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from django.utils import timezone
from django_scopes import scopes_disabled

from apps.conversations import services as conversation_services
from apps.conversations.models import Conversation, Message
from apps.emailbridge import addressing, services
from apps.emailbridge.models import EmailSettings, InboundEmail, OutboundEmail
from tests.emailbridge.mail import build
from tests.processes import free_port, stop_process, wait_for_port


@pytest.fixture
def email_conversation(tenant, receive):
    raw = build(to=tenant.inbound_address, subject="Order 42", message_id="<customer-1@example.com>")
    row = receive(raw, to=tenant.inbound_address)
    with scopes_disabled():
        return Conversation.objects.select_related("visitor").get(pk=row.conversation_id)


@pytest.fixture
def reply(tenant, operator, django_capture_on_commit_callbacks):
    def _reply(conversation, body="Your order ships today.", kind=Message.Kind.TEXT, client_id="op-1"):
        with django_capture_on_commit_callbacks(execute=True):
            if kind == Message.Kind.NOTE:
                return conversation_services.note_add(
                    tenant=tenant, conversation=conversation, author=operator, body=body, client_id=client_id
                )[0]
            return conversation_services.message_send(
                tenant=tenant,
                conversation=conversation,
                author_type=Message.Author.OPERATOR,
                author=operator,
                body=body,
                client_id=client_id,
            )[0]

    return _reply


def outbound_rows(tenant):
    with scopes_disabled():
        return list(OutboundEmail.objects.filter(tenant=tenant).order_by("pk"))


def test_an_operator_reply_goes_out_with_threading_headers(tenant, email_conversation, reply):
    message = reply(email_conversation)
    [sent] = mail.outbox
    [row] = outbound_rows(tenant)
    assert sent.to == ["customer@example.com"]
    assert sent.subject == "Re: Order 42"
    assert sent.extra_headers["Message-ID"] == f"<{row.message_id}>"
    assert addressing.parse_message_id(row.message_id).conversation_id == email_conversation.pk
    assert sent.extra_headers["In-Reply-To"] == "<customer-1@example.com>"
    assert sent.extra_headers["References"] == "<customer-1@example.com>"
    assert sent.extra_headers["Reply-To"] == addressing.reply_address(tenant.pk, email_conversation.pk)
    assert "Auto-Submitted" not in sent.extra_headers
    assert sent.body.startswith("Your order ships today.")
    assert addressing.body_marker(tenant.pk, email_conversation.pk) in sent.body
    assert row.status == OutboundEmail.Status.SENT
    with scopes_disabled():
        message.refresh_from_db()
    assert message.data["email_delivery"] == {"status": "sent", "to": "customer@example.com"}


def test_the_second_reply_references_the_whole_thread(tenant, email_conversation, reply):
    reply(email_conversation, client_id="op-1")
    reply(email_conversation, body="And here is the tracking number.", client_id="op-2")
    first, second = outbound_rows(tenant)
    assert mail.outbox[1].extra_headers["References"] == f"<customer-1@example.com> <{first.message_id}>"
    assert mail.outbox[1].extra_headers["In-Reply-To"] == "<customer-1@example.com>"


def test_notes_and_chat_replies_never_leave(tenant, email_conversation, conversation, reply):
    reply(email_conversation, kind=Message.Kind.NOTE)
    reply(conversation, client_id="chat-1")  # a widget conversation
    assert mail.outbox == [] and outbound_rows(tenant) == []


def test_the_customers_answer_threads_back_even_with_in_reply_to_rewritten(tenant, email_conversation, reply, receive):
    reply(email_conversation)
    ours = mail.outbox[0].extra_headers["Message-ID"]
    answer = build(to=tenant.inbound_address, subject="Re: Order 42", text="Great!", headers={"In-Reply-To": ours})
    assert receive(answer, to=tenant.inbound_address).conversation_id == email_conversation.pk
    rewritten = build(
        to=mail.outbox[0].extra_headers["Reply-To"],
        subject="RE: Order 42",
        text="Thanks again",
        headers={"In-Reply-To": "<DB7PR03MB@eurprd03.prod.outlook.com>"},
    )
    row = receive(rewritten, to=mail.outbox[0].extra_headers["Reply-To"])
    assert row.conversation_id == email_conversation.pk
    assert row.status == InboundEmail.Status.DELIVERED


def test_our_own_mail_sent_back_to_us_is_a_loop_not_a_message(tenant, email_conversation, reply, receive):
    reply(email_conversation)
    looped = mail.outbox[0].message().as_bytes()
    row = receive(looped, to=tenant.inbound_address)
    assert row.status == InboundEmail.Status.IGNORED and "own_mail" in row.flags


# --- an email to a visitor who left ------------------------------------------------------------


@pytest.fixture
def operator_client(client, operator):
    client.force_login(operator.user)
    return client


def test_an_operator_emails_a_visitor_who_left_with_attachments_and_the_reply_lands_there(
    tenant, visitor, operator_client, django_capture_on_commit_callbacks, receive
):
    files = [
        SimpleUploadedFile("Счёт.pdf", b"%PDF-1.4 invoice", content_type="application/pdf"),
        SimpleUploadedFile("Oferta dla Łodzi.txt", "Cena: 100 zł".encode(), content_type="text/plain"),
    ]
    with django_capture_on_commit_callbacks(execute=True):
        response = operator_client.post(
            reverse("emailbridge:start"),
            {
                "visitor": visitor.pk,
                "to": "left@example.com",
                "subject": "Your quote",
                "body": "Here it is.",
                "files": files,
            },
        )
    assert response.status_code == 201, response.content
    conversation_id = response.json()["conversation"]
    [sent] = mail.outbox
    assert sent.to == ["left@example.com"] and sent.subject == "Your quote"
    assert sorted(name for name, _content, _type in sent.attachments) == ["Oferta dla Łodzi.txt", "Счёт.pdf"]
    with scopes_disabled():
        conversation = Conversation.objects.get(pk=conversation_id)
        assert conversation.channel == "email" and conversation.visitor_id == visitor.pk
        assert conversation.visitor.email == "left@example.com"
    answer = build(
        to=sent.extra_headers["Reply-To"],
        sender="left@example.com",
        subject="Re: Your quote",
        text="Accepted.",
        headers={"In-Reply-To": sent.extra_headers["Message-ID"]},
    )
    assert receive(answer, to=sent.extra_headers["Reply-To"]).conversation_id == conversation_id


@pytest.mark.parametrize(
    ("field", "value"),
    [("subject", "Hello\r\nBcc: victim@example.com"), ("to", "a@example.com\nBcc: victim@example.com")],
)
def test_header_injection_is_refused_and_changes_nothing(tenant, visitor, operator_client, field, value):
    data = {"visitor": visitor.pk, "to": "a@example.com", "subject": "Hi", "body": "Hello"} | {field: value}
    response = operator_client.post(reverse("emailbridge:start"), data)
    assert response.status_code == 400
    assert response.json()["error"]["field"] == field
    with scopes_disabled():
        assert not Conversation.objects.filter(tenant=tenant).exists()
    assert mail.outbox == []


def test_another_tenants_visitor_is_not_found(operator_client, other_visitor):
    data = {"visitor": other_visitor.pk, "to": "a@example.com", "subject": "Hi", "body": "Hello"}
    response = operator_client.post(reverse("emailbridge:start"), data)
    assert response.status_code == 404 and response.json()["error"]["code"] == "not_found"
    assert mail.outbox == []


def test_starting_an_email_needs_an_operator(client, visitor):
    response = client.post(reverse("emailbridge:start"), {"visitor": visitor.pk, "subject": "Hi", "body": "x"})
    assert response.status_code == 403


# --- acknowledgements ---------------------------------------------------------------------------


def test_a_new_sender_gets_an_acknowledgement_marked_auto_replied(tenant, receive, django_capture_on_commit_callbacks):
    with scopes_disabled():
        EmailSettings.objects.create(tenant=tenant, auto_acknowledge=True)
    with django_capture_on_commit_callbacks(execute=True):
        receive(build(to=tenant.inbound_address, subject="Question"), to=tenant.inbound_address)
    [ack] = mail.outbox
    assert ack.extra_headers["Auto-Submitted"] == "auto-replied"
    assert ack.subject == "Re: Question" and ack.to == ["customer@example.com"]


@pytest.mark.parametrize(
    "headers",
    [{"Auto-Submitted": "auto-replied"}, {"List-Id": "<news.example.com>"}, {"Precedence": "bulk"}],
    ids=["auto-reply", "list", "bulk"],
)
def test_automatic_and_list_mail_never_gets_an_acknowledgement(tenant, receive, headers):
    with scopes_disabled():
        EmailSettings.objects.create(tenant=tenant, auto_acknowledge=True)
    receive(build(to=tenant.inbound_address, headers=headers), to=tenant.inbound_address)
    assert mail.outbox == []


# --- failures and a real SMTP server -------------------------------------------------------------


def test_a_mail_that_cannot_be_sent_is_retried_then_shown_as_failed(tenant, email_conversation, reply, settings):
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT, settings.EMAIL_TIMEOUT = "127.0.0.1", free_port(), 2
    message = reply(email_conversation)
    [row] = outbound_rows(tenant)
    assert row.status == OutboundEmail.Status.FAILED
    assert row.attempts == 6  # the first try and five retries
    with scopes_disabled():
        message.refresh_from_db()
    assert message.data["email_delivery"]["status"] == "failed"


@pytest.mark.slow
def test_a_reply_reaches_a_real_smtp_server_with_its_headers(tenant, email_conversation, reply, settings, tmp_path):
    port = free_port()
    maildir = tmp_path / "maildir"
    sink = subprocess.Popen(  # noqa: S603
        [
            sys.executable,
            "-m",
            "aiosmtpd",
            "-n",
            "-l",
            f"127.0.0.1:{port}",
            "-c",
            "aiosmtpd.handlers.Mailbox",
            str(maildir),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        wait_for_port(port, process=sink)
        settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
        settings.EMAIL_HOST, settings.EMAIL_PORT = "127.0.0.1", port
        reply(email_conversation, body="Привет! Cześć!")
    finally:
        stop_process(sink)
    [path] = list((maildir / "new").iterdir())
    received = email.message_from_bytes(path.read_bytes(), policy=policy.default)
    [row] = outbound_rows(tenant)
    assert row.status == OutboundEmail.Status.SENT
    assert received["Message-ID"].strip() == f"<{row.message_id}>"
    assert received["In-Reply-To"].strip() == "<customer-1@example.com>"
    assert received["Reply-To"] == addressing.reply_address(tenant.pk, email_conversation.pk)
    assert received["Subject"] == "Re: Order 42"
    assert received.get_content().startswith("Привет! Cześć!")


def test_a_reply_written_without_signals_is_still_mailed_by_the_sweeper(
    tenant, operator, email_conversation, django_capture_on_commit_callbacks
):
    """A write path that sends no post_save (a raw INSERT, bulk_create) must not leave a reply unsent."""
    with scopes_disabled():
        Message.objects.bulk_create(
            [
                Message(
                    tenant=tenant,
                    conversation=email_conversation,
                    seq=email_conversation.last_seq + 1,
                    author_type=Message.Author.OPERATOR,
                    author=operator,
                    body="Written elsewhere.",
                    client_id="raw-1",
                    created_at=timezone.now() - timedelta(minutes=2),
                )
            ]
        )
    assert mail.outbox == []
    with django_capture_on_commit_callbacks(execute=True):
        assert services.outbound_emails_sweep() == 1
    assert mail.outbox[0].body.startswith("Written elsewhere.")
    assert services.outbound_emails_sweep() == 0
    assert len(outbound_rows(tenant)) == 1


def test_the_delivery_state_reaches_open_dashboards_live_and_never_the_visitor(
    tenant, email_conversation, reply, monkeypatch
):
    from apps.conversations import events, frames
    from tests.conversations.conftest import RecordingLayer

    layer = RecordingLayer()
    monkeypatch.setattr(events, "get_channel_layer", lambda: layer)
    message = reply(email_conversation)
    told = [f for f in layer.frames(events.ops_group(tenant.pk)) if f["type"] == "email.status"]
    assert [f["email_delivery"]["status"] for f in told] == ["queued", "sent"]
    assert {(f["conversation"], f["message"], f["seq"]) for f in told} == {
        (email_conversation.pk, message.pk, message.seq)
    }
    assert not [f for g, f in zip(layer.groups(), layer.frames(), strict=True) if g != events.ops_group(tenant.pk)
                and f["type"] == "email.status"]
    with scopes_disabled():
        message.refresh_from_db()
        operator_view = frames.message_payload(message, audience="operator")
        visitor_view = frames.message_payload(message, audience="visitor")
    assert operator_view["data"]["email_delivery"]["status"] == "sent"
    assert "email_delivery" not in visitor_view["data"]
