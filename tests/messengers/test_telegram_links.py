"""The deep link from the widget: single use, short-lived, this tenant only; joins the same visitor
and conversation. And the HTTP endpoints' tenant isolation."""

from datetime import timedelta

import pytest
from django.conf import settings
from django.utils import timezone
from django_scopes import scopes_disabled

from apps.conversations import services as conversation_services
from apps.conversations.models import Conversation, Message, Visitor
from apps.conversations.tokens import visitor_token_issue
from apps.messengers import services
from apps.messengers.models import TelegramChat, TelegramLink
from tests.messengers.conftest import TelegramUser

pytestmark = pytest.mark.django_db


def auth(tenant, visitor):
    # From the chat iframe: a widget write carries Parley's own Origin (the one Origin rule, tokens.py).
    return {
        "HTTP_AUTHORIZATION": "Bearer " + visitor_token_issue(tenant=tenant, visitor=visitor),
        "HTTP_ORIGIN": settings.PARLEY_BASE_URL,
    }


@pytest.fixture
def widget_chat(tenant, visitor):
    conversation, _ = conversation_services.conversation_open_or_start(tenant=tenant, visitor=visitor)
    conversation_services.message_send(
        tenant=tenant, conversation=conversation, author_type="visitor", body="from the site", client_id="w-1"
    )
    return conversation


def link_token(url: str) -> str:
    assert url.startswith("https://t.me/acme_help_bot?start=")
    return url.split("start=", 1)[1]


def test_the_widget_gets_a_deep_link_for_its_visitor(client, bot, tenant, visitor, widget_chat):
    response = client.post(
        "/widget/api/telegram/link",
        {"conversation": widget_chat.pk},
        content_type="application/json",
        **auth(tenant, visitor),
    )
    assert response.status_code == 200
    token = link_token(response.json()["url"])
    assert 16 <= len(token) <= 64 and all(ch.isalnum() or ch in "-_" for ch in token)
    with scopes_disabled():
        link = TelegramLink.objects.get()
    assert token not in link.token_hash  # stored hashed
    assert link.expires_at - timezone.now() <= timedelta(minutes=10)


def test_start_with_the_link_joins_the_same_visitor_and_conversation(
    client, bot, tenant, visitor, widget_chat, telegram_user, run_tasks, operator, fake_telegram
):
    url = services.telegram_link_create(tenant=tenant, visitor=visitor, conversation=widget_chat)
    with run_tasks():
        telegram_user.says(f"/start {link_token(url)}")
        telegram_user.says("continuing in Telegram")
    with scopes_disabled():
        chat = TelegramChat.objects.get()
        assert chat.visitor_id == visitor.pk
        conversation = Conversation.objects.get(pk=widget_chat.pk)
        assert conversation.channel == Conversation.Channel.TELEGRAM
        bodies = list(conversation.messages.filter(author_type="visitor").values_list("body", flat=True))
        assert Visitor.objects.count() == 1
    assert bodies == ["from the site", "continuing in Telegram"]
    assert "You are connected" in fake_telegram.sent[telegram_user.user_id][0]["text"]
    # The operator's answer reaches Telegram (and the widget, through the usual sockets).
    with run_tasks():
        conversation_services.message_send(
            tenant=tenant, conversation=conversation, author_type="operator", author=operator, body="hi", client_id="o1"
        )
    assert fake_telegram.sent[telegram_user.user_id][-1]["text"].endswith("\nhi")


def test_a_chat_that_wrote_before_merges_into_the_linked_visitor(
    bot, tenant, visitor, widget_chat, telegram_user, run_tasks
):
    with run_tasks():
        telegram_user.says("earlier, before the link")
    url = services.telegram_link_create(tenant=tenant, visitor=visitor, conversation=widget_chat)
    with run_tasks():
        telegram_user.says(f"/start {link_token(url)}")
    with scopes_disabled():
        assert TelegramChat.objects.get().visitor_id == visitor.pk
        assert Visitor.objects.count() == 1
        assert set(Message.objects.values_list("conversation__visitor_id", flat=True)) == {visitor.pk}


def test_a_link_works_once(bot, tenant, visitor, widget_chat, telegram_user, run_tasks, client, fake_telegram):
    url = services.telegram_link_create(tenant=tenant, visitor=visitor, conversation=widget_chat)
    with run_tasks():
        telegram_user.says(f"/start {link_token(url)}")
    stranger = type(telegram_user)(client, fake_telegram, telegram_user.token, user_id=777, first_name="Eve")
    with run_tasks():
        stranger.says(f"/start {link_token(url)}")
    with scopes_disabled():
        assert TelegramChat.objects.get(chat_id=777).visitor_id != visitor.pk
    assert "expired" in fake_telegram.sent[777][0]["text"]


