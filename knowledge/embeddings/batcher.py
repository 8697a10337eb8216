"""Questions' vectors: every thread and socket of a process asks one QueryBatcher."""

import asyncio
import logging
import os
import threading
from concurrent.futures import Future

from django.conf import settings

from knowledge.embeddings.child import Child
from knowledge.embeddings.models import (
    encode_lock,
    encode_questions,
    get_model,
    model_name,
    model_path,
    query_text,
)
from knowledge.embeddings.onnx import onnx_dir, onnx_sessions

logger = logging.getLogger(__name__)


class QueryBatcher:
    """One thread that encodes the questions waiting for it, all in one call.

    A batch of questions costs far less per question than one at a time
    (docs/decisions/0003): the model is memory-bound, and a batch reads its weights once.
    Nothing waits for a batch to fill: a question that finds the thread idle is encoded at
    once, and those that arrive meanwhile go together into the next encode, so batches
    grow only under load, when they pay.

    With EMBEDDING_QUERY_PROCESS the encode runs in a child process (child.py). In the
    server's own process each of the model's ~100 torch calls gives up the GIL and must
    win it back from the busy event loop: under load an encode took many times its own
    length (docs/decisions/0003). The child has a GIL of its own.
    """

    def __init__(self, max_batch: int = 32) -> None:
        self.max_batch = max_batch
        self._cond = threading.Condition()
        self._pending: list[tuple[str, str, Future]] = []
        self._thread: threading.Thread | None = None
        self._pid = 0
        self._child: Child | None = None

    @property
    def thread(self) -> threading.Thread | None:
        """The thread that encodes, once a first question has started it."""
        return self._thread

    @property
    def child(self) -> Child | None:
        """The child process that encodes, when EMBEDDING_QUERY_PROCESS has started one."""
        return self._child

    def submit(self, text: str, model: str) -> Future:
        future: Future = Future()
        with self._cond:
            self._pending.append((model, text, future))
            # A forked child (a Celery worker) inherits the object but not the thread.
            if self._thread is None or self._pid != os.getpid() or not self._thread.is_alive():
                self._pid, self._child = os.getpid(), None
                self._thread = threading.Thread(
                    target=self._run, name="query-embedder", daemon=True
                )
                self._thread.start()
            self._cond.notify()
        return future

    def _take(self) -> tuple[str, list[tuple[str, Future]]]:
        with self._cond:
            while not self._pending:
                self._cond.wait()
            model = self._pending[0][0]  # one model per encode; a switch may run two
            batch = [p for p in self._pending if p[0] == model][: self.max_batch]
            for item in batch:
                self._pending.remove(item)
        # A caller that stopped waiting (a socket closed) is dropped here; after this
        # point its future can no longer be cancelled.
        return model, [(t, f) for _, t, f in batch if f.set_running_or_notify_cancel()]

    def _run(self) -> None:
        while True:
            model, batch = self._take()
            if not batch:
                continue
            try:
                vectors = self._encode(model, [text for text, _ in batch])
            except BaseException as exc:  # the callers raise it, the thread goes on
                for _, future in batch:
                    future.set_exception(exc)
                continue
            for (_, future), vector in zip(batch, vectors, strict=True):
                future.set_result(vector)

    def _encode(self, model: str, texts: list[str]) -> list[list[float]]:
        encoder = get_model(model)  # loaded here too: a missing model fails clearly
        if not settings.EMBEDDING_QUERY_PROCESS:
            session = onnx_sessions().for_model(model, encoder)
            with encode_lock:
                return encode_questions(encoder, texts, session=session)
        path = model_path(model or model_name())
        try:
            return self._in_child(path, texts)
        except OSError:
            # Killed (the OOM killer, an operator) or stuck: start another, once.
            logger.warning("The query-embedding process died; starting a new one")
            return self._in_child(path, texts)

    def _in_child(self, path: str, texts: list[str]) -> list[list[float]]:
        if self._child is None:
            self._child = Child(settings.EMBEDDING_THREADS, onnx_dir())
        try:
            return self._child.encode(path, texts)
        except OSError:
            self._child.stop()
            self._child = None
            raise


_batcher = QueryBatcher()


def query_batcher() -> QueryBatcher:
    """The process's batcher, which every question goes through."""
    return _batcher


def embed_query(text: str, *, model: str = "") -> list[float]:
    """A question's vector. Questions from every thread and socket of the process go
    through one batcher, so the ones that arrive together are encoded together."""
    return _batcher.submit(query_text(text, model), model).result()


def embed_queries(texts: list[str], *, model: str = "") -> list[list[float]]:
    """Several questions' vectors, submitted together so the batcher encodes them at once."""
    futures = [_batcher.submit(query_text(text, model), model) for text in texts]
    return [future.result() for future in futures]


async def aembed_query(text: str, *, model: str = "") -> list[float]:
    """The same, awaited: the event loop never runs the model."""
    return await asyncio.wrap_future(_batcher.submit(query_text(text, model), model))
