import json

import pytest
from django.test import Client

from apps.conversations import events as conversation_events


class RecordingLayer:
    """Stands in for the channel layer: records every group_send."""

    def __init__(self):
        self.sent: list[tuple[str, dict]] = []

    async def group_send(self, group, message):
        self.sent.append((group, message))

    def frames(self, group=None):
        return [json.loads(m["text"]) for g, m in self.sent if group is None or g == group]


@pytest.fixture(autouse=True)
def layer(monkeypatch, settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    recording = RecordingLayer()
    monkeypatch.setattr(conversation_events, "get_channel_layer", lambda: recording)
    return recording


@pytest.fixture
def publish(django_capture_on_commit_callbacks):
    def _capture():
        return django_capture_on_commit_callbacks(execute=True)

    return _capture


@pytest.fixture
def op_client(operator):
    client = Client()
    client.force_login(operator.user)
    return client


