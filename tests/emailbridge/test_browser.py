"""The email bridge end to end, as its users meet it: a customer's email arrives over SMTP at
Parley's own server, the operator answers it in the dashboard, the reply leaves through a real
SMTP sink with the threading headers, the dashboard shows it was sent, and the customer's answer
(to the Reply-To address, with the In-Reply-To a mail client sets) lands in the same conversation.

Processes: daphne (tests/dashboard/live.py), `manage.py run_smtp`, an aiosmtpd Mailbox sink for
outbound mail; Celery runs eagerly inside them. Chromium through Playwright.
"""

from __future__ import annotations

import email
import os
import smtplib
import subprocess
import sys
import time
from email import policy
from email.message import EmailMessage
from pathlib import Path

import pytest

from tests.dashboard.live import ROOT, LiveParley, chromium_path
from tests.processes import CHROMIUM_ARGS, free_port, stop_process, wait_for_port

playwright_sync = pytest.importorskip("playwright.sync_api")

pytestmark = pytest.mark.slow


def customer_mail(*, to: str, subject: str, text: str, message_id: str, in_reply_to: str = "") -> bytes:
    mail = EmailMessage(policy=policy.SMTP)
    mail["From"] = "Katarzyna Nowak <kasia@example.pl>"
    mail["To"] = to
    mail["Subject"] = subject
    mail["Message-ID"] = message_id
    if in_reply_to:
        mail["In-Reply-To"] = in_reply_to
        mail["References"] = in_reply_to
    mail.set_content(text)
    return mail.as_bytes()


def sent_mail(maildir: Path, timeout: float = 10.0) -> list[email.message.EmailMessage]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        files = sorted((maildir / "new").glob("*")) if (maildir / "new").exists() else []
        if files:
            return [email.message_from_bytes(p.read_bytes(), policy=policy.default) for p in files]
        time.sleep(0.1)
    raise AssertionError("no mail reached the SMTP sink")


@pytest.fixture(scope="module")
def mail_rig(tmp_path_factory):
    """Parley (web + SMTP server) sending its mail to a sink; yields (live, smtp port, sink maildir)."""
    workdir = tmp_path_factory.mktemp("email-live")
    maildir = workdir / "maildir"
    sink_port, smtp_port = free_port(), free_port()
    sink = subprocess.Popen(  # noqa: S603
        [sys.executable, "-m", "aiosmtpd", "-n", "-l", f"127.0.0.1:{sink_port}", "-c", "aiosmtpd.handlers.Mailbox",
         str(maildir)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    live = None
    smtp = None
    try:
        wait_for_port(sink_port, process=sink)
        live = LiveParley(
            workdir,
            env={
                "EMAIL_BACKEND": "django.core.mail.backends.smtp.EmailBackend",
                "EMAIL_HOST": "127.0.0.1",
                "EMAIL_PORT": str(sink_port),
            },
        )
        log = open(workdir / "smtp.log", "w")  # noqa: SIM115
        smtp = subprocess.Popen(  # noqa: S603
            [sys.executable, "manage.py", "run_smtp", "--port", str(smtp_port)],
            cwd=ROOT,
            env=live.env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        wait_for_port(smtp_port, timeout=90, process=smtp)
        yield live, smtp_port, maildir
    finally:
        if smtp is not None:
            stop_process(smtp)
        if live is not None:
            live.stop()
        stop_process(sink)


def inbound_address(live: LiveParley) -> str:
    out = subprocess.run(  # noqa: S603
        [sys.executable, "manage.py", "shell", "-c",
         "from django_scopes import scopes_disabled\nfrom apps.accounts.models import Tenant\n"
         "with scopes_disabled(): print(Tenant.objects.get(slug='acme-shoes').inbound_address)"],
        cwd=ROOT, env=live.env, check=True, capture_output=True, text=True,
    )
    return out.stdout.strip().splitlines()[-1]


def test_an_email_is_answered_from_the_dashboard_and_the_answer_threads_back(mail_rig):
    if not os.path.exists(chromium_path()):
        pytest.skip(f"no Chromium at {chromium_path()}")
    live, smtp_port, maildir = mail_rig
    address = inbound_address(live)
    with playwright_sync.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium_path(), args=CHROMIUM_ARGS)
        page = browser.new_context(viewport={"width": 1280, "height": 800}).new_page()
        errors: list[str] = []
        page.on("pageerror", lambda exc: errors.append(str(exc)))
        try:
            live.login(page, "anna@acme.test")

            # The customer writes to the company's inbound address; the queue shows it at once.
            with smtplib.SMTP("127.0.0.1", smtp_port, timeout=10) as client:
                client.sendmail("kasia@example.pl", [address], customer_mail(
                    to=address, subject="Zwrot butów / order 4411", text="Dzień dobry, the boots are too small.",
                    message_id="<first-4411@example.pl>",
                ))
            row = page.locator("#conv-list .conv", has_text="Katarzyna")
            row.wait_for(timeout=10000)
            conversation = row.get_attribute("data-id")
            row.click()
            page.wait_for_selector(".msg-body-email .email-subject:has-text('Zwrot butów')")

            # Accept with the hotkey and answer: the mail leaves with the threading headers.
            page.locator("body").press("a")
            page.wait_for_selector("#chat-status.status-open", timeout=5000)
            page.fill("#reply", "A return label is on its way, Katarzyna.")
            page.press("#reply", "Enter")
            [reply] = sent_mail(maildir)
            assert reply["To"] == "kasia@example.pl"
            assert reply["Subject"] == "Re: Zwrot butów / order 4411"
            assert reply["In-Reply-To"].strip() == "<first-4411@example.pl>"
            assert reply["References"].strip() == "<first-4411@example.pl>"
            assert reply["Reply-To"].startswith("reply+")
            assert reply.get_content().startswith("A return label is on its way, Katarzyna.")
            # The dashboard is told, live, that it left.
            page.wait_for_selector(
                ".msg-operator:has-text('return label') .email-state-sent:has-text('kasia@example.pl')", timeout=10000
            )

            # The customer answers from their mail client: it joins the same conversation.
            with smtplib.SMTP("127.0.0.1", smtp_port, timeout=10) as client:
                client.sendmail("kasia@example.pl", [reply["Reply-To"]], customer_mail(
                    to=reply["Reply-To"], subject="Re: Zwrot butów / order 4411", text="Dziękuję! Got the label.",
                    message_id="<second-4411@example.pl>", in_reply_to=reply["Message-ID"].strip(),
                ))
            page.wait_for_selector(".msg-visitor:has-text('Got the label')", timeout=10000)
            page.wait_for_timeout(500)  # a wrongly threaded answer would be a new chat in the queue by now
            assert page.locator("#conv-list .conv").count() == 0  # the queue stays empty
            page.click('.boxes [data-box="mine"]')
            page.wait_for_selector("#conv-list .conv")
            ids = page.eval_on_selector_all("#conv-list .conv", "(rows) => rows.map((r) => r.dataset.id)")
            assert ids == [conversation]
            assert errors == []
        finally:
            browser.close()
