"""`/widget/api/`: every HTTP endpoint the visitor's browser calls (apps/widget/api.py)."""

from django.urls import path

from apps.widget import api

app_name = "widget_api"

urlpatterns = [
    path("session", api.session, name="session"),
    path("pageview", api.pageview, name="pageview"),
    path("messages", api.messages, name="messages"),
    path("upload", api.upload, name="upload"),
    path("attachments/<str:token>", api.attachment_download, name="attachment"),
    path("visitor", api.visitor_profile, name="visitor"),
    path("contact", api.contact, name="contact"),
    path("rating", api.rating, name="rating"),
    path("end", api.end_chat, name="end"),
    path("transcript", api.transcript, name="transcript"),
]
