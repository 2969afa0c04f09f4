"""Strings of routing's dashboard and widget features, for their JavaScript catalogues."""

from __future__ import annotations

from django.utils.translation import gettext as _


def dashboard_strings() -> dict[str, str]:
    return {
        "routing.offer": _("New chat for you: %(name)s"),
        "routing.offer_title": _("A chat is offered to you"),
        "routing.offer_left": _("%(time)s left"),
        "routing.accept": _("Accept"),
        "routing.offered_badge": _("offered to you"),
        "routing.reason.missed": _("Paused: %(n)s missed offers in a row"),
        "routing.reason.disconnected": _("Offline: the dashboard was closed"),
        "routing.sla_left": _("reply within %(time)s"),
        "routing.sla_breached": _("first reply overdue"),
        "routing.sla_next_breached": _("reply overdue"),
    }


def widget_strings() -> dict[str, str]:
    return {
        "queue_position": _("You are number %(position)s in the queue."),
        "queue_eta": _("Estimated wait: about %(minutes)s min."),
        "queue_eta_soon": _("Estimated wait: under a minute."),
        "queue_message": _("All our operators are busy. Please stay with us: we will answer as soon as we can."),
        "queue_email_prompt": _("Your email, to continue by email"),
        "queue_email_submit": _("Send"),
        "queue_email_thanks": _("Thank you! If we cannot answer here, we will write to %(email)s."),
    }
