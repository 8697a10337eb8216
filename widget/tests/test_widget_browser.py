"""The widget on another site's page, in a real headless Chromium that blocks third-party
cookies, against a real daphne. Three sites on one machine: the desk on localhost, the shop
that embeds it on 127.0.0.1 (both secure contexts, so a third-party cookie would work if
the browser allowed it: with this profile's setting off, the frame's hasStorageAccess() is
true), and a stranger on evil.test (Chromium maps *.test to 127.0.0.1)."""

import http.server
import threading
import time

import pytest

from chat.models import Message
from chat.tests.proxy import Proxy
from chat.tests.test_browser import CHROMIUM, CHROMIUM_ARGS, _serve
from chat.tests.test_csp_browser import violations, watch
from helpdesk.testing import free_port
from widget.models import Site

pytestmark = pytest.mark.django_db(transaction=True)

CONNECTED = "() => document.querySelector('#status')?.dataset.state === 'connected'"
ANSWERED = ".msg.bot:not(.greeting):not(.streaming)"
SOME_TOKENS = (
    "() => { const b = document.querySelector('.msg.bot.streaming');"
    " return b !== null && b.raw.length > 0; }"
)
# The text the frame put together from the tokens it was sent (chat.js keeps it as `raw`).
RAW = '(id) => document.querySelector(`.msg.bot[data-message-id="${id}"]`).raw'


@pytest.fixture
def network(demo_kb, tmp_path):
    """The desk behind a proxy a test can cut, as a failing network would (chat/tests/proxy.py).
    Answers of up to 120 tokens: one still streams when the test cuts it."""
    for url in _serve(tmp_path, "120"):
        proxy = Proxy(int(url.rsplit(":", 1)[1]))
        yield proxy
        proxy.close()


@pytest.fixture
def desk(network):
    """The desk's origin: http://localhost:<port>."""
    return network.url.replace("127.0.0.1", "localhost")


class Pages:
    """A static server of a test's own: path -> HTML, on one port, for every *.test name."""

    def __init__(self):
        self.pages: dict[str, str] = {}
        pages = self.pages

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):
                body = pages.get(self.path.split("?")[0], "").encode()
                self.send_response(200 if body else 404)
                self.send_header("Content-Type", "text/html; charset=utf-8")
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):
                pass

        self.port = free_port()
        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def origin(self, name: str) -> str:
        host = "127.0.0.1" if name == "shop" else f"{name}.test"
        return f"http://{host}:{self.port}"


@pytest.fixture
def pages():
    pages = Pages()
    yield pages
    pages.server.shutdown()


@pytest.fixture
def chromium(tmp_path, monkeypatch):
    """A Chromium profile that blocks third-party cookies (the setting Safari has by default
    and Chrome offers), resolving *.test to this machine."""
    from playwright.sync_api import sync_playwright

    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    profile = tmp_path / "profile"
    (profile / "Default").mkdir(parents=True)
    (profile / "Default" / "Preferences").write_text(
        '{"profile": {"cookie_controls_mode": 1, "block_third_party_cookies": true}}'
    )
    args = [*CHROMIUM_ARGS, "--host-resolver-rules=MAP *.test 127.0.0.1"]
    with sync_playwright() as p:
        context = p.chromium.launch_persistent_context(
            str(profile), executable_path=CHROMIUM, args=args, headless=True
        )
        yield context
        context.close()


def host_page(desk: str, key: str, extra: str = "") -> str:
    return (
        "<!doctype html><title>Shop</title><h1>A shop</h1>"
        f'<script src="{desk}/widget.js" data-site="{key}" async></script>{extra}'
    )


def widget_frame(page):
    frame = page.wait_for_selector("[data-helpdesk-widget] iframe").content_frame()
    frame.wait_for_function(CONNECTED, timeout=30_000)
    return frame


