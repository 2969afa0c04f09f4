"""Real MIME over real SMTP: smtplib talks to Parley's aiosmtpd server on loopback, which stores and parses."""

from __future__ import annotations

import smtplib
import subprocess
import sys

import pytest
from aiosmtpd.controller import Controller
from django.conf import settings
from django_scopes import scopes_disabled

from apps.conversations.models import Attachment, Message
from apps.emailbridge.models import InboundEmail
from apps.emailbridge.smtp import smtp_factory
from tests.emailbridge.mail import build
from tests.processes import free_port, parley_env, stop_process, wait_for_port

pytestmark = pytest.mark.django_db(transaction=True)


class ParleyController(Controller):
    def factory(self):
        return smtp_factory()


@pytest.fixture
def smtp_server():
    controller = ParleyController(handler=None, hostname="127.0.0.1", port=free_port())
    controller.start()
    yield controller
    controller.stop()


@pytest.fixture
def client(smtp_server):
    with smtplib.SMTP(smtp_server.hostname, smtp_server.port, timeout=30) as connection:
        yield connection


def rows(tenant):
    with scopes_disabled():
        return list(InboundEmail.objects.filter(tenant=tenant).order_by("pk"))


def test_mail_with_cyrillic_and_polish_attachments_arrives_stored_and_parsed(tenant, client):
    raw = build(
        to=tenant.inbound_address,
        subject="Счёт и zamówienie",
        text="Добрый день! Dzień dobry!",
        attachments=[("Счёт.pdf", "application/pdf", b"%PDF-1.4 x"), ("Zamówienie.txt", "text/plain", b"zam")],
    )
    refused = client.sendmail("customer@example.com", [tenant.inbound_address], raw)
    assert refused == {}
    [row] = rows(tenant)
    assert row.status == InboundEmail.Status.DELIVERED
    assert row.source == "smtp" and row.envelope_from == "customer@example.com"
    with row.raw.open("rb") as handle:
        assert handle.read() == raw
    with scopes_disabled():
        message = Message.objects.get(pk=row.chat_message_id)
        names = sorted(a.filename for a in Attachment.objects.filter(message=message))
    assert message.body == "Добрый день! Dzień dobry!"
    assert names == ["Zamówienie.txt", "Счёт.pdf"]


def test_unknown_recipient_is_refused_at_rcpt_with_550_5_1_1(tenant, client):
    with pytest.raises(smtplib.SMTPRecipientsRefused) as refused:
        client.sendmail("a@example.com", [f"nobody@{settings.PARLEY_INBOUND_DOMAIN}"], build(to="x@y.z"))
    code, reply = refused.value.recipients[f"nobody@{settings.PARLEY_INBOUND_DOMAIN}"]
    assert code == 550 and reply.startswith(b"5.1.1")
    assert rows(tenant) == []


def test_other_domains_are_not_relayed(client):
    client.ehlo()
    client.mail("a@example.com")
    code, reply = client.rcpt("someone@gmail.com")
    assert code == 550 and reply.startswith(b"5.7.1")


def test_a_30_mb_message_is_refused_when_declared_and_at_data(tenant, client):
    big = build(to=tenant.inbound_address, attachments=[("big.bin", "application/octet-stream", b"\0" * 30_000_000)])
    with pytest.raises(smtplib.SMTPSenderRefused) as declared:
        client.sendmail("a@example.com", [tenant.inbound_address], big)  # smtplib declares SIZE=
    assert declared.value.smtp_code == 552
    client.rset()
    client.mail("a@example.com")  # no SIZE: refused once the data is in
    assert client.rcpt(tenant.inbound_address)[0] == 250
    code, reply = client.data(big)
    assert code == 552
    assert rows(tenant) == []


def test_a_bounce_from_the_null_sender_is_stored_and_not_a_conversation(tenant, client):
    raw = build(
        to=tenant.inbound_address,
        sender="MAILER-DAEMON@mx.example.com",
        subject="Undelivered Mail Returned to Sender",
        headers={"X-Failed-Recipients": "gone@example.com"},
    )
    client.sendmail("", [tenant.inbound_address], raw)
    [row] = rows(tenant)
    assert row.status == InboundEmail.Status.IGNORED and "bounce" in row.flags
    assert row.envelope_from == ""


def test_an_auto_reply_is_stored_and_not_answered(tenant, client):
    raw = build(to=tenant.inbound_address, subject="Out of office", headers={"Auto-Submitted": "auto-replied"})
    client.sendmail("customer@example.com", [tenant.inbound_address], raw)
    [row] = rows(tenant)
    assert row.status == InboundEmail.Status.IGNORED and "auto_reply" in row.flags


def test_one_message_to_two_tenants_is_stored_once_for_each(tenant, other_tenant, client):
    to = [tenant.inbound_address, other_tenant.inbound_address, tenant.inbound_address.replace("@", "+sales@")]
    client.sendmail("customer@example.com", to, build(to=", ".join(to)))
    assert len(rows(tenant)) == 1 and len(rows(other_tenant)) == 1
    assert rows(tenant)[0].conversation_id != rows(other_tenant)[0].conversation_id


@pytest.mark.slow
def test_the_manage_py_command_serves_smtp():
    port = free_port()
    process = subprocess.Popen(  # noqa: S603
        [sys.executable, "manage.py", "run_smtp", "--port", str(port)],
        cwd=settings.BASE_DIR,
        env=parley_env(DATABASE_POOL="0"),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    try:
        wait_for_port(port, timeout=90, process=process)  # Django's start-up is slow on a loaded machine
        with smtplib.SMTP("127.0.0.1", port, timeout=10) as connection:
            code, features = connection.ehlo()
            assert code == 250 and b"SIZE" in features and b"SMTPUTF8" in features
            connection.mail("a@example.com")
            assert connection.rcpt("someone@elsewhere.example")[0] == 550
    finally:
        stop_process(process)
