"""Celery tasks enqueued by name, once the transaction commits.

By name, so that a service never imports its app's `tasks` module, which imports the
service back: the worker looks the task up. `tasks` is then the only module that imports
both (pyproject.toml's import-linter contracts). On commit, so that a worker never reads
rows that are not yet committed; outside a transaction the task goes at once.
"""

from celery import current_app
from django.db import transaction


def task_on_commit(name: str, *args, **options) -> None:
    """Send task `name` with `args` (and Celery's options: countdown, time limits) on commit."""
    transaction.on_commit(lambda: current_app.send_task(name, args=args, **options))
