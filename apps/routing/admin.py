"""Routing in the tenant's admin: settings, opening hours, holidays, department rules, and what
happened (operators' presence with the reason, missed chats). Every page is fenced to the
admin's tenant by `TenantModelAdmin`."""

from __future__ import annotations

from django import forms
from django.contrib import admin
from django.utils.translation import gettext_lazy as _

from apps.core.admin import TenantModelAdmin, is_platform_admin

from .models import DepartmentRouting, Holiday, MissedChat, OperatorRouting, RoutingSettings, WeeklyHours


@admin.register(RoutingSettings)
class RoutingSettingsAdmin(TenantModelAdmin):
    list_display = ("__str__", "strategy", "offer_seconds", "missed_offers_to_pause", "business_hours_enabled")
    fieldsets = (
        (_("Who gets a new chat"), {"fields": ("strategy", "offer_seconds", "missed_offers_to_pause", "offer_rounds")}),
        (_("Operators"), {"fields": ("default_chat_limit", "grace_seconds")}),
        (_("Waiting visitors"), {"fields": ("queue_message", "retention_seconds", "retention_phrase")}),
        (
            _("Targets"),
            {
                "fields": (
                    "sla_first_response_seconds",
                    "sla_next_response_seconds",
                    "queue_timeout_seconds",
                    "business_hours_enabled",
                )
            },
        ),
    )

    def has_add_permission(self, request, *args) -> bool:
        # One row per tenant: a tenant admin adds it once, then edits it.
        if not super().has_add_permission(request, *args):
            return False
        if is_platform_admin(request):
            return True
        tenant = getattr(request, "tenant", None)
        return tenant is not None and not RoutingSettings.objects.filter(tenant=tenant).exists()


class WeeklyHoursForm(forms.ModelForm):
    class Meta:
        model = WeeklyHours
        fields = ("weekday", "opens", "closes")

    def clean(self):
        data = super().clean()
        opens, closes = data.get("opens"), data.get("closes")
        midnight = closes is not None and (closes.hour, closes.minute, closes.second) == (0, 0, 0)
        if opens is not None and closes is not None and not midnight and closes <= opens:
            raise forms.ValidationError(_("The closing time must be after the opening time (00:00 for midnight)."))
        return data


@admin.register(WeeklyHours)
class WeeklyHoursAdmin(TenantModelAdmin):
    form = WeeklyHoursForm
    list_display = ("weekday", "opens", "closes")
    list_filter = ("weekday",)


@admin.register(Holiday)
class HolidayAdmin(TenantModelAdmin):
    list_display = ("date", "name")
    date_hierarchy = "date"


@admin.register(DepartmentRouting)
class DepartmentRoutingAdmin(TenantModelAdmin):
    list_display = ("department", "strategy", "sla_first_response_seconds", "sla_next_response_seconds")
    list_select_related = ("department",)
    fields = ("department", "strategy", "url_patterns", "sla_first_response_seconds", "sla_next_response_seconds")


@admin.register(OperatorRouting)
class OperatorRoutingAdmin(TenantModelAdmin):
    """Who is paused or offline and why (set by the system: missed offers, dashboard closed)."""

    list_display = ("membership", "status", "reason", "missed_in_row", "last_offered_at", "offline_due_at")
    list_select_related = ("membership__user", "membership__operator_status")
    list_filter = ("reason",)
    readonly_fields = ("membership", "reason", "reason_detail", "previous_status", "last_offered_at", "offline_due_at")
    fields = ("membership", "missed_in_row", *readonly_fields[1:])

    @admin.display(description=_("status"))
    def status(self, obj: OperatorRouting) -> str:
        status = getattr(obj.membership, "operator_status", None)
        return status.get_status_display() if status else _("Offline")

    def has_add_permission(self, request, *args) -> bool:
        return False


@admin.register(MissedChat)
class MissedChatAdmin(TenantModelAdmin):
    list_display = ("conversation", "reason", "waited_seconds", "recorded_at")
    list_select_related = ("conversation",)
    list_filter = ("reason",)
    date_hierarchy = "recorded_at"
    readonly_fields = ("conversation", "reason", "waited_seconds", "recorded_at")

    def has_add_permission(self, request, *args) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False
