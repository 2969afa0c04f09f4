"""Websocket URLs. Each endpoint brings its own authentication stack (see socket_auth)."""

from channels.generic.websocket import AsyncWebsocketConsumer
from django.urls import path, re_path

from apps.conversations.consumers import OperatorConsumer, VisitorConsumer
from apps.conversations.socket_auth import OperatorSocketStack, VisitorSocketStack


class UnknownSocket(AsyncWebsocketConsumer):
    """Any other websocket path: refused at the handshake (HTTP 403), without a traceback in the log."""

    async def connect(self) -> None:
        await self.close()


websocket_urlpatterns = [
    path("ws/widget/", VisitorSocketStack(VisitorConsumer.as_asgi())),
    path("ws/app/", OperatorSocketStack(OperatorConsumer.as_asgi())),
    re_path(r"", UnknownSocket.as_asgi()),
]
