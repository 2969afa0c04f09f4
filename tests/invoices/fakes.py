"""Local stand-ins for the payment providers' APIs: real HTTP servers on loopback.

They answer with the shapes from the providers' documentation (Stripe: "Create a Checkout
Session", form-encoded request, JSON `checkout.session` object; YooKassa: "Create a payment"
and "Payment information", JSON), so the real `stripe` and `yookassa` SDKs and our code run
end to end. Every request is recorded for the test to inspect.
"""

from __future__ import annotations

import base64
import json
import secrets
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl


@dataclass
class Recorded:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes

    def form(self) -> dict[str, str]:
        return dict(parse_qsl(self.body.decode(), keep_blank_values=True))

    def json(self) -> Any:
        return json.loads(self.body or b"null")


@dataclass
class FakeServer:
    handler: Any
    requests: list[Recorded] = field(default_factory=list)
    server: ThreadingHTTPServer | None = None

    @property
    def url(self) -> str:
        host, port = self.server.server_address[:2]
        return f"http://{host}:{port}"

    def start(self) -> FakeServer:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):
                pass

            def _handle(self):
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                recorded = Recorded(self.command, self.path, dict(self.headers.items()), body)
                fake.requests.append(recorded)
                status, payload, *content_type = fake.handler(recorded)
                # A page (the hosted checkout stand-in) comes with its content type; API answers are JSON.
                data = payload.encode() if content_type else json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("Content-Type", content_type[0] if content_type else "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            do_GET = do_POST = _handle

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        if self.server is not None:
            self.server.shutdown()
            self.server.server_close()


class StripeAPI:
    """`POST /v1/checkout/sessions` as Stripe documents it, idempotent on the Idempotency-Key header."""

    def __init__(self, hosted_page_base: str = "https://checkout.stripe.com/c/pay") -> None:
        self.sessions: dict[str, dict] = {}
        self.by_key: dict[str, dict] = {}
        self.hosted_page_base = hosted_page_base
        self.fail_with: int | None = None
        # Serves GET/POST /pay/<session id> when set: a stand-in for Checkout's hosted page.
        self.hosted_page = None

    def __call__(self, request: Recorded) -> tuple:
        if request.path.startswith("/pay/") and self.hosted_page is not None:
            return self.hosted_page(self, request)
        if not request.headers.get("Authorization", "").startswith("Bearer sk_"):
            return 401, {"error": {"type": "invalid_request_error", "message": "Invalid API Key provided"}}
        if self.fail_with:
            return self.fail_with, {"error": {"type": "api_error", "message": "Something went wrong"}}
        if request.method == "POST" and request.path == "/v1/checkout/sessions":
            key = request.headers.get("Idempotency-Key", "")
            if key in self.by_key:
                return 200, self.by_key[key]
            form = request.form()
            session_id = "cs_test_" + secrets.token_hex(12)
            metadata = {k[len("metadata[") : -1]: v for k, v in form.items() if k.startswith("metadata[")}
            session = {
                "id": session_id,
                "object": "checkout.session",
                "amount_total": int(form["line_items[0][price_data][unit_amount]"])
                * int(form["line_items[0][quantity]"]),
                "currency": form["line_items[0][price_data][currency]"],
                "client_reference_id": form.get("client_reference_id"),
                "customer_email": form.get("customer_email"),
                "expires_at": int(form.get("expires_at") or time.time() + 86400),
                "livemode": False,
                "locale": form.get("locale"),
                "metadata": metadata,
                "mode": form.get("mode"),
                "payment_status": "unpaid",
                "status": "open",
                "success_url": form.get("success_url"),
                "cancel_url": form.get("cancel_url"),
                "url": f"{self.hosted_page_base}/{session_id}",
            }
            self.sessions[session_id] = session
            self.by_key[key] = session
            return 200, session
        return 404, {"error": {"type": "invalid_request_error", "message": "Unrecognized request URL"}}


class YooKassaAPI:
    """`POST /v3/payments` and `GET /v3/payments/{id}` as YooKassa documents them (Basic auth shop id:key)."""

    def __init__(self, shop_id: str, secret_key: str) -> None:
        self.auth = "Basic " + base64.b64encode(f"{shop_id}:{secret_key}".encode()).decode()
        self.payments: dict[str, dict] = {}
        self.by_key: dict[str, dict] = {}

    def set_status(self, payment_id: str, status: str) -> None:
        payment = self.payments[payment_id]
        payment["status"] = status
        payment["paid"] = status in ("succeeded", "waiting_for_capture")

    def __call__(self, request: Recorded) -> tuple[int, dict]:
        if request.headers.get("Authorization") != self.auth:
            return 401, {"type": "error", "id": secrets.token_hex(8), "code": "invalid_credentials"}
        if request.method == "POST" and request.path == "/v3/payments":
            key = request.headers.get("Idempotence-Key", "")
            if not key:
                return 400, {"type": "error", "code": "invalid_request", "description": "Idempotence-Key required"}
            if key in self.by_key:
                return 200, self.by_key[key]
            body = request.json()
            payment_id = secrets.token_hex(4) + "-000f-5000-9000-" + secrets.token_hex(6)
            payment = {
                "id": payment_id,
                "status": "pending",
                "paid": False,
                "amount": body["amount"],
                "confirmation": {
                    "type": "redirect",
                    "return_url": body["confirmation"]["return_url"],
                    "confirmation_url": f"https://yoomoney.ru/checkout/payments/v2/contract?orderId={payment_id}",
                },
                "created_at": "2026-12-01T10:00:00.000Z",
                "description": body.get("description", ""),
                "metadata": body.get("metadata", {}),
                "recipient": {"account_id": "100500", "gateway_id": "100700"},
                "refundable": False,
                "test": True,
            }
            self.payments[payment_id] = payment
            self.by_key[key] = payment
            return 200, payment
        if request.method == "GET" and request.path.startswith("/v3/payments/"):
            payment = self.payments.get(request.path.rsplit("/", 1)[1])
            if payment is None:
                return 404, {"type": "error", "code": "not_found", "description": "Payment doesn't exist"}
            return 200, payment
        return 404, {"type": "error", "code": "not_found"}
