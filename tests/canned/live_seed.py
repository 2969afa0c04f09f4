"""Canned replies for the live dashboard (tests/dashboard/live.py): the browser test and screenshots."""

from __future__ import annotations

import json
import subprocess
import sys

from tests.dashboard.live import ROOT, LiveParley

SEED = r"""
import json, os
from django_scopes import scopes_disabled
from apps.accounts.models import Tenant
from apps.canned.models import CannedReply
from apps.canned.services import canned_reply_create
from apps.canned.starter import STARTER_SETS

language = os.environ.get("PARLEY_CANNED_LANGUAGE", "en")
with scopes_disabled():
    tenant = Tenant.objects.get(slug="acme-shoes")
    CannedReply.objects.filter(tenant=tenant).delete()
tenant.default_language = language
tenant.save(update_fields=["default_language"])
for shortcut, title, text, tags in STARTER_SETS[language]:
    if shortcut == "delivery":
        text = {
            "en": "Hi {{visitor.name|there}}, orders to {{attribute.city|your city}} take 2-5 business days. "
                  "{{operator.name}}, {{company.name}}",
            "ru": "{{visitor.name|Здравствуйте}}, заказы в {{attribute.city|ваш город}} идут 2-5 рабочих дней. "
                  "{{operator.name}}, {{company.name}}",
            "pl": "{{visitor.name|Dzień dobry}}, zamówienia do {{attribute.city|Twojego miasta}} idą 2-5 dni "
                  "roboczych. {{operator.name}}, {{company.name}}",
        }[language]
    reply = canned_reply_create(tenant=tenant, title=title, shortcut=shortcut, text=text, language=language, tags=tags)
    if shortcut == "delivery":
        delivery = reply
delays = {"en": "Shipping delays", "ru": "Задержки доставки", "pl": "Opóźnienia dostaw"}[language]
delays_text = {
    "en": "Because of the holidays, parcels take one or two extra days this week.",
    "ru": "Из-за праздников посылки на этой неделе идут на день-два дольше.",
    "pl": "Z powodu świąt paczki idą w tym tygodniu dzień lub dwa dłużej.",
}[language]
delay = canned_reply_create(tenant=tenant, title=delays, shortcut="delays", text=delays_text, language=language,
                            tags="delivery")
with scopes_disabled():
    CannedReply.objects.filter(pk=delay.pk).update(usage_count=12)
    CannedReply.objects.filter(pk=delivery.pk).update(usage_count=5)
print(json.dumps({"delivery": delivery.pk, "delays": delay.pk}))
"""


def seed_canned(live: LiveParley, language: str = "en") -> dict:
    """The starter set of `language` (its delivery reply with placeholders) and a busier "delays" reply."""
    done = subprocess.run(  # noqa: S603
        [sys.executable, "manage.py", "shell", "-c", SEED],
        cwd=ROOT,
        env={**live.env, "PARLEY_CANNED_LANGUAGE": language},
        check=True,
        capture_output=True,
        text=True,
    )
    return json.loads(done.stdout.strip().splitlines()[-1])
