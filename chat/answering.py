"""Answering one question: a stream of protocol events, from the screen to the stored reply.

The path, in order: the screen (chat/screening.py); the query and its embedding, through
knowledge's one door (knowledge/retrieval.py); the recent turns (chat/history.py); the
search; the prompt (chat/prompts.py); the model's stream (chat/llm.py); and one ending
that stores the reply and says how the answer ended. Nothing here knows of sockets: the
consumer turns each event into a frame (chat/batching.py paces the tokens).
"""

import asyncio
import logging
import time
from collections.abc import AsyncIterator, Callable
from contextlib import aclosing

from django.conf import settings
from django.db.models import F
from redis.exceptions import RedisError

from chat import brand, llm
from chat.echo import PROMPT_ECHO, PromptEcho
from chat.history import history_append, history_from_transcript, history_load
from chat.language import answer_language
from chat.models import Conversation, Message
from chat.prompts import build_messages, fit_to_budget, prompt_budget
from chat.protocol import Asked, Done, Event, Fallback, Refusal, Sources, Token
from chat.quality import groundedness, used_sources
from chat.screening import INJECTION_REFUSAL, screen
from chat.services import conversation_get, on_db
from chat.timings import AnswerClock
from core import metrics
from core.links import link_allowed
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


class Recent:
    """The index that answered this process's last question. The next question's
    embedding starts with its model while the conversation trip runs, instead of after
    it; in the rare case that trip finds another index serving (a model switch completed
    meanwhile), the question is embedded again with the right one."""

    index: Index | None = None


recent = Recent()


class Stop:
    """The customer's Stop for one answer. The consumer sets `requested` and cancels the
    answer's task; the answer stores what it had, marked stopped, and leaves its id here."""

    def __init__(self) -> None:
        self.requested = False
        self.caught = False  # the cancellation reached a handler (chat/relay.py checks)
        self.message_id: int | None = None


async def answer(
    *, chat_token: str, text: str, clock: AnswerClock, previous: str = "", stop: Stop | None = None,
    held: Callable[..., None] | None = None,
) -> AsyncIterator[Event]:  # fmt: skip
    """Answer one question. `previous`: the question this socket asked last, if any.
    `held(conversation_id=)` runs after a question is stored that a person, not the bot,
    will answer (the tickets' side: chat.consumers.ChatConsumer)."""
    family = await _screened(text)
    # A follow-up is searched with the previous question in front, and the socket knows
    # what that was: the query is guessed and embedded before the history confirms it.
    guess = query_for(question=text, previous=previous)
    early_index = None if family else recent.index
    early = None if early_index is None else _embedding_start(guess, early_index, clock)
    try:
        conversation, index = await clock.timed("conversation", on_db(turn_open)(chat_token))
    except BaseException:
        _discard(early)
        raise
    if conversation.agent_id or family:
        _discard(early)
        question = await _store_question(conversation, text)
        yield Asked(question.pk, question.text)
        if conversation.agent_id:
            # A human has the conversation: the message lands on the ticket, the bot is silent.
            await _tell_holder(held, conversation)
            yield Done(message_id=None)
        else:
            # Stored, so the attempt is in the transcript for review; never embedded, never
            # sent to the model, never remembered in the history.
            for event in await _refuse_injection(question, family, clock):
                yield event
        return
    recent.index = index
    if early is None or not same_index(early_index, index):
        _discard(early)
        early = _embedding_start(guess, index, clock)
    async with aclosing(_answer(conversation, text, early, clock, stop or Stop())) as events:
        async for event in events:
            yield event


async def _tell_holder(held: Callable[..., None] | None, conversation: Conversation) -> None:
    if held is None:
        return
    try:
        await on_db(held)(conversation_id=conversation.pk)
    except Exception:
        # The message is stored and on the ticket's page; only the queue's notice is lost.
        logger.exception("Telling the tickets of a customer message failed")


