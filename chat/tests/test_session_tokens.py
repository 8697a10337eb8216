"""Conversations are found by a token of their own, never by the Django session key.

The session key is a live login: an agent who could read a customer's (or a superuser's)
key in the admin could paste it into a cookie and become them.
"""

import hashlib

import pytest
from channels.db import database_sync_to_async
from django.contrib.sessions.backends.cache import SessionStore
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

from chat.models import Conversation, Message
from chat.services import session_chat_token
from chat.tests.helpers import ask, chat_socket, key_of


def _stored_anywhere(text: str) -> bool:
    """Does any column of any conversation or message hold `text`?"""
    rows = list(Conversation.objects.values()) + list(Message.objects.values())
    return any(text in str(value) for row in rows for value in row.values())


@pytest.mark.django_db(transaction=True)
async def test_a_customers_session_key_is_stored_nowhere_and_shown_nowhere(
    demo_kb, session_key, admin_user
):
    socket = chat_socket(session_key)
    await socket.connect()
    await ask(socket, "How do I reset my password?")
    conversation = await Conversation.objects.aget()

    assert not await database_sync_to_async(_stored_anywhere)(session_key)
    page = await database_sync_to_async(_admin_page)(admin_user, conversation.pk)
    assert session_key not in page
    # Nor the token that leads to the conversation, nor its hash.
    assert SessionStore(session_key=session_key)["chat_token"] not in page
    assert conversation.token_hash not in page


def _admin_page(user, pk: int) -> str:
    from django.test import Client

    client = Client()
    client.force_login(user)
    return client.get(f"/admin/chat/conversation/{pk}/change/").content.decode()


@pytest.mark.django_db(transaction=True)
async def test_a_staff_member_who_chats_leaves_no_way_into_their_login(
    demo_kb, django_user_model, admin_user
):
    from django.test import Client

    staff = await database_sync_to_async(django_user_model.objects.create_superuser)(
        "boss", password="x"
    )
    browser = Client()
    await database_sync_to_async(browser.force_login)(staff)
    await database_sync_to_async(browser.get)("/")
    login = browser.cookies["sessionid"].value
    socket = chat_socket(login)
    await socket.connect()
    await ask(socket, "How do I reset my password?")

    conversation = await Conversation.objects.aget()
    assert conversation.token_hash != hashlib.sha256(login.encode()).hexdigest()
    assert not await database_sync_to_async(_stored_anywhere)(login)
    # Another admin reading that conversation sees nothing to log in with.
    assert login not in await database_sync_to_async(_admin_page)(admin_user, conversation.pk)


def test_the_chat_socket_carries_the_session_but_no_user():
    from channels.auth import AuthMiddleware

    from helpdesk.asgi import application

    layer, seen = application.application_mapping["websocket"], []
    while layer is not None:
        seen.append(type(layer))
        layer = getattr(layer, "inner", None) or getattr(layer, "application", None)
    assert AuthMiddleware not in seen


@pytest.mark.django_db(transaction=True)
async def test_a_conversations_hash_in_a_cookie_opens_no_session(session_key):
    socket = chat_socket(key_of(session_key))
    await socket.connect()
    assert (await socket.receive_json_from(timeout=5))["code"] == "no_session"


def test_two_sessions_get_different_tokens_and_a_session_keeps_its_own(db):
    first, second = SessionStore(), SessionStore()
    assert session_chat_token(session=first) != session_chat_token(session=second)
    assert session_chat_token(session=first) == session_chat_token(session=first)


@pytest.mark.django_db(transaction=True)
def test_the_migration_hashes_existing_session_keys_and_the_chat_carries_on(session_key):
    executor = MigrationExecutor(connection)
    executor.migrate([("chat", "0005_screening_and_timings")])
    old = executor.loader.project_state([("chat", "0005_screening_and_timings")]).apps
    legacy = SessionStore()
    legacy["started"] = True
    legacy.create()
    old.get_model("chat", "Conversation").objects.create(session_key=legacy.session_key)

    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate(executor.loader.graph.leaf_nodes())

    conversation = Conversation.objects.get()
    assert conversation.token_hash == hashlib.sha256(legacy.session_key.encode()).hexdigest()
    # The customer's next visit finds the same conversation; a new visitor gets a new one.
    assert session_chat_token(session=SessionStore(session_key=legacy.session_key))
    assert key_of(legacy.session_key) == conversation.token_hash
    assert key_of(session_key) != conversation.token_hash
