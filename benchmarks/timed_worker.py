"""The product's Celery app, logging where each task's time went: for benchmarks/ingest.py.

`celery -A benchmarks.timed_worker worker` runs the same app, tasks and settings as
`celery -A helpdesk worker`. Each worker process also times the embedder and the chunker
(the two calls `knowledge.services` makes out to the model) and logs one line per task.
"""

import logging
import time

from celery.signals import task_postrun, task_prerun, worker_process_init

from helpdesk.celery import app

__all__ = ["app"]
logger = logging.getLogger(__name__)
spent = {"embed": 0.0, "build": 0.0}


def timing(key: str, function):
    def timed(*args, **kwargs):
        started = time.perf_counter()
        try:
            return function(*args, **kwargs)
        finally:
            spent[key] += time.perf_counter() - started

    return timed


def patch() -> None:
    """Time the module attributes that the embedding pipeline calls; nothing else changes."""
    from knowledge import embeddings, services

    embeddings.embed_documents = timing("embed", embeddings.embed_documents)
    services.article_chunks = timing("build", services.article_chunks)


@worker_process_init.connect
def _patch(**kwargs):
    patch()


@task_prerun.connect
def _start(task_id=None, **kwargs):
    spent.update(embed=0.0, build=0.0, started=time.perf_counter())


@task_postrun.connect
def _report(task_id=None, **kwargs):
    total = time.perf_counter() - spent["started"]
    # "split" lines are what ingest.py reads back from the worker's log.
    logger.info("split total=%.6f embed=%.6f build=%.6f", total, spent["embed"], spent["build"])
