"""Money: `Decimal` amounts in a currency, rounded to that currency's minor unit.

Rounding is half-up (commercial rounding), once per line and once per tax amount, so the
printed lines always add up to the printed totals.
"""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Any

from django.utils.translation import gettext_lazy as _

# ISO 4217 minor units of the currencies Parley invoices in.
MINOR_UNITS: dict[str, int] = {
    "EUR": 2,
    "USD": 2,
    "GBP": 2,
    "PLN": 2,
    "RUB": 2,
    "CHF": 2,
    "CZK": 2,
    "SEK": 2,
    "NOK": 2,
    "DKK": 2,
    "UAH": 2,
    "KZT": 2,
    "HUF": 2,
    "JPY": 0,
    "KRW": 0,
    "ISK": 0,
    "CLP": 0,
    "VND": 0,
    "BHD": 3,
    "KWD": 3,
    "JOD": 3,
    "OMR": 3,
    "TND": 3,
}

CURRENCY_CHOICES = [(code, code) for code in sorted(MINOR_UNITS)]
MAX_AMOUNT = Decimal("99999999.999")


class MoneyError(ValueError):
    def __init__(self, message: Any, *, field: str = "") -> None:
        super().__init__(str(message))
        self.message = message
        self.field = field


def minor_units(currency: str) -> int:
    try:
        return MINOR_UNITS[currency]
    except KeyError:
        raise MoneyError(_("Unknown currency."), field="currency") from None


def quantum(currency: str) -> Decimal:
    return Decimal(1).scaleb(-minor_units(currency))


def round_money(amount: Decimal, currency: str) -> Decimal:
    """`amount` rounded half-up to the currency's minor unit (yen to whole yen, dinars to fils)."""
    return amount.quantize(quantum(currency), rounding=ROUND_HALF_UP)


def to_minor(amount: Decimal, currency: str) -> int:
    """The integer amount in minor units that card processors take (12.34 EUR -> 1234, 500 JPY -> 500)."""
    return int(round_money(amount, currency).scaleb(minor_units(currency)))


def from_minor(value: int, currency: str) -> Decimal:
    return Decimal(value).scaleb(-minor_units(currency)).quantize(quantum(currency))


def parse_decimal(value: Any, *, field: str, places: int, minimum: Decimal, maximum: Decimal) -> Decimal:
    """A decimal from a form or a JSON frame: no floats' binary noise, no NaN, within bounds."""
    if isinstance(value, bool) or value is None:
        raise MoneyError(_("Enter a number."), field=field)
    if isinstance(value, float):
        value = repr(value)
    if isinstance(value, str):
        value = value.strip().replace(",", ".").replace(" ", "")
        if len(value) > 32:
            raise MoneyError(_("Enter a number."), field=field)
    try:
        number = Decimal(value)
    except (InvalidOperation, TypeError, ValueError):
        raise MoneyError(_("Enter a number."), field=field) from None
    if not number.is_finite():
        raise MoneyError(_("Enter a number."), field=field)
    if number < minimum or number > maximum:
        raise MoneyError(_("Enter a number from %(min)s to %(max)s.") % {"min": minimum, "max": maximum}, field=field)
    if number != number.quantize(Decimal(1).scaleb(-places), rounding=ROUND_HALF_UP):
        raise MoneyError(_("Use at most %(places)s decimal places.") % {"places": places}, field=field)
    return number


def line_amounts(*, quantity: Decimal, unit_price: Decimal, tax_rate: Decimal, currency: str) -> dict[str, Decimal]:
    """A line's net, tax and gross, each rounded to the currency's minor unit (tax on the rounded net)."""
    net = round_money(quantity * unit_price, currency)
    tax = round_money(net * tax_rate / Decimal(100), currency)
    return {"net": net, "tax": tax, "gross": net + tax}


def format_amount(amount: Decimal, currency: str) -> str:
    """`1234.5` EUR -> `1,234.50 EUR` in English, `1 234,50 EUR` in Russian or Polish (the active language)."""
    from django.utils.formats import number_format

    places = minor_units(currency)
    text = number_format(round_money(amount, currency), decimal_pos=places, use_l10n=True, force_grouping=True)
    return f"{text}\u00a0{currency}"


def plain_number(value: Decimal) -> Decimal:
    """Without trailing zeros: 2.500 -> 2.5, 10.00 -> 10 (`normalize()` alone would give 1E+1)."""
    return value.to_integral() if value == value.to_integral() else value.normalize()
