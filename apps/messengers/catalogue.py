"""The strings the messengers' scripts show: the widget's "Continue in Telegram", the dashboard's
channel badge and card section. Merged into the widget's and the dashboard's catalogues."""

from __future__ import annotations

from django.utils.translation import gettext as _
from django.utils.translation import pgettext


def widget_strings() -> dict[str, str]:
    return {
        "telegram_continue": _("Continue in Telegram"),
        "telegram_opened": _("Telegram opened in a new tab. Press Start there to continue."),
        "telegram_open_link": _("Open Telegram"),
    }


def dashboard_strings() -> dict[str, str]:
    return {
        "telegram.badge": pgettext("channel", "Telegram"),
        "telegram.header": _("Continued in Telegram"),
        "telegram.card": _("Telegram"),
        "telegram.blocked": _("blocked the bot"),
        "telegram.since": _("since %(date)s"),
    }
