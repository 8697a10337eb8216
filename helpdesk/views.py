from django.shortcuts import render
from django_ratelimit.core import get_usage

from helpdesk.ratelimits import page_rate, seconds_to_wait


def ratelimited(request, exception):
    """settings.RATELIMIT_VIEW: a page saying when to come back, instead of a bare 403."""
    # Read without counting: the refused request was counted already.
    usage = get_usage(request, group="pages", key="ip", rate=page_rate)
    retry_after = seconds_to_wait(usage["time_left"]) if usage else 60
    response = render(request, "429.html", {"retry_after": retry_after}, status=429)
    response["Retry-After"] = str(retry_after)
    return response
