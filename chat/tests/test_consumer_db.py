"""The socket's database work runs through database_sync_to_async only (which closes
stale connections around each call), so channels' per-event close_old_connections hop, to
the thread all sockets share, is skipped."""

import pytest
from channels import consumer as channels_consumer

from chat.models import Message
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
