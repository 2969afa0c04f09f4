"""allauth's social login, for visitors only.

Parley's operators never log in with a social account. allauth's social views serve one
purpose here: a visitor's popup login, started at `views.begin` which notes the attempt in
the popup's session. This adapter:
- offers allauth only the apps of the attempt's tenant (`list_apps`), so without an attempt
  in progress there is no provider at all;
- intercepts every completed login (`pre_social_login`) before allauth looks up, creates or
  logs in a user: the account joins the visitor, the popup shows the result and closes. No
  `User`, `SocialAccount` or token row is ever written; no session is logged in.
"""

from __future__ import annotations

import logging

from allauth.core.exceptions import ImmediateHttpResponse
from allauth.socialaccount.adapter import DefaultSocialAccountAdapter
from django.http import Http404
from django.shortcuts import render

from apps.core.tenancy import tenant_scope
from apps.visitorlogin import services
from apps.visitorlogin.models import VisitorLoginProvider
from apps.visitorlogin.providers import social_app

logger = logging.getLogger(__name__)

SESSION_KEY = "parley_visitor_login"


def popup_response(request, template: str, context: dict, status: int = 200):
    context = {**context, "result": {"ok": bool(context.get("ok")), "name": context.get("name", "")}}
    response = render(request, template, context, status=status)
    # The widget that opened this window keeps its handle on it (postMessage, close): not same-origin.
    response["Cross-Origin-Opener-Policy"] = "unsafe-none"
    response["Cache-Control"] = "no-store"
    return response


def attempt_in_session(request) -> dict | None:
    marker = request.session.get(SESSION_KEY) if hasattr(request, "session") else None
    if not isinstance(marker, dict) or not {"tenant", "attempt", "provider"} <= set(marker):
        return None
    return marker


class VisitorLoginAdapter(DefaultSocialAccountAdapter):
    def list_apps(self, request, provider=None, client_id=None):
        marker = attempt_in_session(request) if request is not None else None
        if marker is None:
            return []
        from apps.accounts.models import Tenant

        tenant = Tenant.objects.filter(pk=marker["tenant"], is_active=True).first()
        if tenant is None:
            return []
        with tenant_scope(tenant):
            rows = VisitorLoginProvider.objects.filter(tenant=tenant, enabled=True, provider=marker["provider"])
            if provider:
                rows = rows.filter(provider=provider)
            apps = [social_app(row) for row in rows]
        if client_id:
            apps = [app for app in apps if app.client_id == client_id]
        return apps

    def get_app(self, request, provider, client_id=None):
        from allauth.socialaccount.models import SocialApp

        try:
            return super().get_app(request, provider, client_id=client_id)
        except SocialApp.DoesNotExist:
            # allauth's login views reached without a visitor's popup attempt (an operator, a script).
            raise Http404 from None

    def is_open_for_signup(self, request, sociallogin) -> bool:
        return False

    def pre_social_login(self, request, sociallogin) -> None:
        marker = attempt_in_session(request)
        if marker is None:
            raise ImmediateHttpResponse(
                popup_response(
                    request, "visitorlogin/done.html", {"ok": False, "message": services.refusal_text()}, 403
                )
            )
        account = sociallogin.account
        provider = account.get_provider()
        common = provider.extract_common_fields(account.extra_data) or {}
        extra = account.extra_data if isinstance(account.extra_data, dict) else {}
        name = (
            common.get("name")
            or " ".join(str(part) for part in (common.get("first_name"), common.get("last_name")) if part)
            or extra.get("name")
            or extra.get("displayName")
            or ""
        )
        try:
            avatar = account.get_avatar_url() or ""
        except Exception:  # a provider's avatar helper that trips over odd extra data
            avatar = ""
        profile = services.SocialProfile(
            provider=account.provider,
            uid=str(account.uid),
            name=str(name or ""),
            email=str(common.get("email") or ""),
            avatar_url=str(avatar or ""),
        )
        request.session.pop(SESSION_KEY, None)  # one popup, one login
        try:
            visitor = services.visitor_login_complete(
                tenant_id=marker["tenant"], attempt_id=marker["attempt"], profile=profile
            )
        except services.LoginRefused:
            raise ImmediateHttpResponse(
                popup_response(
                    request, "visitorlogin/done.html", {"ok": False, "message": services.refusal_text()}, 403
                )
            ) from None
        raise ImmediateHttpResponse(
            popup_response(
                request,
                "visitorlogin/done.html",
                {"ok": True, "name": visitor.name or visitor.email, "provider": provider.name},
            )
        )

    def on_authentication_error(self, request, provider, error=None, exception=None, extra_context=None) -> None:
        request.session.pop(SESSION_KEY, None)
        logger.info("visitor login with %s failed: %s %s", getattr(provider, "id", provider), error, exception)
        raise ImmediateHttpResponse(
            popup_response(request, "visitorlogin/done.html", {"ok": False, "message": services.failure_text()}, 400)
        )
