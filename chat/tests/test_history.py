import pytest
import redis
from django.conf import settings

from chat.history import history_append, history_key, history_load
from chat.tests.helpers import ask, chat_socket, key_of


def _redis():
    return redis.from_url(settings.REDIS_URL, decode_responses=True)


async def test_history_keeps_only_the_last_ten_turns():
    for n in range(12):
        await history_append(key="s1", user=f"question {n}", assistant=f"answer {n}")

    turns = await history_load(key="s1")
    assert len(turns) == 10
    assert turns[0] == {"user": "question 2", "assistant": "answer 2"}
    assert turns[-1] == {"user": "question 11", "assistant": "answer 11"}


async def test_history_expires_an_hour_after_the_last_turn():
    await history_append(key="s2", user="q", assistant="a")
    assert 3590 <= _redis().ttl(history_key("s2")) <= 3600


async def test_history_is_kept_per_session():
    await history_append(key="a", user="mine", assistant="ok")
    assert await history_load(key="b") == []


@pytest.mark.django_db(transaction=True)
async def test_an_answered_question_lands_in_the_sessions_history(demo_kb, session_key):
    socket = chat_socket(session_key)
    await socket.connect()
    received = await ask(socket, "How do I change my email address?")
    await socket.disconnect()

    turns = await history_load(key=key_of(session_key))
    assert len(turns) == 1
    assert turns[0]["user"] == "How do I change my email address?"
    assert (
        turns[0]["assistant"]
        == "".join(m["text"] for m in received if m["type"] == "token").strip()
    )
    assert 0 < _redis().ttl(history_key(key_of(session_key))) <= settings.CHAT_HISTORY_TTL
