"""The Telegram bot in the admin: the token pasted, checked, never shown back; another tenant's rows are 404."""

import pytest
from django.urls import reverse
from django_scopes import scopes_disabled

from apps.messengers.models import TelegramBot, TelegramChat

pytestmark = pytest.mark.django_db


@pytest.fixture
def owner_client(client, owner):
    client.force_login(owner.user)
    return client


def test_an_admin_connects_the_bot_by_pasting_its_token(owner_client, tenant, fake_telegram, bot_token):
    response = owner_client.post(reverse("admin:messengers_telegrambot_add"), {"token": bot_token})
    assert response.status_code == 302
    with scopes_disabled():
        bot = TelegramBot.objects.get()
    assert bot.tenant_id == tenant.pk and bot.status == TelegramBot.Status.ACTIVE
    assert fake_telegram.webhook(bot_token)["secret_token"] == bot.secret_token
    page = owner_client.get(reverse("admin:messengers_telegrambot_change", args=[bot.pk])).content.decode()
    assert "@acme_help_bot" in page
    assert bot_token not in page and bot_token.split(":")[1][:-4] not in page
    assert "…" + bot_token[-4:] in page


def test_a_refused_token_is_a_form_error_and_saves_nothing(owner_client, fake_telegram, bot_token):
    fake_telegram.revoke(bot_token)
    response = owner_client.post(reverse("admin:messengers_telegrambot_add"), {"token": bot_token})
    assert response.status_code == 200
    assert "does not accept this token" in response.content.decode()
    with scopes_disabled():
        assert not TelegramBot.objects.exists()


def test_a_revoked_token_shows_on_the_bot(owner_client, bot, bot_token, fake_telegram):
    fake_telegram.revoke(bot_token)
    owner_client.post(
        reverse("admin:messengers_telegrambot_changelist"), {"action": "check_now", "_selected_action": [bot.pk]}
    )
    page = owner_client.get(reverse("admin:messengers_telegrambot_changelist")).content.decode()
    assert "Token revoked or wrong" in page


def test_another_tenants_bot_and_chats_are_404(owner_client, other_bot, other_tenant, other_visitor):
    with scopes_disabled():
        chat = TelegramChat.objects.create(tenant=other_tenant, bot=other_bot, chat_id=99, visitor=other_visitor)
    for url in (
        reverse("admin:messengers_telegrambot_change", args=[other_bot.pk]),
        reverse("admin:messengers_telegrambot_delete", args=[other_bot.pk]),
        reverse("admin:messengers_telegramchat_change", args=[chat.pk]),
    ):
        assert owner_client.get(url).status_code == 404, url
    listing = owner_client.get(reverse("admin:messengers_telegrambot_changelist")).content.decode()
    assert "globex_bot" not in listing
    chats = owner_client.get(reverse("admin:messengers_telegramchat_changelist")).context["cl"].result_list
    assert list(chats) == []


def test_deleting_the_bot_removes_its_webhook(owner_client, bot, bot_token, fake_telegram):
    response = owner_client.post(reverse("admin:messengers_telegrambot_delete", args=[bot.pk]), {"post": "yes"})
    assert response.status_code == 302
    assert fake_telegram.webhook(bot_token) == {}
    with scopes_disabled():
        assert not TelegramBot.objects.exists()


def test_one_bot_per_company(owner_client, bot):
    assert owner_client.get(reverse("admin:messengers_telegrambot_add")).status_code == 403
