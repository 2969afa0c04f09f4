"""Admin for visitors and conversation transcripts: what an account admin reviews.

Messages are a record and stay read-only; a transcript is rendered from plain text
with every piece escaped. Visitors and conversations are created by the widget and
the email bridge, never here.
"""

from __future__ import annotations

import zoneinfo

from django.contrib import admin
from django.template.defaultfilters import linebreaksbr
from django.urls import reverse
from django.utils import timezone
from django.utils.formats import date_format
from django.utils.html import format_html, format_html_join
from django.utils.translation import gettext_lazy as _

from apps.conversations import services
from apps.conversations.errors import ConversationError
from apps.conversations.models import Conversation, Message, Visitor, VisitorNote
from apps.core.admin import TenantModelAdmin, TenantTabularInline, acting_membership

RECENT_PAGE_VIEWS = 10
TRANSCRIPT_STYLE = {
    Message.Author.VISITOR: "background:#f1f5f9",
    Message.Author.OPERATOR: "background:#ecfdf5",
    Message.Author.SYSTEM: "background:#fff;color:#64748b;font-style:italic",
}
NOTE_STYLE = "background:#fef9c3"
PLAIN_KINDS = (Message.Kind.TEXT, Message.Kind.SYSTEM)
PLAIN_LIST = '<ul style="margin:0;padding:0;list-style:none">{}</ul>'


def _local(value, tenant) -> str:
    if value is None:
        return "-"
    try:
        zone = zoneinfo.ZoneInfo(tenant.time_zone)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        zone = timezone.get_current_timezone()
    return date_format(timezone.localtime(value, zone), "DATETIME_FORMAT")


def _short(value) -> str:
    """A compact time for list columns, in the current (the tenant's) time zone."""
    return "-" if value is None else date_format(timezone.localtime(value), "SHORT_DATETIME_FORMAT")


class DeletesTranscriptsMixin:
    """Deleting a visitor or a conversation takes its messages along.

    Messages cannot be deleted one by one (a transcript is a record), so Django's
    per-object delete check would refuse the whole deletion; the messages go with
    the row they belong to.
    """

    def get_deleted_objects(self, objs, request):
        deleted, counts, perms_needed, protected = super().get_deleted_objects(objs, request)
        perms_needed = {name for name in perms_needed if str(name) != str(Message._meta.verbose_name)}
        return deleted, counts, perms_needed, protected


class AssigneeListFilter(admin.RelatedFieldListFilter):
    """The operators to filter by, named in one query (not one per operator)."""

    def field_choices(self, field, request, model_admin):
        memberships = field.remote_field.model._default_manager.select_related("user")
        return [(membership.pk, membership.name_for_team) for membership in memberships]


class VisitorNoteInline(TenantTabularInline):
    model = VisitorNote
    fields = ["body", "author", "created_at"]
    readonly_fields = ["author", "created_at"]
    extra = 0

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("author__user")


# What the widget records about a visitor: shown to admins, never edited by hand.
VISITOR_TRACKING_FIELDS = [
    "anonymous_id",
    "language",
    "user_agent",
    "first_seen_at",
    "last_seen_at",
    "visit_started_at",
    "visit_count",
    "current_url",
    "current_title",
    "referrer",
    "attributes",
    "recent_pages",
]


