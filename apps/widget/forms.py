from django import forms
from django.utils.translation import gettext_lazy as _

EMAIL_ERRORS = {
    "required": _("Please enter your email address."),
    "invalid": _("Please enter a valid email address."),
}


class ContactForm(forms.Form):
    name = forms.CharField(
        label=_("Your name"), max_length=120, error_messages={"required": _("Please enter your name.")}
    )
    email = forms.EmailField(label=_("Email"), max_length=254, error_messages=EMAIL_ERRORS)
    message = forms.CharField(
        label=_("Message"), max_length=5000, strip=True, error_messages={"required": _("Please write a message.")}
    )


class TranscriptForm(forms.Form):
    email = forms.EmailField(max_length=254, error_messages=EMAIL_ERRORS)
