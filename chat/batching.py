"""Token frames that never hold the LLM stream back.

The LLM's deltas are put here as they arrive; a task of the batcher's own sends them. While
the socket keeps up, each delta is its own frame. While a send is still under way (a slow
client, a busy event loop), the deltas that arrive meanwhile are joined into the next frame,
so the stream from the LLM is read at its own pace and no token is ever dropped.
"""

import asyncio
from collections.abc import Awaitable, Callable


class TokenBatcher:
    def __init__(self, send: Callable[[dict], Awaitable[None]], on_sent: Callable[[], None]):
        self.send, self.on_sent = send, on_sent
        self.pending: list[str] = []
        self.ready = asyncio.Event()
        self.closed = False
        self.frames = 0
        self.task = asyncio.create_task(self._run())

    def put(self, delta: str) -> None:
        self.pending.append(delta)
        self.ready.set()

    async def _run(self) -> None:
        while True:
            await self.ready.wait()
            self.ready.clear()
            while self.pending:
                text = "".join(self.pending)
                self.pending.clear()
                await self.send({"type": "token", "text": text})
                self.frames += 1
                self.on_sent()
            if self.closed:
                return

    async def flush(self) -> None:
        """Send what is pending and stop; a failed send raises here."""
        self.closed = True
        self.ready.set()
        await self.task

    def cancel(self) -> None:
        self.task.cancel()
