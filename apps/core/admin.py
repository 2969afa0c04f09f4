"""The Django admin for account admins, each fenced into their own tenant.

Who gets in (`ParleyAdminSite.has_permission`):
- a platform superuser: every tenant, unscoped (TenantScopeMiddleware disables the
  scopes for them under /admin/), with a tenant column and filter on every
  tenant-owned changelist;
- an owner or admin of the tenant they work in (`request.membership`): that tenant's
  rows only, with model permissions from the role, not from Django's permission
  tables, so they need no `is_staff` flag.
Operators are refused. Everyone logs in through allauth (`ParleyAdminSite.login`
hands over to it), never through Django's password-only admin form.

Every tenant-owned model admin inherits `TenantModelAdmin`. The request already
runs inside `scope(tenant=...)`, so the default managers (change lists, foreign-key
choices, autocomplete, actions) see one tenant; the base class filters by the tenant
once more (defence in depth), answers another tenant's id exactly like a missing one
(404, not Django's redirect), sets the tenant on new rows, and refuses a related row
of another tenant even where a superuser could pick one.
"""

from __future__ import annotations

import functools
import zoneinfo

from django import forms
from django.conf import settings
from django.contrib import admin, messages
from django.contrib.auth import REDIRECT_FIELD_NAME
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import models
from django.http import Http404, HttpResponseRedirect
from django.shortcuts import resolve_url
from django.urls import reverse
from django.utils import timezone
from django.utils.http import url_has_allowed_host_and_scheme, urlencode
from django.utils.translation import gettext_lazy as _

__all__ = [
    "TENANT_CHOICE_FIELD",
    "ParleyAdminSite",
    "acting_membership",
    "TenantAdminMixin",
    "TenantInlineMixin",
    "TenantModelAdmin",
    "TenantStackedInline",
    "TenantTabularInline",
    "is_platform_admin",
    "is_tenant_admin",
]

# The field a superuser picks the tenant of a new row with ("tenant" itself is editable=False).
TENANT_CHOICE_FIELD = "for_tenant"


def is_platform_admin(request) -> bool:
    user = getattr(request, "user", None)
    return bool(user is not None and user.is_active and user.is_superuser)


def is_tenant_admin(request) -> bool:
    """An active owner or admin of the tenant this request works in."""
    user = getattr(request, "user", None)
    membership = getattr(request, "membership", None)
    return bool(
        user is not None
        and user.is_active
        and membership is not None
        and membership.is_active
        and membership.is_admin
        and getattr(request, "tenant", None) is not None
    )


def acting_membership(request, tenant):
    """The membership the request acts as in `tenant` (a superuser may have none there)."""
    membership = getattr(request, "membership", None)
    if membership is None or not membership.is_active or tenant is None or membership.tenant_id != tenant.pk:
        return None
    return membership


def may_use_admin(request) -> bool:
    return is_platform_admin(request) or is_tenant_admin(request)


def _tenant_time_zone(request) -> zoneinfo.ZoneInfo | None:
    if is_platform_admin(request) or not is_tenant_admin(request):
        return None
    try:
        return zoneinfo.ZoneInfo(request.tenant.time_zone)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        return None


class ParleyAdminSite(admin.AdminSite):
    site_header = _("Parley administration")
    site_title = _("Parley admin")
    index_title = _("Account administration")
    # The list of models is on the index page; change lists (transcripts, operators) need the width.
    enable_nav_sidebar = False
    # "View site" leads to the operators' dashboard.
    site_url = "/app/"

    def has_permission(self, request) -> bool:
        return may_use_admin(request)

    def login(self, request, extra_context=None):
        """Everyone logs in through allauth, so its rate limits and two-factor step guard the admin too.

        Django's own admin login form would accept a password alone.
        """
        next_url = request.GET.get(REDIRECT_FIELD_NAME, "")
        if not url_has_allowed_host_and_scheme(
            next_url, allowed_hosts={request.get_host()}, require_https=request.is_secure()
        ):
            next_url = reverse("admin:index", current_app=self.name)
        if request.user.is_authenticated:
            if self.has_permission(request):
                return HttpResponseRedirect(next_url)
            # Logged in, but an operator (or without a company): the admin is not theirs.
            raise PermissionDenied
        login_url = resolve_url(settings.LOGIN_URL)
        return HttpResponseRedirect(f"{login_url}?{urlencode({REDIRECT_FIELD_NAME: next_url})}")

    def admin_view(self, view, cacheable=False):
        """Every admin page of a tenant admin shows times in the tenant's time zone."""

        def in_tenant_time_zone(request, *args, **kwargs):
            zone = _tenant_time_zone(request)
            if zone is None:
                return view(request, *args, **kwargs)
            with timezone.override(zone):
                response = view(request, *args, **kwargs)
                # A TemplateResponse renders after the view returns: render it inside the zone.
                if hasattr(response, "render") and not response.is_rendered:
                    response.render()
                return response

        functools.update_wrapper(in_tenant_time_zone, view)
        return super().admin_view(in_tenant_time_zone, cacheable)

    def each_context(self, request):
        context = super().each_context(request)
        tenant = getattr(request, "tenant", None)
        if tenant is not None and not is_platform_admin(request):
            context["site_header"] = _("%(tenant)s · Parley administration") % {"tenant": tenant.name}
        return context


