"""QueryBatcher: questions asked together are encoded together, in a child process that is
replaced when it dies, and one bad question never stops the ones after it."""

import asyncio
import contextlib
import os
import select
import signal
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
from django.core.exceptions import ImproperlyConfigured

from knowledge import embeddings
from knowledge.embeddings.child import Child, read_message, write_message
from knowledge.tests import second_model

# Distinct questions, so a vector handed to the wrong caller cannot pass for the right one.
QUESTIONS = [
    "How do I reset my password?",
    "Can I get a refund on the annual plan?",
    "Where do I download my invoices?",
    "How do I turn on two-factor authentication?",
    "The mobile app crashes when I open a project",
    "How many teammates can I invite on the free plan?",
    "How do I export all my tasks to CSV?",
    "My card was declined, what now?",
    "How do I change the email address on my account?",
    "Can I import my boards from Trello?",
    "What is the API rate limit?",
    "How do I stop getting notification emails?",
    "Sync between my laptop and phone is stuck",
    "How do I delete my account for good?",
    "Who can see a private project?",
    "Is my data encrypted at rest?",
]
# Long enough that one encode of many of them keeps the batcher busy for a while.
LONG = " ".join(QUESTIONS)
# Sixteen of them: their replies (~55 KB) fit the pipe, clear of the truncated-reply race
# that test_a_process_killed_halfway_through_a_reply_reads_as_a_dead_process shows.
LONG_QUESTIONS = [f"{n}. {LONG}" for n in range(16)]


def model_vector(text: str, model: str = "") -> list[float]:
    """The vector the model itself gives in this process, with no batcher in between."""
    encoder = embeddings.get_model(model)
    return encoder.encode([text], normalize_embeddings=True, show_progress_bar=False)[0].tolist()


def assert_same_vector(got: list[float], expected: list[float]) -> None:
    # Padding a text to the longest of its batch changes the floats in the last digits.
    assert len(got) == len(expected)
    assert max(abs(a - b) for a, b in zip(got, expected, strict=True)) < 1e-5


@pytest.fixture(autouse=True)
def in_a_child_process(settings):
    # The default outside Celery; set here so the tests do not depend on the environment.
    settings.EMBEDDING_QUERY_PROCESS = True
    return settings


@pytest.fixture
def running_child() -> Child:
    """The batcher's embedding process, started by a first question if none runs yet."""
    embeddings.embed_query("warm up")
    assert embeddings.query_batcher().child is not None
    return embeddings.query_batcher().child


@pytest.fixture(scope="session")
def second_model_path(tmp_path_factory) -> str:
    return second_model.build(tmp_path_factory.mktemp("models") / "minilm-256")


async def test_questions_asked_together_are_embedded_in_one_batch_with_the_same_vectors():
    alone = [embeddings.embed_query(text) for text in QUESTIONS]  # one question per encode

    async with asyncio.timeout(120):
        together = await asyncio.gather(*(embeddings.aembed_query(t) for t in QUESTIONS))

    # Each caller gets its own text's vector, not a neighbour's from the same batch.
    for got, expected in zip(together, alone, strict=True):
        assert_same_vector(got, expected)
    for got, text in zip(together, QUESTIONS, strict=True):
        assert_same_vector(got, model_vector(text))


def test_questions_from_many_threads_each_get_their_own_vector():
    with ThreadPoolExecutor(max_workers=8) as pool:
        vectors = list(pool.map(embeddings.embed_query, QUESTIONS))

    for got, text in zip(vectors, QUESTIONS, strict=True):
        assert_same_vector(got, model_vector(text))


async def test_questions_for_two_models_asked_together_each_get_their_own_models_vector(
    second_model_path,
):
    # During a model switch both models answer questions; one encode holds one model.
    asked = [(text, second_model_path if n % 2 else "") for n, text in enumerate(QUESTIONS)]

    async with asyncio.timeout(180):
        vectors = await asyncio.gather(
            *(embeddings.aembed_query(text, model=model) for text, model in asked)
        )

    for got, (text, model) in zip(vectors, asked, strict=True):
        assert len(got) == (second_model.DIMENSIONS if model else 384)
        assert_same_vector(got, model_vector(text, model))


def test_a_killed_embedding_process_is_replaced(running_child):
    running_child.proc.kill()  # as the OOM killer or an operator would
    running_child.proc.wait()

    vector = embeddings.embed_query(QUESTIONS[0])

    assert_same_vector(vector, model_vector(QUESTIONS[0]))
    replacement = embeddings.query_batcher().child
    assert replacement is not None and replacement.proc.pid != running_child.proc.pid
    assert replacement.proc.poll() is None


def test_a_stuck_embedding_process_is_replaced_after_its_time_limit(running_child):
    # Alive but not answering (stopped, deadlocked): waited on no longer than its limit.
    # (The replacement keeps the default limit: it loads the model on its first reply.)
    running_child.REPLY_TIMEOUT = 2.0
    os.kill(running_child.proc.pid, signal.SIGSTOP)
    try:
        vector = embeddings.embed_query(QUESTIONS[1])
    finally:
        with contextlib.suppress(ProcessLookupError):  # killed as stuck, as it should be
            os.kill(running_child.proc.pid, signal.SIGCONT)

    assert_same_vector(vector, model_vector(QUESTIONS[1]))
    assert embeddings.query_batcher().child.proc.pid != running_child.proc.pid
    assert running_child.proc.poll() is not None  # the stuck one was killed


