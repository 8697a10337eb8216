"""Token frames keep up with the LLM: a slow socket gets the tokens joined, never dropped."""

import asyncio

import pytest

from chat.batching import TokenBatcher
from chat.models import Message
from chat.services import question_answer

pytestmark = pytest.mark.django_db(transaction=True)


async def test_a_fast_socket_gets_one_frame_per_token():
    frames = []

    async def send(frame):
        frames.append(frame["text"])

    batcher = TokenBatcher(send, lambda: None)
    for word in ["Reset ", "your ", "password."]:
        batcher.put(word)
        await asyncio.sleep(0)  # the sender's turn, as between two reads from the LLM
    await batcher.flush()

    assert frames == ["Reset ", "your ", "password."]


async def test_a_slow_socket_gets_the_waiting_tokens_joined_in_order():
    frames = []

    async def slow_send(frame):
        await asyncio.sleep(0.05)
        frames.append(frame["text"])

    batcher = TokenBatcher(slow_send, lambda: None)
    words = [f"w{n} " for n in range(30)]
    for word in words:
        batcher.put(word)
        await asyncio.sleep(0.005)  # tokens arrive ten times faster than a send takes
    await batcher.flush()

    assert "".join(frames) == "".join(words)
    assert len(frames) < len(words) / 3


async def test_a_slow_socket_does_not_slow_the_answer_and_loses_no_token(
    demo_kb, session_key, settings
):
    settings.LLM_MAX_TOKENS = 60
    frames = []

    async def stalling_send(frame):
        if frame["type"] == "token" and not frames:
            await asyncio.sleep(3)  # a client whose connection stalls for a while
        frames.append(frame)

    reply = await question_answer(
        session_key=session_key,
        text="I forgot my password, how do I get back in?",
        send=stalling_send,
    )

    tokens = [f["text"] for f in frames if f["type"] == "token"]
    stored = await Message.objects.aget(pk=reply.pk)
    assert "".join(tokens).strip() == stored.text
    assert len(tokens) < stored.timings["tokens"]  # joined while the socket lagged
    assert [f["type"] for f in frames][-2:] == ["sources", "done"]
