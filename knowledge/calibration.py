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

import time
from functools import cache
from pathlib import Path

import numpy as np
from django.conf import settings
from django.db import connection

from knowledge import embeddings
from knowledge.models import EmbeddingIndex
from knowledge.selectors import chunk_search

PROBES = Path(__file__).resolve().parent / "off_topic_probes.txt"

# (database, index id) -> (computed at, threshold); model name -> probe vectors.
_thresholds: dict[tuple, tuple[float, float]] = {}
_probe_vectors: dict[str, np.ndarray] = {}


@cache
def probes() -> tuple[str, ...]:
    lines = PROBES.read_text(encoding="utf-8").splitlines()
    return tuple(line.strip() for line in lines if line.strip() and not line.startswith("#"))


def probe_vectors(model: str) -> np.ndarray:
    if model not in _probe_vectors:
        vectors = embeddings.embed_queries(list(probes()), model=model)
        _probe_vectors[model] = np.asarray(vectors, dtype=np.float32)
    return _probe_vectors[model]


def min_similarity(index: EmbeddingIndex | None) -> float:
    """The best chunk's similarity below which a question is refused, for this index.

    Recomputed once per RETRIEVAL_COMMON_WORDS_SECONDS per process: one nearest-chunk
    search per probe, about as long as one question's retrieval per ten probes."""
    if settings.RETRIEVAL_MIN_SIMILARITY is not None:
        return settings.RETRIEVAL_MIN_SIMILARITY
    if index is None:
        return 1.0  # nothing is embedded: nothing can be evidence
    key = (connection.settings_dict["NAME"], index.pk)
    computed_at, threshold = _thresholds.get(key, (float("-inf"), 0.0))
    if time.monotonic() - computed_at > settings.RETRIEVAL_COMMON_WORDS_SECONDS:
        threshold = max(
            (_nearest(vector.tolist(), index) for vector in probe_vectors(index.model_name)),
            default=0.0,
        )
        _thresholds[key] = (time.monotonic(), threshold)
    return threshold


def off_topic(vector: list[float], *, best_similarity: float, model: str) -> bool:
    """Whether a question is nearer to one of the probes than to anything in the KB."""
    return float(np.max(probe_vectors(model) @ np.asarray(vector))) > best_similarity


def nearest_similarity(vector: list[float], index: EmbeddingIndex | None) -> float:
    return _nearest(vector, index) if index is not None else 0.0


def _nearest(vector: list[float], index: EmbeddingIndex) -> float:
    chunks = chunk_search(embedding=vector, limit=1, index=index)
    return 1 - chunks[0].distance if chunks else 0.0
