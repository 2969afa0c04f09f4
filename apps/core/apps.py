from django.apps import AppConfig
from django.db.models.signals import post_migrate


class CoreConfig(AppConfig):
    name = "apps.core"
    label = "core"

    def ready(self):
        from apps.core.rls import on_post_migrate

        post_migrate.connect(on_post_migrate, dispatch_uid="parley_row_level_security")
