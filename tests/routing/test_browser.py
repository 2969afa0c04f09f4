"""Routing end to end in Chromium: a real Parley (daphne), a real Celery worker with beat running
the sweeper, two operators' dashboards and a visitor in the widget on a host page.

The visitor writes; the first online operator is offered the chat and ignores it; at the offer's
deadline the sweeper offers it to the second operator, who accepts with the hotkey; the first
one is paused and sees why. Then, with nobody free, a new visitor sees their place in the queue
(en, ru, pl; desktop and 375 px). Olga's list shows a next-response countdown and a breached
next-response mark. PARLEY_SCREENSHOTS=1 writes the PNGs to docs/screenshots/.
"""

from __future__ import annotations

import json
import subprocess
import time
from pathlib import Path

import pytest

from tests.processes import CHROMIUM, stop_process
from tests.shared.browser import open_widget, send, shooter, start_chat, wait_launcher
from tests.widget.live import PYTHON, ROOT, live_parley

pytestmark = [pytest.mark.browser, pytest.mark.slow]

shot = shooter("routing")

DESKTOP = {"width": 1280, "height": 800}
PHONE = {"width": 375, "height": 740}

SETUP = r"""
import json
from django.test import Client
from apps.accounts.models import Membership, Role, Tenant, User
from apps.routing.models import RoutingSettings
from apps.routing.presence import presence_set

with scopes_disabled():
    tenant = Tenant.objects.get(slug="acme-shop")
    olga = Membership.objects.get(tenant=tenant, user__email="olga@acme.test")
    user = User.objects.create_user(email="boris@acme.test", password="correct horse battery", name="Boris")
    boris = Membership.objects.create(tenant=tenant, user=user, role=Role.OPERATOR, display_name="Boris")
    RoutingSettings.objects.create(
        tenant=tenant, offer_seconds=5, missed_offers_to_pause=1,
        queue_message="Thanks for waiting! Our team answers in order of arrival.",
    )
presence_set(tenant=tenant, membership=olga, status="online")
presence_set(tenant=tenant, membership=boris, status="online")
sessions = {}
for m in (olga, boris):
    client = Client()
    client.force_login(m.user)
    sessions[m.user.email] = client.cookies["sessionid"].value
print(json.dumps({"olga": olga.pk, "boris": boris.pk, "sessions": sessions}))
"""


