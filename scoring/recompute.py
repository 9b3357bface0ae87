"""Where rankings are recomputed: the one module that asks for it, and what the jobs run.

Asking (the only way anything asks for rankings to be recomputed):
- rankings_changed(assignment): a score or reopen changed an assignment's points;
- enterprises_changed(ids): enterprises left or rejoined the reform, or moved county;
- request_recompute(period, trigger=...): a full recompute through the queue (a rule
  change, the admin action);
- recompute_now(period, trigger=...): a full recompute in this process (the management
  command, the demo seeding);
- coalesced_recomputes(): around bulk work, one job per period at the end.

Each request is a RecomputeRequest row written in the caller's transaction; once that
commits, a ranking job is enqueued by its task name (scoring.celery_tasks holds the Celery tasks
and calls back into this module: it is imported by no one here). Requests are coalesced:
at most one job per period waits in the queue (a Redis key set with NX), the first change
after a quiet spell runs at once, and later ones in a burst wait RANKING_MIN_INTERVAL so
that a burst of scores costs a handful of jobs. Enqueueing never fails or stalls the caller
(chanjgai_portal.broker); anything the broker loses is applied by the periodic sweep
(sweep_pending) from the requests in Postgres.

Running (called by the thin Celery tasks of scoring.celery_tasks): apply_pending,
recompute_in_full, sweep_pending. The rules themselves are scoring.engine's.
"""

import contextlib
import contextvars
import datetime
import logging
from collections.abc import Iterable, Iterator

import redis
from django.conf import settings
from django.db import transaction
from django.utils import timezone

from chanjgai_portal import broker
from tasks.models import Assignment, Period

from .engine import compute_snapshot, refresh_rankings
from .models import RankingSnapshot, RecomputeRequest

logger = logging.getLogger(__name__)

# The Celery task (scoring.celery_tasks.recompute_rankings) that applies a period's pending changes.
RECOMPUTE_RANKINGS = "scoring.recompute_rankings"
# The trigger recorded on a snapshot written by that job when the request names none.
SCORE_TRIGGER = "score"

# While set, _schedule collects period ids instead of enqueueing (see coalesced_recomputes).
_pending = contextvars.ContextVar("pending_recomputes", default=None)


def queued_key(period_id: int) -> str:
    """The Redis key held while a ranking job of the period waits in the queue."""
    return f"chanjgai:rankings:{period_id}:queued"


def recent_key(period_id: int) -> str:
    """The Redis key held for RANKING_MIN_INTERVAL after a ranking job of the period started."""
    return f"chanjgai:rankings:{period_id}:recent"


def redis_client() -> redis.Redis:
    """A client for the coalescing keys that gives up after REDIS_TIMEOUT."""
    # No retries: a hung Redis must cost a request REDIS_TIMEOUT once, not once per retry.
    return redis.Redis.from_url(
        settings.REDIS_URL,
        socket_timeout=settings.REDIS_TIMEOUT,
        socket_connect_timeout=settings.REDIS_TIMEOUT,
        retry=None,
    )


# --- Asking for a recompute ------------------------------------------------------------


def rankings_changed(assignment: Assignment) -> None:
    """Record, in the caller's transaction, that the assignment's points changed; its period's job runs after commit."""
    RecomputeRequest.objects.create(period_id=assignment.period_id, enterprise_id=assignment.enterprise_id)
    period_id = assignment.period_id
    transaction.on_commit(lambda: _schedule(period_id))


def enterprises_changed(enterprise_ids: Iterable[int]) -> int:
    """Record that these enterprises' rankings changed (left or rejoined the reform, moved) in
    every open period they have tasks in; those periods' jobs run after commit. Returns the
    number of (period, enterprise) requests.

    Today's snapshot then drops, adds or moves them within seconds, as after a score, instead
    of at the next day's full recompute. Closed periods keep their rankings.
    """
    pairs = sorted(
        Assignment.objects.filter(enterprise_id__in=list(enterprise_ids), period__is_closed=False)
        .values_list("period_id", "enterprise_id")
        .order_by()  # without the model's ordering, which would make DISTINCT keep one pair per task
        .distinct()
    )
    RecomputeRequest.objects.bulk_create([RecomputeRequest(period_id=p, enterprise_id=e) for p, e in pairs])
    for period_id in sorted({p for p, _e in pairs}):
        transaction.on_commit(lambda period_id=period_id: _schedule(period_id))
    return len(pairs)


