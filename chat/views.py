from django.conf import settings
from django.db import connection
from django.shortcuts import render
from django.views.decorators.csrf import ensure_csrf_cookie
from django_ratelimit.decorators import ratelimit

from helpdesk.ratelimits import page_rate


# Counted per address: every visit without a cookie starts a new session.
@ratelimit(group="pages", key="ip", rate=page_rate)
@ensure_csrf_cookie
def index(request):
    # The socket belongs to the Django session, so make sure one exists (and its cookie).
    # Reading it also checks Redis, and connecting checks Postgres: the chat needs both,
    # so an outage shows the "degraded" page now (helpdesk.views.server_error), not a
    # page whose socket can never connect.
    if not request.session.get("started"):
        request.session["started"] = True
        request.session.save()
    connection.ensure_connection()
    # The page checks source links against the same hosts (static/chat/chat.js).
    return render(request, "chat/index.html", {"docs_domains": settings.DOCS_DOMAINS})
