"""`canned_reply_search()`: the substring tiers of a search on the trigram indexes (PostgreSQL only).

Under row-level security PostgreSQL uses an index for a condition only if its operator is
leakproof, and `LIKE` is not: as the application role the trigram indexes of 0002 and 0004 can
never serve "contains", and every substring search read all of the tenant's replies. This
function runs as the bypass role (`SECURITY DEFINER`, owned by `PARLEY_DB_BYPASS_ROLE`, the role
`scopes_disabled()` switches to), where no policy stands between `LIKE` and the indexes. It takes
the tenant only from `parley.tenant_id`, the per-transaction setting the policies read (never
from an argument): with no tenant set it returns nothing, and it never reads another tenant's
rows. It applies the same visibility as `selectors.visible_replies` and returns only ids and
their tier; the selector loads those replies through the scoped ORM, under the policies again.

SQLite has no such function; `selectors._ranked` keeps the portable query there.
"""

import logging

from django.conf import settings
from django.db import DatabaseError, migrations, transaction

logger = logging.getLogger(__name__)

# Tiers 1 and 2 of a search, without tier 0 (shortcut starts with the query: `starts_with()` is
# leakproof and served by `canned_by_shortcut` as the application role, so the selector runs it itself).
# p_shortcut NULL: a query with a space, which matches no shortcut: tier 2 only, nothing excluded.
FUNCTION = r"""
CREATE OR REPLACE FUNCTION canned_reply_search(
    p_membership bigint, p_shortcut text, p_words text[], p_language text, p_limit integer
) RETURNS TABLE (id bigint, tier integer)
LANGUAGE plpgsql STABLE SECURITY DEFINER
SET search_path = pg_catalog, public, pg_temp
AS $fn$
DECLARE
    t bigint := NULLIF(current_setting('parley.tenant_id', true), '')::bigint;
    departments bigint[];
    shortcut_like text;
    longest text;
    word_like text;
    second_like text;
    found integer := 0;
BEGIN
    IF t IS NULL OR p_limit IS NULL OR p_limit < 1 OR coalesce(cardinality(p_words), 0) = 0 THEN
        RETURN;
    END IF;
    -- Visibility as in selectors.visible_replies: the tenant's replies, the operator's departments',
    -- the operator's own. The operator must be a member of the tenant in the setting.
    IF NOT EXISTS (SELECT 1 FROM accounts_membership m WHERE m.id = p_membership AND m.tenant_id = t) THEN
        RETURN;
    END IF;
    departments := ARRAY(
        SELECT dm.department_id FROM accounts_department_members dm
        JOIN accounts_department d ON d.id = dm.department_id AND d.tenant_id = t
        WHERE dm.membership_id = p_membership
    );
    -- A pattern shorter than three characters has no trigram: the index cannot help, so those
    -- queries use strpos() and walk the tenant in usage order until the list is full. Three or more:
    -- LIKE on the trigram index, every match collected (MATERIALIZED, so the planner does not walk
    -- the usage order instead, hoping to stop early: it read all 5,000 rows when matches were few),
    -- then sorted. The two longest words go to the index (one word is its own second), any others
    -- are checked on the rows it finds.
    IF p_shortcut IS NOT NULL THEN
        shortcut_like := '%' || replace(replace(replace(p_shortcut, '\', '\\'), '%', '\%'), '_', '\_') || '%';
        IF length(p_shortcut) >= 3 THEN
            RETURN QUERY
                WITH matches AS MATERIALIZED (
                    SELECT r.id, r.usage_count, r.sort_key FROM canned_cannedreply r
                    WHERE r.tenant_id = t AND r.shortcut_folded LIKE shortcut_like
                      AND NOT starts_with(r.shortcut_folded, p_shortcut)
                      AND (p_language IS NULL OR r.language = p_language)
                      AND (r.scope = 'tenant' OR (r.scope = 'department' AND r.department_id = ANY(departments))
                           OR (r.scope = 'personal' AND r.owner_id = p_membership))
                )
                SELECT m.id, 1 FROM matches m ORDER BY m.usage_count DESC, m.sort_key, m.id LIMIT p_limit;
        ELSE
            RETURN QUERY
                SELECT r.id, 1 FROM canned_cannedreply r
                WHERE r.tenant_id = t AND strpos(r.shortcut_folded, p_shortcut) > 1
                  AND (p_language IS NULL OR r.language = p_language)
                  AND (r.scope = 'tenant' OR (r.scope = 'department' AND r.department_id = ANY(departments))
                       OR (r.scope = 'personal' AND r.owner_id = p_membership))
                ORDER BY r.usage_count DESC, r.sort_key, r.id LIMIT p_limit;
        END IF;
        GET DIAGNOSTICS found = ROW_COUNT;
        IF found >= p_limit THEN
            RETURN;
        END IF;
    END IF;
    SELECT w INTO longest FROM unnest(p_words) w ORDER BY length(w) DESC, w LIMIT 1;
    IF length(longest) >= 3 THEN
        SELECT array_agg('%' || replace(replace(replace(w, '\', '\\'), '%', '\%'), '_', '\_') || '%'
                         ORDER BY length(w) DESC, w)
            INTO p_words FROM unnest(p_words) w;
        word_like := p_words[1];
        second_like := coalesce(p_words[2], p_words[1]);
        RETURN QUERY
            WITH matches AS MATERIALIZED (
                SELECT r.id, r.usage_count, r.sort_key FROM canned_cannedreply r
                WHERE r.tenant_id = t AND r.search_text LIKE word_like AND r.search_text LIKE second_like
                  AND r.search_text LIKE ALL (p_words[3:])
                  AND (shortcut_like IS NULL OR r.shortcut_folded NOT LIKE shortcut_like)
                  AND (p_language IS NULL OR r.language = p_language)
                  AND (r.scope = 'tenant' OR (r.scope = 'department' AND r.department_id = ANY(departments))
                       OR (r.scope = 'personal' AND r.owner_id = p_membership))
            )
            SELECT m.id, 2 FROM matches m ORDER BY m.usage_count DESC, m.sort_key, m.id LIMIT p_limit - found;
    ELSE
        RETURN QUERY
            SELECT r.id, 2 FROM canned_cannedreply r
            WHERE r.tenant_id = t
              AND NOT EXISTS (SELECT 1 FROM unnest(p_words) w WHERE strpos(r.search_text, w) = 0)
              AND (p_shortcut IS NULL OR strpos(r.shortcut_folded, p_shortcut) = 0)
              AND (p_language IS NULL OR r.language = p_language)
              AND (r.scope = 'tenant' OR (r.scope = 'department' AND r.department_id = ANY(departments))
                   OR (r.scope = 'personal' AND r.owner_id = p_membership))
            ORDER BY r.usage_count DESC, r.sort_key, r.id LIMIT p_limit - found;
    END IF;
END
$fn$
"""
SIGNATURE = "canned_reply_search(bigint, text, text[], text, integer)"


