"""What the customer sees while Postgres or Redis is down: a clear word, never a traceback.

HTTP requests get the 503 "degraded" page (`helpdesk.views.server_error`, Django's 500
handler, so an outage anywhere in a request is caught: a view, a middleware saving the
session). A chat socket that fails on one gets a `service_degraded` error frame and a close
code that tells the page to try again later (chat/middleware.py).
"""

from django.db import InterfaceError, OperationalError
from redis.exceptions import RedisError

# A database that refuses or times out, a dropped database connection, an unreachable Redis.
OUTAGE_ERRORS = (OperationalError, InterfaceError, RedisError)

DEGRADED_MESSAGE = (
    "Our support service is having trouble right now and can't answer. Please try again "
    "in a few minutes."
)
