"""Operator replies to Telegram: escaped, split, files, rate limits and retry_after, never twice."""

import io
import time
from datetime import timedelta

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone
from django_scopes import scopes_disabled
from PIL import Image

from apps.conversations import services as conversation_services
from apps.conversations.models import Conversation, Message
from apps.messengers import services
from apps.messengers.models import TelegramBot, TelegramChat, TelegramOutbound
from apps.messengers.services.outbound import message_parts, split_text, utf16_len
from apps.messengers.tasks import telegram_flush

pytestmark = pytest.mark.django_db


@pytest.fixture
def telegram_conversation(telegram_user, run_tasks, operator):
    with run_tasks():
        telegram_user.says("hello")
    with scopes_disabled():
        conversation = Conversation.objects.get()
    operator.display_name = "Anna"
    with scopes_disabled():
        operator.save(update_fields=["display_name"])
    return conversation


@pytest.fixture
def reply(tenant, operator, run_tasks):
    def _reply(conversation, body, *, tokens=(), kind=Message.Kind.TEXT, client_id=None):
        with run_tasks():
            message, _ = conversation_services.message_send(
                tenant=tenant,
                conversation=conversation,
                author_type=Message.Author.OPERATOR,
                author=operator,
                body=body,
                kind=kind,
                client_id=client_id or f"op-{time.monotonic_ns()}",
                attachment_tokens=tokens,
            )
        with scopes_disabled():
            return Message.objects.get(pk=message.pk)

    return _reply


def sent_to(fake, user):
    return fake.sent.get(user.user_id, [])


def test_an_operator_reply_goes_out_with_its_author_and_text_escaped(
    telegram_conversation, reply, fake_telegram, telegram_user
):
    message = reply(telegram_conversation, "If 1 < 2 & 3 > 2 then <b>not bold</b> & ok")
    [call] = fake_telegram.calls_of("sendMessage")
    assert call.params["parse_mode"] == "HTML"
    assert call.params["chat_id"] == telegram_user.user_id
    [shown] = sent_to(fake_telegram, telegram_user)
    # What the person sees is exactly what the operator typed (the fake parses entities like Telegram).
    assert shown["text"] == "Anna\nIf 1 < 2 & 3 > 2 then <b>not bold</b> & ok"
    assert message.data["telegram_delivery"] == {"status": "sent"}


def test_private_notes_and_system_lines_never_leave(telegram_conversation, reply, fake_telegram, tenant, operator):
    reply(telegram_conversation, "internal: refund approved", kind=Message.Kind.NOTE)
    conversation_services.conversation_accept(tenant=tenant, conversation=telegram_conversation, membership=operator)
    assert fake_telegram.calls_of("sendMessage") == []
    with scopes_disabled():
        assert not TelegramOutbound.objects.exists()


def test_a_message_over_4096_characters_goes_out_in_parts(telegram_conversation, reply, fake_telegram, telegram_user):
    body = ("Lorem ipsum dolor sit amet & <consectetur>. " * 110).strip()  # about 4,900 characters
    assert len(body) > 4096
    reply(telegram_conversation, body)
    parts = [m["text"] for m in sent_to(fake_telegram, telegram_user)]
    assert len(parts) == 2
    assert all(utf16_len(part) <= 4096 for part in parts)
    assert parts[0].startswith("Anna\n")
    rejoined = parts[0].removeprefix("Anna\n") + " " + parts[1]
    assert rejoined == body


def test_split_counts_utf16_like_telegram():
    text = "😀" * 3000  # 6,000 UTF-16 units
    parts = split_text(text, 4096)
    assert [utf16_len(p) for p in parts] == [4096, 1904]
    assert "".join(parts) == text


def test_escaping_never_pushes_a_part_over_the_limit():
    [first, second] = message_parts("", "&" * 5000)
    assert first == "&amp;" * 4096 and second == "&amp;" * 904


