"""Whether the desk resolved a conversation: its Outcome.Resolution at a given clock.

The rules, in the order they are applied (each is tested at a fixed clock in
insights/tests/test_resolution.py):

- **Unresolved** when the conversation became a ticket (it was escalated); or any question
  in it was refused (`Message.refused`, and a customer message the injection screen stopped,
  `Message.screened`); or any answer was the fallback (`Message.fallback`, the model was
  down); or the customer came back for more help within the window (below); or the last
  answer got a thumbs-down.
- **A return within the window**: a customer message that arrives after the conversation
  had gone quiet (more than INSIGHTS_QUIET_MINUTES since the message before it, a bot
  answer), but within INSIGHTS_RETURN_HOURS of that answer. The answer did not settle it.
  A message after the window is a new question, and does not undo the earlier answer.
- **Confirmed** when not unresolved, and the customer gave an answer a thumbs-up, or wrote
  a thanks-it-worked message after an answer ("that helped", "thanks, that worked", "it
  works now", "solved", "perfect, thank you": CONFIRMATIONS). The list is short on purpose:
  "thanks" alone is politeness, not a verdict; any negation ("that didn't help", "not
  solved") or question mark makes it no confirmation at all.
- **Assumed** when not unresolved nor confirmed, the last message is a bot answer (neither
  refused nor the fallback), and INSIGHTS_RETURN_HOURS have passed since it without the
  customer coming back.
- **Pending** otherwise: the window after the last answer is still open, or the last
  question is still waiting for a reply. A question left with no bot answer for a whole
  window is unresolved, not pending forever: nobody answered it.

Closing words are not questions: a customer message that is a confirmation or a bare
acknowledgement ("thanks", "ok": ACKNOWLEDGEMENTS), and the bot's reply to it, are left out
of the rules above. Otherwise a "thanks!" written an hour later would count as a return,
and the bot's refusal to find "thanks!" in the knowledge base as a refused question.
"""

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings

from chat.models import Message
from insights.models import Outcome
from tickets.models import Ticket

Resolution = Outcome.Resolution
USER, ASSISTANT = Message.Role.USER, Message.Role.ASSISTANT

# Said after an answer, these mean it worked. Matched as whole words, case-insensitively,
# in a message with no negation and no question mark.
CONFIRMATIONS = (
    "that helped", "this helped", "it helped", "that helps", "this helps", "very helpful",
    "that worked", "this worked", "it worked", "that works", "it works now", "works now",
    "working now", "that fixed it", "fixed it", "that solved it", "solved", "resolved",
    "perfect thank you", "perfect thanks",
)  # fmt: skip
# Any of these words turns a would-be confirmation into a complaint or a new question:
# "that didn't help", "not solved", "it worked but now...", "still broken".
NEGATIONS = frozenset(
    "not no never nothing neither nor still but however unfortunately cannot".split()
    + "didnt doesnt dont isnt wasnt wont cant hasnt havent arent werent couldnt".split()
)
# A whole message of only these is politeness: it neither confirms nor asks for more.
ACKNOWLEDGEMENTS = frozenset(
    ["thanks", "thank you", "thx", "ty", "ok", "okay", "ok thanks", "ok thank you", "cheers",
     "great", "great thanks", "thanks a lot", "many thanks", "thank you very much", "bye",
     "thanks bye", "got it", "got it thanks"]
)  # fmt: skip
_CONFIRMATION = re.compile(r"\b(" + "|".join(re.escape(p) for p in CONFIRMATIONS) + r")\b")


@dataclass(frozen=True)
class Turn:
    """One message, as the rules read it."""

    role: str
    at: datetime
    text: str = ""
    refused: bool = False
    fallback: bool = False
    screened: str = ""
    feedback: str = ""

    @property
    def is_answer(self) -> bool:
        return self.role == ASSISTANT