async def _answer(
    conversation: Conversation,
    text: str,
    embedding: "asyncio.Future[EmbeddedQuery]",
    clock: AnswerClock,
    stop: Stop,
) -> AsyncIterator[Event]:
    # Independent work overlaps: the question is stored, and embedded, while Redis
    # returns the history. Only a wrong guess (another tab asked since) is embedded again.
    stored = asyncio.ensure_future(
        clock.timed("question_write", _store_question(conversation, text))
    )
    embedded, history, question = await asyncio.gather(
        embedding, clock.timed("history", _load_history(conversation, stored)), stored
    )
    yield Asked(question.pk, question.text)  # for the session's other tabs
    site = conversation.site  # loaded with the conversation: the brand and KB it answers with
    query = query_for(question=text, previous=history[-1]["user"] if history else "")
    if query != embedded.query:
        embedded = await clock.timed("embedding_followup", aembed(query, index=embedded.index))
    scope = brand.retrieval_scope(site)
    found = await clock.timed("retrieval", on_db(retrieve)(embedded=embedded, **scope))
    reply = Message(
        conversation=conversation,
        role=Message.Role.ASSISTANT,
        history_turns=len(history),
        retrieval_score=round(found.best_similarity, 4),
    )
    if found.refused:
        # Weak evidence: say so instead of letting the model improvise. No LLM call.
        reply.text, reply.refused = brand.refusal_text(site), True
        for event in await _ending(reply, clock, Refusal("no_evidence", reply.text)):
            yield event
        return
    began = time.perf_counter()
    messages, chunks, reply.history_turns = await _prompt(site, text, found.chunks, history)
    clock.mark("prompt", began)
    async with aclosing(_streamed(reply, question, messages, chunks, clock, stop)) as events:
        async for event in events:
            yield event


async def _prompt(site, text: str, chunks, history: list[dict[str, str]]) -> tuple:
    """The messages for the model, in the site's brand (or the desk's) and the customer's
    language; the chunks and the number of turns that fit in them."""
    # On a thread: the detector's model loads on first use, and the loop must not wait.
    earlier = [turn["user"] for turn in history]
    language = await asyncio.to_thread(answer_language, text, earlier=earlier)
    system = brand.prompt_for(site)
    # Long turns could overflow the model's context; what does not fit is left out.
    history, chunks = fit_to_budget(
        question=text, chunks=chunks, history=history, budget=prompt_budget(),
        system=system, language=language,
    )  # fmt: skip
    messages = build_messages(
        question=text, chunks=chunks, history=history, system=system, language=language
    )
    return messages, chunks, len(history)


async def _streamed(
    reply: Message, question: Message, messages: list[dict], chunks, clock: AnswerClock, stop: Stop
) -> AsyncIterator[Event]:
    """The model's deltas as Token events, then the ending: the answer, the fallback when
    the model fails, or a refusal when it began to recite its system prompt (the stream
    is closed then, before the recital's last word is sent)."""
    parts: list[str] = []
    # The system prompt actually sent: the desk's, or the conversation's site's.
    echo, recited = PromptEcho(messages[0]["content"]), False
    clock.llm_request()
    try:
        async with aclosing(llm.stream_chat(messages)) as stream:
            async for delta in stream:
                clock.llm_token()
                if echo.heard(delta):
                    recited = True
                    break
                parts.append(delta)
                yield Token(delta)
    except llm.LLMUnavailable as exc:
        logger.warning("LLM unavailable, sending the fallback answer: %s", exc)
        ending = await _fallback(reply, parts, chunks, clock)
    except (asyncio.CancelledError, GeneratorExit):
        # The customer left mid-answer, or pressed Stop: keep what was said, marked as cut
        # short. Cancelled, the stream is closed, so the LLM stops generating too.
        stop.caught = True
        reply.text, reply.interrupted, reply.stopped = "".join(parts), True, stop.requested
        reply.timings = clock.finish()
        await asyncio.shield(_save(reply))
        stop.message_id = reply.pk
        raise
    else:
        if recited:
            ending = await _refuse_injection(question, PROMPT_ECHO, clock, reply=reply)
        else:
            ending = await _answered(reply, question, parts, chunks, clock)
    for event in ending:
        yield event


# --- The one ending: every answer is stored, counted and closed the same way -----------------


async def _ending(reply: Message, clock: AnswerClock, outcome: Event) -> tuple[Event, Done]:
    """Store the reply with its timings, count how it ended, and say so: the outcome
    (sources, a refusal or the fallback), then `done` with the stored reply's id."""
    reply.timings = clock.finish()
    await _save(reply)
    if isinstance(outcome, Refusal):
        metrics.REFUSALS.labels(reason=outcome.reason).inc()
    elif isinstance(outcome, Fallback):
        metrics.FALLBACKS.labels(reason=outcome.reason).inc()
    else:
        metrics.ANSWERS.inc()
    return outcome, Done(message_id=reply.pk)


