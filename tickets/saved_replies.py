"""Saved replies: the reply box's search, and filling a reply's placeholders for a ticket."""

import re

from django.db.models import Q

from tickets.models import SavedReply, Ticket

# SECURITY: a reply's text is written in the admin, so it is not code. str.format would
# let "{ticket.conversation.token_hash}" or "{0.__class__}" walk attributes; only these
# exact names are replaced, and anything else in braces stays as written.
PLACEHOLDER = re.compile(r"\{(customer_name|ticket_number|agent_name)\}")


def saved_replies_search(*, query: str, limit: int = 10) -> list[SavedReply]:
    """Replies whose title or text holds `query` (any case), by title; the first `limit`
    of all of them for an empty query, so the box lists something before one types."""
    replies = SavedReply.objects.order_by("title", "pk")
    query = query.strip()
    if query:
        replies = replies.filter(Q(title__icontains=query) | Q(text__icontains=query))
    return list(replies[:limit])


def saved_reply_render(*, text: str, ticket: Ticket, agent) -> str:
    """The reply's text with its placeholders filled for this ticket and this agent."""
    values = {
        # A greeting reads "Hello there," rather than "Hello ," when the name is unknown.
        "customer_name": ticket.customer_name.strip() or "there",
        "ticket_number": ticket.number,
        "agent_name": agent.first_name or agent.get_username(),
    }
    return PLACEHOLDER.sub(lambda match: values[match.group(1)], text)
