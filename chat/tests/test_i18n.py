"""The customer's pages in the browser's language: English, or German (locale/de), for the
templates and for the scripts (Django's JavaScript catalog at /jsi18n/)."""

import gettext
import json
import re
from pathlib import Path

import pytest
from django.conf import settings
from django.template.loader import render_to_string
from django.utils import translation
from django.utils.html import escape

from chat.tests import test_browser
from chat.tests.test_csp_browser import violations, watch
from helpdesk.context_processors import brand

# The daphne, Chromium and page fixtures of the main browser test.
live_url, browser = test_browser.live_url, test_browser.browser

CATALOGS = sorted(Path(settings.BASE_DIR, "locale").glob("*/LC_MESSAGES/*.po"))


@pytest.mark.django_db
def test_the_support_page_is_german_for_a_german_browser(client):
    page = client.get("/", HTTP_ACCEPT_LANGUAGE="de-DE,de;q=0.9,en;q=0.8").content.decode()

    assert '<html lang="de">' in page
    assert 'placeholder="Stellen Sie Ihre Frage…"' in page
    assert ">Senden</button>" in page
    assert "Mit einem Menschen sprechen" in page
    assert "Ask a question" not in page
    # The brand is the operator's text, in settings: never translated.
    assert escape(settings.DESK_GREETING) in page
    # The catalog comes first, so chat.js finds gettext; from this host (script-src 'self').
    assert page.index('<script src="/jsi18n/" defer>') < page.index("chat/chat.js")


@pytest.mark.django_db
@pytest.mark.parametrize("accept", [None, "en-GB,en;q=0.9", "fr-FR,fr;q=0.9"])
def test_the_support_page_is_english_otherwise(client, accept):
    headers = {"HTTP_ACCEPT_LANGUAGE": accept} if accept else {}
    page = client.get("/", **headers).content.decode()

    assert '<html lang="en">' in page
    assert 'placeholder="Ask a question…"' in page
    assert ">Send</button>" in page


@pytest.mark.django_db
def test_the_help_centre_is_german_too(client):
    page = client.get("/kb/", HTTP_ACCEPT_LANGUAGE="de").content.decode()

    assert '<html lang="de">' in page
    assert "Hilfe-Center" in page
    assert "Noch keine Artikel." in page


@pytest.mark.django_db
def test_the_admin_stays_english_for_a_german_browser(client):
    # Our staff templates are English only: a German admin around them would mix the two.
    page = client.get("/admin/login/", HTTP_ACCEPT_LANGUAGE="de").content.decode()

    assert 'lang="en"' in page
    assert "Log in" in page
    assert "Anmelden" not in page


def test_the_degraded_page_follows_the_language_without_a_request():
    # Rendered without context processors (helpdesk.views.server_error): the active language.
    with translation.override("de"):
        page = render_to_string("degraded.html", brand())

    assert '<html lang="de">' in page
    assert "Seite neu laden" in page


@pytest.mark.django_db
def test_the_script_catalog_serves_german_strings_and_can_be_cached(
    client, django_assert_num_queries
):
    with django_assert_num_queries(0):
        german = client.get("/jsi18n/", HTTP_ACCEPT_LANGUAGE="de")
    english = client.get("/jsi18n/", HTTP_ACCEPT_LANGUAGE="en")

    assert german.status_code == 200
    assert german["Content-Type"].startswith("text/javascript")
    assert '"verbunden"' in german.content.decode()
    assert '"verbunden"' not in english.content.decode()
    assert "max-age=3600" in german["Cache-Control"]
    assert "Accept-Language" in german["Vary"]
    again = client.get(
        "/jsi18n/", HTTP_ACCEPT_LANGUAGE="de", HTTP_IF_MODIFIED_SINCE=german["Last-Modified"]
    )
    assert again.status_code == 304


