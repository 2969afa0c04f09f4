from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class EmailBridgeConfig(AppConfig):
    name = "apps.emailbridge"
    label = "emailbridge"
    verbose_name = _("Email")

    def ready(self) -> None:
        from apps.emailbridge import signals, webhooks  # noqa: F401  (connect their receivers)
