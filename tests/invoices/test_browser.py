"""Billing in the chat, in Chromium against a real Parley (daphne, Redis, SQLite): the operator
bills two lines from the dashboard, the visitor sees the card in the widget and pays through a
local stand-in of Stripe's hosted page, which fires a correctly signed webhook; both sides turn
"paid" without a reload. The Stripe API is a loopback fake (tests/invoices/fakes.py) that the
real `stripe` SDK inside Parley talks to.

PARLEY_SCREENSHOTS=1 writes the card screenshots (en, ru, pl at 375 px) to docs/screenshots/.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.invoices.fakes import FakeServer, StripeAPI
from tests.invoices.hosted import HostedCheckout
from tests.processes import CHROMIUM
from tests.shared.browser import open_widget, send, shooter, start_chat, wait_launcher
from tests.widget.live import live_parley

pytestmark = [pytest.mark.browser, pytest.mark.slow]

shot = shooter("")

WEBHOOK_SECRET = "whsec_browsertestsecret000000000000"

SEED = """
from apps.accounts.models import Tenant
from apps.invoices import keys
from apps.invoices.models import InvoiceSettings, PaymentAccount
with scopes_disabled():
    tenant = Tenant.objects.get(slug="acme-shop")
    InvoiceSettings.objects.create(
        tenant=tenant, legal_name="Acme Shop GmbH", address="Hauptstraße 1, 10115 Berlin", tax_id="DE123456789",
        default_currency="EUR", default_provider="stripe", number_prefix="AS-",
    )
    account = PaymentAccount.objects.create(
        tenant=tenant, provider="stripe", secret_key_encrypted=keys.encrypt("sk_test_51BrowserTestKey0000000000"),
        webhook_secret_encrypted=keys.encrypt(WEBHOOK_SECRET),
    )
print(account.webhook_token)
""".replace("WEBHOOK_SECRET", repr(WEBHOOK_SECRET))

# Bill the newest conversation of the visitor named NAME from a subprocess (for the screenshots).
BILL = """
from apps.accounts.models import Membership
from apps.conversations.models import Conversation
from apps.invoices import services
with scopes_disabled():
    conversation = Conversation.objects.filter(visitor__name=%r).latest("created_at")
    olga = Membership.objects.get(tenant=conversation.tenant, user__email="olga@acme.test")
invoice = services.invoice_create(tenant=conversation.tenant, conversation=conversation, created_by=olga,
                                  lines=%r, currency=%r)
