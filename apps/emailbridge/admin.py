"""Admin of the email bridge: the tenant's rules and limits, and every message received or sent.

Inbound mail is a record: read-only here, with two actions that call services: promote
(filtered, automatic, held or failed mail becomes a conversation) and re-run (parse again
after a fix, or once the rate limit has passed). The original can be downloaded as sent.
"""

from __future__ import annotations

from django.contrib import admin, messages
from django.http import FileResponse, Http404
from django.template.defaultfilters import linebreaksbr
from django.urls import path, reverse
from django.utils.html import format_html, format_html_join
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from apps.conversations.errors import ConversationError
from apps.core.admin import TenantModelAdmin, acting_membership
from apps.emailbridge import services
from apps.emailbridge.models import EmailSettings, InboundEmail, OutboundEmail

FLAG_LABELS = {
    "own_mail": _("Parley's own mail (loop)"),
    "bounce": _("Bounce"),
    "auto_reply": _("Automatic reply"),
    "mailing_list": _("Mailing list"),
    "malformed": _("Malformed"),
    "rate_limited": _("Over the hourly limit"),
    "filtered": _("No keyword matched"),
}


@admin.register(EmailSettings)
class EmailSettingsAdmin(TenantModelAdmin):
    list_display = ["__str__", "inbound_per_hour", "attachment_max_bytes", "auto_acknowledge"]
    fields = ["filter_words", "attachment_max_bytes", "inbound_per_hour", "auto_acknowledge", "from_name"]

    def has_add_permission(self, request, *args) -> bool:
        # One row per tenant (a unique constraint); the defaults apply until it exists.
        if not super().has_add_permission(request, *args):
            return False
        tenant = getattr(request, "tenant", None)
        return tenant is None or not EmailSettings.objects.filter(tenant=tenant).exists()


