"""The dependency checks behind /healthz: each cheap, each with a short timeout, run at once.

database, redis and embeddings are needed to answer at all. The LLM is not: without it the
customer still gets the best matching articles and the escalate button (the fallback), so
a dead LLM makes the service "degraded", not "down".
"""

import asyncio
import time
from collections.abc import Awaitable, Callable

import redis.asyncio as aioredis
from channels.db import database_sync_to_async
from django.conf import settings
from django.db import connection

from chat import llm
from knowledge.retrieval import aembed_question

REQUIRED = ("database", "redis", "embeddings")


def _database() -> bool:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
        return cursor.fetchone() == (1,)


async def check_database() -> bool:
    return await database_sync_to_async(_database)()


async def check_redis() -> bool:
    # A client of its own: the check must not wait behind, or break, the app's pools.
    client = aioredis.from_url(
        settings.REDIS_URL,
        socket_connect_timeout=settings.HEALTHZ_TIMEOUT,
        socket_timeout=settings.HEALTHZ_TIMEOUT,
    )
    try:
        return bool(await client.ping())
    finally:
        await client.aclose()


async def check_llm() -> bool:
    return await llm.health(timeout=settings.HEALTHZ_TIMEOUT)


async def check_embeddings() -> bool:
    # The model that embeds questions now (loaded at start, see helpdesk/asgi.py), asked
    # for real, against the vectors it is compared with.
    query = await aembed_question("health check")
    return query.index is None or len(query.vector) == query.index.dimensions


async def _timed(check: Callable[[], Awaitable[bool]]) -> dict:
    start = time.perf_counter()
    error = None
    try:
        async with asyncio.timeout(settings.HEALTHZ_TIMEOUT):
            ok = await check()
    except Exception as exc:
        # The exception's class only: this endpoint is public, its messages name hosts.
        ok, error = False, type(exc).__name__
    result = {"ok": ok, "ms": round((time.perf_counter() - start) * 1000, 1)}
    if not ok:
        result["error"] = error or "unavailable"
    return result


async def health_report() -> dict:
    """{"status": "ok" | "degraded" | "down", "checks": {name: {"ok", "ms", "error"?}}}"""
    checks = {
        "database": check_database,
        "redis": check_redis,
        "llm": check_llm,
        "embeddings": check_embeddings,
    }
    results = await asyncio.gather(*(_timed(check) for check in checks.values()))
    report = dict(zip(checks, results, strict=True))
    report["llm"]["circuit"] = llm.circuit_state()
    if not all(report[name]["ok"] for name in REQUIRED):
        status = "down"
    elif not report["llm"]["ok"]:
        status = "degraded"
    else:
        status = "ok"
    return {"status": status, "checks": report}
