"""Reads of accounts data shared by views, the admin and the API."""

from __future__ import annotations

from django.utils import timezone

from apps.accounts.invitations import InvitationError, invitation_unsign
from apps.accounts.models import Invitation, Membership, Tenant, User
from apps.core.tenancy import scopes_disabled, tenant_scope


def invitation_for_token(token: str, *, lock: bool = False) -> Invitation:
    """The invitation a signed link points to, if it can still be accepted; else `InvitationError`.

    `lock=True` (inside a transaction) holds the row so that two accepts cannot both succeed.
    """
    raw = invitation_unsign(token)
    # The visitor of the link is in no tenant yet; the signed token is what selects one.
    with scopes_disabled():
        invitations = Invitation.objects.select_related("tenant", "invited_by").filter(token=raw)
        if lock:
            invitations = invitations.select_for_update(of=("self",))
        invitation = invitations.first()
    if invitation is None or not invitation.tenant.is_active:
        raise InvitationError(InvitationError.INVALID)
    if invitation.accepted_at is not None:
        raise InvitationError(InvitationError.USED)
    if invitation.is_expired:
        raise InvitationError(InvitationError.EXPIRED)
    return invitation


def invitation_list_pending(*, tenant: Tenant) -> list[Invitation]:
    with tenant_scope(tenant):
        return list(
            Invitation.objects.filter(accepted_at__isnull=True, expires_at__gt=timezone.now()).select_related(
                "invited_by"
            )
        )


def membership_list(*, tenant: Tenant) -> list[Membership]:
    with tenant_scope(tenant):
        return list(Membership.objects.filter(is_active=True).select_related("user").order_by("created_at"))


def user_exists(*, email: str) -> bool:
    return User.objects.filter(email__iexact=email.strip()).exists()
