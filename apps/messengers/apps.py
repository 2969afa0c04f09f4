from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class MessengersConfig(AppConfig):
    name = "apps.messengers"
    label = "messengers"
    verbose_name = _("Messengers")

    def ready(self) -> None:
        from apps.messengers import signals  # noqa: F401  (connect the operator-reply receiver)
