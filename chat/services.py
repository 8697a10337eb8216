"""Answering a question: retrieval, history, the LLM stream, and what gets stored."""

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from contextlib import aclosing
from typing import TypeVar

from channels.db import database_sync_to_async
from django.conf import settings
from django.db.models import F
from redis.exceptions import RedisError

from chat import llm
from chat.batching import TokenBatcher
from chat.echo import PROMPT_ECHO, PromptEcho
from chat.history import history_append, history_from_transcript, history_load
from chat.links import link_allowed
from chat.models import SESSION_TOKEN, Conversation, Message, token_hash, token_new
from chat.prompts import build_messages, fit_to_budget, prompt_budget
from chat.quality import groundedness, used_sources
from chat.screening import INJECTION_REFUSAL, screen
from chat.timings import AnswerClock
from core import metrics
from knowledge.retrieval import (
    EmbeddedQuery,
    Index,
    Query,
    aembed,
    query_for,
    retrieve,
    same_index,
    serving_index,
)

logger = logging.getLogger(__name__)

Send = Callable[[dict], Awaitable[None]]
T = TypeVar("T")

FALLBACK_TEXT = (
    "Sorry, our assistant can't answer right now. The articles below may help, or press "
    '"Escalate to human" and a person from our team will pick this up.'
)
FALLBACK_TEXT_NO_SOURCES = (
    'Sorry, our assistant can\'t answer right now. Please press "Escalate to human" and '
    "a person from our team will pick this up."
)


def sources_for(chunks) -> list[dict[str, str]]:
    """One source per article, best match first, linking to the matching section.

    An article's source_url is used only on a host in DOCS_DOMAINS (chat/links.py);
    anywhere else the source links to the article's own page here instead."""
    sources, seen = [], set()
    for chunk in chunks:
        article = chunk.article
        if article.pk in seen:
            continue
        seen.add(article.pk)
        if article.source_url and link_allowed(article.source_url):
            url = article.source_url
        else:
            url = article.get_absolute_url() + (f"#{chunk.anchor}" if chunk.anchor else "")
        sources.append(
            {"title": article.title, "url": url, "slug": article.slug, "section": chunk.heading}
        )
    return sources


# An answer's database work runs on a few threads of its own, not on the one thread that
# every socket's async-ORM call shares (asgiref's): under load that thread was the queue
# (docs/decisions/0007). database_sync_to_async hands each call's connection back to the
# pool when it ends, so at most CHAT_DB_THREADS connections are held for answers.
_db_threads = ThreadPoolExecutor(
    max_workers=settings.CHAT_DB_THREADS, thread_name_prefix="answer-db"
)


def _on_db(fn: Callable[..., T]) -> Callable[..., Awaitable[T]]:
    """`fn` on those threads. Every ORM call of the chat goes through here (or another
    database_sync_to_async), never the bare async ORM: ChatConsumer.dispatch relies on it."""
    return database_sync_to_async(fn, thread_sensitive=False, executor=_db_threads)


def session_chat_token(*, session) -> str:
    """The token that finds this session's conversation, made on first use and kept in
    the session. A session from before tokens existed has its key as its token: that is
    what its conversation's hash was migrated from (chat/migrations/0006)."""
    token = session.get(SESSION_TOKEN)
    if not token:
        key = session.session_key
        legacy = key and session.get("started") and _has_conversation(token_hash(key))
        token = key if legacy else token_new()
        session[SESSION_TOKEN] = token
        session.save()
    return token


async def asession_chat_token(*, session) -> str:
    return await _on_db(session_chat_token)(session=session)


def _has_conversation(key: str) -> bool:
    return Conversation.objects.filter(token_hash=key).exists()


def _conversation_get(chat_token: str) -> Conversation:
    return Conversation.objects.get_or_create(token_hash=token_hash(chat_token))[0]


async def conversation_for_token(*, chat_token: str) -> Conversation:
    return await _on_db(_conversation_get)(chat_token)


def _turn_open(chat_token: str) -> tuple[Conversation, Index | None]:
    """One trip for what every question needs first: its conversation (is a human on
    it?) and the index that answers (whose model embeds the question)."""
    return _conversation_get(chat_token), serving_index()


def _question_store(conversation: Conversation, text: str) -> Message:
    question = Message.objects.create(conversation=conversation, role=Message.Role.USER, text=text)
    # The conversation's last activity: review sampling and retention go by it.
    Conversation.objects.filter(pk=conversation.pk).update(updated_at=question.created_at)
    return question


async def _store_question(conversation: Conversation, text: str) -> Message:
    return await _on_db(_question_store)(conversation, text)


async def _save(message: Message) -> None:
    await _on_db(message.save)()


async def _load_history(
    conversation: Conversation, stored: "asyncio.Future[Message]"
) -> list[dict[str, str]]:
    try:
        return await history_load(key=conversation.token_hash)
    except (RedisError, OSError):
        # Without Redis the same turns come from the transcript: slower, never lost.
        logger.warning("Chat history unavailable in Redis; reading the transcript instead")
        question = await stored
        return await history_from_transcript(conversation_id=conversation.pk, before_id=question.pk)


