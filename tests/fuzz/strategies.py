"""Hostile input for the fuzzers: wrong types, deep nesting, huge and tiny numbers, invalid
Unicode, control characters and oversized strings, in every field a client can send."""

from __future__ import annotations

import json

from hypothesis import strategies as st

# Every field name a Parley endpoint or socket frame reads, plus a few it does not.
FIELDS = [
    "type", "body", "client_id", "conversation", "seq", "last_seq", "conversations", "attachments", "token",
    "kind", "draft", "status", "membership", "department", "to", "name", "email", "phone", "url", "title",
    "referrer", "key", "anonymous_id", "language", "identity", "rating", "comment", "message", "operator",
    "visitor", "after", "before", "limit", "box", "note", "id", "text", "data", "reason", "__proto__", "",
    "title", "shortcut", "tags", "scope", "hotkey", "slot", "reply", "department", "owner", "q",
]

CONTROL = "".join(chr(c) for c in [*range(0, 32), 127, *range(0x80, 0xA0)])
NASTY_TEXT = [
    "\ud800", "\udfff", "a\ud83d", "\x00", "\r\nBcc: victim@example.test", "<script>alert(1)</script>",
    "<img src=x onerror=alert(1)>", "\u202eevil", "\ufeff", "\uffff", "💥" * 50, "' OR 1=1 --", "../../etc/passwd",
    "javascript:alert(1)", "NaN", "-1", "1e309", "0x10", "   ", "",
]

texts = st.one_of(
    st.sampled_from(NASTY_TEXT),
    st.text(alphabet=st.characters(exclude_categories=()), max_size=40),  # lone surrogates included
    st.text(alphabet=st.sampled_from(CONTROL), max_size=20),
    st.integers(min_value=1_000, max_value=40_000).map(lambda n: "x" * n),  # oversized
)
numbers = st.one_of(
    st.integers(min_value=-(2**70), max_value=2**70),
    st.sampled_from([0, -1, 1, 2**31, 2**31 - 1, 2**63, -(2**63), 10**30]),
    st.floats(allow_nan=False, allow_infinity=False),
    st.sampled_from([1e308, -1e308, 5e-324, 0.5, -0.0]),
)
scalars = st.one_of(st.none(), st.booleans(), numbers, texts)
values = st.recursive(
    scalars,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4),
        st.dictionaries(st.sampled_from(FIELDS), inner, max_size=4),
    ),
    max_leaves=12,
)
objects = st.dictionaries(st.sampled_from(FIELDS), values, max_size=8)


def nested(depth: int) -> str:
    return "[" * depth + "]" * depth


def _dump(value) -> str:
    return json.dumps(value, ensure_ascii=True)  # \\ud800 escapes survive as JSON text


# A raw frame or body: valid JSON of any shape, deep nesting, or not JSON at all.
raw_json = st.one_of(
    objects.map(_dump),
    values.map(_dump),
    st.integers(min_value=40, max_value=9_000).map(nested),
    st.integers(min_value=40, max_value=3_000).map(lambda n: '{"type": "send", "body": ' + nested(n) + "}"),
    st.sampled_from(["", "{", "nul\x00", "NaN", "[Infinity]", '{"a": 1e999999}', "1" * 5000, '"\\ud800"', "\xff"]),
)


def frames(frame_type: str):
    """A frame of `frame_type` whose every other field is hostile."""
    return objects.map(lambda obj: _dump({**obj, "type": frame_type}))


# A plausible value for each field, so a mutation of one or two fields gets past the others'
# checks and reaches the code that stores or sends it.
PLAUSIBLE = {
    "body": "Hello, is the blue one in stock?", "client_id": "fuzz-0001", "seq": 1, "last_seq": 0,
    "attachments": [], "kind": "text", "draft": "Hel", "status": "online", "name": "Ann Lee",
    "email": "ann@example.com", "phone": "+48 600 100 200", "url": "https://shop.example/boots",
    "title": "Boots", "referrer": "https://www.example.org/", "language": "en-GB", "rating": "good",
    "comment": "Quick answer", "message": "Please call me back", "shortcut": "hi", "text": "Hello {name}!",
    "tags": "greeting", "scope": "tenant", "slot": 1, "anonymous_id": "0f1e2d3c-4b5a-4968-8776-a5b4c3d2e1f0",
}


def mutations(base: dict):
    """`base` with one to three fields replaced by hostile values (or removed)."""
    # Mostly the fields the endpoints read, mostly the classes that broke them before.
    names = st.one_of(st.sampled_from(sorted(base)), st.sampled_from(sorted(base)), st.sampled_from(FIELDS))
    hostile = st.one_of(st.sampled_from(NASTY_TEXT), texts, values, st.just(...))
    changes = st.lists(st.tuples(names, hostile), min_size=1, max_size=3)

    def apply(items):
        payload = dict(base)
        for name, value in items:
            if value is ...:
                payload.pop(name, None)
            else:
                payload[name] = value
        return payload

    return changes.map(apply)