def test_an_expired_link_joins_nothing(bot, tenant, visitor, widget_chat, telegram_user, run_tasks):
    url = services.telegram_link_create(tenant=tenant, visitor=visitor, conversation=widget_chat)
    with scopes_disabled():
        TelegramLink.objects.update(expires_at=timezone.now() - timedelta(seconds=1))
    with run_tasks():
        telegram_user.says(f"/start {link_token(url)}")
    with scopes_disabled():
        assert TelegramChat.objects.get().visitor_id != visitor.pk
        assert Conversation.objects.get(pk=widget_chat.pk).channel == Conversation.Channel.WIDGET


def test_another_tenants_link_joins_nothing(
    bot, other_bot, other_tenant, other_visitor, telegram_user, run_tasks, fake_telegram
):
    other_conversation, _ = conversation_services.conversation_open_or_start(tenant=other_tenant, visitor=other_visitor)
    url = services.telegram_link_create(tenant=other_tenant, visitor=other_visitor, conversation=other_conversation)
    token = url.split("start=", 1)[1]
    with run_tasks():
        telegram_user.says(f"/start {token}")  # to this tenant's bot
    with scopes_disabled():
        chat = TelegramChat.objects.get(bot=bot)
        assert chat.visitor_id != other_visitor.pk
        assert chat.visitor.tenant_id == bot.tenant_id
        assert TelegramLink.objects.get().used_at is None  # still good for the other tenant's own bot
    assert "expired" in fake_telegram.sent[telegram_user.user_id][0]["text"]


def test_no_link_without_a_working_bot(client, tenant, visitor, widget_chat, fake_telegram):
    response = client.post("/widget/api/telegram/link", {}, content_type="application/json", **auth(tenant, visitor))
    assert response.status_code == 409


# --- isolation: every endpoint of the app with another tenant's ids ---------------------------


def test_widget_link_with_another_tenants_conversation_is_404(client, bot, tenant, visitor, other_conversation):
    response = client.post(
        "/widget/api/telegram/link",
        {"conversation": other_conversation.pk},
        content_type="application/json",
        **auth(tenant, visitor),
    )
    assert response.status_code == 404
    with scopes_disabled():
        assert not TelegramLink.objects.exists()


def test_widget_link_needs_a_visitor_token(client, bot):
    response = client.post("/widget/api/telegram/link", {}, content_type="application/json")
    assert response.status_code == 401


@pytest.fixture
def op_client(client, operator):
    client.force_login(operator.user)
    return client


def test_the_card_lists_the_visitors_telegram_chat(op_client, telegram_user, run_tasks):
    with run_tasks():
        telegram_user.says("hello")
    with scopes_disabled():
        visitor_id = TelegramChat.objects.get().visitor_id
    data = op_client.get(f"/app/api/messengers/visitors/{visitor_id}").json()
    assert data["telegram"][0]["bot"] == "acme_help_bot"
    assert data["telegram"][0]["name"] == "Ivan"
    assert data["telegram"][0]["blocked"] is False


def test_the_card_of_another_tenants_visitor_is_404(op_client, other_visitor):
    assert op_client.get(f"/app/api/messengers/visitors/{other_visitor.pk}").status_code == 404
    assert op_client.get("/app/api/messengers/visitors/99999999").status_code == 404


def test_the_card_needs_a_login(client, visitor):
    assert client.get(f"/app/api/messengers/visitors/{visitor.pk}").status_code == 401


def test_another_tenants_update_never_reaches_this_tenant(
    bot, other_bot, other_bot_token, client, fake_telegram, run_tasks, tenant
):
    other_user = TelegramUser(client, fake_telegram, other_bot_token, user_id=5151)
    with run_tasks():
        other_user.says("for Globex")
    with scopes_disabled():
        chat = TelegramChat.objects.get()
        assert chat.tenant_id == other_bot.tenant_id
        assert not Message.objects.filter(tenant=tenant).exists()


def test_widget_config_offers_telegram_only_with_a_working_bot(client, tenant, fake_telegram, bot_token):
    key = tenant.widget_key
    assert client.get(f"/widget/config/{key}.json").json().get("telegram") is None
    services.telegram_bot_connect(tenant=tenant, token=bot_token)
    assert client.get(f"/widget/config/{key}.json").json()["telegram"] == {"bot": "acme_help_bot"}
    fake_telegram.revoke(bot_token)
    services.telegram_bot_check(tenant=tenant)
    assert client.get(f"/widget/config/{key}.json").json().get("telegram") is None