def test_the_widget_answers_on_another_site_with_third_party_cookies_blocked(
    desk, network, pages, chromium
):
    site = Site.objects.create(name="Shop", allowed_origins=pages.origin("shop"))
    pages.pages["/"] = host_page(desk, site.key)
    page = chromium.new_page()
    console = watch(page)
    page.goto(pages.origin("shop") + "/")

    launcher = page.wait_for_selector("[data-helpdesk-widget] button")
    assert page.query_selector("[data-helpdesk-widget] iframe") is None  # not before a click
    launcher.click()
    frame = widget_frame(page)
    # Third-party: the frame has no cookie access, and the desk set no cookie anywhere.
    assert frame.evaluate("() => document.hasStorageAccess()") is False
    assert frame.evaluate("() => document.cookie") == ""

    frame.fill("#question", "How do I reset my password?")
    frame.press("#question", "Enter")
    # The network drops mid-answer: the frame says hello again and resumes the answer.
    frame.wait_for_function(SOME_TOKENS, timeout=60_000)
    network.cut()
    frame.wait_for_selector(ANSWERED + "[data-message-id]", timeout=120_000)
    assert frame.locator(".msg.user").count() == 1
    assert frame.locator(".msg.bot:not(.greeting)").count() == 1
    stored = Message.objects.get(role="assistant")
    assert frame.evaluate(RAW, stored.pk).strip() == stored.text.strip()
    assert frame.locator("ul.sources a").first.get_attribute("href").startswith("/kb/")
    answer = frame.locator(".msg.bot:not(.greeting) .text").first.inner_text()
    assert len(answer) > 10

    # The host page reloads: the widget opens again on the same conversation.
    page.reload()
    frame = widget_frame(page)
    frame.wait_for_selector(".msg.user")
    assert frame.locator(".msg.user .text").first.inner_text() == "How do I reset my password?"
    assert frame.locator(".msg.bot:not(.greeting) .text").first.inner_text() == answer
    assert chromium.cookies(desk) == []
    assert violations(page, console) == []


def test_another_origin_can_neither_frame_the_widget_nor_open_its_socket(desk, pages, chromium):
    site = Site.objects.create(name="Shop", allowed_origins=pages.origin("shop"))
    frame_url = f"{desk}/widget/frame/{site.key}/"
    socket_url = desk.replace("http", "ws") + f"/ws/widget/{site.key}/"
    pages.pages["/"] = host_page(desk, site.key, f'<iframe src="{frame_url}"></iframe>')
    page = chromium.new_page()
    page.goto(pages.origin("evil") + "/")
    page.wait_for_load_state("load")

    # The loader draws nothing: the site's settings are not this origin's to read.
    page.wait_for_timeout(1000)
    assert page.query_selector("[data-helpdesk-widget]") is None
    # The framed chat was refused by its frame-ancestors: no chat in the frame.
    framed = page.query_selector("iframe").content_frame()
    assert framed.url != frame_url or framed.query_selector("#log") is None
    # The socket is refused at the handshake: it closes without ever opening.
    opened = page.evaluate(
        """(url) => new Promise((done) => {
            const ws = new WebSocket(url);
            ws.onopen = () => done(true);
            ws.onclose = () => done(false);
        })""",
        socket_url,
    )
    assert opened is False


def test_messages_from_a_foreign_origin_are_ignored(desk, pages, chromium):
    site = Site.objects.create(name="Shop", allowed_origins=pages.origin("shop"))
    # An advert from another origin on the shop's page tries to open the widget and to
    # plant a session token.
    pages.pages["/ad"] = (
        "<script>parent.postMessage({helpdesk: 'open'}, '*');"
        "parent.postMessage({helpdesk: 'token', token: 'planted'}, '*');</script>"
    )
    advert = f'<iframe src="{pages.origin("evil")}/ad"></iframe>'
    pages.pages["/"] = host_page(desk, site.key, advert)
    page = chromium.new_page()
    # chat.js arrives after the host's init (a slow network): the frame connects all the same.
    page.route("**/chat/chat.js", lambda route: (time.sleep(0.5), route.continue_()))
    page.goto(pages.origin("shop") + "/")
    launcher = page.wait_for_selector("[data-helpdesk-widget] button")
    page.wait_for_timeout(500)
    assert launcher.get_attribute("aria-expanded") == "false"
    assert page.evaluate(f"() => sessionStorage.getItem('helpdesk:{site.key}')") is None

    # The shop's own page may open it.
    page.evaluate("() => window.postMessage({helpdesk: 'open'}, location.origin)")
    frame = widget_frame(page)
    assert launcher.get_attribute("aria-expanded") == "true"
    # The host keeps the token of the frame's session frame (after the socket opens).
    stored = f"() => sessionStorage.getItem('helpdesk:{site.key}')"
    token = page.wait_for_function(stored, timeout=30_000).json_value()
    assert token != "planted"

    # The frame reads only its parent, on one of the site's origins: a message that claims
    # another origin changes nothing (its page context would be recorded with the next hello).
    frame.evaluate(
        """() => window.dispatchEvent(new MessageEvent('message', {
            data: {helpdesk: 'page', page: {url: 'http://evil.test/phish', title: 'x'}},
            origin: 'http://evil.test', source: window.parent}))"""
    )
    assert frame.evaluate("() => window.chatHello().page_url").startswith(pages.origin("shop"))
