"""Real MIME for the email bridge tests, built with the stdlib the way mail clients build it."""

from __future__ import annotations

from email.message import EmailMessage
from email.policy import SMTP
from email.utils import make_msgid


def build(
    *,
    to: str,
    sender: str = "Customer <customer@example.com>",
    subject: str = "Hello",
    text: str | None = "Hello, I have a question.",
    html: str | None = None,
    headers: dict[str, str] | None = None,
    attachments: list[tuple[str, str, bytes]] = (),
    message_id: str | None = None,
) -> bytes:
    message = EmailMessage(policy=SMTP)
    message["From"] = sender
    message["To"] = to
    message["Subject"] = subject
    message["Message-ID"] = message_id or make_msgid(domain="example.com")
    message["Date"] = "Tue, 01 Dec 2026 10:00:00 +0000"
    for name, value in (headers or {}).items():
        message[name] = value
    if text is not None:
        message.set_content(text)
    if html is not None:
        if text is None:
            message.set_content(html, subtype="html")
        else:
            message.add_alternative(html, subtype="html")
    for filename, content_type, payload in attachments:
        maintype, subtype = content_type.split("/", 1)
        message.add_attachment(payload, maintype=maintype, subtype=subtype, filename=filename)
    return message.as_bytes()


def raw(headers: str, body: bytes) -> bytes:
    """Hand-written mail, for shapes no library would produce (wrong charsets, broken MIME)."""
    return headers.strip().replace("\n", "\r\n").encode("ascii") + b"\r\n\r\n" + body
