"""Token frames keep up with the LLM: a slow socket gets the tokens joined, never dropped,
and past the first token a frame goes out at most once per interval."""

import asyncio
import itertools

import pytest

from chat.answering import answer
from chat.batching import TokenBatcher, send_events
from chat.models import Message
from chat.tests.helpers import token_of
from chat.timings import AnswerClock


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


@pytest.mark.django_db(transaction=True)
async def test_a_slow_socket_does_not_slow_the_answer_and_loses_no_token(
    demo_kb, session_key, settings
):
    settings.LLM_MAX_TOKENS = 60
    frames = []

    async def stalling_send(frame):
        if frame["type"] == "token" and not any(f["type"] == "token" for f in frames):
            await asyncio.sleep(3)  # a client whose connection stalls for a while
        frames.append(frame)

    clock = AnswerClock()
    events = answer(
        chat_token=token_of(session_key),
        text="I forgot my password, how do I get back in?",
        clock=clock,
    )
    await send_events(events, stalling_send, on_sent=clock.token_sent, interval=0)
    reply_id = frames[-1]["message_id"]

    tokens = [f["text"] for f in frames if f["type"] == "token"]
    stored = await Message.objects.aget(pk=reply_id)
    assert "".join(tokens).strip() == stored.text
    assert len(tokens) < stored.timings["tokens"]  # joined while the socket lagged
    assert [f["type"] for f in frames][-2:] == ["sources", "done"]


class Recorder:
    """A socket that keeps every frame and the loop time it was sent at."""

    def __init__(self):
        self.texts: list[str] = []
        self.times: list[float] = []
        self.sent_calls = 0

    async def send(self, frame):
        self.texts.append(frame["text"])
        self.times.append(asyncio.get_running_loop().time())

    def on_sent(self):
        self.sent_calls += 1


async def test_the_first_token_goes_out_at_once_and_later_ones_are_joined_per_interval():
    socket, interval = Recorder(), 0.05
    batcher = TokenBatcher(socket.send, socket.on_sent, interval=interval)
    deltas = [f"w{n} " for n in range(20)]
    started = asyncio.get_running_loop().time()
    for delta in deltas:
        batcher.put(delta)
        await asyncio.sleep(0.005)  # a token every 5 ms, ten per interval
    await batcher.flush()
    elapsed = asyncio.get_running_loop().time() - started

    assert socket.texts[0] == "w0 "  # the customer's first token did not wait
    assert "".join(socket.texts) == "".join(deltas)
    # One frame per interval at most, plus the first and the flush: about 4 for 20 deltas
    # here. Bounded by the time taken, since a loaded machine stretches the 100 ms.
    assert len(socket.texts) <= 2 + elapsed / interval
    # Noise only makes the gaps longer; the last frame may be the flush, which waits for
    # nothing.
    gaps = [b - a for a, b in itertools.pairwise(socket.times)]
    assert all(gap >= interval * 0.9 for gap in gaps[:-1]), gaps
    assert batcher.frames == socket.sent_calls == len(socket.texts)


async def test_a_delta_held_back_by_the_interval_goes_out_when_it_ends():
    socket = Recorder()
    batcher = TokenBatcher(socket.send, socket.on_sent, interval=0.05)
    batcher.put("Reset ")
    await asyncio.sleep(0)
    batcher.put("your password.")

    # No flush: the batcher's own timer sends it.
    async with asyncio.timeout(5):
        while len(socket.texts) < 2:
            await asyncio.sleep(0.01)

    assert socket.texts == ["Reset ", "your password."]
    await batcher.flush()


async def test_flush_does_not_wait_for_the_interval():
    socket = Recorder()
    batcher = TokenBatcher(socket.send, socket.on_sent, interval=1.0)
    batcher.put("Reset ")
    await asyncio.sleep(0.01)  # sent at once; the interval starts now
    batcher.put("your password.")
    await asyncio.sleep(0.01)  # the batcher is waiting out its interval

    loop = asyncio.get_running_loop()
    started = loop.time()
    await batcher.flush()

    assert loop.time() - started < 0.5  # not the rest of the 1 s interval
    assert socket.texts == ["Reset ", "your password."]
    assert batcher.task.done()


async def test_flush_with_nothing_pending_returns_at_once():
    socket = Recorder()
    batcher = TokenBatcher(socket.send, socket.on_sent, interval=1.0)
    batcher.put("Done.")
    await asyncio.sleep(0.01)

    async with asyncio.timeout(0.5):
        await batcher.flush()

    assert socket.texts == ["Done."]


async def test_a_failed_send_is_raised_by_flush():
    async def broken_send(frame):
        raise ConnectionResetError("the client went away")

    batcher = TokenBatcher(broken_send, lambda: None, interval=0.05)
    batcher.put("Reset ")

    with pytest.raises(ConnectionResetError):
        await batcher.flush()


async def test_cancelling_during_the_interval_sends_nothing_more():
    socket = Recorder()
    batcher = TokenBatcher(socket.send, socket.on_sent, interval=0.05)
    batcher.put("Reset ")
    await asyncio.sleep(0.01)
    batcher.put("your password.")
    await asyncio.sleep(0.01)  # waiting out the interval

    batcher.cancel()
    await asyncio.sleep(0.1)  # past the end of the interval: the timer must not send

    assert batcher.task.cancelled()
    assert socket.texts == ["Reset "]
