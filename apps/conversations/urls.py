"""The widget's HTTP endpoints (mounted under /widget/api/) and the operators' upload (under /app/api/)."""

from django.urls import path

from apps.conversations import views

app_name = "conversations"

urlpatterns = [
    path("attachments/<str:token>", views.attachment_download, name="attachment"),
]
