"""A trigram index for searching replies' shortcut, title and text (PostgreSQL only).

`LIKE '%word%'` cannot use a b-tree; pg_trgm's GIN index answers it without reading
every reply of the tenant. pg_trgm is a trusted extension (PostgreSQL 13+), so a database
owner may create it. Where it cannot be created, the search still works, unindexed.
SQLite has no such index and needs none at a tenant's size. `fastupdate = off`: replies
change rarely, and a GIN pending list (what fastupdate fills until the next vacuum) is
scanned in full by every search and misleads the planner into reading the whole tenant.
"""

from django.db import migrations, transaction

INDEX = "canned_search_text_trgm"


def create(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    try:
        with transaction.atomic(using=schema_editor.connection.alias):
            schema_editor.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
    except Exception:  # noqa: BLE001 - no permission: search stays correct, only unindexed
        return
    schema_editor.execute(
        f"CREATE INDEX IF NOT EXISTS {INDEX} ON canned_cannedreply USING gin (search_text gin_trgm_ops) WITH (fastupdate = off)"
    )


def drop(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(f"DROP INDEX IF EXISTS {INDEX}")


class Migration(migrations.Migration):
    dependencies = [("canned", "0001_initial")]

    operations = [migrations.RunPython(create, drop)]
