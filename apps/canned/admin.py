"""Admins manage the company's shared replies (tenant-wide and per department) here.

Operators' personal replies are theirs (the dashboard) and are not listed. Every write
goes through services.py; the form shows the service's validation next to the fields.
CSV export and import live on the change list.
"""

from __future__ import annotations

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import HttpResponse, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.translation import gettext_lazy as _

from apps.accounts.models import Department, Tenant
from apps.core.admin import TENANT_CHOICE_FIELD, TenantModelAdmin, TenantTabularInline, is_platform_admin

from . import services, transfer
from .models import CannedAttachment, CannedReply, CannedUsage, Scope

SHARED_SCOPES = [Scope.TENANT, Scope.DEPARTMENT]


class SharedScopeFilter(admin.SimpleListFilter):
    """The scope filter offers only what admins see: tenant-wide and department replies (never personal)."""

    title = _("available to")
    parameter_name = "scope"

    def lookups(self, request, model_admin):
        return [(scope.value, scope.label) for scope in SHARED_SCOPES]

    def queryset(self, request, queryset):
        value = self.value()
        if value in {scope.value for scope in SHARED_SCOPES}:
            return queryset.filter(scope=value)
        return queryset


class CannedReplyForm(forms.ModelForm):
    scope = forms.ChoiceField(
        label=_("available to"), choices=[(s.value, s.label) for s in SHARED_SCOPES], initial=Scope.TENANT
    )
    department = forms.ModelChoiceField(queryset=Department.objects.none(), required=False, label=_("department"))

    class Meta:
        model = CannedReply
        fields = ["title", "shortcut", "text", "language", "tags", "scope", "department"]
        widgets = {"text": forms.Textarea(attrs={"rows": 6})}

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if "department" in self.fields:
            # Built per request, inside the tenant's scope (a superuser sees every tenant's).
            self.fields["department"].queryset = Department.objects.all()

    def _tenant(self) -> Tenant | None:
        if getattr(self, "parley_choose_tenant", False):
            return self.cleaned_data.get(TENANT_CHOICE_FIELD)
        tenant_id = getattr(self, "parley_tenant_id", None)
        return Tenant.objects.filter(pk=tenant_id).first() if tenant_id else None

    def clean(self):
        cleaned_data = super().clean()
        tenant = self._tenant()
        if tenant is None:
            return cleaned_data
        scope = cleaned_data.get("scope") or Scope.TENANT
        try:
            valid = services.canned_reply_validate(
                tenant=tenant,
                fields={name: cleaned_data.get(name, "") for name in services.EDITABLE_FIELDS},
                scope=scope,
                department=cleaned_data.get("department") if scope == Scope.DEPARTMENT else None,
                instance=self.instance if self.instance.pk else None,
            )
        except ValidationError as error:
            for name, problems in error.message_dict.items():
                self.add_error(name if name in self.fields else None, problems)
            return cleaned_data
        cleaned_data.update(valid)
        return cleaned_data


class CannedAttachmentInline(TenantTabularInline):
    model = CannedAttachment
    fields = ["file", "filename", "size"]
    readonly_fields = ["filename", "size"]
    extra = 0


class CannedUsageInline(TenantTabularInline):
    model = CannedUsage
    fields = ["membership", "count", "last_used_at"]
    readonly_fields = fields
    extra = 0
    verbose_name_plural = _("uses by operator")
    tenant_admin_can_add = False
    tenant_admin_can_change = False
    tenant_admin_can_delete = False

    def has_add_permission(self, request, obj=None) -> bool:
        return False


