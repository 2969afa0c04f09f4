from django import template

from apps.core.tenancy import memberships_for

register = template.Library()


@register.simple_tag(takes_context=True)
def user_memberships(context) -> list:
    """The companies the logged-in person works in, for the header's company switcher."""
    request = context.get("request")
    return memberships_for(request.user) if request is not None else []
