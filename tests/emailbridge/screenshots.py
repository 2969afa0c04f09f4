"""Screenshots of an email conversation in the dashboard: `python -m tests.emailbridge.screenshots`.

Starts Parley under daphne (tests/dashboard/live.py), delivers a real email through the
inbound service (quoted history, a cc, an attachment too large for the chat), answers it as
an operator, and shoots the chat, the reply with its delivery state and the visitor card
("Email this visitor") at 1280 and 375 px wide, in English, Russian and Polish, into docs/screenshots/.
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
from pathlib import Path

from playwright.sync_api import sync_playwright

from tests.dashboard.live import ROOT, LiveParley, chromium_path
from tests.processes import CHROMIUM_ARGS

OUT = ROOT / "docs" / "screenshots"

SEED = r"""
import json
from email.message import EmailMessage
from email.policy import SMTP
from django_scopes import scopes_disabled
from apps.accounts.models import Membership, Tenant
from apps.conversations import services as conversation_services
from apps.emailbridge.models import EmailSettings, InboundEmail
from apps.emailbridge.services import inbound_email_receive

with scopes_disabled():
    tenant = Tenant.objects.get(slug="acme-shoes")
    anna = Membership.objects.get(tenant=tenant, user__email="anna@acme.test")
    EmailSettings.objects.create(tenant=tenant, attachment_max_bytes=200_000)
mail = EmailMessage(policy=SMTP)
mail["From"] = "Katarzyna Nowak <kasia@example.pl>"
mail["To"] = tenant.inbound_address
mail["Cc"] = "Piotr Nowak <piotr@example.pl>"
mail["Subject"] = "Zwrot butów Trail 42 / return"
mail["Message-ID"] = "<screenshot-1@example.pl>"
mail.set_content(
    "Dzień dobry,\n\nI would like to return the Trail 42 boots (order 4411): they are half a size too small.\n"
    "Can you send me a return label?\n\nKatarzyna\n\n"
    "On Mon, 30 Nov 2026 at 10:00, Acme Shoes <shop@acme.example> wrote:\n> Your order 4411 has shipped.\n"
    "> Tracking: PL123456789\n"
)
mail.add_attachment(b"%PDF-1.4 receipt", maintype="application", subtype="pdf", filename="Paragon-4411.pdf")
mail.add_attachment(b"\0" * 300_000, maintype="image", subtype="tiff", filename="Zdjęcie butów.tiff")
row = inbound_email_receive(raw=mail.as_bytes(), recipient=tenant.inbound_address, envelope_from="kasia@example.pl",
                            source="smtp", tenant=tenant)
with scopes_disabled():
    row = InboundEmail.objects.get(pk=row.pk)
    conversation = row.conversation
conversation_services.conversation_accept(tenant=tenant, conversation=conversation, membership=anna)
conversation_services.message_send(tenant=tenant, conversation=conversation, author_type="operator", author=anna,
                                   body="Hello Katarzyna, a return label is on its way. Sorry about the size!",
                                   client_id="shot-reply")
print(json.dumps({"conversation": conversation.pk}))
"""


def main() -> int:
    OUT.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        live = LiveParley(Path(tmp))
        try:
            seeded = subprocess.run(  # noqa: S603
                [sys.executable, "manage.py", "shell", "-c", SEED],
                cwd=ROOT,
                env=live.env,
                check=True,
                capture_output=True,
                text=True,
            )
            conversation = json.loads(seeded.stdout.strip().splitlines()[-1])["conversation"]
            shots = []
            with sync_playwright() as playwright:
                browser = playwright.chromium.launch(executable_path=chromium_path(), args=CHROMIUM_ARGS)
                for lang in ("en", "ru", "pl"):
                    for width, height in ((1280, 800), (375, 740)):
                        context = browser.new_context(viewport={"width": width, "height": height}, locale=lang)
                        context.add_cookies([{"name": "django_language", "value": lang, "url": live.base_url}])
                        page = context.new_page()
                        live.login(page, "anna@acme.test")
                        page.click('.boxes [data-box="mine"]')
                        page.click(f'#conv-list .conv[data-id="{conversation}"]')
                        page.wait_for_selector(".msg-body-email")
                        page.click(".email-quoted summary")
                        page.wait_for_selector(".email-full:has-text('PL123456789')")
                        path = OUT / f"email-{width}-{lang}-chat.png"
                        page.screenshot(path=path)
                        shots.append(path)
                        page.locator(".email-state-sent").scroll_into_view_if_needed()  # the reply left
                        path = OUT / f"email-{width}-{lang}-reply.png"
                        page.screenshot(path=path)
                        shots.append(path)
                        if width < 700:
                            page.click("#act-card")
                        page.click(".email-start-box summary")
                        page.locator(".email-start-box").scroll_into_view_if_needed()
                        path = OUT / f"email-{width}-{lang}-card.png"
                        page.screenshot(path=path)
                        shots.append(path)
                        context.close()
                browser.close()
        finally:
            live.stop()
    for path in shots:
        print(path.relative_to(ROOT))
    return 0


if __name__ == "__main__":
    sys.exit(main())
