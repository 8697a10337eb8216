import os

from celery import Celery
from celery.signals import setup_logging, worker_init, worker_process_init

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "helpdesk.settings")

app = Celery("helpdesk")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()

# What every Celery process (worker, beat) is started with: no connection pool (a worker's
# Django fixup closes pooled connections' sockets; helpdesk/settings, DB_POOL) and no child
# process for embedding questions (workers embed articles in their own processes).
WORKER_ENV = {"DB_POOL": "0", "EMBEDDING_QUERY_PROCESS": "0"}


@worker_init.connect
def _refuse_a_connection_pool(**kwargs):
    from django.conf import settings

    if settings.DATABASES["default"].get("OPTIONS", {}).get("pool"):
        # SystemExit, not an exception: Celery logs those from a signal handler and goes on.
        raise SystemExit(
            "A Celery worker must not pool database connections (its tasks would hang on "
            "closed sockets): start it with DB_POOL=0 (and EMBEDDING_QUERY_PROCESS=0)."
        )


@worker_process_init.connect
def _warm_up(**kwargs):
    # Each worker process loads the embedding model once, before its first task.
    from knowledge.indexes import embeddings_warm_up as warm_up

    warm_up()


@setup_logging.connect
def _log_through_django(**kwargs):
    # Celery would replace the root handlers with its own, which lack the redacting formatter:
    # the worker and beat log through settings.LOGGING like daphne does.
    from logging.config import dictConfig

    from django.conf import settings

    dictConfig(settings.LOGGING)
