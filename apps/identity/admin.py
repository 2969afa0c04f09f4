from django.contrib import admin, messages
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _

from apps.core.admin import TenantModelAdmin, is_platform_admin
from apps.identity import services
from apps.identity.models import IdentitySettings


@admin.register(IdentitySettings)
class IdentitySettingsAdmin(TenantModelAdmin):
    list_display = ("__str__", "required", "updated_at")
    fields = ("secret_display", "required", "docs_link")
    readonly_fields = ("secret_display", "docs_link")
    actions = ["rotate_secret"]

    @admin.display(description=_("identity secret"))
    def secret_display(self, obj: IdentitySettings | None):
        if obj is None or obj.pk is None:
            return _("A secret is generated when you save.")
        return format_html("<code>{}</code>", obj.secret)

    @admin.display(description=_("how to use it"))
    def docs_link(self, obj):
        return _("Sign each logged-in user's id, name and email on your server; see docs/identity.md.")

    @admin.action(description=_("Generate a new secret (tokens signed with the old one stop working)"))
    def rotate_secret(self, request, queryset):
        for row in queryset:
            services.identity_secret_rotate(tenant=row.tenant)
        self.message_user(request, _("A new secret was generated. Update it on your server."), messages.WARNING)

    def has_add_permission(self, request, *args) -> bool:
        if not super().has_add_permission(request, *args):
            return False
        if is_platform_admin(request):
            return True
        tenant = getattr(request, "tenant", None)
        return tenant is not None and not IdentitySettings.objects.filter(tenant=tenant).exists()
