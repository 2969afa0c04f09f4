"""PostgreSQL row-level security: the second tenancy wall, under django-scopes.

Every table of a `TenantOwned` model gets `ENABLE` + `FORCE ROW LEVEL SECURITY` and one
policy: a row is visible, and may be written, only when its `tenant_id` equals the
per-transaction setting `parley.tenant_id`. The setting follows the django-scopes state
that `apps.core.tenancy` enters for requests, socket actions and tasks:

| scope state (django-scopes)      | database role            | `parley.tenant_id` |
| -------------------------------- | ------------------------ | ------------------ |
| `tenant_scope(t)` / `scope(...)` | `PARLEY_DB_APP_ROLE`     | t's id             |
| no scope at all                  | `PARLEY_DB_APP_ROLE`     | empty: no rows     |
| `scopes_disabled()`              | `PARLEY_DB_BYPASS_ROLE`  | empty (BYPASSRLS)  |
| `migrate`, `flush` (privileged)  | the connecting user      | empty              |

The application role has no BYPASSRLS, so a query that forgets its scope (a forward
foreign key, `.exists()` or `.create()` outside a scope, raw SQL) sees and writes
nothing of any tenant. Crossing tenants stays `scopes_disabled()`, now also at the
database level.

How it is applied: the database backend `apps.core.db` runs `sync_connection()` before
every statement. It compares the wanted (role, tenant) with what the connection has and,
only when they differ, sends one `set_config()`: `is_local` (SET LOCAL) inside a
transaction, session-wide in autocommit (where each statement is its own transaction).
Commits and rollbacks forget what was set, so nothing outlives its transaction or leaks
to the next user of a pooled connection. SQLite runs without any of this.
"""

from __future__ import annotations

import contextlib
import contextvars
import logging
from collections.abc import Iterator
from typing import Any

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.db.backends.base.base import NO_DB_ALIAS
from django_scopes import get_scope

logger = logging.getLogger(__name__)

TENANT_SETTING = "parley.tenant_id"
# Versioned: a changed predicate gets a new name, so `migrate` replaces the old policy everywhere.
POLICY_NAME = "parley_tenant_isolation_v2"
OLD_POLICY_NAMES = ("parley_tenant_isolation",)
# "none" is PostgreSQL's own word for "back to the session user" (SET ROLE NONE).
SESSION_USER = "none"

_privileged: contextvars.ContextVar[bool] = contextvars.ContextVar("parley_rls_privileged", default=False)


def app_role() -> str:
    return settings.PARLEY_DB_APP_ROLE


def bypass_role() -> str:
    return settings.PARLEY_DB_BYPASS_ROLE


@contextlib.contextmanager
def privileged() -> Iterator[None]:
    """Run as the connecting user (the tables' owner): schema changes and test-database flushes only."""
    token = _privileged.set(True)
    try:
        yield
    finally:
        _privileged.reset(token)


def _tenant_id(value: Any) -> str:
    if isinstance(value, list | tuple | set | frozenset):
        # django-scopes allows several values; the policy holds one tenant, so a multi-tenant
        # scope sees nothing at the database level rather than everything.
        value = next(iter(value)) if len(value) == 1 else None
    if value is None:
        return ""
    value = getattr(value, "pk", value)
    try:
        return str(int(value))
    except (TypeError, ValueError):
        return ""


def wanted_state() -> tuple[str, str]:
    """(role, tenant id) that the current django-scopes state asks the database for."""
    if _privileged.get():
        return SESSION_USER, ""
    current = get_scope()
    if current and current.get("_enabled") is False:
        return bypass_role(), ""
    return app_role(), _tenant_id(current.get("tenant")) if current else ""


def sync_connection(wrapper) -> None:
    """Make the connection's role and tenant setting match the scope; one round trip when they differ."""
    if wrapper.needs_rollback or wrapper.connection is None:
        return  # Django refuses the statement itself with a clearer error.
    if wrapper.alias == NO_DB_ALIAS:
        return  # the server-level connection (CREATE DATABASE for tests) stays the connecting user
    in_transaction = not wrapper.get_autocommit()
    state = (*wanted_state(), in_transaction)
    if wrapper.parley_rls_state == state:
        return
    role, tenant_id = state[0], state[1]
    try:
        wrapper.connection.execute(
            "SELECT set_config('role', %s, %s), set_config(%s, %s, %s)",
            [role, in_transaction, TENANT_SETTING, tenant_id, in_transaction],
        )
    except Exception as exc:
        wrapper.parley_rls_state = None
        if "role" in str(exc) and "does not exist" in str(exc):
            raise ImproperlyConfigured(
                f"PostgreSQL role {role!r} is missing: run `manage.py migrate` as a user that may create roles, "
                "or create it as docs/security.md shows (or set PARLEY_DB_RLS=0)."
            ) from exc
        raise
    wrapper.parley_rls_state = state


