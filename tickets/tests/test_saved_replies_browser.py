"""The reply box's saved replies in a real Chromium: search, click, and the reply box holds
the reply filled in for the ticket."""

import pytest

from chat.models import Conversation
from chat.tests import test_browser
from tickets.models import SavedReply, Ticket
from tickets.tests.helpers import agent_context

browser = test_browser.browser
live_url = test_browser.live_url

pytestmark = pytest.mark.django_db(transaction=True)


def test_an_agent_finds_a_saved_reply_and_inserts_it_filled_in(
    live_url, browser, django_user_model
):
    SavedReply.objects.create(
        title="Refund on its way",
        text="Hi {customer_name}, the refund for {ticket_number} is sent.",
    )
    SavedReply.objects.create(title="Password reset", text="Use the link on the login page.")
    ticket = Ticket.objects.create(conversation=Conversation.objects.create(), customer_name="Ada")

    staff = agent_context(browser, live_url, django_user_model)
    agent = staff.new_page()
    agent.goto(f"{live_url}/admin/tickets/ticket/{ticket.pk}/change/")
    agent.fill("#id_reply", "Thanks for waiting. ")

    agent.type("#saved-reply-search", "refund")
    agent.wait_for_function(
        "() => [...document.querySelectorAll('button.saved-reply')].map(b => b.textContent)"
        ".join('|') === 'Refund on its way'"
    )
    agent.click("button.saved-reply")

    assert agent.input_value("#id_reply") == (
        f"Thanks for waiting. Hi Ada, the refund for {ticket.number} is sent."
    )
