"""Celery jobs of the scoring app: thin wrappers around scoring.engine.

Both are idempotent (running one twice gives the same snapshot), which is what makes
acks_late redelivery after a worker crash safe.
"""

import datetime
import logging

from celery import shared_task
from django.conf import settings
from django.utils import timezone

from tasks.models import Period

from . import jobs
from .engine import compute_snapshot, refresh_rankings
from .models import RecomputeRequest

logger = logging.getLogger(__name__)


def _forget_queued(period_id):
    """Let the next score enqueue a job again: anything committed from now on is not
    guaranteed to be seen by this run."""
    try:
        jobs.redis_client().delete(jobs.queued_key(period_id))
    except Exception:  # without Redis there is no key to clear
        pass


def _mark_recent(period_id):
    try:
        jobs.redis_client().set(jobs.recent_key(period_id), "1", px=int(settings.RANKING_MIN_INTERVAL * 1000))
    except Exception:
        pass


@shared_task(name="scoring.recompute_rankings")
def recompute_rankings(period_id, trigger="score"):
    """Apply the period's pending ranking changes (a full recompute when a new day or rule needs it)."""
    period = Period.objects.filter(pk=period_id).first()
    if period is None:
        return None
    if not recompute_rankings.app.conf.task_always_eager:
        _forget_queued(period_id)
        # Measured from the start of a job: a score arriving later than RANKING_MIN_INTERVAL
        # after it started gets a job at once, only a burst waits.
        _mark_recent(period_id)
    return refresh_rankings(period, trigger=trigger).pk


@shared_task(name="scoring.full_recompute")
def full_recompute(period_id, trigger="full"):
    """Recompute the period's rankings in full as a new snapshot."""
    period = Period.objects.filter(pk=period_id).first()
    if period is None:
        return None
    return compute_snapshot(period, trigger=trigger).pk


@shared_task(name="scoring.sweep_pending_recomputes")
def sweep_pending_recomputes():
    """Beat job: apply ranking changes whose job never ran (broker down, job lost)."""
    cutoff = timezone.now() - datetime.timedelta(seconds=settings.RANKING_SWEEP_GRACE)
    period_ids = sorted(
        set(RecomputeRequest.objects.filter(requested_at__lt=cutoff).values_list("period_id", flat=True))
    )
    for period in Period.objects.filter(pk__in=period_ids):
        logger.info("Sweep: applying pending ranking changes of period %s", period.pk)
        refresh_rankings(period, trigger="sweep")
    return period_ids


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
