"""The widget's socket: the chat of chat/consumers.py, for a frame on another site's page.

A third-party frame gets no cookie when the browser blocks them (Safari always, Chrome by
choice), so there is no Django session at the handshake. The socket is accepted, and its
first frame must be `hello` with the widget's session token (widget/sessions.py): it says
which conversation this is. The answer, `session`, carries a fresh token, the transcript
and where the conversation's stream is; from then on it is the customer's chat socket.

Only the desk's own origin may open it (helpdesk/asgi.py checks the Origin): the frame is
on that origin, and the site's `frame-ancestors` (chat/views.py) decides who may frame it.
"""

import asyncio
import logging

from django.conf import settings
from django.utils.translation import gettext_lazy as _

from chat import protocol, streams
from chat.consumers import INVALID, ChatConsumer
from chat.models import token_hash
from chat.protocol import Hello, Session
from chat.selectors import transcript_frames
from chat.services import on_db, widget_session_open
from widget.identity import InvalidIdentity, identity_verified
from widget.selectors import site_active
from widget.sessions import session_token_issue

logger = logging.getLogger(__name__)

SAY_HELLO = _('Start with {"type": "hello"}: the widget\'s session comes in its first frame.')


class WidgetConsumer(ChatConsumer):
    """`ticket_for(conversation_token_hash=)`: the conversation's ticket as `ticket_status`
    shows it, or None (the wiring hands it over, as the support page's view gets it)."""

    site = None
    started = False
    session_key = None

    def __init__(self, *args, ticket_for=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.ticket_for = ticket_for

    async def connect(self):
        self.shown_agent_messages: set[int] = set()
        key = self.scope["url_route"]["kwargs"]["key"]
        self.site = await on_db(site_active)(key=key)
        if self.site is not None:
            self.language = self.site.language  # the widget speaks its site's language
        await self.accept()
        self.accepted = True
        if self.site is None:
            await self.error("unknown_site", _("This widget's site is not known here."))
            return await self.close(code=4404)
        if not await self.admitted():
            return
        self.hello_timer = asyncio.get_running_loop().call_later(
            settings.WIDGET_HELLO_SECONDS, lambda: asyncio.ensure_future(self.no_hello())
        )

    async def no_hello(self):
        if not self.started:
            await self.close(code=4401)

    async def disconnect(self, code):
        if getattr(self, "hello_timer", None):
            self.hello_timer.cancel()
        await super().disconnect(code)

    async def receive(self, text_data=None, bytes_data=None):
        if self.started:
            return await super().receive(text_data=text_data, bytes_data=bytes_data)
        if not self.counted:
            return  # refused at connect, and being closed
        if (read := await self.budgeted(text_data)) is None:
            return
        content, kind = read
        request = protocol.read(content) if isinstance(content, dict) else INVALID
        if isinstance(request, protocol.Error) and kind == Hello.type:
            return await self.send_event(request)
        if not isinstance(request, Hello):
            return await self.error("no_session", SAY_HELLO)
        await self.on_hello(request)

    async def on_hello(self, hello: Hello):
        identity = None
        if hello.identity:
            try:
                identity = identity_verified(secret=self.site.secret, token=hello.identity)
            except InvalidIdentity as exc:
                # Refused, and said so; the customer still chats, unverified.
                await self.error("bad_identity", str(exc))
        chat_token = await on_db(widget_session_open)(
            token=hello.token,
            site=self.site,
            identity=identity,
            page_url=hello.page_url,
            page_title=hello.page_title,
        )
        self.started = True
        self.hello_timer.cancel()
        # Rate limits count per session; here that is the conversation.
        self.session_key = "widget:" + token_hash(chat_token)
        await self.send_event(await on_db(self.session_frame)(chat_token))
        await self.begin(chat_token)

    def session_frame(self, chat_token: str) -> Session:
        key = token_hash(chat_token)
        # The position first, as the page's view does: an answer that ends in between is
        # then in both, and the page drops the second copy.
        after = streams.position(token_hash=key)
        return Session(
            token=session_token_issue(site_key=self.site.key, chat_token=chat_token),
            resume_after=after,
            transcript=transcript_frames(chat_token=chat_token),
            ticket=self.ticket_for(conversation_token_hash=key) if self.ticket_for else None,
        )
