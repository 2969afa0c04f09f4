"""`frames.dumps`, the one place a frame becomes text: orjson, with the standard library's output."""

from __future__ import annotations

import json

import pytest

from apps.conversations import frames


def stdlib(frame: dict) -> str:
    return json.dumps(frame, ensure_ascii=False, separators=(",", ":"))


@pytest.mark.parametrize(
    "frame",
    [
        {"type": "ack", "client_id": "c-1", "conversation": 7, "seq": 3, "message": {"body": "plain"}},
        {"type": "message", "message": {"body": 'quotes " and \\ backslash, <b>html</b> & </script>'}},
        {"type": "message", "message": {"body": "Привет, zażółć gęślą jaźń 😀 \u2028\u2029 \t\n\r\x00\x1f"}},
        {"type": "typing", "on": True, "draft": None, "ratio": 0.1, "big": 2**63 - 1, "neg": -(2**63)},
        {"type": "resumed", "conversations": {"12": 4, "9": 0}},
        {"type": "x", "nested": [[{"a": []}, {}], [None, False, 2.25, -0.5]]},
    ],
)
def test_dumps_writes_what_the_standard_library_writes(frame):
    assert frames.dumps(frame) == stdlib(frame)
    assert json.loads(frames.dumps(frame)) == frame


def test_dumps_writes_exponents_as_valid_json_with_the_same_value():
    # The only difference from the standard library: orjson writes 1.5e-7 where it writes 1.5e-07.
    frame = {"type": "x", "values": [1.5e-7, 1e22, -3.2e-300]}
    assert json.loads(frames.dumps(frame)) == frame


def test_dumps_takes_what_orjson_refuses_but_the_standard_library_takes():
    frame = {"type": "x", "huge": 2**64 + 1, 5: "int key"}
    assert frames.dumps(frame) == stdlib(frame)


def test_dumps_still_refuses_what_is_not_json():
    from decimal import Decimal

    with pytest.raises(TypeError):
        frames.dumps({"type": "x", "amount": Decimal("1.00")})
