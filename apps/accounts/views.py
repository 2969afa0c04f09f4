"""HTTP for signing up a company, getting started, inviting a team and joining one.

Views parse the request and call a service or a selector; the rules live there.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from urllib.parse import urlencode

from allauth.account.utils import perform_login
from allauth.core import ratelimit
from allauth.mfa.utils import is_mfa_enabled
from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import get_language
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods, require_POST

from apps.accounts import selectors, services
from apps.accounts.forms import InvitationAcceptForm, InvitationCreateForm, SignupForm
from apps.accounts.invitations import InvitationError
from apps.accounts.models import Membership
from apps.core.tenancy import memberships_for, select_tenant

View = Callable[..., HttpResponse]


def member_required(view: View) -> View:
    """Logged in and working in a tenant (the middleware resolved `request.membership`)."""

    @login_required
    @wraps(view)
    def wrapper(request: HttpRequest, *args, **kwargs) -> HttpResponse:
        if request.membership is None:
            return render(request, "accounts/no_membership.html", status=403)
        return view(request, *args, **kwargs)

    return wrapper


def team_admin_required(view: View) -> View:
    @member_required
    @wraps(view)
    def wrapper(request: HttpRequest, *args, **kwargs) -> HttpResponse:
        if not request.membership.is_admin:
            raise PermissionDenied
        return view(request, *args, **kwargs)

    return wrapper


def _login(request: HttpRequest, membership: Membership, *, signup: bool) -> HttpResponse:
    # allauth's login runs its signals, session bookkeeping and stages (two-factor, if set up).
    response = perform_login(request, membership.user, redirect_url=reverse("get_started"), signup=signup)
    select_tenant(request, membership.tenant)
    return response


def home(request: HttpRequest) -> HttpResponse:
    """Members work in the dashboard; a platform superuser without a tenant in the admin."""
    if request.membership is not None:
        return redirect("dashboard:app")
    if request.user.is_authenticated:
        return redirect("admin:index" if request.user.is_superuser else "get_started")
    return redirect("account_login")


@require_http_methods(["GET", "POST"])
def signup(request: HttpRequest) -> HttpResponse:
    if request.user.is_authenticated and request.membership is not None:
        return redirect("get_started")
    # Signup is public and each success creates a company: allauth's "signup" rate limit applies.
    if request.method == "POST" and (limited := ratelimit.consume_or_429(request, action="signup")):
        return limited
    form = SignupForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            membership = services.tenant_signup(**form.cleaned_data, language=get_language())
        except ValidationError as error:
            form.add_error(None, error)
        else:
            return _login(request, membership, signup=True)
    return render(request, "accounts/signup.html", {"form": form})


@member_required
def get_started(request: HttpRequest) -> HttpResponse:
    tenant = request.tenant
    context = {
        "tenant": tenant,
        "is_admin": request.membership.is_admin,
        "widget_snippet": (
            f'<script async src="{settings.PARLEY_BASE_URL}/widget/loader.js" '
            f'data-parley-key="{tenant.widget_key}"></script>'
        ),
        "mfa_enabled": is_mfa_enabled(request.user),
    }
    return render(request, "accounts/get_started.html", context)


@team_admin_required
@require_http_methods(["GET", "POST"])
def team_invite(request: HttpRequest) -> HttpResponse:
    form = InvitationCreateForm(request.POST or None, inviter_role=request.membership.role)
    if request.method == "POST" and form.is_valid():
        try:
            invitation = services.invitation_create(
                tenant=request.tenant,
                email=form.cleaned_data["email"],
                role=form.cleaned_data["role"],
                invited_by=request.user,
            )
        except ValidationError as error:
            form.add_error(None, error)
        else:
            messages.success(request, _("Invitation sent to %(email)s.") % {"email": invitation.email})
            return redirect("team_invite")
    context = {
        "form": form,
        "members": selectors.membership_list(tenant=request.tenant),
        "invitations": selectors.invitation_list_pending(tenant=request.tenant),
        "invitation_days": max(1, settings.PARLEY_INVITATION_MAX_AGE // 86400),
    }
    return render(request, "accounts/team_invite.html", context)


@login_required
@require_POST
def tenant_switch(request: HttpRequest) -> HttpResponse:
    """Work in another company the person belongs to; any other id is answered as missing."""
    tenant_id = request.POST.get("tenant", "")
    membership = next((m for m in memberships_for(request.user) if str(m.tenant_id) == tenant_id), None)
    if membership is None:
        raise Http404
    select_tenant(request, membership.tenant)
    next_url = request.POST.get("next", "")
    if not url_has_allowed_host_and_scheme(
        next_url, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        next_url = reverse("get_started")
    return redirect(next_url)


def _welcome(request: HttpRequest, membership: Membership) -> None:
    messages.success(request, _("Welcome to %(company)s!") % {"company": membership.tenant.name})


def _invitation_refused(request: HttpRequest, error: InvitationError) -> HttpResponse:
    status = 404 if error.code == InvitationError.INVALID else 410
    return render(request, "accounts/invitation_refused.html", {"error": error}, status=status)


@require_http_methods(["GET", "POST"])
def invitation_accept(request: HttpRequest, token: str) -> HttpResponse:
    try:
        invitation = selectors.invitation_for_token(token)
    except InvitationError as error:
        return _invitation_refused(request, error)

    user = request.user if request.user.is_authenticated else None
    form = None
    if user is not None:
        mode = "join" if user.email.lower() == invitation.email.lower() else "wrong_user"
    elif selectors.user_exists(email=invitation.email):
        mode = "login"
    else:
        mode = "register"
        form = InvitationAcceptForm(request.POST or None)

    if request.method == "POST" and mode == "join":
        try:
            membership = services.invitation_accept(token=token, user=user)
        except InvitationError as error:
            return _invitation_refused(request, error)
        _welcome(request, membership)
        select_tenant(request, membership.tenant)
        return redirect("get_started")
    if request.method == "POST" and mode == "register" and form.is_valid():
        try:
            membership = services.invitation_accept(token=token, **form.cleaned_data)
        except InvitationError as error:
            return _invitation_refused(request, error)
        except ValidationError as error:
            form.add_error(None, error)
        else:
            _welcome(request, membership)
            return _login(request, membership, signup=True)

    context = {
        "invitation": invitation,
        "tenant": invitation.tenant,
        "mode": mode,
        "form": form,
        "login_url": f"{reverse('account_login')}?{urlencode({'next': request.path})}",
    }
    return render(request, "accounts/invitation_accept.html", context)
