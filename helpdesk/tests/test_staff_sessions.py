"""A staff login lasts STAFF_SESSION_SECONDS from the moment it is made; customers' sessions
keep SESSION_COOKIE_AGE. Sessions live in Redis, which drops them when they expire."""

import time

import pytest
import redis
from django.conf import settings
from django.contrib.auth.models import User
from django.core.cache import cache

pytestmark = pytest.mark.django_db

PASSWORD = "a-long-staff-password"


@pytest.fixture
def agent():
    return User.objects.create_user("agent", password=PASSWORD, is_staff=True)


def log_in(client):
    data = {"username": "agent", "password": PASSWORD, "next": "/admin/"}
    response = client.post("/admin/login/", data)
    assert response.status_code == 302
    return response


def redis_ttl(session_key: str) -> int:
    """Seconds until Redis drops the session (SESSION_ENGINE is the cache backend)."""
    key = cache.make_and_validate_key(f"django.contrib.sessions.cache{session_key}")
    return redis.from_url(settings.REDIS_URL).ttl(key)


def test_a_staff_login_lasts_a_working_day(client, agent):
    response = log_in(client)

    day = settings.STAFF_SESSION_SECONDS
    assert day < settings.SESSION_COOKIE_AGE
    assert day - 5 <= response.cookies["sessionid"]["max-age"] <= day
    assert day - 5 <= redis_ttl(client.session.session_key) <= day


def test_a_customer_session_keeps_the_long_age(client):
    response = client.get("/")

    assert response.cookies["sessionid"]["max-age"] == settings.SESSION_COOKIE_AGE
    age = redis_ttl(response.cookies["sessionid"].value)
    assert settings.SESSION_COOKIE_AGE - 5 <= age <= settings.SESSION_COOKIE_AGE


def test_a_staff_session_ends_when_its_time_is_up_while_a_customers_goes_on(
    client, settings, agent
):
    settings.STAFF_SESSION_SECONDS = 2
    log_in(client)
    assert client.get("/admin/").status_code == 200
    customer = client.__class__()
    customer.get("/")

    time.sleep(3)

    response = client.get("/admin/")
    assert response.status_code == 302
    assert response["Location"].startswith("/admin/login/")
    assert redis_ttl(customer.cookies["sessionid"].value) > 0


def test_working_in_the_admin_does_not_stretch_the_day(client, settings, agent):
    settings.STAFF_SESSION_SECONDS = 4
    # Every page view saves the session: an idle timeout would start again each time.
    settings.SESSION_SAVE_EVERY_REQUEST = True
    log_in(client)

    time.sleep(1.5)
    assert client.get("/admin/").status_code == 200
    time.sleep(1)
    assert client.get("/admin/").status_code == 200
    # 4.5 s after the login, 2 s after the last page view.
    time.sleep(2)

    assert client.get("/admin/").status_code == 302
