"""Token frames that never hold the LLM stream back.

The LLM's deltas are put here as they arrive; a task of the batcher's own sends them. The
first token goes out at once (the customer's time to first token). After that a frame
goes out at most every CHAT_TOKEN_FRAME_MS, holding the deltas that arrived meanwhile:
each frame costs the process the same CPU whatever its size (channels, daphne, autobahn,
a send() call; docs/decisions/0005), and 25 updates a second still read as word by word. While a
send is under way (a slow client, a busy event loop) the waiting deltas are joined into
the next frame too, so the stream from the LLM is read at its own pace and no token is
ever dropped.
"""

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import aclosing

from chat.protocol import Event, Token


class TokenBatcher:
    def __init__(
        self,
        send: Callable[[dict], Awaitable[None]],
        on_sent: Callable[[], None],
        *,
        interval: float = 0.0,
    ):
        self.send, self.on_sent, self.interval = send, on_sent, interval
        self.pending: list[str] = []
        self.ready = asyncio.Event()
        self.closed = False
        self.used = False  # a token was put
        self.frames = 0
        self._loop = asyncio.get_running_loop()
        self._last_sent = -interval
        self._nap: asyncio.Future | None = None
        self.task = asyncio.create_task(self._run())

    def put(self, delta: str) -> None:
        self.used = True
        self.pending.append(delta)
        self.ready.set()

    async def _run(self) -> None:
        while True:
            await self.ready.wait()
            self.ready.clear()
            while self.pending:
                await self._wait_for_the_interval()
                text = "".join(self.pending)
                self.pending.clear()
                await self.send(Token(text).frame())
                self._last_sent = self._loop.time()
                self.frames += 1
                self.on_sent()
            if self.closed:
                return

    async def _wait_for_the_interval(self) -> None:
        wait = self._last_sent + self.interval - self._loop.time()
        if wait <= 0 or self.closed:
            return
        # A bare future and call_later, not asyncio.sleep: flush() can end the wait early.
        self._nap = self._loop.create_future()
        timer = self._loop.call_later(wait, _wake, self._nap)
        try:
            await self._nap
        finally:
            timer.cancel()
            self._nap = None

    async def flush(self) -> None:
        """Send what is pending at once and stop; a failed send raises here."""
        self.closed = True
        self.ready.set()
        if self._nap is not None:
            _wake(self._nap)
        await self.task

    def cancel(self) -> None:
        self.task.cancel()


def _wake(future: asyncio.Future) -> None:
    if not future.done():
        future.set_result(None)


async def send_events(
    events: AsyncIterator[Event],
    send: Callable[[dict], Awaitable[None]],
    *,
    on_sent: Callable[[], None],
    interval: float,
) -> None:
    """Send an answer's events as frames: tokens through a TokenBatcher, so the answer
    reads the model at its own pace; anything else once the tokens before it are out."""
    batcher = TokenBatcher(send, on_sent, interval=interval)
    try:
        async with aclosing(events):
            async for event in events:
                if isinstance(event, Token):
                    batcher.put(event.text)
                    continue
                if batcher.used:  # the tokens before it go first; flushed, it stops
                    await batcher.flush()
                await send(event.frame())
    finally:
        batcher.cancel()
