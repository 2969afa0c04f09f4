"""Every write to canned replies, their attachments, hotkeys and usage counts.

The admin (tenant and department replies), the dashboard API (an operator's personal
replies and hotkeys), the CSV import and the signup's starter set all call these. Each
function takes the tenant, validates first (a `ValidationError` keyed by field, nothing
written), and writes inside a transaction in the tenant's scope.
"""

from __future__ import annotations

import os
import re
import secrets
from typing import Any

from django.core.exceptions import SuspiciousFileOperation, ValidationError
from django.core.files import File
from django.core.files.uploadedfile import UploadedFile
from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils import timezone
from django.utils.text import get_valid_filename
from django.utils.translation import gettext as _

from apps.accounts.models import Department, Membership, Tenant
from apps.conversations.models import Conversation
from apps.core.tenancy import tenant_scope

from . import events, placeholders
from .collation import collation_key, folded
from .models import (
    HOTKEY_SLOTS,
    SHORTCUT_MAX_CHARS,
    TAGS_MAX_CHARS,
    TEXT_MAX_CHARS,
    TITLE_MAX_CHARS,
    CannedAttachment,
    CannedHotkey,
    CannedReply,
    CannedUsage,
    Scope,
)

__all__ = [
    "canned_attachment_add",
    "canned_hotkey_set",
    "canned_reply_create",
    "canned_reply_delete",
    "canned_reply_fill",
    "canned_reply_update",
    "canned_reply_validate",
    "canned_sort_keys_refresh",
    "canned_usage_record",
]

SHORTCUT = re.compile(r"^[\w-]+$")
TAG = re.compile(r"^[\w-]{1,30}$")
ATTACHMENT_MAX_BYTES = 10 * 1024 * 1024
ATTACHMENTS_PER_REPLY = 5
EDITABLE_FIELDS = ("title", "shortcut", "text", "language", "tags")


def _languages() -> set[str]:
    from django.conf import settings

    return {code for code, _name in settings.LANGUAGES}


def normalize_tags(raw: Any) -> tuple[str, list[str]]:
    """("delivery, shipping", errors) from a comma-separated string or a list of tags."""
    items = raw if isinstance(raw, list | tuple) else str(raw or "").split(",")
    tags: list[str] = []
    errors: list[str] = []
    for item in items:
        tag = str(item).strip().lstrip("#").strip().casefold()
        if not tag:
            continue
        if not TAG.match(tag):
            errors.append(_("“%(tag)s” is not a valid tag: use letters, digits, - and _ (up to 30).") % {"tag": tag})
        elif tag not in tags:
            tags.append(tag)
    joined = ", ".join(tags)
    if len(joined) > TAGS_MAX_CHARS:
        errors.append(_("Too many tags (at most %(max)s characters in all).") % {"max": TAGS_MAX_CHARS})
    return joined, errors