@admin.register(CannedReply)
class CannedReplyAdmin(TenantModelAdmin):
    form = CannedReplyForm
    list_display = ["shortcut", "title", "scope", "department", "language", "usage_count", "updated_at"]
    list_display_links = ["shortcut", "title"]
    list_filter = [SharedScopeFilter, "department", "language"]
    list_select_related = ("department",)
    search_fields = ["shortcut", "title", "text", "tags"]
    inlines = [CannedAttachmentInline, CannedUsageInline]
    service_errors = (ValidationError,)
    change_list_template = "admin/canned/cannedreply/change_list.html"

    def get_queryset(self, request):
        return super().get_queryset(request).filter(scope__in=SHARED_SCOPES)

    def save_model(self, request, obj, form, change):
        data = form.cleaned_data
        fields = {name: data.get(name, "") for name in services.EDITABLE_FIELDS}
        scope = data.get("scope") or Scope.TENANT
        department = data.get("department") if scope == Scope.DEPARTMENT else None
        if change:
            services.canned_reply_update(tenant=obj.tenant, reply=obj, scope=scope, department=department, **fields)
            return
        reply = services.canned_reply_create(
            tenant=self.tenant_for_new_row(request, form), scope=scope, department=department, **fields
        )
        # The admin goes on with `obj` (inlines, redirect): make it the saved row.
        for model_field in reply._meta.concrete_fields:
            setattr(obj, model_field.attname, getattr(reply, model_field.attname))
        obj._state.adding = False
        obj._state.db = reply._state.db

    def save_inline_row(self, request, instance, parent, *, is_new: bool) -> None:
        if isinstance(instance, CannedAttachment) and is_new:
            services.canned_attachment_add(tenant=parent.tenant, reply=parent, file=instance.file.file)
            return
        super().save_inline_row(request, instance, parent, is_new=is_new)

    def delete_model(self, request, obj):
        services.canned_reply_delete(tenant=obj.tenant, reply=obj)

    # --- CSV ---------------------------------------------------------------------------

    def get_urls(self):
        return [
            path("export/", self.admin_site.admin_view(self.export_view), name="canned_cannedreply_export"),
            path("import/", self.admin_site.admin_view(self.import_view), name="canned_cannedreply_import"),
            *super().get_urls(),
        ]

    def _csv_tenant(self, request) -> Tenant:
        if is_platform_admin(request):
            tenant = Tenant.objects.filter(pk=request.GET.get("tenant") or 0).first()
            if tenant is None:
                raise PermissionDenied
            return tenant
        if not self.has_view_permission(request):
            raise PermissionDenied
        return request.tenant

    def export_view(self, request):
        tenant = self._csv_tenant(request)
        response = HttpResponse(transfer.canned_csv_export(tenant=tenant), content_type="text/csv; charset=utf-8")
        response["Content-Disposition"] = f'attachment; filename="canned-replies-{tenant.slug}.csv"'
        return response

    def import_view(self, request):
        tenant = self._csv_tenant(request)
        if not self.has_add_permission(request):
            raise PermissionDenied
        errors: list = []
        if request.method == "POST":
            upload = request.FILES.get("file")
            if upload is None:
                errors = [(None, _("Choose a CSV file."))]
            elif upload.size > transfer.IMPORT_MAX_BYTES:
                errors = [(None, _("The file is too large (at most %(mb)s MB).") % {"mb": 5})]
            else:
                try:
                    result = transfer.canned_csv_import(tenant=tenant, data=upload.read())
                except transfer.CsvImportError as error:
                    errors = error.errors
                else:
                    self.message_user(
                        request,
                        _("Imported: %(created)s new, %(updated)s updated.")
                        % {"created": result.created, "updated": result.updated},
                        messages.SUCCESS,
                    )
                    return HttpResponseRedirect(reverse("admin:canned_cannedreply_changelist"))
        context = {
            **self.admin_site.each_context(request),
            "opts": self.model._meta,
            "title": _("Import canned replies"),
            "errors": errors,
            "columns": transfer.COLUMNS,
        }
        return TemplateResponse(request, "admin/canned/cannedreply/import.html", context, status=400 if errors else 200)


@admin.register(CannedUsage)
class CannedUsageAdmin(TenantModelAdmin):
    """How often each operator used each reply (read only)."""

    list_display = ["reply", "membership", "count", "last_used_at"]
    list_select_related = ("reply", "membership__user")
    search_fields = ["reply__shortcut", "reply__title", "membership__user__email", "membership__display_name"]
    ordering = ["-count"]
    tenant_admin_can_add = False
    tenant_admin_can_change = False
    tenant_admin_can_delete = False

    def get_queryset(self, request):
        # Operators' personal replies are theirs: their uses are not listed either.
        return super().get_queryset(request).filter(reply__scope__in=SHARED_SCOPES)

    def has_add_permission(self, request, *args) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False