@admin.register(InboundEmail)
class InboundEmailAdmin(TenantModelAdmin):
    list_display = ["received_at", "status", "from_address", "subject", "flag_list", "source", "size"]
    list_filter = ["status", "source", "received_at"]
    search_fields = ["subject", "from_address", "message_id", "envelope_to"]
    date_hierarchy = "received_at"
    actions = ["promote", "rerun"]
    fieldsets = [
        (None, {"fields": ["status", "flag_list", "error", "conversation_link", "original"]}),
        (
            _("Envelope"),
            {"fields": ["source", "received_at", "envelope_from", "envelope_to", "size", "attempts", "parsed_at"]},
        ),
        (_("Headers"), {"fields": ["message_id", "from_name", "from_address", "to", "cc", "subject", "sent_at"]}),
        (_("Content"), {"fields": ["shown_text", "full_text", "attachment_list"]}),
    ]
    readonly_fields = [
        "status",
        "flag_list",
        "error",
        "conversation_link",
        "original",
        "source",
        "received_at",
        "envelope_from",
        "envelope_to",
        "size",
        "attempts",
        "parsed_at",
        "message_id",
        "from_name",
        "from_address",
        "to",
        "cc",
        "subject",
        "sent_at",
        "shown_text",
        "full_text",
        "attachment_list",
    ]
    tenant_admin_can_delete = False

    def has_add_permission(self, request, *args) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def get_urls(self):
        return [
            path(
                "<int:object_id>/original/",
                self.admin_site.admin_view(self.original_view),
                name="emailbridge_inboundemail_original",
            ),
            *super().get_urls(),
        ]

    def original_view(self, request, object_id: int):
        if not self.has_view_permission(request):
            raise Http404()
        row = self.get_object(request, str(object_id))
        if row is None:
            raise Http404()
        try:
            handle = row.raw.open("rb")
        except (FileNotFoundError, OSError):
            raise Http404() from None
        response = FileResponse(handle, as_attachment=True, filename=f"{row.token}.eml", content_type="message/rfc822")
        response["X-Content-Type-Options"] = "nosniff"
        return response

    @admin.display(description=_("size"), ordering="raw_size")
    def size(self, obj: InboundEmail) -> str:
        return f"{obj.raw_size / 1024:.0f} KB"

    @admin.display(description=_("flags"))
    def flag_list(self, obj: InboundEmail) -> str:
        return ", ".join(str(FLAG_LABELS.get(flag, flag)) for flag in obj.flags) or "-"

    @admin.display(description=_("conversation"))
    def conversation_link(self, obj: InboundEmail) -> str:
        if obj.conversation_id is None:
            return "-"
        url = reverse("admin:conversations_conversation_change", args=[obj.conversation_id])
        return format_html('<a href="{}">#{}</a>', url, obj.conversation_id)

    @admin.display(description=_("original"))
    def original(self, obj: InboundEmail) -> str:
        url = reverse("admin:emailbridge_inboundemail_original", args=[obj.pk])
        return format_html('<a href="{}">{}</a>', url, _("Download the message as received"))

    @admin.display(description=_("text shown"))
    def shown_text(self, obj: InboundEmail) -> str:
        return linebreaksbr(obj.display_text, autoescape=True) or "-"

    @admin.display(description=_("full text"))
    def full_text(self, obj: InboundEmail) -> str:
        if not obj.text or obj.text == obj.display_text:
            return "-"
        return format_html("<details><summary>{}</summary>{}</details>", _("Show"), linebreaksbr(obj.text, True))

    @admin.display(description=_("attachments"))
    def attachment_list(self, obj: InboundEmail) -> str:
        rows = [
            (
                entry.get("filename", ""),
                f"{int(entry.get('size', 0)) / 1024:.0f} KB",
                _("too large, kept in the original")
                if entry.get("skipped") == "too_large"
                else (_("empty") if entry.get("skipped") else ""),
            )
            for entry in obj.attachments
        ]
        if not rows:
            return "-"
        return format_html("<ul>{}</ul>", format_html_join("", "<li>{} · {} {}</li>", rows))

    def _apply(self, request, queryset, action: str) -> None:
        done, failed = 0, 0
        for row in queryset:
            try:
                if action == "promote":
                    by = acting_membership(request, row.tenant)
                    if by is None:
                        raise ConversationError(_("Only an operator of this company can do that."))
                    result = services.inbound_email_promote(tenant=row.tenant, inbound=row, by=by)
                else:
                    result = services.inbound_email_rerun(tenant=row.tenant, inbound=row)
            except ConversationError as exc:
                self.message_user(request, f"{row}: {exc.message}", messages.ERROR)
                failed += 1
                continue
            if result.status == InboundEmail.Status.FAILED:
                failed += 1
            else:
                done += 1
        if done:
            self.message_user(
                request,
                ngettext("%(count)d message processed.", "%(count)d messages processed.", done) % {"count": done},
            )
        if failed:
            self.message_user(
                request,
                ngettext("%(count)d message failed.", "%(count)d messages failed.", failed) % {"count": failed},
                messages.WARNING,
            )

    @admin.action(description=_("Make a conversation of the selected mail"), permissions=["view"])
    def promote(self, request, queryset):
        self._apply(request, queryset, "promote")

    @admin.action(description=_("Parse the selected mail again"), permissions=["view"])
    def rerun(self, request, queryset):
        self._apply(request, queryset, "rerun")


@admin.register(OutboundEmail)
class OutboundEmailAdmin(TenantModelAdmin):
    list_display = ["created_at", "status", "to_address", "subject", "attempts", "sent_at"]
    list_filter = ["status", "kind", "created_at"]
    search_fields = ["to_address", "subject", "message_id"]
    fields = [
        "conversation",
        "kind",
        "status",
        "to_address",
        "subject",
        "body",
        "message_id",
        "in_reply_to",
        "references",
        "attempts",
        "error",
        "created_at",
        "sent_at",
    ]
    readonly_fields = fields
    tenant_admin_can_delete = False

    def has_add_permission(self, request, *args) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False
