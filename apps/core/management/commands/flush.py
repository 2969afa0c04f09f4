"""`flush` (tests reset their database with it) as the tables' owner: TRUNCATE is not the app role's."""

from django.core.management.commands import flush

from apps.core.rls import privileged


class Command(flush.Command):
    def handle(self, *args, **options):
        with privileged():
            return super().handle(*args, **options)
