"""Admin for the company, its people and their roles.

Tenant admins (owners and admins) see their own company row, the users who are
members of it, its operators, departments and invitations. Platform superusers see
every tenant. Tenant-wide rules that the admin enforces on top of the scope:
- only owners (and superusers) hand out or change the owner role, and only they
  may change or remove an owner's membership;
- a tenant admin never edits the platform side of a user (password, staff and
  superuser flags, email, active flag): a user may belong to several companies.
"""

from __future__ import annotations

from django import forms
from django.contrib import admin, messages
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin
from django.contrib.auth.forms import BaseUserCreationForm, UserChangeForm
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import Count, Q
from django.utils import timezone
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from apps.accounts import services
from apps.accounts.models import Department, Invitation, Membership, Role, Tenant, User
from apps.core.admin import (
    TENANT_CHOICE_FIELD,
    TenantAdminMixin,
    TenantModelAdmin,
    is_platform_admin,
    is_tenant_admin,
)


def _acts_as_owner(request) -> bool:
    """Superusers and owners may hand out and take away the owner role."""
    if is_platform_admin(request):
        return True
    membership = getattr(request, "membership", None)
    return membership is not None and membership.role == Role.OWNER


def _is_own(request, membership: Membership) -> bool:
    own = getattr(request, "membership", None)
    return own is not None and own.pk == membership.pk


def _role_change_error(request, role: str | None, current_role: str | None = None) -> str | None:
    if _acts_as_owner(request):
        return None
    if role == Role.OWNER or current_role == Role.OWNER:
        return _("Only an owner can give or take away the owner role.")
    return None


# --- the company -------------------------------------------------------------------


@admin.register(Tenant)
class TenantAdmin(TenantAdminMixin, admin.ModelAdmin):
    """A tenant admin edits their own company's settings; superusers manage every tenant."""

    list_display = ["name", "slug", "time_zone", "default_language", "is_active", "created_at"]
    list_filter = ["is_active", "default_language"]
    search_fields = ["name", "slug"]
    tenant_admin_can_add = False
    tenant_admin_can_delete = False

    def get_queryset(self, request):
        queryset = super().get_queryset(request)
        if is_platform_admin(request):
            return queryset
        if not is_tenant_admin(request):
            return queryset.none()
        # Tenant is a platform row, not scoped: the filter is the fence.
        return queryset.filter(pk=request.tenant.pk)

    def get_object(self, request, object_id, from_field=None):
        obj = super().get_object(request, object_id, from_field)
        if obj is None:
            from django.http import Http404

            raise Http404(_("Not found."))
        return obj

    def get_fieldsets(self, request, obj=None):
        settings_fields = ["name", "time_zone", "default_language", "allowed_domains"]
        if is_platform_admin(request):
            settings_fields = ["name", "slug", "is_active", "time_zone", "default_language", "allowed_domains"]
        if obj is None:
            return [(None, {"fields": settings_fields})]
        return [
            (None, {"fields": settings_fields}),
            (_("Widget and email"), {"fields": ["widget_key", "inbound_address", "created_at"]}),
        ]

    def get_readonly_fields(self, request, obj=None):
        return ["widget_key", "inbound_address", "created_at"] if obj is not None else []

    @admin.display(description=_("inbound email address"))
    def inbound_address(self, obj: Tenant) -> str:
        return obj.inbound_address

    def save_model(self, request, obj, form, change):
        super().save_model(request, obj, form, change)
        if change and "default_language" in form.changed_data:
            # Canned replies browse in the company's alphabet.
            from apps.canned.services import canned_sort_keys_refresh

            canned_sort_keys_refresh(tenant=obj)


# --- users -------------------------------------------------------------------------


class UserCreationForm(BaseUserCreationForm):
    class Meta:
        model = User
        fields = ("email", "name")


class UserEditForm(UserChangeForm):
    class Meta:
        model = User
        fields = "__all__"


