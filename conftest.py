"""Shared test fixtures. Everything is real: the embedded Postgres+pgvector, Redis and
LLM server (started by helpdesk/testing_plugin.py, see helpdesk/devstack/), or the services
named by the environment."""

import shutil

import pytest
import redis
from django.conf import settings
from django.utils import translation

from helpdesk.testing import LLMServer, RedisServer, free_port

# The demo KB embedded once per test session and inserted per test (a few ms), because
# transactional tests truncate every table after they run.
_demo_rows: list[tuple[dict, list]] = []


@pytest.fixture(autouse=True)
def _fresh_redis():
    redis.from_url(settings.REDIS_URL).flushdb()


@pytest.fixture(autouse=True)
def _short_answers(settings):
    # Short answers keep the suite quick; the stream is the same at any length.
    settings.LLM_MAX_TOKENS = 40


@pytest.fixture(autouse=True)
def _default_language():
    # A page asked for in German activates German in the test's thread (LocaleMiddleware),
    # and nothing resets it there as the next request would: each test starts in English.
    yield
    translation.deactivate()


@pytest.fixture(autouse=True)
def _closed_breakers():
    # The LLM circuit breakers are process-wide; one test's dead server is not the next's.
    from chat import llm

    llm.breakers.clear()


@pytest.fixture(autouse=True)
def _fresh_calibration():
    # What a process caches about a KB (its refusal threshold, size, common words) is per
    # database and index; a test's KB is not the next one's, even where their ids repeat.
    from knowledge import calibration, selectors

    calibration.calibrations().clear()
    selectors.kept().clear()


def _demo_articles() -> list[tuple[dict, list]]:
    from knowledge.chunking import article_chunks
    from knowledge.extract import extract
    from knowledge.models import Article

    if not _demo_rows:
        for path in sorted((settings.BASE_DIR / "knowledge" / "demo_kb").glob("*.md")):
            extracted = extract(filename=path.name, data=path.read_bytes())
            fields = {"slug": path.stem, "title": extracted.title, "body": extracted.body}
            _demo_rows.append((fields, article_chunks(Article(**fields))))
    return _demo_rows


@pytest.fixture
def demo_kb(db):
    """The shipped demo knowledge base, embedded (default model) and ready."""
    from django.utils import timezone

    from knowledge.chunking import embedding_pipeline
    from knowledge.indexes import live_indexes_ensure
    from knowledge.models import Article, ArticleEmbedding, Chunk

    index = live_indexes_ensure()[0]
    articles = []
    for fields, chunks in _demo_articles():
        article = Article.objects.create(
            status=Article.Status.READY, embedding_model=index.model_name, **fields
        )
        Chunk.objects.bulk_create(
            Chunk(
                article=article,
                index=index,
                position=n,
                heading=c.heading,
                anchor=c.anchor,
                text=c.text,
                embedding=c.embedding,
            )
            for n, c in enumerate(chunks)
        )
        ArticleEmbedding.objects.create(
            article=article,
            index=index,
            content_hash=article.compute_hash(pipeline=embedding_pipeline(index.model_name)),
            chunk_count=len(chunks),
            embedded_at=timezone.now(),
        )
        articles.append(article)
    return articles


@pytest.fixture
def session_key(db):
    from django.contrib.sessions.backends.cache import SessionStore

    from chat.services import session_chat_token

    session = SessionStore()
    session.create()
    session_chat_token(session=session)  # as the support page does
    return session.session_key


@pytest.fixture
def dead_llm(settings):
    """An LLM_BASE_URL where nothing listens: connection refused, at once."""
    settings.LLM_BASE_URL = f"http://127.0.0.1:{free_port()}/v1"
    return settings.LLM_BASE_URL


@pytest.fixture
def own_llm(settings):
    """A running LLM server of this test's own; LLM_BASE_URL points at it."""
    server = LLMServer()
    server.start()
    settings.LLM_BASE_URL = server.url
    yield server
    server.kill()


@pytest.fixture
def own_redis(settings):
    """A running Redis of this test's own behind REDIS_URL, the cache (so sessions) and the
    channel layer. Create sessions after this fixture, so they land in it."""
    server = RedisServer()
    server.start()
    settings.REDIS_URL = server.url
    # Every cache (sessions, rate limits) lives in Redis: all of them move to this one.
    settings.CACHES = {
        alias: {**config, "LOCATION": server.url} for alias, config in settings.CACHES.items()
    }
    layer = settings.CHANNEL_LAYERS["default"]
    host = {**layer["CONFIG"]["hosts"][0], "address": server.url}
    settings.CHANNEL_LAYERS = {"default": {**layer, "CONFIG": {**layer["CONFIG"], "hosts": [host]}}}
    yield server
    server.kill()
    shutil.rmtree(server.dir, ignore_errors=True)


@pytest.fixture(scope="session", autouse=True)
def _close_stray_connections(django_db_setup, django_db_blocker):
    """Let pytest-django drop the test database at the end.

    Async tests reach Postgres from asgiref's worker thread, whose connection outlives
    the test; without this the final DROP DATABASE finds it still attached.
    """
    yield
    with django_db_blocker.unblock():
        from django.db import connection

        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                "WHERE datname = current_database() AND pid <> pg_backend_pid()"
            )
