"""Escalation and the support page at a fixed clock. The one thing replaced is the clock,
core.hours.now: the socket and the page are the project's own (helpdesk/asgi.py, urls.py),
and reach it through the real wiring."""

from datetime import UTC, datetime, timedelta

import pytest

from chat.tests import test_browser
from chat.tests.helpers import chat_socket
from core import hours

browser = test_browser.browser

MONDAY_MORNING = datetime(2026, 3, 23, 9, 30, tzinfo=UTC)  # 10:30 in Berlin
SATURDAY_EVENING = datetime(2026, 3, 21, 18, 0, tzinfo=UTC)  # 19:00 in Berlin
AWAY = "Our team is away now. A person will reply from Monday 09:00 (Europe/Berlin time)."


@pytest.fixture
def clock(settings, monkeypatch):
    """Opening hours in Berlin, and a clock that reads whatever the test sets."""
    settings.BUSINESS_HOURS = "mon-fri 09:00-17:30; sat 10:00-14:00"
    settings.BUSINESS_TIMEZONE = "Europe/Berlin"

    def set_to(at: datetime):
        monkeypatch.setattr(hours, "now", lambda: at)

    return set_to


async def _escalate(session_key, **fields) -> dict:
    socket = chat_socket(session_key)
    await socket.connect()
    await socket.send_json_to({"type": "escalate", **fields})
    reply = await socket.receive_json_from(timeout=10)
    await socket.disconnect()
    return reply


@pytest.mark.django_db(transaction=True)
async def test_escalating_in_hours_says_a_person_will_reply_shortly(clock, session_key):
    clock(MONDAY_MORNING)

    reply = await _escalate(session_key)

    assert reply["type"] == "ticket"
    assert reply["message"] == "A person will reply here shortly."


@pytest.mark.django_db(transaction=True)
async def test_escalating_out_of_hours_says_when_and_asks_for_an_email(clock, session_key):
    clock(SATURDAY_EVENING)

    reply = await _escalate(session_key)

    assert reply["type"] == "ticket"
    assert reply["message"] == (
        f"{AWAY} Leave your email and we'll write to you as soon as they do."
    )


@pytest.mark.django_db(transaction=True)
async def test_out_of_hours_an_email_left_once_is_not_asked_for_again(clock, session_key):
    clock(SATURDAY_EVENING)

    with_email = await _escalate(session_key, email="pat@example.com")
    again = await _escalate(session_key)

    expected = f"{AWAY} We'll also write to you at the address you gave."
    assert with_email["message"] == again["message"] == expected


@pytest.mark.django_db(transaction=True)
async def test_with_no_opening_hours_set_a_person_replies_shortly(settings, session_key):
    settings.BUSINESS_HOURS = ""

    reply = await _escalate(session_key)

    assert reply["message"] == "A person will reply here shortly."


def test_the_page_shows_agents_are_available_in_hours(client, db, clock):
    clock(MONDAY_MORNING)

    page = client.get("/").content.decode()

    assert (
        '<p id="availability" class="availability" data-available="true">'
        "Agents are available now.</p>"
    ) in page
    assert 'placeholder="Email (optional)"' in page


def test_the_page_shows_when_agents_are_back_and_recommends_an_email(client, db, clock):
    clock(SATURDAY_EVENING)

    page = client.get("/").content.decode()

    assert (
        '<p id="availability" class="availability" data-available="false">'
        "Agents are away. Back Monday 09:00 (Europe/Berlin).</p>"
    ) in page
    assert 'placeholder="Email (recommended)"' in page
    assert "Your email (recommended: we'll write to you when an agent replies)" in page


def test_the_page_says_tomorrow_on_the_evening_before(client, db, clock):
    clock(datetime(2026, 3, 20, 19, 0, tzinfo=UTC))  # friday, 20:00 in Berlin

    page = client.get("/").content.decode()

    assert "Agents are away. Back tomorrow 10:00 (Europe/Berlin)." in page


@pytest.fixture
def away_server(monkeypatch, tmp_path):
    """A real daphne open only the day after tomorrow (UTC): away for a day at least,
    whatever the real clock says, since a child process's clock cannot be fixed.
    Yields its URL and that day's name."""
    day = (datetime.now(UTC) + timedelta(days=2)).weekday()
    monkeypatch.setenv("BUSINESS_HOURS", f"{hours.DAYS[day]} 00:00-24:00")
    monkeypatch.setenv("BUSINESS_TIMEZONE", "UTC")
    for url in test_browser._serve(tmp_path, "60"):
        yield url, hours.DAY_NAMES[day]


@pytest.mark.django_db(transaction=True)
def test_the_page_shows_the_servers_message_with_the_new_ticket(away_server, browser):
    url, day = away_server
    page = browser.new_page()
    page.goto(url + "/")
    page.wait_for_function("() => document.querySelector('#status').textContent === 'connected'")
    assert page.get_attribute("#availability", "data-available") == "false"

    page.click("#escalate")
    page.wait_for_function("() => document.querySelector('#ticket').textContent.includes('HD-')")

    number = page.inner_text("#ticket").split()[1]
    assert page.inner_text("#ticket") == (
        f"Ticket {number} created. Our team is away now. A person will reply from {day}"
        " 00:00 (UTC time). Leave your email and we'll write to you as soon as they do."
    )
