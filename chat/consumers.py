"""The customer's socket. Small on purpose: it validates, then hands work to services.

An answer runs in a task of the process (chat/relay.py) and appends its frames to the
conversation's stream in Redis (chat/streams.py). Every socket of the session forwards
that stream, from wherever it left off: a dropped socket does not end the answer, a
reconnect (`resume`) gets exactly the frames it missed, and every tab sees every answer.

The channel layer (Redis) carries agents' live replies. While it is down the socket stays
open and keeps answering: the customer is told once (`service_degraded`), the consumer
retries with back-off, and when Redis is back it rejoins its group and delivers the agent
replies that were saved meanwhile.
"""

import asyncio
import json
import logging
import time
import uuid

from asgiref.sync import sync_to_async
from channels.consumer import get_handler_name
from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncJsonWebsocketConsumer
from django.conf import settings
from django.utils import translation
from django.utils.translation import gettext_lazy as _
from redis.exceptions import RedisError

from chat import protocol, relay
from chat.forwarding import RESUME_WAIT_SECONDS, StreamForwarding
from chat.models import group_for, token_hash
from chat.protocol import (
    Agent,
    Error,
    Escalate,
    Feedback,
    FeedbackSaved,
    Hello,
    Question,
    Rate,
    Rated,
    Resume,
    Stop,
    Ticket,
)
from chat.services import (
    agent_message_delivered,
    asession_chat_token,
    conversation_for_token,
    message_feedback,
    undelivered_agent_messages,
)
from chat.throttle import FrameBudget
from chat.timings import AnswerClock
from core import hours, metrics
from core.locale import language_from_headers
from core.ratelimits import chat_connection_closed, chat_connection_open, chat_retry_after

logger = logging.getLogger(__name__)

NO_SESSION = _("Open the support page first to start a session.")
# What a customer over a rate limit reads; the page adds "try again in N s" from retry_after.
RATE_LIMITED = {
    "message": _("You're sending questions faster than we can answer them. Please wait a moment."),
    "escalate": _(
        "You've asked for a human several times already. Please wait before asking again."
    ),
}
LIVE_PAUSED_MESSAGE = _(
    "Live replies from our team are paused for a moment; the assistant still answers, and "
    "any reply from our team will appear here as soon as we're back."
)
LAYER_RETRY_MAX_SECONDS = 5.0
TOO_MANY_CONNECTIONS = _(
    "Too many chats are open from your network. Close one of them, or try again later."
)
FRAMES_TOO_FAST = _("You're sending faster than we can read. Please slow down.")
INVALID = object()  # a frame that is not JSON


