"""Reads of the customer's conversation for the support page."""

from dataclasses import dataclass

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
