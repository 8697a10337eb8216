"""In a real Chromium: the pages work under the Content-Security-Policy without a single
violation, the policy really blocks inline script, and model output stays text."""

import json

import pytest

from chat.models import Conversation
from chat.tests import test_browser
from tickets.models import Ticket

# The daphne, Chromium and page fixtures of the main browser test.
live_url, browser, page = test_browser.live_url, test_browser.browser, test_browser.page

pytestmark = pytest.mark.django_db(transaction=True)

# Collects what the browser reports; injected before any page script runs.
RECORD_VIOLATIONS = """
window.cspViolations = [];
document.addEventListener('securitypolicyviolation', (e) => {
  window.cspViolations.push(`${e.violatedDirective} ${e.blockedURI} ${e.sourceFile}`);
});
"""


def watch(tab) -> list[str]:
    """Record CSP violations: the DOM event, and Chromium's console report of each."""
    tab.add_init_script(RECORD_VIOLATIONS)
    console: list[str] = []
    tab.on(
        "console",
        lambda m: console.append(m.text) if "Content Security Policy" in m.text else None,
    )
    return console


def violations(tab, console: list[str]) -> list[str]:
    return tab.evaluate("window.cspViolations") + console


def test_the_support_page_answers_under_the_policy_with_no_violation(live_url, page):
    console = watch(page)

    response = page.goto(live_url + "/")
    assert "script-src 'self'" in response.headers["content-security-policy"]
    page.wait_for_function("() => document.querySelector('#status').textContent === 'connected'")
    page.fill("#question", "How do I reset my password?")
    page.press("#question", "Enter")
    # Generous: the tiny LLM shares two cores with everything else running.
    page.wait_for_selector(".msg.bot:not(.greeting):not(.streaming)", timeout=120_000)
    assert len(page.locator(".msg.bot:not(.greeting) .text").first.inner_text()) > 10
    page.fill("#email", "pat@example.com")
    page.click("#escalate")
    page.wait_for_function("() => document.querySelector('#ticket').textContent.includes('HD-')")

    assert violations(page, console) == []

    # The recorder works and the policy bites: an inline script injected now is refused.
    page.evaluate(
        """() => { const s = document.createElement('script');
                   s.textContent = 'window.inlineRan = true'; document.body.append(s); }"""
    )
    page.wait_for_function("() => window.cspViolations.length > 0")
    assert page.evaluate("window.inlineRan") is None
    assert page.evaluate("window.cspViolations")[0].startswith("script-src")


def test_the_admin_pages_work_under_the_policy_with_no_violation(
    live_url,
    page,
    django_user_model,
    demo_kb,
):
    django_user_model.objects.create_superuser("agent", "agent@example.com", "s3cret-pass")
    ticket = Ticket.objects.create(conversation=Conversation.objects.create(), subject="Help")
    console = watch(page)
    page.goto(live_url + "/admin/login/")
    page.fill("#id_username", "agent")
    page.fill("#id_password", "s3cret-pass")
    page.click("input[type=submit]")
    page.wait_for_selector("#site-name")
    article = demo_kb[0]
    for path in [
        "/admin/",
        "/admin/knowledge/article/",
        f"/admin/knowledge/article/{article.pk}/change/",
        f"/admin/knowledge/article/{article.pk}/chunks/",
        "/admin/knowledge/article/upload/",
        f"/admin/tickets/ticket/{ticket.pk}/change/",
        "/kb/reset-password/",
    ]:
        page.goto(live_url + path)
        page.wait_for_load_state("load")

    # The ticket reply box and the admin's own scripts (the actions bar) still work.
    page.goto(f"{live_url}/admin/tickets/ticket/{ticket.pk}/change/")
    page.fill("#id_reply", "We are on it.")
    page.click("input[name=_save]")
    page.wait_for_selector(".messagelist")
    page.goto(live_url + "/admin/knowledge/article/")
    page.locator("input.action-select").first.check()
    page.wait_for_function(
        "() => document.querySelector('.action-counter').textContent.includes('1')"
    )

    assert violations(page, console) == []


HOSTILE_ANSWER = (
    'Hello <img src=x onerror="window.pwned=1"> ![logo](https://evil.example/x.png) '
    "<script>window.pwned=2</script> [click](javascript:window.pwned=3) **bold**"
)
SOURCES = [
    {"title": "Reset", "url": "/kb/reset-password/#steps"},
    {"title": "Docs", "url": "https://docs.tasklane.example/guide"},
    {"title": "Phish", "url": "https://evil.example/login"},
    {"title": "Protocol-relative", "url": "//evil.example/kb/"},
    {"title": "Script", "url": "javascript:window.pwned=4"},
    {"title": "Data", "url": "data:text/html,<script>alert(1)</script>"},
    {"title": "Userinfo", "url": "https://docs.tasklane.example@evil.example/"},
    {"title": "<img src=x onerror=window.pwned=5>", "url": "/kb/export-data/"},
]


@pytest.fixture
def docs_site(monkeypatch, request) -> str:
    # The daphne of live_url reads this from its environment.
    monkeypatch.setenv("DOCS_DOMAINS", "docs.tasklane.example")
    return request.getfixturevalue("live_url")


def test_hostile_model_output_is_shown_as_text_and_links_only_to_allowed_hosts(
    docs_site,
    page,
):
    # The socket is answered by this test, not the server: the page must hold its own line
    # whatever arrives (defence in depth behind the server's own link filter).
    def server(ws):
        def on_message(message):
            if json.loads(message).get("type") != "message":
                return
            ws.send(json.dumps({"type": "token", "text": HOSTILE_ANSWER}))
            ws.send(json.dumps({"type": "sources", "sources": SOURCES}))
            ws.send(json.dumps({"type": "done", "message_id": 1}))

        ws.on_message(on_message)

    page.route_web_socket("**/ws/chat/", server)
    console = watch(page)
    page.goto(docs_site + "/")
    page.wait_for_function("() => document.querySelector('#status').textContent === 'connected'")
    page.fill("#question", "Anything")
    page.press("#question", "Enter")
    page.wait_for_selector(".msg.bot:not(.greeting):not(.streaming) ul.sources")

    answer = page.locator(".msg.bot:not(.greeting)").first
    # Markdown is drawn (bold), HTML stays text, the image is its alt text, and the
    # javascript: link is its text only.
    assert answer.locator(".text").inner_text() == (
        'Hello <img src=x onerror="window.pwned=1"> logo <script>window.pwned=2</script> click bold'
    )
    assert answer.locator(".text strong").inner_text() == "bold"
    assert answer.locator(".text a").count() == 0
    assert page.locator("#log img, #log script, #log iframe").count() == 0
    hrefs = [a.get_attribute("href") for a in answer.locator("ul.sources a").all()]
    assert hrefs == [
        "/kb/reset-password/#steps",
        "https://docs.tasklane.example/guide",
        "/kb/export-data/",
    ]
    shown = answer.locator("ul.sources .source-text").all_inner_texts()
    assert shown == ["Phish", "Protocol-relative", "Script", "Data", "Userinfo"]
    assert answer.locator("ul.sources a").last.inner_text() == SOURCES[-1]["title"]
    assert page.evaluate("window.pwned") is None
    assert violations(page, console) == []
