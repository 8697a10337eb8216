"""The support page in a real headless Chromium, against a real daphne."""

import os
import socket
import subprocess
import sys
import time
import urllib.request

import pytest
from django.conf import settings

from chat.models import Message
from helpdesk.testing import child_env
from tickets.models import Ticket

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
]

pytestmark = pytest.mark.django_db(transaction=True)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _serve(tmp_path, max_tokens: str, **env: str):
    port = _free_port()
    log = open(tmp_path / "daphne.log", "wb")  # noqa: SIM115 - the process outlives this block
    proc = subprocess.Popen(
        [sys.executable, "-m", "daphne", "-b", "127.0.0.1", "-p", str(port),
         "helpdesk.serve:application"],
        cwd=settings.BASE_DIR, env=child_env(LLM_MAX_TOKENS=max_tokens, **env),
        stdout=log, stderr=subprocess.STDOUT,
    )  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while True:
        try:
            urllib.request.urlopen(url + "/", timeout=2)
            break
        except OSError:
            if time.monotonic() > deadline or proc.poll() is not None:
                proc.kill()
                pytest.fail((tmp_path / "daphne.log").read_text()[-3000:])
            time.sleep(0.2)
    yield url
    proc.terminate()
    proc.wait(timeout=15)
    log.close()


@pytest.fixture
def live_url(demo_kb, tmp_path):
    yield from _serve(tmp_path, "60")


@pytest.fixture
def long_answers_url(demo_kb, tmp_path):
    """Answers long enough (400 tokens) to press Stop while one streams."""
    yield from _serve(tmp_path, "400")


@pytest.fixture
def browser(monkeypatch):
    from playwright.sync_api import sync_playwright

    # Playwright's sync API runs an event loop in this thread; the ORM calls in the test
    # are still plain sync calls (Django's documented switch for this case).
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    if not os.path.exists(CHROMIUM):
        pytest.fail(f"{CHROMIUM} is missing: install Debian's chromium (make test does).")
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture
def page(browser):
    return browser.new_page()


def test_a_customer_asks_sees_the_answer_stream_and_escalates(live_url, page):
    # Predicates are functions: a bare expression is eval()ed in the page, which its
    # Content-Security-Policy forbids (core/csp.py).
    page.goto(live_url + "/")
    page.wait_for_function("() => document.querySelector('#status').textContent === 'connected'")
    # Count DOM updates in the log, to see the answer arrive in pieces, not at once.
    page.evaluate(
        """() => {
            window.logUpdates = 0;
            new MutationObserver((records) => { window.logUpdates += records.length; })
                .observe(document.querySelector('#log'),
                         {childList: true, subtree: true, characterData: true});
        }"""
    )

    page.fill("#question", "I forgot my password. How do I reset it?")
    page.press("#question", "Enter")

    page.wait_for_selector(".msg.user")
    answer = page.locator(".msg.bot:not(.greeting)").first
    answer.wait_for()
    page.wait_for_selector(".msg.bot:not(.greeting):not(.streaming)", timeout=60_000)
    assert page.evaluate("window.logUpdates") > 5
    assert len(answer.inner_text().strip()) > 20
    link = page.locator("ul.sources a").first
    assert link.get_attribute("href").startswith("/kb/reset-password/")

    # Thumbs up on the answer is stored with the message.
    answer.locator("button.thumb-up").click()
    page.wait_for_function(
        "() => document.querySelector('.thumb-up').getAttribute('aria-pressed') === 'true'"
    )
    message_id = int(answer.get_attribute("data-message-id"))
    deadline = time.monotonic() + 10
    while Message.objects.get(pk=message_id).feedback != "up":
        assert time.monotonic() < deadline, "feedback was not stored"
        time.sleep(0.1)

    page.fill("#email", "pat@example.com")
    page.click("#escalate")
    page.wait_for_function("() => document.querySelector('#ticket').textContent.includes('HD-')")
    number = page.inner_text("#ticket").split("Ticket ")[1].split()[0]
    ticket = Ticket.objects.get(number=number)
    assert ticket.email == "pat@example.com"
    assert ticket.conversation.messages.count() == 2

    # A reload shows the conversation so far: the question, the answer with its sources
    # and the thumb chosen, and the ticket.
    answer_text = answer.locator(".text").inner_text()
    page.reload()
    page.wait_for_function("() => document.querySelector('#status').textContent === 'connected'")
    assert page.locator(".msg.user").inner_text() == "I forgot my password. How do I reset it?"
    restored = page.locator(f'.msg.bot[data-message-id="{message_id}"]')
    assert restored.locator(".text").inner_text().strip() == answer_text.strip()
    assert restored.locator("ul.sources a").first.get_attribute("href").startswith("/kb/")
    assert restored.locator("button.thumb-up").get_attribute("aria-pressed") == "true"
    assert number in page.inner_text("#ticket")


