"""Continue in Telegram, end to end: the widget in Chromium on a host site, a real Parley (daphne,
Redis, SQLite), the local fake Bot API, Telegram's webhook posts made as Telegram makes them, and the
operator's dashboard. Screenshots (widget and dashboard, en/ru/pl, desktop and 375 px) land in
docs/screenshots/ with PARLEY_SCREENSHOTS=1, else in a temporary folder."""

from __future__ import annotations

import re
import subprocess
import time
from pathlib import Path

import pytest
import requests

from tests.messengers.fake_telegram import FakeTelegram
from tests.processes import CHROMIUM
from tests.shared.browser import bubble, open_widget, operator_socket, send, shooter, start_chat, wait_launcher
from tests.widget.live import PYTHON, ROOT, live_parley

pytestmark = [pytest.mark.browser, pytest.mark.slow]

shot = shooter("telegram")

PUBLIC_URL = "https://parley.example"  # Telegram takes only HTTPS webhooks; the test posts to daphne itself
DESKTOP = {"width": 1000, "height": 760}
PHONE = {"width": 375, "height": 740}
TELEGRAM_PAGE = "<!doctype html><title>Telegram</title><p>t.me</p>"


@pytest.fixture(scope="module")
def fake():
    server = FakeTelegram().start()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def parley(fake):
    if not Path(CHROMIUM).exists():
        pytest.skip(f"no Chromium at {CHROMIUM} (set PARLEY_CHROMIUM)")
    with live_parley({"PARLEY_TELEGRAM_API_BASE": fake.url, "PARLEY_TELEGRAM_CHAT_INTERVAL": "0"}) as server:
        yield server


