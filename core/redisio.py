"""The one place that makes Redis clients for the application's own keys (the chat's
history and answer streams). Django's cache, sessions and the channel layer make their own
from the same REDIS_URL, through their settings.

redis.asyncio clients belong to the event loop that made them: one per loop, and per URL, so
a test pointing REDIS_URL at a Redis of its own gets a client for it.
"""

import asyncio
import weakref
from collections.abc import Callable

import redis
import redis.asyncio as aioredis
from django.conf import settings
from redis.exceptions import RedisError

# What a call to Redis raises while Redis is down (or unreachable).
REDIS_DOWN = (RedisError, OSError)

# The longest a blocking read (XREAD BLOCK, BLPOP) waits; its socket waits this much longer.
BLOCK_SECONDS = 5.0

# Connections per pool. redis-py 8 caps a pool at 100 unless told, and raises past it rather
# than wait: every open socket (a customer's chat, an agent's ticket page) holds one for its
# blocking read, so the 101st socket of a process read nothing, silently, while Redis was
# fine (benchmarks/staff_sockets.py). The bounds are the process's open files and Redis's
# maxclients (10000 by default).
MAX_CONNECTIONS = 10_000

_clients: "weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, dict]" = weakref.WeakKeyDictionary()


def _make(blocking: bool) -> aioredis.Redis:
    timeout = settings.REDIS_TIMEOUT + (BLOCK_SECONDS if blocking else 0)
    return aioredis.from_url(
        settings.REDIS_URL,
        decode_responses=True,
        socket_connect_timeout=settings.REDIS_TIMEOUT,
        socket_timeout=timeout,
        max_connections=MAX_CONNECTIONS,
    )


def client(*, blocking: bool = False) -> aioredis.Redis:
    """This loop's client. `blocking`: for reads that wait up to BLOCK_SECONDS, whose
    socket must not time out first; each such read holds one connection of the pool."""
    loop = asyncio.get_running_loop()
    made = _clients.setdefault(loop, {})
    url, found = made.get(blocking, (None, None))
    if found is None or url != settings.REDIS_URL:
        found = _make(blocking)
        made[blocking] = (settings.REDIS_URL, found)
    return found


def sync_client() -> redis.Redis:
    """A client for synchronous callers (views, commands, Celery); close it after use."""
    return redis.from_url(
        settings.REDIS_URL,
        decode_responses=True,
        socket_connect_timeout=settings.REDIS_TIMEOUT,
        socket_timeout=settings.REDIS_TIMEOUT,
    )


async def cancel_until_done(
    task: asyncio.Task, *, caught: Callable[[], bool] = lambda: False, tries: int = 100
) -> bool:
    """Cancel a task that calls Redis, and wait until it has ended or `caught()` says the
    cancellation reached its handler; False if neither after `tries` cancels 50 ms apart.
    One cancel() may be lost: redis-py sends each command through asyncio.wait_for, which
    on Python 3.11 returns the send's result and drops a cancel that lands as the send
    completes (CPython gh-86296, fixed in 3.12). The next one lands while the task waits
    for Redis's reply. A task with clean-up of its own passes `caught`: a second cancel
    would cut its clean-up short."""
    for _ in range(tries):
        if task.done() or caught():
            return True
        task.cancel()
        await asyncio.wait({task}, timeout=0.05)
    return task.done() or caught()
