"""Every write to tenants, people and their memberships goes through here.

Views, admin actions, management commands and tasks call these functions; none of
them saves an account row on its own. Each function validates first and raises a
`ValidationError` keyed by field, so a caller with a form can show the errors next
to the fields and nothing is written.
"""

from __future__ import annotations

import secrets
from datetime import timedelta

from django.conf import settings
from django.contrib.auth import password_validation
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import IntegrityError, transaction
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.text import slugify
from django.utils.translation import gettext as _

from apps.accounts.invitations import InvitationError, invitation_token
from apps.accounts.models import Invitation, Membership, Role, Tenant, User
from apps.accounts.selectors import invitation_for_token
from apps.canned.starter import canned_starter_set_create
from apps.core.tenancy import tenant_scope
from apps.core.text import clean_text, has_line_break, single_line

__all__ = [
    "InvitationError",
    "invitation_accept",
    "invitation_create",
    "invitation_token",
    "invitation_url",
    "membership_create",
    "tenant_signup",
    "user_create",
]

SLUG_MAX_LENGTH = Tenant._meta.get_field("slug").max_length


# --- users and memberships ---------------------------------------------------------


def _normalize_email(email: str) -> str:
    return (email or "").strip().lower()


def _email_errors(email: str) -> list[str]:
    if not email:
        return [_("Enter your email address.")]
    try:
        validate_email(email)
    except ValidationError:
        return [_("Enter a valid email address.")]
    if User.objects.filter(email__iexact=email).exists():
        return [_("An account with this email address already exists. Log in instead.")]
    return []


def _password_errors(password: str, *, email: str, name: str = "") -> list[str]:
    try:
        # An unsaved user lets UserAttributeSimilarityValidator compare against the email and name.
        password_validation.validate_password(password, user=User(email=email, name=name))
    except ValidationError as error:
        return list(error.messages)
    return []


def user_create(*, email: str, password: str, name: str = "") -> User:
    """Create a person who can log in; the email is the login and is unique case-insensitively."""
    email = _normalize_email(email)
    errors: dict[str, list[str]] = {}
    if has_line_break((name or "").strip()):
        errors["name"] = [str(single_line.message)]
    name = clean_text(name or "", multiline=False)
    if email_errors := _email_errors(email):
        errors["email"] = email_errors
    if password_errors := _password_errors(password, email=email, name=name):
        errors["password"] = password_errors
    if errors:
        raise ValidationError(errors)
    try:
        with transaction.atomic():
            return User.objects.create_user(email=email, password=password, name=name.strip())
    except IntegrityError as error:
        # Another request took the address between the check and the insert.
        raise ValidationError({"email": _email_errors(email) or [_("This email address is taken.")]}) from error


def membership_create(*, tenant: Tenant, user: User, role: str = Role.OPERATOR) -> Membership:
    """Give `user` a place in `tenant`, or reactivate the one they had (with the new role)."""
    if role not in Role.values:
        raise ValidationError({"role": _("Choose a valid role.")})
    with transaction.atomic(), tenant_scope(tenant):
        membership = Membership.objects.filter(user=user).first()
        if membership is None:
            return Membership.objects.create(tenant=tenant, user=user, role=role)
        if not membership.is_active or membership.role != role:
            membership.is_active = True
            membership.role = role
            membership.save(update_fields=["is_active", "role"])
        return membership


# --- company signup ----------------------------------------------------------------


def _slug_base(company_name: str) -> str:
    # Names in Cyrillic (or only punctuation) slugify to nothing; a generic base plus
    # the random suffix below still gives a valid, unique slug.
    base = slugify(company_name)[: SLUG_MAX_LENGTH - 6].strip("-")
    return base or "company"


def _available_slug(company_name: str) -> str:
    base = _slug_base(company_name)
    if not Tenant.objects.filter(slug=base).exists():
        return base
    while True:
        candidate = f"{base}-{secrets.token_hex(2)}"
        if not Tenant.objects.filter(slug=candidate).exists():
            return candidate