@admin.register(Visitor)
class VisitorAdmin(DeletesTranscriptsMixin, TenantModelAdmin):
    list_display = ["__str__", "email", "last_seen_at", "visit_count", "current_url"]
    list_filter = ["last_seen_at"]
    search_fields = ["name", "email"]
    inlines = [VisitorNoteInline]
    fieldsets = [
        (None, {"fields": ["name", "email", "phone"]}),
        (_("Conversations"), {"fields": ["conversation_links"]}),
        (_("Tracking"), {"fields": VISITOR_TRACKING_FIELDS}),
    ]
    readonly_fields = ["conversation_links", *VISITOR_TRACKING_FIELDS]

    def has_add_permission(self, request, *args) -> bool:
        # Visitors come from the widget and the email bridge.
        return False

    service_errors = (ConversationError,)

    def save_model(self, request, obj, form, change):
        # Through the service: it validates, saves only these fields (the widget keeps
        # updating the tracking ones meanwhile) and tells the dashboards.
        changes = {name: form.cleaned_data[name] for name in ("name", "email", "phone") if name in form.changed_data}
        if changes:
            services.visitor_update(tenant=obj.tenant, visitor=obj, **changes)

    def save_inline_row(self, request, instance, parent, *, is_new: bool) -> None:
        author = acting_membership(request, parent.tenant)
        if isinstance(instance, VisitorNote) and is_new and author is not None:
            services.visitor_note_add(tenant=parent.tenant, visitor=parent, author=author, body=instance.body)
            return
        super().save_inline_row(request, instance, parent, is_new=is_new)

    @admin.display(description=_("conversations"))
    def conversation_links(self, obj: Visitor) -> str:
        conversations = obj.conversations.order_by("-created_at")[:20]
        rows = (
            (
                reverse("admin:conversations_conversation_change", args=[conversation.pk]),
                str(conversation),
                conversation.get_status_display(),
                _local(conversation.created_at, obj.tenant),
            )
            for conversation in conversations
        )
        html = format_html_join("", '<li><a href="{}">{}</a> · {} · {}</li>', rows)
        return format_html(PLAIN_LIST, html) if html else "-"

    @admin.display(description=_("recent pages"))
    def recent_pages(self, obj: Visitor) -> str:
        views = obj.page_views.all()[:RECENT_PAGE_VIEWS]
        rows = (
            (_local(view.viewed_at, obj.tenant), view.url, f" · {view.title}" if view.title else "") for view in views
        )
        html = format_html_join("", "<li>{} · {}{}</li>", rows)
        return format_html(PLAIN_LIST, html) if html else "-"


