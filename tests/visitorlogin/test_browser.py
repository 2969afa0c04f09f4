"""A visitor logs in through the fake provider in a real popup (Chromium, daphne, allauth's views,
the loopback OAuth server) and the operator's visitor card shows the name at once. Screenshots
(PARLEY_SCREENSHOTS=1 writes docs/screenshots/, else a temporary folder)."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from tests.processes import CHROMIUM
from tests.shared.browser import open_widget, operator_socket, send, shooter, start_chat, wait_launcher
from tests.visitorlogin.fake_oauth import CLIENTS, FakeOAuth
from tests.widget.live import PYTHON, ROOT, live_parley

pytestmark = [pytest.mark.browser, pytest.mark.slow]

shot = shooter("login")


@pytest.fixture(scope="module")
def fake():
    server = FakeOAuth().start()
    # No picture: the browser could not load the example host, and the card would show a broken image.
    server.users["google"].pop("picture")
    yield server
    server.stop()


@pytest.fixture(scope="module")
def parley(fake):
    if not Path(CHROMIUM).exists():
        pytest.skip(f"no Chromium at {CHROMIUM} (set PARLEY_CHROMIUM)")
    with live_parley({"PARLEY_OAUTH_ENDPOINTS": json.dumps(fake.endpoints())}) as server:
        client_id, secret = CLIENTS["google"]
        code = (
            "import django\ndjango.setup()\n"
            "from apps.accounts.models import Tenant\nfrom apps.visitorlogin import services\n"
            f"tenant = Tenant.objects.get(pk={server.tenant_id})\n"
            f"services.visitor_login_provider_save(tenant=tenant, provider='google', client_id={client_id!r}, "
            f"secret={secret!r})\n"
        )
        subprocess.run([PYTHON, "-c", code], cwd=ROOT, env=server.env, check=True, timeout=60)  # noqa: S603
        yield server


@pytest.fixture
def operator(parley):
    client = operator_socket(parley)
    yield client
    client.close()


@pytest.mark.parametrize("lang", ["en", "ru", "pl"])
@pytest.mark.parametrize("width", [1000, 375])
def test_a_visitor_logs_in_in_the_popup_and_the_card_shows_the_name_at_once(
    parley, host, browser, operator, fake, lang, width
):
    locale = {"en": "en-GB", "ru": "ru-RU", "pl": "pl-PL"}[lang]
    phone = width < 500
    context = browser.new_context(
        viewport={"width": width, "height": 760}, locale=locale, is_mobile=phone, has_touch=True
    )
    page = context.new_page()
    page.goto(host + "/index.html")
    wait_launcher(page)
    frame = open_widget(page)
    frame.locator("#pw-prechat .pw-login-btn[data-provider=google]").wait_for()
    shot(page, f"widget-prechat-{lang}-{width}")
    start_chat(frame, {"en": "Ann", "ru": "Аня", "pl": "Ania"}[lang])
    text = {
        "en": "Hello, I ordered yesterday",
        "ru": "Здравствуйте, я заказала вчера",
        "pl": "Dzień dobry, zamawiałam wczoraj",
    }[lang]
    send(frame, text)
    conversation = operator.visitor_message(text)["conversation"]
    operator.send(type="accept", conversation=conversation)

    # The operator has the chat open with the card.
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
    dashboard.locator("#card input[name=name]").wait_for()

    # A Google account of its own per case: one account logging in again would (rightly) join the
    # earlier case's visitor, and this card would then belong to a visitor that no longer exists.
    fake.users["google"]["sub"] = f"10800000000000{width}{lang}"
    with context.expect_page() as opened:
        frame.locator("#pw-chat .pw-login-btn[data-provider=google]").click()
    popup = opened.value
    popup.wait_for_event("close", timeout=20000)  # allauth, the fake Google and back; it closes itself
    frame.locator(".pw-login-chat .pw-login-note", has_text="Ada Lovelace").wait_for()
    shot(page, f"widget-{lang}-{width}")

    # At once, without a reload: the card shows what Google said.
    dashboard.wait_for_function(
        "() => document.querySelector('#card input[name=name]')?.value === 'Ada Lovelace'", timeout=10000
    )
    assert dashboard.locator("#card input[name=email]").input_value() == "ada@gmail.example"
    shot(dashboard, f"card-{lang}-{1280 if not phone else 375}")
    context.close()
