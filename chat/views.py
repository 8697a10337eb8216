from django.db import connection
from django.shortcuts import render
from django.views.decorators.csrf import ensure_csrf_cookie


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
    return render(request, "chat/index.html")
