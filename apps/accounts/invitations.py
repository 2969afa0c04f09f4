"""Invitation links: what makes one valid, and why one is refused."""

from __future__ import annotations

from django.core import signing
from django.utils.translation import gettext as _

from apps.accounts.models import Invitation

# The salt ties a signature to invitation links: a value signed anywhere else in
# Parley (with the same SECRET_KEY) is not a valid invitation token.
INVITATION_SALT = "parley.accounts.invitation"


class InvitationError(Exception):
    """An invitation link that cannot be used; `code` says why, `message` tells the person."""

    INVALID = "invalid"
    USED = "used"
    EXPIRED = "expired"
    LOGIN_REQUIRED = "login_required"
    WRONG_USER = "wrong_user"

    def __init__(self, code: str) -> None:
        self.code = code
        super().__init__(code)

    @property
    def message(self) -> str:
        return {
            self.INVALID: _("This invitation link is not valid. Ask your administrator for a new one."),
            self.USED: _("This invitation has already been accepted."),
            self.EXPIRED: _("This invitation has expired. Ask your administrator for a new one."),
            self.LOGIN_REQUIRED: _("An account with this email address exists. Log in to accept the invitation."),
            self.WRONG_USER: _("This invitation is for another email address. Log out and open the link again."),
        }[self.code]


def invitation_token(invitation: Invitation) -> str:
    """The signed token in the invitation link: the random token plus a signature over it."""
    return signing.Signer(salt=INVITATION_SALT).sign(invitation.token)


def invitation_unsign(token: str) -> str:
    """The invitation's random token from a link's signed token; `InvitationError` if forged."""
    try:
        return signing.Signer(salt=INVITATION_SALT).unsign(token)
    except signing.BadSignature as error:
        raise InvitationError(InvitationError.INVALID) from error
