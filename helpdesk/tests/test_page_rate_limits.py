"""Rate limits on the public pages: the support page (each visit without a cookie is a new
session) and the knowledge base share one count per client address."""

import socket
import time
from copy import deepcopy

import pytest
from django_ratelimit.core import _get_window

from knowledge.models import Article

pytestmark = pytest.mark.django_db


@pytest.fixture
def article(db):
    return Article.objects.create(slug="refunds", title="Refunds", body="# Refunds\n\nYes.")


def test_pages_over_the_limit_get_a_429_with_retry_after(client, settings, article):
    settings.RATELIMIT_PAGES = "3/h"
    ip = "203.0.113.5"
    assert client.get("/", REMOTE_ADDR=ip).status_code == 200
    assert client.get("/kb/", REMOTE_ADDR=ip).status_code == 200
    assert client.get("/kb/refunds/", REMOTE_ADDR=ip).status_code == 200

    refused = client.get("/kb/refunds/", REMOTE_ADDR=ip)
    assert refused.status_code == 429
    assert b"Too many requests" in refused.content
    expected = _get_window(ip, 3600) + 1 - int(time.time())
    assert abs(int(refused["Retry-After"]) - expected) <= 1
    assert client.get("/", REMOTE_ADDR=ip).status_code == 429
    # Another address has a count of its own.
    assert client.get("/", REMOTE_ADDR="198.51.100.1").status_code == 200


def test_a_forwarded_for_header_is_ignored_without_a_trusted_proxy(client, settings):
    settings.RATELIMIT_PAGES = "1/h"
    assert client.get("/", REMOTE_ADDR="203.0.113.6").status_code == 200
    forged = client.get("/", REMOTE_ADDR="203.0.113.6", HTTP_X_FORWARDED_FOR="198.51.100.7")
    assert forged.status_code == 429


def test_pages_are_served_when_the_rate_limit_cache_is_unreachable(client, settings, caplog):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    caches = deepcopy(settings.CACHES)
    caches["ratelimit"]["LOCATION"] = f"redis://127.0.0.1:{port}/0"
    settings.CACHES = caches
    settings.RATELIMIT_PAGES = "1/h"

    for _ in range(3):
        assert client.get("/kb/").status_code == 200
    assert "Rate-limit cache unreachable" in caplog.text

    settings.RATELIMIT_FAIL_OPEN = False
    assert client.get("/kb/").status_code == 429
