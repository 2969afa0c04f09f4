from decimal import Decimal

import pytest
from django.utils import translation

from apps.invoices.money import (
    MoneyError,
    format_amount,
    from_minor,
    line_amounts,
    parse_decimal,
    round_money,
    to_minor,
)


@pytest.mark.parametrize(
    ("amount", "currency", "expected"),
    [
        ("0.005", "EUR", "0.01"),  # half-up, not banker's rounding
        ("0.015", "EUR", "0.02"),
        ("2.675", "PLN", "2.68"),
        ("0.004999", "RUB", "0.00"),
        ("99.5", "JPY", "100"),  # yen has no minor unit
        ("1234.49", "KRW", "1234"),
        ("1.0005", "KWD", "1.001"),  # dinar: three places
        ("-0.005", "EUR", "-0.01"),
    ],
)
def test_amounts_round_half_up_to_the_currencys_minor_unit(amount, currency, expected):
    assert str(round_money(Decimal(amount), currency)) == expected


def test_minor_units_follow_iso_4217():
    assert to_minor(Decimal("12.34"), "EUR") == 1234
    assert to_minor(Decimal("500"), "JPY") == 500
    assert to_minor(Decimal("1.234"), "BHD") == 1234
    assert from_minor(1234, "EUR") == Decimal("12.34")
    assert from_minor(500, "JPY") == Decimal("500")


def test_line_tax_is_taken_on_the_rounded_net_and_lines_add_up():
    amounts = line_amounts(quantity=Decimal("3"), unit_price=Decimal("0.335"), tax_rate=Decimal("23"), currency="PLN")
    assert amounts == {"net": Decimal("1.01"), "tax": Decimal("0.23"), "gross": Decimal("1.24")}
    yen = line_amounts(quantity=Decimal("3"), unit_price=Decimal("333"), tax_rate=Decimal("10"), currency="JPY")
    assert yen == {"net": Decimal("999"), "tax": Decimal("100"), "gross": Decimal("1099")}


@pytest.mark.parametrize("value", ["NaN", "Infinity", "abc", "", None, True, "1e400", "1" * 40])
def test_a_number_that_is_not_a_finite_decimal_is_refused(value):
    with pytest.raises(MoneyError):
        parse_decimal(value, field="x", places=2, minimum=Decimal(0), maximum=Decimal(10**8))


def test_more_places_than_the_currency_has_are_refused_and_a_float_is_read_as_written():
    with pytest.raises(MoneyError):
        parse_decimal("1.005", field="x", places=2, minimum=Decimal(0), maximum=Decimal(100))
    assert parse_decimal(0.1, field="x", places=2, minimum=Decimal(0), maximum=Decimal(100)) == Decimal("0.1")
    assert parse_decimal("12,50", field="x", places=2, minimum=Decimal(0), maximum=Decimal(100)) == Decimal("12.50")
    with pytest.raises(MoneyError):
        parse_decimal("-1", field="x", places=2, minimum=Decimal(0), maximum=Decimal(100))


def test_amounts_are_shown_with_the_currencys_places_in_the_readers_language():
    with translation.override("en"):
        assert format_amount(Decimal("1234.5"), "EUR") == "1,234.50\u00a0EUR"
        assert format_amount(Decimal("1234"), "JPY") == "1,234\u00a0JPY"
    with translation.override("pl"):
        assert format_amount(Decimal("1234.5"), "PLN").replace("\u00a0", " ") == "1 234,50 PLN"
