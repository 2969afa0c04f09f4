"""Decoding is bounded before any parsing: size, depth, non-JSON constants."""

import json

import pytest

from apps.core.jsonbounds import JSONTooDeep, JSONTooLarge, loads_bounded, nesting_depth


@pytest.mark.parametrize(
    ("text", "depth"),
    [
        ("1", 0),
        ('{"a": [1, {"b": []}]}', 4),
        ('{"a": "[[[[[[[[[[", "b": "\\"[{"}', 1),  # brackets inside strings are text
        ("[" * 8000 + "]" * 8000, 8000),
    ],
)
def test_nesting_depth_is_counted_without_parsing(text, depth):
    assert nesting_depth(text) == depth


@pytest.mark.parametrize("payload", ["[" * 8000, "[" * 8000 + "]" * 8000, '{"a":' * 2700 + "1" + "}" * 2700])
def test_deep_nesting_under_the_size_limit_is_refused_before_the_parser_recurses(payload):
    assert len(payload) <= 16 * 1024
    with pytest.raises(JSONTooDeep):
        loads_bounded(payload, max_bytes=16 * 1024)
    with pytest.raises(JSONTooDeep):
        loads_bounded(payload.encode(), max_bytes=16 * 1024)


def test_size_counts_utf8_bytes_and_lone_surrogates():
    assert loads_bounded('"' + "я" * 100 + '"', max_bytes=202) == "я" * 100
    with pytest.raises(JSONTooLarge):
        loads_bounded('"' + "я" * 100 + '"', max_bytes=201)
    with pytest.raises(JSONTooLarge):
        loads_bounded(b"x" * 101, max_bytes=100)


@pytest.mark.parametrize("payload", ["NaN", "[Infinity]", '{"a": -Infinity}', b"\xff\xfe", "1" * 5000, "{", ""])
def test_malformed_input_is_a_value_error(payload):
    with pytest.raises(ValueError):
        loads_bounded(payload, max_bytes=16 * 1024)


def test_ordinary_json_decodes_as_json_loads_does():
    value = {"type": "send", "body": "hi 👋 \\ud800", "n": [1, 2.5, None, True], "deep": [[[[1]]]]}
    text = json.dumps(value)
    assert loads_bounded(text, max_bytes=1024) == json.loads(text)
    assert loads_bounded(json.dumps(value, ensure_ascii=False), max_bytes=1024) == value


def test_lone_surrogates_and_nul_become_the_replacement_character_everywhere():
    text = '{"body": "a\\ud800b\\udfffc\\u0000d", "\\udc00key": ["\\ud83d", {"x": "\\ud83d\\ude00"}]}'
    assert loads_bounded(text, max_bytes=1024) == {
        "body": "a\ufffdb\ufffdc\ufffdd",
        "\ufffdkey": ["\ufffd", {"x": "😀"}],
    }
