"""Scheduling ranking recomputes from the workflow, without ever failing the caller."""

import contextlib
import contextvars
import logging

logger = logging.getLogger(__name__)

# While set, schedule_recompute collects period ids instead of enqueueing (see below).
_pending = contextvars.ContextVar("pending_recomputes", default=None)


def schedule_recompute(period_id):
    """Enqueue a recompute of the period's rankings.

    Called after the scoring transaction committed: the score is already safe, so a
    broker outage is logged rather than shown to the user as an error.
    """
    pending = _pending.get()
    if pending is not None:
        pending.add(period_id)
        return
    from .tasks import recompute_rankings

    try:
        recompute_rankings.delay(period_id)
    except Exception:  # noqa: BLE001 - any broker failure; the score itself is committed
        logger.exception("Could not enqueue the ranking recompute for period %s", period_id)


@contextlib.contextmanager
def coalesced_recomputes():
    """Within the block, many scores schedule one recompute per period, at the end.

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
