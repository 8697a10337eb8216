"""Chunks embedded per second per worker, through the product's embedding pipeline.

The demo KB, copied to --articles articles, is embedded three ways into a database of its
own (`helpdesk_bench_ingest`): the `article_embed` service called in this process, then
real Celery workers (`--concurrency 1` and `2`) running the `embed_article` task. See
benchmarks/README.md.
"""

import argparse
import os
import re
import shlex
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "helpdesk.settings")
VAR_AS_GIVEN = os.environ.get("HELPDESK_VAR_DIR")  # for printing the command line
if VAR_AS_GIVEN:  # absolute, so the worker children (cwd=ROOT) find the same services
    os.environ["HELPDESK_VAR_DIR"] = str(Path(VAR_AS_GIVEN).resolve())
LOAD_AT_START = os.getloadavg()[0]

parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
parser.add_argument("--articles", type=int, default=200, help="copies of demo KB articles")
parser.add_argument(
    "--concurrency", default="1,2", help="Celery worker arms, comma-separated (empty: none)"
)
args = parser.parse_args()

import django  # noqa: E402

from helpdesk import devstack  # noqa: E402
from helpdesk.celery import WORKER_ENV  # noqa: E402

# The embedded services (no LLM started here) for what the environment leaves unset, started
# (or reused) under HELPDESK_VAR_DIR and handed over before Django loads.
devstack.hand_over(llm=False)
django.setup()

from django.conf import settings  # noqa: E402
from django.db import connection  # noqa: E402

from benchmarks import timed_worker  # noqa: E402
from benchmarks.benchdb import database_url, use_database  # noqa: E402
from knowledge import embeddings  # noqa: E402
from knowledge.indexes import live_indexes_ensure  # noqa: E402
from knowledge.models import Article, ArticleEmbedding, Chunk  # noqa: E402
from knowledge.services import article_embed, article_upsert  # noqa: E402
from knowledge.tasks import embed_article  # noqa: E402

QUEUE = "bench-ingest"  # a queue of its own: no other worker takes these tasks
SPLIT = re.compile(r"split total=([\d.]+) embed=([\d.]+) build=([\d.]+)")


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def make_articles(count: int) -> list[int]:
    """`count` articles: the demo KB's 20, copied with a numbered title so each is new."""
    with connection.cursor() as cursor:
        cursor.execute(
            "TRUNCATE knowledge_chunk, knowledge_articleembedding, knowledge_article "
            "RESTART IDENTITY CASCADE"
        )
    files = sorted((ROOT / "knowledge" / "demo_kb").glob("*.md"))
    ids = []
    for k in range(count):
        path = files[k % len(files)]
        copy = k // len(files)
        text = path.read_text()
        text = re.sub(r"^# (.+)$", rf"# \1 (copy {copy})", text, count=1, flags=re.M)
        article, _ = article_upsert(filename=f"{path.stem}-{copy}.md", data=text.encode())
        ids.append(article.pk)
    return ids


def reset() -> None:
    """No article has vectors: every one is embedded again, HNSW index included."""
    with connection.cursor() as cursor:
        cursor.execute("TRUNCATE knowledge_chunk, knowledge_articleembedding")
    Article.objects.update(status=Article.Status.PENDING, embedded_at=None)


def in_process(ids: list[int]) -> dict:
    reset()
    timed_worker.patch()  # the same timing as in the workers: embedder and chunker
    timed_worker.spent.update(embed=0.0, build=0.0)
    started = time.perf_counter()
    for article_id in ids:
        article_embed(article_id=article_id)
    seconds = time.perf_counter() - started
    spent = dict(timed_worker.spent)
    return {"arm": "in-process article_embed()", "workers": 1, "seconds": seconds,
            "chunks": Chunk.objects.count(), "task s": seconds, "embed s": spent["embed"],
            "chunk s": spent["build"] - spent["embed"]}  # fmt: skip


def start_worker(concurrency: int, log_path: Path) -> subprocess.Popen:
    env = dict(os.environ, DATABASE_URL=database_url(), REDIS_URL=settings.REDIS_URL,
               HELPDESK_VAR_DIR=str(devstack.VAR_DIR), PYTHONUNBUFFERED="1",
               **WORKER_ENV)  # fmt: skip
    with open(log_path, "wb") as out:
        return subprocess.Popen(
            [sys.executable, "-m", "celery", "-A", "benchmarks.timed_worker", "worker",
             "--concurrency", str(concurrency), "--queues", QUEUE, "--loglevel", "INFO",
             "--hostname", f"bench-ingest-{concurrency}@%h", "--without-gossip",
             "--without-mingle", "--without-heartbeat"],
            cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT,
        )  # fmt: skip


