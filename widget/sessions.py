"""The widget's session token: what a cookie does on the desk's own page.

A browser that blocks third-party cookies (Safari, Chrome by choice) gives the widget's
frame none, so the host page keeps this token (in its sessionStorage) and the frame sends it
in the socket's first frame, never in a URL, where logs and referrers would keep it. It is
the conversation's token, signed with the site's key, so a token from one site does not
work on another; it expires after WIDGET_SESSION_SECONDS without a visit, and every
connection issues a fresh one.
"""

from django.conf import settings
from django.core import signing

SALT = "widget.session"


def session_token_issue(*, site_key: str, chat_token: str) -> str:
    return signing.dumps({"site": site_key, "chat": chat_token}, salt=SALT, compress=False)


def session_token_read(*, site_key: str, token: str) -> str | None:
    """The chat token the widget's token carries, or None when it is forged, expired or
    another site's."""
    try:
        data = signing.loads(token, salt=SALT, max_age=settings.WIDGET_SESSION_SECONDS)
    except signing.BadSignature:  # SignatureExpired is one
        return None
    if not isinstance(data, dict) or data.get("site") != site_key:
        return None
    chat = data.get("chat")
    return chat if isinstance(chat, str) and chat else None
