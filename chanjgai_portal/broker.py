"""Enqueueing on a request path: try once, briefly, and never fail or stall the caller.

Everything a request enqueues (ranking jobs, notification e-mails, export jobs) is recorded
in PostgreSQL first, in the request's own transaction, and a beat sweep finds what no job
picked up. So an enqueue is only a way of doing that work sooner, and losing one costs a
delay, never data. What it must not cost is the request: a Redis that is stopped (SIGSTOP),
behind a dead NAT or overloaded accepts the TCP connection and then never answers.

`attempt(fn)` runs one enqueue. The broker's sockets time out after REDIS_TIMEOUT seconds
(settings.CELERY_BROKER_TRANSPORT_OPTIONS) and `enqueue` publishes without kombu's publish
retries, so a hung Redis costs one request about REDIS_TIMEOUT once. After a failure the
process stops trying for BROKER_BACKOFF seconds: every enqueue in that window returns at
once, and the sweeps do the work when Redis is back. The state is per process (each
gunicorn worker finds out for itself, once).
"""

import logging
import threading
import time

from django.conf import settings

logger = logging.getLogger(__name__)

_lock = threading.Lock()
# time.monotonic() until which enqueues are skipped; 0 when the broker is believed up.
_skip_until = 0.0


def _eager():
    from chanjgai_portal.celery import app

    return bool(app.conf.task_always_eager)


def backing_off():
    """True while enqueues are skipped after a broker failure."""
    return time.monotonic() < _skip_until


def reset():
    """Forget an earlier broker failure (tests; a process that knows the broker is back)."""
    global _skip_until
    with _lock:
        _skip_until = 0.0


def attempt(fn, what="job"):
    """Run the enqueue `fn()`; True when it ran, False when it failed or was skipped.

    Never raises. A failure starts the BROKER_BACKOFF window in which `attempt` does not
    call `fn` at all. Without a broker (Celery eager: the demo and the tests) `fn` runs the
    job inline; an error of the job itself is logged but is not a broker failure.
    """
    global _skip_until
    if backing_off():
        logger.info("Broker backing off: %s not enqueued, its sweep will run it", what)
        return False
    try:
        fn()
        return True
    except Exception:  # noqa: BLE001 - any broker failure; the work is recorded in PostgreSQL
        if _eager():
            logger.exception("The inline %s failed; its sweep will retry it", what)
            return False
        with _lock:
            _skip_until = time.monotonic() + settings.BROKER_BACKOFF
        logger.exception(
            "Could not enqueue %s; not trying again for %s s (the sweep will run it)", what, settings.BROKER_BACKOFF
        )
        return False


def enqueue(task, args=(), what=None, **options):
    """`task.apply_async(args, **options)` through `attempt`, without kombu's publish retries
    (each retry would wait another socket timeout on a hung broker)."""
    return attempt(lambda: task.apply_async(args, retry=False, **options), what=what or task.name)