def wait_for(check, log_path: Path, timeout: float = 300) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            sys.exit(f"Timed out; worker log:\n{log_path.read_text()[-3000:]}")
        time.sleep(0.05)


def run_tasks(ids: list[int], log_path: Path) -> float:
    started = time.perf_counter()
    for article_id in ids:
        embed_article.apply_async((article_id,), queue=QUEUE)
    wait_for(lambda: ArticleEmbedding.objects.count() == len(ids), log_path)
    return time.perf_counter() - started


def via_worker(ids: list[int], concurrency: int) -> dict:
    log_path = devstack.VAR_DIR / f"bench-ingest-worker-{concurrency}.log"
    with timed_worker.app.connection_for_write() as conn:
        conn.default_channel.queue_purge(QUEUE)  # nothing left over from an interrupted run
    reset()
    worker = start_worker(concurrency, log_path)
    try:
        wait_for(lambda: " ready." in log_path.read_text(), log_path)
        # Untimed: one task per process, so every process has loaded the model.
        run_tasks(ids[: 2 * concurrency], log_path)
        reset()
        skip = len(SPLIT.findall(log_path.read_text()))
        seconds = run_tasks(ids, log_path)
        time.sleep(0.5)  # the last tasks' log lines
        splits = [tuple(map(float, m)) for m in SPLIT.findall(log_path.read_text())[skip:]]
    finally:
        worker.terminate()
        worker.wait(timeout=60)
    return {"arm": f"celery worker --concurrency {concurrency}", "workers": concurrency,
            "seconds": seconds, "chunks": Chunk.objects.count(),
            "task s": sum(s[0] for s in splits), "embed s": sum(s[1] for s in splits),
            "chunk s": sum(s[2] - s[1] for s in splits)}  # fmt: skip


def report(rows: list[dict], articles: int) -> None:
    prefix = f"HELPDESK_VAR_DIR={VAR_AS_GIVEN} " if VAR_AS_GIVEN else ""
    print(f"\nCommand: {prefix}{shlex.join([os.path.relpath(sys.executable, ROOT), *sys.argv])}")
    print(f"embedding model   {embeddings.model_name()}, {settings.EMBEDDING_THREADS} thread "
          f"per process; CHUNK_MAX_TOKENS {settings.CHUNK_MAX_TOKENS}")  # fmt: skip
    print(f"cpus              {os.cpu_count()}; load avg (1 min) {LOAD_AT_START:.2f} at start, "
          f"{os.getloadavg()[0]:.2f} at end")  # fmt: skip
    print(f"articles          {articles} (demo KB x {articles / 20:g}), {rows[0]['chunks']} "
          f"chunks; each arm starts with no vectors and a warm model")  # fmt: skip
    print("\nIngest, one run. Task time is summed over tasks and split into embedding (the "
          "model's encode),\nchunking (tokenizer counts) and the rest (database, hashing, "
          "Celery)")  # fmt: skip
    head = ("", "workers", "wall s", "chunks/s", "per worker", "task s")
    print(f"{head[0]:32}{head[1]:>8}{head[2]:>8}{head[3]:>10}{head[4]:>11}{head[5]:>8}"
          f"{'embedding s':>15}{'chunking s':>14}{'DB + rest s':>15}")  # fmt: skip
    for r in rows:
        rate = r["chunks"] / r["seconds"]
        task = r["task s"]
        parts = (r["embed s"], r["chunk s"], task - r["embed s"] - r["chunk s"])
        split = "".join(
            f"{part:>{w}.1f} {part / task:>4.0%}"
            for part, w in zip(parts, (10, 9, 10), strict=True)
        )
        print(f"{r['arm']:32}{r['workers']:>8}{r['seconds']:>8.1f}{rate:>10.1f}"
              f"{rate / r['workers']:>11.1f}{task:>8.1f}{split}")  # fmt: skip


def main() -> None:
    try:
        use_database("helpdesk_bench_ingest")
        live_indexes_ensure()  # the active index and its HNSW index, as on a fresh install
        embeddings.embed_query("warm up")
        ids = make_articles(args.articles)
        log(f"Embedding {len(ids)} articles in this process")
        rows = [in_process(ids)]
        for concurrency in [int(c) for c in args.concurrency.split(",") if c]:
            log(f"Embedding {len(ids)} articles with celery worker --concurrency {concurrency}")
            rows.append(via_worker(ids, concurrency))
        report(rows, len(ids))
    finally:
        devstack.stop_started()  # only what this process started; a running stack stays


if __name__ == "__main__":
    main()
