"""Admin logins are throttled (django-axes): wrong passwords lock out one username from one
client address, so neither a colleague behind the same office address nor the same user
elsewhere is locked out with it."""

import pytest
from django.contrib.auth.models import User

pytestmark = pytest.mark.django_db

PASSWORD = "a-long-staff-password"
ATTACKER, COLLEAGUE, HOME = "203.0.113.9", "203.0.113.10", "198.51.100.4"


@pytest.fixture(autouse=True)
def _three_tries(settings):
    settings.AXES_FAILURE_LIMIT = 3


@pytest.fixture
def agent():
    return User.objects.create_user("agent", password=PASSWORD, is_staff=True)


@pytest.fixture
def lead():
    return User.objects.create_user("lead", password=PASSWORD, is_staff=True)


def log_in(client, username: str, password: str, **meta):
    return client.post(
        "/admin/login/", {"username": username, "password": password, "next": "/admin/"}, **meta
    )


def fail(client, username: str, times: int, **meta) -> None:
    # The failure that reaches the limit is itself answered with the lockout's 429.
    for _ in range(times):
        assert log_in(client, username, "wrong", **meta).status_code in (200, 429)


def test_it_locks_a_username_out_from_the_address_that_guessed_wrong(client, agent):
    fail(client, "agent", 3, REMOTE_ADDR=ATTACKER)

    refused = log_in(client, "agent", PASSWORD, REMOTE_ADDR=ATTACKER)

    assert refused.status_code == 429
    assert "_auth_user_id" not in client.session


def test_the_right_password_from_another_address_still_works(client, agent):
    fail(client, "agent", 3, REMOTE_ADDR=ATTACKER)

    response = log_in(client, "agent", PASSWORD, REMOTE_ADDR=HOME)

    assert response.status_code == 302
    assert client.get("/admin/", REMOTE_ADDR=HOME).status_code == 200


def test_a_colleague_behind_the_same_address_is_not_locked_out(client, agent, lead):
    fail(client, "agent", 3, REMOTE_ADDR=ATTACKER)

    assert log_in(client, "lead", PASSWORD, REMOTE_ADDR=ATTACKER).status_code == 302


def test_fewer_failures_than_the_limit_lock_nobody_out(client, agent):
    fail(client, "agent", 2, REMOTE_ADDR=ATTACKER)

    assert log_in(client, "agent", PASSWORD, REMOTE_ADDR=ATTACKER).status_code == 302


def test_it_counts_the_address_the_trusted_proxy_saw_not_one_the_client_wrote(
    client, settings, agent
):
    # Behind one proxy: REMOTE_ADDR is the proxy's, the last X-Forwarded-For entry is the
    # client's (core/ratelimits.py). Entries left of it are whatever the client sent.
    settings.TRUSTED_PROXY_COUNT = 1
    proxy = "10.0.0.2"
    for forged in ("192.0.2.1", "192.0.2.2", "192.0.2.3"):
        log_in(
            client,
            "agent",
            "wrong",
            REMOTE_ADDR=proxy,
            HTTP_X_FORWARDED_FOR=f"{forged}, {ATTACKER}",
        )

    # Another forged entry does not make the attacker a new client...
    forged_again = f"192.0.2.99, {ATTACKER}"
    refused = log_in(
        client, "agent", PASSWORD, REMOTE_ADDR=proxy, HTTP_X_FORWARDED_FOR=forged_again
    )
    assert refused.status_code == 429
    # ...and the same proxy's other clients are not the attacker.
    allowed = log_in(client, "agent", PASSWORD, REMOTE_ADDR=proxy, HTTP_X_FORWARDED_FOR=HOME)
    assert allowed.status_code == 302


@pytest.mark.django_db(transaction=True)
async def test_the_lockout_holds_under_asgi_as_daphne_serves_it(async_client, agent):
    data = {"username": "agent", "password": "wrong", "next": "/admin/"}
    for _ in range(3):
        await async_client.post("/admin/login/", data)

    refused = await async_client.post("/admin/login/", {**data, "password": PASSWORD})

    assert refused.status_code == 429
