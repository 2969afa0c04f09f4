"""Raw RFC 5322 bytes to what Parley shows and threads on. Pure: no database, no storage.

`parse_email(raw)` never raises for bad input: whatever the MIME looks like, it returns a
`ParsedEmail` whose `defects` say what was wrong. The stdlib parser runs with the
`compat32` policy, which tolerates anything, and every header and body is decoded here
with a charset fallback (`charsets.decode_bytes`), so a wrong or unknown charset costs
accuracy, never the message.
"""

from __future__ import annotations

import email
import email.utils
import hashlib
import re
from dataclasses import dataclass, field
from datetime import datetime
from email import policy
from email.header import decode_header
from email.message import Message as MimeMessage

from apps.emailbridge.charsets import decode_bytes
from apps.emailbridge.htmltext import html_to_text, sanitize_html
from apps.emailbridge.quoting import visible_text

MAX_DEPTH = 30
MAX_PARTS = 500
_MSGID = re.compile(r"<([^<>\s]{1,900})>")
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ud800-\udfff]")


@dataclass
class ParsedAttachment:
    filename: str
    content_type: str
    payload: bytes
    content_id: str = ""
    inline: bool = False

    @property
    def size(self) -> int:
        return len(self.payload)


@dataclass
class ParsedEmail:
    message_id: str = ""
    in_reply_to: list[str] = field(default_factory=list)
    references: list[str] = field(default_factory=list)
    subject: str = ""
    from_name: str = ""
    from_address: str = ""
    reply_to: list[tuple[str, str]] = field(default_factory=list)
    to: list[tuple[str, str]] = field(default_factory=list)
    cc: list[tuple[str, str]] = field(default_factory=list)
    delivered_to: list[str] = field(default_factory=list)
    date: datetime | None = None
    text: str = ""
    display_text: str = ""
    quoted: bool = False
    html: str = ""
    attachments: list[ParsedAttachment] = field(default_factory=list)
    # Lower-cased header names to their decoded values, for the loop-safety rules.
    headers: dict[str, list[str]] = field(default_factory=dict)
    content_type: str = ""
    defects: list[str] = field(default_factory=list)

    @property
    def reference_ids(self) -> list[str]:
        """Every Message-ID this mail says it answers, nearest first."""
        return list(dict.fromkeys([*self.in_reply_to, *reversed(self.references)]))

    def header(self, name: str) -> str:
        values = self.headers.get(name.lower())
        return values[0] if values else ""

    @property
    def malformed(self) -> bool:
        return bool(self.defects)


# --- headers ----------------------------------------------------------------------------------


def _clean(value: str) -> str:
    return _CONTROL.sub("", value).replace("\r", " ").replace("\n", " ").strip()


def decode_header_value(value) -> str:
    """An RFC 2047 (or raw 8-bit) header value as text, whatever its charsets."""
    if value is None:
        return ""
    try:
        chunks = decode_header(value)
    except Exception:  # malformed encoded words: keep the text as it came
        return _clean(_surrogates_to_text(str(value)))
    out = []
    for chunk, charset in chunks:
        if isinstance(chunk, str):
            out.append(_surrogates_to_text(chunk))
        else:
            out.append(decode_bytes(chunk, None if charset in (None, "unknown-8bit") else charset))
    # decode_header drops the whitespace between an encoded word and plain text.
    text = ""
    for piece in out:
        if text and not text[-1].isspace() and piece and not piece[0].isspace() and len(out) > 1:
            text += " "
        text += piece
    return _clean(" ".join(text.split()))


def _surrogates_to_text(value: str) -> str:
    """compat32 keeps 8-bit header bytes as surrogate escapes: decode them properly."""
    if not any("\udc80" <= ch <= "\udcff" for ch in value):
        return value
    return decode_bytes(value.encode("ascii", "surrogateescape"))