def canned_reply_validate(
    *,
    tenant: Tenant,
    fields: dict[str, Any],
    scope: str,
    department: Department | None = None,
    owner: Membership | None = None,
    instance: CannedReply | None = None,
) -> dict[str, Any]:
    """The cleaned fields of a reply, or a ValidationError keyed by field. Writes nothing.

    Shared by the admin form (errors next to the fields), the API and the CSV import.
    """
    errors: dict[str, list[str]] = {}
    cleaned: dict[str, Any] = {}

    title = str(fields.get("title") or "").strip()
    if not title:
        errors["title"] = [_("Enter a title.")]
    elif len(title) > TITLE_MAX_CHARS:
        errors["title"] = [_("At most %(max)s characters.") % {"max": TITLE_MAX_CHARS}]
    cleaned["title"] = title

    shortcut = str(fields.get("shortcut") or "").strip().lstrip("/")
    if not shortcut:
        errors["shortcut"] = [_("Enter a shortcut.")]
    elif len(shortcut) > SHORTCUT_MAX_CHARS:
        errors["shortcut"] = [_("At most %(max)s characters.") % {"max": SHORTCUT_MAX_CHARS}]
    elif not SHORTCUT.match(shortcut):
        errors["shortcut"] = [_("Use letters, digits, - and _ only, without spaces.")]
    cleaned["shortcut"] = shortcut

    text = str(fields.get("text") or "").replace("\r\n", "\n").strip()
    if not text:
        errors["text"] = [_("Enter the text of the reply.")]
    elif len(text) > TEXT_MAX_CHARS:
        errors["text"] = [_("At most %(max)s characters.") % {"max": TEXT_MAX_CHARS}]
    elif "\x00" in text:
        errors["text"] = [_("The text contains characters that cannot be sent.")]
    elif problems := placeholders.problems(text):
        errors["text"] = problems
    cleaned["text"] = text

    language = str(fields.get("language") or tenant.default_language or "en").strip().lower()
    if language not in _languages():
        errors["language"] = [_("Choose one of: %(languages)s.") % {"languages": ", ".join(sorted(_languages()))}]
    cleaned["language"] = language

    tags, tag_errors = normalize_tags(fields.get("tags", ""))
    if tag_errors:
        errors["tags"] = tag_errors
    cleaned["tags"] = tags

    if scope not in Scope.values:
        errors["scope"] = [_("Choose who the reply is for.")]
    elif scope == Scope.DEPARTMENT and department is None:
        errors["department"] = [_("Choose the department.")]
    elif scope == Scope.PERSONAL and owner is None:
        errors["owner"] = [_("Choose the operator.")]
    for related in (department, owner):
        if related is not None and related.tenant_id != tenant.pk:
            errors["scope"] = [_("Not found.")]

    if "shortcut" not in errors and "scope" not in errors:
        with tenant_scope(tenant):
            same = CannedReply.objects.filter(tenant=tenant, scope=scope, shortcut_folded=folded(shortcut))
            if scope == Scope.DEPARTMENT:
                same = same.filter(department=department)
            elif scope == Scope.PERSONAL:
                same = same.filter(owner=owner)
            if instance is not None and instance.pk:
                same = same.exclude(pk=instance.pk)
            if same.exists():
                errors["shortcut"] = [_("Another reply here already uses /%(shortcut)s.") % {"shortcut": shortcut}]
    if errors:
        raise ValidationError(errors)
    return cleaned


def _derive(reply: CannedReply, tenant: Tenant) -> None:
    reply.sort_key = collation_key(reply.title, tenant.default_language)
    reply.shortcut_folded = folded(reply.shortcut)[:SHORTCUT_MAX_CHARS]
    reply.search_text = "\n".join(folded(part) for part in (reply.shortcut, reply.title, reply.text))


def _scope_fields(scope: str, department: Department | None, owner: Membership | None) -> dict[str, Any]:
    return {
        "scope": scope,
        "department": department if scope == Scope.DEPARTMENT else None,
        "owner": owner if scope == Scope.PERSONAL else None,
    }


def _save(reply: CannedReply) -> CannedReply:
    try:
        with transaction.atomic():
            reply.save()
    except IntegrityError as error:
        # Two saves raced for the same shortcut between the check and the insert.
        raise ValidationError({"shortcut": [_("Another reply here already uses this shortcut.")]}) from error
    return reply


def _announce(*, tenant: Tenant, membership_id: int | None, what: str) -> None:
    """On commit, the operator's other dashboard tabs are told to reload (their own sockets only)."""
    if membership_id is None:
        return
    with tenant_scope(tenant):
        user_id = Membership.objects.filter(tenant=tenant, pk=membership_id).values_list("user_id", flat=True).first()
    if user_id is not None:
        events.canned_changed(user_id=user_id, membership_id=membership_id, what=what)


