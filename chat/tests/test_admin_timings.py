"""The admin shows each answer's per-stage timings on the conversation page."""

import pytest
from django.urls import reverse

from chat.models import Conversation, Message

pytestmark = pytest.mark.django_db


def test_the_conversation_page_shows_each_answers_timings(admin_client):
    conversation = Conversation.objects.create()
    Message.objects.create(conversation=conversation, role=Message.Role.USER, text="Hi?")
    Message.objects.create(
        conversation=conversation,
        role=Message.Role.ASSISTANT,
        text="Hello.",
        timings={
            "receive": 0.4,
            "embedding": 6.2,
            "retrieval": 2.5,
            "llm_ttft": 812.0,
            "first_token_out": 830.1,
            "total": 1900.0,
            "tokens": 38,
            "tokens_per_second": 96.5,
        },  # fmt: skip
    )

    page = admin_client.get(reverse("admin:chat_conversation_change", args=[conversation.pk]))

    assert page.status_code == 200
    assert (
        "receive 0.4 · embedding 6.2 · retrieval 2.5 · llm_ttft 812 · first_token_out 830.1 · "
        "total 1900 ms · 38 tokens at 96.5/s"
    ) in page.content.decode()


def test_a_message_without_timings_shows_none():
    assert Message(text="Hi?").timings_summary() == ""
