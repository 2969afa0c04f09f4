from django import template

from apps.invoices.money import format_amount

register = template.Library()


@register.filter
def money(amount, currency: str) -> str:
    """`{{ invoice.total|money:invoice.currency }}`: rounded to the currency, grouped for the active language."""
    if amount is None or not currency:
        return ""
    return format_amount(amount, currency)
