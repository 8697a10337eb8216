import pytest

from chat.models import Message
from chat.tests.helpers import answer_text, ask, chat_socket

pytestmark = pytest.mark.django_db(transaction=True)

# Each kind of bad input, and the error code it gets (CHAT_MAX_MESSAGE_CHARS = 50).
BAD_INPUT = [
    ({"raw": "{not json"}, "bad_json"),
    ({"raw": "[1, 2]"}, "bad_json"),
    ({"raw": "[" * 50_000}, "bad_json"),  # deeper than the JSON parser recurses
    ({"binary": b"\x00\x01"}, "bad_frame"),
    ({"text": {"type": "dance"}}, "unknown_type"),
    ({"text": {"text": "no type"}}, "unknown_type"),
    ({"text": {"type": "message"}}, "empty_message"),
    ({"text": {"type": "message", "text": "  "}}, "empty_message"),
    ({"text": {"type": "message", "text": 5}}, "empty_message"),
    ({"text": {"type": "message", "text": "x" * 51}}, "message_too_long"),
    # Valid JSON that Postgres cannot store: a NUL, a lone surrogate.
    ({"raw": '{"type": "message", "text": "a\\u0000b"}'}, "bad_text"),
    ({"raw": '{"type": "message", "text": "a \\ud800 b"}'}, "bad_text"),
    ({"text": {"type": "escalate", "email": "not-an-email"}}, "bad_email"),
    ({"text": {"type": "feedback", "message_id": "1", "value": "up"}}, "bad_feedback"),
]


async def _error_for(socket, *, text=None, raw=None, binary=None) -> dict:
    if binary is not None:
        await socket.send_to(bytes_data=binary)
    elif raw is not None:
        await socket.send_to(text_data=raw)
    else:
        await socket.send_json_to(text)
    message = await socket.receive_json_from(timeout=10)
    assert message["type"] == "error"
    return message


async def test_it_refuses_a_socket_without_a_session():
    socket = chat_socket(None)
    connected, _ = await socket.connect()
    assert connected
    message = await socket.receive_json_from(timeout=10)
    assert message == {
        "type": "error",
        "code": "no_session",
        "message": "Open the support page first to start a session.",
    }
    closed = await socket.receive_output(timeout=10)
    assert closed["type"] == "websocket.close"
    # The client side hangs up too, so the consumer finishes instead of being left to the
    # event loop's teardown.
    await socket.disconnect()


async def test_every_kind_of_bad_input_gets_its_own_code_and_the_next_question_an_answer(
    demo_kb, session_key, settings
):
    settings.CHAT_MAX_MESSAGE_CHARS = 50
    socket = chat_socket(session_key)
    await socket.connect()
    for frame, code in BAD_INPUT:
        message = await _error_for(socket, **frame)
        assert message["code"] == code, frame
        assert "Traceback" not in message["message"]
        if code == "message_too_long":
            assert "50" in message["message"]

    received = await ask(socket, "How do I reset my password?")
    assert received[-1]["type"] == "done"
    # Streamed tokens; or, on a machine too loaded for the first token to come in time,
    # the fallback answer: either way the question went through.
    assert answer_text(received) or received[0]["type"] == "fallback"
    assert await Message.objects.filter(role=Message.Role.USER).acount() == 1
