"""What a host page loads: the loader script, and its site's settings."""

import functools
import gzip

from django.contrib.staticfiles import finders
from django.http import HttpResponse, JsonResponse
from django.urls import reverse
from django.views.decorators.http import require_GET
from django_ratelimit.decorators import ratelimit

from core.ratelimits import page_rate
from widget.models import origin_normalised
from widget.selectors import site_active, site_config

LOADER = "widget/loader.js"


@functools.cache
def _loader() -> tuple[bytes, bytes]:
    """The loader, and gzipped: it is loaded on every page of every site, so it is small
    and served from memory (benchmarks/widget.py measures both)."""
    with open(finders.find(LOADER), "rb") as f:
        plain = f.read()
    return plain, gzip.compress(plain, compresslevel=9, mtime=0)


@require_GET
def loader(request):
    plain, packed = _loader()
    zipped = "gzip" in request.headers.get("Accept-Encoding", "")
    response = HttpResponse(packed if zipped else plain, content_type="text/javascript")
    if zipped:
        response.headers["Content-Encoding"] = "gzip"
    response.headers["Vary"] = "Accept-Encoding"
    # Short: a new loader reaches every site within minutes, without versioned URLs.
    response.headers["Cache-Control"] = "public, max-age=300"
    return response


@require_GET
@ratelimit(group="widget-config", key="ip", rate=page_rate)
def config(request, key: str):
    """The site's look, for its loader. Only the site's own origins get an answer they can
    read (CORS): any other page's loader finds nothing to draw."""
    site = site_active(key=key)
    if site is None:
        return JsonResponse({"error": "No such site."}, status=404)
    origin = request.headers.get("Origin", "")
    if not site.allows(origin):
        return JsonResponse({"error": "This origin may not show the widget."}, status=403)
    frame = request.build_absolute_uri(reverse("widget_frame", args=[site.key]))
    response = JsonResponse(site_config(site=site, frame_url=frame))
    response.headers["Access-Control-Allow-Origin"] = origin_normalised(origin)
    response.headers["Vary"] = "Origin"
    response.headers["Cache-Control"] = "private, max-age=60"
    return response