@admin.register(User)
class UserAdmin(TenantAdminMixin, DjangoUserAdmin):
    """Tenant admins see the members of their company and may fix a name or a language, nothing more."""

    form = UserEditForm
    add_form = UserCreationForm
    list_display = ["email", "name", "is_active", "is_superuser", "last_login"]
    list_filter = ["is_active", "is_staff", "is_superuser"]
    search_fields = ["email", "name"]
    ordering = ["email"]
    fieldsets = [
        (None, {"fields": ["email", "password"]}),
        (_("Personal info"), {"fields": ["name", "language"]}),
        (
            _("Permissions"),
            {"fields": ["is_active", "is_staff", "is_superuser", "groups", "user_permissions"]},
        ),
        (_("Important dates"), {"fields": ["last_login", "date_joined"]}),
    ]
    add_fieldsets = [
        (None, {"classes": ["wide"], "fields": ["email", "name", "password1", "password2"]}),
    ]
    tenant_fieldsets = [
        (None, {"fields": ["email", "name", "language"]}),
        (_("Important dates"), {"fields": ["last_login", "date_joined"]}),
    ]
    # People join a company by signup or invitation, and a user may belong to several
    # companies: deleting one is a platform decision.
    tenant_admin_can_add = False
    tenant_admin_can_delete = False

    def get_queryset(self, request):
        queryset = super().get_queryset(request)
        if is_platform_admin(request):
            return queryset
        if not is_tenant_admin(request):
            return queryset.none()
        # A join, not the scoped manager: only users with a membership in this tenant.
        return queryset.filter(memberships__tenant=request.tenant)

    def get_object(self, request, object_id, from_field=None):
        obj = super().get_object(request, object_id, from_field)
        if obj is None:
            from django.http import Http404

            raise Http404(_("Not found."))
        return obj

    def get_list_display(self, request):
        if is_platform_admin(request):
            return self.list_display
        return ["email", "name", "is_active", "last_login"]

    def get_list_filter(self, request):
        return self.list_filter if is_platform_admin(request) else ["is_active"]

    def get_fieldsets(self, request, obj=None):
        if obj is not None and not is_platform_admin(request):
            return self.tenant_fieldsets
        return super().get_fieldsets(request, obj)

    def get_readonly_fields(self, request, obj=None):
        if is_platform_admin(request):
            return ["last_login", "date_joined"]
        return ["email", "last_login", "date_joined"]

    def user_change_password(self, request, id, form_url=""):
        # Passwords are the person's own (or a platform superuser's) business.
        if not is_platform_admin(request):
            raise PermissionDenied
        return super().user_change_password(request, id, form_url)


# --- operators ---------------------------------------------------------------------


class MembershipForm(forms.ModelForm):
    departments = forms.ModelMultipleChoiceField(
        queryset=Department.objects.none(),
        required=False,
        label=_("Departments"),
        widget=forms.CheckboxSelectMultiple,
    )

    class Meta:
        model = Membership
        fields = ["user", "role", "display_name", "max_concurrent_chats", "is_active"]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if "departments" in self.fields:
            # Built per request, inside the tenant's scope (a superuser sees every tenant's).
            self.fields["departments"].queryset = Department.objects.all()
            if self.instance.pk:
                self.fields["departments"].initial = self.instance.departments.all()

    def _save_m2m(self):
        super()._save_m2m()
        if "departments" in self.cleaned_data:
            self.instance.departments.set(self.cleaned_data["departments"])