def canned_reply_create(
    *,
    tenant: Tenant,
    scope: str = Scope.TENANT,
    department: Department | None = None,
    owner: Membership | None = None,
    title: str,
    shortcut: str,
    text: str,
    language: str = "",
    tags: Any = "",
) -> CannedReply:
    fields = {"title": title, "shortcut": shortcut, "text": text, "language": language, "tags": tags}
    with tenant_scope(tenant):
        cleaned = canned_reply_validate(tenant=tenant, fields=fields, scope=scope, department=department, owner=owner)
        reply = CannedReply(tenant=tenant, **_scope_fields(scope, department, owner), **cleaned)
        _derive(reply, tenant)
        _save(reply)
    _announce(tenant=tenant, membership_id=reply.owner_id, what="replies")
    return reply


def canned_reply_update(
    *,
    tenant: Tenant,
    reply: CannedReply,
    scope: str | None = None,
    department: Department | None = None,
    owner: Membership | None = None,
    **changes: Any,
) -> CannedReply:
    """Change the given fields (any of title, shortcut, text, language, tags) and, for admins, the scope."""
    unknown = set(changes) - set(EDITABLE_FIELDS)
    if unknown:
        raise ValidationError({name: [_("This field cannot be changed.")] for name in sorted(unknown)})
    if reply.tenant_id != tenant.pk:
        raise ValidationError({"__all__": [_("Not found.")]})
    if scope is None:
        scope, department, owner = reply.scope, reply.department, reply.owner
    fields = {name: changes.get(name, getattr(reply, name)) for name in EDITABLE_FIELDS}
    with tenant_scope(tenant):
        cleaned = canned_reply_validate(
            tenant=tenant, fields=fields, scope=scope, department=department, owner=owner, instance=reply
        )
        for name, value in {**cleaned, **_scope_fields(scope, department, owner)}.items():
            setattr(reply, name, value)
        reply.updated_at = timezone.now()
        _derive(reply, tenant)
        _save(reply)
    _announce(tenant=tenant, membership_id=reply.owner_id, what="replies")
    return reply


def canned_reply_delete(*, tenant: Tenant, reply: CannedReply) -> None:
    with transaction.atomic(), tenant_scope(tenant):
        files = [a.file for a in CannedAttachment.objects.filter(tenant=tenant, reply_id=reply.pk)]
        CannedReply.objects.filter(tenant=tenant, pk=reply.pk).delete()
        transaction.on_commit(lambda: [f.delete(save=False) for f in files])
        _announce(tenant=tenant, membership_id=reply.owner_id, what="replies")


def _filename(name: str | None) -> str:
    try:
        return get_valid_filename(os.path.basename(str(name or "").replace("\\", "/")))[-200:]
    except SuspiciousFileOperation:
        return "file"


def canned_attachment_add(*, tenant: Tenant, reply: CannedReply, file: UploadedFile) -> CannedAttachment:
    """Store a file that goes out with the reply; its type is checked again when it is sent."""
    if reply.tenant_id != tenant.pk:
        raise ValidationError({"file": [_("Not found.")]})
    if file is None or not file.size:
        raise ValidationError({"file": [_("Choose a file.")]})
    if file.size > ATTACHMENT_MAX_BYTES:
        raise ValidationError({"file": [_("The file is too large (at most %(mb)s MB).") % {"mb": 10}]})
    with transaction.atomic(), tenant_scope(tenant):
        if CannedAttachment.objects.filter(tenant=tenant, reply_id=reply.pk).count() >= ATTACHMENTS_PER_REPLY:
            raise ValidationError({"file": [_("At most %(max)s files per reply.") % {"max": ATTACHMENTS_PER_REPLY}]})
        attachment = CannedAttachment(
            tenant=tenant,
            reply=reply,
            token=secrets.token_urlsafe(24),
            filename=_filename(file.name),
            content_type=(getattr(file, "content_type", "") or "application/octet-stream")[:100],
            size=file.size,
        )
        attachment.file.save(attachment.token, file, save=False)
        attachment.save(force_insert=True)
    return attachment


