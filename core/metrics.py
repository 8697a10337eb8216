"""Prometheus metrics of the question path, served at /metrics.

One registry per process (prometheus-client's default). Each daphne process is its own
scrape target behind the load balancer; Prometheus sums them, which is how it is meant to
be used with several replicas.
"""

import hmac

from django.conf import settings
from django.http import HttpRequest, HttpResponse, HttpResponseForbidden
from prometheus_client import CONTENT_TYPE_LATEST, Counter, Histogram, generate_latest

# Buckets around the targets: a few ms for embedding and SQL, up to seconds for a CPU LLM.
FAST = (0.001, 0.0025, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 1.0)
SLOW = (0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)

EMBEDDING_SECONDS = Histogram(
    "helpdesk_query_embedding_seconds", "Embedding one question", buckets=FAST
)
RETRIEVAL_SECONDS = Histogram(
    "helpdesk_retrieval_seconds", "Retrieval SQL for one question", buckets=FAST
)
TTFT_SECONDS = Histogram(
    "helpdesk_llm_time_to_first_token_seconds",
    "From sending the prompt to the LLM's first token",
    buckets=SLOW,
)
FIRST_TOKEN_OUT_SECONDS = Histogram(
    "helpdesk_first_token_out_seconds",
    "From receiving the question to its first token leaving the socket",
    buckets=SLOW,
)
ANSWERS = Counter("helpdesk_answers_total", "Answers streamed by the model")
FALLBACKS = Counter("helpdesk_fallbacks_total", "Fallback answers sent", ["reason"])
REFUSALS = Counter("helpdesk_refusals_total", "Questions refused", ["reason"])
RATE_LIMITED = Counter("helpdesk_rate_limited_total", "Messages refused by a rate limit")
ESCALATIONS = Counter("helpdesk_escalations_total", "Escalations to a human")


def metrics(request: HttpRequest) -> HttpResponse:
    # Scrapers send the token when one is set; without it, anyone who reaches the app can
    # read these aggregate figures (no personal data), as with most exporters.
    token = settings.METRICS_TOKEN
    if token and not hmac.compare_digest(
        request.headers.get("Authorization", ""), f"Bearer {token}"
    ):
        return HttpResponseForbidden("A valid Authorization: Bearer token is required.\n")
    return HttpResponse(generate_latest(), content_type=CONTENT_TYPE_LATEST)
