"""Transcripts are customer and model text: the admin shows them as text, never as markup."""

import pytest
from django.contrib.auth.models import Group, User

from chat.models import Conversation, Message
from tickets.models import Ticket

pytestmark = pytest.mark.django_db

CUSTOMER = "<script>alert(1)</script><img src=x onerror=alert(1)>"
BOT = 'See <a href="javascript:alert(2)">this</a> <iframe src="https://evil.example"></iframe>'
SOURCE_TITLE = "<img src=y onerror=alert(3)>"
RAW = ["<script>alert(1)</script>", "<img src=x", "<img src=y", 'href="javascript:', "<iframe"]


@pytest.fixture
def staff(django_user_model) -> User:
    # An agent, not a superuser: the role that reads transcripts every day.
    user = django_user_model.objects.create_user("agent", password="x", is_staff=True)
    user.groups.add(Group.objects.get(name="Support agents"))
    return user


@pytest.fixture
def ticket() -> Ticket:
    conversation = Conversation.objects.create()
    Message.objects.create(conversation=conversation, role="user", text=CUSTOMER)
    Message.objects.create(
        conversation=conversation,
        role="assistant",
        text=BOT,
        sources=[{"title": SOURCE_TITLE, "url": "javascript:alert(4)", "slug": "x"}],
    )
    return Ticket.objects.create(conversation=conversation, subject=CUSTOMER[:100])


def assert_escaped(page: str) -> None:
    for raw in RAW:
        assert raw not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;&lt;img src=x onerror=alert(1)&gt;" in page


def test_the_ticket_page_shows_hostile_messages_as_text(client, staff, ticket):
    client.force_login(staff)

    response = client.get(f"/admin/tickets/ticket/{ticket.pk}/change/")

    assert response.status_code == 200
    page = response.content.decode()
    assert_escaped(page)
    assert "See &lt;a href=&quot;javascript:alert(2)&quot;&gt;this&lt;/a&gt;" in page


def test_the_ticket_list_shows_a_hostile_subject_as_text(client, staff, ticket):
    client.force_login(staff)

    page = client.get("/admin/tickets/ticket/").content.decode()

    assert "<script>alert(1)</script>" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page


def test_the_conversation_page_shows_messages_and_sources_as_text(client, staff, ticket):
    client.force_login(staff)

    response = client.get(f"/admin/chat/conversation/{ticket.conversation_id}/change/")

    assert response.status_code == 200
    page = response.content.decode()
    assert_escaped(page)
    assert "&lt;img src=y onerror=alert(3)&gt;" in page
