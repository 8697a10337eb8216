from types import SimpleNamespace

from django.conf import settings
from django.db import connection
from django.http import Http404
from django.shortcuts import render
from django.utils import translation
from django.views.decorators.clickjacking import xframe_options_exempt
from django.views.decorators.csrf import ensure_csrf_cookie
from django_ratelimit.decorators import ratelimit

from chat import streams
from chat.models import token_hash
from chat.selectors import conversation_transcript
from chat.services import session_chat_token
from core import csp, hours
from core.ratelimits import page_rate
from widget.selectors import site_active


# Counted per address: every visit without a cookie starts a new session.
@ratelimit(group="pages", key="ip", rate=page_rate)
@ensure_csrf_cookie
def index(request, ticket_for=None):
    """The support page, with the conversation so far: a reload loses nothing.
    `ticket_for(conversation_token_hash=)`: the conversation's ticket as the customer sees
    it (number, status, label, rate), or None; handed over by the wiring
    (helpdesk/urls.py), since tickets sit above the chat."""
    # The socket finds its conversation by a token in the Django session, so make sure
    # both exist (and the cookie); made here rather than by the socket, so that two tabs
    # opening at once cannot each make a token of their own.
    # Reading it also checks Redis, and connecting checks Postgres: the chat needs both,
    # so an outage shows the "degraded" page now (helpdesk.views.server_error), not a
    # page whose socket can never connect.
    chat_token = session_chat_token(session=request.session)
    connection.ensure_connection()
    key = token_hash(chat_token)
    # Read before the transcript: an answer that ends in between is then in both, and the
    # page drops the second copy; read after, it could be in neither.
    resume_after = streams.position(token_hash=key)
    at = hours.now()
    context = {
        # Where the page's socket resumes the conversation's stream (chat/streams.py).
        "resume_after": resume_after,
        # The page checks source links against the same hosts (static/chat/chat.js).
        "docs_domains": settings.DOCS_DOMAINS,
        "transcript": conversation_transcript(chat_token=chat_token),
        "ticket": ticket_for(conversation_token_hash=key) if ticket_for else None,
        # Whether a person answers now, and if not, when they are back (core/hours.py).
        "agents_available": hours.is_open(at=at),
        "next_opening": hours.opening_text(at=at),
    }
    return render(request, "chat/index.html", context)


@ratelimit(group="pages", key="ip", rate=page_rate)
@xframe_options_exempt
def widget_frame(request, key: str):
    """The chat inside a site's widget (static/widget/loader.js opens it in a frame). It
    never touches the session: a third-party frame may have no cookie, so the socket's
    first frame carries the session (chat/widget.py), and the transcript comes with it."""
    site = site_active(key=key)
    if site is None:
        raise Http404("No such site.")
    at = hours.now()
    context = {
        "site": site,
        "brand": SimpleNamespace(name=site.shown_title, greeting=site.shown_greeting),
        "docs_domains": settings.DOCS_DOMAINS,
        "agents_available": hours.is_open(at=at),
        "next_opening": hours.opening_text(at=at),
    }
    with translation.override(site.language):  # the site's language, not the browser's
        response = render(request, "chat/widget.html", context)
    # Only the site's own pages may frame it; every origin was checked when it was saved
    # (widget.models.origin_normalised), and is checked again here: each goes in a header.
    origins = " ".join(origin for origin in site.origins if site.allows(origin))
    response.headers["Content-Security-Policy"] = csp.policy(frame_ancestors=origins or "'none'")
    response.headers["Content-Language"] = site.language
    return response
