"""Updates from Telegram: the secret header, once per update_id, into the inbound path, files, blocks."""

import io

import pytest
from django_scopes import scopes_disabled
from PIL import Image

from apps.conversations.models import Attachment, Conversation, Message
from apps.messengers.models import TelegramChat, TelegramOutbound, TelegramUpdate

pytestmark = pytest.mark.django_db


def png_bytes() -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (40, 30), (200, 30, 30)).save(buffer, "PNG")
    return buffer.getvalue()


def visitor_messages():
    with scopes_disabled():
        return list(Message.objects.filter(author_type=Message.Author.VISITOR).order_by("pk"))


def test_a_message_becomes_a_visitor_message_in_a_telegram_conversation(telegram_user, run_tasks):
    with run_tasks():
        response = telegram_user.says("Здравствуйте, где мой заказ?")
    assert response.status_code == 200
    [message] = visitor_messages()
    with scopes_disabled():
        conversation = message.conversation
        chat = TelegramChat.objects.get()
        assert conversation.channel == Conversation.Channel.TELEGRAM
        assert message.body == "Здравствуйте, где мой заказ?"
        assert chat.visitor_id == conversation.visitor_id
        assert conversation.visitor.name == "Ivan"
        assert TelegramUpdate.objects.get().status == TelegramUpdate.Status.PROCESSED


def test_the_next_message_continues_the_same_conversation(telegram_user, run_tasks):
    with run_tasks():
        telegram_user.says("one")
        telegram_user.says("two")
    first, second = visitor_messages()
    assert first.conversation_id == second.conversation_id
    assert (first.seq, second.seq) == (1, 2)


@pytest.mark.parametrize("secret", [None, "", "wrong-secret", "x" * 64])
def test_a_missing_or_wrong_secret_is_404_and_stores_nothing(telegram_user, run_tasks, secret):
    with run_tasks():
        response = telegram_user.says("hello", secret=secret)
    assert response.status_code == 404
    with scopes_disabled():
        assert not TelegramUpdate.objects.exists()
    assert visitor_messages() == []


def test_an_unknown_webhook_id_is_404(telegram_user, run_tasks):
    with run_tasks():
        response = telegram_user.says("hello", path="/messengers/telegram/no-such-webhook-id/")
    assert response.status_code == 404


def test_another_tenants_secret_does_not_open_this_tenants_webhook(
    telegram_user, fake_telegram, other_bot, other_bot_token, run_tasks
):
    other_secret = fake_telegram.webhook(other_bot_token)["secret_token"]
    with run_tasks():
        response = telegram_user.says("hello", secret=other_secret)
    assert response.status_code == 404
    # And this tenant's secret does not open the other tenant's webhook.
    other_path = fake_telegram.webhook(other_bot_token)["url"].removeprefix("https://parley.example")
    with run_tasks():
        response = telegram_user.says("hello", path=other_path)
    assert response.status_code == 404
    with scopes_disabled():
        assert not TelegramUpdate.objects.exists()


def test_an_update_delivered_twice_is_processed_once(telegram_user, run_tasks):
    update = telegram_user.message(text="only once")
    with run_tasks():
        assert telegram_user.post(update).status_code == 200
        assert telegram_user.post(update).status_code == 200
    assert [m.body for m in visitor_messages()] == ["only once"]
    with scopes_disabled():
        assert TelegramUpdate.objects.count() == 1


@pytest.mark.parametrize(
    "body",
    [b"", b"not json", b"[]", b'{"update_id": "7"}', b'{"update_id": -1}', b'{"update_id": 1e3}', b"{" * 5000],
)
def test_a_malformed_update_is_400_and_stores_nothing(telegram_user, client, fake_telegram, bot_token, body):
    hook = fake_telegram.webhook(bot_token)
    response = client.post(
        hook["url"].removeprefix("https://parley.example"),
        data=body,
        content_type="application/json",
        HTTP_X_TELEGRAM_BOT_API_SECRET_TOKEN=hook["secret_token"],
    )
    assert response.status_code == 400
    with scopes_disabled():
        assert not TelegramUpdate.objects.exists()


def test_the_webhook_takes_only_post(telegram_user, client, fake_telegram, bot_token):
    assert client.get(fake_telegram.webhook(bot_token)["url"].removeprefix("https://parley.example")).status_code == 405


