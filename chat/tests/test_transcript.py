"""A reload shows the conversation so far: questions, answers with their sources and
thumbs, agents' messages and the ticket number, all as text."""

import pytest
from django.contrib.auth import get_user_model

from chat.models import SESSION_TOKEN, Conversation, Message, token_hash
from tickets.models import Ticket

pytestmark = pytest.mark.django_db


@pytest.fixture
def conversation(client):
    client.get("/")  # the page makes the session and its chat token
    key = token_hash(client.session[SESSION_TOKEN])
    return Conversation.objects.get_or_create(token_hash=key)[0]


def say(conversation, role, text, **fields) -> Message:
    return Message.objects.create(conversation=conversation, role=role, text=text, **fields)


def test_a_reload_shows_the_questions_answers_sources_and_thumbs(client, conversation):
    say(conversation, Message.Role.USER, "How do I reset my password?")
    answer = say(
        conversation,
        Message.Role.ASSISTANT,
        "Open Settings, then Security.",
        feedback="up",
        sources=[{"title": "Passwords", "url": "/kb/passwords/#reset", "slug": "passwords"}],
    )

    page = client.get("/").content.decode()

    assert "How do I reset my password?" in page
    assert f'data-message-id="{answer.pk}" data-feedback="up"' in page
    assert "Open Settings, then Security." in page
    assert '<a href="/kb/passwords/#reset" target="_blank" rel="noopener">Passwords</a>' in page


def test_an_agents_delivered_message_and_the_ticket_number_are_shown(client, conversation):
    agent = get_user_model().objects.create_user("sam", first_name="Sam")
    say(conversation, Message.Role.AGENT, "I've reset it for you.", author=agent)
    say(conversation, Message.Role.AGENT, "Not delivered yet.", author=agent, delivered=False)
    Ticket.objects.create(conversation=conversation, number="HD-7K3M9Q")

    page = client.get("/").content.decode()

    assert "I&#x27;ve reset it for you." in page
    assert "Not delivered yet." not in page  # the socket delivers it, once
    assert "Ticket HD-7K3M9Q created." in page


def test_model_output_and_questions_are_shown_as_text_never_markup(client, conversation, settings):
    settings.DOCS_DOMAINS = []
    say(conversation, Message.Role.USER, "<script>alert(1)</script>")
    say(
        conversation,
        Message.Role.ASSISTANT,
        '<img src=x onerror="alert(2)">',
        sources=[
            {"title": "<b>Evil</b>", "url": "javascript:alert(3)"},
            {"title": "Elsewhere", "url": "https://evil.example/phish"},
        ],
    )

    page = client.get("/").content.decode()

    assert "<script>alert(1)" not in page and "&lt;script&gt;alert(1)" in page
    assert "<img src=x" not in page and "&lt;img src=x" in page
    assert "javascript:" not in page and "evil.example" not in page
    assert '<span class="source-text">&lt;b&gt;Evil&lt;/b&gt;</span>' in page


def test_another_sessions_conversation_is_not_shown(client, conversation):
    other = Conversation.objects.create(token_hash=token_hash("another session's token"))
    say(other, Message.Role.USER, "Someone else's question")

    assert "Someone else" not in client.get("/").content.decode()
