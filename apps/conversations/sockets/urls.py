"""Websocket URLs. Each endpoint brings its own authentication stack (see sockets/auth.py)."""

from channels.generic.websocket import AsyncWebsocketConsumer
from django.urls import path, re_path

from apps.conversations.sockets.auth import OperatorSocketStack, VisitorSocketStack
from apps.conversations.sockets.operator import OperatorConsumer
from apps.conversations.sockets.visitor import VisitorConsumer


class UnknownSocket(AsyncWebsocketConsumer):
    """Any other websocket path: refused at the handshake (HTTP 403), without a traceback in the log."""

    async def connect(self) -> None:
        await self.close()


websocket_urlpatterns = [
    path("ws/widget/", VisitorSocketStack(VisitorConsumer.as_asgi())),
    path("ws/app/", OperatorSocketStack(OperatorConsumer.as_asgi())),
    re_path(r"", UnknownSocket.as_asgi()),
]
