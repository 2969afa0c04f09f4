"""Connecting a bot: getMe, the webhook with a secret, the token kept encrypted, failures shown."""

import pytest
from django.db import connection
from django_scopes import scopes_disabled

from apps.conversations.errors import BadInput
from apps.messengers import services
from apps.messengers.models import TelegramBot
from apps.messengers.services.bots import webhook_url

pytestmark = pytest.mark.django_db


def test_connecting_checks_the_token_and_sets_a_webhook_with_a_secret(tenant, fake_telegram, bot_token):
    bot = services.telegram_bot_connect(tenant=tenant, token=bot_token)

    assert [c.method for c in fake_telegram.calls] == ["getMe", "setWebhook"]
    hook = fake_telegram.webhook(bot_token)
    assert hook["url"] == webhook_url(bot)
    assert hook["url"].startswith("https://parley.example/messengers/telegram/")
    assert bot_token not in hook["url"]
    assert hook["secret_token"] == bot.secret_token and len(bot.secret_token) >= 32
    assert hook["allowed_updates"] == ["message", "my_chat_member"]
    assert bot.status == TelegramBot.Status.ACTIVE
    assert bot.username == "acme_help_bot"


def test_the_token_is_stored_encrypted(tenant, fake_telegram, bot_token):
    bot = services.telegram_bot_connect(tenant=tenant, token=bot_token)
    with connection.cursor() as cursor, scopes_disabled():
        cursor.execute("SELECT token_encrypted FROM messengers_telegrambot WHERE id = %s", [bot.pk])
        stored = cursor.fetchone()[0]
    assert bot_token not in stored
    assert bot_token.split(":")[1] not in stored


@pytest.mark.parametrize("token", ["", "not a token", "123:abc/def", "abc:def", "1" * 90 + ":" + "a" * 20])
def test_a_malformed_token_is_refused_without_asking_telegram(tenant, fake_telegram, token):
    with pytest.raises(BadInput):
        services.telegram_bot_connect(tenant=tenant, token=token)
    assert fake_telegram.calls == []
    with scopes_disabled():
        assert not TelegramBot.objects.exists()


def test_a_token_telegram_does_not_know_changes_nothing(tenant, fake_telegram, bot_token):
    fake_telegram.revoke(bot_token)
    with pytest.raises(BadInput) as refused:
        services.telegram_bot_connect(tenant=tenant, token=bot_token)
    assert "does not accept" in refused.value.message
    with scopes_disabled():
        assert not TelegramBot.objects.exists()


def test_a_refused_webhook_is_saved_and_shown(tenant, fake_telegram, bot_token, settings):
    settings.PARLEY_BASE_URL = "http://localhost:8000"  # Telegram wants HTTPS
    bot = services.telegram_bot_connect(tenant=tenant, token=bot_token)
    assert bot.status == TelegramBot.Status.WEBHOOK_FAILED
    assert "HTTPS" in bot.last_error


def test_a_new_token_gets_a_new_secret(tenant, fake_telegram, bot_token):
    first = services.telegram_bot_connect(tenant=tenant, token=bot_token)
    second = services.telegram_bot_connect(tenant=tenant, token=bot_token)
    assert first.pk == second.pk
    assert first.secret_token != second.secret_token
    assert fake_telegram.webhook(bot_token)["secret_token"] == second.secret_token


def test_check_notices_a_revoked_token(tenant, fake_telegram, bot_token, bot):
    fake_telegram.revoke(bot_token)
    checked = services.telegram_bot_check(tenant=tenant)
    assert checked.status == TelegramBot.Status.TOKEN_REVOKED
    assert checked.last_error == "Unauthorized"


def test_check_sets_the_webhook_again_when_someone_changed_it(tenant, fake_telegram, bot_token, bot):
    fake_telegram.webhook(bot_token)["url"] = "https://elsewhere.example/hook"
    checked = services.telegram_bot_check(tenant=tenant)
    assert checked.status == TelegramBot.Status.ACTIVE
    assert fake_telegram.webhook(bot_token)["url"] == webhook_url(checked)


def test_disconnecting_deletes_the_webhook_and_the_bot(tenant, fake_telegram, bot_token, bot):
    services.telegram_bot_disconnect(tenant=tenant)
    assert fake_telegram.webhook(bot_token) == {}
    with scopes_disabled():
        assert not TelegramBot.objects.exists()
