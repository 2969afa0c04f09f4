"""Bytes of unknown provenance to text: never an exception, never a row of question marks.

Mail declares its charset, and the declaration is often wrong (Windows-1251 sent as
KOI8-R, UTF-8 sent as ISO-8859-1, `ks_c_5601-1987`, `x-unknown`, nothing at all).
The declared charset wins when it decodes cleanly and the text looks like words; otherwise
UTF-8, then charset-normalizer's guess, then the likeliest of the common single-byte
charsets decide. Latin-1 decodes anything, so the last resort still keeps every byte.
"""

from __future__ import annotations

import codecs
import re
import unicodedata

# Labels that mail clients use and Python does not know (or knows as something narrower).
ALIASES = {
    "ks_c_5601-1987": "cp949",
    "ks_c_5601": "cp949",
    "ksc5601": "cp949",
    "euc-kr": "cp949",
    "gb2312": "gb18030",
    "gbk": "gb18030",
    "x-gbk": "gb18030",
    "big5": "big5hkscs",
    "shift_jis": "cp932",
    "shift-jis": "cp932",
    "x-sjis": "cp932",
    "sjis": "cp932",
    "iso-2022-jp": "iso2022_jp_ext",
    "iso-8859-8-i": "iso-8859-8",
    "iso-8859-6-i": "iso-8859-6",
    "windows-874": "cp874",
    "x-mac-cyrillic": "mac-cyrillic",
    "x-mac-roman": "mac-roman",
    "macintosh": "mac-roman",
    "unicode-1-1-utf-7": "utf-7",
    "utf8": "utf-8",
    "x-utf8": "utf-8",
    "iso-8859-1": "cp1252",  # what every "Latin-1" sender actually means
    "latin1": "cp1252",
    "latin-1": "cp1252",
    "us-ascii": "ascii",
    "ansi_x3.4-1968": "ascii",
    "cp-850": "cp850",
    "cp-1251": "cp1251",
    "win-1251": "cp1251",
    "windows-1251": "cp1251",
}
# Codecs whose clean decoding is strong evidence by itself (random bytes rarely are valid).
SELF_CHECKING = {"utf_8", "utf_16", "utf_16_le", "utf_16_be", "utf_32", "utf_7", "ascii"}
SINGLE_BYTE_CANDIDATES = ("cp1251", "koi8_r", "cp1250", "iso8859_2", "cp1252")
_WORD = re.compile(r"[^\W\d_]+")
_BOMS = (
    (codecs.BOM_UTF32_LE, "utf-32"),
    (codecs.BOM_UTF32_BE, "utf-32"),
    (codecs.BOM_UTF8, "utf-8-sig"),
    (codecs.BOM_UTF16_LE, "utf-16"),
    (codecs.BOM_UTF16_BE, "utf-16"),
)


def codec_for(label: str | None) -> str | None:
    """Python's codec name for a MIME charset label, or None when it is unknown."""
    if not label:
        return None
    label = str(label).strip().strip("\"'").lower()
    label = ALIASES.get(label, label)
    try:
        return codecs.lookup(label).name
    except (LookupError, ValueError):
        return None


def _script(ch: str) -> str:
    name = unicodedata.name(ch, "")
    return name.split(" ", 1)[0] if name else ""


def plausibility(text: str) -> int:
    """Higher for text that looks like words: sane letter case, one script per word, few symbols."""
    score = 0
    for word in _WORD.findall(text):
        if len(word) < 2:
            continue
        scripts = {_script(ch) for ch in word}
        if len(scripts) > 1:
            score -= 2 * len(word)
        elif word.islower() or word.istitle() or word.isupper():
            score += len(word)
        else:
            score -= len(word)
    for ch in text:
        if ord(ch) > 127 and unicodedata.category(ch) in {"So", "Sk", "Sm", "No", "Co", "Cc", "Pf", "Pi", "Sc"}:
            score -= 3
    return score


def _strict(data: bytes, codec: str) -> str | None:
    try:
        return data.decode(codec)
    except (UnicodeDecodeError, LookupError, ValueError):
        return None


def _normalizer_guess(data: bytes) -> str | None:
    try:
        from charset_normalizer import from_bytes
    except ImportError:  # pragma: no cover - a dependency of requests, always installed
        return None
    try:
        best = from_bytes(data[:200_000]).best()
    except Exception:  # the guesser must never take the parser down
        return None
    if best is None:
        return None
    return _strict(data, best.encoding)


def _best_single_byte(data: bytes, first: str | None = None) -> str:
    candidates = [first] if first else []
    candidates += [c for c in SINGLE_BYTE_CANDIDATES if c != first]
    best_text, best_score = None, None
    for codec in candidates:
        text = _strict(data, codec)
        if text is None:
            continue
        score = plausibility(text)
        if best_score is None or score > best_score:
            best_text, best_score = text, score
    return best_text if best_text is not None else data.decode("latin-1")


def decode_bytes(data: bytes, declared: str | None = None) -> str:
    """Text from `data`, using the declared charset when it is right and a fallback when not."""
    if not data:
        return ""
    for bom, codec in _BOMS:
        if data.startswith(bom):
            text = _strict(data, codec)
            if text is not None:
                return text
    codec = codec_for(declared)
    if codec is not None:
        text = _strict(data, codec)
        if text is not None:
            if codec in SELF_CHECKING or data.isascii() or _is_multibyte(codec):
                return text
            # A single-byte charset decodes any bytes: check it against the usual suspects.
            utf8 = _strict(data, "utf-8")
            if utf8 is not None:
                return utf8
            if plausibility(text) >= _penalty_free_score(text):
                return text
            return _best_single_byte(data, codec)
    text = _strict(data, "utf-8")
    if text is not None:
        return text
    if b"\x00" in data[:4000]:
        for codec in ("utf-16", "utf-16-le", "utf-16-be"):
            text = _strict(data, codec)
            if text is not None and plausibility(text) > 0:
                return text
    guess = _normalizer_guess(data)
    if guess is not None and plausibility(guess) >= _penalty_free_score(guess):
        return guess
    return _best_single_byte(data)


def _is_multibyte(codec: str) -> bool:
    return codec.startswith(("gb", "big5", "cp932", "cp949", "euc", "iso2022", "shift_jis", "hz", "johab", "cp950"))


def _penalty_free_score(text: str) -> int:
    """The score `text` would have if every word were well-formed: the bar a clean decoding reaches."""
    return sum(len(w) for w in _WORD.findall(text) if len(w) >= 2)
