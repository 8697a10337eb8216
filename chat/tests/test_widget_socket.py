"""The widget's socket: its session comes in its first frame, never from a cookie."""

import time

import jwt
import pytest
from channels.db import database_sync_to_async
from channels.testing import WebsocketCommunicator

from chat.models import Conversation
from chat.tests.helpers import OPEN, ask
from widget.models import Site

DESK = b"http://127.0.0.1"


def widget_socket(key: str, origin: bytes | None = DESK) -> WebsocketCommunicator:
    from helpdesk.asgi import application

    headers = [(b"host", b"127.0.0.1")]
    if origin is not None:
        headers.append((b"origin", origin))
    socket = WebsocketCommunicator(application, f"/ws/widget/{key}/", headers=headers)
    socket.scope["client"] = ["127.0.0.1", 50000]
    OPEN.append(socket)
    return socket


def make_site(**fields) -> Site:
    fields.setdefault("name", "Shop")
    fields.setdefault("allowed_origins", "https://shop.example")
    return Site.objects.create(**fields)


async def hello(socket, **frame) -> dict:
    """Connect, say hello, and return the `session` frame."""
    connected, _ = await socket.connect()
    assert connected
    await socket.send_json_to({"type": "hello", **frame})
    reply = await socket.receive_json_from(timeout=10)
    while reply["type"] == "error" and reply["code"] == "bad_identity":
        reply = await socket.receive_json_from(timeout=10)
    return reply


def signed(secret: str, **claims) -> str:
    now = int(time.time())
    claims = {"sub": "u-42", "email": "ada@example.com", "iat": now, "exp": now + 600, **claims}
    return jwt.encode(claims, secret, algorithm="HS256")


@pytest.mark.django_db(transaction=True)
async def test_a_widget_socket_answers_after_its_hello_and_resumes_with_its_token(demo_kb):
    site = await database_sync_to_async(make_site)()
    socket = widget_socket(site.key)
    session = await hello(socket, page_url="https://shop.example/help?order=123#x")
    assert session["type"] == "session" and session["token"] and session["transcript"] == []
    await socket.send_json_to({"type": "resume", "after": session["resume_after"]})
    await socket.receive_json_from(timeout=10)  # resumed
    frames = await ask(socket, "How do I reset my password?")
    assert frames[-1]["type"] == "done"
    await socket.disconnect()

    again = widget_socket(site.key)
    resumed = await hello(again, token=session["token"])
    roles = [m["role"] for m in resumed["transcript"]]
    assert roles == ["user", "assistant"]
    assert resumed["transcript"][0]["text"] == "How do I reset my password?"
    assert resumed["token"] != session["token"]  # a fresh one at every connect
    conversation = await Conversation.objects.aget()
    assert conversation.site_id == site.pk
    # The host page, without the query or fragment that could hold anyone's data.
    assert conversation.page_url == "https://shop.example/help"


@pytest.mark.django_db(transaction=True)
async def test_a_widget_socket_refuses_everything_before_its_hello(db):
    site = await database_sync_to_async(make_site)()
    socket = widget_socket(site.key)
    await socket.connect()
    await socket.send_json_to({"type": "message", "text": "hi"})
    assert (await socket.receive_json_from())["code"] == "no_session"
    await socket.send_json_to({"type": "hello", "token": 7})
    assert (await socket.receive_json_from())["code"] == "bad_hello"
    assert await Conversation.objects.acount() == 0


@pytest.mark.django_db(transaction=True)
async def test_a_forged_or_other_sites_token_starts_a_new_conversation(db):
    shop, other = await database_sync_to_async(lambda: (make_site(), make_site(name="B")))()
    first = await hello(widget_socket(shop.key))
    forged = first["token"][:-3] + ("AAA" if not first["token"].endswith("AAA") else "BBB")
    assert (await hello(widget_socket(shop.key), token=forged))["token"] != first["token"]
    # The other site's socket does not take the shop's token.
    elsewhere = await hello(widget_socket(other.key), token=first["token"])
    conversations = await database_sync_to_async(
        lambda: list(Conversation.objects.values_list("site_id", flat=True))
    )()
    assert sorted(conversations) == sorted([shop.pk, shop.pk, other.pk])
    assert elsewhere["transcript"] == []


@pytest.mark.django_db(transaction=True)
async def test_only_the_desks_own_origin_opens_the_widget_socket(db):
    site = await database_sync_to_async(make_site)()
    # The site's own page may frame the widget, but not open its socket itself.
    for origin in (b"https://shop.example", b"https://evil.example", None):
        connected, _ = await widget_socket(site.key, origin=origin).connect()
        assert not connected, origin


