"""The payer's printable page, the PDF and the Pay button."""

import io

import pytest
from django.urls import reverse
from django_scopes import scopes_disabled
from pypdf import PdfReader

from apps.core.tenancy import tenant_scope
from apps.invoices.models import InvoiceSettings
from apps.invoices.pdf import invoice_pdf_bytes


@pytest.fixture
def seller(tenant):
    with scopes_disabled():
        return InvoiceSettings.objects.create(
            tenant=tenant,
            legal_name="ООО «Ромашка» / Zażółć gęślą jaźń sp. z o.o.",
            address="ул. Ленина, 1, Москва\nul. Żółkiewskiego 5, Łódź",
            tax_id="PL1234567890",
            bank_name="Bank Śląski",
            bank_account="PL61 1090 1014 0000 0712 1981 2874",
        )


@pytest.mark.parametrize(("language", "expected"), [("en", "Invoice"), ("ru", "Счёт"), ("pl", "Faktura")])
def test_the_printable_page_is_in_the_requested_language(client, make_invoice, seller, language, expected):
    invoice = make_invoice()
    response = client.get(reverse("invoices:page", args=[invoice.token]), {"lang": language})
    assert response.status_code == 200
    text = response.content.decode()
    assert f'lang="{language}"' in text and expected in text
    assert "ООО «Ромашка»" in text and invoice.number_display in text
    assert response["Referrer-Policy"] == "no-referrer"


def test_the_page_defaults_to_the_visitors_language(client, tenant, visitor_ru, operator, seller):
    from apps.invoices import services

    invoice = services.invoice_create(
        tenant=tenant, conversation=visitor_ru, created_by=operator, lines=[{"description": "Урок", "unit_price": "10"}]
    )
    services.invoice_send(tenant=tenant, invoice=invoice, by=operator)
    assert invoice.language == "ru" and invoice.buyer_name == "Иван Петров"
    assert 'lang="ru"' in client.get(reverse("invoices:page", args=[invoice.token])).content.decode()


def test_a_draft_or_unknown_token_is_404_for_the_public(client, make_invoice):
    draft = make_invoice(send=False)
    assert client.get(reverse("invoices:page", args=[draft.token])).status_code == 404
    assert client.get(reverse("invoices:pdf", args=[draft.token])).status_code == 404
    assert client.get(reverse("invoices:page", args=["x" * 32])).status_code == 404


def test_an_operator_previews_their_own_draft_but_not_another_tenants(client, make_invoice, operator, other_operator):
    draft = make_invoice(send=False)
    client.force_login(other_operator.user)
    assert client.get(reverse("invoices:page", args=[draft.token])).status_code == 404
    client.force_login(operator.user)
    assert client.get(reverse("invoices:page", args=[draft.token])).status_code == 200


def test_the_pdf_prints_cyrillic_and_polish_text(make_invoice, seller, tenant):
    invoice = make_invoice(
        lines=[
            {"description": "Подписка на год", "quantity": "1", "unit_price": "100", "tax_rate": "20"},
            {"description": "Wdrożenie — źdźbło", "quantity": "2", "unit_price": "50", "tax_rate": "23"},
        ]
    )
    with tenant_scope(tenant):
        pdf = invoice_pdf_bytes(invoice, language="ru")
    assert pdf.startswith(b"%PDF")
    text = PdfReader(io.BytesIO(pdf)).pages[0].extract_text()
    for expected in (
        "Счёт",
        "ООО «Ромашка»",
        "Zażółć gęślą jaźń",
        "Подписка на год",
        "Wdrożenie",
        "Łódź",
        invoice.number_display,
    ):
        assert expected in text, expected


def test_the_pdf_is_served_inline_with_a_safe_file_name(client, make_invoice, seller):
    invoice = make_invoice()
    response = client.get(reverse("invoices:pdf", args=[invoice.token]), {"lang": "pl"})
    assert response.status_code == 200 and response["Content-Type"] == "application/pdf"
    assert response["Content-Disposition"] == f'inline; filename="{invoice.number_display}.pdf"'
    assert "Faktura" in PdfReader(io.BytesIO(response.content)).pages[0].extract_text()


def test_pay_redirects_to_the_hosted_page_in_the_tab_it_was_posted_to(client, make_invoice, stripe_api, stripe_account):
    invoice = make_invoice(provider="stripe")
    response = client.post(reverse("invoices:pay", args=[invoice.token]))
    assert response.status_code == 303
    assert response["Location"].startswith("https://checkout.stripe.com/c/pay/cs_test_")
    form = stripe_api.server.requests[0].form()
    assert form["success_url"] == f"http://testserver/invoices/i/{invoice.token}/?returned=1"


def test_coming_back_from_the_provider_does_not_mark_it_paid(client, make_invoice, stripe_api, stripe_account):
    invoice = make_invoice(provider="stripe")
    client.post(reverse("invoices:pay", args=[invoice.token]))
    page = client.get(reverse("invoices:page", args=[invoice.token]), {"returned": "1"})
    assert "as soon as the payment service confirms" in page.content.decode()
    with scopes_disabled():
        invoice.refresh_from_db()
    assert invoice.status == "sent"


def test_pay_on_a_cancelled_invoice_goes_back_to_the_page(client, make_invoice, stripe_api, stripe_account, operator):
    from apps.invoices import services

    invoice = make_invoice(provider="stripe")
    services.invoice_cancel(tenant=invoice.tenant, invoice=invoice, by=operator)
    response = client.post(reverse("invoices:pay", args=[invoice.token]))
    assert response.status_code == 303 and response["Location"] == reverse("invoices:page", args=[invoice.token])
    assert stripe_api.server.requests == []


def test_pay_when_the_provider_is_down_says_so(client, make_invoice, stripe_api, stripe_account):
    invoice = make_invoice(provider="stripe")
    stripe_api.fail_with = 503
    response = client.post(reverse("invoices:pay", args=[invoice.token]))
    assert response.status_code == 502
    assert "not available right now" in response.content.decode()


def test_a_bank_transfer_page_shows_the_number_as_the_payment_reference(client, make_invoice, seller):
    invoice = make_invoice()
    text = client.get(reverse("invoices:page", args=[invoice.token]), {"lang": "en"}).content.decode()
    assert "PL61 1090 1014 0000 0712 1981 2874" in text and "Payment reference" in text
    assert client.post(reverse("invoices:pay", args=[invoice.token])).status_code == 303
