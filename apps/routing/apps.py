from django.apps import AppConfig
from django.db.models.signals import pre_save
from django.utils.translation import gettext_lazy as _


class RoutingConfig(AppConfig):
    name = "apps.routing"
    label = "routing"
    verbose_name = _("Routing")

    def ready(self) -> None:
        from apps.accounts.models import Membership

        pre_save.connect(_newcomer_limit, sender=Membership, dispatch_uid="routing_newcomer_limit")


def _newcomer_limit(sender, instance, **kwargs) -> None:
    """A new operator left at the model's default limit gets the tenant's newcomer limit instead."""
    if not instance._state.adding or instance.tenant_id is None:
        return
    field_default = sender._meta.get_field("max_concurrent_chats").default
    if instance.max_concurrent_chats != field_default:
        return
    from django_scopes import scopes_disabled

    from .models import RoutingSettings

    with scopes_disabled():
        limit = (
            RoutingSettings.objects.filter(tenant_id=instance.tenant_id)
            .values_list("default_chat_limit", flat=True)
            .first()
        )
    instance.max_concurrent_chats = limit or RoutingSettings._meta.get_field("default_chat_limit").default