def _raw_headers(msg: MimeMessage, name: str) -> list[str]:
    values = []
    for value in msg.get_all(name, []) or []:
        if not isinstance(value, str):
            # compat32 hands 8-bit headers over as Header objects; str() of one loses the bytes.
            try:
                value = "".join(
                    chunk if isinstance(chunk, str) else decode_bytes(chunk, None) for chunk, _ in decode_header(value)
                )
            except Exception:
                value = str(value)
        values.append(value)
    return values


def _addresses(msg: MimeMessage, name: str) -> list[tuple[str, str]]:
    raw = _raw_headers(msg, name)
    if not raw:
        return []
    try:
        pairs = email.utils.getaddresses(raw)
    except Exception:
        pairs = []
    out = []
    for display, address in pairs:
        address = _clean(_surrogates_to_text(address)).strip("<>").lower()
        if "@" not in address or len(address) > 320:
            continue
        out.append((decode_header_value(display)[:200], address))
    return out


def message_ids(value: str) -> list[str]:
    """The `<id>` values in an In-Reply-To / References / Message-ID header, without brackets."""
    found = _MSGID.findall(value or "")
    if not found and value and "@" in value and " " not in value.strip():
        found = [value.strip()]  # some clients forget the brackets
    return [item for item in found if "@" in item]


def dedup_key(message_id: str, raw: bytes) -> str:
    """What makes two deliveries the same mail: its Message-ID, or without one its bytes."""
    if message_id:
        return hashlib.sha256(b"mid:" + message_id.encode("utf-8", "surrogatepass")).hexdigest()
    return hashlib.sha256(b"raw:" + raw).hexdigest()


# --- bodies -----------------------------------------------------------------------------------


def _payload(part: MimeMessage) -> bytes:
    try:
        payload = part.get_payload(decode=True)
    except Exception:
        payload = None
    if payload is None:
        raw = part.get_payload()
        if isinstance(raw, str):
            return raw.encode("utf-8", "surrogateescape")
        return b""
    return payload


def _charset(part: MimeMessage) -> str | None:
    try:
        return part.get_content_charset()
    except Exception:
        return None


def _filename(part: MimeMessage) -> str:
    name = None
    try:
        name = part.get_filename()  # RFC 2231 (filename*=) is collapsed here
    except Exception:
        name = None
    if not name:
        try:
            name = part.get_param("name")
        except Exception:
            name = None
        if isinstance(name, tuple):  # RFC 2231 on name*=
            name = email.utils.collapse_rfc2231_value(name)
    if not name:
        return ""
    # Encoded words inside a quoted filename are not RFC-compliant, and every client sends them.
    name = decode_header_value(name)
    return name.replace("/", "_").replace("\\", "_").strip()[:200]


def _disposition(part: MimeMessage) -> str:
    try:
        return (part.get_content_disposition() or "").lower()
    except Exception:
        return ""


_EXTENSIONS = {
    "text/plain": "txt",
    "text/html": "html",
    "text/calendar": "ics",
    "message/rfc822": "eml",
    "message/delivery-status": "txt",
    "image/png": "png",
    "image/jpeg": "jpg",
    "image/gif": "gif",
    "application/pdf": "pdf",
}