def canned_usage_record(*, tenant: Tenant, reply: CannedReply, membership: Membership) -> None:
    """Count one insert of `reply` by `membership` (per operator and in the reply's total)."""
    now = timezone.now()
    with transaction.atomic(), tenant_scope(tenant):
        updated = CannedUsage.objects.filter(tenant=tenant, reply_id=reply.pk, membership=membership).update(
            count=F("count") + 1, last_used_at=now
        )
        if not updated:
            try:
                with transaction.atomic():
                    CannedUsage.objects.create(
                        tenant=tenant, reply_id=reply.pk, membership=membership, count=1, last_used_at=now
                    )
            except IntegrityError:
                CannedUsage.objects.filter(tenant=tenant, reply_id=reply.pk, membership=membership).update(
                    count=F("count") + 1, last_used_at=now
                )
        CannedReply.objects.filter(tenant=tenant, pk=reply.pk).update(usage_count=F("usage_count") + 1)


def placeholder_values(*, tenant: Tenant, membership: Membership, conversation: Conversation | None):
    visitor = conversation.visitor if conversation is not None else None
    attributes = visitor.attributes if visitor is not None and isinstance(visitor.attributes, dict) else {}
    return placeholders.PlaceholderValues(
        visitor_name=visitor.name if visitor else "",
        visitor_email=visitor.email if visitor else "",
        operator_name=membership.name_for_visitors,
        company_name=tenant.name,
        page_url=visitor.current_url if visitor else "",
        page_title=visitor.current_title if visitor else "",
        attributes=attributes,
    )


def canned_reply_fill(
    *, tenant: Tenant, reply: CannedReply, membership: Membership, conversation: Conversation | None
) -> dict[str, Any]:
    """The reply's text with its placeholders filled for `conversation`, and its files staged there.

    Counts as one use. The files become the operator's uploads in the conversation (checked
    like any upload); the dashboard sends their tokens with the message, through the normal
    send path. `reply` and `conversation` must come from selectors that checked access.
    """
    from apps.conversations import frames
    from apps.conversations import services as conversation_services

    values = placeholder_values(tenant=tenant, membership=membership, conversation=conversation)
    text = placeholders.fill(reply.text, values)
    staged = []
    if conversation is not None:
        with tenant_scope(tenant):
            files = list(CannedAttachment.objects.filter(tenant=tenant, reply_id=reply.pk))
        for item in files:
            with item.file.open("rb") as stored:
                attachment = conversation_services.attachment_upload(
                    tenant=tenant,
                    conversation=conversation,
                    file=File(stored, name=item.filename),
                    uploader_side="operator",
                )
            staged.append(frames.attachment_payload(attachment))
    canned_usage_record(tenant=tenant, reply=reply, membership=membership)
    return {"id": reply.pk, "text": text, "attachments": staged}


def canned_hotkey_set(
    *, tenant: Tenant, membership: Membership, slot: int, reply: CannedReply | None, sends: bool = True
) -> CannedHotkey | None:
    """Put `reply` on Alt+`slot` for `membership` (None clears the key). `reply` must be visible to them."""
    if slot not in HOTKEY_SLOTS:
        raise ValidationError({"slot": [_("Choose a key from 1 to 9.")]})
    if reply is not None and reply.tenant_id != tenant.pk:
        raise ValidationError({"reply": [_("Not found.")]})
    with transaction.atomic(), tenant_scope(tenant):
        CannedHotkey.objects.filter(tenant=tenant, membership=membership, slot=slot).delete()
        hotkey = None
        if reply is not None:
            hotkey = CannedHotkey.objects.create(
                tenant=tenant, membership=membership, slot=slot, reply=reply, sends=bool(sends)
            )
        _announce(tenant=tenant, membership_id=membership.pk, what="hotkeys")
    return hotkey


def canned_sort_keys_refresh(*, tenant: Tenant) -> int:
    """Recompute every reply's alphabetical key, e.g. after the tenant's language changed."""
    count = 0
    with transaction.atomic(), tenant_scope(tenant):
        replies = list(CannedReply.objects.filter(tenant=tenant).only("id", "title", "shortcut", "text"))
        for reply in replies:
            reply.sort_key = collation_key(reply.title, tenant.default_language)
        count = CannedReply.objects.bulk_update(replies, ["sort_key"], batch_size=500)
    return count
