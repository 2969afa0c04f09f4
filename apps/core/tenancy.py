"""The one place where Parley decides which tenant a piece of work runs for.

Every tenant-owned model inherits `TenantOwned` (apps/core/models.py, so the models never
import this module), whose default manager refuses to query unless a tenant is in scope.
HTTP requests, socket connects and Celery tasks enter the scope here, once; crossing
tenants is `scopes_disabled()` and nothing else, so every such place can be found with grep.

Blind spots of django-scopes that callers must mind: `.exists()` and `.create()` on
the manager are not blocked without a scope, and forward foreign keys
(`message.conversation`) load through the unscoped base manager. Services therefore
take the tenant as an argument, set it on every write themselves, and load any
object a client names through the scoped manager.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

from django_scopes import scope, scopes_disabled

from apps.accounts.models import Membership, Tenant
from apps.core.models import TenantOwned

__all__ = [
    "TenantOwned",
    "TenantScopeMiddleware",
    "scopes_disabled",
    "tenant_scope",
    "active_membership",
    "scoped_service",
    "on_commit_in_scope",
]

SESSION_TENANT_KEY = "parley_tenant_id"


@contextlib.contextmanager
def tenant_scope(tenant: Tenant | int) -> Iterator[None]:
    """Run the block with the default managers of tenant-owned models filtered to `tenant`.

    Refuses a missing tenant: django-scopes treats `tenant=None` as "no filter".
    """
    if tenant is None:
        raise ValueError("tenant_scope() needs a tenant")
    tenant_id = tenant if isinstance(tenant, int) else tenant.pk
    if tenant_id is None:
        raise ValueError("tenant_scope() needs a saved tenant")
    with scope(tenant=tenant_id):
        yield


def on_commit_in_scope(func, *, robust: bool = False) -> None:
    """`transaction.on_commit(func)`, run in the tenant scope that is active now.

    A callback can run after the block that registered it has left its scope (a test's
    `captureOnCommitCallbacks`, an outer transaction committed by an unscoped caller); on
    PostgreSQL its reads would then see no rows (row-level security), so it takes its scope along.
    """
    import contextvars

    from django.db import transaction

    context = contextvars.copy_context()

    def run():
        return context.run(func)

    named = getattr(func, "func", func)  # a functools.partial names its function
    run.__qualname__ = getattr(named, "__qualname__", "callback")
    run.__name__ = run.__qualname__
    transaction.on_commit(run, robust=robust)


def memberships_for(user) -> list[Membership]:
    if not getattr(user, "is_authenticated", False):
        return []
    with scopes_disabled():
        return list(
            Membership.objects.filter(user=user, is_active=True, tenant__is_active=True)
            .select_related("tenant")
            .order_by("created_at")
        )


def active_membership(user, preferred_tenant_id: int | None = None) -> Membership | None:
    """The membership an operator works in: the one chosen in the session, else the oldest."""
    memberships = memberships_for(user)
    for membership in memberships:
        if membership.tenant_id == preferred_tenant_id:
            return membership
    return memberships[0] if memberships else None


def select_tenant(request, tenant: Tenant) -> None:
    request.session[SESSION_TENANT_KEY] = tenant.pk


class TenantScopeMiddleware:
    """Resolve the tenant from the operator's membership and run the request in its scope.

    Platform superusers work unscoped in the admin (with a tenant filter there);
    anonymous requests get no scope at all, so a tenant-owned query in a public
    view fails loudly instead of leaking rows.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        request.tenant = None
        request.membership = None
        user = getattr(request, "user", None)
        membership = None
        if user is not None and user.is_authenticated:
            membership = active_membership(user, request.session.get(SESSION_TENANT_KEY))
        if membership is not None:
            request.membership = membership
            request.tenant = membership.tenant
        if user is not None and user.is_authenticated and user.is_superuser and request.path.startswith("/admin/"):
            with scopes_disabled():
                return self.get_response(request)
        if request.tenant is not None:
            with tenant_scope(request.tenant):
                return self.get_response(request)
        return self.get_response(request)


def scoped_service(fn):
    """Run a keyword-only service `fn(*, tenant, ...)` inside its tenant's scope, whatever scope the caller is in.

    Refuses a call without a saved `Tenant` as `tenant=` (a TypeError: a programming error).
    """
    import functools

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        tenant = kwargs.get("tenant")
        if not isinstance(tenant, Tenant) or tenant.pk is None:
            raise TypeError(f"{fn.__name__}() needs tenant=<saved Tenant>")
        with tenant_scope(tenant):
            return fn(*args, **kwargs)

    return wrapper


def tenant_task(func):
    """Run a Celery task body inside its tenant's scope.

    Tasks take ids, never objects: the first argument is the tenant id, loaded here
    (an inactive or deleted tenant's work is dropped), and the body runs scoped, as
    a request would.
    """
    import functools

    @functools.wraps(func)
    def wrapper(tenant_id: int, *args, **kwargs):
        tenant = Tenant.objects.filter(pk=tenant_id, is_active=True).first()
        if tenant is None:
            return None
        with tenant_scope(tenant):
            return func(tenant, *args, **kwargs)

    return wrapper
