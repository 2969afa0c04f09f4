"""The widget's HTTP endpoints, mounted under /widget/api/ (operators: operator_urls.py)."""

from django.urls import path

from apps.conversations import views

app_name = "conversations"

urlpatterns = [
    path("session", views.widget_session, name="widget_session"),
    path("pageview", views.widget_pageview, name="widget_pageview"),
    path("messages", views.widget_messages, name="widget_messages"),
    path("upload", views.widget_upload, name="widget_upload"),
    path("attachments/<str:token>", views.attachment_download, name="attachment"),
]