@pytest.fixture(scope="module")
def parley():
    if not Path(CHROMIUM).exists():
        pytest.skip(f"no Chromium at {CHROMIUM} (set PARLEY_CHROMIUM)")
    # Not eager: daphne only enqueues, and the worker below routes, as in production.
    with live_parley({"PARLEY_ROUTING_SWEEP_SECONDS": "1", "CELERY_TASK_ALWAYS_EAGER": "0"}) as server:
        server.routing = json.loads(server.django(SETUP).splitlines()[-1])
        log = open(Path(server.database).parent / "celery.log", "w")  # noqa: SIM115 - closed below
        worker = subprocess.Popen(  # noqa: S603 - a real worker with beat: the sweeper runs as in production
            [
                PYTHON,
                "-m",
                "celery",
                "-A",
                "config",
                "worker",
                "-B",
                "--pool",
                "solo",
                "--loglevel",
                "INFO",
                "--schedule",
                str(Path(server.database).parent / "beat-schedule"),
            ],
            cwd=ROOT,
            env=server.env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        try:
            yield server
        finally:
            stop_process(worker)
            log.close()


def dashboard(browser, parley, email, *, viewport=DESKTOP, locale="en-US"):
    context = browser.new_context(viewport=viewport, locale=locale)
    context.add_cookies([{"name": "sessionid", "value": parley.routing["sessions"][email], "url": parley.base_url}])
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.goto(f"{parley.base_url}/app/")
    page.wait_for_selector('#conn[data-state="online"]', state="attached", timeout=15000)
    return page, errors


def test_an_ignored_offer_moves_on_is_accepted_by_hotkey_and_the_first_operator_is_paused(parley, host, browser):
    olga, olga_errors = dashboard(browser, parley, "olga@acme.test")
    boris, boris_errors = dashboard(browser, parley, "boris@acme.test")
    visitor_context = browser.new_context(viewport={"width": 1000, "height": 760})
    visitor = visitor_context.new_page()
    visitor.goto(host + "/index.html")
    wait_launcher(visitor)
    frame = open_widget(visitor)
    start_chat(frame, name="Vera")
    written = time.monotonic()
    send(frame, "Hello, is anyone there?")

    # Olga (first in the round) is offered the chat: the banner, with its countdown.
    olga.wait_for_selector("#offer-banner", timeout=5000)
    offered_after = time.monotonic() - written
    assert "Vera" in olga.locator("#offer-banner").inner_text() or "#" in olga.locator("#offer-banner").inner_text()
    assert boris.locator("#offer-banner").count() == 0
    shot(olga, "offer-desktop")

    # She ignores it: at the deadline (5 s here) the sweeper in the Celery worker moves it to Boris.
    boris.wait_for_selector("#offer-banner", timeout=15000)
    olga.wait_for_selector("#offer-banner", state="detached", timeout=5000)
    # One missed offer pauses her here (missed_offers_to_pause=1), and her header says why.
    olga.wait_for_function("() => document.getElementById('op-status').value === 'paused'", timeout=5000)
    olga.wait_for_selector("#op-status-reason:not([hidden])", timeout=5000)
    assert "missed" in olga.locator("#op-status-reason").inner_text()
    shot(olga, "paused-reason-desktop")

    # Boris accepts with the hotkey: the chat is his, and the visitor sees it.
    boris.locator("body").press("a")
    boris.wait_for_selector("#chat-status.status-open", timeout=5000)
    boris.wait_for_selector("#offer-banner", state="detached", timeout=5000)
    frame.wait_for_selector(".pw-bubble:has-text('Boris')", timeout=5000)
    assert frame.locator("#pw-queue .pw-queue-info").count() == 0
    assert olga_errors == [] and boris_errors == []
    assert offered_after < 5, f"offer reached the dashboard after {offered_after:.2f}s"
    for page in (olga, boris, visitor):
        page.context.close()


@pytest.mark.parametrize("lang", ["en", "ru", "pl"])
def test_a_waiting_visitor_sees_the_queue_message_and_their_place(parley, host, browser, lang):
    # Nobody is free: both operators are paused, so the chat waits in the queue.
    parley.django(
        "from apps.accounts.models import Membership, Tenant\n"
        "from apps.routing.presence import presence_set\n"
        "with scopes_disabled():\n"
        "    tenant = Tenant.objects.get(slug='acme-shop')\n"
        "    members = list(Membership.objects.filter(tenant=tenant))\n"
        "for m in members:\n"
        "    presence_set(tenant=tenant, membership=m, status='paused')\n"
    )
    for name, viewport in (("desktop", {"width": 1000, "height": 760}), ("375", PHONE)):
        context = browser.new_context(viewport=viewport, locale={"en": "en-US", "ru": "ru-RU", "pl": "pl-PL"}[lang])
        page = context.new_page()
        page.goto(host + "/index.html")
        wait_launcher(page)
        frame = open_widget(page)
        start_chat(frame, name="Ivan")
        send(frame, {"en": "Hi there", "ru": "Здравствуйте", "pl": "Dzień dobry"}[lang])
        frame.wait_for_selector("#pw-queue .pw-queue-place", timeout=10000)
        place = frame.locator("#pw-queue .pw-queue-place").inner_text()
        assert any(ch.isdigit() for ch in place)
        assert "Thanks for waiting" in frame.locator("#pw-queue").inner_text()
        expected = {"en": "in the queue", "ru": "в очереди", "pl": "w kolejce"}[lang]
        assert expected in place
        shot(page, f"widget-queue-{lang}-{name}")
        context.close()


@pytest.mark.parametrize("lang", ["ru", "pl"])
def test_the_offer_banner_reads_in_russian_and_polish(parley, host, browser, lang):
    # A chat of its own waits while everyone is paused (an offer Olga let expire in an earlier
    # case is never offered to her again); Olga comes back online and is offered it at once.
    parley.django(
        "from apps.accounts.models import Membership\n"
        "from apps.conversations import services\n"
        "from apps.routing.presence import presence_set\n"
        "with scopes_disabled():\n"
        "    olga = Membership.objects.select_related('tenant').get(user__email='olga@acme.test')\n"
        "    members = list(Membership.objects.filter(tenant=olga.tenant))\n"
        "for m in members:\n"
        "    presence_set(tenant=olga.tenant, membership=m, status='paused')\n"
        f"v = services.visitor_identify(tenant=olga.tenant, anonymous_id='banner-visitor-{lang}-000001', name='Ivan')\n"
        f"services.visitor_message_receive(tenant=olga.tenant, visitor=v, client_id='banner-{lang}', body='Hello')\n"
        "presence_set(tenant=olga.tenant, membership=olga, status='online')\n"
    )
    for name, viewport in (("desktop", DESKTOP), ("375", PHONE)):
        page, errors = dashboard(browser, parley, "olga@acme.test", viewport=viewport, locale=f"{lang}-{lang.upper()}")
        page.wait_for_selector("#offer-banner", timeout=15000)
        expected = {"ru": "Принять", "pl": "Przyjmij"}[lang]
        assert expected in page.locator("#offer-banner").inner_text()
        # The banner covers neither the list's tabs nor the header (a trial click fails on a covered target).
        page.locator('[role="tab"][data-box="mine"]').click(trial=True, timeout=3000)
        page.locator("#op-status").click(trial=True, timeout=3000)
        shot(page, f"dashboard-offer-{lang}-{name}")
        page.context.close()
        assert errors == []


SLA_SETUP = r"""
from apps.accounts.models import Department, Membership
from apps.conversations import services
from apps.routing.models import DepartmentRouting, RoutingSettings

with scopes_disabled():
    olga = Membership.objects.select_related("tenant").get(user__email="olga@acme.test")
    tenant = olga.tenant
    RoutingSettings.objects.filter(tenant=tenant).update(sla_next_response_seconds=600)
    returns = Department.objects.create(tenant=tenant, name="Returns")
    DepartmentRouting.objects.create(tenant=tenant, department=returns, sla_next_response_seconds=1)
for name, department in (("Nadia", None), ("Piotr", returns)):
    visitor = services.visitor_identify(tenant=tenant, anonymous_id=f"sla-visitor-{name.lower()}-0001", name=name)
    chat = services.conversation_start(tenant=tenant, visitor=visitor, department=department)
    services.conversation_accept(tenant=tenant, conversation=chat, membership=olga)
    services.message_send(
        tenant=tenant, conversation=chat, author_type="operator", author=olga, body="Hello!", client_id="sla-o1"
    )
    services.message_send(
        tenant=tenant, conversation=chat, author_type="visitor", body="One more question", client_id="sla-v1"
    )
"""


def test_the_dashboard_shows_a_next_response_countdown_and_a_breach_mark(parley, browser):
    parley.django(SLA_SETUP)
    texts = {
        "en": ("reply within", "reply overdue"),
        "ru": ("ответить в течение", "ответ просрочен"),
        "pl": ("odpowiedz w ciągu", "odpowiedź spóźniona"),
    }
    for lang, (countdown, overdue) in texts.items():
        for name, viewport in (("desktop", DESKTOP), ("375", PHONE)):
            page, errors = dashboard(
                browser, parley, "olga@acme.test", viewport=viewport, locale=f"{lang}-{lang.upper()}"
            )
            page.click('.boxes [data-box="mine"]')
            nadia = page.locator("#conv-list .conv", has_text="Nadia")
            piotr = page.locator("#conv-list .conv", has_text="Piotr")
            # Piotr's department allows 1 s: the sweeper in the worker has marked the breach.
            piotr.locator(".badge.sla-breached").wait_for(timeout=15000)
            nadia.locator(".badge.sla").wait_for(timeout=15000)
            assert overdue in piotr.locator(".badge.sla-breached").inner_text()
            assert countdown in nadia.locator(".badge.sla").inner_text()
            shot(page, f"dashboard-sla-{lang}-{name}")
            page.context.close()
            assert errors == []
