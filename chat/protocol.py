"""Every frame of the chat socket, both ways: the README's protocol table, as code.

JSON text frames. The customer's page (static/chat/chat.js) and any other client send
`Question`, `Escalate` and `Feedback`; the server sends the rest. Answering a question
(chat/answering.py) yields these events and knows nothing of sockets; the consumer turns
each into a frame with `frame()`. `chat/tests/test_protocol_table.py` checks this module
against the README's table, so the two cannot drift apart.
"""

import re
from dataclasses import MISSING, asdict, dataclass, fields
from typing import ClassVar

from django.conf import settings
from django.utils.text import format_lazy
from django.utils.translation import gettext_lazy as _


@dataclass(frozen=True)
class Event:
    """A frame the server sends: its `type`, then its fields in order."""

    type: ClassVar[str]

    def frame(self) -> dict:
        return {"type": self.type, **asdict(self)}


# --- Server → client: an answer -------------------------------------------------------------
# These frames come through the conversation's stream (chat/streams.py) and carry its `seq`.


@dataclass(frozen=True)
class Asked(Event):
    """A question of this conversation, stored: sent to the session's other sockets (its
    other tabs), not to the socket that asked it. The answer's frames follow."""

    type: ClassVar[str] = "asked"
    message_id: int
    text: str


@dataclass(frozen=True)
class Token(Event):
    """The answer's next streamed text: one delta, or several joined (chat/batching.py)."""

    type: ClassVar[str] = "token"
    text: str


@dataclass(frozen=True)
class Sources(Event):
    """The articles behind the answer, after its last token."""

    type: ClassVar[str] = "sources"
    sources: list[dict]


@dataclass(frozen=True)
class Refusal(Event):
    """No answer, on purpose: `no_evidence` (nothing close enough in the KB) or `injection`."""

    type: ClassVar[str] = "refusal"
    reason: str
    text: str


@dataclass(frozen=True)
class Fallback(Event):
    """The model is down or timed out: a fixed apology with the best matching articles."""

    type: ClassVar[str] = "fallback"
    reason: str
    text: str
    sources: list[dict]


@dataclass(frozen=True)
class Stopped(Event):
    """The customer's Stop ended the answer; what was generated is kept. Then `done`."""

    type: ClassVar[str] = "stopped"
    message_id: int | None


@dataclass(frozen=True)
class Done(Event):
    """The answer is complete and stored; `message_id` is null while an agent has the chat."""

    type: ClassVar[str] = "done"
    message_id: int | None


# --- Server → client: everything else --------------------------------------------------------


@dataclass(frozen=True)
class Resumed(Event):
    """After `resume`, once every missed frame is sent. `answering`: an answer is still
    running, and its frames keep coming; false while the page waits for one, the rest of
    that answer was lost (the stream expired) and the page should stop waiting."""

    type: ClassVar[str] = "resumed"
    answering: bool


@dataclass(frozen=True)
class FeedbackSaved(Event):
    type: ClassVar[str] = "feedback_saved"
    message_id: int


@dataclass(frozen=True)
class Ticket(Event):
    """After an escalation; the same number for every escalation of a conversation.
    `message`: when a person will reply (business hours, core/hours.py)."""

    type: ClassVar[str] = "ticket"
    number: str
    message: str = ""


@dataclass(frozen=True)
class TicketStatus(Event):
    """The conversation's ticket changed status (sent live; the page shows it). `rate`:
    the ticket is resolved and not rated yet, so the page asks for a rating."""

    type: ClassVar[str] = "ticket_status"
    number: str
    status: str
    label: str
    rate: bool = False


@dataclass(frozen=True)
class Rated(Event):
    """The customer's rating was stored."""

    type: ClassVar[str] = "rated"


@dataclass(frozen=True)
class AgentJoined(Event):
    type: ClassVar[str] = "agent_joined"
    name: str


@dataclass(frozen=True)
class AgentLeft(Event):
    """The agent handed the conversation back to the bot, which answers the next question."""

    type: ClassVar[str] = "agent_left"
    name: str
    text: str


@dataclass(frozen=True)
class AgentTyping(Event):
    """The agent who has the conversation is typing a reply (sent at most every few
    seconds while they type; the page shows it for a few seconds)."""

    type: ClassVar[str] = "agent_typing"
    name: str


@dataclass(frozen=True)
class Agent(Event):
    """A human agent's message (tickets/services.py sends it through the session's group)."""

    type: ClassVar[str] = "agent"
    text: str
    name: str


ERROR_CODES = frozenset(
    (
        "no_session bad_json bad_frame unknown_type empty_message message_too_long bad_text "
        "busy bad_email bad_feedback rate_limited internal_error service_degraded "
        "too_many_connections bad_resume bad_rating cannot_rate bad_hello bad_identity "
        "unknown_site"
    ).split()
)


@dataclass(frozen=True)
class Session(Event):
    """The widget's answer to `hello`: the session token to keep for the next `hello` (it
    replaces the last one), where the conversation's stream is, the conversation so far,
    and its ticket as `ticket_status` shows it (or null)."""

    type: ClassVar[str] = "session"
    token: str
    resume_after: int
    transcript: list[dict]
    ticket: dict | None = None


@dataclass(frozen=True)
class Error(Event):
    """A refused request; the socket stays open. `retry_after` only with `rate_limited`."""

    type: ClassVar[str] = "error"
    code: str
    message: str
    retry_after: int | None = None

    def __post_init__(self):
        # A code is part of the protocol: clients branch on it, the README lists them all.
        if self.code not in ERROR_CODES:
            raise ValueError(f"{self.code!r} is not an error code of the protocol")

    def frame(self) -> dict:
        frame = super().frame()
        # Translated here, in the language the socket speaks (ChatConsumer.send_event).
        frame["message"] = str(self.message)
        if self.retry_after is None:
            del frame["retry_after"]
        return frame