def tenant_owned_tables() -> list[str]:
    from django.apps import apps

    from apps.core.models import TenantOwned

    return sorted(
        model._meta.db_table
        for model in apps.get_models()
        if issubclass(model, TenantOwned) and not model._meta.proxy and model._meta.managed
    )


def _ensure_role(cursor, role: str, attributes: str) -> None:
    # Role names are checked (_check_role_name); DDL takes no parameters. Two test runs may
    # create the cluster-wide role at once: the loser's duplicate error is ignored.
    create = f'CREATE ROLE "{role}" {attributes}'
    cursor.execute(
        "DO $$ BEGIN IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = '" + role + "') THEN "  # noqa: S608
        + "EXECUTE '" + create.replace("'", "''") + "'; END IF; "
        + "EXCEPTION WHEN duplicate_object OR unique_violation THEN NULL; END $$;"
    )


def _check_role_name(role: str) -> str:
    if not role.replace("_", "").isalnum():
        raise ImproperlyConfigured(f"database role names are letters, digits and _: {role!r}")
    return role


def ensure_row_level_security(connection) -> list[str]:
    """Create the roles, grant them the tables and put the policy on every tenant-owned table.

    Idempotent and cheap when nothing is missing (one catalogue query), so it runs after
    every `migrate` (and test-database flush) and covers tables that any app adds later.
    Returns the tables it changed.
    """
    if connection.vendor != "postgresql" or not settings.PARLEY_DB_RLS:
        return []
    app, bypass = _check_role_name(app_role()), _check_role_name(bypass_role())
    tables = tenant_owned_tables()
    with privileged(), connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM pg_roles WHERE rolname IN (%s, %s) AND rolbypassrls = (rolname = %s)",
            [app, bypass, bypass],
        )
        roles_ok = cursor.fetchone()[0] == 2
        cursor.execute(
            """
            SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
            WHERE n.nspname = current_schema() AND c.relname = ANY(%s)
              AND c.relrowsecurity AND c.relforcerowsecurity
              AND EXISTS (SELECT 1 FROM pg_policies p WHERE p.schemaname = n.nspname
                          AND p.tablename = c.relname AND p.policyname = %s)
              AND has_table_privilege(%s, c.oid, 'SELECT, INSERT, UPDATE, DELETE')
            """,
            [tables, POLICY_NAME, app] if roles_ok else [[], POLICY_NAME, "public"],
        )
        protected = {row[0] for row in cursor.fetchall()}
        missing = [t for t in tables if t not in protected]
        if roles_ok and not missing:
            return []
        _ensure_role(cursor, app, "NOLOGIN NOSUPERUSER NOBYPASSRLS NOINHERIT")
        _ensure_role(cursor, bypass, "NOLOGIN NOSUPERUSER BYPASSRLS NOINHERIT")
        cursor.execute("SELECT rolsuper FROM pg_roles WHERE rolname = current_user")
        if not cursor.fetchone()[0]:
            # A non-superuser owner must be a member to SET ROLE to them.
            cursor.execute(f'GRANT "{app}", "{bypass}" TO current_user')
        for role in (app, bypass):
            cursor.execute(f'GRANT USAGE ON SCHEMA public TO "{role}"')
            cursor.execute(f'GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO "{role}"')
            cursor.execute(f'GRANT USAGE, SELECT, UPDATE ON ALL SEQUENCES IN SCHEMA public TO "{role}"')
        # A scalar subquery: evaluated once per statement (an InitPlan), not once per row and join.
        predicate = f"tenant_id = (SELECT NULLIF(current_setting('{TENANT_SETTING}', true), '')::bigint)"
        for table in missing:
            cursor.execute(f'ALTER TABLE "{table}" ENABLE ROW LEVEL SECURITY')
            cursor.execute(f'ALTER TABLE "{table}" FORCE ROW LEVEL SECURITY')
            for name in (POLICY_NAME, *OLD_POLICY_NAMES):
                cursor.execute(f'DROP POLICY IF EXISTS {name} ON "{table}"')
            cursor.execute(
                f'CREATE POLICY {POLICY_NAME} ON "{table}" USING ({predicate}) WITH CHECK ({predicate})'  # noqa: S608
            )
    if missing:
        logger.info("row-level security on %s", ", ".join(missing))
    return missing


def on_post_migrate(sender, using="default", **kwargs) -> None:
    from django.apps import apps
    from django.db import connections

    # Django sends post_migrate once per app that has models; act once, after the last one.
    if sender is not [config for config in apps.get_app_configs() if config.models_module is not None][-1]:
        return
    ensure_row_level_security(connections[using])