async def undelivered_agent_messages(*, chat_token: str) -> list[Message]:
    """Agent replies written while the customer was away, oldest first."""
    waiting = Message.objects.filter(
        conversation__token_hash=token_hash(chat_token),
        role=Message.Role.AGENT,
        delivered=False,
    ).select_related("author")
    return await _on_db(list)(waiting)


# The index that answered this process's last question. The next question's embedding
# starts with its model while the conversation trip runs, instead of after it; in the
# rare case that trip finds another index serving (a model switch completed meanwhile),
# the question is embedded again with the right one.
_last_index: Index | None = None


async def question_answer(
    *,
    chat_token: str,
    text: str,
    send: Send,
    received_at: float | None = None,
    previous: str = "",
) -> Message:
    """Answer one question. `previous`: the question this socket asked last, if any."""
    global _last_index
    clock = AnswerClock(received_at)
    family = await _screened(text)
    # A follow-up is searched with the previous question in front, and the socket knows
    # what that was: the query is guessed and embedded before the history confirms it.
    guess = query_for(question=text, previous=previous)
    early_index = None if family else _last_index
    early = None if early_index is None else _embedding_start(guess, early_index, clock)
    try:
        conversation, index = await clock.timed("conversation", _on_db(_turn_open)(chat_token))
    except BaseException:
        _discard(early)
        raise
    if conversation.agent_id:
        # A human has the conversation: the message lands on the ticket, the bot is silent.
        _discard(early)
        question = await _store_question(conversation, text)
        await send({"type": "done", "message_id": None})
        return question
    if family:
        # Stored, so the attempt is in the transcript for review; never embedded, never
        # sent to the model, never remembered in the history.
        question = await _store_question(conversation, text)
        return await _refuse_injection(question, family, send, clock)
    _last_index = index
    if early is None or not same_index(early_index, index):
        _discard(early)
        early = _embedding_start(guess, index, clock)
    return await _answer(conversation, text, early, send, clock)


async def _screened(text: str) -> str | None:
    """The screen's verdict, reached on a thread: it takes ~20 ms for a long question
    (about 190 rules over several readings, benchmarks/worst_case.py), which on the event
    loop would stall every other socket of the process; there, the loop gets the GIL back
    between rules."""
    if not settings.CHAT_SCREENING:
        return None
    return await asyncio.to_thread(screen, text)


def _embedding_start(query: Query, index: Index | None, clock: AnswerClock):
    return asyncio.ensure_future(clock.timed("embedding", aembed(query, index=index)))


def _discard(early: "asyncio.Future | None") -> None:
    if early is not None:
        early.cancel()
        if early.done() and not early.cancelled():
            early.exception()  # retrieved: no "exception was never retrieved" warning


async def _answer(
    conversation: Conversation,
    text: str,
    embedding: "asyncio.Future[EmbeddedQuery]",
    send: Send,
    clock: AnswerClock,
) -> Message:
    # Independent work overlaps: the question is stored, and embedded, while Redis
    # returns the history. Only a wrong guess (another tab asked since) is embedded again.
    stored = asyncio.ensure_future(
        clock.timed("question_write", _store_question(conversation, text))
    )
    embedded, history, question = await asyncio.gather(
        embedding, clock.timed("history", _load_history(conversation, stored)), stored
    )
    query = query_for(question=text, previous=history[-1]["user"] if history else "")
    if query != embedded.query:
        embedded = await clock.timed("embedding_followup", aembed(query, index=embedded.index))
    found = await clock.timed("retrieval", _on_db(retrieve)(embedded=embedded))
    reply = Message(
        conversation=conversation,
        role=Message.Role.ASSISTANT,
        history_turns=len(history),
        retrieval_score=round(found.best_similarity, 4),
    )
    if found.refused:
        # Weak evidence: say so instead of letting the model improvise. No LLM call.
        return await _refuse(reply, send, clock)
    began = time.perf_counter()
    # Long turns could overflow the model's context; what does not fit is left out.
    history, chunks = fit_to_budget(
        question=text, chunks=found.chunks, history=history, budget=prompt_budget()
    )
    reply.history_turns = len(history)
    messages = build_messages(question=text, chunks=chunks, history=history)
    clock.mark("prompt", began)
    return await _stream_answer(reply, question, messages, chunks, send, clock)


