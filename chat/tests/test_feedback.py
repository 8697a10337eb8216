import pytest

from chat.models import Conversation, Message
from chat.tests.helpers import ask, chat_socket

pytestmark = pytest.mark.django_db(transaction=True)


async def test_a_thumbs_up_is_stored_with_the_answer(demo_kb, session_key):
    socket = chat_socket(session_key)
    await socket.connect()
    received = await ask(socket, "How do I export my data?")
    message_id = received[-1]["message_id"]

    await socket.send_json_to({"type": "feedback", "message_id": message_id, "value": "up"})
    assert await socket.receive_json_from(timeout=10) == {
        "type": "feedback_saved",
        "message_id": message_id,
    }
    # Changing one's mind replaces the earlier choice.
    await socket.send_json_to({"type": "feedback", "message_id": message_id, "value": "down"})
    await socket.receive_json_from(timeout=10)

    assert (await Message.objects.aget(pk=message_id)).feedback == "down"


async def test_it_refuses_feedback_on_someone_elses_answer(session_key):
    other = await Conversation.objects.acreate()
    theirs = await Message.objects.acreate(conversation=other, role="assistant", text="Hi")
    socket = chat_socket(session_key)
    await socket.connect()

    await socket.send_json_to({"type": "feedback", "message_id": theirs.pk, "value": "up"})
    reply = await socket.receive_json_from(timeout=10)
    await socket.send_json_to({"type": "feedback", "message_id": theirs.pk, "value": "meh"})
    malformed = await socket.receive_json_from(timeout=10)

    assert (reply["type"], reply["code"]) == ("error", "bad_feedback")
    assert (malformed["type"], malformed["code"]) == ("error", "bad_feedback")
    assert (await Message.objects.aget(pk=theirs.pk)).feedback == ""
