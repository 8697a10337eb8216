from celery import shared_task

from insights.gaps import gaps_rebuild, gaps_recheck_changed
from insights.rollup import outcomes_roll_up


# The first run over a large history reads every message once; later runs read only what
# changed, in batches (insights/rollup.py).
@shared_task(soft_time_limit=600, time_limit=660)
def rollup_outcomes(conversation_id: int | None = None) -> int:
    # Safe to run twice: each Outcome is an upsert of the same figures.
    return outcomes_roll_up(conversation_id=conversation_id)


@shared_task(soft_time_limit=600, time_limit=660)
def recheck_gaps() -> dict[str, int]:
    # Beat, every INSIGHTS_GAPS_EVERY_SECONDS. knowledge sits below insights and cannot
    # tell it that an article was published, so this looks: it regroups the questions,
    # then re-checks the gaps an article changed since. Safe to run twice: the same
    # questions make the same gaps, and a re-check only rewrites its own figures.
    return {"gaps": gaps_rebuild(), "rechecked": gaps_recheck_changed()}
