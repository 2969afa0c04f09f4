"""Alphabetical order by a language's rules, as a plain string both databases sort alike.

SQLite compares text byte by byte and PostgreSQL by the database's collation, which
may be "C" or a glibc/ICU locale nobody chose for Polish. Neither knows that Polish
puts "ą" after every "a" word, or that Russian "ё" is "е" with a mark. So the order
is computed here, once per save, into `sort_key`: lower-case hexadecimal digits, which
every collation orders the same way as bytes.

The key has the three levels of the Unicode Collation Algorithm, compared in turn:
letters (with each language's alphabet), then marks (diacritics), then case. The
letters follow the CLDR tailorings for the languages Parley speaks:

- Polish: ą ć ę ł ń ó ś ź ż are letters of their own, right after a c e l n o s z (ź before ż).
- Russian: й is a letter of its own after и; ё is е with a secondary mark (CLDR root).
- English: every accented Latin letter is its base letter with a mark (CLDR root).

`folded()` is the other half: text without case and marks, for searching.
"""

from __future__ import annotations

import unicodedata

__all__ = ["collation_key", "folded"]

# Primary weights, 4 hex digits each; 0000 ends the level so a prefix sorts first.
_SPACE = 0x0010
_PUNCT = 0x0020
_DIGIT = 0x0100
_LATIN = 0x0200  # a..z at even steps, so a tailored letter fits right after its base
_CYRILLIC = 0x0300  # а..я likewise
_OTHER = 0x1000

# Letters without a canonical decomposition that CLDR root treats as base + mark.
_STROKED = {"ł": ("l", 0x30), "ø": ("o", 0x30), "đ": ("d", 0x30), "ħ": ("h", 0x30)}

# language -> {letter: (base letter, step after it)}
_TAILORED: dict[str, dict[str, tuple[str, int]]] = {
    "pl": {
        "ą": ("a", 1),
        "ć": ("c", 1),
        "ę": ("e", 1),
        "ł": ("l", 1),
        "ń": ("n", 1),
        "ó": ("o", 1),
        "ś": ("s", 1),
        # ź and ż both follow z: ź first. Odd steps only, so "z" + 1 and + 2 cannot meet a base letter.
        "ź": ("z", 1),
        "ż": ("z", 2),
    },
    "ru": {"й": ("и", 1)},
}
# й is a letter of its own in every language that writes Cyrillic (CLDR root agrees).
for _language in ("en", "pl"):
    _TAILORED.setdefault(_language, {})["й"] = ("и", 1)


def _base_weight(char: str) -> int:
    if "a" <= char <= "z":
        return _LATIN + 2 * (ord(char) - ord("a"))
    if "а" <= char <= "я":
        return _CYRILLIC + 2 * (ord(char) - ord("а"))
    if char.isdigit():
        return _DIGIT + unicodedata.digit(char, 0)
    if char.isspace():
        return _SPACE
    category = unicodedata.category(char)
    if category[0] in "PSZC":
        return _PUNCT + (ord(char) % 0x80 if ord(char) < 0x80 else 0x7F)
    return min(_OTHER + ord(char), 0xFFFF)


def _elements(text: str, language: str) -> list[tuple[int, int, int]]:
    """(primary, secondary, tertiary) for each letter of `text`."""
    tailored = _TAILORED.get(language, _TAILORED["en"])
    elements: list[tuple[int, int, int]] = []
    for raw in unicodedata.normalize("NFC", text):
        lower = raw.lower()
        tertiary = 1 if lower != raw else 0
        if lower in tailored:
            base, step = tailored[lower]
            elements.append((_base_weight(base) + step, 0, tertiary))
            continue
        if lower in _STROKED:
            base, mark = _STROKED[lower]
            elements.append((_base_weight(base), mark, tertiary))
            continue
        decomposed = unicodedata.normalize("NFD", lower)
        base, marks = decomposed[0], decomposed[1:]
        secondary = 0
        for mark in marks:
            # Any combining mark makes the letter sort after its bare form; the kind of mark
            # orders accented variants among themselves.
            secondary = secondary * 2 + (ord(mark) & 0x7F) + 1 if unicodedata.combining(mark) else secondary
        for char in base.casefold() if len(base.casefold()) > 1 else base:
            elements.append((_base_weight(char), min(secondary, 0xFF), tertiary))
    return elements


def collation_key(text: str, language: str = "en", max_chars: int = 120) -> str:
    """A key whose plain string order is `language`'s alphabetical order of `text`."""
    elements = _elements((text or "")[:max_chars], language)
    primary = "".join(f"{p:04x}" for p, _, _ in elements)
    secondary = "".join(f"{s:02x}" for _, s, _ in elements)
    tertiary = "".join(f"{t:x}" for _, _, t in elements)
    return f"{primary}0000{secondary}00{tertiary}"


def folded(text: str) -> str:
    """Lower case without diacritics ("Żółw" -> "zolw", "Ёлка" -> "елка"): what search compares."""
    text = (text or "").casefold()
    text = "".join(_STROKED[ch][0] if ch in _STROKED else ch for ch in text)
    return "".join(ch for ch in unicodedata.normalize("NFD", text) if not unicodedata.combining(ch))