def german_frames(ws):
    """Frames whose text the page draws itself: no name, no message, a wait."""

    def on_message(message):
        if json.loads(message).get("type") != "resume":
            return
        ws.send(json.dumps({"type": "agent_joined"}))
        ws.send(json.dumps({"type": "error", "code": "rate_limited", "retry_after": 5}))

    ws.on_message(on_message)


def test_in_a_german_browser_the_page_and_its_scripts_speak_german(live_url, browser):
    tab = browser.new_context(locale="de-DE").new_page()
    console = watch(tab)
    tab.route_web_socket("**/ws/chat/", german_frames)

    tab.goto(live_url + "/")
    tab.wait_for_function("() => document.querySelector('#status').textContent === 'verbunden'")
    tab.wait_for_selector(".msg.error")

    assert tab.get_attribute("html", "lang") == "de"
    assert tab.get_attribute("#question", "placeholder") == "Stellen Sie Ihre Frage…"
    assert tab.inner_text("#send") == "Senden"
    joined = tab.inner_text(".msg.agent.joined")
    assert joined == "Jemand vom Support ist der Unterhaltung beigetreten."
    error = tab.inner_text(".msg.error")
    assert (
        error
        == "Etwas ist schiefgelaufen. Bitte versuchen Sie es erneut. (erneut versuchen in 5 s)"
    )
    assert violations(tab, console) == []


def test_without_its_catalog_the_page_still_works_in_english(live_url, browser):
    tab = browser.new_context(locale="de-DE").new_page()
    errors = []
    tab.on("pageerror", lambda e: errors.append(str(e)))
    tab.route("**/jsi18n/", lambda route: route.abort())

    tab.goto(live_url + "/")
    tab.wait_for_function("() => document.querySelector('#status').textContent === 'connected'")

    assert errors == []


# ---------- the compiled catalogs match their sources ----------
def po_entries(path: Path) -> list[tuple[str, str | None, list[str]]]:
    """(msgid, msgid_plural, msgstrs) of each entry of a .po file, fuzzy ones left out."""
    entries, fuzzy = [], False
    field, fields = None, {}

    def close():
        if fields.get("msgid") and not fuzzy:
            strs = [v for k, v in sorted(fields.items()) if k.startswith("msgstr")]
            entries.append((fields["msgid"], fields.get("msgid_plural"), strs))

    for line in path.read_text(encoding="utf-8").splitlines() + [""]:
        if not line.strip():
            close()
            field, fields, fuzzy = None, {}, False
        elif line.startswith("#,"):
            fuzzy = "fuzzy" in line
        elif match := re.match(r'(msgid_plural|msgid|msgstr(?:\[\d+\])?) (".*")$', line):
            field = match[1]
            fields[field] = json.loads(match[2])
        elif line.startswith('"') and field:
            fields[field] += json.loads(line)
    return entries


@pytest.mark.parametrize("po", CATALOGS, ids=lambda p: f"{p.parts[-3]}/{p.name}")
def test_every_string_is_translated_and_compiled(po):
    # A forgotten `manage.py compilemessages` (or an untranslated string after makemessages)
    # fails here, not in front of a customer.
    entries = po_entries(po)
    assert entries, f"{po} has no strings"
    with po.with_suffix(".mo").open("rb") as mo:
        compiled = gettext.GNUTranslations(mo)
    for msgid, plural, strs in entries:
        assert all(strs), f"{po}: {msgid!r} is not translated"
        if plural is None:
            assert compiled.gettext(msgid) == strs[0], f"{po}: {msgid!r} is not compiled"
        else:
            assert compiled.ngettext(msgid, plural, 1) == strs[0], f"{po}: {msgid!r}"
            assert compiled.ngettext(msgid, plural, 2) == strs[1], f"{po}: {msgid!r}"


def test_german_ships_for_the_page_and_its_scripts():
    assert ("de", "Deutsch") in settings.LANGUAGES
    names = {f"{p.parts[-3]}/{p.name}" for p in CATALOGS}
    assert {"de/django.po", "de/djangojs.po"} <= names
