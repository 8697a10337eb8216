"""The recent turns of each session, in Redis: the one place that reads and writes them.

A turn is one question and its answer. The list keeps the last CHAT_HISTORY_TURNS turns
and expires CHAT_HISTORY_TTL seconds after the last one, so an idle session forgets.
While Redis is down the same turns are read from the conversation's transcript in Postgres
(`history_from_transcript`), which keeps every message anyway.
"""

import json
from collections.abc import Iterable
from datetime import timedelta

from channels.db import database_sync_to_async
from django.conf import settings
from django.utils import timezone

from chat import streams
from chat.models import Message
from core.redisio import client, sync_client

# By the conversation's token hash (chat/models.py), never by the session key.
KEY = "chat:history:{key}"


def history_key(key: str) -> str:
    return KEY.format(key=key)


async def history_load(*, key: str) -> list[dict[str, str]]:
    """The recent turns, oldest first, as [{"user": ..., "assistant": ...}]."""
    raw = await client().lrange(history_key(key), 0, -1)
    return [json.loads(item) for item in raw]


async def history_append(*, key: str, user: str, assistant: str) -> None:
    key = history_key(key)
    turn = json.dumps({"user": user, "assistant": assistant})
    async with client().pipeline(transaction=True) as pipe:
        pipe.rpush(key, turn)
        pipe.ltrim(key, -settings.CHAT_HISTORY_TURNS, -1)
        pipe.expire(key, settings.CHAT_HISTORY_TTL)
        await pipe.execute()


def history_forget(*, keys: Iterable[str]) -> int:
    """Delete the recent turns of these conversations, and their answer streams (erasure,
    retention). Synchronous: its callers are a management command, the admin and a Celery
    task. Returns the number of history keys deleted."""
    keys = list(keys)
    if not keys:
        return 0
    streams.forget(token_hashes=keys)
    with sync_client() as redis:
        return redis.delete(*[history_key(key) for key in keys])


async def history_from_transcript(*, conversation_id: int, before_id: int) -> list[dict[str, str]]:
    """The turns Redis would hold, rebuilt from the stored messages before `before_id`.

    Only answered questions count, as in Redis: a refusal, a fallback or an interrupted
    answer was never remembered there.
    """
    recent = Message.objects.filter(
        conversation_id=conversation_id,
        pk__lt=before_id,
        role__in=[Message.Role.USER, Message.Role.ASSISTANT],
    ).order_by("-created_at", "-id")[: settings.CHAT_HISTORY_TURNS * 4]
    turns, question, last_at = [], None, None
    # database_sync_to_async, not the bare async ORM: see ChatConsumer.dispatch.
    for message in reversed(await database_sync_to_async(list)(recent)):
        if message.role == Message.Role.USER:
            question = message.text
            continue
        if question is not None and not (
            message.refused or message.fallback or message.interrupted
        ):
            turns.append({"user": question, "assistant": message.text})
            last_at = message.created_at
        question = None
    # Redis forgets a session CHAT_HISTORY_TTL seconds after its last turn; so does this.
    if last_at is None or last_at < timezone.now() - timedelta(seconds=settings.CHAT_HISTORY_TTL):
        return []
    return turns[-settings.CHAT_HISTORY_TURNS :]
