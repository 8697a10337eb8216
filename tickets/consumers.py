"""The agents' staff sockets: the live view of a ticket's conversation, on the ticket's
page (TicketConsumer), and the live queue (QueueConsumer).

Only active staff who may view tickets can open it (Django's session login, checked at the
handshake: anyone else is refused before the socket opens). It follows the conversation's
stream (chat.services.conversation_follow), so the agent sees the customer's messages and
any bot answer as the customer's own sockets get them, and whether the customer has the
chat open. The agent's `typing` reaches the customer as `agent_typing`.
"""

import asyncio
import logging
import time

from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncJsonWebsocketConsumer

from chat.services import agent_typing_push, conversation_follow, customer_online
from core.redisio import REDIS_DOWN, cancel_until_done
from tickets.selectors import ticket_for_staff, ticket_staff_may_work
from tickets.services import QUEUE_GROUP

logger = logging.getLogger(__name__)

# How often the customer's presence is looked at, and the least time between two typing
# notices to the customer (a keystroke each would flood them).
PRESENCE_EVERY_SECONDS = 3.0
TYPING_EVERY_SECONDS = 2.0
# How often a queue socket joins its group again (QueueConsumer.keep_joined).
QUEUE_REJOIN_SECONDS = 300.0


class StaffConsumer(AsyncJsonWebsocketConsumer):
    """`second_factor(user=, session=)`: would the admin let this session in? Handed over by
    the wiring (helpdesk/asgi.py: helpdesk.otp.session_passed), which owns the admin's
    login rules. Without one, nobody gets in."""

    def __init__(self, *args, second_factor=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.second_factor = second_factor

    def passed(self) -> bool:
        if self.second_factor is None:
            return False
        return self.second_factor(user=self.scope.get("user"), session=self.scope["session"])


class QueueConsumer(StaffConsumer):
    """The live queue's socket: `{"type": "queue", "reason", "number", "ticket_id",
    "assignee_id"}` whenever a ticket joins, leaves or changes in the queue
    (tickets.services.queue_publish). The page fetches the queue itself."""

    joined = False
    keeper: asyncio.Task | None = None

    async def connect(self):
        if not await database_sync_to_async(self.allowed)():
            await self.close(code=4403)
            return
        # A layer that is down fails the handshake: the page retries with back-off.
        await self.channel_layer.group_add(QUEUE_GROUP, self.channel_name)
        self.joined = True
        await self.accept()
        self.keeper = asyncio.create_task(self.keep_joined())

    async def keep_joined(self):
        """Join again now and then: channels-redis drops a member after its group_expiry
        (a day), and a Redis restart forgets the group, while a queue page stays open for
        a whole shift."""
        while True:
            await asyncio.sleep(QUEUE_REJOIN_SECONDS)
            try:
                await self.channel_layer.group_add(QUEUE_GROUP, self.channel_name)
            except REDIS_DOWN:
                if asyncio.current_task().cancelling():
                    raise
                logger.warning("Channel layer down: the live queue rejoins later")

    def allowed(self) -> bool:
        return ticket_staff_may_work(user=self.scope.get("user")) and self.passed()

    async def disconnect(self, code):
        if self.keeper is not None:
            await cancel_until_done(self.keeper)
        if self.joined:
            try:
                await self.channel_layer.group_discard(QUEUE_GROUP, self.channel_name)
            except REDIS_DOWN:
                pass  # the group entry expires on its own (channels-redis group_expiry)

    async def queue_changed(self, event):
        await self.send_json({"type": "queue", **{k: v for k, v in event.items() if k != "type"}})

    async def receive_json(self, content, **kwargs):
        await self.send_json(
            {"type": "error", "code": "unknown_type", "message": "This socket only listens."}
        )


class TicketConsumer(StaffConsumer):
    tasks: tuple[asyncio.Task, ...] = ()
    typed_at = float("-inf")

    async def connect(self):
        ticket = await database_sync_to_async(self.allowed_ticket)()
        if ticket is None:
            await self.close(code=4403)  # before accept: the handshake gets a 403
            return
        self.ticket = ticket
        self.key = ticket.conversation.token_hash
        await self.accept()
        self.tasks = (
            asyncio.create_task(self.forward()),
            asyncio.create_task(self.watch_presence()),
        )

    def allowed_ticket(self):
        """The ticket, if this session may watch it: as the admin would let it in."""
        user = self.scope.get("user")
        ticket_id = self.scope["url_route"]["kwargs"]["ticket_id"]
        ticket = ticket_for_staff(user=user, ticket_id=ticket_id)
        return ticket if ticket is not None and self.passed() else None

    async def disconnect(self, code):
        for task in self.tasks:
            await cancel_until_done(task)  # one cancel() can be lost while on Redis

    async def forward(self):
        """The conversation's frames, as they come (through a Redis outage too)."""
        async for text in conversation_follow(conversation_token_hash=self.key):
            await self.send(text_data=text)

    async def watch_presence(self):
        """`{"type": "customer", "online": ...}` at once, then whenever it changes."""
        online = None
        while True:
            try:
                now = await customer_online(conversation_token_hash=self.key)
            except REDIS_DOWN:
                if asyncio.current_task().cancelling():
                    raise
                now = None  # unknown: say nothing
            if now is not None and now != online:
                online = now
                await self.send_json({"type": "customer", "online": online})
            await asyncio.sleep(PRESENCE_EVERY_SECONDS)

    async def receive_json(self, content, **kwargs):
        if not isinstance(content, dict) or content.get("type") != "typing":
            return await self.send_json(
                {"type": "error", "code": "unknown_type", "message": 'Send {"type": "typing"}.'}
            )
        if time.monotonic() - self.typed_at < TYPING_EVERY_SECONDS:
            return
        self.typed_at = time.monotonic()
        user = self.scope["user"]
        try:
            await agent_typing_push(
                conversation_token_hash=self.key, name=user.first_name or user.get_username()
            )
        except REDIS_DOWN:
            logger.warning("Channel layer down: a typing notice was not sent")
