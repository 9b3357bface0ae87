from celery import shared_task

from tasks.models import Period

from .engine import compute_snapshot


@shared_task(name="scoring.recompute_rankings")
def recompute_rankings(period_id, trigger="score"):
    """Recompute one period's rankings into a new snapshot; safe to run twice."""
    period = Period.objects.filter(pk=period_id).first()
    if period is None:
        return None
    return compute_snapshot(period, trigger=trigger).pk
