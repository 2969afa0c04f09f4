"""Websocket URLs. Each endpoint brings its own authentication stack (see socket_auth)."""

from django.urls import path

from apps.conversations.consumers import OperatorConsumer, VisitorConsumer
from apps.conversations.socket_auth import OperatorSocketStack, VisitorSocketStack

websocket_urlpatterns = [
    path("ws/widget/", VisitorSocketStack(VisitorConsumer.as_asgi())),
    path("ws/app/", OperatorSocketStack(OperatorConsumer.as_asgi())),
]
