from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class VisitorLoginConfig(AppConfig):
    name = "apps.visitorlogin"
    label = "visitorlogin"
    verbose_name = _("Visitor login")

    def ready(self) -> None:
        from apps.visitorlogin.providers import apply_endpoint_settings

        apply_endpoint_settings()