def _is_tenant_owned(model) -> bool:
    from apps.core.models import TenantOwned

    return isinstance(model, type) and issubclass(model, TenantOwned)


class TenantAdminMixin:
    """Permissions from the role: an owner or admin may do what the admin class allows."""

    # Per admin class: what a tenant admin may do at all. Superusers may always do it.
    tenant_admin_can_view = True
    tenant_admin_can_add = True
    tenant_admin_can_change = True
    tenant_admin_can_delete = True

    def has_module_permission(self, request) -> bool:
        return may_use_admin(request)

    def has_view_permission(self, request, obj=None) -> bool:
        if is_platform_admin(request):
            return True
        return is_tenant_admin(request) and (self.tenant_admin_can_view or self.has_change_permission(request, obj))

    def has_add_permission(self, request, *args) -> bool:
        # Inlines get the parent object as a second argument.
        return is_platform_admin(request) or (is_tenant_admin(request) and self.tenant_admin_can_add)

    def has_change_permission(self, request, obj=None) -> bool:
        return is_platform_admin(request) or (is_tenant_admin(request) and self.tenant_admin_can_change)

    def has_delete_permission(self, request, obj=None) -> bool:
        return is_platform_admin(request) or (is_tenant_admin(request) and self.tenant_admin_can_delete)


def _check_same_tenant(cleaned_data: dict, tenant_id: int | None) -> None:
    """Refuse a related row of another tenant (superusers see every tenant's choices)."""
    if tenant_id is None:
        return
    errors = {}
    for name, value in cleaned_data.items():
        related = value if isinstance(value, models.QuerySet | list | tuple) else [value]
        for item in related:
            if isinstance(item, models.Model) and _is_tenant_owned(type(item)) and item.tenant_id != tenant_id:
                errors[name] = ValidationError(_("Choose a row of the same tenant."), code="other_tenant")
                break
    if errors:
        raise ValidationError(errors)


class _TenantCheckedForm:
    """Mixed into every tenant-owned admin form: related rows must share the row's tenant."""

    parley_tenant_id: int | None = None
    parley_choose_tenant = False

    def clean(self):
        cleaned_data = super().clean()
        tenant_id = self.parley_tenant_id
        if self.parley_choose_tenant:
            chosen = cleaned_data.get(TENANT_CHOICE_FIELD)
            tenant_id = chosen.pk if chosen is not None else None
        _check_same_tenant({k: v for k, v in cleaned_data.items() if k != TENANT_CHOICE_FIELD}, tenant_id)
        return cleaned_data