def test_a_429_waits_retry_after_and_then_sends_once(telegram_conversation, reply, fake_telegram, telegram_user):
    fake_telegram.fail_next("sendMessage", 429, "Too Many Requests: retry after 1", retry_after=1)
    message = reply(telegram_conversation, "patience")
    assert len(fake_telegram.calls_of("sendMessage")) == 1
    assert sent_to(fake_telegram, telegram_user) == []
    with scopes_disabled():
        chat = TelegramChat.objects.get()
        row = TelegramOutbound.objects.get(chat_message=message)
    assert row.status == TelegramOutbound.Status.QUEUED
    assert chat.paused_until > timezone.now()
    assert message.data["telegram_delivery"] == {"status": "queued"}

    # Before retry_after has passed, nothing is sent.
    telegram_flush.delay(chat.tenant_id, chat.pk)
    assert len(fake_telegram.calls_of("sendMessage")) == 1

    time.sleep(1.1)
    telegram_flush.delay(chat.tenant_id, chat.pk)
    telegram_flush.delay(chat.tenant_id, chat.pk)
    assert [m["text"] for m in sent_to(fake_telegram, telegram_user)] == ["Anna\npatience"]
    with scopes_disabled():
        assert TelegramOutbound.objects.get(pk=row.pk).status == TelegramOutbound.Status.SENT
        assert Message.objects.get(pk=message.pk).data["telegram_delivery"] == {"status": "sent"}


def test_the_chat_queue_keeps_order_behind_a_429(telegram_conversation, reply, fake_telegram, telegram_user):
    fake_telegram.fail_next("sendMessage", 429, "Too Many Requests: retry after 1", retry_after=1)
    reply(telegram_conversation, "first")
    reply(telegram_conversation, "second")
    assert sent_to(fake_telegram, telegram_user) == []
    time.sleep(1.1)
    with scopes_disabled():
        chat = TelegramChat.objects.get()
    telegram_flush.delay(chat.tenant_id, chat.pk)
    assert [m["text"] for m in sent_to(fake_telegram, telegram_user)] == ["Anna\nfirst", "Anna\nsecond"]


def test_the_bots_budget_per_second_holds_the_queue(
    telegram_conversation, reply, fake_telegram, telegram_user, settings
):
    settings.PARLEY_TELEGRAM_PER_SECOND = 1
    reply(telegram_conversation, "one")
    reply(telegram_conversation, "two")  # same second: over the bot's budget, it waits
    texts = [m["text"] for m in sent_to(fake_telegram, telegram_user)]
    assert texts[0] == "Anna\none"
    if len(texts) == 1:  # the second fell in the same one-second window
        time.sleep(1.05)
        with scopes_disabled():
            chat = TelegramChat.objects.get()
        telegram_flush.delay(chat.tenant_id, chat.pk)
    assert [m["text"] for m in sent_to(fake_telegram, telegram_user)] == ["Anna\none", "Anna\ntwo"]


def test_a_sent_row_is_never_sent_again(telegram_conversation, reply, fake_telegram, telegram_user):
    message = reply(telegram_conversation, "once")
    with scopes_disabled():
        chat = TelegramChat.objects.get()
    telegram_flush.delay(chat.tenant_id, chat.pk)
    services.telegram_reply_queue(tenant=chat.tenant, message=message)  # the hook and the sweeper again
    telegram_flush.delay(chat.tenant_id, chat.pk)
    assert [m["text"] for m in sent_to(fake_telegram, telegram_user)] == ["Anna\nonce"]


def test_a_lost_answer_is_not_resent(telegram_conversation, reply, fake_telegram, telegram_user):
    # A proxy's error page: Telegram may have delivered it, so a retry could duplicate it.
    fake_telegram.fail_next("sendMessage", 502, "Bad Gateway", retry_after=-1)
    message = reply(telegram_conversation, "maybe")
    assert message.data["telegram_delivery"]["status"] == "failed"
    assert "may not have been delivered" in message.data["telegram_delivery"]["error"]
    with scopes_disabled():
        chat = TelegramChat.objects.get()
    telegram_flush.delay(chat.tenant_id, chat.pk)
    assert len(fake_telegram.calls_of("sendMessage")) == 1


def test_telegrams_own_error_answer_is_retried_and_sent_once(
    telegram_conversation, reply, fake_telegram, telegram_user
):
    fake_telegram.fail_next("sendMessage", 500, "Internal Server Error")
    message = reply(telegram_conversation, "again")
    assert message.data["telegram_delivery"]["status"] == "queued"
    with scopes_disabled():
        chat = TelegramChat.objects.get()
    telegram_flush.delay(chat.tenant_id, chat.pk)
    assert [m["text"] for m in sent_to(fake_telegram, telegram_user)] == ["Anna\nagain"]


