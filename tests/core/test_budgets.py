"""Budgets per person, shared through Redis by every socket and process."""

import asyncio
import uuid

import pytest

from apps.core import budgets


@pytest.fixture
def person():
    return f"v-test-{uuid.uuid4().hex[:8]}"


async def test_one_budget_for_all_of_a_persons_sockets(settings, person):
    settings.PARLEY_PERSON_FRAME_BURST = 5
    settings.PARLEY_PERSON_FRAMES_PER_SECOND = 0.01
    # 60 "sockets" at once, each sending one frame: the burst passes, the rest is refused.
    results = await asyncio.gather(*(budgets.frame_budget_take(person) for _ in range(60)))
    assert results.count(True) == 5
    # Someone else is not affected.
    assert await budgets.frame_budget_take(person + "-other")


async def test_the_budget_refills_over_time(settings, person):
    settings.PARLEY_PERSON_FRAME_BURST = 1
    settings.PARLEY_PERSON_FRAMES_PER_SECOND = 2
    assert await budgets.frame_budget_take(person)
    assert not await budgets.frame_budget_take(person)
    await asyncio.sleep(0.6)
    assert await budgets.frame_budget_take(person)


async def test_sockets_per_visitor_are_capped_and_released(settings, person):
    settings.PARLEY_SOCKETS_PER_VISITOR = 3
    claims = [await budgets.socket_slot_claim(person, f"s{n}", lifetime=30) for n in range(5)]
    assert claims == [True, True, True, False, False]
    assert await budgets.socket_slot_claim(person, "s1", lifetime=30)  # a renewal is not a new socket
    await budgets.socket_slot_release(person, "s0")
    assert await budgets.socket_slot_claim(person, "s9", lifetime=30)


async def test_a_slot_that_is_not_renewed_expires(settings, person):
    settings.PARLEY_SOCKETS_PER_VISITOR = 1
    assert await budgets.socket_slot_claim(person, "dead-process", lifetime=0.2)
    assert not await budgets.socket_slot_claim(person, "new", lifetime=30)
    await asyncio.sleep(0.3)
    assert await budgets.socket_slot_claim(person, "new", lifetime=30)


async def test_redis_down_fails_open(settings, person):
    settings.REDIS_URL = "redis://127.0.0.1:1/0"
    budgets._clients.clear()
    try:
        assert await budgets.frame_budget_take(person)
        assert await budgets.socket_slot_claim(person, "s", lifetime=1)
    finally:
        budgets._clients.clear()


async def test_a_burst_of_frames_does_not_grow_the_redis_connections(settings, person):
    """2,000 sockets opening at once must not leave hundreds of idle Redis connections behind."""
    import redis.asyncio

    settings.PARLEY_BUDGET_REDIS_CONNECTIONS = 4
    settings.PARLEY_PERSON_FRAME_BURST = 10_000
    budgets._clients.clear()
    admin = redis.asyncio.Redis.from_url(settings.REDIS_URL)

    async def ours() -> int:  # earlier tests' clients (other event loops) may still hold theirs
        return sum(1 for c in await admin.client_list() if c.get("name") == budgets.client_name())

    try:
        before = await ours()
        results = await asyncio.gather(*(budgets.frame_budget_take(f"{person}-{n % 50}") for n in range(400)))
        assert all(results)  # every frame was counted (none failed open for want of a connection)
        assert await ours() - before <= 4
    finally:
        budgets._clients.clear()
        await admin.aclose()