class TenantModelAdmin(TenantAdminMixin, admin.ModelAdmin):
    """Base for the admin of every tenant-owned model."""

    list_select_related: tuple[str, ...] | list[str] = ()
    # Errors a service called from save_model may raise: shown as a message, the save undone.
    service_errors: tuple[type[Exception], ...] = ()

    # Rows: one tenant for its admins, every tenant for superusers.

    def get_queryset(self, request):
        queryset = super().get_queryset(request)
        if is_platform_admin(request):
            return queryset
        tenant = getattr(request, "tenant", None)
        if tenant is None or not is_tenant_admin(request):
            return queryset.none()
        # Already scoped by the middleware; filtered again so a scope bug cannot leak rows.
        return queryset.filter(tenant=tenant)

    def get_object(self, request, object_id, from_field=None):
        """The row, or Http404: another tenant's id is answered exactly like a missing one.

        Raising here (instead of returning None) answers 404 before any permission
        check in the change, delete and history views, and Django's default "doesn't
        exist" redirect is never reached.
        """
        obj = super().get_object(request, object_id, from_field)
        if obj is None:
            raise Http404(_("Not found."))
        return obj

    def _get_obj_does_not_exist_redirect(self, request, opts, object_id):
        raise Http404(_("Not found."))

    # Superusers: a tenant column and filter everywhere.

    def get_list_display(self, request):
        list_display = list(super().get_list_display(request))
        if is_platform_admin(request) and "tenant" not in list_display:
            list_display.insert(1 if list_display else 0, "tenant")
        return list_display

    def get_list_filter(self, request):
        list_filter = list(super().get_list_filter(request))
        if is_platform_admin(request) and "tenant" not in list_filter:
            list_filter.insert(0, "tenant")
        return list_filter

    def get_list_select_related(self, request):
        select_related = super().get_list_select_related(request)
        if not is_platform_admin(request) or select_related is True:
            return select_related
        return [*(select_related or ()), "tenant"]

    # Writes: the tenant comes from the request, never from the form.

    def get_form(self, request, obj=None, change=False, **kwargs):
        base_form = kwargs.get("form", self.form)
        readonly_fields = self.get_readonly_fields(request, obj)
        # As ModelAdmin.get_form does: declared form fields that are read-only are dropped.
        attrs: dict = dict.fromkeys(f for f in readonly_fields if f in base_form.declared_fields)
        attrs["parley_tenant_id"] = obj.tenant_id if obj is not None else getattr(request.tenant, "pk", None)
        if self._chooses_tenant(request, obj):
            from apps.accounts.models import Tenant

            attrs["parley_choose_tenant"] = True
            attrs[TENANT_CHOICE_FIELD] = forms.ModelChoiceField(queryset=Tenant.objects.all(), label=_("Tenant"))
        kwargs["form"] = type(base_form.__name__, (_TenantCheckedForm, base_form), attrs)
        return super().get_form(request, obj, change=change, **kwargs)

    def _chooses_tenant(self, request, obj) -> bool:
        return obj is None and is_platform_admin(request)

    def get_fieldsets(self, request, obj=None):
        fieldsets = super().get_fieldsets(request, obj)
        if not self._chooses_tenant(request, obj):
            return fieldsets
        # A superuser picks the new row's tenant first.
        cleaned = [
            (name, {**options, "fields": [f for f in options.get("fields", ()) if f != TENANT_CHOICE_FIELD]})
            for name, options in fieldsets
        ]
        first_name, first_options = cleaned[0]
        first = (first_name, {**first_options, "fields": [TENANT_CHOICE_FIELD, *first_options["fields"]]})
        return [first, *cleaned[1:]]

    def tenant_for_new_row(self, request, form):
        if is_platform_admin(request) and TENANT_CHOICE_FIELD in form.cleaned_data:
            return form.cleaned_data[TENANT_CHOICE_FIELD]
        return request.tenant

    def save_model(self, request, obj, form, change):
        if not change:
            obj.tenant = self.tenant_for_new_row(request, form)
        super().save_model(request, obj, form, change)

    def save_formset(self, request, form, formset, change):
        instances = formset.save(commit=False)
        for deleted in formset.deleted_objects:
            deleted.delete()
        for instance in instances:
            self.save_inline_row(request, instance, form.instance, is_new=instance.pk is None)
        formset.save_m2m()

    def save_inline_row(self, request, instance, parent, *, is_new: bool) -> None:
        """Save one inline row; a new one belongs to the parent's tenant. Subclasses route it to a service."""
        if is_new and _is_tenant_owned(type(instance)):
            instance.tenant_id = parent.tenant_id
        instance.save()

    # Services refuse with their own errors, raised from save_model before anything is committed.

    def changeform_view(self, request, object_id=None, form_url="", extra_context=None):
        try:
            return super().changeform_view(request, object_id, form_url, extra_context)
        except self.service_errors as error:
            # changeform_view's transaction has rolled back: nothing of this save was kept.
            message = getattr(error, "message", None) or "; ".join(getattr(error, "messages", [str(error)]))
            self.message_user(request, message, messages.ERROR)
            return HttpResponseRedirect(request.get_full_path())


class TenantInlineMixin(TenantAdminMixin):
    """Inlines of tenant-owned rows: role permissions and the parent's tenant."""

    def get_queryset(self, request):
        queryset = super().get_queryset(request)
        if is_platform_admin(request):
            return queryset
        tenant = getattr(request, "tenant", None)
        if tenant is None or not is_tenant_admin(request):
            return queryset.none()
        return queryset.filter(tenant=tenant)


class TenantTabularInline(TenantInlineMixin, admin.TabularInline):
    pass


class TenantStackedInline(TenantInlineMixin, admin.StackedInline):
    pass
