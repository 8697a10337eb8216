"""The conversation's stream (chat/streams.py), to one socket: where it starts, and `resume`.

A page sends `resume` as its first frame, with the last `seq` it has shown: from there it
gets exactly what it missed, in bounded batches, then `resumed`, then the live rest. A
client that never resumes is forwarded the running answer, if any, from its start, after
RESUME_WAIT_SECONDS, or at once when it asks a question first. One forwarder per socket, so
that a frame reaches it at most once and in order.
"""

import asyncio
import logging

from django.conf import settings

from chat import relay, streams
from chat.protocol import Asked, Resume, Resumed
from core.redisio import REDIS_DOWN, cancel_until_done

logger = logging.getLogger(__name__)

# How long a new socket waits for `resume` before it forwards the stream on its own.
RESUME_WAIT_SECONDS = 1.0


class StreamForwarding:
    """For ChatConsumer: needs `key` (the conversation's token hash), `socket_id`,
    `send_json` and `send_event`."""

    forwarding: asyncio.Task | None = None  # the stream, to this socket
    following = False  # that task is past its wait, sending

    async def forward_from(self, after: int | None, wait: float = 0) -> None:
        """Forward from `after` instead, once the frames on their way are out: a frame
        goes to the socket at most once, in order."""
        await self.forward_stop()
        self.forwarding = asyncio.create_task(self.forward(after, wait))

    async def forward_stop(self) -> None:
        # Ended, not only told to end: two forwarders would send every frame twice, and one
        # left running would keep the session "present" and its answer alive.
        if self.forwarding is not None:
            await cancel_until_done(self.forwarding)
        self.following = False

    async def forward(self, after: int | None, wait: float) -> None:
        """Send the stream's frames after `after` (None: from the running answer's start,
        or from now) as they come. Redis down: wait it out with back-off."""
        await asyncio.sleep(wait)
        self.following = True
        every = max(min(settings.CHAT_ABANDON_SECONDS / 3, streams.BLOCK_SECONDS), 0.1)
        async for entry in streams.follow(token_hash=self.key, after=after, every=every):
            await self.send_stream_entry(entry)

    async def send_stream_entry(self, entry: streams.Entry) -> None:
        if entry.type == Asked.type and entry.origin == self.socket_id:
            return  # this socket's own question: its page shows it already
        await self.send(text_data=entry.text)

    async def on_resume(self, request: Resume):
        """Send what was missed in bounded batches, then `resumed`, then the live rest."""
        await self.forward_stop()
        after = request.after
        try:
            # Asked first: an answer that ends during the replay has all its frames in it.
            _, answering = await streams.aposition(token_hash=self.key)
            while batch := await streams.read(token_hash=self.key, after=after):
                for entry in batch:
                    await self.send_stream_entry(entry)
                after = batch[-1].seq
        except REDIS_DOWN:
            logger.warning("Answer stream unavailable at a resume")
            answering = False
        await self.send_event(Resumed(answering or self.key in relay.RUNS))
        await self.forward_from(after)