@pytest.fixture(scope="module")
def bot_token(parley, fake):
    token = fake.add_bot("acme_help_bot")
    code = (
        "import django\ndjango.setup()\n"
        "from apps.accounts.models import Tenant\nfrom apps.messengers import services\n"
        f"tenant = Tenant.objects.get(pk={parley.tenant_id})\n"
        f"print(services.telegram_bot_connect(tenant=tenant, token={token!r}).status)\n"
    )
    env = {**parley.env, "PARLEY_BASE_URL": PUBLIC_URL}
    status = subprocess.run(  # noqa: S603
        [PYTHON, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60, check=True
    ).stdout.strip()
    assert status.endswith("active")
    return token


@pytest.fixture
def operator(parley):
    client = operator_socket(parley)
    yield client
    client.close()


class TelegramPerson:
    """Posts updates to Parley's webhook the way Telegram does (the secret header it was given)."""

    update_id = 900_000

    def __init__(self, parley, fake, token, user_id=4242, first_name="Ivan", username="ivan_p"):
        hook = fake.webhook(token)
        self.url = parley.base_url + hook["url"].removeprefix(PUBLIC_URL)
        self.secret = hook["secret_token"]
        self.user_id, self.first_name, self.username = user_id, first_name, username

    def says(self, text: str) -> None:
        TelegramPerson.update_id += 1
        sender = {"id": self.user_id, "is_bot": False, "first_name": self.first_name, "username": self.username}
        update = {
            "update_id": TelegramPerson.update_id,
            "message": {
                "message_id": TelegramPerson.update_id,
                "from": sender,
                "chat": {"id": self.user_id, "first_name": self.first_name, "type": "private"},
                "date": int(time.time()),
                "text": text,
            },
        }
        response = requests.post(
            self.url, json=update, headers={"X-Telegram-Bot-Api-Secret-Token": self.secret}, timeout=30
        )
        assert response.status_code == 200


def wait_sent(fake, chat_id, predicate, timeout=10.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if any(predicate(m) for m in fake.sent.get(chat_id, [])):
            return
        time.sleep(0.05)
    raise AssertionError(f"nothing matching reached Telegram chat {chat_id}: {fake.sent.get(chat_id)}")


def continue_in_telegram(context, frame) -> str:
    """Click the button; return the deep link the new tab opened."""
    with context.expect_page() as opened:
        frame.locator("#pw-telegram").click()
    tab = opened.value
    tab.wait_for_url(re.compile(r"^https://t\.me/"), timeout=10000)
    url = tab.url
    tab.close()
    return url


def test_a_widget_visitor_continues_in_telegram_with_the_same_conversation(
    parley, host, browser, operator, fake, bot_token
):
    context = browser.new_context(viewport=DESKTOP)
    context.route("https://t.me/**", lambda route: route.fulfill(body=TELEGRAM_PAGE, content_type="text/html"))
    page = context.new_page()
    page.goto(host + "/index.html")
    wait_launcher(page)
    frame = open_widget(page)
    start_chat(frame, "Ivan")
    send(frame, "Where is my order 4411?")
    conversation = operator.visitor_message("Where is my order 4411?")["conversation"]

    url = continue_in_telegram(context, frame)
    match = re.fullmatch(r"https://t\.me/acme_help_bot\?start=([A-Za-z0-9_-]{16,64})", url)
    assert match, url
    person = TelegramPerson(parley, fake, bot_token)
    person.says(f"/start {match.group(1)}")
    wait_sent(fake, person.user_id, lambda m: "connected" in m["text"])

    person.says("I am on the train now, writing from Telegram")
    arrived = operator.visitor_message("I am on the train now, writing from Telegram")
    assert arrived["conversation"] == conversation  # the same conversation, not a new one
    bubble(frame, "writing from Telegram").wait_for()  # and the widget still shows the chat

    operator.send(type="accept", conversation=conversation)
    operator.send(
        type="send", conversation=conversation, client_id="op-tg-1", body="It ships today <b>&</b> arrives tomorrow"
    )
    wait_sent(fake, person.user_id, lambda m: m["text"].endswith("It ships today <b>&</b> arrives tomorrow"))
    bubble(frame, "arrives tomorrow").wait_for()
    shot(page, "widget-en-1000")

    # The operator sees the channel in the list and the Telegram chat on the visitor card.
    context.add_cookies([{"name": "sessionid", "value": parley.session, "url": parley.base_url}])
    dashboard = context.new_page()
    dashboard.set_viewport_size({"width": 1280, "height": 800})
    dashboard.goto(parley.base_url + "/app/")
    dashboard.wait_for_selector('#conn[data-state="online"]', state="attached", timeout=10000)
    dashboard.click('.boxes [data-box="mine"]')
    row = dashboard.locator(f'#conv-list .conv[data-id="{conversation}"]')
    row.locator(".badge.channel-telegram").wait_for()
    row.click()
    dashboard.locator(".telegram-card .telegram-who", has_text="@ivan_p").wait_for()
    shot(dashboard, "dashboard-en-1280")
    context.close()


@pytest.mark.parametrize("lang", ["en", "ru", "pl"])
@pytest.mark.parametrize("viewport", [DESKTOP, PHONE], ids=["desktop", "375"])
def test_screenshots_of_the_button_and_the_card(parley, host, browser, operator, fake, bot_token, lang, viewport):
    locale = {"en": "en-GB", "ru": "ru-RU", "pl": "pl-PL"}[lang]
    phone = viewport["width"] < 500
    context = browser.new_context(viewport=viewport, locale=locale, is_mobile=phone, has_touch=True)
    context.route("https://t.me/**", lambda route: route.fulfill(body=TELEGRAM_PAGE, content_type="text/html"))
    page = context.new_page()
    page.goto(host + "/index.html")
    wait_launcher(page)
    frame = open_widget(page)
    name = {"en": "Sam", "ru": "Анна", "pl": "Zofia"}[lang]
    start_chat(frame, name)
    text = {
        "en": "Hi! Can I get updates in Telegram?",
        "ru": "Можно продолжить в Telegram?",
        "pl": "Czy mogę pisać na Telegramie?",
    }[lang]
    send(frame, text)
    conversation = operator.visitor_message(text)["conversation"]
    button = frame.locator("#pw-telegram")
    button.wait_for()
    expected = {"en": "Continue in Telegram", "ru": "Продолжить в Telegram", "pl": "Kontynuuj w Telegramie"}[lang]
    assert button.inner_text().strip() == expected
    url = continue_in_telegram(context, frame)
    frame.locator(".pw-tg-note:not(:empty)").wait_for()
    width = viewport["width"]
    shot(page, f"widget-{lang}-{width}")

    # One Telegram person per case: the same person starting twice would (rightly) merge the two visitors.
    number = {"en": 1, "ru": 2, "pl": 3}[lang] * 10_000 + width
    username = {"en": "sam_w", "ru": "anna_s", "pl": "zofia_k"}[lang]
    person = TelegramPerson(parley, fake, bot_token, user_id=number, first_name=name, username=username)
    person.says("/start " + url.split("start=", 1)[1])
    wait_sent(fake, person.user_id, lambda m: True)
    operator.send(type="accept", conversation=conversation)
    context.add_cookies(
        [
            {"name": "sessionid", "value": parley.session, "url": parley.base_url},
            {"name": "django_language", "value": lang, "url": parley.base_url},
        ]
    )
    dashboard = context.new_page()
    if not phone:
        dashboard.set_viewport_size({"width": 1280, "height": 800})
    dashboard.goto(parley.base_url + "/app/")
    dashboard.wait_for_selector('#conn[data-state="online"]', state="attached", timeout=10000)
    dashboard.click('.boxes [data-box="mine"]')
    dashboard.locator(f'#conv-list .conv[data-id="{conversation}"]').click()
    if phone:
        dashboard.click("#act-card")
    section = dashboard.locator(".telegram-card")
    section.wait_for()
    section.scroll_into_view_if_needed()
    shot(dashboard, f"dashboard-{lang}-{1280 if not phone else 375}")
    context.close()
