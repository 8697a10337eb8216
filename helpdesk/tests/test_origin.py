"""The chat socket only opens for pages served from ALLOWED_HOSTS
(helpdesk/asgi.py: AllowedHostsOriginValidator), so another site cannot open one with a
visitor's session cookie."""

import pytest

from chat.tests.helpers import chat_socket, hang_up_all

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(autouse=True)
async def _hang_up():
    yield
    await hang_up_all()


async def _connects(session_key: str, origin: bytes | None) -> bool:
    socket = chat_socket(session_key, origin=origin)
    connected, _ = await socket.connect()
    return connected


async def test_it_accepts_the_sites_own_origin(session_key):
    assert await _connects(session_key, b"http://127.0.0.1")
    assert await _connects(session_key, b"http://localhost:8000")


@pytest.mark.parametrize(
    "origin",
    [
        b"https://evil.example",
        b"http://127.0.0.1.evil.example",  # the allowed host as a prefix
        b"http://evil.example/127.0.0.1",
        b"null",  # sandboxed iframes and file:// pages
    ],
)
async def test_it_rejects_sockets_from_foreign_origins(session_key, origin):
    assert not await _connects(session_key, origin)


async def test_it_rejects_a_socket_without_an_origin(session_key):
    assert not await _connects(session_key, None)
