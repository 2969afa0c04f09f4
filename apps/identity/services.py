"""Every write about who a visitor is: the tenant's identity settings, proven identities,
and joining two visitor rows that turned out to be one person.

Keyword-only, typed, tenant first; each runs in its tenant's scope and one transaction,
and announces the visitor on commit (operators' cards update at once).
"""

from __future__ import annotations

from typing import Any

from django.db import IntegrityError, transaction
from django.utils import timezone

from apps.accounts.models import Tenant
from apps.conversations import events
from apps.conversations import services as conversation_services
from apps.conversations.errors import NotFound
from apps.conversations.models import Visitor
from apps.core.tenancy import tenant_scope
from apps.identity import selectors
from apps.identity.claims import Claims, IdentityRefused, IdentityRequired, claims_read
from apps.identity.models import SITE_SOURCE, IdentitySettings, VisitorIdentity, new_identity_secret


def identity_settings_ensure(*, tenant: Tenant) -> IdentitySettings:
    """The tenant's settings row, created (with a fresh secret) on first use."""
    with tenant_scope(tenant), transaction.atomic():
        row = IdentitySettings.objects.filter(tenant=tenant).first()
        if row is not None:
            return row
        try:
            with transaction.atomic():
                return IdentitySettings.objects.create(tenant=tenant)
        except IntegrityError:
            return IdentitySettings.objects.get(tenant=tenant)


def identity_secret_rotate(*, tenant: Tenant) -> IdentitySettings:
    """A new secret; tokens signed with the old one are refused from now on."""
    row = identity_settings_ensure(tenant=tenant)
    with tenant_scope(tenant), transaction.atomic():
        row = IdentitySettings.objects.select_for_update().get(pk=row.pk, tenant=tenant)
        row.secret = new_identity_secret()
        row.updated_at = timezone.now()
        row.save(update_fields=["secret", "updated_at"])
    return row


def visitor_merge(*, tenant: Tenant, source: Visitor, target: Visitor) -> Visitor:
    """Move everything of `source` (conversations, pages, notes, identities, channel links) to
    `target` and delete `source`. Both must be the tenant's; call inside a transaction.

    Every model that points at a visitor follows, whichever app defines it, so a channel
    added later (Telegram chats, email contacts) cannot be left pointing at a deleted row.
    """
    if source.tenant_id != tenant.pk or target.tenant_id != tenant.pk or source.pk is None or target.pk is None:
        raise NotFound()
    if source.pk == target.pk:
        return target
    for relation in Visitor._meta.related_objects:
        if not relation.one_to_many:
            continue
        model = relation.related_model
        manager = model._base_manager  # scoped above by the explicit tenant filter
        rows = manager.filter(**{relation.field.name: source})
        if any(f.name == "tenant" for f in model._meta.fields):
            rows = rows.filter(tenant=tenant)
        rows.update(**{relation.field.name: target})
    changed: list[str] = []
    for field in ("name", "email", "phone", "language", "avatar_url"):
        if not getattr(target, field) and getattr(source, field):
            setattr(target, field, getattr(source, field))
            changed.append(field)
    if source.first_seen_at < target.first_seen_at:
        target.first_seen_at = source.first_seen_at
        changed.append("first_seen_at")
    if source.last_seen_at > target.last_seen_at:
        for field in ("last_seen_at", "current_url", "current_title", "user_agent"):
            setattr(target, field, getattr(source, field))
            changed.append(field)
    target.visit_count += source.visit_count
    changed.append("visit_count")
    Visitor.objects.filter(pk=source.pk, tenant=tenant).delete()
    target.save(update_fields=changed)
    return target


def visitor_identity_link(
    *, tenant: Tenant, visitor: Visitor, source: str, claims: Claims, avatar_url: str = ""
) -> Visitor:
    """Join a proven identity to the visitor; return the visitor that now holds it.

    An identity seen before (another device, another browser) keeps its visitor: this one's
    history joins it and this row goes. The lookup is by `(tenant, source, subject)`, so
    the same account in another tenant is another visitor there.
    """
    if visitor.tenant_id != tenant.pk:
        raise NotFound()
    now = timezone.now()
    with tenant_scope(tenant), transaction.atomic():
        visitor = Visitor.objects.select_for_update().filter(pk=visitor.pk, tenant=tenant).first()
        if visitor is None:
            raise NotFound()
        link = (
            VisitorIdentity.objects.select_for_update()
            .filter(tenant=tenant, source=source, subject=claims.subject)
            .select_related("visitor")
            .first()
        )
        if link is None:
            try:
                with transaction.atomic():
                    link = VisitorIdentity.objects.create(
                        tenant=tenant, visitor=visitor, source=source, subject=claims.subject
                    )
            except IntegrityError:  # the same identity proven at the same moment elsewhere
                link = (
                    VisitorIdentity.objects.select_for_update()
                    .select_related("visitor")
                    .get(tenant=tenant, source=source, subject=claims.subject)
                )
        owner = link.visitor
        if owner.pk != visitor.pk:
            owner = Visitor.objects.select_for_update().get(pk=owner.pk, tenant=tenant)
            owner = visitor_merge(tenant=tenant, source=visitor, target=owner)
        link.visitor = owner
        link.name = claims.name or link.name
        link.email = claims.email or link.email
        link.verified_at = now
        link.save(update_fields=["visitor", "name", "email", "verified_at"])
        changed = []
        # Signed details are the site's word and win; unsigned ones only fill blanks.
        for field, value in (("name", claims.name), ("email", claims.email), ("avatar_url", avatar_url)):
            if value and (claims.details_signed or not getattr(owner, field)) and getattr(owner, field) != value:
                setattr(owner, field, value)
                changed.append(field)
        if source == SITE_SOURCE:
            owner.external_id = claims.subject
            owner.verified_at = now
            changed += ["external_id", "verified_at"]
        if changed:
            owner.save(update_fields=changed)
        events.visitor_changed(owner)
    return owner


def visitor_for_session(
    *,
    tenant: Tenant,
    anonymous_id: Any,
    identity: Any = None,
    **visit: Any,
) -> Visitor:
    """The visitor a widget session is for, checking the site's signed identity if one came.

    - identity given: checked against the tenant's secret (`IdentityRefused` if forged,
      expired or signed with another secret); the visitor is the one holding that identity.
    - none given and the tenant requires it: `IdentityRequired`, nothing written.
    - a visitor the site proved is resumed only with the same proof: without it (a logout,
      the next person at a shared computer) the session starts a fresh anonymous visitor.
    `visit` goes to `visitor_identify` (name, language, user agent, page).
    """
    settings_row = selectors.identity_settings(tenant=tenant)
    claims = None
    if identity not in (None, {}):
        if settings_row is None:
            raise IdentityRefused()
        claims = claims_read(identity, secret=settings_row.secret)
    elif settings_row is not None and settings_row.required:
        raise IdentityRequired()
    if isinstance(anonymous_id, str):
        proven_as = selectors.external_id_of(tenant=tenant, anonymous_id=anonymous_id)
        if proven_as and (claims is None or claims.subject != proven_as):
            anonymous_id = None
    with transaction.atomic():
        visitor = conversation_services.visitor_identify(tenant=tenant, anonymous_id=anonymous_id, **visit)
        if claims is not None:
            visitor = visitor_identity_link(tenant=tenant, visitor=visitor, source=SITE_SOURCE, claims=claims)
    return visitor
