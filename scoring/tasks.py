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


@shared_task(name="scoring.run_export_job", bind=True)
def run_export_job(self, job_id):
    """Write an export job's spreadsheet (scoring.exports.run_job); a finished job is left alone."""
    from .exports import run_job

    # Set by the broker on a job given out again after its worker died (visibility timeout).
    redelivered = bool((self.request.delivery_info or {}).get("redelivered"))
    job = run_job(job_id, redelivered=redelivered)
    return job.status if job is not None else None


@shared_task(name="scoring.sweep_pending_exports")
def sweep_pending_exports():
    """Beat job: start the export jobs whose enqueue failed or was lost."""
    from .exports import sweep_pending_jobs

    return sweep_pending_jobs()


@shared_task(name="scoring.remove_old_export_files")
def remove_old_export_files():
    """Delete the files of old exports, keeping their rows (scoring.exports.remove_old_export_files)."""
    from .exports import remove_old_export_files as remove

    return remove()