def tenant_signup(
    *,
    company_name: str,
    slug: str = "",
    email: str,
    password: str,
    name: str = "",
    language: str | None = None,
) -> Membership:
    """Create a company, its owner and the owner's membership, all or nothing.

    An empty `slug` is derived from the name (with a short suffix if the name's slug
    is taken); a slug the person chose and that is taken is an error, because they
    may rely on it. The widget key and inbound token come from the model defaults; the
    company starts with the canned replies of its language (apps.canned.starter).
    """
    errors: dict[str, list[str]] = {}
    # Both names reach mail headers: a line break is refused here, at the edge, not in the mail worker.
    for field, value in (("company_name", company_name or ""), ("name", name or "")):
        if has_line_break(value.strip()):
            errors[field] = [str(single_line.message)]
    company_name = clean_text(company_name or "", multiline=False)
    name = clean_text(name or "", multiline=False)
    slug = (slug or "").strip().lower()
    email = _normalize_email(email)
    if not company_name and "company_name" not in errors:
        errors["company_name"] = [_("Enter your company name.")]
    if slug:
        if slugify(slug) != slug:
            errors["slug"] = [_("Use only lowercase letters, digits and hyphens.")]
        elif Tenant.objects.filter(slug=slug).exists():
            errors["slug"] = [_("This address is already taken. Choose another one or leave it empty.")]
    if email_errors := _email_errors(email):
        errors["email"] = email_errors
    if password_errors := _password_errors(password, email=email, name=name):
        errors["password"] = password_errors
    if errors:
        raise ValidationError(errors)

    if language not in dict(settings.LANGUAGES):
        language = settings.LANGUAGE_CODE
    try:
        with transaction.atomic():
            tenant = Tenant.objects.create(
                name=company_name,
                slug=slug or _available_slug(company_name),
                default_language=language,
            )
            user = User.objects.create_user(email=email, password=password, name=name.strip(), language=language)
            membership = membership_create(tenant=tenant, user=user, role=Role.OWNER)
            canned_starter_set_create(tenant=tenant, language=language)
            return membership
    except IntegrityError as error:
        # A concurrent signup took the slug or the email between the checks and the
        # inserts; the transaction rolled back, so report it like the checks would.
        if slug and Tenant.objects.filter(slug=slug).exists():
            raise ValidationError({"slug": [_("This address is already taken.")]}) from error
        raise ValidationError({"email": [_("An account with this email address already exists.")]}) from error


# --- invitations -------------------------------------------------------------------


def invitation_url(invitation: Invitation) -> str:
    return settings.PARLEY_BASE_URL + reverse("invitation_accept", kwargs={"token": invitation_token(invitation)})


def invitation_create(
    *, tenant: Tenant, email: str, role: str = Role.OPERATOR, invited_by: User | None = None
) -> Invitation:
    """Invite `email` to `tenant` with `role`; the email with the link is sent after commit.

    Only the newest invitation for an address stays usable: older pending ones are
    expired, so a resent link is the only one that works. Who may invite is decided
    by the caller (the team page and the admin allow owners and admins).
    """
    from apps.accounts.tasks import invitation_send_email

    email = _normalize_email(email)
    try:
        validate_email(email)
    except ValidationError as error:
        raise ValidationError({"email": [_("Enter a valid email address.")]}) from error
    if role not in Role.values:
        raise ValidationError({"role": [_("Choose a valid role.")]})
    now = timezone.now()
    with transaction.atomic(), tenant_scope(tenant):
        if Membership.objects.filter(user__email__iexact=email, is_active=True).exists():
            raise ValidationError({"email": [_("This person is already a member of your team.")]})
        Invitation.objects.filter(email__iexact=email, accepted_at__isnull=True, expires_at__gt=now).update(
            expires_at=now
        )
        invitation = Invitation.objects.create(
            tenant=tenant,
            email=email,
            role=role,
            invited_by=invited_by,
            expires_at=now + timedelta(seconds=settings.PARLEY_INVITATION_MAX_AGE),
        )
        # The email goes out in the language of whoever invited (they chose the words on
        # screen); a background caller without one falls back to the company's language.
        language = translation.get_language() or tenant.default_language
        invitation_send_email.delay(tenant.pk, invitation.pk, language)  # on commit (TransactionAwareTask)
    return invitation


def invitation_accept(*, token: str, user: User | None = None, name: str = "", password: str = "") -> Membership:
    """Accept an invitation once: as the logged-in `user`, or as a new user with `name` and `password`.

    Refused (InvitationError) when the token is forged or unknown, used, expired, when
    the logged-in user has another email, or when no user is given but the address
    already has an account (that person logs in first). A weak password is a
    ValidationError and leaves the invitation unused.
    """
    with transaction.atomic():
        invitation = invitation_for_token(token, lock=True)
        tenant = invitation.tenant
        if user is None:
            if User.objects.filter(email__iexact=invitation.email).exists():
                raise InvitationError(InvitationError.LOGIN_REQUIRED)
            errors: dict[str, list[str]] = {}
            if not name.strip():
                errors["name"] = [_("Enter your name.")]
            if password_errors := _password_errors(password, email=invitation.email, name=name):
                errors["password"] = password_errors
            if errors:
                raise ValidationError(errors)
            user = User.objects.create_user(
                email=invitation.email, password=password, name=name.strip(), language=tenant.default_language
            )
        elif _normalize_email(user.email) != _normalize_email(invitation.email):
            raise InvitationError(InvitationError.WRONG_USER)
        membership = membership_create(tenant=tenant, user=user, role=invitation.role)
        invitation.accepted_at = timezone.now()
        with tenant_scope(tenant):
            invitation.save(update_fields=["accepted_at"])
    return membership
