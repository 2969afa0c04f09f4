"""A trigram index on the folded shortcut too (PostgreSQL only), for "shortcut contains".

Without it the second tier of a search (`LIKE '%del%'` on the shortcut) reads every reply of
the tenant. Same conditions as 0002: skipped where pg_trgm cannot be created.
"""

from django.db import migrations, transaction

INDEX = "canned_shortcut_trgm"


def create(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    try:
        with transaction.atomic(using=schema_editor.connection.alias):
            schema_editor.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
    except Exception:  # noqa: BLE001 - no permission: search stays correct, only unindexed
        return
    schema_editor.execute(
        f"CREATE INDEX IF NOT EXISTS {INDEX} ON canned_cannedreply "
        "USING gin (shortcut_folded gin_trgm_ops) WITH (fastupdate = off)"
    )


def drop(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(f"DROP INDEX IF EXISTS {INDEX}")


class Migration(migrations.Migration):
    dependencies = [("canned", "0003_usage_index")]

    operations = [migrations.RunPython(create, drop)]
