"""Tenant guards every service starts with: the scope, ownership, active operators, the row lock.

A service takes the tenant as an argument and trusts nothing it was handed: another
tenant's object is `NotFound`, exactly like a missing one.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any, ParamSpec, TypeVar

from django.utils.translation import gettext_lazy as _

from apps.accounts.models import Membership, Tenant
from apps.conversations.errors import Forbidden, NotFound
from apps.conversations.models import Conversation
from apps.conversations.selectors import operator_load
from apps.core.tenancy import tenant_scope

__all__ = ["active_member", "conversation_lock", "in_tenant_scope", "operator_load", "own"]

P = ParamSpec("P")
R = TypeVar("R")


def in_tenant_scope(fn: Callable[P, R]) -> Callable[P, R]:
    """Run the service inside its tenant's scope, whatever scope the caller is in."""

    @functools.wraps(fn)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        tenant = kwargs.get("tenant")
        if not isinstance(tenant, Tenant) or tenant.pk is None:
            raise TypeError(f"{fn.__name__}() needs tenant=<saved Tenant>")
        with tenant_scope(tenant):
            return fn(*args, **kwargs)

    return wrapper


def own(tenant: Tenant, obj: Any) -> None:
    """Another tenant's object is answered like a missing one."""
    if obj is None or obj.pk is None or obj.tenant_id != tenant.pk:
        raise NotFound()


def active_member(tenant: Tenant, membership: Any) -> Membership:
    if not isinstance(membership, Membership) or membership.tenant_id != tenant.pk:
        raise NotFound()
    if not membership.is_active:
        raise Forbidden(_("This operator is not active."))
    return membership


def conversation_lock(tenant: Tenant, conversation: Conversation) -> Conversation:
    """Reload the conversation with its row locked until the transaction ends (call inside atomic)."""
    own(tenant, conversation)
    try:
        locked = Conversation.objects.select_for_update().get(pk=conversation.pk, tenant=tenant)
    except Conversation.DoesNotExist:
        raise NotFound() from None
    # Keep related rows the caller already loaded (saves queries when events are built).
    cache = conversation._state.fields_cache
    for name in ("visitor", "assignee", "department"):
        if name in cache and getattr(locked, f"{name}_id") == getattr(conversation, f"{name}_id"):
            locked._state.fields_cache[name] = cache[name]
    return locked
