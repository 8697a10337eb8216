"""The ticket's page in the admin, in a real Chromium: the customer's messages appear live,
and the customer sees the agent typing."""

import pytest

from chat.tests import test_browser
from tickets.models import Ticket
from tickets.tests.helpers import agent_context

browser = test_browser.browser
live_url = test_browser.live_url

pytestmark = pytest.mark.django_db(transaction=True)

CONNECTED = "() => document.querySelector('#status').textContent === 'connected'"


def test_the_agent_sees_the_customer_live_and_the_customer_sees_the_agent_typing(
    live_url, browser, django_user_model
):
    customer = browser.new_context().new_page()
    customer.goto(live_url + "/")
    customer.wait_for_function(CONNECTED)
    customer.click("#escalate")
    customer.wait_for_function(
        "() => document.querySelector('#ticket').textContent.includes('HD-')"
    )
    ticket = Ticket.objects.get(
        number=customer.inner_text("#ticket").split("Ticket ")[1].split()[0]
    )

    staff = agent_context(browser, live_url, django_user_model)
    agent = staff.new_page()
    agent.goto(f"{live_url}/admin/tickets/ticket/{ticket.pk}/change/")
    agent.wait_for_function(
        "() => document.querySelector('#live-customer').dataset.online === 'true'"
    )

    customer.fill("#question", "Is anyone there? My export keeps failing.")
    customer.press("#question", "Enter")
    agent.wait_for_function(
        "() => document.querySelector('#live-messages').textContent"
        ".includes('My export keeps failing.')"
    )

    agent.type("#id_reply", "Looking")
    customer.wait_for_selector(".agent-typing")
    assert customer.inner_text(".agent-typing") == "Sam is typing…"
