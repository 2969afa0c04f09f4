from django import template

from apps.invoices.money import format_amount, plain_number

register = template.Library()


@register.filter
def money(amount, currency: str) -> str:
    """`{{ invoice.total|money:invoice.currency }}`: rounded to the currency, grouped for the active language."""
    if amount is None or not currency:
        return ""
    return format_amount(amount, currency)


@register.filter
def quantity(value) -> str:
    """2.500 -> 2.5 and 10.000 -> 10, in the active language's decimal separator."""
    from django.utils.formats import number_format

    if value is None:
        return ""
    return number_format(plain_number(value), use_l10n=True)
