import pytest
from channels.db import database_sync_to_async

from chat.models import Message
from chat.tests.helpers import ask, chat_socket
from knowledge.retrieval import min_similarity

pytestmark = pytest.mark.django_db(transaction=True)


async def test_an_off_topic_question_is_refused_without_calling_the_llm(
    demo_kb, session_key, counting_llm, settings
):
    socket = chat_socket(session_key)
    await socket.connect()
    received = await ask(socket, "What's a good recipe for banana bread?", timeout=15)

    assert [m["type"] for m in received] == ["refusal", "done"]
    refusal = received[0]
    assert refusal["reason"] == "no_evidence"
    assert refusal["text"] == settings.REFUSAL_TEXT
    assert counting_llm == []
    reply = await Message.objects.aget(pk=received[-1]["message_id"])
    assert reply.refused
    assert reply.retrieval_score < await database_sync_to_async(min_similarity)()


async def test_an_off_topic_question_after_an_answered_one_is_refused(
    demo_kb, session_key, settings
):
    # The 2FA answer is real (the embedded LLM); the next question must not inherit its
    # evidence: searched after "two-step login", "the capital of France" finds the 2FA
    # article, and used to be answered from it.
    socket = chat_socket(session_key)
    await socket.connect()
    first = await ask(socket, "How do I turn on two-step login?", timeout=60)
    assert first[0]["type"] != "refusal"

    received = await ask(socket, "what's the capital of france?", timeout=30)

    assert [m["type"] for m in received] == ["refusal", "done"]
    assert received[0]["reason"] == "no_evidence"
    reply = await Message.objects.aget(pk=received[-1]["message_id"])
    assert reply.refused and reply.history_turns == 1


async def test_the_refusal_threshold_is_a_setting(demo_kb, session_key, counting_llm, settings):
    settings.RETRIEVAL_MIN_SIMILARITY = 0.99
    socket = chat_socket(session_key)
    await socket.connect()
    received = await ask(socket, "How do I reset my password?", timeout=15)

    assert received[0]["type"] == "refusal"
    assert counting_llm == []
