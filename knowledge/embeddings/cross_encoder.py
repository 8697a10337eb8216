"""The optional cross-encoder (RERANK_MODEL) that reorders hybrid retrieval's candidates."""

import logging

from django.conf import settings

from knowledge.embeddings.models import encode_lock, load_lock

logger = logging.getLogger(__name__)


class Reranker:
    """The cross-encoder, loaded (or given up on) once per process.

    It is an improvement, never a dependency: the pipeline works without it and says so
    once in the log."""

    def __init__(self) -> None:
        self._model = None
        self._failed = False

    def model(self):
        """The cross-encoder, or None when RERANK_MODEL is unset or cannot load."""
        if self._model is None and not self._failed:
            with load_lock:
                if self._model is None and not self._failed:
                    self._model = _load()
                    self._failed = self._model is None
        return self._model

    def scores(self, query: str, texts: list[str]) -> list[float] | None:
        """The cross-encoder's score of each text for `query`; None without one."""
        model = self.model()
        if model is None or not texts:
            return None
        with encode_lock:
            return [float(s) for s in model.predict([(query, t) for t in texts])]

    def forget(self) -> None:
        """Load (or give up) again on next use: after RERANK_MODEL changed."""
        with load_lock:
            self._model, self._failed = None, False


def _load():
    if not settings.RERANK_MODEL:
        logger.info("RERANK_MODEL is unset: answers use hybrid retrieval unranked")
        return None
    try:
        from sentence_transformers import CrossEncoder

        return CrossEncoder(settings.RERANK_MODEL, device="cpu")
    except Exception as exc:  # offline, missing, or not a cross-encoder
        logger.warning("Reranker %s unavailable (%s)", settings.RERANK_MODEL, exc)
        return None


_reranker = Reranker()


def reranker() -> Reranker:
    return _reranker


def rerank(query: str, texts: list[str]) -> list[float] | None:
    return _reranker.scores(query, texts)
