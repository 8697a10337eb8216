"""In a real Chromium, against real daphne processes: an answer survives a cut network, a
second daphne process, a reload, and shows in every tab of the session."""

import json
from concurrent.futures import ThreadPoolExecutor

import pytest

from chat.models import Message
from chat.tests import test_browser
from chat.tests.proxy import Proxy

# Chromium, as in the main browser test.
browser = test_browser.browser

pytestmark = pytest.mark.django_db(transaction=True)

# Long enough (300 tokens) that an answer still streams when the test acts on it.
MAX_TOKENS = "300"
QUESTION = "Explain every plan and what each one costs."
CONNECTED = "() => document.querySelector('#status').textContent === 'connected'"
# The answer has begun to show: the moment to cut or reload, as early as can be, so that
# even a short answer still runs when the page resumes it.
SOME_TOKENS = (
    "() => { const b = document.querySelector('.msg.bot.streaming');"
    " return b !== null && b.raw.length > 0; }"
)
FINISHED = "() => document.querySelector('.msg.bot:not(.greeting)[data-message-id]') !== null"


def _daphne(tmp_path, name: str):
    """A daphne process with long answers, its log in a folder of its own."""
    folder = tmp_path / name
    folder.mkdir()
    return test_browser._serve(folder, MAX_TOKENS)


@pytest.fixture
def daphne_url(demo_kb, tmp_path):
    yield from _daphne(tmp_path, "a")


@pytest.fixture
def two_daphnes(demo_kb, tmp_path):
    """Two daphne processes (their URLs and log files): they share only Postgres and Redis."""
    servers = [_daphne(tmp_path, "a"), _daphne(tmp_path, "b")]
    # Started side by side: each takes seconds to warm up.
    with ThreadPoolExecutor(2) as pool:
        urls = list(pool.map(next, servers))
    yield [(url, tmp_path / name / "daphne.log") for url, name in zip(urls, "ab", strict=True)]
    for server in servers:
        next(server, None)


def _port(url: str) -> int:
    return int(url.rsplit(":", 1)[1])


def ask(page, text: str = QUESTION) -> None:
    page.wait_for_function(CONNECTED)
    page.fill("#question", text)
    page.press("#question", "Enter")


def finished_answer(page) -> tuple[Message, str]:
    """The answer once done: its stored row, and the raw text the page put together from
    the tokens it was sent (chat.js keeps it on the bubble as `raw`)."""
    page.wait_for_function(FINISHED, timeout=90_000)
    bubble = page.locator(".msg.bot:not(.greeting)[data-message-id]")
    assert bubble.count() == 1, "the answer shows once"
    message_id = int(bubble.get_attribute("data-message-id"))
    raw = page.evaluate(
        '(id) => document.querySelector(`.msg.bot[data-message-id="${id}"]`).raw', message_id
    )
    return Message.objects.get(pk=message_id), raw


def frames(page) -> list[list[dict]]:
    """What each WebSocket of the page receives, one list per socket, in order."""
    sockets: list[list[dict]] = []

    def opened(ws):
        received: list[dict] = []
        sockets.append(received)
        ws.on("framereceived", lambda payload: received.append(json.loads(payload)))

    page.on("websocket", opened)
    return sockets


def resumed(page, received: list[dict]) -> list[dict]:
    """The `resumed` frames a socket got, once one has come: the page can finish the answer
    from the frames sent before it."""
    for _ in range(50):
        if found := [f for f in received if f["type"] == "resumed"]:
            return found
        page.wait_for_timeout(100)  # Playwright delivers the socket's events meanwhile
    return []


def test_an_answer_cut_mid_stream_completes_through_a_second_daphne_process(two_daphnes, browser):
    (url_a, log_a), (url_b, log_b) = two_daphnes
    proxy = Proxy(_port(url_a))
    try:
        page = browser.new_page()
        sockets = frames(page)
        page.goto(proxy.url + "/")
        ask(page)
        page.wait_for_function(SOME_TOKENS, timeout=60_000)

        proxy.switch(_port(url_b))
        proxy.cut()

        message, raw = finished_answer(page)
        # The answer was still running when its new socket resumed it, from daphne B.
        assert len(sockets) == 2
        assert resumed(page, sockets[1]) == [{"type": "resumed", "answering": True}]
        assert proxy.opened[-1] == _port(url_b)
        # Each frame came once on the first socket (on the second, the frames from before
        # its `resume` can come again: the page drops them by their seq).
        seqs = [f["seq"] for f in sockets[0] if "seq" in f]
        assert seqs == sorted(set(seqs))
        assert "WSCONNECT /ws/chat/" in log_b.read_text()
        assert raw.strip() == message.text.strip()
        assert not message.interrupted
    finally:
        proxy.close()


def test_an_answer_cut_while_the_page_is_offline_completes_once_it_is_back_online(
    daphne_url, browser
):
    # Chromium's offline mode holds a WebSocket's frames but keeps the socket open, so the
    # proxy cuts it, as a network that goes away does.
    proxy = Proxy(_port(daphne_url))
    try:
        context = browser.new_context()
        page = context.new_page()
        sockets = frames(page)
        page.goto(proxy.url + "/")
        ask(page)
        page.wait_for_function(SOME_TOKENS, timeout=60_000)

        context.set_offline(True)
        proxy.cut()
        page.wait_for_function("() => document.querySelector('#status').textContent === 'offline'")
        context.set_offline(False)

        message, raw = finished_answer(page)
        assert resumed(page, sockets[-1]) == [{"type": "resumed", "answering": True}]
        assert raw.strip() == message.text.strip()
    finally:
        proxy.close()


def test_a_reload_mid_answer_shows_the_question_and_streams_the_rest(daphne_url, browser):
    page = browser.new_page()
    page.goto(daphne_url + "/")
    ask(page)
    page.wait_for_function(SOME_TOKENS, timeout=60_000)

    page.reload()
    page.wait_for_function(CONNECTED)
    assert page.locator(".msg.user").inner_text() == QUESTION
    page.wait_for_selector(".msg.bot.streaming", timeout=30_000)

    message, raw = finished_answer(page)
    assert raw.strip() == message.text.strip()
    assert not page.locator(".msg.bot.streaming").count()


def test_two_tabs_of_one_session_both_show_the_question_and_its_streamed_answer(
    daphne_url, browser
):
    context = browser.new_context()  # one set of cookies: one session
    first, second = context.new_page(), context.new_page()
    for tab in (first, second):
        tab.goto(daphne_url + "/")
        tab.wait_for_function(CONNECTED)

    ask(first)
    # The Stop shows beside the streaming answer: it works from either tab. Checked in the
    # page, in one go, as the answer may be short.
    second.wait_for_function(
        "() => document.querySelector('.msg.bot.streaming') !== null"
        " && !document.querySelector('#stop').hidden",
        timeout=60_000,
    )
    assert second.locator(".msg.user").inner_text() == QUESTION

    message, raw = finished_answer(first)
    assert finished_answer(second) == (message, raw)
    assert raw.strip() == message.text.strip()
    assert second.locator("#stop").is_hidden()
