"""Tenants, people and their roles.

`Tenant` and `User` are platform rows (a user may belong to several tenants);
`Membership`, `Department` and `Invitation` belong to one tenant and are scoped.
"""

from __future__ import annotations

import secrets
import zoneinfo

from django.conf import settings
from django.contrib.auth.models import AbstractUser, BaseUserManager
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from apps.core.models import TenantOwned
from apps.core.text import single_line


def new_widget_key() -> str:
    return "pk_" + secrets.token_urlsafe(18)


def new_inbound_token() -> str:
    # Lower-case letters and digits only: it is the local part of an email address.
    return secrets.token_hex(10)


TIME_ZONE_CHOICES = [(name, name) for name in sorted(zoneinfo.available_timezones())]


class Tenant(models.Model):
    """A company using Parley."""

    # Names reach mail headers (invitation and transcript subjects): one line only.
    name = models.CharField(_("company name"), max_length=120, validators=[single_line])
    slug = models.SlugField(_("slug"), max_length=60, unique=True)
    time_zone = models.CharField(_("time zone"), max_length=64, choices=TIME_ZONE_CHOICES, default="UTC")
    default_language = models.CharField(_("default language"), max_length=8, choices=settings.LANGUAGES, default="en")
    widget_key = models.CharField(
        _("public widget key"), max_length=40, unique=True, default=new_widget_key, editable=False
    )
    allowed_domains = models.TextField(
        _("allowed site domains"),
        blank=True,
        help_text=_("One domain per line, e.g. example.com or *.example.com. Empty allows any site."),
    )
    inbound_email_token = models.CharField(
        _("inbound email token"), max_length=40, unique=True, default=new_inbound_token, editable=False
    )
    is_active = models.BooleanField(_("active"), default=True)
    created_at = models.DateTimeField(_("created"), default=timezone.now, editable=False)

    class Meta:
        verbose_name = _("tenant")
        verbose_name_plural = _("tenants")
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name

    @property
    def inbound_address(self) -> str:
        return f"{self.inbound_email_token}@{settings.PARLEY_INBOUND_DOMAIN}"

    @property
    def allowed_domain_list(self) -> list[str]:
        return [line.strip().lower() for line in self.allowed_domains.splitlines() if line.strip()]

    def allows_origin_host(self, host: str) -> bool:
        """Whether a page on `host` may embed this tenant's widget."""
        domains = self.allowed_domain_list
        if not domains:
            return True
        host = host.lower().rstrip(".")
        for domain in domains:
            if domain.startswith("*."):
                if host.endswith(domain[1:]) or host == domain[2:]:
                    return True
            elif host == domain:
                return True
        return False


class UserManager(BaseUserManager):
    use_in_migrations = True

    def _create_user(self, email: str, password: str | None, **extra):
        if not email:
            raise ValueError("An email address is required")
        user = self.model(email=self.normalize_email(email).lower(), **extra)
        user.set_password(password)
        user.save(using=self._db)
        return user

    def create_user(self, email: str, password: str | None = None, **extra):
        extra.setdefault("is_staff", False)
        extra.setdefault("is_superuser", False)
        return self._create_user(email, password, **extra)

    def create_superuser(self, email: str, password: str | None = None, **extra):
        extra["is_staff"] = True
        extra["is_superuser"] = True
        return self._create_user(email, password, **extra)


class User(AbstractUser):
    """A person who logs in: an operator, an admin, or a platform superuser. Email is the login."""

    username = None
    first_name = None
    last_name = None
    email = models.EmailField(_("email address"), unique=True)
    name = models.CharField(_("name"), max_length=120, blank=True, validators=[single_line])
    language = models.CharField(_("language"), max_length=8, choices=settings.LANGUAGES, blank=True)

    USERNAME_FIELD = "email"
    REQUIRED_FIELDS: list[str] = []

    objects = UserManager()

    class Meta:
        verbose_name = _("user")
        verbose_name_plural = _("users")

    def __str__(self) -> str:
        return self.name or self.email

    def get_full_name(self) -> str:
        return self.name or self.email

    def get_short_name(self) -> str:
        return self.name or self.email


class Role(models.TextChoices):
    OWNER = "owner", _("Owner")
    ADMIN = "admin", _("Admin")
    OPERATOR = "operator", _("Operator")


ADMIN_ROLES = frozenset({Role.OWNER, Role.ADMIN})


class Membership(TenantOwned):
    """A user's place in a tenant: their role and how many chats they take at once."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="memberships")
    role = models.CharField(_("role"), max_length=16, choices=Role.choices, default=Role.OPERATOR)
    display_name = models.CharField(
        _("display name"), max_length=80, blank=True, help_text=_("Shown to visitors. Defaults to the user's name.")
    )
    max_concurrent_chats = models.PositiveSmallIntegerField(
        _("concurrent chat limit"), default=5, validators=[MinValueValidator(1), MaxValueValidator(50)]
    )
    is_active = models.BooleanField(_("active"), default=True)
    created_at = models.DateTimeField(_("created"), default=timezone.now, editable=False)

    class Meta:
        verbose_name = _("operator")
        verbose_name_plural = _("operators")
        ordering = ["created_at"]
        constraints = [models.UniqueConstraint(fields=["tenant", "user"], name="membership_unique_user_per_tenant")]

    def __str__(self) -> str:
        return self.name_for_team

    @property
    def name_for_visitors(self) -> str:
        """The only name of an operator a visitor may see (chat, typing, canned placeholders, email
        signatures): the chosen display name, the user's name, else the company's name; never the email."""
        return self.display_name or self.user.name or self.tenant.name

    @property
    def name_for_team(self) -> str:
        """How colleagues and admins see an operator (never shown to visitors): may fall back to the email's
        local part."""
        return self.display_name or self.user.name or self.user.email.split("@")[0]

    @property
    def is_admin(self) -> bool:
        return self.role in ADMIN_ROLES


class Department(TenantOwned):
    """A team that chats can be routed or transferred to."""

    name = models.CharField(_("name"), max_length=80)
    members = models.ManyToManyField(Membership, blank=True, related_name="departments", verbose_name=_("operators"))
    created_at = models.DateTimeField(_("created"), default=timezone.now, editable=False)

    class Meta:
        verbose_name = _("department")
        verbose_name_plural = _("departments")
        ordering = ["name"]
        constraints = [models.UniqueConstraint(fields=["tenant", "name"], name="department_unique_name_per_tenant")]

    def __str__(self) -> str:
        return self.name


class Invitation(TenantOwned):
    """An emailed, signed, expiring, single-use invitation to join a tenant."""

    email = models.EmailField(_("email address"))
    role = models.CharField(_("role"), max_length=16, choices=Role.choices, default=Role.OPERATOR)
    token = models.CharField(max_length=64, unique=True, default=secrets.token_urlsafe, editable=False)
    invited_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+", editable=False
    )
    created_at = models.DateTimeField(_("created"), default=timezone.now, editable=False)
    expires_at = models.DateTimeField(_("expires"), editable=False)
    accepted_at = models.DateTimeField(_("accepted"), null=True, blank=True, editable=False)

    class Meta:
        verbose_name = _("invitation")
        verbose_name_plural = _("invitations")
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return self.email

    @property
    def is_expired(self) -> bool:
        return timezone.now() >= self.expires_at
