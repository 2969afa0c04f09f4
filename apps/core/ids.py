"""Ids that clients send, parsed in one place.

An id is a positive integer that fits PostgreSQL's bigint (larger ones cannot be in the
database and overflow its drivers). JSON gives ints; query strings and form fields give
their decimal strings. `bool` is not an id, though Python calls it an int.
"""

from __future__ import annotations

from typing import Any

ID_MAX = 2**63 - 1


def parse_id(value: Any, *, strings: bool = True) -> int | None:
    """`value` as an id, or None when it is not one (`strings=False`: only a JSON int will do)."""
    if isinstance(value, bool):
        return None
    if strings and isinstance(value, str) and value.isascii() and value.isdigit() and len(value) <= 19:
        value = int(value)
    if type(value) is not int or not 0 < value <= ID_MAX:
        return None
    return value


def parse_seq(value: Any) -> int | None:
    """A sequence number from JSON: a whole number from 0 that fits a bigint, or None."""
    if type(value) is not int or not 0 <= value <= ID_MAX:
        return None
    return value
