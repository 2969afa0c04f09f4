"""What of a reply's text an operator needs to read first: the new part.

Quoted history (a trailing block of `>` lines, "On ... wrote:", Outlook's header block,
"-----Original Message-----") and the signature (`-- `, "Sent from my iPhone") are cut
for display; the full text is always kept beside it. A forwarded message is shown whole:
its "quote" is the point of the mail.
"""

from __future__ import annotations

import re

_WROTE = re.compile(
    r"(wrote|writes|schrieb|a écrit|escribió|scritto|napisał|napisała|napisał\(a\)|пишет|написал|написала|"
    r"написал\(а\)|написав|написала\(а\))\s*:\s*$",
    re.IGNORECASE,
)
_REPLY_INTRO = re.compile(r"^\s*(on|le|am|el|il|w dniu|dnia|в|во|\d{1,4}[./-])\b", re.IGNORECASE)
_DIGIT = re.compile(r"\d")
_ORIGINAL = re.compile(
    r"^\s*-{2,}\s*(original message|ursprüngliche nachricht|message d'origine|исходное сообщение|"
    r"wiadomość oryginalna|oryginalna wiadomość)\s*-{2,}\s*$",
    re.IGNORECASE,
)
_HEADER_FROM = re.compile(r"^\s*\*?(from|von|de|от|od)\s*:\*?\s", re.IGNORECASE)
_HEADER_NEXT = re.compile(
    r"^\s*\*?(sent|date|gesendet|envoyé|отправлено|дата|wysłano|wysłane|data|to|кому|do)\s*:", re.IGNORECASE
)
_OUTLOOK_RULE = re.compile(r"^\s*_{20,}\s*$")
_SIGNATURE = re.compile(r"^--\s?$")
_MOBILE = re.compile(
    r"^\s*(sent from my|get outlook for|отправлено с|отправлено из|wysłane z|wysłano z)\b", re.IGNORECASE
)
FORWARD_MARKERS = re.compile(
    r"^\s*(-{2,}\s*(forwarded message|пересылаемое сообщение|переслано|wiadomość przekazana|"
    r"przekazana wiadomość)\s*-{2,}|begin forwarded message:)",
    re.IGNORECASE | re.MULTILINE,
)
FORWARD_SUBJECT = re.compile(r"^\s*(fwd?|fw|пересл|пересылка|pd|prześlij)\s*:", re.IGNORECASE)


def is_forward(subject: str, text: str) -> bool:
    return bool(FORWARD_SUBJECT.match(subject or "") or FORWARD_MARKERS.search(text or ""))


def _is_quote(line: str) -> bool:
    return line.lstrip().startswith(">")


def _cut_index(lines: list[str]) -> int | None:
    """Index of the first line of quoted history or signature, or None."""
    for i, line in enumerate(lines):
        stripped = line.strip()
        if not stripped:
            continue
        if _ORIGINAL.match(line) or _SIGNATURE.match(line.rstrip("\r")) or _MOBILE.match(line):
            return i
        if _WROTE.search(stripped) and (_REPLY_INTRO.match(stripped) or "@" in stripped or _DIGIT.search(stripped)):
            return i
        # "On Mon, 1 Dec 2026 at 10:00, Ann <ann@example.com>" / "wrote:" split over two lines.
        if _REPLY_INTRO.match(stripped) and i + 1 < len(lines) and _WROTE.search(lines[i + 1].strip()):
            return i
        if (_HEADER_FROM.match(line) or _OUTLOOK_RULE.match(line)) and any(
            _HEADER_NEXT.match(following) for following in lines[i + 1 : i + 5]
        ):
            return i
        if _is_quote(line) and all(_is_quote(rest) or not rest.strip() for rest in lines[i:]):
            return i
    return None


def visible_text(text: str, *, subject: str = "") -> tuple[str, bool]:
    """`(what to show, whether something was folded away)`. Never returns nothing for a non-empty text."""
    if not text or is_forward(subject, text):
        return text, False
    lines = text.splitlines()
    cut = _cut_index(lines)
    if cut is None:
        return text, False
    shown = "\n".join(lines[:cut]).rstrip()
    if not shown.strip():
        return text, False
    return shown, True
