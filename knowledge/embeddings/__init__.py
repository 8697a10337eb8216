"""The one and only embedder: everything that turns text into vectors goes through here.

- models.py: which model, loading it once per process (knowledge.indexes.embeddings_warm_up
  at start, or lazily on first use), and documents' vectors.
- batcher.py: questions' vectors, encoded by one thread of their own in batches
  (QueryBatcher); async callers await it, so the event loop never runs the model.
- onnx.py: the questions' transformer in ONNX Runtime (EMBEDDING_ONNX), exported from the
  installed weights the first time.
- child.py: the child process that encodes questions (EMBEDDING_QUERY_PROCESS).
- cross_encoder.py: the optional reranker.
"""

from knowledge.embeddings.batcher import (
    QueryBatcher,
    aembed_query,
    embed_queries,
    embed_query,
    query_batcher,
)
from knowledge.embeddings.cross_encoder import Reranker, rerank, reranker
from knowledge.embeddings.models import (
    BGE_QUERY_PREFIX,
    DEFAULT_MODEL,
    dimension,
    embed_documents,
    encode_questions,
    get_model,
    is_bge,
    max_sequence_length,
    model_name,
    model_path,
    tokenizer,
)
from knowledge.embeddings.onnx import OnnxSessions, onnx_dir, onnx_session, onnx_sessions

__all__ = [
    "BGE_QUERY_PREFIX",
    "DEFAULT_MODEL",
    "OnnxSessions",
    "QueryBatcher",
    "Reranker",
    "aembed_query",
    "dimension",
    "embed_documents",
    "embed_queries",
    "embed_query",
    "encode_questions",
    "get_model",
    "is_bge",
    "max_sequence_length",
    "model_name",
    "model_path",
    "onnx_dir",
    "onnx_session",
    "onnx_sessions",
    "query_batcher",
    "rerank",
    "reranker",
    "tokenizer",
]
