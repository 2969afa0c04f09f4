"""The trigram indexes with the tenant in front (PostgreSQL, btree_gin), for `canned_reply_search()`.

Every search is for one tenant. With `(tenant_id, text gin_trgm_ops)` the index itself keeps to the
tenant's replies: with the trigram-only indexes of 0002 and 0004 the planner had to AND the trigram
matches of every tenant with a bitmap of the tenant's 5,000 rows. Measured (bench/README.md,
"Canned replies"): 4.7-5.6 ms against 7.3-9.6 ms for six searches. btree_gin, like pg_trgm, is a
trusted extension (PostgreSQL 13+); where it cannot be created the trigram-only indexes stay.
"""

from django.db import migrations, transaction

INDEXES = {
    # name: (column, the trigram-only index it replaces)
    "canned_tenant_search_text_trgm": ("search_text", "canned_search_text_trgm"),
    "canned_tenant_shortcut_trgm": ("shortcut_folded", "canned_shortcut_trgm"),
}


def create(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    try:
        with transaction.atomic(using=schema_editor.connection.alias):
            schema_editor.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
            schema_editor.execute("CREATE EXTENSION IF NOT EXISTS btree_gin")
    except Exception:  # noqa: BLE001 - no permission: the trigram-only indexes (if any) stay
        return
    for name, (column, replaced) in INDEXES.items():
        schema_editor.execute(
            f"CREATE INDEX IF NOT EXISTS {name} ON canned_cannedreply "
            f"USING gin (tenant_id, {column} gin_trgm_ops) WITH (fastupdate = off)"
        )
        schema_editor.execute(f"DROP INDEX IF EXISTS {replaced}")


def drop(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    for name, (column, replaced) in INDEXES.items():
        schema_editor.execute(
            f"CREATE INDEX IF NOT EXISTS {replaced} ON canned_cannedreply "
            f"USING gin ({column} gin_trgm_ops) WITH (fastupdate = off)"
        )
        schema_editor.execute(f"DROP INDEX IF EXISTS {name}")


class Migration(migrations.Migration):
    dependencies = [("canned", "0005_search_function")]

    operations = [migrations.RunPython(create, drop)]
