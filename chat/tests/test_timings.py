"""Every answer records where its time went, per stage, on the stored reply."""

import time

import pytest

from chat.models import Message
from chat.tests.helpers import ask, chat_socket

pytestmark = pytest.mark.django_db(transaction=True)

STREAMED_STAGES = {
    "receive",
    "conversation",
    "history",
    "embedding",
    "question_write",
    "retrieval",
    "prompt",
    "llm_ttft",
    "first_token_out",
    "total",
    "tokens",
    "tokens_per_second",
}


async def test_an_answer_stores_the_time_of_every_stage(demo_kb, session_key):
    socket = chat_socket(session_key)
    await socket.connect()
    received = await ask(socket, "I forgot my password, how do I get back in?")
    await socket.disconnect()

    reply = await Message.objects.aget(pk=received[-1]["message_id"])
    timings = reply.timings
    assert set(timings) == STREAMED_STAGES
    assert all(value >= 0 for value in timings.values())
    # The first token leaves after the LLM produced it, and the answer ends after both.
    assert timings["first_token_out"] >= timings["llm_ttft"]
    assert timings["total"] >= timings["first_token_out"]
    assert timings["tokens"] >= 2
    assert timings["tokens_per_second"] > 0


async def test_a_refusal_stores_the_stages_it_went_through(demo_kb, session_key):
    socket = chat_socket(session_key)
    await socket.connect()
    received = await ask(socket, "What's a good recipe for banana bread?")
    await socket.disconnect()

    assert received[0]["type"] == "refusal"
    reply = await Message.objects.aget(pk=received[-1]["message_id"])
    assert {"receive", "embedding", "retrieval", "total"} <= set(reply.timings)
    assert "llm_ttft" not in reply.timings


async def test_a_fallback_stores_its_timings_too(demo_kb, session_key, dead_llm):
    socket = chat_socket(session_key)
    await socket.connect()
    received = await ask(socket, "I forgot my password, how do I get back in?")
    await socket.disconnect()

    assert received[0]["type"] == "fallback"
    reply = await Message.objects.aget(pk=received[-1]["message_id"])
    assert {"retrieval", "prompt", "total"} <= set(reply.timings)
    assert "first_token_out" not in reply.timings


async def test_a_follow_up_on_the_same_socket_is_embedded_once(demo_kb, session_key):
    socket = chat_socket(session_key)
    await socket.connect()
    await ask(socket, "How do I turn on two-factor authentication?")
    received = await ask(socket, "And what if I lose my phone?")
    await socket.disconnect()

    reply = await Message.objects.aget(pk=received[-1]["message_id"])
    assert reply.history_turns == 1
    # The socket knew the previous question, so the rewritten query was embedded at once.
    assert "embedding_followup" not in reply.timings
    assert received[-2]["type"] == "sources"


async def test_a_follow_up_from_a_new_socket_embeds_its_rewritten_query(demo_kb, session_key):
    first = chat_socket(session_key)
    await first.connect()
    await ask(first, "How do I turn on two-factor authentication?")
    await first.disconnect()
    # A reload: the new socket does not know the previous question until the history says.
    socket = chat_socket(session_key)
    await socket.connect()
    received = await ask(socket, "And what if I lose my phone?")
    await socket.disconnect()

    reply = await Message.objects.aget(pk=received[-1]["message_id"])
    assert reply.history_turns == 1
    assert reply.timings["embedding_followup"] > 0
    assert received[-2]["type"] == "sources"


def _record_embeddings(monkeypatch) -> list[tuple[int | None, bool]]:
    """(index pk, conversation trip done yet?) for each question embedding started."""
    from chat import services

    started, trip_done = [], []
    embed, turn_open = services.aembed, services._turn_open

    def recording_turn_open(session_key):
        time.sleep(0.3)  # a slow trip: whatever overlaps it starts well before its end
        try:
            return turn_open(session_key)
        finally:
            trip_done.append(True)

    async def recording_embed(query, *, index):
        started.append((index.pk if index else None, bool(trip_done)))
        return await embed(query, index=index)

    monkeypatch.setattr(services, "_turn_open", recording_turn_open)
    monkeypatch.setattr(services, "aembed", recording_embed)
    return started


async def test_the_question_is_embedded_while_its_conversation_is_read(
    demo_kb, session_key, monkeypatch
):
    from knowledge.retrieval import aserving_index

    serving = await aserving_index()
    socket = chat_socket(session_key)
    await socket.connect()
    await ask(socket, "How do I turn on two-factor authentication?")
    started = _record_embeddings(monkeypatch)
    received = await ask(socket, "I forgot my password, how do I get back in?")
    await socket.disconnect()

    # Started with the index that answered last, before the trip confirmed it: once.
    assert started == [(serving.pk, False)]
    assert received[-2]["type"] == "sources"


async def test_a_question_after_the_serving_index_changed_is_embedded_with_the_new_one(
    demo_kb, session_key, monkeypatch
):
    from chat import services
    from knowledge.models import EmbeddingIndex
    from knowledge.retrieval import aserving_index

    serving = await aserving_index()
    # As if this process last answered from an index that has since been replaced.
    monkeypatch.setattr(
        services, "_last_index", EmbeddingIndex(pk=serving.pk + 1000, model_name="retired")
    )
    started = _record_embeddings(monkeypatch)
    socket = chat_socket(session_key)
    await socket.connect()
    received = await ask(socket, "I forgot my password, how do I get back in?")
    await socket.disconnect()

    assert started == [(serving.pk + 1000, False), (serving.pk, True)]
    assert received[-2]["type"] == "sources"
    assert services._last_index.pk == serving.pk
