"""Questions' transformer in ONNX Runtime (EMBEDDING_ONNX): exported from the installed
weights the first time, checked against torch, and never a reason for a question to fail
(docs/decisions/0004)."""

import hashlib
import logging
import os
import warnings
from pathlib import Path

from django.conf import settings

from knowledge.embeddings.models import encode_questions, model_name

logger = logging.getLogger(__name__)

# A trial batch of two lengths: the export traces it, and the session must match torch on it.
TRIAL = ["How do I reset my password?", "Why was my card declined twice this month?"]


def onnx_dir() -> str:
    """Where exports are kept; empty when EMBEDDING_ONNX is off."""
    return str(settings.EMBEDDING_ONNX_DIR) if settings.EMBEDDING_ONNX else ""


class OnnxSessions(dict):
    """A model's ONNX Runtime session for questions in this process, by model name, or
    None where it could not be made (its questions then go through torch)."""

    def for_model(self, model: str, encoder):
        name = model or model_name()
        if name not in self:
            self[name] = onnx_session(
                encoder, cache_dir=onnx_dir(), threads=settings.EMBEDDING_THREADS
            )
        return self[name]


_sessions = OnnxSessions()


def onnx_sessions() -> OnnxSessions:
    """The process's sessions (the in-process path's; the child process has its own)."""
    return _sessions


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
    features = encoder.preprocess(TRIAL)
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

    expected = numpy.array(encode_questions(encoder, TRIAL))
    got = numpy.array(encode_questions(encoder, TRIAL, session=session))
    return bool(numpy.abs(expected - got).max() < 1e-5)
