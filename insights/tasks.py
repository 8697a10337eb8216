from celery import shared_task

from insights.rollup import outcomes_roll_up


# The first run over a large history reads every message once; later runs read only what
# changed, in batches (insights/rollup.py).
@shared_task(soft_time_limit=600, time_limit=660)
def rollup_outcomes(conversation_id: int | None = None) -> int:
    # Safe to run twice: each Outcome is an upsert of the same figures.
    return outcomes_roll_up(conversation_id=conversation_id)
