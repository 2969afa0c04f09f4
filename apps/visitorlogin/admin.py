"""Admin → Visitor login → Visitor login providers: the tenant's own OAuth client per provider.

The secret is stored encrypted and never shown back in full. The page names the callback URL to
register at the provider. allauth's own social-account tables are not used (visitor logins never
become user accounts), so their admin pages are removed.
"""

from __future__ import annotations

from allauth.socialaccount.models import SocialAccount, SocialApp, SocialToken
from django import forms
from django.conf import settings
from django.contrib import admin
from django.urls import NoReverseMatch, reverse
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _

from apps.core.admin import TenantModelAdmin
from apps.invoices import keys
from apps.visitorlogin.models import VisitorLoginProvider

for _model in (SocialApp, SocialAccount, SocialToken):
    if admin.site.is_registered(_model):
        admin.site.unregister(_model)


class VisitorLoginProviderForm(forms.ModelForm):
    secret = forms.CharField(
        label=_("Client secret"),
        required=False,
        strip=True,
        max_length=4000,
        widget=forms.PasswordInput(render_value=False, attrs={"autocomplete": "off"}),
        help_text=_("From the provider's developer console. Leave empty to keep the stored one."),
    )

    class Meta:
        model = VisitorLoginProvider
        fields = ("provider", "enabled", "client_id", "key", "settings")

    def clean(self):
        cleaned = super().clean()
        if not cleaned.get("secret") and not (self.instance.pk and self.instance.secret_encrypted):
            self.add_error("secret", _("Enter the client secret."))
        if not isinstance(cleaned.get("settings") or {}, dict):
            self.add_error("settings", _("Enter an object, like {}."))
        return cleaned


@admin.register(VisitorLoginProvider)
class VisitorLoginProviderAdmin(TenantModelAdmin):
    form = VisitorLoginProviderForm
    list_display = ("__str__", "enabled", "client_id", "secret_hint", "updated_at")
    readonly_fields = ("secret_hint", "callback_url")
    fields = ("provider", "enabled", "client_id", "secret", "secret_hint", "key", "settings", "callback_url")

    @admin.display(description=_("stored secret"))
    def secret_hint(self, obj: VisitorLoginProvider | None) -> str:
        value = keys.decrypt(obj.secret_encrypted) if obj is not None and obj.pk else ""
        return f"…{value[-4:]}" if len(value) > 8 else ("…" if value else "—")

    @admin.display(description=_("callback URL"))
    def callback_url(self, obj: VisitorLoginProvider | None):
        if obj is None or not obj.pk:
            return _("Save first; the page then shows the redirect URL to register at the provider.")
        try:
            url = settings.PARLEY_BASE_URL + reverse(f"{obj.provider}_callback")
        except NoReverseMatch:
            return "—"
        return format_html("<code>{}</code>", url)

    def save_model(self, request, obj, form, change):
        if form.cleaned_data.get("secret"):
            obj.secret_encrypted = keys.encrypt(form.cleaned_data["secret"])
        super().save_model(request, obj, form, change)