class _Walker:
    def __init__(self, result: ParsedEmail) -> None:
        self.result = result
        self.texts: list[str] = []
        self.htmls: list[str] = []
        self.parts = 0

    def walk(self, part: MimeMessage, depth: int = 0) -> None:
        self.parts += 1
        if depth > MAX_DEPTH or self.parts > MAX_PARTS:
            self.result.defects.append("too_deep" if depth > MAX_DEPTH else "too_many_parts")
            return
        ctype = part.get_content_type().lower()
        if ctype == "message/rfc822" or (ctype.startswith("message/") and part.is_multipart()):
            self._forwarded(part, depth)
            return
        if part.is_multipart():
            children = part.get_payload()
            if not isinstance(children, list):
                return
            if ctype == "multipart/alternative":
                self._alternative(children, depth)
            else:
                for child in children:
                    if isinstance(child, MimeMessage):
                        self.walk(child, depth + 1)
            return
        self._leaf(part, ctype, top_level=depth == 0)

    def _alternative(self, children: list, depth: int) -> None:
        # Walk each alternative into its own collector; keep one plain and one HTML rendering.
        plain: list[str] = []
        html: list[str] = []
        for child in children:
            if not isinstance(child, MimeMessage):
                continue
            sub = _Walker(self.result)
            sub.parts = self.parts
            sub.walk(child, depth + 1)
            self.parts = sub.parts
            if sub.texts and not plain:
                plain = sub.texts
            if sub.htmls:
                html = sub.htmls  # the last alternative is the richest
        self.texts.extend(plain)
        self.htmls.extend(html)
        if html and not plain:
            self.texts.extend(html_to_text(h) for h in html)

    def _forwarded(self, part: MimeMessage, depth: int) -> None:
        payload = part.get_payload()
        inner = payload[0] if isinstance(payload, list) and payload else None
        if not isinstance(inner, MimeMessage):
            raw = _payload(part)
            try:
                inner = email.message_from_bytes(raw, policy=policy.compat32)
            except Exception:
                inner = None
        try:
            raw = inner.as_bytes(policy=policy.compat32) if inner is not None else _payload(part)
        except Exception:
            raw = _payload(part)
        subject = decode_header_value(inner.get("Subject")) if inner is not None else ""
        name = _filename(part) or f"{(subject or 'message')[:80]}.eml"
        self.result.attachments.append(ParsedAttachment(filename=name, content_type="message/rfc822", payload=raw))
        if inner is None:
            return
        nested = _Walker(self.result)
        nested.parts = self.parts
        nested.walk(inner, depth + 1)
        self.parts = nested.parts
        header_lines = []
        for label, header in (("From", "From"), ("Date", "Date"), ("Subject", "Subject"), ("To", "To")):
            value = decode_header_value(inner.get(header))
            if value:
                header_lines.append(f"{label}: {value}")
        body = "\n\n".join(t for t in nested.texts if t.strip())
        self.texts.append("---------- Forwarded message ----------\n" + "\n".join(header_lines) + "\n\n" + body)
        self.htmls.extend(nested.htmls)

    def _leaf(self, part: MimeMessage, ctype: str, top_level: bool = False) -> None:
        disposition = _disposition(part)
        filename = _filename(part)
        is_body_text = ctype in ("text/plain", "text/html") and (
            top_level or (disposition != "attachment" and not filename)
        )
        if is_body_text:
            text = decode_bytes(_payload(part), _charset(part))
            if ctype == "text/html":
                self.htmls.append(text)
            else:
                self.texts.append(text.replace("\r\n", "\n").replace("\r", "\n"))
            return
        if ctype.startswith("multipart/"):
            # A multipart whose boundary never appears: its body is all there is, show it as text.
            # (A transfer encoding on a multipart is invalid: the bytes are taken as they are.)
            body = part.get_payload()
            body = body.encode("utf-8", "surrogateescape") if isinstance(body, str) else _payload(part)
            text = decode_bytes(body, _charset(part))
            if text.strip():
                self.texts.append(text.replace("\r\n", "\n").replace("\r", "\n"))
            return
        payload = _payload(part)
        if not filename:
            extension = _EXTENSIONS.get(ctype, "bin")
            filename = f"part-{len(self.result.attachments) + 1}.{extension}"
        content_id = decode_header_value(part.get("Content-ID")).strip("<> ")
        self.result.attachments.append(
            ParsedAttachment(
                filename=filename,
                content_type=ctype[:100],
                payload=payload,
                content_id=content_id[:200],
                inline=disposition == "inline" or (bool(content_id) and disposition != "attachment"),
            )
        )


# --- entry point ------------------------------------------------------------------------------

