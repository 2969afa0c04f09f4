"""A local stand-in for Stripe Checkout's hosted page, for the browser test.

GET /pay/<session id> shows the amount and a Pay button; POST completes the session: the
stand-in sends Parley a `checkout.session.completed` event signed with the account's webhook
secret by the stripe SDK's own algorithm (exactly what Stripe does), then shows "Payment
complete". Parley learns about the payment only from that webhook.
"""

from __future__ import annotations

import html
import json
import time
import urllib.request

import stripe

from tests.invoices.fakes import Recorded, StripeAPI

PAGE = """<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Checkout stand-in</title></head>
<body style="font-family: sans-serif; max-width: 420px; margin: 40px auto">
<h1>Checkout (test stand-in)</h1><p id="amount">{amount}</p>{body}</body></html>"""


class HostedCheckout:
    def __init__(self, webhook_url: str, webhook_secret: str) -> None:
        self.webhook_url = webhook_url
        self.webhook_secret = webhook_secret
        self.delivered: list[int] = []

    def __call__(self, api: StripeAPI, request: Recorded) -> tuple[int, str, str]:
        session_id = request.path.split("/")[2].split("?")[0]
        session = api.sessions.get(session_id)
        if session is None:
            return 404, "<h1>No such session</h1>", "text/html; charset=utf-8"
        amount = html.escape(f"{session['amount_total']} {session['currency']} (minor units)")
        if request.method == "GET":
            form = f'<form method="post" action="/pay/{html.escape(session_id)}"><button id="pay">Pay</button></form>'
            return 200, PAGE.format(amount=amount, body=form), "text/html; charset=utf-8"
        session.update(status="complete", payment_status="paid")
        event = {
            "id": f"evt_test_{time.time_ns()}",
            "object": "event",
            "type": "checkout.session.completed",
            "created": int(time.time()),
            "livemode": False,
            "data": {"object": session},
        }
        payload = json.dumps(event)
        signature = stripe.WebhookSignature.generate_signature_header(payload, self.webhook_secret)
        delivery = urllib.request.Request(  # noqa: S310 - loopback
            self.webhook_url,
            data=payload.encode(),
            headers={"Content-Type": "application/json", "Stripe-Signature": signature},
            method="POST",
        )
        with urllib.request.urlopen(delivery, timeout=10) as response:  # noqa: S310 - loopback
            self.delivered.append(response.status)
        return 200, PAGE.format(amount=amount, body='<p id="done">Payment complete</p>'), "text/html; charset=utf-8"