services.invoice_send(tenant=conversation.tenant, invoice=invoice, by=olga)
"""

SCREENSHOT_LINES = {
    "en": (
        [
            {"description": "Trail 42 boots, size 43", "unit_price": "129.90", "tax_rate": "19"},
            {"description": "Express shipping", "unit_price": "9.90", "tax_rate": "19"},
        ],
        "EUR",
    ),
    "ru": (
        [
            {"description": "Ботинки Trail 42, размер 43", "unit_price": "12990", "tax_rate": "20"},
            {"description": "Доставка курьером", "unit_price": "490", "tax_rate": "20"},
        ],
        "RUB",
    ),
    "pl": (
        [
            {"description": "Buty Trail 42, rozmiar 43 (źdźbło)", "unit_price": "549.00", "tax_rate": "23"},
            {"description": "Wysyłka kurierem", "unit_price": "19.99", "tax_rate": "23"},
        ],
        "PLN",
    ),
}


@pytest.fixture(scope="module")
def stripe_api():
    api = StripeAPI()
    server = FakeServer(api).start()
    api.server = server
    api.hosted_page_base = server.url + "/pay"
    yield api
    server.stop()


@pytest.fixture(scope="module")
def parley(stripe_api):
    if not Path(CHROMIUM).exists():
        pytest.skip(f"no Chromium at {CHROMIUM} (set PARLEY_CHROMIUM)")
    with live_parley(extra_env={"PARLEY_STRIPE_API_BASE": stripe_api.server.url}) as server:
        webhook_token = server.django(SEED).splitlines()[-1]
        stripe_api.hosted_page = HostedCheckout(
            f"{server.base_url}/invoices/webhooks/stripe/{webhook_token}/", WEBHOOK_SECRET
        )
        yield server


def fill_line(row, description, quantity, price, tax):
    row.locator('[name="description"]').fill(description)
    row.locator('[name="quantity"]').fill(quantity)
    row.locator('[name="unit_price"]').fill(price)
    row.locator('[name="tax_rate"]').fill(tax)


def test_the_operator_bills_two_lines_and_the_visitor_pays_both_see_paid_without_reload(
    parley,
    host,  # noqa: F811 - the imported fixture
    browser,  # noqa: F811 - the imported fixture
    stripe_api,
):
    errors: list[str] = []
    visitor_context = browser.new_context(viewport={"width": 1000, "height": 800}, locale="en-US")
    visitor = visitor_context.new_page()
    visitor.on("pageerror", lambda exc: errors.append(f"visitor: {exc}"))
    visitor.goto(host + "/index.html")
    wait_launcher(visitor)
    frame = open_widget(visitor)
    frame.wait_for_selector("#pw-prechat:not([hidden])")
    start_chat(frame, "Bill Payer")
    send(frame, "Could I get an invoice for the boots and shipping?")

    operator_context = browser.new_context(viewport={"width": 1280, "height": 860}, locale="en-US")
    operator_context.add_cookies([{"name": "sessionid", "value": parley.session, "url": parley.base_url}])
    operator = operator_context.new_page()
    operator.on("pageerror", lambda exc: errors.append(f"operator: {exc}"))
    operator.goto(parley.base_url + "/app/")
    operator.wait_for_selector('#conn[data-state="online"]', state="attached", timeout=10000)
    operator.locator("#conv-list .conv", has_text="Bill Payer").first.click()
    operator.locator("#act-accept").click()

    # Bill two lines from the chat: preview the draft, then send it.
    operator.locator("#invoice-bill").click()
    rows = operator.locator("#invoice-lines .invoice-line-row")
    fill_line(rows.nth(0), "Trail 42 boots", "1", "129.90", "19")
    operator.locator("#invoice-add-line").click()
    fill_line(rows.nth(1), "Express shipping", "1", "9.90", "19")
    operator.locator("#invoice-preview-btn").click()
    preview = operator.locator("#invoice-preview .invoice-card")
    preview.wait_for()
    assert "166.36" in preview.inner_text()  # (129.90 + 24.68) + (9.90 + 1.88)
    shot(operator, "invoice-dialog-1280-en")
    operator.locator("#invoice-send").click()
    operator_card = operator.locator("#messages .invoice-card")
    operator_card.locator(".badge.invoice-sent").wait_for()

    # The visitor sees the card with its lines and a Pay button.
    card = frame.locator(".pw-invoice")
    card.wait_for()
    assert "Trail 42 boots" in card.inner_text() and "Express shipping" in card.inner_text()
    operator.evaluate("window.__sameOperatorPage = true")
    frame.evaluate("window.__sameWidgetPage = true")

    # Pay opens the hosted page in a new tab; paying there fires the signed webhook.
    with visitor_context.expect_page() as opened:
        frame.locator(".pw-inv-pay").click()
    checkout = opened.value
    checkout.wait_for_load_state()
    assert "/pay/cs_test_" in checkout.url
    assert visitor.url.startswith(host)  # the shop page stayed where it was
    checkout.locator("#pay").click()
    checkout.locator("#done").wait_for()
    assert stripe_api.hosted_page.delivered == [200]

    # Both sides turn "paid" live, without a reload.
    frame.locator(".pw-invoice-paid").wait_for(timeout=10000)
    operator_card.locator(".badge.invoice-paid").wait_for(timeout=10000)
    assert frame.evaluate("window.__sameWidgetPage") is True
    assert operator.evaluate("window.__sameOperatorPage") is True
    assert frame.locator(".pw-inv-pay").count() == 0
    status = parley.django(
        "from apps.invoices.models import Invoice\nwith scopes_disabled():\n    print(Invoice.objects.get().status)"
    )
    assert status == "paid"
    operator.locator(".card-invoices .badge.invoice-paid").wait_for()  # the visitor card lists it
    shot(operator, "invoice-dashboard-1280-en")
    # On a phone the billing dialog fits the screen.
    operator.set_viewport_size({"width": 375, "height": 760})
    operator.locator("#invoice-bill").click()
    operator.locator("#invoice-lines .invoice-line-row").first.locator('[name="description"]').fill("Gift wrap")
    assert operator.evaluate("document.getElementById('invoice-dialog').scrollWidth <= 375")
    shot(operator, "invoice-dialog-375-en")
    assert errors == []
    visitor_context.close()
    operator_context.close()


@pytest.mark.parametrize("lang", ["en", "ru", "pl"])
def test_card_screenshots_on_a_phone(parley, host, browser, lang):  # noqa: F811 - the imported fixtures
    context = browser.new_context(viewport={"width": 375, "height": 740}, locale=lang, is_mobile=True, has_touch=True)
    page = context.new_page()
    page.goto(host + "/index.html")
    wait_launcher(page)
    frame = open_widget(page)
    frame.wait_for_selector("#pw-prechat:not([hidden])")
    name = f"Phone {lang}"
    start_chat(frame, name)
    send(frame, {"en": "Invoice, please.", "ru": "Выставьте счёт, пожалуйста.", "pl": "Poproszę fakturę."}[lang])
    lines, currency = SCREENSHOT_LINES[lang]
    parley.django(BILL % (name, lines, currency))
    card = frame.locator(".pw-invoice")
    card.wait_for(timeout=10000)
    assert lines[0]["description"] in card.inner_text()
    card.scroll_into_view_if_needed()
    page.wait_for_timeout(200)
    shot(page, f"invoice-card-375-{lang}")
    context.close()
