"""Background work (part of helpdesk.settings): how Celery runs tasks, and what beat runs
when. The broker's address is with the other services' in __init__.py."""

from helpdesk.environment import envint

CELERY_TASK_IGNORE_RESULT = True
# A task is acknowledged when it ends, not when it starts: a worker killed mid-task leaves
# its message to be delivered again (every task is idempotent). A dead pool child is
# requeued at once; a dead worker's message returns after the visibility timeout, which
# must outlast the longest task or a slow task would be delivered twice.
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_BROKER_TRANSPORT_OPTIONS = {"visibility_timeout": envint("CELERY_VISIBILITY_TIMEOUT", 900)}
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_SOFT_TIME_LIMIT = envint("CELERY_TASK_SOFT_TIME_LIMIT", 300)
CELERY_TASK_TIME_LIMIT = envint("CELERY_TASK_TIME_LIMIT", 360)
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True

# Insights (insights/resolution.py): an answer is an assumed resolution once this many hours
# pass without the customer coming back for more help; a customer message counts as coming
# back when the chat had been quiet this many minutes since the answer.
INSIGHTS_RETURN_HOURS = envint("INSIGHTS_RETURN_HOURS", 24)
INSIGHTS_QUIET_MINUTES = envint("INSIGHTS_QUIET_MINUTES", 30)

# Periodic tasks, run by beat.
CELERY_BEAT_SCHEDULE = {
    "sample-answers-for-review": {
        "task": "chat.tasks.sample_for_review",
        "schedule": envint("REVIEW_SAMPLE_EVERY_SECONDS", 600),
    },
    "purge-old-conversations": {
        "task": "privacy.tasks.purge_old_conversations",
        "schedule": envint("CHAT_RETENTION_EVERY_SECONDS", 3600),
    },
    "requeue-stale-work": {
        "task": "knowledge.tasks.requeue_stale_work",
        "schedule": envint("KB_REQUEUE_EVERY_SECONDS", 300),
    },
    # The dashboard reads the Outcome rollup: it is this many seconds behind at most.
    "roll-up-outcomes": {
        "task": "insights.tasks.rollup_outcomes",
        "schedule": envint("INSIGHTS_ROLLUP_EVERY_SECONDS", 900),
    },
    # Content gaps regrouped, and re-checked after articles change (insights/gaps.py).
    "content-gaps": {
        "task": "insights.tasks.recheck_gaps",
        "schedule": envint("INSIGHTS_GAPS_EVERY_SECONDS", 3600),
    },
}
