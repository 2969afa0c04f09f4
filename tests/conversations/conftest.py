import json

import pytest

from apps.conversations import events


class RecordingLayer:
    """Stands in for the channel layer: records every group_send."""

    def __init__(self):
        self.sent: list[tuple[str, dict]] = []

    async def group_send(self, group, message):
        self.sent.append((group, message))

    def frames(self, group=None):
        return [json.loads(m["text"]) for g, m in self.sent if group is None or g == group]

    def groups(self):
        return [g for g, _ in self.sent]

    def clear(self):
        self.sent.clear()


@pytest.fixture(autouse=True)
def _fast_password_hashing(settings):
    # Operators are built with a password; the real hasher costs seconds per test here.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def layer(monkeypatch):
    recording = RecordingLayer()
    monkeypatch.setattr(events, "get_channel_layer", lambda: recording)
    return recording


@pytest.fixture
def publish(django_capture_on_commit_callbacks, layer):
    """`with publish():` runs the on-commit callbacks of the block (events are sent on commit)."""

    def _capture():
        return django_capture_on_commit_callbacks(execute=True)

    return _capture


