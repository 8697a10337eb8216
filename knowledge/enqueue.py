"""knowledge's Celery tasks, by name (core/queue.py: enqueued on commit, never imported).

What enqueues them (services, uploads, indexes) never imports knowledge.tasks, which
imports those modules. A test keeps these names in step with knowledge/tasks.py.
"""

from core.queue import task_on_commit

__all__ = ["EMBED_ARTICLE", "PROCESS_UPLOAD_FILE", "PURGE_INDEX", "task_on_commit"]

EMBED_ARTICLE = "knowledge.tasks.embed_article"
PURGE_INDEX = "knowledge.tasks.purge_index"
PROCESS_UPLOAD_FILE = "knowledge.tasks.process_upload_file"
