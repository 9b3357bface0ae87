"""Scheduling ranking recomputes from the workflow, without ever failing the caller."""

import logging

logger = logging.getLogger(__name__)


def schedule_recompute(period_id):
    """Enqueue a recompute of the period's rankings.

    Called after the scoring transaction committed: the score is already safe, so a
    broker outage is logged rather than shown to the user as an error.
    """
    from .tasks import recompute_rankings

    try:
        recompute_rankings.delay(period_id)
    except Exception:  # noqa: BLE001 - any broker failure; the score itself is committed
        logger.exception("Could not enqueue the ranking recompute for period %s", period_id)
