"""Where an answer's time goes: one clock per answer, stored on the reply and fed to /metrics.

Stages, in milliseconds (`Message.timings`, shown in the admin):

- receive: the frame's arrival to the start of answering (validation, rate limits);
- conversation: reading the conversation and the serving index (one database trip);
- history, embedding: the Redis history load and the query's embedding, run side by side
  (a follow-up's query, previous question + this one, is guessed from the socket); the
  embedding starts during the conversation trip, with the last answer's index;
- question_write: storing the question, overlapping both;
- embedding_followup: the query embedded again when the guess was wrong;
- retrieval: the search SQL;
- prompt: building the prompt;
- llm_ttft: the LLM request to its first token;
- first_token_out: the frame's arrival to its first token leaving the socket;
- total: the frame's arrival to the answer being stored;
- tokens, tokens_per_second: the streamed deltas, and their rate from first to last.
"""

import time
from collections.abc import Awaitable
from typing import TypeVar

from core import metrics

T = TypeVar("T")


def _ms(seconds: float) -> float:
    return round(seconds * 1000, 2)


class AnswerClock:
    def __init__(self, received_at: float | None = None) -> None:
        # perf_counter() of the frame's arrival; the consumer takes it before validating.
        self.started = received_at if received_at is not None else time.perf_counter()
        self.ms: dict[str, float] = {"receive": _ms(time.perf_counter() - self.started)}
        self.llm_started: float | None = None
        self.first_delta_at: float | None = None
        self.last_delta_at: float | None = None
        self.sent_first = False
        self.tokens = 0

    async def timed(self, stage: str, awaitable: Awaitable[T]) -> T:
        """Await it and record how long it took (concurrent stages each get their own)."""
        began = time.perf_counter()
        try:
            return await awaitable
        finally:
            self.ms[stage] = _ms(time.perf_counter() - began)

    def mark(self, stage: str, began: float) -> None:
        self.ms[stage] = _ms(time.perf_counter() - began)

    def llm_request(self) -> None:
        self.llm_started = time.perf_counter()

    def llm_token(self) -> None:
        """A delta arrived from the LLM."""
        now = time.perf_counter()
        if self.first_delta_at is None:
            self.first_delta_at = now
            if self.llm_started is not None:
                self.ms["llm_ttft"] = _ms(now - self.llm_started)
        self.last_delta_at = now
        self.tokens += 1

    def token_sent(self) -> None:
        """A token frame left for the socket."""
        if not self.sent_first:
            self.sent_first = True
            self.ms["first_token_out"] = _ms(time.perf_counter() - self.started)

    def finish(self) -> dict[str, float]:
        timings = {**self.ms, "total": _ms(time.perf_counter() - self.started)}
        if self.tokens:
            timings["tokens"] = self.tokens
            streamed = (self.last_delta_at or 0) - (self.first_delta_at or 0)
            if self.tokens > 1 and streamed > 0:
                timings["tokens_per_second"] = round((self.tokens - 1) / streamed, 1)
        observe(timings)
        return timings


def observe(timings: dict[str, float]) -> None:
    """Feed one answer's stages to the Prometheus histograms."""
    for stage, histogram in (
        ("embedding", metrics.EMBEDDING_SECONDS),
        ("retrieval", metrics.RETRIEVAL_SECONDS),
        ("llm_ttft", metrics.TTFT_SECONDS),
        ("first_token_out", metrics.FIRST_TOKEN_OUT_SECONDS),
    ):
        if stage in timings:
            histogram.observe(timings[stage] / 1000)
