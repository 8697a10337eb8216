import sys

from asgiref.sync import sync_to_async
from django.conf import settings
from django.http import Http404, HttpResponse, JsonResponse
from django.shortcuts import render
from django.template.loader import render_to_string
from django.utils import timezone, translation
from django.views import defaults
from django.views.decorators.cache import cache_control, never_cache
from django.views.decorators.http import last_modified
from django.views.i18n import JavaScriptCatalog
from django_ratelimit.core import get_usage

from core.degraded import OUTAGE_ERRORS
from core.ratelimits import page_rate, seconds_to_wait
from helpdesk.context_processors import brand
from helpdesk.health import health_report


def ratelimited(request, exception):
    """settings.RATELIMIT_VIEW: a page saying when to come back, instead of a bare 403."""
    # Read without counting: the refused request was counted already.
    usage = get_usage(request, group="pages", key="ip", rate=page_rate)
    retry_after = seconds_to_wait(usage["time_left"]) if usage else 60
    response = render(request, "429.html", {"retry_after": retry_after}, status=429)
    response["Retry-After"] = str(retry_after)
    return response


# The page's strings for its scripts (static/chat/*.js: gettext), in the request's language.
# They change only with a deploy (locale/, compiled): a browser keeps them an hour, then
# asks again and gets a 304 until the next restart; nothing here reads the database. Ours
# are in LOCALE_PATHS, which every catalog includes; naming one app (rather than all, the
# default) leaves the admin's script strings out of the customer's download.
_catalog_built = timezone.now()
javascript_catalog = cache_control(max_age=3600)(
    last_modified(lambda request, **kwargs: _catalog_built)(
        JavaScriptCatalog.as_view(packages=["chat"])
    )
)


def javascript_catalog_in(request, lang: str):
    """The catalog in one language, whatever the browser's: the widget's frame speaks its
    site's (chat/views.py widget_frame)."""
    if lang not in dict(settings.LANGUAGES):
        raise Http404("No such language.")
    with translation.override(lang):
        return javascript_catalog(request)


@never_cache
async def healthz(request):
    """Each dependency's status and latency, for load balancers and compose healthchecks.

    200 while the service can answer customers, even when only the LLM is down (they get
    the fallback); 503 when it cannot. ?strict=1 also fails on a degraded service.
    429 past RATELIMIT_HEALTHZ per address: the checks are cached, but not the request.
    """
    # Counted as the pages are, per client address (core/ratelimits.py), in Redis.
    # Not @ratelimit: its wrapper is sync, and its 429 page speaks of the "pages" group.
    usage = await sync_to_async(get_usage)(
        request, group="healthz", key="ip", rate=settings.RATELIMIT_HEALTHZ, increment=True
    )
    # No count (Redis unreachable: None, or time_left -1 when failing closed) refuses no
    # probe: the load balancer must see the outage as the 503 below, not as a 429.
    if usage and usage["should_limit"] and usage["time_left"] >= 0:
        retry_after = seconds_to_wait(usage["time_left"])
        response = JsonResponse({"status": "throttled"}, status=429)
        response["Retry-After"] = str(retry_after)
        return response
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
        response = HttpResponse(render_to_string("degraded.html", brand()), status=503)
        response["Retry-After"] = "60"
        return response
    return defaults.server_error(request)