async def test_questions_waiting_when_the_process_is_killed_are_still_answered(running_child):
    async with asyncio.timeout(180):
        asked = [asyncio.ensure_future(embeddings.aembed_query(t)) for t in LONG_QUESTIONS]
        await asyncio.sleep(0.05)  # most likely mid-encode; before or after is fine too
        running_child.proc.kill()
        vectors = await asyncio.gather(*asked)

    for got, text in zip(vectors, LONG_QUESTIONS, strict=True):
        assert_same_vector(got, model_vector(text))
    embeddings.embed_query("and the next customer")  # replaced now if it was not yet
    assert embeddings.query_batcher().child.proc.pid != running_child.proc.pid


def test_a_process_killed_halfway_through_a_reply_reads_as_a_dead_process():
    child = Child(1, embeddings.onnx_dir())
    try:
        path = embeddings.model_path(embeddings.DEFAULT_MODEL)
        # 64 vectors pickle to ~220 KB: the child blocks writing once the pipe is full.
        write_message(child.proc.stdin, (path, [f"question {n}" for n in range(64)]))
        readable, _, _ = select.select([child.proc.stdout], [], [], 120)
        assert readable, "the child never replied"
        time.sleep(0.3)  # let it fill the pipe and block in write()
        child.proc.kill()
        child.proc.wait()

        with pytest.raises(OSError):
            read_message(child.proc.stdout)
    finally:
        child.stop()


def test_a_model_that_cannot_load_fails_with_a_clear_error(running_child):
    thread = embeddings.query_batcher().thread

    with pytest.raises(ImproperlyConfigured, match="/nonexistent"):
        embeddings.embed_query(QUESTIONS[0], model="/nonexistent")

    # The thread that raised it for the caller is still the one answering everyone else.
    assert embeddings.query_batcher().thread is thread and thread.is_alive()
    assert_same_vector(embeddings.embed_query(QUESTIONS[0]), model_vector(QUESTIONS[0]))
    assert embeddings.query_batcher().child is running_child  # the process was never the problem


async def test_a_bad_model_fails_only_its_own_questions_in_a_shared_batch():
    async with asyncio.timeout(120):
        results = await asyncio.gather(
            embeddings.aembed_query(QUESTIONS[0]),
            embeddings.aembed_query(QUESTIONS[1], model="/nonexistent"),
            embeddings.aembed_query(QUESTIONS[2]),
            return_exceptions=True,
        )

    assert isinstance(results[1], ImproperlyConfigured)
    assert_same_vector(results[0], model_vector(QUESTIONS[0]))
    assert_same_vector(results[2], model_vector(QUESTIONS[2]))


async def test_a_cancelled_question_does_not_break_the_batcher(running_child):
    thread = embeddings.query_batcher().thread
    async with asyncio.timeout(180):
        # Keep the thread busy, so the cancelled question is still waiting in the queue.
        busy = [asyncio.ensure_future(embeddings.aembed_query(LONG)) for _ in range(8)]
        left = asyncio.ensure_future(embeddings.aembed_query("a customer who closed the tab"))
        await asyncio.sleep(0)
        left.cancel()
        # And one cancelled once the thread may have taken it: its result is dropped.
        late = asyncio.ensure_future(embeddings.aembed_query("another who left"))
        await asyncio.sleep(0.2)
        late.cancel()
        await asyncio.gather(*busy)
        after = await embeddings.aembed_query(QUESTIONS[3])

    assert left.cancelled() and late.cancelled()
    assert_same_vector(after, model_vector(QUESTIONS[3]))
    assert embeddings.query_batcher().thread is thread and thread.is_alive()


def test_the_in_process_path_gives_the_same_vectors(in_a_child_process):
    from_the_child = [embeddings.embed_query(text) for text in QUESTIONS[:4]]

    in_a_child_process.EMBEDDING_QUERY_PROCESS = False
    in_process = [embeddings.embed_query(text) for text in QUESTIONS[:4]]

    for got, expected in zip(in_process, from_the_child, strict=True):
        assert_same_vector(got, expected)


def test_questions_are_encoded_as_sentence_transformers_encode_would():
    # Lengths differ, so the batch is padded: the attention mask must keep pads out.
    texts = [QUESTIONS[0], LONG, "Refund?", *QUESTIONS[5:9]]
    encoder = embeddings.get_model("")
    expected = encoder.encode(texts, normalize_embeddings=True)

    got = embeddings.encode_questions(encoder, texts)

    assert len(got) == len(texts)
    for vector, reference in zip(got, expected, strict=True):
        assert max(abs(a - b) for a, b in zip(vector, reference, strict=True)) < 1e-5