@admin.register(Conversation)
class ConversationAdmin(DeletesTranscriptsMixin, TenantModelAdmin):
    list_display = [
        "id",
        "visitor",
        "status",
        "assignee",
        "department",
        "created",
        "first_reply",
        "closed",
        "rating",
    ]
    list_display_links = ["id", "visitor"]
    list_filter = ["status", "channel", "rating", ("assignee", AssigneeListFilter), "department"]
    list_select_related = ["visitor", "assignee__user", "department"]
    search_fields = ["=id", "subject", "visitor__name", "visitor__email"]
    date_hierarchy = "created_at"
    autocomplete_fields = ["assignee", "department"]
    fieldsets = [
        (None, {"fields": ["visitor_link", "channel", "status", "subject", "assignee", "department"]}),
        (
            _("Timeline"),
            {"fields": ["created_at", "first_reply_at", "last_message_at", "closed_at"]},
        ),
        (_("Rating"), {"fields": ["rating", "rating_comment"]}),
        (_("Transcript"), {"fields": ["transcript"]}),
    ]
    readonly_fields = [
        "visitor_link",
        "channel",
        "status",
        "created_at",
        "first_reply_at",
        "last_message_at",
        "closed_at",
        "rating",
        "rating_comment",
        "transcript",
    ]

    service_errors = (ConversationError,)

    def has_add_permission(self, request, *args) -> bool:
        # Conversations start in the widget or by email.
        return False

    def get_readonly_fields(self, request, obj=None):
        if obj is not None and obj.is_closed:
            return [*self.readonly_fields, "assignee", "department"]
        return self.readonly_fields

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        if db_field.name == "assignee":
            kwargs["queryset"] = db_field.remote_field.model._default_manager.filter(is_active=True)
        return super().formfield_for_foreignkey(db_field, request, **kwargs)

    def get_form(self, request, obj=None, change=False, **kwargs):
        form_class = super().get_form(request, obj, change=change, **kwargs)
        had_assignee = obj is not None and obj.assignee_id is not None

        class ConversationForm(form_class):
            def clean(self):
                cleaned_data = super().clean()
                if had_assignee and "assignee" in self.fields and cleaned_data.get("assignee") is None:
                    self.add_error(
                        "assignee", _("Choose another operator; to return the chat to the queue, transfer it.")
                    )
                return cleaned_data

        ConversationForm.__name__ = form_class.__name__
        return ConversationForm

    def save_model(self, request, obj, form, change):
        # Never a full save: messages keep arriving and move last_seq and the timeline meanwhile.
        # Through the services, which save only what changed and tell the open dashboards.
        edits = {}
        if "subject" in form.changed_data:
            edits["subject"] = form.cleaned_data["subject"]
        if "department" in form.changed_data:
            edits["department"] = form.cleaned_data["department"]
            edits["clear_department"] = form.cleaned_data["department"] is None
        if edits:
            services.conversation_update(tenant=obj.tenant, conversation=obj, **edits)
        if "assignee" in form.changed_data and form.cleaned_data.get("assignee") is not None:
            # The service locks the row, reopens a queued chat, writes the system message and tells everyone.
            services.conversation_assign(
                tenant=obj.tenant,
                conversation=obj,
                assignee=form.cleaned_data["assignee"],
                by=acting_membership(request, obj.tenant),
            )

    @admin.display(description=_("created"), ordering="created_at")
    def created(self, obj: Conversation) -> str:
        return _short(obj.created_at)

    @admin.display(description=_("first reply"), ordering="first_reply_at")
    def first_reply(self, obj: Conversation) -> str:
        return _short(obj.first_reply_at)

    @admin.display(description=_("closed"), ordering="closed_at")
    def closed(self, obj: Conversation) -> str:
        return _short(obj.closed_at)

    @admin.display(description=_("visitor"))
    def visitor_link(self, obj: Conversation) -> str:
        url = reverse("admin:conversations_visitor_change", args=[obj.visitor_id])
        return format_html('<a href="{}">{}</a>', url, obj.visitor)

    @admin.display(description=_("transcript"))
    def transcript(self, obj: Conversation) -> str:
        messages = obj.messages.select_related("author__user").prefetch_related("attachments").order_by("seq")
        tenant = obj.tenant
        rows = []
        for message in messages:
            if message.author_type == Message.Author.OPERATOR:
                author = message.author.name_for_team if message.author else _("Operator")
            elif message.author_type == Message.Author.VISITOR:
                author = str(obj.visitor)
            else:
                author = _("System")
            body = message.body or message.data.get("event", "")
            files = ", ".join(attachment.filename for attachment in message.attachments.all())
            rows.append(
                (
                    NOTE_STYLE if message.is_private else TRANSCRIPT_STYLE.get(message.author_type, ""),
                    message.seq,
                    author,
                    _local(message.created_at, tenant),
                    f" · {message.get_kind_display()}" if message.kind not in PLAIN_KINDS else "",
                    # linebreaksbr escapes the text before it adds <br>: the body is never HTML.
                    linebreaksbr(body, autoescape=True),
                    f" [{files}]" if files else "",
                )
            )
        if not rows:
            return _("No messages.")
        html = format_html_join(
            "",
            '<div style="{};padding:6px 10px;margin:0 0 6px;border-radius:6px">'
            "<small>#{} · <strong>{}</strong> · {}{}</small><br>{}{}</div>",
            rows,
        )
        return format_html('<div class="parley-transcript" style="max-width:48rem">{}</div>', html)


@admin.register(Message)
class MessageAdmin(TenantModelAdmin):
    list_display = ["conversation", "seq", "author_type", "author", "kind", "short_body", "created_at"]
    list_filter = ["kind", "author_type", "created_at"]
    list_select_related = ["conversation", "author__user"]
    search_fields = ["body"]
    fields = [
        "conversation",
        "seq",
        "author_type",
        "author",
        "kind",
        "body",
        "client_id",
        "created_at",
        "delivered_at",
        "read_at",
    ]
    readonly_fields = fields
    # A transcript is a record: read here, never written; only a superuser may delete one.
    tenant_admin_can_delete = False

    def has_add_permission(self, request, *args) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    @admin.display(description=_("text"))
    def short_body(self, obj: Message) -> str:
        return obj.body if len(obj.body) <= 80 else obj.body[:79] + "…"
