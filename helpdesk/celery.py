import os

from celery import Celery
from celery.signals import setup_logging, worker_process_init

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "helpdesk.settings")

app = Celery("helpdesk")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


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
