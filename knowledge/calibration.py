"""When is the evidence too weak to answer? Each index answers that from its own KB.

A fixed similarity threshold belongs to one model and one KB: BGE's cosine scores sit
higher than MiniLM's, and a broad KB comes closer to any question than a narrow one. So
each index measures how close questions that no support KB answers come to its chunks
(knowledge/off_topic_probes.txt, embedded with the index's own model), and refuses what
comes no closer than the closest of them. RETRIEVAL_MIN_SIMILARITY overrides it.

The same probes catch a question that is off topic on its own, whatever the conversation
before it: "what's the capital of France?" after a 2FA question is nearer to a probe than
to any chunk, and must not borrow the 2FA article as its evidence.
"""

import logging
import threading
import time
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import numpy as np
from django.conf import settings
from django.db import connection

from knowledge import embeddings
from knowledge.models import EmbeddingIndex
from knowledge.selectors import chunk_search

PROBES = Path(__file__).resolve().parent / "off_topic_probes.txt"
# How far above the other probes one must stand to count as answered by the KB. On both
# evaluation KBs the closest probe stands 3-4 deviations above their median; a probe that an
# article answers stands 10 or more above.
OUTLIER_SPREAD = 5

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Calibration:
    threshold: float
    # The probes that count for this index: not those its KB really answers.
    kept: np.ndarray


class Calibrations:
    """What this process knows of each index's calibration, by (database, index id), with
    when it was computed, and each model's probe vectors.

    Computed when a process first needs it (`embeddings_warm_up` does it at start), with
    one nearest-chunk search per probe: ~0.1 s at 1,400 chunks. After that it is refreshed
    every RETRIEVAL_COMMON_WORDS_SECONDS on a thread of its own, so that no customer's
    question waits for it; the previous one answers meanwhile."""

    def __init__(self) -> None:
        self._computed: dict[tuple, tuple[float, Calibration]] = {}
        self._probe_vectors: dict[str, np.ndarray] = {}
        # The keys a thread is refreshing now, so that one refresh runs at a time per index.
        self._refreshing: set[tuple] = set()
        self._lock = threading.Lock()

    def of(self, index: EmbeddingIndex) -> Calibration:
        key = _key(index)
        if key not in self._computed:
            return self._compute(key, index)
        computed_at, calibration = self._computed[key]
        if time.monotonic() - computed_at > settings.RETRIEVAL_COMMON_WORDS_SECONDS:
            self._refresh_in_background(key, index)
        return calibration

    def known(self, index: EmbeddingIndex) -> Calibration | None:
        """The calibration kept for `index`, without computing or refreshing it."""
        entry = self._computed.get(_key(index))
        return entry[1] if entry else None

    def keep(self, index: EmbeddingIndex, calibration: Calibration, *, computed_at: float) -> None:
        """Keep `calibration` for `index` as if computed at `computed_at` (time.monotonic)."""
        self._computed[_key(index)] = (computed_at, calibration)

    def refreshing(self) -> bool:
        """Whether a refresh thread runs now."""
        return bool(self._refreshing)

    def clear(self) -> None:
        """Forget every index's calibration (a test's KB is not the next one's, even where
        their ids repeat). Probe vectors depend on the model alone and stay."""
        self._computed.clear()

    def probe_vectors(self, model: str) -> np.ndarray:
        if model not in self._probe_vectors:
            vectors = embeddings.embed_queries(list(probes()), model=model)
            self._probe_vectors[model] = np.asarray(vectors, dtype=np.float32)
        return self._probe_vectors[model]

    def _compute(self, key: tuple, index: EmbeddingIndex) -> Calibration:
        vectors = self.probe_vectors(index.model_name)
        calibration = calibrate([nearest_similarity(v.tolist(), index) for v in vectors])
        self._computed[key] = (time.monotonic(), calibration)
        return calibration

    def _refresh_in_background(self, key: tuple, index: EmbeddingIndex) -> None:
        with self._lock:
            if key in self._refreshing:
                return
            self._refreshing.add(key)

        def refresh() -> None:
            try:
                self._compute(key, index)
            except Exception:  # the old calibration keeps answering; try again next time
                logger.warning(
                    "Could not refresh the refusal threshold of %s", index, exc_info=True
                )
            finally:
                connection.close()  # this thread's own connection
                self._refreshing.discard(key)

        threading.Thread(target=refresh, name="calibration", daemon=True).start()


def _key(index: EmbeddingIndex) -> tuple:
    return (connection.settings_dict["NAME"], index.pk)


_calibrations = Calibrations()


def calibrations() -> Calibrations:
    """The process's calibrations."""
    return _calibrations


@cache
def probes() -> tuple[str, ...]:
    lines = PROBES.read_text(encoding="utf-8").splitlines()
    return tuple(line.strip() for line in lines if line.strip() and not line.startswith("#"))


def probe_vectors(model: str) -> np.ndarray:
    return _calibrations.probe_vectors(model)


def min_similarity(index: EmbeddingIndex | None) -> float:
    """The best chunk's similarity below which a question is refused, for this index."""
    if settings.RETRIEVAL_MIN_SIMILARITY is not None:
        return settings.RETRIEVAL_MIN_SIMILARITY
    if index is None:
        return 1.0  # nothing is embedded: nothing can be evidence
    return calibration_of(index).threshold


def off_topic(vector: list[float], *, best_similarity: float, index: EmbeddingIndex) -> bool:
    """Whether a question is nearer to one of the probes that count than to the KB."""
    probe_set = probe_vectors(index.model_name)[calibration_of(index).kept]
    if not len(probe_set):
        return False
    return float(np.max(probe_set @ np.asarray(vector))) > best_similarity


def calibration_of(index: EmbeddingIndex) -> Calibration:
    """The index's calibration (Calibrations.of)."""
    return _calibrations.of(index)


def calibrate(nearest: list[float]) -> Calibration:
    """The closest any probe comes, leaving out probes this KB really answers: a cooking
    site's help centre may well say how long to boil an egg, and one such probe must neither
    lift the bar over every real question nor make that question look off topic. A probe
    counts as answered when it stands out from the others by more than OUTLIER_SPREAD
    robust standard deviations (the median absolute deviation, scaled to one)."""
    values = np.asarray(nearest, dtype=float)
    if not len(values):
        return Calibration(0.0, np.zeros(0, dtype=bool))
    median = float(np.median(values))
    spread = 1.4826 * float(np.median(np.abs(values - median)))
    kept = values <= median + OUTLIER_SPREAD * spread
    return Calibration(float(values[kept].max()), kept)


def nearest_similarity(vector: list[float], index: EmbeddingIndex) -> float:
    chunks = chunk_search(embedding=vector, limit=1, index=index)
    return 1 - chunks[0].distance if chunks else 0.0
