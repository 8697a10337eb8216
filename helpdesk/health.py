"""The dependency checks behind /healthz: each cheap, each with a short timeout, run at once.

database, redis and embeddings are needed to answer at all. The LLM is not: without it the
customer still gets the best matching articles and the escalate button (the fallback), so
a dead LLM makes the service "degraded", not "down".

Each check's result is reused for HEALTHZ_CACHE_SECONDS, so the public endpoint cannot be
used to make every process embed and call the LLM at the caller's pace. The cache is the
process's own, not Redis: each process reports its own pools and embedder, and the Redis
check must not depend on Redis.
"""

import asyncio
import time
from collections.abc import Awaitable, Callable

import redis.asyncio as aioredis
from channels.db import database_sync_to_async
from django.conf import settings
from django.db import connection

from chat import llm
from knowledge import embeddings
from knowledge.retrieval import aserving_index

REQUIRED = ("database", "redis", "embeddings")

# name -> (monotonic time it expires, the task that runs or ran the check). Per process.
recent_checks: dict[str, tuple[float, asyncio.Task]] = {}


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
    # With nothing embedded yet, the configured model is asked all the same.
    index = await aserving_index()
    vector = await embeddings.aembed_query("health check", model=index.model_name if index else "")
    return index is None or len(vector) == index.dimensions


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


async def _cached(name: str, check: Callable[[], Awaitable[bool]]) -> dict:
    """The check's result from the last HEALTHZ_CACHE_SECONDS, or a new run of it.

    Requests that arrive while a run is under way wait for that run instead of starting
    their own, so a burst costs one run too.
    """
    loop = asyncio.get_running_loop()
    expires, task = recent_checks.get(name, (0.0, None))
    # A pending run of another event loop cannot be awaited here (only tests have several).
    stale = task is None or (not task.done() and task.get_loop() is not loop)
    if stale or time.monotonic() >= expires:
        task = loop.create_task(_timed(check))
        recent_checks[name] = (time.monotonic() + settings.HEALTHZ_CACHE_SECONDS, task)
    # Shielded: a caller that hangs up must not cancel the run the others wait for.
    return dict(await asyncio.shield(task))


async def health_report() -> dict:
    """{"status": "ok" | "degraded" | "down", "checks": {name: {"ok", "ms", "error"?}}}"""
    checks = {
        "database": check_database,
        "redis": check_redis,
        "llm": check_llm,
        "embeddings": check_embeddings,
    }
    results = await asyncio.gather(*(_cached(name, check) for name, check in checks.items()))
    report = dict(zip(checks, results, strict=True))
    report["llm"]["circuit"] = llm.circuit_state()
    if not all(report[name]["ok"] for name in REQUIRED):
        status = "down"
    elif not report["llm"]["ok"]:
        status = "degraded"
    else:
        status = "ok"
    return {"status": status, "checks": report}
