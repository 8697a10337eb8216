"""The customer's conversation outside of answering: its token, agent messages, feedback.

Answering a question is chat/answering.py. Every ORM call of the chat runs on `on_db`.
"""

import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar
from urllib.parse import urlsplit

from asgiref.sync import async_to_sync
from channels.db import database_sync_to_async
from channels.layers import get_channel_layer
from django.conf import settings
from redis.exceptions import RedisError

from chat import streams
from chat.models import SESSION_TOKEN, Conversation, Message, group_for, token_hash, token_new
from chat.protocol import Agent, AgentJoined, AgentTyping
from core.text import strip_invisible
from widget.sessions import session_token_read

logger = logging.getLogger(__name__)

T = TypeVar("T")


# An answer's database work runs on a few threads of its own, not on the one thread that
# every socket's async-ORM call shares (asgiref's): under load that thread was the queue
# (docs/decisions/0007). database_sync_to_async hands each call's connection back to the
# pool when it ends, so at most CHAT_DB_THREADS connections are held for answers.
_db_threads = ThreadPoolExecutor(
    max_workers=settings.CHAT_DB_THREADS, thread_name_prefix="answer-db"
)


def on_db(fn: Callable[..., T]) -> Callable[..., Awaitable[T]]:
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
    return await on_db(session_chat_token)(session=session)


def widget_session_open(*, token: str, site, identity, page_url: str, page_title: str) -> str:
    """The chat token of the widget's conversation: the session token's (widget/sessions.py),
    or a new one when it is missing, forged, expired or another site's. Records the site,
    the host page, and the identity the host signed (widget/identity.py), if any."""
    chat_token = session_token_read(site_key=site.key, token=token) if token else None
    conversation = conversation_get(chat_token=chat_token) if chat_token else None
    if identity and conversation and conversation.verified_id not in ("", identity.user_id):
        conversation = None  # another user signed in on the host page: a conversation of theirs
    if conversation is None:
        chat_token = token_new()
        conversation = conversation_get(chat_token=chat_token)
    conversation.site = conversation.site or site
    if page_url:
        conversation.page_url = _page_url(site, page_url)
        conversation.page_title = strip_invisible(page_title)[:200]
    if identity:
        conversation.verified_id, conversation.verified_email = identity.user_id, identity.email
    fields = ["site", "page_url", "page_title", "verified_id", "verified_email", "updated_at"]
    conversation.save(update_fields=fields)
    return chat_token


def _page_url(site, url: str) -> str:
    """The host page, without its query or fragment (they can hold anyone's data), and only
    when it is on one of the site's origins: the page's script says where it is, unchecked."""
    parts = urlsplit(url)
    origin = f"{parts.scheme}://{parts.netloc}"
    return f"{origin}{parts.path}"[:500] if site.allows(origin) else ""


def _has_conversation(key: str) -> bool:
    return Conversation.objects.filter(token_hash=key).exists()


def conversation_get(*, chat_token: str) -> Conversation:
    # With its site, in the same query: an answer reads the site's brand and KB collection.
    conversation, _ = Conversation.objects.select_related("site").get_or_create(
        token_hash=token_hash(chat_token)
    )
    return conversation


async def conversation_for_token(*, chat_token: str) -> Conversation:
    return await on_db(conversation_get)(chat_token=chat_token)


async def undelivered_agent_messages(*, chat_token: str) -> list[Message]:
    """Agent replies written while the customer was away, oldest first."""
    waiting = Message.objects.filter(
        conversation__token_hash=token_hash(chat_token),
        role=Message.Role.AGENT,
        delivered=False,
    ).select_related("author")
    return await on_db(list)(waiting)


async def message_feedback(*, chat_token: str, message_id: int, value: str) -> bool:
    """Store a thumbs up/down on one of this session's answers. False if not theirs."""
    answers = Message.objects.filter(
        pk=message_id,
        role=Message.Role.ASSISTANT,
        conversation__token_hash=token_hash(chat_token),
    )
    return bool(await on_db(answers.update)(feedback=value))


async def agent_message_delivered(*, message_id: int) -> None:
    await on_db(Message.objects.filter(pk=message_id, role=Message.Role.AGENT).update)(
        delivered=True
    )


def agent_message_push(*, message: Message, joined: bool) -> None:
    """Send an agent's message live to every open socket of its conversation (tickets call
    this when the reply commits), as the protocol's frames: `agent_joined` first when the
    agent has just taken the conversation over."""
    frames = [AgentJoined(message.author_name).frame()] if joined else []
    frames.append(Agent(message.text, message.author_name).frame())
    event = {"type": "agent.message", "message_id": message.pk, "frames": frames}
    # Nobody listening is fine: the message stays undelivered until the customer returns.
    # So is a channel layer that is down: the customer's socket delivers it when Redis is
    # back (chat/consumers.py), and the agent's reply is saved either way.
    group_send(
        group=message.conversation.group_name(),
        event=event,
        missed=f"agent reply {message.pk} waits for delivery",
    )


def customer_frame_push(*, conversation: Conversation, frame: dict) -> None:
    """Send one protocol frame live to every open socket of the conversation's session: a
    ticket's status, an agent leaving (tickets call this when their change commits). Not
    kept: a page that opens later reads the same state from the database."""
    event = {"type": "conversation.frame", "frame": frame}
    group_send(
        group=conversation.group_name(),
        event=event,
        missed=f"a {frame['type']} frame, not sent live",
    )


def group_send(*, group: str, event: dict, missed: str) -> bool:
    """Send a Channels event from sync code (a commit hook). A channel layer that is down
    loses only this live notice, logged as `missed`: what it tells of is stored already."""
    try:
        async_to_sync(get_channel_layer().group_send)(group, event)
    except (RedisError, OSError):
        logger.warning("Channel layer down: %s", missed)
        return False
    return True


# --- For the agent's live view of a conversation (tickets/consumers.py) ----------------------


async def conversation_follow(*, conversation_token_hash: str) -> AsyncIterator[str]:
    """The conversation's frames from now on (from the running answer's start, if one
    runs), as its customer's sockets get them: JSON text with `seq`. Following does not
    mark the customer present."""
    async for entry in streams.follow(
        token_hash=conversation_token_hash, after=None, every=streams.BLOCK_SECONDS, customer=False
    ):
        yield entry.text


async def customer_online(*, conversation_token_hash: str) -> bool:
    """Has the customer had the chat open within CHAT_ABANDON_SECONDS?"""
    return await streams.is_present(token_hash=conversation_token_hash)


async def agent_typing_push(*, conversation_token_hash: str, name: str) -> None:
    """Tell the customer's open sockets that this agent is typing."""
    event = {"type": "agent.typing", "frame": AgentTyping(name).frame()}
    await get_channel_layer().group_send(group_for(conversation_token_hash), event)