@admin.register(Membership)
class MembershipAdmin(TenantModelAdmin):
    form = MembershipForm
    list_display = ["name_for_team", "user_email", "role", "is_active", "max_concurrent_chats", "created_at"]
    list_filter = ["role", "is_active", "departments"]
    list_select_related = ["user"]
    search_fields = ["display_name", "user__email", "user__name"]
    autocomplete_fields = ["user"]
    fields = ["user", "role", "display_name", "max_concurrent_chats", "is_active", "departments"]
    # Operators join by invitation (which creates the membership when accepted).
    tenant_admin_can_add = False
    service_errors = (ValidationError,)

    @admin.display(description=_("name"), ordering="display_name")
    def name_for_team(self, obj: Membership) -> str:
        return obj.name_for_team

    @admin.display(description=_("email address"), ordering="user__email")
    def user_email(self, obj: Membership) -> str:
        return obj.user.email

    def get_readonly_fields(self, request, obj=None):
        # Who a membership belongs to never changes; an invitation names the person.
        return ["user"] if obj is not None else []

    def has_change_permission(self, request, obj=None) -> bool:
        if obj is not None and obj.role == Role.OWNER and not _acts_as_owner(request):
            return False
        return super().has_change_permission(request, obj)

    def has_delete_permission(self, request, obj=None) -> bool:
        if obj is not None and obj.role == Role.OWNER and not _acts_as_owner(request):
            return False
        if obj is not None and _is_own(request, obj):
            # Nobody removes themselves from the company by accident (and so the last owner stays).
            return False
        return super().has_delete_permission(request, obj)

    def get_form(self, request, obj=None, change=False, **kwargs):
        form_class = super().get_form(request, obj, change=change, **kwargs)
        current_role = obj.role if obj is not None else None
        own = obj is not None and _is_own(request, obj)

        class RoleCheckedForm(form_class):
            def clean(self):
                cleaned_data = super().clean()
                if error := _role_change_error(request, cleaned_data.get("role"), current_role):
                    self.add_error("role" if "role" in self.fields else None, error)
                if own and cleaned_data.get("role", current_role) != current_role:
                    self.add_error("role", _("You cannot change your own role."))
                if own and "is_active" in self.fields and not cleaned_data.get("is_active"):
                    self.add_error("is_active", _("You cannot deactivate yourself."))
                return cleaned_data

        RoleCheckedForm.__name__ = form_class.__name__
        return RoleCheckedForm

    def save_form(self, request, form, change):
        if change:
            return super().save_form(request, form, change)
        # New memberships go through the service (it also revives a deactivated one).
        membership = services.membership_create(
            tenant=self.tenant_for_new_row(request, form),
            user=form.cleaned_data["user"],
            role=form.cleaned_data["role"],
        )
        for name in ("display_name", "max_concurrent_chats", "is_active"):
            if name in form.cleaned_data:
                setattr(membership, name, form.cleaned_data[name])
        form.instance = membership
        return membership

    def save_model(self, request, obj, form, change):
        # A new membership was created by the service in save_form; this saves the other fields.
        obj.save()

    def save_related(self, request, form, formsets, change):
        if not change:
            form.save_m2m = form._save_m2m
        super().save_related(request, form, formsets, change)


# --- departments -------------------------------------------------------------------


@admin.register(Department)
class DepartmentAdmin(TenantModelAdmin):
    list_display = ["name", "member_count", "created_at"]
    # The member count's GROUP BY drops Meta.ordering.
    ordering = ["name"]
    search_fields = ["name"]
    autocomplete_fields = ["members"]
    fields = ["name", "members"]

    def get_queryset(self, request):
        return super().get_queryset(request).annotate(member_count=Count("members"))

    @admin.display(description=_("operators"), ordering="member_count")
    def member_count(self, obj: Department) -> int:
        return obj.member_count


# --- invitations -------------------------------------------------------------------


def _is_active_member(tenant: Tenant, email: str) -> bool:
    return Membership.objects.filter(tenant=tenant, user__email__iexact=email, is_active=True).exists()


class InvitationStateFilter(admin.SimpleListFilter):
    title = _("state")
    parameter_name = "state"

    def lookups(self, request, model_admin):
        return [("pending", _("Pending")), ("accepted", _("Accepted")), ("expired", _("Expired"))]

    def queryset(self, request, queryset):
        now = timezone.now()
        if self.value() == "pending":
            return queryset.filter(accepted_at__isnull=True, expires_at__gt=now)
        if self.value() == "accepted":
            return queryset.filter(accepted_at__isnull=False)
        if self.value() == "expired":
            return queryset.filter(accepted_at__isnull=True, expires_at__lte=now)
        return queryset