def test_the_thumbs_are_drawn_without_an_emoji_font_and_are_labelled(live_url, page):
    page.goto(live_url + "/")
    page.wait_for_function("() => document.querySelector('#status').textContent === 'connected'")
    page.fill("#question", "I forgot my password. How do I reset it?")
    page.press("#question", "Enter")
    page.wait_for_selector(".msg.bot:not(.greeting):not(.streaming) .feedback", timeout=60_000)

    for value, label in (("up", "Helpful"), ("down", "Not helpful")):
        thumb = page.locator(f"button.thumb-{value}").first
        assert thumb.get_attribute("aria-label") == label
        assert thumb.inner_text().strip() == ""  # no emoji to fall back to a box
        box = thumb.locator("svg path").bounding_box()
        assert box["width"] > 5 and box["height"] > 5


def test_an_agent_reply_from_the_admin_appears_in_the_customers_chat(
    live_url, browser, page, django_user_model
):
    django_user_model.objects.create_superuser("agent", "agent@example.com", "s3cret-pass")
    page.goto(live_url + "/")
    page.wait_for_function("() => document.querySelector('#status').textContent === 'connected'")
    page.click("#escalate")
    page.wait_for_function("() => document.querySelector('#ticket').textContent.includes('HD-')")
    ticket = Ticket.objects.get()

    # The agent has a browser of their own: separate cookies, separate session.
    admin = browser.new_context().new_page()
    admin.goto(live_url + "/admin/login/")
    admin.fill("#id_username", "agent")
    admin.fill("#id_password", "s3cret-pass")
    admin.click("input[type=submit]")
    admin.goto(f"{live_url}/admin/tickets/ticket/{ticket.pk}/change/")
    admin.fill("#id_reply", "Hi, this is Sam. I've reset your workspace.")
    admin.click("input[name=_save]")
    admin.wait_for_selector(".messagelist")

    page.wait_for_function(
        "() => [...document.querySelectorAll('.msg.agent')]"
        '.some((m) => m.textContent.includes("I\'ve reset your workspace."))',
        timeout=15_000,
    )
    assert "agent joined the conversation" in page.inner_text("#log")


def test_stop_ends_the_streaming_answer_and_keeps_what_was_said(long_answers_url, page):
    page.goto(long_answers_url + "/")
    page.wait_for_function("() => document.querySelector('#status').textContent === 'connected'")
    assert page.locator("#stop").is_hidden()
    # Stop is pressed as soon as the first token shows, from the page itself: polling for
    # the streaming bubble from here could miss a fast answer's whole stream.
    page.evaluate(
        """() => new MutationObserver((records, observer) => {
            if (document.querySelector('.msg.bot.streaming')) {
                observer.disconnect();
                document.querySelector('#stop').click();
            }
        }).observe(document.querySelector('#log'), {childList: true, subtree: true})"""
    )
    page.fill("#question", "Explain every plan and what each one costs.")
    page.press("#question", "Enter")

    page.wait_for_selector(".msg.bot.stopped .feedback", timeout=60_000)
    answer = page.locator(".msg.bot.stopped")
    assert "(stopped)" in answer.inner_text()
    assert page.locator("#stop").is_hidden()
    reply = Message.objects.get(pk=int(answer.get_attribute("data-message-id")))
    assert reply.stopped
    assert reply.text and reply.interrupted


def test_markdown_in_an_answer_renders_and_html_in_it_stays_inert(live_url, page, settings):
    from chat.models import Conversation, token_hash

    settings.DOCS_DOMAINS = []
    page.goto(live_url + "/")  # the session, and its chat token
    cookie = next(c for c in page.context.cookies() if c["name"] == "sessionid")
    from django.contrib.sessions.backends.cache import SessionStore

    token = SessionStore(session_key=cookie["value"])["chat_token"]
    conversation = Conversation.objects.get_or_create(token_hash=token_hash(token))[0]
    Message.objects.create(
        conversation=conversation,
        role=Message.Role.ASSISTANT,
        text=(
            "Go to **Settings** and then *Security*:\n\n- open `Passwords`\n- press Reset\n\n"
            '<img src=x onerror="window.pwned=1"> <script>window.pwned=2</script>\n'
            "![logo](https://evil.example/x.png) [click](javascript:window.pwned=3) "
            "[elsewhere](https://evil.example/phish) [the guide](/kb/reset-password/)"
        ),
    )
    page.reload()
    page.wait_for_function("() => document.querySelector('#status').textContent === 'connected'")
    answer = page.locator(".msg.bot:not(.greeting)").first

    assert answer.locator("strong").inner_text() == "Settings"
    assert answer.locator("em").inner_text() == "Security"
    assert answer.locator("ul li").count() == 2 and answer.locator("li code").count() == 1
    assert answer.locator("img, script, [onerror]").count() == 0
    assert [a.get_attribute("href") for a in answer.locator("a").all()] == ["/kb/reset-password/"]
    text = answer.inner_text()
    assert '<img src=x onerror="window.pwned=1">' in text and "click" in text
    assert page.evaluate("() => window.pwned === undefined")
