"""Celery jobs of the scoring app: thin wrappers around scoring.recompute.

The ranking jobs are idempotent (running one twice gives the same snapshot), which is what
makes acks_late redelivery after a worker crash safe. scoring.recompute enqueues them by
their names, which stay as they are: queued messages and CELERY_BEAT_SCHEDULE use them.
"""

from celery import shared_task

from . import recompute


@shared_task(name=recompute.RECOMPUTE_RANKINGS)
def recompute_rankings(period_id, trigger=recompute.SCORE_TRIGGER):
    """Apply the period's pending ranking changes (a full recompute when a new day or rule needs it)."""
    return recompute.apply_pending(period_id, trigger=trigger)


@shared_task(name="scoring.full_recompute")
def full_recompute(period_id, trigger="full"):
    """Recompute the period's rankings in full as a new snapshot."""
    return recompute.recompute_in_full(period_id, trigger=trigger)


@shared_task(name="scoring.sweep_pending_recomputes")
def sweep_pending_recomputes():
    """Beat job: apply ranking changes whose job never ran (broker down, job lost)."""
    return recompute.sweep_pending()
