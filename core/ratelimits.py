"""Who is counted, and how fast: rate limits for the chat socket and the public pages.

django-ratelimit counts, in fixed windows kept in Redis (the "ratelimit" cache), so every
daphne process adds to the same count. When a count is over its rate, the customer is told
how long until that window ends.
"""

import ipaddress

from django.conf import settings
from django.core.cache import caches
from django.http import HttpRequest
from django_ratelimit.core import get_usage

from core.cache import OUTAGE

# Per chat action: the settings holding its per-session and its per-address rate.
CHAT_RATES = {
    "message": ("RATELIMIT_SESSION", "RATELIMIT_IP"),
    "escalate": ("RATELIMIT_ESCALATE", "RATELIMIT_ESCALATE_IP"),
}


def client_ip(request: HttpRequest) -> str:
    """The address a request is counted against (settings.RATELIMIT_IP_META_KEY).

    Not daphne's --proxy-headers address: daphne takes the leftmost X-Forwarded-For entry,
    which the client writes itself when the proxy appends to the header.
    """
    forwarded = request.META.get("HTTP_X_FORWARDED_FOR", "")
    entries = [entry.strip() for entry in forwarded.split(",") if entry.strip()]
    if settings.TRUSTED_PROXY_COUNT and entries:
        # Each trusted proxy appended the address it saw; count that many from the right.
        candidate = entries[-min(settings.TRUSTED_PROXY_COUNT, len(entries))]
        if _is_ip(candidate):
            return candidate
    address = request.META.get("REMOTE_ADDR") or ""
    # No address at all (a unix socket with no proxy count set) is one shared client.
    return address if _is_ip(address) else "0.0.0.0"


def _is_ip(value: str) -> bool:
    try:
        ipaddress.ip_address(value)
    except ValueError:
        return False
    return True


def scope_request(scope: dict) -> HttpRequest:
    """What django-ratelimit needs of a request, from a WebSocket's ASGI scope."""
    request = HttpRequest()
    request.method = "GET"
    client = scope.get("client")
    request.META["REMOTE_ADDR"] = client[0] if client else ""
    forwarded = [
        v.decode("latin-1") for k, v in scope["headers"] if k.lower() == b"x-forwarded-for"
    ]
    if forwarded:
        request.META["HTTP_X_FORWARDED_FOR"] = ",".join(forwarded)
    return request


def chat_retry_after(*, scope: dict, session_key: str, action: str) -> int:
    """Count one chat action ("message" or "escalate") for the session and the address.

    0 when it may go ahead, else the seconds until the window that refused it ends.
    get_usage is is_ratelimited's own counting, with the window's time left as well.
    """
    request = scope_request(scope)
    session_rate, ip_rate = (getattr(settings, name) for name in CHAT_RATES[action])
    for who, key, rate in (
        ("session", lambda group, request: session_key, session_rate),
        ("ip", "ip", ip_rate),
    ):
        usage = get_usage(request, group=f"chat.{action}.{who}", key=key, rate=rate, increment=True)
        # None: Redis is unreachable and RATELIMIT_FAIL_OPEN lets the action through.
        if usage and usage["should_limit"]:
            return seconds_to_wait(usage["time_left"])
    return 0


def seconds_to_wait(time_left: int) -> int:
    """Whole seconds until a new window starts, from get_usage's time_left.

    time_left is the window's last second minus the current whole second, and that last
    second still counts: the next window starts one second later. A failed count, when
    failing closed, has no window (time_left -1): try again in a second.
    """
    return max(1, time_left + 1)


def page_rate(group: str, request: HttpRequest) -> str:
    """The public pages' rate, read per request so that a changed setting applies."""
    return settings.RATELIMIT_PAGES


# How long an address's count of open sockets outlives its last connect. A daphne process
# that dies with sockets open never counts them down; this bounds how long they count.
CONNECTIONS_TTL = 3600


def _connections_key(scope: dict) -> str:
    return f"chat:connections:{client_ip(scope_request(scope))}"


def chat_connection_open(*, scope: dict) -> bool:
    """Count one more open chat socket for the client's address. False, and not counted,
    when the address already has CHAT_CONNECTIONS_PER_IP open: each socket holds memory
    and a query, and a script could otherwise open thousands."""
    cache, key = caches[settings.RATELIMIT_USE_CACHE], _connections_key(scope)
    cache.add(key, 0, CONNECTIONS_TTL)
    try:
        count = cache.incr(key)
    except ValueError:  # expired between the two calls
        count = 1
    if count is None:
        # Redis unreachable: let the socket open whatever RATELIMIT_FAIL_OPEN says. Failing
        # closed, its questions are refused by their own limits with the right message;
        # refusing the socket would only say "too many chats" to everyone.
        return True
    try:
        cache.touch(key, CONNECTIONS_TTL)
    except OUTAGE:
        pass
    if count > settings.CHAT_CONNECTIONS_PER_IP:
        chat_connection_closed(scope=scope)
        return False
    return True


def chat_connection_closed(*, scope: dict) -> None:
    try:
        caches[settings.RATELIMIT_USE_CACHE].decr(_connections_key(scope))
    except (ValueError, *OUTAGE):
        pass  # expired, or Redis is down: the count lapses with CONNECTIONS_TTL
