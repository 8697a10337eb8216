import pytest

from chat.tests.helpers import chat_socket

pytestmark = pytest.mark.django_db(transaction=True)


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


async def test_it_explains_each_kind_of_bad_input_and_stays_open(session_key, settings):
    settings.CHAT_MAX_MESSAGE_CHARS = 50
    socket = chat_socket(session_key)
    await socket.connect()

    assert (await _error_for(socket, raw="{not json"))["code"] == "bad_json"
    assert (await _error_for(socket, raw="[1, 2]"))["code"] == "bad_json"
    assert (await _error_for(socket, binary=b"\x00\x01"))["code"] == "bad_frame"
    assert (await _error_for(socket, text={"type": "dance"}))["code"] == "unknown_type"
    assert (await _error_for(socket, text={"type": "message", "text": "  "}))[
        "code"
    ] == "empty_message"
    assert (await _error_for(socket, text={"type": "message", "text": 5}))[
        "code"
    ] == "empty_message"
    too_long = await _error_for(socket, text={"type": "message", "text": "x" * 51})
    assert too_long["code"] == "message_too_long"
    assert "50" in too_long["message"]

    # Still usable: the socket answers the next valid request.
    await socket.send_json_to({"type": "escalate"})
    assert (await socket.receive_json_from(timeout=10))["type"] == "ticket"
    await socket.disconnect()


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


async def test_it_rejects_sockets_from_foreign_origins(session_key):
    socket = chat_socket(session_key, origin=b"https://evil.example")
    connected, _ = await socket.connect()
    assert not connected