def test_a_worker_that_died_mid_call_is_not_sent_again(telegram_conversation, fake_telegram, reply, tenant):
    fake_telegram.fail_next("sendMessage", 429, "Too Many Requests: retry after 1", retry_after=1)
    message = reply(telegram_conversation, "stuck")
    with scopes_disabled():
        TelegramOutbound.objects.filter(chat_message=message).update(
            status=TelegramOutbound.Status.SENDING, claimed_at=timezone.now() - timedelta(minutes=10)
        )
    services.telegram_outbound_sweep()
    with scopes_disabled():
        row = TelegramOutbound.objects.get(chat_message=message)
        assert row.status == TelegramOutbound.Status.FAILED
        assert Message.objects.get(pk=message.pk).data["telegram_delivery"]["status"] == "failed"
    assert len(fake_telegram.calls_of("sendMessage")) == 1


def test_a_blocked_bot_fails_the_message_and_marks_the_chat(telegram_conversation, reply, fake_telegram, telegram_user):
    fake_telegram.fail_next("sendMessage", 403, "Forbidden: bot was blocked by the user")
    message = reply(telegram_conversation, "are you there?")
    assert message.data["telegram_delivery"] == {"status": "failed", "error": "Forbidden: bot was blocked by the user"}
    with scopes_disabled():
        assert TelegramChat.objects.get().blocked_at is not None
    reply(telegram_conversation, "hello?")
    assert len(fake_telegram.calls_of("sendMessage")) == 1  # nothing more is tried


def test_a_revoked_token_is_shown_on_the_bot(telegram_conversation, reply, fake_telegram, bot_token):
    fake_telegram.revoke(bot_token)
    message = reply(telegram_conversation, "hello")
    assert message.data["telegram_delivery"]["status"] == "failed"
    with scopes_disabled():
        assert TelegramBot.objects.get().status == TelegramBot.Status.TOKEN_REVOKED


def _upload(tenant, conversation, name, content):
    return conversation_services.attachment_upload(
        tenant=tenant, conversation=conversation, file=SimpleUploadedFile(name, content), uploader_side="operator"
    ).token


def test_an_image_goes_as_a_photo_and_a_pdf_as_a_document(
    telegram_conversation, reply, fake_telegram, telegram_user, tenant
):
    buffer = io.BytesIO()
    Image.new("RGB", (20, 20), (0, 90, 200)).save(buffer, "JPEG")
    pdf = b"%PDF-1.4\n1 0 obj<<>>endobj\n"
    tokens = [
        _upload(tenant, telegram_conversation, "photo.jpg", buffer.getvalue()),
        _upload(tenant, telegram_conversation, "terms.pdf", pdf),
    ]
    reply(telegram_conversation, "", tokens=tokens)
    [photo] = fake_telegram.calls_of("sendPhoto")
    [document] = fake_telegram.calls_of("sendDocument")
    assert photo.files["photo"][1] == buffer.getvalue()
    assert document.files["document"][:2] == ("terms.pdf", pdf)
    assert fake_telegram.calls_of("sendMessage") == []  # no text, no empty message


def test_a_widget_conversation_is_not_sent_to_telegram(tenant, visitor, conversation, reply, fake_telegram, bot):
    reply(conversation, "hello from the widget chat")
    assert fake_telegram.calls == [c for c in fake_telegram.calls if c.method != "sendMessage"]


def test_the_sweeper_queues_a_reply_the_hook_missed(telegram_conversation, tenant, operator, fake_telegram, run_tasks):
    # Written without the on-commit hook running (as a crash right after the commit would leave it).
    message, _ = conversation_services.message_send(
        tenant=tenant,
        conversation=telegram_conversation,
        author_type=Message.Author.OPERATOR,
        author=operator,
        body="late",
        client_id="late-1",
    )
    with scopes_disabled():
        Message.objects.filter(pk=message.pk).update(created_at=timezone.now() - timedelta(minutes=2))
    with run_tasks():
        services.telegram_outbound_sweep()
    assert [m["text"] for m in fake_telegram.sent[4242]] == ["Anna\nlate"]
