"""The agent's live view: a staff socket on a ticket's conversation, open only to staff who
may view tickets, which shows the customer's messages as they are sent and whether the
customer is online; the agent's typing reaches the customer."""

import asyncio

import django_otp
import pytest
from channels.db import database_sync_to_async
from channels.testing import WebsocketCommunicator
from django.contrib.auth.models import Permission
from django.contrib.contenttypes.models import ContentType
from django.test import Client
from django_otp.plugins.otp_totp.models import TOTPDevice

from chat.models import Conversation
from chat.tests.helpers import OPEN, chat_socket, key_of
from knowledge.models import Article
from tickets.models import Ticket
from tickets.services import ticket_escalate, ticket_reply

pytestmark = pytest.mark.django_db(transaction=True)


def staff_socket(ticket_id: int, session_key: str | None):
    from helpdesk.asgi import application

    headers = [(b"host", b"127.0.0.1"), (b"origin", b"http://127.0.0.1")]
    if session_key:
        headers.append((b"cookie", f"sessionid={session_key}".encode()))
    socket = WebsocketCommunicator(application, f"/ws/agent/tickets/{ticket_id}/", headers=headers)
    OPEN.append(socket)
    return socket


@database_sync_to_async
def logged_in(user) -> str:
    """A session of this user's admin login, as the browser holds it."""
    client = Client()
    client.force_login(user, backend="django.contrib.auth.backends.ModelBackend")
    return client.cookies["sessionid"].value


@database_sync_to_async
def user_in(django_user_model, name: str, perms: tuple[str, ...], **fields):
    """A user with these permissions of the tickets app (the "Support agents" group has
    view_ticket; a transactional test's database has no groups: they come by migration)."""
    user = django_user_model.objects.create_user(name, password="x", **fields)
    for codename in perms:
        model = Article if codename.endswith("article") else Ticket
        kind = ContentType.objects.get_for_model(model)
        permission, _ = Permission.objects.get_or_create(
            codename=codename, content_type=kind, defaults={"name": codename}
        )
        user.user_permissions.add(permission)
    return user


@database_sync_to_async
def escalated(session_key: str):
    conversation, _ = Conversation.objects.get_or_create(token_hash=key_of(session_key))
    return ticket_escalate(conversation=conversation, email="")


@pytest.fixture
async def agent(django_user_model):
    return await user_in(
        django_user_model, "sam", ("view_ticket", "change_ticket"), is_staff=True, first_name="Sam"
    )


async def refused(socket) -> bool:
    connected, code = await socket.connect(timeout=10)
    return not connected and code == 4403


async def test_a_support_agent_may_open_the_ticket_socket(session_key, agent):
    ticket = await escalated(session_key)
    socket = staff_socket(ticket.pk, await logged_in(agent))
    assert await socket.connect(timeout=10) == (True, None)


async def test_nobody_else_may_open_it(session_key, django_user_model):
    ticket = await escalated(session_key)
    editor = await user_in(django_user_model, "ed", ("view_article",), is_staff=True)
    customer = await user_in(django_user_model, "pat", ("view_ticket",))  # not staff
    gone = await user_in(django_user_model, "old", ("view_ticket",), is_staff=True, is_active=False)

    # No login at all: the customer's own chat session, as a customer's page holds it.
    assert await refused(staff_socket(ticket.pk, session_key))
    assert await refused(staff_socket(ticket.pk, None))
    assert await refused(staff_socket(ticket.pk, await logged_in(editor)))
    assert await refused(staff_socket(ticket.pk, await logged_in(customer)))
    assert await refused(staff_socket(ticket.pk, await logged_in(gone)))


async def test_a_ticket_that_does_not_exist_is_refused_too(agent):
    assert await refused(staff_socket(999999, await logged_in(agent)))


