"""The desk's brand is a setting: the product and assistant names, the prompt's intro, the
greeting, and the refusal and fallback texts reach the prompt, the page, the answers and
the agents' emails; the page shows them as text, whatever they hold."""

import pytest

from chat.echo import PromptEcho
from chat.models import Conversation
from chat.prompts import RULES, build_messages, system_prompt
from chat.tests.helpers import ask, chat_socket
from tickets.models import ReplyEmail
from tickets.services import ticket_escalate, ticket_reply
from tickets.tasks import send_reply_email

INTRO = "You are Ada, the assistant of Acme Projects, a planning app for builders."


@pytest.fixture
def acme(settings):
    settings.DESK_PRODUCT_NAME = "Acme Projects"
    settings.DESK_ASSISTANT_NAME = "Ada"
    settings.DESK_SYSTEM_PROMPT_INTRO = INTRO
    settings.SITE_NAME = "Acme Help"
    settings.DESK_GREETING = "Hello from Ada at Acme Projects."
    return settings


def test_the_intro_opens_the_system_prompt_before_its_rules(acme):
    prompt = system_prompt()

    assert prompt == f"{INTRO}\n\n{RULES}"
    messages = build_messages(question="hi", chunks=[], history=[])
    assert messages[0] == {"role": "system", "content": prompt}
    # The same for every question of the deployment: the LLM server's prefix cache reuses it.
    assert build_messages(question="other", chunks=[], history=[])[0] == messages[0]


def test_the_output_check_guards_the_deployments_own_prompt(acme):
    # A recital of the branded prompt is caught, not only of the demo's.
    assert PromptEcho().heard(system_prompt())


def test_without_an_intro_the_names_open_the_system_prompt(acme):
    acme.DESK_SYSTEM_PROMPT_INTRO = ""

    assert system_prompt() == (
        f"You are Ada, the customer-support assistant for Acme Projects.\n\n{RULES}"
    )


def test_an_unnamed_assistant_is_the_customer_support_assistant(acme):
    acme.DESK_ASSISTANT_NAME = ""
    acme.DESK_SYSTEM_PROMPT_INTRO = ""

    assert system_prompt() == (
        f"You are the customer-support assistant for Acme Projects.\n\n{RULES}"
    )


@pytest.mark.django_db
def test_the_page_shows_the_desks_name_and_greeting(client, acme):
    page = client.get("/").content.decode()

    assert "<title>Acme Help</title>" in page
    assert '<h1 id="desk-title">Acme Help</h1>' in page
    assert '<div class="text">Hello from Ada at Acme Projects.</div>' in page
    assert "Tasklane" not in page


@pytest.mark.django_db
def test_the_help_centre_is_titled_with_the_desks_name(client, acme):
    page = client.get("/kb/").content.decode()

    assert "· Acme Help</title>" in page
    assert "Tasklane" not in page


@pytest.mark.django_db
def test_the_brand_is_shown_as_text_never_as_markup(client, settings):
    # Settings are the operator's, but a name like "Q&A <Desk>" must not become markup.
    settings.SITE_NAME = "<b>Acme</b> Support"
    settings.DESK_GREETING = "Hi <script>alert(1)</script>"

    page = client.get("/").content.decode()

    assert "<title>&lt;b&gt;Acme&lt;/b&gt; Support</title>" in page
    assert '<h1 id="desk-title">&lt;b&gt;Acme&lt;/b&gt; Support</h1>' in page
    assert "Hi &lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "<b>Acme" not in page and "<script>alert" not in page


@pytest.mark.django_db(transaction=True)
async def test_the_refusal_text_is_a_setting(demo_kb, session_key, counting_llm, settings):
    settings.REFUSAL_TEXT = "Acme's articles don't cover that: press Escalate."
    socket = chat_socket(session_key)
    await socket.connect()
    received = await ask(socket, "What's a good recipe for banana bread?", timeout=15)
    await socket.disconnect()

    assert received[0]["type"] == "refusal"
    assert received[0]["text"] == "Acme's articles don't cover that: press Escalate."


@pytest.mark.django_db(transaction=True)
async def test_the_fallback_text_is_a_setting(demo_kb, session_key, dead_llm, settings):
    settings.FALLBACK_TEXT = "Ada is away; these Acme articles may help."
    socket = chat_socket(session_key)
    await socket.connect()
    received = await ask(socket, "How do I reset my password?", timeout=15)
    await socket.disconnect()

    assert received[0]["type"] == "fallback" and received[0]["sources"]
    assert received[0]["text"] == "Ada is away; these Acme articles may help."


@pytest.mark.django_db
def test_an_agents_email_is_signed_with_the_desks_name(acme, django_user_model, mailoutbox):
    agent = django_user_model.objects.create_user(
        "sam", password="x", is_staff=True, first_name="Sam", last_name="Agent"
    )
    ticket = ticket_escalate(conversation=Conversation.objects.create(), email="pat@example.com")
    message = ticket_reply(ticket=ticket, agent=agent, text="Fixed it.")

    send_reply_email.apply(args=[ReplyEmail.objects.get(message=message).pk])

    [sent] = mailoutbox
    assert "\n\n— Sam Agent, Acme Help\n" in sent.body
