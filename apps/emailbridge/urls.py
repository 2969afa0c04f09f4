from django.urls import path

from apps.emailbridge.views import email_full_text, email_start
from apps.emailbridge.webhooks import provider_view

app_name = "emailbridge"

urlpatterns = [
    path("start/", email_start, name="start"),
    path("messages/<int:message_id>/full", email_full_text, name="full_text"),
    path("inbound/mailgun/", provider_view("mailgun"), name="mailgun_inbound"),
    path("inbound/postmark/", provider_view("postmark"), name="postmark_inbound"),
    path("inbound/amazon-ses/", provider_view("amazon_ses"), name="amazon_ses_inbound"),
]
