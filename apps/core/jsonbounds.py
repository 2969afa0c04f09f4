"""JSON from outside, decoded within bounds: size and nesting depth are checked before parsing.

`json.loads` recurses once per nesting level: a 16 KB frame of 8,000 `[` raises
`RecursionError` (not `ValueError`), which no caller expects. Every socket frame and JSON
request body goes through `loads_bounded`, which refuses too large or too deep input with a
`ValueError` subclass before the parser sees it, and refuses the non-JSON constants `NaN`
and `Infinity` that Python's parser accepts.

JSON is also the one way invalid Unicode reaches Parley (a `"\ud800"` escape decodes to a
lone surrogate, which no database or encoder takes; UTF-8 bytes, forms and query strings
cannot carry one), and the way NUL arrives (PostgreSQL refuses it in text): every decoded
string, keys included, has both replaced with U+FFFD here. Other control characters are the
business of `apps.core.text.clean_text`, field by field.
"""

from __future__ import annotations

import json
import re
from typing import Any

MAX_DEPTH = 32

# Strings (with their escapes) hold brackets that are not structure: skip them when counting.
_STRING = re.compile(r'"(?:[^"\\]|\\.)*"', re.DOTALL)
_BRACKETS = re.compile(r"[\[\]{}]")


class JSONTooLarge(ValueError):
    pass


class JSONTooDeep(ValueError):
    pass


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def nesting_depth(text: str, *, stop_at: int | None = None) -> int:
    """The deepest nesting of arrays and objects in `text` (0 for a scalar), without parsing it."""
    deepest = depth = 0
    for match in _BRACKETS.finditer(_STRING.sub("", text)):
        if match.group() in "[{":
            depth += 1
            if depth > deepest:
                deepest = depth
                if stop_at is not None and deepest > stop_at:
                    return deepest
        else:
            depth -= 1
    return deepest


def utf8_size(text: str) -> int:
    """Bytes of `text` in UTF-8, counting a lone surrogate as the 3 bytes a lenient encoder writes."""
    return len(text.encode("utf-8", "surrogatepass"))


def loads_bounded(data: str | bytes, *, max_bytes: int, max_depth: int = MAX_DEPTH) -> Any:
    """`json.loads(data)`, or JSONTooLarge / JSONTooDeep / ValueError (for anything malformed)."""
    if isinstance(data, bytes | bytearray):
        if len(data) > max_bytes:
            raise JSONTooLarge(f"over {max_bytes} bytes")
        try:
            text = bytes(data).decode("utf-8")
        except UnicodeDecodeError as exc:
            raise ValueError("not UTF-8") from exc
    else:
        # A character is at most 4 bytes: only long texts need encoding to know.
        if len(data) > max_bytes or (len(data) * 4 > max_bytes and utf8_size(data) > max_bytes):
            raise JSONTooLarge(f"over {max_bytes} bytes")
        text = data
    if nesting_depth(text, stop_at=max_depth) > max_depth:
        raise JSONTooDeep(f"nested deeper than {max_depth}")
    try:
        value = json.loads(text, parse_constant=_reject_constant)
    except RecursionError as exc:  # a guard: the depth check above should make this unreachable
        raise JSONTooDeep(f"nested deeper than {max_depth}") from exc
    return _scrub(value) if _INVALID_ESCAPE.search(text) else value


# Only text with a \u escape of a surrogate or of NUL can decode to either.
_INVALID_ESCAPE = re.compile(r"\\u(?:[dD][89a-fA-F]|0000)")
_INVALID_CHARS = re.compile("[\ud800-\udfff\x00]")


def _scrub(value: Any) -> Any:
    if isinstance(value, str):
        return _INVALID_CHARS.sub("\ufffd", value)
    if isinstance(value, list):
        return [_scrub(item) for item in value]
    if isinstance(value, dict):
        return {_scrub(key): _scrub(item) for key, item in value.items()}
    return value