async def test_the_agent_sees_the_customers_message_as_it_is_sent(session_key, agent):
    ticket = await escalated(session_key)
    await database_sync_to_async(ticket_reply)(ticket=ticket, agent=agent, text="Hello!")
    staff = staff_socket(ticket.pk, await logged_in(agent))
    await staff.connect(timeout=10)
    customer = chat_socket(session_key)
    await customer.connect(timeout=10)

    await customer.send_json_to({"type": "message", "text": "My export is still broken."})
    frames = []
    while not frames or frames[-1]["type"] != "done":
        frames.append(await staff.receive_json_from(timeout=10))

    stream = [f for f in frames if f["type"] != "customer"]  # presence, in between
    assert [f["type"] for f in stream] == ["asked", "done"]  # the bot stays silent
    assert stream[0]["text"] == "My export is still broken."
    assert stream[1]["seq"] == stream[0]["seq"] + 1


async def test_the_agent_sees_whether_the_customer_is_online(session_key, agent, settings):
    settings.CHAT_ABANDON_SECONDS = 1
    ticket = await escalated(session_key)
    staff = staff_socket(ticket.pk, await logged_in(agent))
    await staff.connect(timeout=10)
    assert await staff.receive_json_from(timeout=10) == {"type": "customer", "online": False}

    customer = chat_socket(session_key)
    await customer.connect(timeout=10)
    await customer.send_json_to({"type": "resume", "after": 0})
    assert await staff.receive_json_from(timeout=10) == {"type": "customer", "online": True}

    await customer.disconnect()
    assert await staff.receive_json_from(timeout=10) == {"type": "customer", "online": False}


async def test_the_customer_sees_the_agent_typing_at_most_every_two_seconds(session_key, agent):
    ticket = await escalated(session_key)
    customer = chat_socket(session_key)
    await customer.connect(timeout=10)
    staff = staff_socket(ticket.pk, await logged_in(agent))
    await staff.connect(timeout=10)

    for _ in range(5):
        await staff.send_json_to({"type": "typing"})
    assert await customer.receive_json_from(timeout=10) == {"type": "agent_typing", "name": "Sam"}
    await asyncio.sleep(0.5)
    assert await customer.receive_nothing(timeout=0.5)


async def test_a_customer_socket_cannot_make_the_agent_socket_do_anything(session_key, agent):
    ticket = await escalated(session_key)
    customer = chat_socket(session_key)
    await customer.connect(timeout=10)
    # A customer's frame names a staff event: it is refused like any unknown type.
    await customer.send_json_to({"type": "typing"})
    assert (await customer.receive_json_from(timeout=10))["code"] == "unknown_type"
    await customer.send_json_to({"type": "agent.typing", "frame": {"type": "agent"}})
    assert (await customer.receive_json_from(timeout=10))["code"] == "unknown_type"
    staff = staff_socket(ticket.pk, await logged_in(agent))
    await staff.connect(timeout=10)
    assert (await staff.receive_json_from(timeout=10))["type"] == "customer"
    assert await staff.receive_nothing(timeout=1)


@database_sync_to_async
def with_device(user, *, passed: bool) -> str:
    """A session of this user, who has a confirmed authenticator; `passed`: the session
    typed its code at login (django-otp keeps the device's id in the session)."""
    device = TOTPDevice.objects.create(user=user, name="Phone", confirmed=True)
    client = Client()
    client.force_login(user, backend="django.contrib.auth.backends.ModelBackend")
    if passed:
        session = client.session
        session[django_otp.DEVICE_ID_SESSION_KEY] = device.persistent_id
        session.save()
    return client.cookies["sessionid"].value


async def test_a_session_that_has_not_passed_its_second_factor_is_refused(session_key, agent):
    ticket = await escalated(session_key)
    assert await refused(staff_socket(ticket.pk, await with_device(agent, passed=False)))


async def test_a_session_that_passed_its_second_factor_may_open_it(session_key, agent):
    ticket = await escalated(session_key)
    socket = staff_socket(ticket.pk, await with_device(agent, passed=True))
    assert await socket.connect(timeout=10) == (True, None)


async def test_a_superuser_without_a_device_is_refused_when_2fa_is_required(
    session_key, django_user_model, settings
):
    settings.ADMIN_REQUIRE_2FA = True
    ticket = await escalated(session_key)
    boss = await database_sync_to_async(django_user_model.objects.create_superuser)("boss")
    assert await refused(staff_socket(ticket.pk, await logged_in(boss)))
