"""Visitors: who they are (identify, update), where they are (page views), what operators note about them."""

from __future__ import annotations

import re
import secrets
from datetime import timedelta

from django.core.exceptions import ValidationError as DjangoValidationError
from django.core.validators import validate_email
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from apps.accounts.models import Membership, Tenant
from apps.conversations import events
from apps.conversations.errors import BadInput
from apps.conversations.models import PageView, Visitor, VisitorNote
from apps.conversations.services import cleaning
from apps.conversations.services.guards import active_member, in_tenant_scope, own

VISIT_IDLE = timedelta(minutes=30)


def _touch(visitor: Visitor, now) -> list[str]:
    """Mark the visitor seen now; a gap of over 30 minutes starts a new visit. Returns changed fields."""
    changed = ["last_seen_at"]
    if now - visitor.last_seen_at > VISIT_IDLE:
        visitor.visit_count += 1
        visitor.visit_started_at = now
        changed += ["visit_count", "visit_started_at"]
    visitor.last_seen_at = now
    return changed


@in_tenant_scope
def visitor_identify(
    *,
    tenant: Tenant,
    anonymous_id: str | None,
    name: str = "",
    language: str = "",
    user_agent: str = "",
    url: str = "",
    title: str = "",
    referrer: str = "",
) -> Visitor:
    """Load the visitor the widget knows by `anonymous_id`, or create one (with a fresh id if none or malformed)."""
    name = cleaning.truncated(name, 120)
    language = cleaning.truncated(language, 16)
    user_agent = cleaning.truncated(user_agent, 400)
    try:
        url = cleaning.url(url, field="url", required=False)
    except BadInput:
        url = ""
    try:
        referrer = cleaning.url(referrer, field="referrer", required=False)
    except BadInput:
        referrer = ""
    if not isinstance(anonymous_id, str) or not cleaning.ANONYMOUS_ID_RE.fullmatch(anonymous_id):
        anonymous_id = secrets.token_urlsafe(18)
    now = timezone.now()
    with transaction.atomic():
        visitor = Visitor.objects.select_for_update().filter(tenant=tenant, anonymous_id=anonymous_id).first()
        if visitor is None:
            try:
                with transaction.atomic():
                    visitor = Visitor.objects.create(
                        tenant=tenant,
                        anonymous_id=anonymous_id,
                        name=name,
                        language=language,
                        user_agent=user_agent,
                        referrer=referrer,
                        first_seen_at=now,
                        last_seen_at=now,
                        visit_started_at=now,
                    )
            except IntegrityError:
                # Two first calls with the same id raced (two tabs): the other one created it.
                visitor = Visitor.objects.select_for_update().get(tenant=tenant, anonymous_id=anonymous_id)
        else:
            changed = _touch(visitor, now)
            for field, value in (("language", language), ("user_agent", user_agent)):
                if value and getattr(visitor, field) != value:
                    setattr(visitor, field, value)
                    changed.append(field)
            if name and not visitor.name:
                visitor.name = name
                changed.append("name")
            if referrer and "visit_started_at" in changed:
                visitor.referrer = referrer
                changed.append("referrer")
            visitor.save(update_fields=changed)
        if url:
            _page_view(tenant, visitor, url=url, title=cleaning.truncated(title, 300), referrer=referrer, now=now)
        events.visitor_changed(visitor)
    return visitor


def _page_view(tenant: Tenant, visitor: Visitor, *, url: str, title: str, referrer: str, now) -> PageView:
    view = PageView.objects.create(
        tenant=tenant, visitor=visitor, url=url, title=title, referrer=referrer, viewed_at=now
    )
    visitor.current_url = url
    visitor.current_title = title
    visitor.save(update_fields=["current_url", "current_title"])
    return view


@in_tenant_scope
def page_view_record(*, tenant: Tenant, visitor: Visitor, url: str, title: str = "", referrer: str = "") -> PageView:
    own(tenant, visitor)
    url = cleaning.url(url, field="url", required=True)
    try:
        referrer = cleaning.url(referrer, field="referrer", required=False)
    except BadInput:
        referrer = ""
    title = cleaning.truncated(title, 300)
    now = timezone.now()
    with transaction.atomic():
        visitor = Visitor.objects.select_for_update().get(pk=visitor.pk, tenant=tenant)
        visitor.save(update_fields=_touch(visitor, now))
        view = _page_view(tenant, visitor, url=url, title=title, referrer=referrer, now=now)
        events.visitor_changed(visitor)
    return view


@in_tenant_scope
def visitor_update(
    *, tenant: Tenant, visitor: Visitor, name: str | None = None, email: str | None = None, phone: str | None = None
) -> Visitor:
    """What the visitor tells about themselves (pre-chat form) or an operator corrects."""
    own(tenant, visitor)
    changes: dict[str, str] = {}
    if name is not None:
        changes["name"] = cleaning.text(name, field="name", max_chars=120)
    if email is not None:
        email = cleaning.text(email, field="email", max_chars=254).lower()
        if email:
            try:
                validate_email(email)
            except DjangoValidationError:
                raise BadInput(_("Enter a valid email address."), field="email") from None
        changes["email"] = email
    if phone is not None:
        phone = cleaning.text(phone, field="phone", max_chars=40)
        if phone and not re.fullmatch(r"[0-9+()\-. /]{3,40}", phone):
            raise BadInput(_("Enter a valid phone number."), field="phone")
        changes["phone"] = phone
    with transaction.atomic():
        visitor = Visitor.objects.select_for_update().get(pk=visitor.pk, tenant=tenant)
        changed = [field for field, value in changes.items() if getattr(visitor, field) != value]
        if not changed:
            return visitor
        for field in changed:
            setattr(visitor, field, changes[field])
        visitor.save(update_fields=changed)
        events.visitor_changed(visitor)
    return visitor


@in_tenant_scope
def visitor_note_add(*, tenant: Tenant, visitor: Visitor, author: Membership, body: str) -> VisitorNote:
    """An operator's note about the visitor, kept across conversations. Never shown to the visitor; not broadcast."""
    own(tenant, visitor)
    active_member(tenant, author)
    body = cleaning.text(body, field="body", max_chars=4000, required=True, multiline=True)
    with transaction.atomic():
        return VisitorNote.objects.create(tenant=tenant, visitor=visitor, author=author, body=body)
