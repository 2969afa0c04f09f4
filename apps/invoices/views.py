"""The payer's pages (printable invoice, PDF, Pay) and the providers' webhooks. Thin: they call selectors and services.

The invoice's long random token in the URL is the payer's capability: no login, no visitor
token, and another tenant's or a missing token is the same 404. Pay (a link with
`target="_blank"` in the chat card, a form on the page) starts or reuses a payment attempt
and redirects to the provider's hosted page; coming back from it never marks anything paid.
"""

from __future__ import annotations

import logging
import re
from urllib.parse import urlsplit

from django.conf import settings
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect, JsonResponse
from django.shortcuts import render
from django.urls import reverse
from django.utils import translation
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from apps.core.http import error_body, error_response, json_response
from apps.core.ratelimit import client_address, rate_limit_exceeded
from apps.core.tenancy import tenant_scope
from apps.invoices import selectors, services
from apps.invoices.errors import BadSignature, InvalidTransition, PaymentUnavailable
from apps.invoices.models import Invoice, Provider
from apps.invoices.pdf import invoice_pdf_bytes
from apps.invoices.providers import provider_for

logger = logging.getLogger(__name__)

LANGUAGES = {code for code, _name in settings.LANGUAGES}
WEBHOOK_MAX_BYTES = 256 * 1024
PAY_LIMIT = (20, 600)  # starts per invoice and address per 10 minutes


def _language(request: HttpRequest, invoice: Invoice) -> str:
    asked = request.GET.get("lang", "")
    return asked if asked in LANGUAGES else invoice.language


def _private(response: HttpResponse) -> HttpResponse:
    # The URL is a capability: keep it out of Referer headers, caches and search engines.
    response["Referrer-Policy"] = "no-referrer"
    response["Cache-Control"] = "private, no-store"
    response["X-Robots-Tag"] = "noindex"
    return response


def _page(request: HttpRequest, invoice: Invoice, *, error: str = "", status: int = 200) -> HttpResponse:
    language = _language(request, invoice)
    with tenant_scope(invoice.tenant), translation.override(language):
        context = {
            "invoice": invoice,
            "lines": selectors.invoice_lines(invoice),
            "seller": invoice.seller,
            "instructions": selectors.bank_instructions(invoice) if invoice.provider == Provider.BANK_TRANSFER else "",
            "returned": request.GET.get("returned") == "1",
            "error": error,
            "language": language,
            "languages": settings.LANGUAGES,
            "can_pay": invoice.status == Invoice.Status.SENT and invoice.provider != Provider.BANK_TRANSFER,
        }
        response = render(request, "invoices/invoice_page.html", context, status=status)
    return _private(response)


@require_GET
@never_cache
def invoice_page(request: HttpRequest, token: str) -> HttpResponse:
    invoice = selectors.invoice_by_token(token, membership=getattr(request, "membership", None))
    return _page(request, invoice)


@require_GET
@never_cache
def invoice_pdf(request: HttpRequest, token: str) -> HttpResponse:
    invoice = selectors.invoice_by_token(token, membership=getattr(request, "membership", None))
    with tenant_scope(invoice.tenant):
        body = invoice_pdf_bytes(invoice, language=_language(request, invoice))
    response = HttpResponse(body, content_type="application/pdf")
    filename = re.sub(r"[^A-Za-z0-9._-]+", "-", invoice.number_display) or "invoice"
    response["Content-Disposition"] = f'inline; filename="{filename}.pdf"'
    return _private(response)


@csrf_exempt  # the token in the URL is the capability; no session is involved
@require_http_methods(["GET", "POST"])  # GET: the chat card's Pay link opens a new tab (the iframe's CSP limits forms)
def invoice_pay(request: HttpRequest, token: str) -> HttpResponse:
    invoice = selectors.invoice_by_token(token)
    page_url = reverse("invoices:page", args=[invoice.token])
    if rate_limit_exceeded(
        f"invoice-pay:{invoice.pk}:{client_address(request)}", limit=PAY_LIMIT[0], period=PAY_LIMIT[1]
    ):
        return HttpResponse(status=429)
    try:
        attempt = services.payment_start(
            tenant=invoice.tenant,
            invoice=invoice,
            return_url=request.build_absolute_uri(page_url + "?returned=1"),
            cancel_url=request.build_absolute_uri(page_url),
        )
    except InvalidTransition:
        return HttpResponseRedirect(page_url, status=303)
    except PaymentUnavailable as error:
        logger.warning("payment start failed for invoice %s", invoice.pk, exc_info=True)
        return _page(request, invoice, error=error.message, status=502)
    if urlsplit(attempt.url).scheme not in {"https", "http"}:
        return _page(request, invoice, error=str(PaymentUnavailable.default_message), status=502)
    response = HttpResponseRedirect(attempt.url, status=303)
    return _private(response)


@csrf_exempt  # providers sign their events; there is no browser session here
@require_POST
def provider_webhook(request: HttpRequest, provider: str, webhook_token: str) -> HttpResponse:
    if provider not in (Provider.STRIPE, Provider.YOOKASSA):
        raise Http404()
    account = selectors.webhook_account(provider=provider, webhook_token=webhook_token)
    if account is None:
        raise Http404()
    if int(request.META.get("CONTENT_LENGTH") or 0) > WEBHOOK_MAX_BYTES or len(request.body) > WEBHOOK_MAX_BYTES:
        return json_response(error_body("too_large", _("The request is too large.")), status=413)
    try:
        event = provider_for(account).verify(body=request.body, headers=request.headers)
    except BadSignature as error:
        # Unverified input is not stored: anyone can post here.
        return error_response(error)
    row, created = services.provider_event_apply(tenant=account.tenant, account=account, event=event)
    return JsonResponse({"received": True, "duplicate": not created, "outcome": row.outcome})
