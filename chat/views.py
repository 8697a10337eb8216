from django.shortcuts import render
from django.views.decorators.csrf import ensure_csrf_cookie
from django_ratelimit.decorators import ratelimit

from helpdesk.ratelimits import page_rate


# Counted per address: every visit without a cookie starts a new session.
@ratelimit(group="pages", key="ip", rate=page_rate)
@ensure_csrf_cookie
def index(request):
    # The socket belongs to the Django session, so make sure one exists (and its cookie).
    if not request.session.session_key:
        request.session["started"] = True
        request.session.save()
    return render(request, "chat/index.html")
