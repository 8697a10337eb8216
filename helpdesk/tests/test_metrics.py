"""/metrics: Prometheus can scrape the question path's histograms and counters."""

import pytest

pytestmark = pytest.mark.django_db

NAMES = [
    "helpdesk_query_embedding_seconds_bucket",
    "helpdesk_retrieval_seconds_bucket",
    "helpdesk_llm_time_to_first_token_seconds_bucket",
    "helpdesk_first_token_out_seconds_bucket",
    "helpdesk_fallbacks_total",
    "helpdesk_refusals_total",
    "helpdesk_rate_limited_total",
    "helpdesk_escalations_total",
]


def test_it_serves_the_prometheus_text_format(client):
    response = client.get("/metrics")

    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/plain; version=")
    for name in ["helpdesk_query_embedding_seconds", "helpdesk_rate_limited_total"]:
        assert f"# TYPE {name}" in response.text


def test_it_requires_the_token_when_one_is_set(client, settings):
    settings.METRICS_TOKEN = "s3cret"

    assert client.get("/metrics").status_code == 403
    assert client.get("/metrics", HTTP_AUTHORIZATION="Bearer wrong").status_code == 403
    assert client.get("/metrics", HTTP_AUTHORIZATION="Bearer s3cret").status_code == 200


def _scrape(client) -> dict[str, float]:
    """Every sample of /metrics by its name and labels, e.g. 'helpdesk_answers_total'."""
    samples = {}
    for line in client.get("/metrics").text.splitlines():
        if line and not line.startswith("#"):
            name, value = line.rsplit(" ", 1)
            samples[name] = float(value)
    return samples


@pytest.mark.django_db(transaction=True)
async def test_an_answer_and_a_refusal_show_up_in_the_scraped_metrics(demo_kb, session_key):
    from asgiref.sync import sync_to_async
    from django.test import Client

    from chat.tests.helpers import ask, chat_socket

    scrape = sync_to_async(lambda: _scrape(Client()))
    before = await scrape()
    socket = chat_socket(session_key)
    await socket.connect()
    # The refusal first: it is not remembered, so the next question is not a follow-up.
    await ask(socket, "What's a good recipe for banana bread?")
    await ask(socket, "I forgot my password, how do I get back in?")
    await socket.disconnect()
    after = await scrape()

    def grew(name: str) -> float:
        return after.get(name, 0) - before.get(name, 0)

    assert grew("helpdesk_answers_total") == 1
    assert grew('helpdesk_refusals_total{reason="no_evidence"}') == 1
    assert grew("helpdesk_query_embedding_seconds_count") == 2
    assert grew("helpdesk_retrieval_seconds_count") == 2
    assert grew("helpdesk_llm_time_to_first_token_seconds_count") == 1
    assert grew("helpdesk_first_token_out_seconds_count") == 1
    assert grew("helpdesk_llm_time_to_first_token_seconds_sum") > 0
