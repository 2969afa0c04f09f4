"""A Celery worker's publishes (apps/conversations/events.py `PublisherLoop`), on the real Redis channel layer."""

from __future__ import annotations

import pytest
from asgiref.sync import async_to_sync

from apps.conversations import events


def test_a_workers_publishes_share_one_event_loop_and_its_redis_connections(settings):
    """A Celery worker publishes through one loop: the channel layer connects to Redis once, not per publish."""
    import redis

    if "Redis" not in settings.CHANNEL_LAYERS["default"]["BACKEND"]:
        pytest.skip("needs the Redis channel layer")
    admin = redis.Redis.from_url(settings.REDIS_URL)

    def connections() -> int:
        return int(admin.info("stats")["total_connections_received"])

    publisher = events.PublisherLoop()
    sends = [("parley-test-nobody", {"type": "deliver", "text": "{}"})]
    publisher.send(sends)  # the layer connects here
    before = connections()
    for _ in range(10):
        publisher.send(sends)
    assert connections() - before <= 1
    # What it replaces: each publish in a new loop connects again.
    before = connections()
    for _ in range(3):
        async_to_sync(events._asend)(sends)
    assert connections() - before >= 3
