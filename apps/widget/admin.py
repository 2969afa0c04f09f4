from django.contrib import admin
from django.urls import reverse
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _

from apps.core.admin import TenantModelAdmin, is_platform_admin
from apps.widget.models import WidgetSettings


@admin.register(WidgetSettings)
class WidgetSettingsAdmin(TenantModelAdmin):
    list_display = ("__str__", "colour_swatch", "position", "offline_behaviour", "language", "updated_at")
    readonly_fields = ("preview_link",)
    fieldsets = (
        (None, {"fields": ("preview_link",)}),
        (_("Look"), {"fields": ("colour", "position", "logo", "logo_url", "title", "launcher_text")}),
        (_("Greetings"), {"fields": ("greeting_new", "greeting_returning")}),
        (_("Before the chat"), {"fields": ("prechat_enabled", "prechat_email", "prechat_phone")}),
        (_("Behaviour"), {"fields": ("offline_behaviour", "language")}),
    )

    @admin.display(description=_("colour"))
    def colour_swatch(self, obj: WidgetSettings):
        return format_html(
            '<span style="display:inline-block;width:1em;height:1em;border-radius:3px;background:{}"></span> {}',
            obj.colour,
            obj.colour,
        )

    @admin.display(description=_("try it"))
    def preview_link(self, obj: WidgetSettings | None):
        tenant = getattr(obj, "tenant", None) if obj is not None and obj.tenant_id else None
        if tenant is None:
            return _("Save first, then open the preview page.")
        url = reverse("widget:preview", args=[tenant.widget_key])
        return format_html('<a href="{}" target="_blank" rel="noopener">{}</a>', url, _("Open the widget preview page"))

    def has_add_permission(self, request, *args) -> bool:
        # One row per tenant: a tenant admin adds it once, then edits it.
        if not super().has_add_permission(request, *args):
            return False
        if is_platform_admin(request):
            return True
        tenant = getattr(request, "tenant", None)
        return tenant is not None and not WidgetSettings.objects.filter(tenant=tenant).exists()
