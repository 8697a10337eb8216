"""The ASGI application, built and nothing else: daphne serves helpdesk/serve.py, which
warms up first; the tests import this one directly."""

import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "helpdesk.settings")
# Django must be set up before anything imports models (the consumers do).
django_asgi_app = get_asgi_application()

from channels.auth import AuthMiddleware  # noqa: E402
from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402
from channels.security.websocket import AllowedHostsOriginValidator  # noqa: E402
from channels.sessions import SessionMiddlewareStack  # noqa: E402
from django.urls import path  # noqa: E402

from chat.consumers import ChatConsumer  # noqa: E402
from chat.middleware import DegradedSocketMiddleware  # noqa: E402
from chat.widget import WidgetConsumer  # noqa: E402
from helpdesk.otp import session_passed  # noqa: E402
from tickets.consumers import QueueConsumer, TicketConsumer  # noqa: E402
from tickets.handoff import ticket_customer_wrote, ticket_rate  # noqa: E402
from tickets.selectors import ticket_for_customer  # noqa: E402
from tickets.services import ticket_escalate  # noqa: E402

websocket_urlpatterns = [
    # The chat escalates, tells of messages to a person and takes ratings through tickets,
    # which sit above it: the wiring hands those over.
    path(
        "ws/chat/",
        ChatConsumer.as_asgi(
            escalate=ticket_escalate, held=ticket_customer_wrote, rate=ticket_rate
        ),
    ),
    # The widget's frame: the same chat, its session in its first frame (chat/widget.py).
    path(
        "ws/widget/<str:key>/",
        WidgetConsumer.as_asgi(
            escalate=ticket_escalate,
            held=ticket_customer_wrote,
            rate=ticket_rate,
            ticket_for=ticket_for_customer,
        ),
    ),
    # Staff only, by their admin login and its second factor (tickets/consumers.py).
    path(
        "ws/agent/tickets/<int:ticket_id>/",
        AuthMiddleware(TicketConsumer.as_asgi(second_factor=session_passed)),
    ),
    path("ws/agent/queue/", AuthMiddleware(QueueConsumer.as_asgi(second_factor=session_passed))),
]

application = ProtocolTypeRouter(
    {
        "http": django_asgi_app,
        # The origin check stops other sites from opening a socket with a visitor's cookie.
        # An outage (the session's Redis, the database) gets a clear error frame. Sessions,
        # not auth: a logged-in agent who opens the support page chats as a customer, and
        # the socket has no user to act as.
        "websocket": AllowedHostsOriginValidator(
            DegradedSocketMiddleware(SessionMiddlewareStack(URLRouter(websocket_urlpatterns)))
        ),
    }
)
