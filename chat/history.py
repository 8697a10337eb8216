"""The recent turns of each session, in Redis: the one place that reads and writes them.

A turn is one question and its answer. The list keeps the last CHAT_HISTORY_TURNS turns
and expires CHAT_HISTORY_TTL seconds after the last one, so an idle session forgets.
"""

import asyncio
import json
import weakref
from collections.abc import Iterable

import redis
import redis.asyncio as aioredis
from django.conf import settings

KEY = "chat:history:{session_key}"

# redis.asyncio clients belong to the event loop that made them; keep one per loop.
_clients: "weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, aioredis.Redis]" = (
    weakref.WeakKeyDictionary()
)


def _client() -> aioredis.Redis:
    loop = asyncio.get_running_loop()
    client = _clients.get(loop)
    if client is None:
        client = aioredis.from_url(settings.REDIS_URL, decode_responses=True)
        _clients[loop] = client
    return client


def history_key(session_key: str) -> str:
    return KEY.format(session_key=session_key)


async def history_load(*, session_key: str) -> list[dict[str, str]]:
    """The recent turns, oldest first, as [{"user": ..., "assistant": ...}]."""
    raw = await _client().lrange(history_key(session_key), 0, -1)
    return [json.loads(item) for item in raw]


async def history_append(*, session_key: str, user: str, assistant: str) -> None:
    key = history_key(session_key)
    turn = json.dumps({"user": user, "assistant": assistant})
    async with _client().pipeline(transaction=True) as pipe:
        pipe.rpush(key, turn)
        pipe.ltrim(key, -settings.CHAT_HISTORY_TURNS, -1)
        pipe.expire(key, settings.CHAT_HISTORY_TTL)
        await pipe.execute()


def history_forget(*, session_keys: Iterable[str]) -> int:
    """Delete the recent turns of these sessions (erasure, retention). Synchronous: its
    callers are a management command, the admin and a Celery task. Returns keys deleted."""
    keys = [history_key(key) for key in session_keys]
    if not keys:
        return 0
    with redis.from_url(settings.REDIS_URL) as client:
        return client.delete(*keys)