class InvitationForm(forms.ModelForm):
    class Meta:
        model = Invitation
        fields = ["email", "role"]


@admin.register(Invitation)
class InvitationAdmin(TenantModelAdmin):
    form = InvitationForm
    list_display = ["email", "role", "state", "invited_by", "created_at", "expires_at"]
    list_filter = [InvitationStateFilter, "role"]
    list_select_related = ["invited_by"]
    search_fields = ["email"]
    actions = ["resend"]
    # An invitation is a sent email: it is resent or left to expire, never edited.
    tenant_admin_can_change = False
    service_errors = (ValidationError,)

    def get_fields(self, request, obj=None):
        if obj is None:
            return ["email", "role"]
        return ["email", "role", "state", "invited_by", "created_at", "expires_at", "accepted_at"]

    def get_readonly_fields(self, request, obj=None):
        if obj is None:
            return []
        return ["email", "role", "state", "invited_by", "created_at", "expires_at", "accepted_at"]

    def has_change_permission(self, request, obj=None) -> bool:
        # Superusers too: there is nothing to edit, only to resend.
        return False

    @admin.display(description=_("state"))
    def state(self, obj: Invitation) -> str:
        if obj.accepted_at is not None:
            label, css = _("Accepted"), "accepted"
        elif obj.is_expired:
            label, css = _("Expired"), "expired"
        else:
            label, css = _("Pending"), "pending"
        return format_html('<span class="invitation-{}">{}</span>', css, label)

    def get_form(self, request, obj=None, change=False, **kwargs):
        form_class = super().get_form(request, obj, change=change, **kwargs)

        class InviteForm(form_class):
            def clean(self):
                cleaned_data = super().clean()
                tenant = cleaned_data.get(TENANT_CHOICE_FIELD) if is_platform_admin(request) else request.tenant
                if error := _role_change_error(request, cleaned_data.get("role")):
                    self.add_error("role", error)
                email = (cleaned_data.get("email") or "").strip()
                if email and tenant is not None and _is_active_member(tenant, email):
                    # The service refuses this too; checked here to show it next to the field.
                    self.add_error("email", _("This person is already a member of your team."))
                return cleaned_data

        InviteForm.__name__ = form_class.__name__
        return InviteForm

    def save_form(self, request, form, change):
        if change:
            return super().save_form(request, form, change)
        invitation = services.invitation_create(
            tenant=self.tenant_for_new_row(request, form),
            email=form.cleaned_data["email"],
            role=form.cleaned_data["role"],
            invited_by=request.user,
        )
        form.instance = invitation
        return invitation

    def save_model(self, request, obj, form, change):
        """The service already saved the invitation (and queued its email)."""

    def save_related(self, request, form, formsets, change):
        """An invitation has no related rows to save."""

    @admin.action(description=_("Resend the selected invitations"), permissions=["add"])
    def resend(self, request, queryset):
        sent = 0
        skipped = 0
        for invitation in queryset.filter(accepted_at__isnull=True):
            try:
                services.invitation_create(
                    tenant=invitation.tenant, email=invitation.email, role=invitation.role, invited_by=request.user
                )
            except ValidationError:
                skipped += 1
            else:
                sent += 1
        skipped += queryset.filter(Q(accepted_at__isnull=False)).count()
        if sent:
            self.message_user(
                request,
                ngettext("%(count)d invitation was sent again.", "%(count)d invitations were sent again.", sent)
                % {"count": sent},
                messages.SUCCESS,
            )
        if skipped:
            self.message_user(
                request,
                ngettext(
                    "%(count)d invitation was not resent (accepted, or the person is already a member).",
                    "%(count)d invitations were not resent (accepted, or the person is already a member).",
                    skipped,
                )
                % {"count": skipped},
                messages.WARNING,
            )
