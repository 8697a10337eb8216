"""Answers that belong to the process, not to a socket.

A question's answer runs in a task of this process and appends its frames to the
conversation's stream (chat/streams.py); the sockets forward from there. A socket that
drops does not end the answer: the customer's next socket, in this process or another,
resumes it. An answer ends when it is complete, when a Stop arrives (from any tab, through
Redis), or when no socket of the session has been open for CHAT_ABANDON_SECONDS, so the
GPU does not work for nobody.

While Redis is down the stream cannot be written: the frames go to the socket that asked,
as before there were streams, and there is no resume.
"""

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from django.conf import settings

from chat import answering, streams
from chat.batching import send_events
from chat.protocol import Asked, Done, Error, Stopped
from chat.timings import AnswerClock
from core.degraded import DEGRADED_MESSAGE, OUTAGE_ERRORS
from core.redisio import REDIS_DOWN, cancel_until_done

logger = logging.getLogger(__name__)

INTERNAL_ERROR = "Something went wrong on our side. Please try again, or escalate to a human."


@dataclass
class Run:
    """One answer of this process."""

    token_hash: str
    at: int | None  # the stream's seq before the answer (None: Redis was down at the start)
    origin: str  # the socket that asked
    direct: Callable[[dict], Awaitable[None]]  # that socket's send, while the stream is down
    stop: answering.Stop = field(default_factory=answering.Stop)
    task: asyncio.Task | None = None
    watch: asyncio.Task | None = None
    sending: asyncio.Future | None = None  # a frame being written while the answer goes on
    streamed: bool = True  # False once a write to the stream failed

    async def send(self, frame: dict) -> None:
        if self.sending is not None:  # the frame before goes first
            await asyncio.shield(self.sending)
            self.sending = None
        if frame["type"] == Asked.type:
            # Written while the search and the LLM's first token are on their way, not
            # before them: the answer's time to first token does not wait for it.
            self.sending = asyncio.ensure_future(self.write(frame))
            return
        if frame["type"] in ENDINGS:
            # Free the conversation before saying so: a question sent the moment the
            # page reads `done` must not be refused as "busy".
            await self.finish()
        await self.write(frame)

    async def write(self, frame: dict) -> None:
        if self.streamed:
            try:
                await streams.append(token_hash=self.token_hash, frame=frame, origin=self.origin)
                return
            except REDIS_DOWN:
                logger.warning("Answer stream unavailable; the asking socket only gets the rest")
                self.streamed = False
        if frame["type"] == Asked.type:
            return  # the asking socket shows its own question
        try:
            await self.direct(frame)
        except Exception:  # the socket is gone; so is its customer
            pass

    async def finish(self) -> None:
        """The answer is over: no more Stop or watch for it, and the conversation is free.
        Safe to call twice."""
        if self.watch is not None:
            self.watch.cancel()
        if RUNS.get(self.token_hash) is self:
            del RUNS[self.token_hash]
        at, self.at = self.at, None
        await answer_release(token_hash=self.token_hash, at=at)


# The frames that end an answer (an error ends it too).
ENDINGS = {Done.type, Error.type}

# This process's running answers, by conversation: a Stop from a socket here reaches one at
# once even while Redis is down.
RUNS: dict[str, Run] = {}


async def answer_begin(*, token_hash: str) -> int | None | bool:
    """Claim the conversation for an answer: the stream's seq before it, None when Redis is
    down (then only this process's own answer counts), or False while one already runs."""
    if token_hash in RUNS:
        return False
    try:
        at = await streams.answer_begin(token_hash=token_hash)
    except REDIS_DOWN:
        logger.warning("Answer stream unavailable at the question", exc_info=True)
        return None
    return False if at is None else at


def answer_start(
    *, chat_token: str, token_hash: str, text: str, clock: AnswerClock, previous: str,
    at: int | None, origin: str, direct: Callable[[dict], Awaitable[None]],
    held: Callable[..., None] | None = None,
) -> Run:  # fmt: skip
    """Run the answer in a task of the process; `at` from answer_begin(). `held`: see
    answering.answer()."""
    run = Run(token_hash=token_hash, at=at, origin=origin, direct=direct, streamed=at is not None)
    RUNS[token_hash] = run
    run.task = asyncio.create_task(_run(run, chat_token, text, clock, previous, held))
    return run


async def _run(
    run: Run, chat_token: str, text: str, clock: AnswerClock, previous: str, held
) -> None:
    events = answering.answer(
        chat_token=chat_token, text=text, clock=clock, previous=previous, stop=run.stop, held=held
    )
    if run.at is not None:
        run.watch = asyncio.create_task(_watch(run))
    try:
        interval = settings.CHAT_TOKEN_FRAME_MS / 1000
        await send_events(events, run.send, on_sent=clock.token_sent, interval=interval)
    except asyncio.CancelledError:
        # A Stop, or the customer gone: the answer stored what it had (chat/answering.py).
        # Handled here: the task goes on to say so, and ends normally.
        run.stop.caught = True
        asyncio.current_task().uncancel()
        if run.stop.requested:
            await run.send(Stopped(run.stop.message_id).frame())
        await run.send(Done(run.stop.message_id).frame())
    except OUTAGE_ERRORS:
        logger.warning("Answering failed: a service is down", exc_info=True)
        await run.send(Error("service_degraded", DEGRADED_MESSAGE).frame())
    except Exception:
        # Never a traceback to the customer: log it, say something useful.
        logger.exception("Answering failed")
        await run.send(Error("internal_error", INTERNAL_ERROR).frame())
    finally:
        await run.finish()


async def _watch(run: Run) -> None:
    """Wait for a Stop from any process; stop the answer when its customer is gone."""
    wait = max(min(settings.CHAT_ABANDON_SECONDS / 3, streams.BLOCK_SECONDS), 0.1)
    while True:
        try:
            why = await streams.answer_watch(token_hash=run.token_hash, wait=wait)
        except REDIS_DOWN:
            if asyncio.current_task().cancelling():
                raise  # redis-py turns a cancelled read into a ConnectionError
            await asyncio.sleep(wait)  # no Stop can arrive through Redis now; nor a verdict
            continue
        if why is None:
            continue
        if why == "abandoned":
            logger.info("Stopping an answer: its customer has been gone a while")
        run.stop.requested = why == "stop"
        await _cancel(run)
        return


async def _cancel(run: Run) -> None:
    """Cancel the answer until the cancellation has reached it: once it is caught, no
    second one may cut the answer's own ending short."""
    await cancel_until_done(run.task, caught=lambda: run.stop.caught)


async def answer_release(*, token_hash: str, at: int | None) -> None:
    """Give the claim back: the answer ended, or was never started (a rate limit)."""
    if at is None:
        return
    try:
        await asyncio.shield(streams.answer_end(token_hash=token_hash, at=at))
    except REDIS_DOWN:
        pass  # the claim lapses on its own (streams.ANSWER_CLAIM_SECONDS)


async def stop(*, token_hash: str) -> None:
    """The customer's Stop, from any socket of the session."""
    run = RUNS.get(token_hash)
    try:
        await streams.stop_request(token_hash=token_hash)
    except REDIS_DOWN:
        if run is not None and run.task is not None:
            run.stop.requested = True
            await _cancel(run)


async def cancel_all() -> None:
    """End every answer of this process (tests, shutdown)."""
    runs = [run for run in RUNS.values() if run.task is not None]
    for run in runs:
        await _cancel(run)
    if runs:
        await asyncio.wait([run.task for run in runs], timeout=10)