INTERESTING_HEADERS = (
    "auto-submitted",
    "precedence",
    "x-autoreply",
    "x-autorespond",
    "x-auto-response-suppress",
    "list-id",
    "list-unsubscribe",
    "return-path",
    "x-failed-recipients",
    "feedback-id",
    "x-loop",
    "x-parley-loop",
)


def strip_mbox_line(raw: bytes) -> bytes:
    """An mbox file starts with a `From ` envelope line, which is not a header."""
    if raw.startswith(b"From "):
        end = raw.find(b"\n")
        return raw[end + 1 :] if end != -1 else b""
    return raw


def parse_email(raw: bytes) -> ParsedEmail:
    result = ParsedEmail()
    try:
        msg = email.message_from_bytes(strip_mbox_line(raw), policy=policy.compat32)
    except Exception as exc:  # the compat32 parser does not raise on bad MIME, but never trust that
        result.defects.append(f"unparseable: {type(exc).__name__}")
        result.text = decode_bytes(raw)
        result.display_text = result.text
        return result
    try:
        _fill(result, msg, raw)
    except RecursionError:
        result.defects.append("too_deep")
    except Exception as exc:
        # A bug here must not cost the message: flag it, show the raw body as text, keep the original.
        result.defects.append(f"parser_error: {type(exc).__name__}")
        if not result.text:
            body = raw.split(b"\r\n\r\n", 1)[-1] if b"\r\n\r\n" in raw else raw.split(b"\n\n", 1)[-1]
            result.text = _CONTROL.sub("", decode_bytes(body))
            result.display_text = result.text
    if not result.text.strip() and not result.attachments and not result.html and msg.keys() == []:
        result.defects.append("no_headers_or_body")
    return result


def _fill(result: ParsedEmail, msg: MimeMessage, raw: bytes) -> None:
    for defect in msg.defects:
        result.defects.append(type(defect).__name__)
    ids = message_ids(_raw_headers(msg, "Message-ID")[0]) if _raw_headers(msg, "Message-ID") else []
    result.message_id = ids[0] if ids else ""
    result.in_reply_to = [i for v in _raw_headers(msg, "In-Reply-To") for i in message_ids(v)]
    result.references = [i for v in _raw_headers(msg, "References") for i in message_ids(v)]
    result.subject = decode_header_value(msg.get("Subject"))[:300]
    senders = _addresses(msg, "From") or _addresses(msg, "Sender")
    if senders:
        result.from_name, result.from_address = senders[0]
    result.reply_to = _addresses(msg, "Reply-To")
    result.to = _addresses(msg, "To")
    result.cc = _addresses(msg, "Cc")
    result.delivered_to = [a for _, a in _addresses(msg, "Delivered-To") + _addresses(msg, "X-Original-To")]
    try:
        date = email.utils.parsedate_to_datetime(str(msg.get("Date", "")))
        result.date = date if date.tzinfo is not None else None
    except Exception:
        result.date = None
    for name in INTERESTING_HEADERS:
        values = [decode_header_value(v) for v in _raw_headers(msg, name)]
        if values:
            result.headers[name] = values
    result.content_type = msg.get_content_type().lower()

    walker = _Walker(result)
    walker.walk(msg)
    for part in msg.walk() if msg.is_multipart() else []:
        for defect in getattr(part, "defects", []):
            result.defects.append(type(defect).__name__)
    result.defects = list(dict.fromkeys(result.defects))
    # PostgreSQL text cannot hold NUL, and no reader wants other control characters.
    result.text = _CONTROL.sub("", "\n\n".join(t.strip("\n") for t in walker.texts if t.strip())).strip()
    html = _CONTROL.sub("", "\n".join(walker.htmls))
    result.html = sanitize_html(html) if html else ""
    if not result.text and html:
        result.text = _CONTROL.sub("", html_to_text(html))
    result.display_text, result.quoted = visible_text(result.text, subject=result.subject)
