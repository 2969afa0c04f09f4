"""`migrate` as the connecting user (the tables' owner), then row-level security on every tenant table."""

from django.core.management.commands import migrate

from apps.core.rls import privileged


class Command(migrate.Command):
    def handle(self, *args, **options):
        with privileged():
            return super().handle(*args, **options)