def _words(text: str) -> str:
    """Lower case, apostrophes dropped ("didn't" -> "didnt"), punctuation to spaces."""
    text = text.lower().replace("'", "").replace("\u2019", "")
    return " ".join(re.sub(r"[^\w]+", " ", text).split())


def is_confirmation(text: str) -> bool:
    if "?" in text:
        return False
    words = _words(text)
    if NEGATIONS.intersection(words.split()):
        return False
    return bool(_CONFIRMATION.search(words))


def is_acknowledgement(text: str) -> bool:
    return _words(text) in ACKNOWLEDGEMENTS


def _substance(turns: Sequence[Turn]) -> tuple[list[Turn], bool]:
    """The turns the rules read (closing words and the bot's replies to them left out),
    and whether the customer confirmed after an answer."""
    kept, confirmed, closing, answered = [], False, False, False
    for turn in turns:
        if turn.role == USER:
            closing = not turn.screened and (
                is_acknowledgement(turn.text) or is_confirmation(turn.text)
            )
            confirmed = confirmed or (closing and answered and is_confirmation(turn.text))
        elif turn.is_answer:
            answered = answered or not closing
        if not (closing and turn.role in (USER, ASSISTANT)):
            kept.append(turn)
    return kept, confirmed


def _returned(turns: Sequence[Turn], *, quiet: timedelta, window: timedelta) -> bool:
    """A customer message after a bot answer, once the chat had gone quiet, in the window."""
    for before, turn in zip(turns, turns[1:], strict=False):
        if turn.role == USER and before.is_answer and quiet < turn.at - before.at <= window:
            return True
    return False


def _failed(turns: Sequence[Turn]) -> bool:
    return any(t.screened or (t.is_answer and (t.refused or t.fallback)) for t in turns)


def classify(
    *,
    messages: Sequence[Turn],
    escalated: bool,
    now: datetime,
    window: timedelta | None = None,
    quiet: timedelta | None = None,
) -> str:
    """The conversation's Outcome.Resolution at `now`, from its messages in order."""
    window = window or timedelta(hours=settings.INSIGHTS_RETURN_HOURS)
    quiet = quiet or timedelta(minutes=settings.INSIGHTS_QUIET_MINUTES)
    turns, confirmed_in_words = _substance(messages)
    if not turns:
        # Only closing words ("thanks"): nothing was asked, so nothing was resolved.
        quiet_since = now - messages[-1].at if messages else timedelta(0)
        return Resolution.PENDING if quiet_since < window else Resolution.UNRESOLVED
    answers = [t for t in turns if t.is_answer]
    last_answer = answers[-1] if answers else None
    if (
        escalated
        or _failed(turns)
        or _returned(turns, quiet=quiet, window=window)
        or (last_answer is not None and last_answer.feedback == "down")
    ):
        return Resolution.UNRESOLVED
    if confirmed_in_words or any(t.feedback == "up" for t in messages if t.is_answer):
        return Resolution.CONFIRMED
    if now - turns[-1].at < window:
        return Resolution.PENDING
    # The window has closed: after an answer the customer did not return; after anything
    # else (a question, an agent's message) the bot did not settle it.
    return Resolution.ASSUMED if turns[-1].is_answer else Resolution.UNRESOLVED


def conversation_resolution(*, conversation_id: int, now: datetime) -> str:
    """classify() for one stored conversation (the rollup reads many at once instead)."""
    rows = Message.objects.filter(conversation_id=conversation_id).order_by("created_at", "id")
    turns = [turn_from(m) for m in rows]
    escalated = Ticket.objects.filter(conversation_id=conversation_id).exists()
    return classify(messages=turns, escalated=escalated, now=now)


def turn_from(message: Message) -> Turn:
    return Turn(
        role=message.role,
        at=message.created_at,
        text=message.text if message.role == USER else "",
        refused=message.refused,
        fallback=message.fallback,
        screened=message.screened,
        feedback=message.feedback,
    )
