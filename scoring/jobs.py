"""Scheduling ranking updates from the workflow, without ever failing the caller.

A score (or reopen) writes a RecomputeRequest in its own transaction and, once that
commits, asks for a ranking job. Requests are coalesced: at most one job per period
waits in the queue (a Redis key set with NX), the first change after a quiet spell runs
at once, and later ones in a burst wait RANKING_MIN_INTERVAL so that a burst of scores
costs a handful of jobs. Anything the broker loses is picked up by the periodic sweep
(scoring.tasks.sweep_pending_recomputes) from the requests in Postgres.
"""

import contextlib
import contextvars
import logging

from django.conf import settings
from django.db import transaction

from chanjgai_portal import broker

logger = logging.getLogger(__name__)

# While set, schedule_recompute collects period ids instead of enqueueing (see below).
_pending = contextvars.ContextVar("pending_recomputes", default=None)


def queued_key(period_id):
    return f"chanjgai:rankings:{period_id}:queued"


def recent_key(period_id):
    return f"chanjgai:rankings:{period_id}:recent"


def redis_client():
    import redis

    # No retries: a hung Redis must cost a request REDIS_TIMEOUT once, not once per retry.
    return redis.Redis.from_url(
        settings.REDIS_URL,
        socket_timeout=settings.REDIS_TIMEOUT,
        socket_connect_timeout=settings.REDIS_TIMEOUT,
        retry=None,
    )


def mark_rankings_changed(assignment):
    """Record, inside the caller's transaction, that the assignment's points changed, and
    schedule the ranking job for when that transaction commits."""
    from .models import RecomputeRequest

    RecomputeRequest.objects.create(period_id=assignment.period_id, enterprise_id=assignment.enterprise_id)
    period_id = assignment.period_id
    transaction.on_commit(lambda: schedule_recompute(period_id))


def mark_enterprises_changed(enterprise_ids):
    """Record that these enterprises left or rejoined the reform (Enterprise.is_active), in
    every open period they have tasks in, and schedule those periods' ranking jobs for when
    the caller's transaction commits. Today's snapshot then drops or adds them within
    seconds, as after a score, instead of at the next day's full recompute. Closed periods
    keep their rankings."""
    from tasks.models import Assignment

    from .models import RecomputeRequest

    pairs = sorted(
        Assignment.objects.filter(enterprise_id__in=list(enterprise_ids), period__is_closed=False)
        .values_list("period_id", "enterprise_id")
        .distinct()
    )
    RecomputeRequest.objects.bulk_create([RecomputeRequest(period_id=p, enterprise_id=e) for p, e in pairs])
    for period_id in sorted({p for p, _e in pairs}):
        transaction.on_commit(lambda period_id=period_id: schedule_recompute(period_id))
    return len(pairs)


def schedule_recompute(period_id):
    """Ask for the period's ranking job; never raises and never waits on a hung Redis (the
    request is safe in Postgres: chanjgai_portal.broker)."""
    pending = _pending.get()
    if pending is not None:
        pending.add(period_id)
        return
    from .tasks import recompute_rankings

    what = f"the ranking job of period {period_id}"
    if recompute_rankings.app.conf.task_always_eager:
        broker.attempt(lambda: recompute_rankings.delay(period_id), what=what)
        return
    countdown = {}

    def claim():
        client = redis_client()
        if client.set(queued_key(period_id), "1", nx=True, ex=60):
            countdown["s"] = settings.RANKING_MIN_INTERVAL if client.exists(recent_key(period_id)) else 0

    if broker.attempt(claim, what=what) and countdown:
        broker.enqueue(recompute_rankings, (period_id,), what=what, countdown=countdown["s"])


@contextlib.contextmanager
def coalesced_recomputes():
    """Within the block, many scores schedule one ranking job per period, at the end.

    For bulk work (seeding, imports): wrap it around the transaction, so the services'
    on-commit hooks fire while the block is still open.
    """
    pending = set()
    token = _pending.set(pending)
    try:
        yield pending
    finally:
        _pending.reset(token)
    for period_id in sorted(pending):
        schedule_recompute(period_id)
