"""Forms check the shape of the input; the services decide what is allowed and write."""

from __future__ import annotations

from django import forms
from django.utils.translation import gettext_lazy as _

from apps.accounts.models import Role, Tenant
from apps.core.text import single_line


class SignupForm(forms.Form):
    company_name = forms.CharField(
        label=_("Company name"),
        max_length=Tenant._meta.get_field("name").max_length,
        validators=[single_line],
        widget=forms.TextInput(attrs={"autocomplete": "organization", "autofocus": True}),
    )
    slug = forms.SlugField(
        label=_("Short name (optional)"),
        max_length=Tenant._meta.get_field("slug").max_length,
        required=False,
        help_text=_("Lowercase letters, digits and hyphens. Leave empty to derive it from the company name."),
    )
    name = forms.CharField(
        label=_("Your name"),
        max_length=120,
        required=False,
        validators=[single_line],
        widget=forms.TextInput(attrs={"autocomplete": "name"}),
    )
    email = forms.EmailField(
        label=_("Work email"),
        widget=forms.EmailInput(attrs={"autocomplete": "email"}),
    )
    password = forms.CharField(
        label=_("Password"),
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
        help_text=_("At least 10 characters; not a common or an all-digit password."),
    )


class InvitationCreateForm(forms.Form):
    email = forms.EmailField(label=_("Email address"), widget=forms.EmailInput(attrs={"autocomplete": "off"}))
    role = forms.ChoiceField(label=_("Role"), choices=[], initial=Role.OPERATOR)

    def __init__(self, *args, inviter_role: str, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        # An admin can add operators and admins; only an owner can make another owner.
        roles = [Role.OPERATOR, Role.ADMIN] + ([Role.OWNER] if inviter_role == Role.OWNER else [])
        self.fields["role"].choices = [(role.value, role.label) for role in roles]


class InvitationAcceptForm(forms.Form):
    """For a person without an account: their name and a password for the invited address."""

    name = forms.CharField(
        label=_("Your name"),
        max_length=120,
        validators=[single_line],
        widget=forms.TextInput(attrs={"autocomplete": "name", "autofocus": True}),
    )
    password = forms.CharField(
        label=_("Password"),
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
        help_text=_("At least 10 characters; not a common or an all-digit password."),
    )
