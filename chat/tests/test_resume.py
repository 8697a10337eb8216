"""Answers outlive their socket: a socket that comes back resumes the answer exactly where
it left off, every tab of a session sees every answer, and an answer nobody is waiting for
is stopped (chat/streams.py, chat/relay.py)."""

import asyncio

import pytest

from chat import relay, streams
from chat.history import history_forget
from chat.models import Message
from chat.tests.helpers import (
    SlowLLM,
    chat_socket,
    key_of,
    receive_until_done,
)

pytestmark = pytest.mark.django_db(transaction=True)

QUESTION = "How do I reset my password?"


@pytest.fixture
async def words_llm(settings):
    """An answer of 60 words, one every 20 ms: long enough to drop a socket in the middle."""
    llm = await SlowLLM(words=60, every=0.02).start()
    settings.LLM_BASE_URL = llm.url
    settings.LLM_MAX_TOKENS = 400
    yield llm
    llm.server.close()


async def tokens_until(socket, count: int) -> list[dict]:
    """The socket's frames until it has had `count` token frames."""
    frames = []
    while sum(f["type"] == "token" for f in frames) < count:
        frames.append(await socket.receive_json_from(timeout=60))
    return frames


async def reply_of(frames: list[dict]) -> Message:
    return await Message.objects.aget(pk=frames[-1]["message_id"])


def assert_one_after_another(frames: list[dict], after: int) -> None:
    seqs = [f["seq"] for f in frames if "seq" in f]
    assert seqs == list(range(after + 1, after + 1 + len(seqs)))


async def test_a_socket_that_comes_back_gets_exactly_what_it_missed_then_the_rest(
    demo_kb, session_key, words_llm
):
    first = chat_socket(session_key)
    await first.connect()
    await first.send_json_to({"type": "message", "text": QUESTION})
    seen = await tokens_until(first, 3)
    await first.disconnect()
    await asyncio.sleep(0.3)  # the answer goes on meanwhile

    second = chat_socket(session_key)
    await second.connect()
    await second.send_json_to({"type": "resume", "after": seen[-1]["seq"]})
    rest = await receive_until_done(second, seq=True)

    frames = seen + [f for f in rest if f["type"] != "resumed"]
    assert_one_after_another(frames, after=seen[0]["seq"] - 1)
    reply = await reply_of(frames)
    assert "".join(f["text"] for f in frames if f["type"] == "token").strip() == reply.text
    assert reply.text.endswith("word59") and not reply.interrupted
    assert words_llm.requests == 1


async def test_resumed_comes_after_the_missed_frames_and_says_whether_an_answer_runs(
    demo_kb, session_key, words_llm
):
    asking = chat_socket(session_key)
    await asking.connect()
    await asking.send_json_to({"type": "message", "text": QUESTION})
    seen = await tokens_until(asking, 1)

    mid = chat_socket(session_key)
    await mid.connect()
    await mid.send_json_to({"type": "resume", "after": seen[-1]["seq"]})
    frames = []
    while not frames or frames[-1]["type"] != "resumed":
        frames.append(await mid.receive_json_from(timeout=10))
    assert frames[-1] == {"type": "resumed", "answering": True}
    assert all(f["type"] == "token" for f in frames[:-1])
    await receive_until_done(asking)

    after = chat_socket(session_key)
    await after.connect()
    await after.send_json_to({"type": "resume", "after": seen[-1]["seq"]})
    replayed = await receive_until_done(after, seq=True)
    assert (await after.receive_json_from(timeout=10)) == {"type": "resumed", "answering": False}
    assert [f["type"] for f in replayed][-2:] == ["sources", "done"]


async def test_every_socket_of_the_session_gets_the_question_and_its_answer(
    demo_kb, session_key, words_llm
):
    asking, other = chat_socket(session_key), chat_socket(session_key)
    await asking.connect()
    await other.connect()
    await asking.send_json_to({"type": "message", "text": QUESTION})
    mine, theirs = await receive_until_done(asking), await receive_until_done(other)

    asked = theirs[0]
    question = await Message.objects.aget(pk=asked["message_id"])
    assert asked == {"type": "asked", "message_id": question.pk, "text": QUESTION}
    assert question.role == Message.Role.USER
    # The asking socket shows its own question: it is not sent back to it.
    assert "asked" not in [f["type"] for f in mine]
    assert theirs[1:] == mine


async def test_a_question_from_another_tab_while_one_is_answered_is_busy(
    demo_kb, session_key, words_llm
):
    asking, other = chat_socket(session_key), chat_socket(session_key)
    await asking.connect()
    await other.connect()
    await asking.send_json_to({"type": "message", "text": QUESTION})
    await tokens_until(asking, 1)
    await other.send_json_to({"type": "message", "text": "And my email?"})

    frames = await receive_until_done(other)
    assert {"type": "error", "code": "busy"}.items() <= [f for f in frames if f["type"] == "error"][
        0
    ].items()
    await receive_until_done(asking)
    # Once it is done, the other tab may ask at once.
    await other.send_json_to({"type": "message", "text": "And my email?"})
    assert (await receive_until_done(other))[-1]["type"] == "done"


