# syntax=docker/dockerfile:1
# The helpdesk app image, used by the web (daphne), worker (Celery) and migrate services of
# docker-compose.yml. It holds no database, Redis or LLM: those are the compose services, and
# vLLM is never installed here (it runs in its own GPU container).
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_ROOT_USER_ACTION=ignore \
    HF_HOME=/opt/huggingface \
    HF_HUB_OFFLINE=1 \
    TOKENIZERS_PARALLELISM=false

RUN groupadd --system --gid 10001 helpdesk \
    && useradd --system --uid 10001 --gid helpdesk --home-dir /app --no-create-home \
       --shell /usr/sbin/nologin helpdesk

WORKDIR /app

# torch first, from the CPU index: sentence-transformers would otherwise pull the CUDA build
# and gigabytes of nvidia-* wheels. Embeddings run on the CPU; only vLLM uses the GPU.
RUN pip install torch==2.13.0 --index-url https://download.pytorch.org/whl/cpu

# The application's dependencies only: no requirements-embedded.txt (the embedded Postgres,
# Redis and llama.cpp of a plain checkout), no requirements-dev.txt, never vllm.
COPY requirements.txt .
RUN pip install -r requirements.txt

# Bake the embedding model into the image: at run time the settings set HF_HUB_OFFLINE=1 and
# nothing is fetched. Loading each a second time offline proves the cache is complete.
# EMBEDDING_MODELS_EXTRA: more models for the image, space-separated: while `reembed`
# switches models, the old one still answers and must be in the image too
# (--build-arg EMBEDDING_MODELS_EXTRA=BAAI/bge-small-en-v1.5 when moving to BAAI/bge-m3).
ARG EMBEDDING_MODEL=BAAI/bge-small-en-v1.5
ARG EMBEDDING_MODELS_EXTRA=""
ENV EMBEDDING_MODEL=${EMBEDDING_MODEL}
RUN test -n "$EMBEDDING_MODEL" \
    && mkdir -p "$HF_HOME" \
    && for model in $EMBEDDING_MODEL $EMBEDDING_MODELS_EXTRA; do \
        HF_HUB_OFFLINE=0 python -c "import sys; from sentence_transformers import SentenceTransformer; SentenceTransformer(sys.argv[1], device='cpu')" "$model" \
        && HF_HUB_OFFLINE=1 python -c "import sys; from sentence_transformers import SentenceTransformer; m = SentenceTransformer(sys.argv[1], device='cpu'); print(sys.argv[1], m.get_embedding_dimension())" "$model" \
        || exit 1; \
    done \
    && chown -R helpdesk:helpdesk "$HF_HOME"

# The code stays owned by root: the app user can read it but not change it.
COPY . .

# Dummy service URLs and key for this step only: the settings require them, and
# collectstatic connects to nothing.
# /app/media holds uploaded knowledge-base files (MEDIA_ROOT in docker-compose.yml); a new
# named volume mounted there takes this directory's owner, so the app user can write to it.
RUN DATABASE_URL=postgres://build:build@localhost:5432/build \
    REDIS_URL=redis://localhost:6379/0 \
    LLM_BASE_URL=http://localhost:8000/v1 \
    SECRET_KEY=collectstatic-only-not-a-secret \
    python manage.py collectstatic --noinput \
    && mkdir -p /app/media /app/var \
    && chown helpdesk:helpdesk /app/media /app/var

USER helpdesk
EXPOSE 8000
# The WebSocket size limits are settings.WEBSOCKET_MAX_MESSAGE_BYTES' default (64 KiB);
# helpdesk.serve warms up (the embedding model, the LLM client) before serving.
CMD ["daphne", "-b", "0.0.0.0", "-p", "8000", \
     "--websocket-max-message-size", "65536", "--websocket-max-frame-size", "65536", \
     "--websocket_connect_timeout", "30", \
     "helpdesk.serve:application"]
