"""Sites: which origins may show the widget, and what each is told."""

import gzip

import pytest
from django.core.exceptions import ValidationError

from chat.models import Conversation
from tickets.models import Ticket
from widget.models import Site, origin_normalised

SHOP = "https://shop.example"


@pytest.fixture
def site(db):
    return Site.objects.create(
        name="Shop", allowed_origins=f"{SHOP}\nhttp://localhost:8080", title="Shop help",
        greeting="Hello from the shop!", language="de", colour="#aa3300",
    )  # fmt: skip


@pytest.mark.parametrize(
    "origin",
    [
        "https://a.example/path",
        "https://*.example",
        "javascript:alert(1)",
        "https://user@a.example",
        "https://a.example; script-src *",
        "https://a.example 'unsafe-inline'",
        "https://a.example?x=1",
        "ftp://a.example",
        "https://a.example:99999",
        "https://a.example//",
        "",
    ],
)
def test_anything_but_a_bare_origin_is_refused(origin):
    with pytest.raises(ValidationError):
        origin_normalised(origin)


def test_an_origin_is_kept_in_one_form():
    assert origin_normalised(" https://Shop.Example:8443/ ") == "https://shop.example:8443"


def test_a_site_needs_an_origin_and_keeps_each_once(db):
    site = Site(name="S", allowed_origins="\n  \n")
    with pytest.raises(ValidationError):
        site.full_clean()
    site.allowed_origins = "https://A.example\nhttps://a.example/\nhttp://b.example"
    site.full_clean()
    assert site.origins == ["https://a.example", "http://b.example"]


def test_the_loader_is_small_and_served_compressed(client):
    response = client.get("/widget.js", HTTP_ACCEPT_ENCODING="gzip, br")
    assert response["Content-Encoding"] == "gzip"
    assert response["Content-Type"].startswith("text/javascript")
    assert len(response.content) < 5 * 1024  # the budget, compressed
    assert b"attachShadow" in gzip.decompress(response.content)
    assert b"attachShadow" in client.get("/widget.js").content  # and plain


def test_only_a_listed_origin_reads_the_sites_settings(client, site):
    url = f"/widget/sites/{site.key}.json"
    response = client.get(url, HTTP_ORIGIN=SHOP)
    assert response.status_code == 200
    assert response["Access-Control-Allow-Origin"] == SHOP
    assert "Origin" in response["Vary"]
    config = response.json()
    assert (config["title"], config["colour"], config["language"]) == ("Shop help", "#aa3300", "de")
    assert config["frame"].endswith(f"/widget/frame/{site.key}/")
    for origin in ("https://evil.example", "null", None, "https://shop.example.evil.example"):
        headers = {"HTTP_ORIGIN": origin} if origin else {}
        refused = client.get(url, **headers)
        assert refused.status_code == 403, origin
        assert "Access-Control-Allow-Origin" not in refused


def test_an_unknown_or_inactive_site_has_no_settings_and_no_frame(client, site):
    site.active = False
    site.save()
    for key in (site.key, "missing"):
        assert client.get(f"/widget/sites/{key}.json", HTTP_ORIGIN=SHOP).status_code == 404
        assert client.get(f"/widget/frame/{key}/").status_code == 404


def test_the_frame_may_be_framed_by_the_sites_origins_only(client, site):
    response = client.get(f"/widget/frame/{site.key}/")
    assert response.status_code == 200
    policy = response["Content-Security-Policy"]
    assert f"frame-ancestors {SHOP} http://localhost:8080;" in policy
    assert "X-Frame-Options" not in response
    # The desk's own pages still may not be framed by anyone.
    assert "frame-ancestors 'none'" in client.get("/")["Content-Security-Policy"]
    assert client.get("/")["X-Frame-Options"] == "DENY"


def test_the_frame_sets_no_cookie(client, site):
    # A third-party frame may not get one back: the session comes through the socket.
    response = client.get(f"/widget/frame/{site.key}/")
    assert not response.cookies


def test_the_frame_shows_the_sites_greeting_title_colour_and_language(client, site):
    page = client.get(f"/widget/frame/{site.key}/", HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert "Hello from the shop!" in page
    assert "<title>Shop help</title>" in page
    assert 'data-colour="#aa3300"' in page
    assert '<html lang="de">' in page


def test_a_sites_greeting_is_text_not_markup(client, site):
    site.greeting = "<img src=x onerror=alert(1)>"
    site.save()
    page = client.get(f"/widget/frame/{site.key}/").content.decode()
    assert "<img src=x" not in page and "&lt;img src=x" in page


def test_a_ticket_shows_a_verified_identity_and_an_unverified_one_says_so(admin_client, site):
    verified = Conversation.objects.create(
        site=site, verified_id="u-42", verified_email="ada@example.com",
        page_url="https://shop.example/help",
    )  # fmt: skip
    plain = Conversation.objects.create(site=site)
    signed = Ticket.objects.create(conversation=verified, subject="Signed")
    typed = Ticket.objects.create(conversation=plain, subject="Typed", email="x@example.com")
    page = admin_client.get(f"/admin/tickets/ticket/{signed.pk}/change/").content.decode()
    assert "Verified by Shop: user u-42, ada@example.com" in page
    page = admin_client.get(f"/admin/tickets/ticket/{typed.pk}/change/").content.decode()
    assert "Unverified" in page
    listing = admin_client.get("/admin/tickets/ticket/").content.decode()
    assert "ada@example.com (verified)" in listing and "x@example.com (unverified)" in listing


def test_the_site_admin_shows_the_embed_code(admin_client, site):
    page = admin_client.get(f"/admin/widget/site/{site.pk}/change/").content.decode()
    assert f'data-site="{site.key}"' in page
    assert "/widget.js" in page


def test_collected_static_files_get_a_gzipped_copy(tmp_path, settings):
    # What the Docker image runs; WhiteNoise then sends the .gz to browsers that accept it.
    from django.core.management import call_command

    settings.STATIC_ROOT = tmp_path
    call_command("collectstatic", "--noinput", verbosity=0)
    for name in ("widget/loader.js", "widget/frame.js", "chat/chat.js", "chat/chat.css"):
        packed = gzip.decompress((tmp_path / f"{name}.gz").read_bytes())
        assert packed == (tmp_path / name).read_bytes()
