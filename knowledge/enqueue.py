"""knowledge's Celery tasks, enqueued by name once the transaction commits.

By name, so that what enqueues them (services, uploads, indexes) never imports
knowledge.tasks, which imports those modules: the worker looks the task up. On commit, so
that a worker never reads rows that are not yet committed; outside a transaction the task
goes at once. A test keeps these names in step with knowledge/tasks.py.
"""

from celery import current_app
from django.db import transaction

EMBED_ARTICLE = "knowledge.tasks.embed_article"
PURGE_INDEX = "knowledge.tasks.purge_index"
PROCESS_UPLOAD_FILE = "knowledge.tasks.process_upload_file"


def task_on_commit(name: str, *args, **options) -> None:
    """Send task `name` with `args` (and Celery's options: countdown, time limits) on commit."""
    transaction.on_commit(lambda: current_app.send_task(name, args=args, **options))
