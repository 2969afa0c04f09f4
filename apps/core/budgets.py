"""Budgets shared by every socket of one person, across processes, in Redis.

A per-socket budget lets a visitor with 60 sockets send 60 times as much. These count per
visitor and per operator instead, whatever process or socket the frame arrives on:

- `frame_budget_take(key)`: a token bucket (`PARLEY_PERSON_FRAME_BURST` at once, refilled
  at `PARLEY_PERSON_FRAMES_PER_SECOND`), one Redis round trip per frame (a Lua script);
- `socket_slot_claim(key, socket_id)`: at most `PARLEY_SOCKETS_PER_VISITOR` open sockets;
  each claim expires unless renewed (sockets renew it with their periodic group re-join), so
  a process that dies frees its slots by itself; `socket_slot_release` frees one at once.

Redis being down must not take chat down with it: both fail open, with a warning.

Every frame of every socket asks Redis, so the pool is bounded
(`PARLEY_BUDGET_REDIS_CONNECTIONS` per process, a caller waits for a free connection): an
unbounded pool grows to the highest number of frames ever in flight at once (2,000 sockets
opening) and keeps those connections open for the life of the process.
"""

from __future__ import annotations

import asyncio
import logging
import os
import time
import weakref

from django.conf import settings

logger = logging.getLogger(__name__)

# KEYS[1] bucket; ARGV: capacity, refill per second, now (s), ttl (s). Returns 1 if a token was taken.
_TAKE = """
local bucket = redis.call('HMGET', KEYS[1], 'tokens', 'at')
local capacity, rate, now = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
local tokens, at = tonumber(bucket[1]), tonumber(bucket[2])
if tokens == nil then tokens, at = capacity, now end
tokens = math.min(capacity, tokens + math.max(0, now - at) * rate)
local taken = 0
if tokens >= 1 then tokens = tokens - 1; taken = 1 end
redis.call('HSET', KEYS[1], 'tokens', tokens, 'at', now)
redis.call('EXPIRE', KEYS[1], ARGV[4])
return taken
"""

# KEYS[1] zset of socket ids scored by expiry; ARGV: socket id, now, expiry, cap. Returns 1 if admitted.
_CLAIM = """
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', ARGV[2])
if redis.call('ZSCORE', KEYS[1], ARGV[1]) == false and redis.call('ZCARD', KEYS[1]) >= tonumber(ARGV[4]) then
  return 0
end
redis.call('ZADD', KEYS[1], ARGV[3], ARGV[1])
redis.call('EXPIRE', KEYS[1], math.ceil(tonumber(ARGV[3]) - tonumber(ARGV[2])) + 1)
return 1
"""

_clients: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def client_name() -> str:
    """How this process's budget connections are named in Redis's CLIENT LIST."""
    return f"parley-budgets-{os.getpid()}"


def _client():
    """One redis.asyncio client per event loop (a connection belongs to the loop that opened it)."""
    import redis.asyncio

    loop = asyncio.get_running_loop()
    client = _clients.get(loop)
    if client is None:
        pool = redis.asyncio.BlockingConnectionPool.from_url(
            settings.REDIS_URL,
            max_connections=settings.PARLEY_BUDGET_REDIS_CONNECTIONS,
            timeout=2,  # waiting for a free connection; then the budget fails open like any Redis error
            socket_timeout=2,
            socket_connect_timeout=2,
            client_name=client_name(),
        )
        client = redis.asyncio.Redis(connection_pool=pool)
        client.parley_scripts = (client.register_script(_TAKE), client.register_script(_CLAIM))
        _clients[loop] = client
    return client


def _key(kind: str, person: str) -> str:
    return f"parley:{kind}:{person}"  # keys live in REDIS_URL's database: no prefix needed


async def frame_budget_take(person: str) -> bool:
    """Count one frame of `person` (e.g. "v12", "m3"); False when their shared budget is spent."""
    capacity = settings.PARLEY_PERSON_FRAME_BURST
    rate = settings.PARLEY_PERSON_FRAMES_PER_SECOND
    try:
        take, _claim = _client().parley_scripts
        ttl = int(capacity / rate) + 2
        return bool(await take(keys=[_key("budget", person)], args=[capacity, rate, time.time(), ttl]))
    except Exception as exc:  # noqa: BLE001 - fail open, loudly but without a traceback per frame
        logger.warning("shared frame budget unavailable: %s", exc)
        return True


async def socket_slot_claim(person: str, socket_id: str, *, lifetime: float) -> bool:
    """Claim (or renew for `lifetime` seconds) one of `person`'s socket slots; False when all are taken."""
    now = time.time()
    try:
        _take, claim = _client().parley_scripts
        cap = settings.PARLEY_SOCKETS_PER_VISITOR
        return bool(await claim(keys=[_key("sockets", person)], args=[socket_id, now, now + lifetime, cap]))
    except Exception as exc:  # noqa: BLE001
        logger.warning("socket slots unavailable: %s", exc)
        return True


async def socket_slot_release(person: str, socket_id: str) -> None:
    try:
        await _client().zrem(_key("sockets", person), socket_id)
    except Exception as exc:  # noqa: BLE001
        logger.warning("socket slots unavailable: %s", exc)
