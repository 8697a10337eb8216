"""/healthz: each dependency checked for real, with its latency; 503 only when customers
cannot be answered at all (a dead LLM still leaves the fallback answer)."""

import asyncio
import socket
import threading
import time

import pytest

from chat import llm
from helpdesk import health
from knowledge import embeddings

pytestmark = pytest.mark.django_db(transaction=True)

CHECKS = {"database", "redis", "llm", "embeddings"}


@pytest.fixture(autouse=True)
def _model_loaded():
    # Production warms up at start (helpdesk/serve.py): the model, the process that embeds
    # questions and the LLM client's lazy imports. The tests import helpdesk.asgi, which
    # does not, and the first /healthz would spend its HEALTHZ_TIMEOUT on them instead on
    # a busy machine.
    embeddings.get_model()
    embeddings.embed_query("warm up")
    llm.warm_up()
    llm.base_urls()


@pytest.fixture(autouse=True)
def _no_cached_checks():
    # The cache is the process's; one test's results are not the next one's.
    health.recent_checks.clear()


@pytest.fixture
def counting_llm(settings):
    """An LLM address that counts connections and closes them: any call shows up."""
    connections = []
    server = socket.create_server(("127.0.0.1", 0))

    def accept():
        while True:
            try:
                conn, _ = server.accept()
            except OSError:
                return
            connections.append(1)
            conn.close()

    threading.Thread(target=accept, daemon=True).start()
    settings.LLM_BASE_URL = f"http://127.0.0.1:{server.getsockname()[1]}/v1"
    yield connections
    server.close()


def test_it_reports_every_dependency_ok(client):
    response = client.get("/healthz")

    assert response.status_code == 200, response.json()
    assert response["Cache-Control"].startswith("max-age=0")
    report = response.json()
    assert report["status"] == "ok"
    assert set(report["checks"]) == CHECKS
    for name, check in report["checks"].items():
        assert check["ok"], name
        assert check["ms"] >= 0
    assert report["checks"]["llm"]["circuit"] == "closed"


def test_a_dead_llm_is_reported_but_the_service_stays_up(client, dead_llm):
    response = client.get("/healthz")

    assert response.status_code == 200
    report = response.json()
    assert report["status"] == "degraded"
    assert not report["checks"]["llm"]["ok"]
    assert all(report["checks"][name]["ok"] for name in ("database", "redis", "embeddings"))


def test_strict_mode_fails_on_a_dead_llm(client, dead_llm):
    assert client.get("/healthz?strict=1").status_code == 503


def test_strict_mode_passes_when_all_is_well(client):
    assert client.get("/healthz?strict=1").status_code == 200


def test_a_stopped_redis_is_reported_and_fails_the_check(client, settings, own_redis):
    settings.HEALTHZ_CACHE_SECONDS = 0
    assert client.get("/healthz").status_code == 200
    own_redis.kill()

    response = client.get("/healthz")

    assert response.status_code == 503
    report = response.json()
    assert report["status"] == "down"
    assert report["checks"]["redis"] == {
        "ok": False,
        "ms": report["checks"]["redis"]["ms"],
        "error": "ConnectionError",
    }
    assert report["checks"]["database"]["ok"]

    own_redis.start()
    assert client.get("/healthz").json()["status"] == "ok"


def test_it_needs_no_session_and_sets_no_cookie(client):
    response = client.get("/healthz")
    assert "sessionid" not in response.cookies


def test_hits_within_the_cache_window_call_the_llm_and_embedder_once(
    client, settings, counting_llm
):
    settings.HEALTHZ_CACHE_SECONDS = 30
    first = client.get("/healthz").json()
    calls = len(counting_llm)
    assert calls > 0

    for _ in range(5):
        again = client.get("/healthz").json()
        # The very run of each check: same latency, to the tenth of a millisecond.
        assert again["checks"]["embeddings"] == first["checks"]["embeddings"]
        assert again["checks"]["database"] == first["checks"]["database"]

    assert len(counting_llm) == calls


async def test_hits_that_arrive_during_a_run_wait_for_it_instead_of_starting_their_own(
    settings, counting_llm
):
    settings.HEALTHZ_CACHE_SECONDS = 0
    await health.health_report()
    one_run = len(counting_llm)
    settings.HEALTHZ_CACHE_SECONDS = 30

    reports = await asyncio.gather(*(health.health_report() for _ in range(10)))

    assert len(counting_llm) == 2 * one_run
    assert all(report == reports[0] for report in reports)


def test_the_checks_run_again_once_the_window_has_passed(client, settings, counting_llm):
    settings.HEALTHZ_CACHE_SECONDS = 0.5
    client.get("/healthz")
    calls = len(counting_llm)

    time.sleep(0.6)
    client.get("/healthz")

    assert len(counting_llm) == 2 * calls


def test_one_address_past_the_limit_gets_a_429(client, settings):
    settings.RATELIMIT_HEALTHZ = "3/h"
    for _ in range(3):
        assert client.get("/healthz", REMOTE_ADDR="203.0.113.7").status_code != 429

    refused = client.get("/healthz", REMOTE_ADDR="203.0.113.7")

    assert refused.status_code == 429
    assert refused.json() == {"status": "throttled"}
    assert 0 < int(refused["Retry-After"]) <= 3600
    # Another address (the load balancer's) is still answered.
    assert client.get("/healthz", REMOTE_ADDR="10.0.0.3").status_code != 429