def test_a_photo_arrives_as_an_image_attachment(telegram_user, fake_telegram, run_tasks):
    content = png_bytes()
    file_id = fake_telegram.add_file(content, suffix="png")
    small = {"file_id": "small", "file_unique_id": "s", "width": 9, "height": 6, "file_size": 50}
    large = {"file_id": file_id, "file_unique_id": "l", "width": 40, "height": 30, "file_size": len(content)}
    with run_tasks():
        telegram_user.post(telegram_user.message(photo=[small, large], caption="my receipt"))
    [message] = visitor_messages()
    with scopes_disabled():
        [attachment] = Attachment.objects.filter(message=message)
        assert attachment.content_type == "image/png"  # sniffed from the bytes, not believed
        assert attachment.file.read() == content
    assert message.body == "my receipt"
    assert [c.params["file_id"] for c in fake_telegram.calls_of("getFile")] == [file_id]


def test_a_document_arrives_as_a_file(telegram_user, fake_telegram, run_tasks):
    content = b"%PDF-1.4\n%fake but starts like a PDF\n"
    file_id = fake_telegram.add_file(content, suffix="pdf")
    document = {"file_id": file_id, "file_unique_id": "d", "file_name": "invoice.pdf", "mime_type": "application/pdf"}
    with run_tasks():
        telegram_user.post(telegram_user.message(document=document))
    [message] = visitor_messages()
    assert message.kind == Message.Kind.ATTACHMENT
    with scopes_disabled():
        [attachment] = Attachment.objects.filter(message=message)
    assert (attachment.filename, attachment.content_type) == ("invoice.pdf", "application/pdf")


def test_a_file_parley_refuses_gets_a_reply_and_no_message(telegram_user, fake_telegram, run_tasks):
    file_id = fake_telegram.add_file(b"MZ\x90\x00 an executable", suffix="exe")
    document = {
        "file_id": file_id,
        "file_unique_id": "x",
        "file_name": "setup.exe",
        "mime_type": "application/x-msdownload",
    }
    with run_tasks():
        telegram_user.post(telegram_user.message(document=document))
    assert visitor_messages() == []
    [notice] = fake_telegram.sent[telegram_user.user_id]
    assert "cannot be sent" in notice["text"]


def test_a_sticker_gets_a_polite_reply(telegram_user, fake_telegram, run_tasks):
    with run_tasks():
        telegram_user.post(telegram_user.message(sticker={"file_id": "st", "width": 512, "height": 512}))
    assert visitor_messages() == []
    assert len(fake_telegram.sent[telegram_user.user_id]) == 1


def test_group_chats_are_ignored(telegram_user, run_tasks):
    update = telegram_user.message(text="hi all")
    update["message"]["chat"] = {"id": -100123, "title": "Group", "type": "supergroup"}
    with run_tasks():
        assert telegram_user.post(update).status_code == 200
    assert visitor_messages() == []
    with scopes_disabled():
        assert TelegramUpdate.objects.get().status == TelegramUpdate.Status.IGNORED


def test_blocking_the_bot_marks_the_chat_and_fails_what_waits(telegram_user, run_tasks):
    with run_tasks():
        telegram_user.says("hello")
    blocked = {
        "update_id": telegram_user.next_update_id(),
        "my_chat_member": {
            "chat": {"id": telegram_user.user_id, "type": "private"},
            "from": {"id": telegram_user.user_id, "is_bot": False, "first_name": "Ivan"},
            "date": 1_700_000_100,
            "old_chat_member": {"status": "member", "user": {"id": 1, "is_bot": True, "first_name": "bot"}},
            "new_chat_member": {
                "status": "kicked",
                "until_date": 0,
                "user": {"id": 1, "is_bot": True, "first_name": "bot"},
            },
        },
    }
    with run_tasks():
        telegram_user.post(blocked)
    with scopes_disabled():
        assert TelegramChat.objects.get().blocked_at is not None
    # Writing again means they unblocked it.
    with run_tasks():
        telegram_user.says("back again")
    with scopes_disabled():
        assert TelegramChat.objects.get().blocked_at is None


def test_plain_start_greets_and_creates_the_visitor(telegram_user, fake_telegram, run_tasks):
    with run_tasks():
        telegram_user.says("/start")
    [greeting] = fake_telegram.sent[telegram_user.user_id]
    assert "Write your question here" in greeting["text"]
    with scopes_disabled():
        assert TelegramChat.objects.count() == 1
        assert TelegramOutbound.objects.get().status == TelegramOutbound.Status.SENT
    assert visitor_messages() == []


def test_a_widget_client_cannot_take_over_a_telegram_visitor_by_guessing_its_id(telegram_user, run_tasks, bot):
    with run_tasks():
        telegram_user.says("my private question")
    with scopes_disabled():
        visitor = TelegramChat.objects.get().visitor
    guesses = {
        f"tg-{bot.bot_id}-{telegram_user.user_id}",
        f"tg-{telegram_user.user_id}",
        f"telegram-{telegram_user.user_id}",
    }
    assert visitor.anonymous_id not in guesses
    assert len(visitor.anonymous_id) >= 30
