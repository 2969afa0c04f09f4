"""Every message of three corpora through the real pipeline (stored raw, parsed by the task, routed):
the shared real-world corpus (mikel/mail, CPython 3.12.1), the test_email data this interpreter ships, and
our own under tests/emailbridge/corpus/. 0 exceptions, raw always stored byte for byte, no attachment dropped."""

from __future__ import annotations

import email
import os
import sysconfig
from email import policy
from pathlib import Path

import pytest
from django.conf import settings
from django_scopes import scopes_disabled

from apps.conversations.models import Attachment
from apps.emailbridge.models import InboundEmail
from apps.emailbridge.parsing import parse_email, strip_mbox_line

OWN = Path(__file__).parent / "corpus"


def _shared_corpus() -> Path | None:
    candidates = [os.environ.get("PARLEY_EMAIL_CORPUS", "")]
    candidates += [str(parent / "shared" / "email-corpus") for parent in Path(settings.BASE_DIR).resolve().parents[:2]]
    for candidate in candidates:
        if candidate and Path(candidate).is_dir():
            return Path(candidate)
    return None


def _files(folder: Path | None) -> list[Path]:
    if folder is None or not folder.is_dir():
        return []
    return sorted(p for p in folder.rglob("*") if p.is_file() and p.suffix.lower() not in {".md", ".py"})


SHARED = _shared_corpus()
CPYTHON = Path(sysconfig.get_paths()["stdlib"]) / "test" / "test_email" / "data"
_shared_bytes = {p.read_bytes() for p in _files(SHARED)}
CASES = (
    [pytest.param(p, id=f"own/{p.name}") for p in _files(OWN)]
    + [pytest.param(p, id=f"shared/{p.relative_to(SHARED)}") for p in _files(SHARED)]
    # The interpreter's own test_email data, less the files the shared corpus already holds.
    + [pytest.param(p, id=f"cpython/{p.name}") for p in _files(CPYTHON) if p.read_bytes() not in _shared_bytes]
)


def attachments_in(raw: bytes) -> int:
    """The attachments in the mail, counted independently of the parser under test."""
    message = email.message_from_bytes(strip_mbox_line(raw), policy=policy.compat32)
    if not message.is_multipart():
        return 0  # a single part is the body, whatever it claims to be
    count = 0
    for part in message.walk():
        if part.is_multipart():
            continue
        try:
            if part.get_content_disposition() == "attachment" or part.get_filename():
                count += 1
        except Exception:
            count += 1
    return count


def test_the_corpora_are_there():
    assert len(_files(OWN)) >= 15
    if SHARED is None:
        pytest.skip("the shared email corpus is not beside this checkout")
    assert len(_files(SHARED)) >= 150


@pytest.mark.parametrize("path", CASES)
def test_corpus_message_is_stored_parsed_and_loses_no_attachment(path, tenant, receive):
    raw = path.read_bytes()
    row = receive(raw, to=tenant.inbound_address, envelope_from="corpus@example.com")

    assert row.status != InboundEmail.Status.FAILED, row.error
    with row.raw.open("rb") as handle:
        assert handle.read() == raw
    assert not [d for d in parse_email(raw).defects if d.startswith("parser_error")]
    assert len(row.attachments) >= attachments_in(raw)
    with scopes_disabled():
        stored = {a.token: a for a in Attachment.objects.filter(tenant=tenant)}
    for entry in row.attachments:
        if not entry.get("skipped") and row.status == InboundEmail.Status.DELIVERED:
            assert stored[entry["token"]].size == entry["size"]
    if row.status == InboundEmail.Status.DELIVERED:
        assert row.chat_message_id is not None and "\x00" not in row.text
