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