async def _answered(reply, question: Message, parts: list[str], chunks, clock) -> tuple:
    site = reply.conversation.site
    reply.text = "".join(parts).strip() or brand.fallback_text(site, sources=False)
    # Only the articles the answer drew on are shown, so a citation is never decoration.
    reply.sources = sources_for(used_sources(reply.text, chunks))
    reply.groundedness = groundedness(reply.text, [c.text for c in chunks])
    ending = await _ending(reply, clock, Sources(reply.sources))
    await _remember(reply.conversation.token_hash, question.text, reply.text)
    return ending


async def _fallback(reply: Message, parts: list[str], chunks, clock: AnswerClock) -> tuple:
    reply.sources = sources_for(chunks)
    text = brand.fallback_text(reply.conversation.site, sources=bool(reply.sources))
    partial = "".join(parts).strip()
    reply.text = f"{partial}\n\n{text}" if partial else text
    reply.fallback, reply.interrupted = True, bool(partial)
    return await _ending(reply, clock, Fallback("llm_unavailable", text, reply.sources))


async def _refuse_injection(
    question: Message, family: str, clock: AnswerClock, reply: Message | None = None
) -> tuple:
    """Screened on the way in (no reply yet) or caught reciting the prompt on the way out.
    Either way the turn stays out of the history, so it cannot steer a follow-up."""
    question.screened = family
    await on_db(_screened_store)(question)
    if reply is None:
        reply = Message(conversation_id=question.conversation_id, role=Message.Role.ASSISTANT)
    reply.text, reply.refused = INJECTION_REFUSAL, True
    # The family and the conversation only: the text may be anything, and is in the admin.
    logger.warning(
        "Refused a prompt-injection attempt (%s) in conversation %s",
        family,
        question.conversation_id,
    )
    return await _ending(reply, clock, Refusal("injection", reply.text))


def sources_for(chunks) -> list[dict[str, str]]:
    """One source per article, best match first, linking to the matching section.

    An article's source_url is used only on a host in DOCS_DOMAINS (core/links.py);
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


# --- The steps' plumbing ---------------------------------------------------------------------


async def _screened(text: str) -> str | None:
    """The screen's verdict, reached on a thread: on the event loop a long question's
    screen would stall every other socket of the process; on a thread, the loop gets the
    GIL back between rules (benchmarks/worst_case.py measures it)."""
    if not settings.CHAT_SCREENING:
        return None
    return await asyncio.to_thread(screen, text)


def turn_open(chat_token: str) -> tuple[Conversation, Index | None]:
    """One trip for what every question needs first: its conversation (is a human on
    it?) and the index that answers (whose model embeds the question)."""
    return conversation_get(chat_token=chat_token), serving_index()


def _embedding_start(query: Query, index: Index | None, clock: AnswerClock):
    return asyncio.ensure_future(clock.timed("embedding", aembed(query, index=index)))


def _discard(early: "asyncio.Future | None") -> None:
    if early is not None:
        early.cancel()
        if early.done() and not early.cancelled():
            early.exception()  # retrieved: no "exception was never retrieved" warning


def _question_store(conversation: Conversation, text: str) -> Message:
    question = Message.objects.create(conversation=conversation, role=Message.Role.USER, text=text)
    # The conversation's last activity: review sampling and retention go by it.
    Conversation.objects.filter(pk=conversation.pk).update(updated_at=question.created_at)
    return question


async def _store_question(conversation: Conversation, text: str) -> Message:
    return await on_db(_question_store)(conversation, text)


def _screened_store(question: Message) -> None:
    question.save(update_fields=["screened"])
    Conversation.objects.filter(pk=question.conversation_id).update(
        injection_attempts=F("injection_attempts") + 1
    )


async def _save(message: Message) -> None:
    await on_db(message.save)()


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


async def _remember(key: str, question: str, answer: str) -> None:
    try:
        await history_append(key=key, user=question, assistant=answer)
    except (RedisError, OSError):
        logger.warning("Could not store the turn in the chat history", exc_info=True)
