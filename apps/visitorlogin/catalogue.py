"""The strings of the widget's social login (js/features/sociallogin.js), merged into the widget catalogue."""

from __future__ import annotations

from django.utils.translation import gettext as _


def widget_strings() -> dict[str, str]:
    return {
        "login_prompt": _("Log in so we remember you"),
        "login_waiting": _("Finish logging in in the window that opened."),
        "login_done": _("You are logged in as %(name)s."),
    }