@pytest.mark.django_db(transaction=True)
async def test_an_unknown_or_inactive_site_is_refused(db):
    site = await database_sync_to_async(make_site)(active=False)
    for key in (site.key, "nope"):
        socket = widget_socket(key)
        await socket.connect()
        assert (await socket.receive_json_from())["code"] == "unknown_site"
        assert (await socket.receive_output())["type"] == "websocket.close"


@pytest.mark.django_db(transaction=True)
async def test_a_signed_identity_marks_the_conversation_verified(db):
    site = await database_sync_to_async(make_site)()
    await hello(widget_socket(site.key), identity=signed(site.secret))
    conversation = await Conversation.objects.aget()
    assert (conversation.verified_id, conversation.verified_email) == ("u-42", "ada@example.com")


@pytest.mark.django_db(transaction=True)
async def test_a_forged_signature_is_refused_and_the_conversation_stays_unverified(db):
    site = await database_sync_to_async(make_site)()
    forgeries = [
        signed("not-the-site-secret"),
        signed(site.secret, exp=int(time.time()) - 120),  # expired
        signed(site.secret, exp=int(time.time()) + 30 * 24 * 3600),  # lives for a month
        jwt.encode({"sub": "u-42", "iat": 1, "exp": 2**40}, key=None, algorithm="none"),
        signed(site.secret)[:-4] + "abcd",
    ]
    for forged in forgeries:
        socket = widget_socket(site.key)
        await socket.connect()
        await socket.send_json_to({"type": "hello", "identity": forged})
        error = await socket.receive_json_from()
        assert error["code"] == "bad_identity", forged
        assert (await socket.receive_json_from())["type"] == "session"
    verified = await Conversation.objects.exclude(verified_id="").acount()
    assert verified == 0


@pytest.mark.django_db(transaction=True)
async def test_another_signed_in_user_gets_a_conversation_of_their_own(db):
    site = await database_sync_to_async(make_site)()
    first = await hello(widget_socket(site.key), identity=signed(site.secret))
    await hello(
        widget_socket(site.key), token=first["token"], identity=signed(site.secret, sub="u-7")
    )
    ids = await database_sync_to_async(
        lambda: sorted(Conversation.objects.values_list("verified_id", flat=True))
    )()
    assert ids == ["u-42", "u-7"]


@pytest.mark.django_db(transaction=True)
async def test_a_page_on_another_origin_is_not_recorded(db):
    site = await database_sync_to_async(make_site)()
    await hello(widget_socket(site.key), page_url="https://evil.example/x", page_title="Hi")
    conversation = await Conversation.objects.aget()
    assert conversation.page_url == ""


@pytest.mark.django_db(transaction=True)
async def test_a_second_hello_is_refused(db):
    site = await database_sync_to_async(make_site)()
    socket = widget_socket(site.key)
    await hello(socket)
    await socket.send_json_to({"type": "hello"})
    while (frame := await socket.receive_json_from(timeout=10))["type"] != "error":
        pass
    assert frame["code"] == "bad_hello"


@pytest.mark.django_db(transaction=True)
async def test_a_german_sites_socket_speaks_german(db):
    site = await database_sync_to_async(make_site)(language="de")
    socket = widget_socket(site.key)
    await socket.connect()
    await socket.send_json_to({"type": "message", "text": "hi"})
    assert (await socket.receive_json_from())["message"].startswith("Beginnen Sie mit")
    await hello(socket)
    await socket.send_json_to({"type": "message", "text": "  "})
    while (frame := await socket.receive_json_from(timeout=10))["type"] != "error":
        pass
    assert frame["message"] == "Bitte geben Sie zuerst eine Frage ein."


@pytest.mark.django_db(transaction=True)
async def test_the_support_pages_socket_speaks_the_browsers_language(session_key):
    from chat.tests.helpers import chat_socket

    for language, expected in (("de-DE,de;q=0.9", "Bitte geben"), ("fr, en;q=0.5", "Type a")):
        socket = chat_socket(session_key, headers=[(b"accept-language", language.encode())])
        await socket.connect()
        await socket.send_json_to({"type": "message", "text": ""})
        while (frame := await socket.receive_json_from(timeout=10))["type"] != "error":
            pass
        assert frame["message"].startswith(expected), language
        await socket.disconnect()
