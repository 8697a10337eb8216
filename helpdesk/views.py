import sys

from django.http import HttpResponse, JsonResponse
from django.template.loader import render_to_string
from django.views import defaults
from django.views.decorators.cache import never_cache

from helpdesk.degraded import OUTAGE_ERRORS
from helpdesk.health import health_report


@never_cache
async def healthz(request):
    """Each dependency's status and latency, for load balancers and compose healthchecks.

    200 while the service can answer customers, even when only the LLM is down (they get
    the fallback); 503 when it cannot. ?strict=1 also fails on a degraded service.
    """
    report = await health_report()
    strict = request.GET.get("strict") == "1"
    healthy = report["status"] == "ok" or (report["status"] == "degraded" and not strict)
    return JsonResponse(report, status=200 if healthy else 503)


def server_error(request):
    """Django's 500 handler: an outage of Postgres or Redis is a 503 "degraded" page.

    Rendered without the request: its context processors would reach for the session and
    the user, which live in the services that are down.
    """
    if isinstance(sys.exc_info()[1], OUTAGE_ERRORS):
        response = HttpResponse(render_to_string("degraded.html"), status=503)
        response["Retry-After"] = "60"
        return response
    return defaults.server_error(request)