def create(apps, schema_editor):
    connection = schema_editor.connection
    if connection.vendor != "postgresql":
        return
    with connection.cursor() as cursor:
        cursor.execute(FUNCTION)  # no parameters: its `%` are LIKE's, not placeholders
    schema_editor.execute(f"REVOKE ALL ON FUNCTION {SIGNATURE} FROM PUBLIC")
    if not settings.PARLEY_DB_RLS:
        # No policies: the application runs as the connecting user, who owns the function.
        return
    from apps.core import rls

    app, bypass = rls._check_role_name(rls.app_role()), rls._check_role_name(rls.bypass_role())
    with connection.cursor() as cursor:
        # The roles are normally created after the last migration (rls.on_post_migrate); the
        # function's owner must exist now. Same attributes, so that step finds it as it wants it.
        rls._ensure_role(cursor, app, "NOLOGIN NOSUPERUSER NOBYPASSRLS NOINHERIT")
        rls._ensure_role(cursor, bypass, "NOLOGIN NOSUPERUSER BYPASSRLS NOINHERIT")
    schema_editor.execute(f'GRANT EXECUTE ON FUNCTION {SIGNATURE} TO "{app}", "{bypass}"')
    try:
        with transaction.atomic(using=connection.alias), connection.cursor() as cursor:
            cursor.execute("SELECT rolsuper FROM pg_roles WHERE rolname = current_user")
            superuser = cursor.fetchone()[0]
            if not superuser:
                # A non-superuser may give the function only to a role it is a member of (as rls grants
                # for SET ROLE) that may create in the schema: granted for the moment of the change.
                cursor.execute(f'GRANT "{bypass}" TO current_user')
                cursor.execute(f'GRANT CREATE ON SCHEMA public TO "{bypass}"')
            cursor.execute(f'ALTER FUNCTION {SIGNATURE} OWNER TO "{bypass}"')
            if not superuser:
                cursor.execute(f'REVOKE CREATE ON SCHEMA public FROM "{bypass}"')
    except DatabaseError:
        # Still correct: owned by the migrating user, the policies apply inside and the search reads
        # the tenant's rows unindexed, as before. docs/canned.md says how to give it to the bypass role.
        logger.warning("canned_reply_search() stays owned by the migrating user: %s", SIGNATURE)


def drop(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(f"DROP FUNCTION IF EXISTS {SIGNATURE}")


class Migration(migrations.Migration):
    dependencies = [("canned", "0004_shortcut_trigram"), ("accounts", "0001_initial")]

    operations = [migrations.RunPython(create, drop)]
