"""Saved replies: their placeholders, their search, and who may use or write them."""

import pytest
from django.contrib.auth.models import Group, Permission, User

from chat.models import Conversation
from tickets.models import SavedReply, Ticket
from tickets.saved_replies import saved_replies_search, saved_reply_render

pytestmark = pytest.mark.django_db


def make_user(username: str, *, groups=(), codenames=(), is_staff=True, first_name="") -> User:
    user = User.objects.create_user(username, is_staff=is_staff, first_name=first_name)
    user.groups.add(*Group.objects.filter(name__in=groups))
    user.user_permissions.add(
        *Permission.objects.filter(content_type__app_label="tickets", codename__in=codenames)
    )
    return user


def logged_in(client, user: User):
    client.force_login(user, backend="django.contrib.auth.backends.ModelBackend")
    return client


@pytest.fixture
def ticket() -> Ticket:
    return Ticket.objects.create(conversation=Conversation.objects.create(), customer_name="Ada")


@pytest.fixture
def replies() -> None:
    SavedReply.objects.create(
        title="Refund", text="Hi {customer_name}, {ticket_number} is refunded."
    )
    SavedReply.objects.create(title="Password reset", text="Use the link on the login page.")
    SavedReply.objects.create(title="Apology", text="Sorry about the LOGIN trouble.")


def search_url(ticket: Ticket, q: str = "") -> str:
    return f"/admin/tickets/ticket/{ticket.pk}/saved-replies/?q={q}"


def test_placeholders_are_filled_for_the_ticket_and_the_agent(ticket):
    agent = User(username="sam", first_name="Sam")
    text = "Hello {customer_name}, about {ticket_number}: {agent_name} here."

    assert saved_reply_render(text=text, ticket=ticket, agent=agent) == (
        f"Hello Ada, about {ticket.number}: Sam here."
    )


def test_a_customer_without_a_name_is_there_and_an_agent_without_one_is_their_username(ticket):
    ticket.customer_name = ""

    rendered = saved_reply_render(
        text="Hello {customer_name}, {agent_name} here.", ticket=ticket, agent=User(username="sam")
    )

    assert rendered == "Hello there, sam here."


def test_attribute_access_and_unknown_placeholders_are_left_as_written(ticket):
    # SECURITY: what str.format would resolve (and leak) stays exactly as the editor wrote it.
    text = (
        "{ticket.conversation.token_hash} {0.__class__} {customer_name.__class__} "
        "{ticket_number!r} {agent_name:>20} {unknown} {} {"
    )

    assert saved_reply_render(text=text, ticket=ticket, agent=User(username="sam")) == text


def test_search_finds_by_title_or_text_in_any_case_ordered_by_title(replies):
    by_title = saved_replies_search(query="refund")
    by_text = saved_replies_search(query="login")

    assert [r.title for r in by_title] == ["Refund"]
    assert [r.title for r in by_text] == ["Apology", "Password reset"]


def test_an_empty_search_lists_the_first_replies_by_title(replies):
    assert [r.title for r in saved_replies_search(query="", limit=2)] == [
        "Apology",
        "Password reset",
    ]


def test_an_agent_gets_matching_replies_filled_in_for_the_ticket(client, ticket, replies):
    agent = make_user("agent", groups=["Support agents"], first_name="Sam")

    response = logged_in(client, agent).get(search_url(ticket, "refund"))

    assert response.status_code == 200
    [found] = response.json()["replies"]
    assert found["title"] == "Refund"
    assert found["text"] == f"Hi Ada, {ticket.number} is refunded."
    assert found["id"] == SavedReply.objects.get(title="Refund").pk


def test_the_search_is_cut_at_100_characters(client, ticket):
    SavedReply.objects.create(title="Long", text="a" * 100)
    agent = make_user("agent", groups=["Support agents"])

    response = logged_in(client, agent).get(search_url(ticket, "a" * 100 + "b"))

    assert [r["title"] for r in response.json()["replies"]] == ["Long"]


def test_it_refuses_staff_who_may_not_view_saved_replies(client, ticket, replies):
    staff = make_user("staff", codenames=["view_ticket", "change_ticket"])

    assert logged_in(client, staff).get(search_url(ticket)).status_code == 403


def test_it_refuses_staff_who_may_not_view_tickets(client, ticket, replies):
    editor = make_user("editor", groups=["Content editors"])
    assert editor.has_perm("tickets.view_savedreply")

    assert logged_in(client, editor).get(search_url(ticket)).status_code == 403


def test_it_sends_a_user_who_is_not_staff_to_the_admin_login(client, ticket, replies):
    customer = make_user("customer", codenames=["view_ticket", "view_savedreply"], is_staff=False)

    response = logged_in(client, customer).get(search_url(ticket))

    assert response.status_code == 302
    assert response.url.startswith("/admin/login/")


def test_it_is_404_for_a_ticket_that_does_not_exist(client, ticket):
    agent = make_user("agent", groups=["Support agents"])

    response = logged_in(client, agent).get(f"/admin/tickets/ticket/{ticket.pk + 1}/saved-replies/")

    assert response.status_code == 404


def test_the_ticket_page_offers_the_search_only_to_staff_who_may_use_it(client, ticket):
    url = f"/admin/tickets/ticket/{ticket.pk}/change/"
    agent = make_user("agent", groups=["Support agents"])
    staff = make_user("staff", codenames=["view_ticket", "change_ticket"])

    endpoint = f"/admin/tickets/ticket/{ticket.pk}/saved-replies/"
    assert f'data-url="{endpoint}"' in logged_in(client, agent).get(url).text
    assert 'id="saved-replies"' not in logged_in(client, staff).get(url).text


def test_an_agent_reads_saved_replies_but_cannot_write_them(client, replies):
    agent = logged_in(client, make_user("agent", groups=["Support agents"]))
    reply = SavedReply.objects.get(title="Refund")

    assert agent.get("/admin/tickets/savedreply/").status_code == 200
    assert agent.get("/admin/tickets/savedreply/add/").status_code == 403
    assert agent.post(f"/admin/tickets/savedreply/{reply.pk}/change/", {
        "title": "Hacked", "text": "x"
    }).status_code == 403  # fmt: skip
    deleted = agent.post(f"/admin/tickets/savedreply/{reply.pk}/delete/", {"post": "yes"})
    assert deleted.status_code == 403
    assert SavedReply.objects.filter(title="Refund").exists()


def test_a_content_editor_writes_saved_replies(client):
    editor = logged_in(client, make_user("editor", groups=["Content editors"]))

    assert editor.get("/admin/tickets/savedreply/add/").status_code == 200
    response = editor.post(
        "/admin/tickets/savedreply/add/", {"title": "Welcome", "text": "Hi {customer_name}!"}
    )

    assert response.status_code == 302
    assert SavedReply.objects.get(title="Welcome").text == "Hi {customer_name}!"