class ChatConsumer(StreamForwarding, AsyncJsonWebsocketConsumer):
    """Tickets sit above the chat, so the chat never imports them: the project's wiring
    (helpdesk/asgi.py) hands over what it needs of them.
    - `escalate(conversation=, email=)` makes the conversation's ticket;
    - `held(conversation_id=)`: the customer wrote while a person has the chat (the ticket
      reopens if resolved, and the agents' queue hears of it);
    - `rate(conversation_token_hash=, score=, comment=)` stores the rating of a resolved
      ticket, once; ValueError says why it cannot."""

    group: str | None = None
    accepted = False
    live = True  # the channel layer works and this socket is in its session's group
    told_paused = False
    last_question = ""
    counted = False  # this socket is in its address's count of open sockets
    language: str | None = None  # None: LANGUAGE_CODE

    def __init__(self, *args, escalate=None, held=None, rate=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.escalate, self.held, self.rate = escalate, held, rate
        # Marks the questions this socket asked in the stream: it shows them itself.
        self.socket_id = uuid.uuid4().hex

    async def connect(self):
        # The customer's language, as the page's: what the socket says is in it.
        self.language = language_from_headers(self.scope.get("headers", []))
        session = self.scope.get("session")
        if session is not None:
            # Loaded now: a cookie naming no session reads as no key only once loaded.
            await session.akeys()
        # The session key only counts questions against the session's rate limit; the
        # conversation is found by the session's chat token (chat/models.py).
        self.session_key = session.session_key if session is not None else None
        self.shown_agent_messages: set[int] = set()
        if not self.session_key:
            # Django's cache sessions read as empty when Redis is down. Asking Redis
            # directly raises instead, and the customer hears of the outage
            # (chat.middleware.DegradedSocketMiddleware), not of a lost session.
            cookie = self.scope.get("cookies", {}).get(settings.SESSION_COOKIE_NAME)
            if cookie and session is not None:
                await session.aexists(cookie)
            await self.accept()
            await self.error("no_session", NO_SESSION)
            await self.close(code=4401)
            return
        if await self.admitted():
            await self.begin(await asession_chat_token(session=session))

    async def admitted(self) -> bool:
        """Count this socket against its address's open sockets and give it its frame
        budget; over the limit, say so and close (4429)."""
        if not await sync_to_async(chat_connection_open, thread_sensitive=False)(scope=self.scope):
            if not self.accepted:
                await self.accept()
            await self.error("too_many_connections", TOO_MANY_CONNECTIONS)
            await self.close(code=4429)
            return False
        self.counted = True
        self.budget = FrameBudget()
        return True

    async def begin(self, chat_token: str):
        """Join the conversation: its group, the agent replies written while away, then its
        stream (the widget's socket comes here after its `hello`, chat/widget.py)."""
        self.chat_token = chat_token
        # Agent replies reach every open tab of this session through its group. Join it
        # before looking for replies written while away, so none falls between the two.
        self.key = token_hash(self.chat_token)
        self.group = group_for(self.key)
        try:
            await self.channel_layer.group_add(self.group, self.channel_name)
            self.live = True
        except (RedisError, OSError) as exc:
            logger.warning("Channel layer unavailable at connect: %r", exc)
            self.live = False
        waiting = await undelivered_agent_messages(chat_token=self.chat_token)
        if not self.accepted:
            await self.accept()
            self.accepted = True
        if not self.live:
            await self.layer_failed()
        for message in waiting:
            await self.send_agent_message(message.pk, message.text, message.author_name)
        # A page sends `resume` first, which says where its stream starts. A client that
        # never does sees the running answer, if any, from its start, a moment later.
        await self.forward_from(None, wait=RESUME_WAIT_SECONDS)

    async def disconnect(self, code):
        # The answer goes on (chat/relay.py): the customer's next socket resumes it.
        await self.forward_stop()
        if self.counted:
            await sync_to_async(chat_connection_closed, thread_sensitive=False)(scope=self.scope)
        if self.group and self.live:
            try:
                await self.channel_layer.group_discard(self.group, self.channel_name)
            except (RedisError, OSError):
                pass  # the group entry expires on its own (channels-redis group_expiry)

    async def dispatch(self, message):
        # channels' own dispatch first sends close_old_connections to the thread that all
        # sockets' sync work shares, on every event: under load a large share of the event
        # loop's time (docs/decisions/0008). Nothing here needs it: every ORM
        # call of the chat runs through database_sync_to_async (chat.services.on_db),
        # which closes stale connections before and after each call itself.
        handler = getattr(self, get_handler_name(message), None)
        if handler is None:
            raise ValueError(f"No handler for message type {message['type']}")
        await handler(message)

    # channels' AsyncConsumer.__call__ stores the channel layer's receive here and awaits
    # it beside the client's; a Redis error from it would end the whole socket. Keep the
    # layer's receive for ourselves and give channels one that waits an outage out.
    @property
    def channel_receive(self):
        return self.receive_from_layer

    @channel_receive.setter
    def channel_receive(self, layer_receive):
        self.layer_receive = layer_receive

    async def receive_from_layer(self):
        delay = 0.5
        while True:
            try:
                if not self.live and self.group:
                    await self.rejoin()
                return await self.layer_receive()
            except (RedisError, OSError):
                await self.layer_failed()
                await asyncio.sleep(delay)
                delay = min(delay * 2, LAYER_RETRY_MAX_SECONDS)

    async def layer_failed(self):
        if self.live:
            logger.warning("Channel layer unavailable; live agent replies paused")
        self.live = False
        if self.accepted and not self.told_paused:
            self.told_paused = True
            await self.error("service_degraded", LIVE_PAUSED_MESSAGE)

    async def rejoin(self):
        await self.channel_layer.group_add(self.group, self.channel_name)
        self.live, self.told_paused = True, False
        logger.info("Channel layer back; live agent replies resumed")
        # Replies saved while the layer was down were never pushed: deliver them now.
        for message in await undelivered_agent_messages(chat_token=self.chat_token):
            await self.send_agent_message(message.pk, message.text, message.author_name)

    async def agent_message(self, event):
        """From chat.services.agent_message_push (a ticket's reply), through the group."""
        if event["message_id"] in self.shown_agent_messages:
            return  # already sent as a reply waiting at connect time
        self.shown_agent_messages.add(event["message_id"])
        for frame in event["frames"]:
            await self.send_json(frame)
        await agent_message_delivered(message_id=event["message_id"])

    async def agent_typing(self, event):
        """From chat.services.agent_typing_push, through the group."""
        await self.send_json(event["frame"])

    async def conversation_frame(self, event):
        """From chat.services.customer_frame_push, through the group."""
        await self.send_json(event["frame"])

    async def send_agent_message(self, message_id: int, text: str, name: str):
        self.shown_agent_messages.add(message_id)
        await self.send_event(Agent(text, name))
        await agent_message_delivered(message_id=message_id)

    async def receive(self, text_data=None, bytes_data=None):
        # The answer's clock starts here (chat/timings.py: "receive" is everything until
        # answering starts: parsing, validation, rate limits).
        self.received_at = time.perf_counter()
        if not self.session_key:
            return await self.error("no_session", NO_SESSION)  # a frame sent before the close
        if not self.counted:
            return  # refused at connect, and being closed
        if (read := await self.budgeted(text_data)) is None:
            return
        content, _kind = read
        if text_data is None:
            return await self.error("bad_frame", _("Send JSON text frames, not binary."))
        if content is INVALID:
            return await self.error("bad_json", _("That message was not valid JSON."))
        if not isinstance(content, dict):
            return await self.error("bad_json", _('Send a JSON object with a "type".'))
        await self.receive_json(content)

    async def budgeted(self, text_data: str | None) -> tuple | None:
        """The frame's JSON (INVALID when it is binary or not JSON) and its type, once the
        frame is spent from the socket's budget; None when over it."""
        content = self.parsed(text_data)
        kind = content.get("type") if isinstance(content, dict) else None
        if not await self.within_budget(kind if kind in protocol.INBOUND else "other"):
            return None
        return content, kind

    @staticmethod
    def parsed(text_data: str | None):
        """The frame's JSON, or INVALID when it is binary or not JSON."""
        if text_data is None:
            return INVALID
        try:
            return json.loads(text_data)
        except (ValueError, RecursionError):  # RecursionError: "[[[[…" nested too deep
            return INVALID

    async def within_budget(self, kind: str) -> bool:
        """Spend one frame of this type from the socket's budget (chat/throttle.py). Over
        it, the customer is told once; a socket that keeps on is closed."""
        if self.budget.allow(kind):
            return True
        metrics.RATE_LIMITED.inc()
        if self.budget.told():
            retry_after = self.budget.retry_after(kind)
            await self.error("rate_limited", FRAMES_TOO_FAST, retry_after=retry_after)
        elif self.budget.exhausted():
            await self.close(code=4429)
        return False

    async def receive_json(self, content, **kwargs):
        request = protocol.read(content)
        if isinstance(request, Question):
            await self.on_question(request)
        elif isinstance(request, Escalate):
            await self.on_escalate(request)
        elif isinstance(request, Feedback):
            await self.on_feedback(request)
        elif isinstance(request, Stop):
            await relay.stop(token_hash=self.key)
        elif isinstance(request, Resume):
            await self.on_resume(request)
        elif isinstance(request, Rate):
            await self.on_rate(request)
        elif isinstance(request, Hello):
            await self.error("bad_hello", _("Only the widget's first frame is a hello."))
        else:
            await self.send_event(request)

    async def on_question(self, question: Question):
        at = await relay.answer_begin(token_hash=self.key)
        if at is False:  # an answer runs, asked from this tab or another
            return await self.error("busy", _("Please wait for the current answer to finish."))
        # Counted only once the question would be answered: refusals above cost nothing.
        if await self.rate_limited("message"):
            return await relay.answer_release(token_hash=self.key, at=at)
        if not self.following:  # a client that asks before it resumes, or never does
            await self.forward_from(at)
        relay.answer_start(
            chat_token=self.chat_token,
            token_hash=self.key,
            text=question.text,
            clock=AnswerClock(self.received_at),
            previous=self.last_question,
            at=at,
            origin=self.socket_id,
            direct=self.send_json,
            held=self.held,
        )
        # What a follow-up from this socket will be searched with (chat/answering.py).
        self.last_question = question.text

    async def on_escalate(self, request: Escalate):
        if self.escalate is None:
            logger.error("No escalation handler: ChatConsumer.as_asgi(escalate=...) is unset")
            return await self.error("internal_error", _("Escalation is not available right now."))
        if await self.rate_limited("escalate"):
            return
        try:
            conversation = await conversation_for_token(chat_token=self.chat_token)
            ticket = await database_sync_to_async(self.escalate)(
                conversation=conversation, email=request.email
            )
        except ValueError as exc:
            return await self.error("bad_email", str(exc))
        metrics.ESCALATIONS.inc()
        # The ticket's address, not this frame's: one left at an earlier escalation counts.
        with translation.override(self.language):
            message = hours.escalation_message(at=hours.now(), has_email=bool(ticket.email))
        await self.send_event(Ticket(ticket.number, message=message))

    async def on_rate(self, request: Rate):
        if self.rate is None:
            return await self.error("cannot_rate", _("Ratings are not available right now."))
        try:
            await database_sync_to_async(self.rate)(
                conversation_token_hash=self.key, score=request.score, comment=request.comment
            )
        except ValueError as exc:
            return await self.error("cannot_rate", str(exc))
        await self.send_event(Rated())

    async def on_feedback(self, request: Feedback):
        if not await message_feedback(
            chat_token=self.chat_token, message_id=request.message_id, value=request.value
        ):
            return await self.error("bad_feedback", _("There is no such answer in this chat."))
        await self.send_event(FeedbackSaved(request.message_id))

    async def rate_limited(self, action: str) -> bool:
        """Count the action against the session's and the address's limits; when over one,
        tell the customer how long to wait."""
        # Redis only, no database: off the thread that every socket's ORM work shares.
        retry_after = await sync_to_async(chat_retry_after, thread_sensitive=False)(
            scope=self.scope, session_key=self.session_key, action=action
        )
        if retry_after:
            metrics.RATE_LIMITED.inc()
            await self.error("rate_limited", RATE_LIMITED[action], retry_after=retry_after)
        return bool(retry_after)

    async def send_event(self, event: protocol.Event):
        with translation.override(self.language):
            frame = event.frame()
        await self.send_json(frame)

    async def error(self, code: str, message: str, retry_after: int | None = None):
        await self.send_event(Error(code, message, retry_after))
