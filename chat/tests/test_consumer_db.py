"""The socket's database work runs through database_sync_to_async only, so channels'
per-event close_old_connections hop (to the thread all sockets share) is skipped, and a
connection the database dropped is still replaced before the next answer uses it."""

import psycopg
import pytest
from channels import consumer as channels_consumer
from channels.db import database_sync_to_async
from django.db import connection

from chat.models import Message
from chat.services import _on_db
from chat.tests.helpers import ask, chat_socket

pytestmark = pytest.mark.django_db(transaction=True)


async def test_events_skip_channels_close_old_connections_hop(demo_kb, session_key, monkeypatch):
    hops = []

    async def counted():
        hops.append(1)

    monkeypatch.setattr(channels_consumer, "aclose_old_connections", counted)
    socket = chat_socket(session_key)
    await socket.connect()
    received = await ask(socket, "I forgot my password, how do I get back in?")
    message_id = received[-1]["message_id"]
    await socket.send_json_to({"type": "feedback", "message_id": message_id, "value": "up"})
    assert (await socket.receive_json_from(timeout=10))["type"] == "feedback_saved"
    await socket.disconnect()

    assert received[-1]["type"] == "done"
    assert hops == []
    assert (await Message.objects.aget(pk=message_id)).feedback == "up"


def _backend_pid() -> int:
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        return cursor.fetchone()[0]


def _terminate(pid: int) -> bool:
    # From a connection of its own: the pool might hand this call the very one it ends.
    # With a timeout Postgres waits until the backend has exited, as after a restart.
    with psycopg.connect(**connection.get_connection_params()) as own:
        return own.execute("SELECT pg_terminate_backend(%s, 5000)", [pid]).fetchone()[0]


async def test_a_connection_the_database_dropped_is_replaced_before_the_next_call():
    # Outside WebsocketCommunicator, which turns channels' closing of connections off.
    dropped = await _on_db(_backend_pid)()
    assert await database_sync_to_async(_terminate)(dropped)

    assert await _on_db(_backend_pid)() != dropped