async def test_stop_from_another_tab_stops_the_answer_and_the_llm(demo_kb, session_key, slow_llm):
    asking, other = chat_socket(session_key), chat_socket(session_key)
    await asking.connect()
    await other.connect()
    await asking.send_json_to({"type": "message", "text": QUESTION})
    await tokens_until(asking, 2)

    await other.send_json_to({"type": "stop"})
    frames = await receive_until_done(asking, timeout=10)
    at_stop = slow_llm.written
    await asyncio.sleep(1)

    assert [f["type"] for f in frames][-2:] == ["stopped", "done"]
    reply = await reply_of(frames)
    assert reply.stopped and reply.interrupted
    assert slow_llm.written - at_stop <= 2 and slow_llm.written < 100


async def test_an_answer_whose_customer_has_gone_is_stopped_after_the_abandon_time(
    demo_kb, session_key, slow_llm, settings
):
    settings.CHAT_ABANDON_SECONDS = 1
    socket = chat_socket(session_key)
    await socket.connect()
    await socket.send_json_to({"type": "message", "text": QUESTION})
    await tokens_until(socket, 1)
    await socket.disconnect()

    async with asyncio.timeout(10):
        while not await Message.objects.filter(role=Message.Role.ASSISTANT).aexists():
            await asyncio.sleep(0.1)
    written = slow_llm.written
    await asyncio.sleep(1)

    reply = await Message.objects.aget(role=Message.Role.ASSISTANT)
    assert reply.interrupted and not reply.stopped
    assert reply.text.startswith("word0")
    assert slow_llm.written - written <= 2 and slow_llm.written < 150  # 400 if never stopped


async def test_an_answer_with_its_customer_still_there_is_not_abandoned(
    demo_kb, session_key, words_llm, settings
):
    settings.CHAT_ABANDON_SECONDS = 1  # shorter than the 1.2 s answer
    socket = chat_socket(session_key)
    await socket.connect()
    await socket.send_json_to({"type": "message", "text": QUESTION})
    reply = await reply_of(await receive_until_done(socket))
    assert not reply.interrupted and reply.text.endswith("word59")


@pytest.mark.parametrize("after", ["12", -1, 1.5, True, None, 2**60])
async def test_a_resume_without_a_whole_number_is_refused(demo_kb, session_key, after):
    socket = chat_socket(session_key)
    await socket.connect()
    await socket.send_json_to({"type": "resume", "after": after})
    frame = await socket.receive_json_from(timeout=10)
    assert frame["type"] == "error" and frame["code"] == "bad_resume"


async def test_a_stream_is_replayed_in_bounded_batches(session_key):
    key = key_of(session_key)
    first = await streams.append(token_hash=key, frame={"type": "token", "text": "a"})
    for n in range(streams.REPLAY_BATCH + 20):
        await streams.append(token_hash=key, frame={"type": "token", "text": str(n)})

    batch = await streams.read(token_hash=key, after=first)
    assert len(batch) == streams.REPLAY_BATCH
    assert [e.seq for e in batch] == list(range(first + 1, first + 1 + streams.REPLAY_BATCH))
    rest = await streams.read(token_hash=key, after=batch[-1].seq)
    assert len(rest) == 20


async def test_a_seq_is_never_given_twice_even_after_the_stream_expired(session_key):
    key = key_of(session_key)
    before = await streams.append(token_hash=key, frame={"type": "token", "text": "a"})
    # What expiry does to both keys, at once.
    await asyncio.to_thread(streams.forget, token_hashes=[key])
    after = await streams.append(token_hash=key, frame={"type": "token", "text": "b"})
    assert after > before


async def test_erasing_a_conversation_deletes_its_stream(session_key):
    key = key_of(session_key)
    await streams.append(token_hash=key, frame={"type": "token", "text": "private"})
    await asyncio.to_thread(history_forget, keys=[key])
    assert await streams.read(token_hash=key, after=0) == []


async def test_a_page_opened_mid_answer_resumes_from_the_answers_start(
    demo_kb, session_key, words_llm
):
    socket = chat_socket(session_key)
    await socket.connect()
    before = await asyncio.to_thread(streams.position, token_hash=key_of(session_key))
    await socket.send_json_to({"type": "message", "text": QUESTION})
    await tokens_until(socket, 2)

    # Mid-answer the page starts before its question; after it, past its `done`.
    at = await asyncio.to_thread(streams.position, token_hash=key_of(session_key))
    assert at == before
    frames = await receive_until_done(socket, seq=True)
    assert not relay.RUNS
    assert (
        await asyncio.to_thread(streams.position, token_hash=key_of(session_key))
        == (frames[-1]["seq"])
    )


async def test_appending_works_after_redis_forgot_its_scripts(session_key):
    key = key_of(session_key)
    before = await streams.append(token_hash=key, frame={"type": "token", "text": "a"})
    # What a Redis restart does to the script cache.
    await asyncio.to_thread(lambda: streams.sync_client().script_flush())
    after = await streams.append(token_hash=key, frame={"type": "token", "text": "b"})
    assert after == before + 1
    assert [e.frame for e in await streams.read(token_hash=key, after=before)] == [
        {"type": "token", "text": "b", "seq": after}
    ]
