"""Reads of the customer's conversation for the support page."""

from dataclasses import asdict, dataclass

from chat.models import Message, token_hash
from core.links import link_allowed

# A reload shows the conversation's latest messages; older ones stay in the admin.
TRANSCRIPT_MESSAGES = 200


@dataclass(frozen=True)
class Source:
    title: str
    url: str  # "" when it may no longer be linked: shown as text
    section: str


def conversation_transcript(*, chat_token: str) -> list[Message]:
    """What the customer saw, oldest first: their questions, the answers (each with
    `shown_sources` and its thumbs) and agents' messages. An agent's message not yet
    delivered is left out: the socket delivers it when it connects."""
    latest = (
        Message.objects.filter(conversation__token_hash=token_hash(chat_token))
        .exclude(role=Message.Role.AGENT, delivered=False)
        .select_related("author")
        .order_by("-created_at", "-id")[:TRANSCRIPT_MESSAGES]
    )
    messages = list(reversed(latest))
    for message in messages:
        message.shown_sources = _sources(message.sources)
    return messages


def _sources(stored) -> list[Source]:
    """Stored sources as the page may show them. The stored list was checked when the
    answer was made, but DOCS_DOMAINS may have shrunk since: a link is checked again."""
    sources = []
    for source in stored if isinstance(stored, list) else []:
        if not isinstance(source, dict):
            continue
        url = str(source.get("url") or "")
        sources.append(
            Source(
                title=str(source.get("title") or source.get("slug") or "Untitled"),
                url=url if link_allowed(url) else "",
                section=str(source.get("section") or ""),
            )
        )
    return sources


def transcript_frames(*, chat_token: str) -> list[dict]:
    """The transcript as the widget's `session` frame carries it: what chat/message.html
    shows, as data for chat.js to draw (a third-party frame's page is rendered before its
    session is known)."""
    frames = []
    for message in conversation_transcript(chat_token=chat_token):
        frame = {"role": message.role, "id": message.pk, "text": message.text}
        if message.role == Message.Role.AGENT:
            frame["name"] = message.author_name
        elif message.role == Message.Role.ASSISTANT:
            frame["kind"] = "refusal" if message.refused else "fallback" if message.fallback else ""
            frame["note"] = _note(message)
            frame["feedback"] = message.feedback or ""
            frame["sources"] = [asdict(source) for source in message.shown_sources]
        frames.append(frame)
    return frames


def _note(message: Message) -> str:
    """Why the answer is cut short, as chat.js names it in the page's language."""
    if message.stopped:
        return "stopped"
    if message.interrupted and not message.fallback:
        return "interrupted"
    return ""