# --- Client → server ------------------------------------------------------------------------
# Read from the frame's JSON by `read()`, which checks every field: a client is anyone.

# Valid JSON, but not storable: Postgres text holds no NUL, UTF-8 has no lone surrogates.
UNSTORABLE = re.compile("[\x00\ud800-\udfff]")


@dataclass(frozen=True)
class Question:
    type: ClassVar[str] = "message"
    text: str


@dataclass(frozen=True)
class Escalate:
    type: ClassVar[str] = "escalate"
    email: str = ""


@dataclass(frozen=True)
class Feedback:
    type: ClassVar[str] = "feedback"
    message_id: int
    value: str


@dataclass(frozen=True)
class Stop:
    """End the answer that is streaming; nothing happens when none is."""

    type: ClassVar[str] = "stop"


@dataclass(frozen=True)
class Resume:
    """Send the frames after `seq` `after` (the last one this page saw), then the live rest."""

    type: ClassVar[str] = "resume"
    after: int


@dataclass(frozen=True)
class Rate:
    """The customer's rating of a resolved ticket's help (CSAT): once per ticket."""

    type: ClassVar[str] = "rate"
    score: int
    comment: str = ""


@dataclass(frozen=True)
class Hello:
    """The widget socket's first frame: no cookie reaches a third-party frame, so the session
    comes here (`token`: the last `session` frame's, or empty for a new conversation). With
    `identity`, a JWT the host site signed for its signed-in user (widget/identity.py); with
    `page_url` and `page_title`, the host page the customer is on."""

    type: ClassVar[str] = "hello"
    token: str = ""
    identity: str = ""
    page_url: str = ""
    page_title: str = ""


RATE_COMMENT_MAX_CHARS = 2000
HELLO_LIMITS = {"token": 500, "identity": 4000, "page_url": 500, "page_title": 200}
INBOUND = {kind.type: kind for kind in (Question, Escalate, Feedback, Stop, Resume, Rate, Hello)}
SERVER_EVENTS = (Asked, Token, Sources, Refusal, Fallback, Stopped, Done, FeedbackSaved, Ticket)
SERVER_EVENTS += (Resumed, AgentJoined, AgentTyping, Agent, AgentLeft, TicketStatus, Rated, Error)
SERVER_EVENTS += (Session,)


def read(content: dict) -> Question | Escalate | Feedback | Stop | Resume | Rate | Hello | Error:
    """The client's frame as its type, or the Error that refuses it."""
    kind = content.get("type")
    if kind == Question.type:
        return _question(content.get("text"))
    if kind == Escalate.type:
        email = content.get("email") or ""
        if not isinstance(email, str) or len(email) > 254:
            return Error("bad_email", _("That email address is not valid."))
        return Escalate(email.strip())
    if kind == Feedback.type:
        message_id, value = content.get("message_id"), content.get("value")
        if value not in ("up", "down") or not isinstance(message_id, int):
            return Error("bad_feedback", 'Send {"message_id": <id>, "value": "up" or "down"}.')
        return Feedback(message_id, value)
    if kind == Stop.type:
        return Stop()
    if kind == Resume.type:
        after = content.get("after")
        if not isinstance(after, int) or isinstance(after, bool) or not 0 <= after < 2**53:
            return Error("bad_resume", 'Send {"type": "resume", "after": <the last seq seen>}.')
        return Resume(after)
    if kind == Rate.type:
        return _rate(content.get("score"), content.get("comment") or "")
    if kind == Hello.type:
        return _hello(content)
    # Cut short: the type is the client's text, echoed back.
    return Error("unknown_type", format_lazy(_("Unknown message type {}."), repr(kind)[:40]))


def _question(text) -> Question | Error:
    if not isinstance(text, str) or not text.strip():
        return Error("empty_message", _("Type a question first."))
    if UNSTORABLE.search(text):
        return Error("bad_text", _("That message has characters we can't read."))
    if len(text) > settings.CHAT_MAX_MESSAGE_CHARS:
        return Error(
            "message_too_long",
            format_lazy(
                _("Please keep questions under {} characters."), settings.CHAT_MAX_MESSAGE_CHARS
            ),
        )
    return Question(text.strip())


def _rate(score, comment) -> Rate | Error:
    if not isinstance(score, int) or isinstance(score, bool) or not 1 <= score <= 5:
        return Error("bad_rating", _("Rate the help from 1 to 5."))
    if not isinstance(comment, str) or UNSTORABLE.search(comment):
        return Error("bad_rating", _("That comment has characters we can't read."))
    if len(comment) > RATE_COMMENT_MAX_CHARS:
        return Error(
            "bad_rating",
            format_lazy(_("Please keep the comment under {} characters."), RATE_COMMENT_MAX_CHARS),
        )
    return Rate(score, comment.strip())


def _hello(content: dict) -> Hello | Error:
    values = {name: content.get(name) or "" for name in HELLO_LIMITS}
    for name, value in values.items():
        if not isinstance(value, str) or len(value) > HELLO_LIMITS[name]:
            return Error("bad_hello", format_lazy(_("The hello's {} is not valid."), name))
        if UNSTORABLE.search(value):
            return Error(
                "bad_hello", format_lazy(_("The hello's {} has characters we can't read."), name)
            )
    return Hello(**{name: value.strip() for name, value in values.items()})


def field_names(kind) -> tuple[set[str], set[str]]:
    """A frame type's required and optional fields, besides `type` (for the table's test)."""
    required, optional = set(), set()
    for field in fields(kind):
        required_field = field.default is MISSING and field.default_factory is MISSING
        (required if required_field else optional).add(field.name)
    return required, optional
