"""How a tenant's site widget looks and behaves.

One `WidgetSettings` row per tenant (created on first save in the admin); a tenant
without one gets `WidgetSettings.defaults_for(tenant)`, an unsaved row with the
defaults, so the widget works from the first minute after signup.
"""

from __future__ import annotations

from django.core.validators import RegexValidator
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from apps.core.models import TenantOwned

colour_validator = RegexValidator(r"^#[0-9a-fA-F]{6}$", _("Use a colour like #2563eb."))


class WidgetSettings(TenantOwned):
    class Position(models.TextChoices):
        RIGHT = "right", _("Bottom right")
        LEFT = "left", _("Bottom left")

    class Offline(models.TextChoices):
        FORM = "form", _("Show a contact form")
        HIDE = "hide", _("Hide the widget")

    class Language(models.TextChoices):
        AUTO = "auto", _("The visitor's browser language")
        EN = "en", _("English")
        RU = "ru", _("Russian")
        PL = "pl", _("Polish")

    colour = models.CharField(_("colour"), max_length=7, default="#2563eb", validators=[colour_validator])
    position = models.CharField(_("position"), max_length=8, choices=Position.choices, default=Position.RIGHT)
    logo = models.ImageField(_("logo"), upload_to="widget/logos/", blank=True)
    logo_url = models.URLField(_("logo URL"), blank=True, help_text=_("Used when no logo file is uploaded."))
    title = models.CharField(_("title"), max_length=60, blank=True, help_text=_("Defaults to the company name."))
    launcher_text = models.CharField(
        _("launcher text"),
        max_length=40,
        blank=True,
        help_text=_("Shown next to the launcher button, e.g. “Chat with us”."),
    )
    greeting_new = models.CharField(_("greeting for new visitors"), max_length=300, blank=True)
    greeting_returning = models.CharField(_("greeting for returning visitors"), max_length=300, blank=True)
    prechat_enabled = models.BooleanField(
        _("ask for the name before the chat"), default=True, help_text=_("The name is then required.")
    )
    prechat_email = models.BooleanField(_("also ask for an email address (optional)"), default=False)
    prechat_phone = models.BooleanField(_("also ask for a phone number (optional)"), default=False)
    offline_behaviour = models.CharField(
        _("when no operator is online"), max_length=8, choices=Offline.choices, default=Offline.FORM
    )
    language = models.CharField(_("language"), max_length=8, choices=Language.choices, default=Language.AUTO)
    updated_at = models.DateTimeField(_("updated"), default=timezone.now, editable=False)

    class Meta:
        verbose_name = _("widget settings")
        verbose_name_plural = _("widget settings")
        constraints = [models.UniqueConstraint(fields=["tenant"], name="widgetsettings_one_per_tenant")]

    def __str__(self) -> str:
        return str(_("Widget settings"))

    @classmethod
    def defaults_for(cls, tenant) -> WidgetSettings:
        return cls(tenant=tenant)

    def save(self, *args, **kwargs):
        self.updated_at = timezone.now()
        super().save(*args, **kwargs)