async def _stream_answer(
    reply: Message,
    question: Message,
    messages: list[dict],
    chunks,
    send: Send,
    clock: AnswerClock,
) -> Message:
    parts: list[str] = []
    batcher = TokenBatcher(send, clock.token_sent, interval=settings.CHAT_TOKEN_FRAME_MS / 1000)
    clock.llm_request()
    try:
        recited = not await _stream(messages, parts, batcher, clock)
        await batcher.flush()
    except llm.LLMUnavailable as exc:
        logger.warning("LLM unavailable, sending the fallback answer: %s", exc)
        await batcher.flush()
        reply.sources = sources_for(chunks)
        return await _fallback(reply, parts, send, clock)
    except asyncio.CancelledError:
        # The customer left mid-answer: keep what was said, marked as cut short.
        batcher.cancel()
        reply.text, reply.interrupted = "".join(parts), True
        reply.timings = clock.finish()
        await asyncio.shield(_save(reply))
        raise
    if recited:
        return await _refuse_injection(question, PROMPT_ECHO, send, clock, reply=reply)
    reply.text = "".join(parts).strip() or FALLBACK_TEXT_NO_SOURCES
    # Only the articles the answer drew on are shown, so a citation is never decoration.
    reply.sources = sources_for(used_sources(reply.text, chunks))
    reply.groundedness = groundedness(reply.text, [c.text for c in chunks])
    reply.timings = clock.finish()
    await _save(reply)
    metrics.ANSWERS.inc()
    await _remember(reply.conversation.token_hash, question.text, reply.text)
    await send({"type": "sources", "sources": reply.sources})
    await send({"type": "done", "message_id": reply.pk})
    return reply


async def _stream(
    messages: list[dict], parts: list[str], batcher: TokenBatcher, clock: AnswerClock
) -> bool:
    """Send the model's deltas as they come, kept in `parts`. False when it began to recite
    its system prompt: the stream is closed then, before the recital's last word is sent."""
    echo = PromptEcho()
    async with aclosing(llm.stream_chat(messages)) as stream:
        async for delta in stream:
            clock.llm_token()
            if echo.heard(delta):
                return False
            parts.append(delta)
            batcher.put(delta)
    return True


async def _refuse(reply: Message, send: Send, clock: AnswerClock) -> Message:
    reply.text, reply.refused = settings.REFUSAL_TEXT, True
    reply.timings = clock.finish()
    await _save(reply)
    metrics.REFUSALS.labels(reason="no_evidence").inc()
    await send({"type": "refusal", "reason": "no_evidence", "text": reply.text})
    await send({"type": "done", "message_id": reply.pk})
    return reply


def _screened_store(question: Message, family: str) -> None:
    question.save(update_fields=["screened"])
    Conversation.objects.filter(pk=question.conversation_id).update(
        injection_attempts=F("injection_attempts") + 1
    )


async def _refuse_injection(
    question: Message, family: str, send: Send, clock: AnswerClock, reply: Message | None = None
) -> Message:
    """Screened on the way in (no reply yet) or caught reciting the prompt on the way out.
    Either way the turn stays out of the history, so it cannot steer a follow-up."""
    question.screened = family
    await _on_db(_screened_store)(question, family)
    if reply is None:
        reply = Message(conversation_id=question.conversation_id, role=Message.Role.ASSISTANT)
    reply.text, reply.refused = INJECTION_REFUSAL, True
    reply.timings = clock.finish()
    await _save(reply)
    # The family and the conversation only: the text may be anything, and is in the admin.
    logger.warning(
        "Refused a prompt-injection attempt (%s) in conversation %s",
        family,
        question.conversation_id,
    )
    metrics.REFUSALS.labels(reason="injection").inc()
    await send({"type": "refusal", "reason": "injection", "text": reply.text})
    await send({"type": "done", "message_id": reply.pk})
    return reply


async def message_feedback(*, chat_token: str, message_id: int, value: str) -> bool:
    """Store a thumbs up/down on one of this session's answers. False if not theirs."""
    answers = Message.objects.filter(
        pk=message_id,
        role=Message.Role.ASSISTANT,
        conversation__token_hash=token_hash(chat_token),
    )
    return bool(await _on_db(answers.update)(feedback=value))


async def agent_message_delivered(*, message_id: int) -> None:
    await _on_db(Message.objects.filter(pk=message_id, role=Message.Role.AGENT).update)(
        delivered=True
    )


async def _fallback(reply: Message, parts: list[str], send: Send, clock: AnswerClock) -> Message:
    sources = reply.sources
    text = FALLBACK_TEXT if sources else FALLBACK_TEXT_NO_SOURCES
    partial = "".join(parts).strip()
    reply.text = f"{partial}\n\n{text}" if partial else text
    reply.fallback, reply.interrupted = True, bool(partial)
    reply.timings = clock.finish()
    await _save(reply)
    metrics.FALLBACKS.labels(reason="llm_unavailable").inc()
    await send({"type": "fallback", "reason": "llm_unavailable", "text": text, "sources": sources})
    await send({"type": "done", "message_id": reply.pk})
    return reply


async def _remember(key: str, question: str, answer: str) -> None:
    try:
        await history_append(key=key, user=question, assistant=answer)
    except (RedisError, OSError):
        logger.warning("Could not store the turn in the chat history", exc_info=True)
