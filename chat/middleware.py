"""The chat socket's ASGI middleware: what the customer sees while Postgres or Redis is down.

A socket that an outage ends (a session Redis cannot load at the handshake, a database
that is down when the consumer connects) gets a `service_degraded` error frame and a close
code that tells the page to try again later, never a dropped connection.
"""

import json
import logging

from chat.protocol import Error
from core.degraded import DEGRADED_MESSAGE, OUTAGE_ERRORS

logger = logging.getLogger(__name__)

# "Try again later" (RFC 6455's 1013) in the application range: daphne's autobahn sends
# only 1000 or 3000-4999, and on 1013 raises instead ("invalid close code"), so the socket
# ended with 1011 and a logged exception. The page reconnects on any close, with back-off.
CLOSE_TRY_AGAIN_LATER = 4013


class DegradedSocketMiddleware:
    """Turn an outage that ends a socket (a session Redis cannot load at the handshake, a
    database that is down when the consumer connects) into a `service_degraded` frame."""

    def __init__(self, app):
        self.app = app

    async def __call__(self, scope, receive, send):
        state = {"accepted": False, "closed": False}

        async def tracking_send(message):
            if message["type"] == "websocket.accept":
                state["accepted"] = True
            elif message["type"] == "websocket.close":
                state["closed"] = True
            await send(message)

        try:
            await self.app(scope, receive, tracking_send)
        except OUTAGE_ERRORS:
            logger.warning("WebSocket ended by an outage", exc_info=True)
            if state["closed"]:
                return
            if not state["accepted"]:
                await send({"type": "websocket.accept"})
            error = Error("service_degraded", DEGRADED_MESSAGE).frame()
            await send({"type": "websocket.send", "text": json.dumps(error)})
            await send({"type": "websocket.close", "code": CLOSE_TRY_AGAIN_LATER})
