from django.urls import path

from . import views

app_name = "dashboard"

urlpatterns = [
    path("", views.app, name="app"),
    path("api/conversations", views.conversations, name="conversations"),
    path("api/conversations/<int:conversation_id>", views.conversation, name="conversation"),
    path("api/conversations/<int:conversation_id>/messages", views.conversation_messages, name="messages"),
    path("api/conversations/<int:conversation_id>/invite", views.conversation_invite, name="conversation_invite"),
    path("api/visitors/online", views.visitors_online, name="visitors_online"),
    path("api/visitors/<int:visitor_id>", views.visitor, name="visitor"),
    path("api/visitors/<int:visitor_id>/notes", views.visitor_notes, name="visitor_notes"),
    path("api/visitors/<int:visitor_id>/invite", views.visitor_invite, name="visitor_invite"),
    path("api/team", views.team, name="team"),
    path("api/status", views.status, name="status"),
]
