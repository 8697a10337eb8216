"""A logged-in support agent for the browser tests."""

from helpdesk.testing import staff_context
from tickets.models import SavedReply, Ticket

# What "Support agents" may do in these tests.
AGENT_PERMISSIONS = ((Ticket, "view_ticket"), (Ticket, "change_ticket"),
                     (SavedReply, "view_savedreply"))  # fmt: skip


def agent_context(browser, live_url: str, django_user_model, name: str = "sam"):
    """A browser context with the admin session of an agent, first name "Sam"."""
    return staff_context(
        browser, live_url, django_user_model, name=name, permissions=AGENT_PERMISSIONS
    )
