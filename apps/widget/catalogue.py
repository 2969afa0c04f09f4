"""Every string the widget's JavaScript shows, translated on the server.

The iframe template renders this dictionary as JSON (`json_script`), so the chat app
needs no JavaScript catalogue endpoint and `makemessages` finds the strings here.
"""

from __future__ import annotations

from django.utils.translation import gettext as _

from apps.invoices.catalogue import widget_strings as invoice_strings
from apps.messengers.catalogue import widget_strings as messenger_strings
from apps.routing.catalogue import widget_strings as routing_strings
from apps.visitorlogin.catalogue import widget_strings as login_strings


def widget_strings() -> dict[str, str]:
    return {
        "close": _("Close chat"),
        "minimise": _("Minimise"),
        "greeting_new": _("Hi! How can we help you today?"),
        "greeting_returning": _("Welcome back! How can we help you today?"),
        "online": _("We typically reply in a few minutes"),
        "offline": _("We are away right now"),
        "prechat_intro": _("Please introduce yourself so we know how to address you."),
        "name": _("Your name"),
        "email": _("Email"),
        "email_optional": _("Email (optional)"),
        "phone_optional": _("Phone (optional)"),
        "start_chat": _("Start chat"),
        "name_required": _("Please enter your name."),
        "email_invalid": _("Please enter a valid email address."),
        "placeholder": _("Type a message…"),
        "send": _("Send"),
        "attach": _("Attach a file"),
        "uploading": _("Uploading…"),
        "upload_failed": _("The file could not be uploaded."),
        "sending": _("Sending"),
        "sent": _("Sent"),
        "read": _("Read"),
        "failed": _("Not sent yet, will retry"),
        "typing": _("%(name)s is typing…"),
        "operator": _("Operator"),
        "you": _("You"),
        "connecting": _("Connecting…"),
        "reconnecting": _("Connection lost. Reconnecting…"),
        "offline_intro": _("Leave us a message and we will reply by email."),
        "message": _("Message"),
        "send_message": _("Send message"),
        "contact_thanks": _("Thank you! We will get back to you by email."),
        "required": _("Please fill in this field."),
        "error": _("Something went wrong. Please try again."),
        "chat_closed": _("This chat has ended."),
        "end_chat": _("End chat"),
        "rate_prompt": _("How was this chat?"),
        "rate_good": _("Good"),
        "rate_bad": _("Bad"),
        "rate_comment": _("Comment (optional)"),
        "rate_submit": _("Send rating"),
        "rate_thanks": _("Thank you for your feedback!"),
        "transcript_prompt": _("Email me the transcript"),
        "transcript_submit": _("Send transcript"),
        "transcript_sent": _("The transcript is on its way to %(email)s."),
        "new_chat": _("Start a new chat"),
        "messages_label": _("Messages"),
        "chat_label": _("Chat"),
        "not_allowed": _("The chat is not available on this site."),
        "sys_accepted": _("%(name)s joined the chat."),
        "sys_assigned": _("%(name)s is now handling the chat."),
        "sys_transferred": _("The chat was transferred to %(name)s."),
        "sys_closed": _("This chat has ended."),
        "sys_reopened": _("The chat was reopened."),
        "sys_rated": _("Thank you for rating the chat."),
        **invoice_strings(),
        **messenger_strings(),
        **login_strings(),
        **routing_strings(),
    }


def loader_strings() -> dict[str, str]:
    """The launcher's few strings, sent with the config (the loader has no catalogue)."""
    return {
        "open": _("Open chat"),
        "close": _("Close chat"),
        "chat": _("Chat"),
    }
