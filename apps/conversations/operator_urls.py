"""The operators' conversation endpoints over HTTP, mounted under /app/api/."""

from django.urls import path

from apps.conversations import views

app_name = "conversations_app"

urlpatterns = [
    path("upload", views.operator_upload, name="operator_upload"),
]
