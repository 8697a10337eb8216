"""Celery tasks enqueued by name, when the transaction commits.

A service that enqueues its app's task would import `tasks`, which imports the service
back: a cycle that hides inside a function. By name, services sit below their tasks, and
`tasks` is the only module that imports both (pyproject.toml's import-linter contracts).
The task still runs only once the rows it reads are committed, as `delay_on_commit` does.
"""

from celery import current_app
from django.db import transaction


def task_enqueue_on_commit(name: str, *args) -> None:
    """Send task `name` (its dotted path) with `args` once the current transaction commits,
    or at once outside of one."""
    transaction.on_commit(lambda: current_app.send_task(name, args=args))
