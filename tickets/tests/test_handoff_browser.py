"""The whole live handoff in a real Chromium, with two browser contexts, a customer and a
logged-in agent, and nothing reloaded on either side except by the agent's own buttons:
escalate, the live queue, take and reply with a saved reply, the customer's answer seen
live, hand back to the bot, the bot answering, resolve, and the customer's rating."""

import pytest

from chat.tests import test_browser
from chat.tests.test_csp_browser import violations, watch
from tickets.models import SavedReply, Ticket
from tickets.tests.helpers import agent_context

browser = test_browser.browser
live_url = test_browser.live_url

pytestmark = pytest.mark.django_db(transaction=True)

CONNECTED = "() => document.querySelector('#status').textContent === 'connected'"


def text_of(page, selector: str, expected: str) -> None:
    page.wait_for_function(
        "([s, t]) => [...document.querySelectorAll(s)].some(e => e.textContent.includes(t))",
        arg=[selector, expected],
        timeout=60_000,
    )


def test_an_escalated_chat_goes_to_a_person_and_back_to_the_bot_and_is_rated(
    live_url, browser, django_user_model
):
    SavedReply.objects.create(title="Greeting", text="Hi, I'm on {ticket_number} now.")
    agent = agent_context(browser, live_url, django_user_model).new_page()
    agent_csp = watch(agent)
    agent.goto(f"{live_url}/admin/tickets/ticket/queue/")
    agent.wait_for_selector("#queue-connection[data-state='live']")
    customer = browser.new_context().new_page()
    customer_csp = watch(customer)
    customer.goto(live_url + "/")
    customer.wait_for_function(CONNECTED)

    # 1. The customer escalates.
    customer.click("#escalate")
    text_of(customer, "#ticket", "HD-")
    number = Ticket.objects.get().number

    # 2. The ticket appears in the agent's live queue, without a reload.
    agent.wait_for_selector(f"tr.queue-row[data-number='{number}']")
    assert agent.inner_text("#queue-count") == "1"

    # 3. The agent takes it and replies with a saved reply.
    agent.click(f"tr.queue-row[data-number='{number}'] a")
    agent.click("text=Take the chat")
    text_of(customer, ".msg", "Sam joined the conversation.")
    text_of(customer, "#ticket-status", "A person is on it")
    agent.type("#saved-reply-search", "greet")
    agent.click("button.saved-reply")
    agent.click("input[name='_continue']")
    text_of(customer, ".msg.agent", f"Hi, I'm on {number} now.")

    # 4. The customer answers, and the agent sees it without a reload.
    agent.wait_for_selector("#live-customer[data-online='true']")
    customer.fill("#question", "Thanks! The export still fails at 99%.")
    customer.press("#question", "Enter")
    text_of(agent, "#live-messages", "The export still fails at 99%.")

    # 5. The agent hands back.
    agent.click("text=Hand back to the bot")
    text_of(customer, ".msg", "talking to our assistant again")

    # 6. The customer's next question is answered by the bot.
    customer.fill("#question", "How do I reset my password?")
    customer.press("#question", "Enter")
    customer.wait_for_selector(".msg.bot:not(.greeting):not(.streaming) .feedback", timeout=60_000)

    # 7. The agent resolves the ticket, and the customer rates it.
    agent.click("text=Close the chat (resolve)")
    customer.wait_for_selector("#rating:not([hidden])")
    text_of(customer, "#ticket-status", "Resolved")
    customer.check("#rating input[value='5']")
    customer.fill("#rating-comment", "Fast and friendly.")
    customer.click("#rate")
    text_of(customer, ".rating-thanks", "Thank you")

    ticket = Ticket.objects.get()
    assert (ticket.status, ticket.csat_score, ticket.csat_comment) == (
        "resolved",
        5,
        "Fast and friendly.",
    )
    agent.reload()
    assert "5/5" in agent.inner_text(".field-csat")
    # Every page and script of both sides ran under the Content-Security-Policy.
    assert violations(customer, customer_csp) == [] and violations(agent, agent_csp) == []