def request_recompute(period: Period, *, trigger: str) -> None:
    """Ask, in the caller's transaction, for the period's rankings in full as a new snapshot, by the queue after commit."""
    RecomputeRequest.objects.create(period=period, full=True)
    period_id = period.pk
    transaction.on_commit(lambda: _schedule(period_id, trigger=trigger))


def recompute_now(period: Period, *, trigger: str) -> RankingSnapshot:
    """Recompute the period's rankings in full as a new snapshot in this process, without the queue."""
    return compute_snapshot(period, trigger=trigger)


@contextlib.contextmanager
def coalesced_recomputes() -> Iterator[set[int]]:
    """Within the block, many scores schedule one ranking job per period, at the end.

    For bulk work (seeding, imports): wrap it around the transaction, so the services'
    on-commit hooks fire while the block is still open. The yielded set holds the periods
    waiting; discard one whose rankings the caller recomputed itself.
    """
    pending = set()
    token = _pending.set(pending)
    try:
        yield pending
    finally:
        _pending.reset(token)
    for period_id in sorted(pending):
        _schedule(period_id)


def _schedule(period_id, trigger=SCORE_TRIGGER):
    """Ask for the period's ranking job; never raises and never waits on a hung Redis (the
    request is safe in Postgres: chanjgai_portal.broker)."""
    pending = _pending.get()
    if pending is not None:
        pending.add(period_id)
        return
    what = f"the ranking job of period {period_id}"
    if broker.eager():
        broker.enqueue_named(RECOMPUTE_RANKINGS, (period_id, trigger), what=what)
        return
    countdown = {}

    def claim():
        client = redis_client()
        if client.set(queued_key(period_id), "1", nx=True, ex=60):
            countdown["s"] = settings.RANKING_MIN_INTERVAL if client.exists(recent_key(period_id)) else 0

    if broker.attempt(claim, what=what) and countdown:
        broker.enqueue_named(RECOMPUTE_RANKINGS, (period_id, trigger), what=what, countdown=countdown["s"])


# --- Running it (the bodies of scoring.celery_tasks' Celery tasks) ------------------------------


def apply_pending(period_id: int, *, trigger: str = SCORE_TRIGGER) -> int | None:
    """Apply the period's pending ranking changes (a full recompute when a new day or rule
    needs it); returns the current snapshot's id, None for a deleted period."""
    period = Period.objects.filter(pk=period_id).first()
    if period is None:
        return None
    if not broker.eager():
        _forget_queued(period_id)
        # Measured from the start of a job: a score arriving later than RANKING_MIN_INTERVAL
        # after it started gets a job at once, only a burst waits.
        _mark_recent(period_id)
    return refresh_rankings(period, trigger=trigger).pk


def recompute_in_full(period_id: int, *, trigger: str = "full") -> int | None:
    """Recompute the period's rankings in full as a new snapshot; its id, None for a deleted period."""
    period = Period.objects.filter(pk=period_id).first()
    if period is None:
        return None
    return compute_snapshot(period, trigger=trigger).pk


def sweep_pending() -> list[int]:
    """Apply the ranking changes whose job never ran (broker down, job lost); the periods' ids."""
    cutoff = timezone.now() - datetime.timedelta(seconds=settings.RANKING_SWEEP_GRACE)
    period_ids = sorted(
        set(RecomputeRequest.objects.filter(requested_at__lt=cutoff).values_list("period_id", flat=True))
    )
    for period in Period.objects.filter(pk__in=period_ids):
        logger.info("Sweep: applying pending ranking changes of period %s", period.pk)
        refresh_rankings(period, trigger="sweep")
    return period_ids


def _forget_queued(period_id):
    """Let the next score enqueue a job again: anything committed from now on is not
    guaranteed to be seen by this run."""
    try:
        redis_client().delete(queued_key(period_id))
    except Exception:  # without Redis there is no key to clear
        pass


def _mark_recent(period_id):
    try:
        redis_client().set(recent_key(period_id), "1", px=int(settings.RANKING_MIN_INTERVAL * 1000))
    except Exception:  # without Redis the next job simply runs at once
        pass
