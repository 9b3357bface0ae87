"""Enqueueing on a request path: try once, briefly, and never fail or stall the caller.

Everything a request enqueues (ranking jobs, notification e-mails, export jobs) is recorded
in PostgreSQL first, in the request's own transaction, and a beat sweep finds what no job
picked up. So an enqueue is only a way of doing that work sooner, and losing one costs a
delay, never data. What it must not cost is the request: a Redis that is stopped (SIGSTOP),
behind a dead NAT or overloaded accepts the TCP connection and then never answers.

`attempt(fn)` runs one enqueue. `enqueue` publishes through a producer pool of its own
whose sockets time out after REDIS_TIMEOUT seconds (connect, read, write), without kombu's
publish or connection retries, so a hung Redis costs one request about REDIS_TIMEOUT once.
After a failure the process stops trying for BROKER_BACKOFF seconds: every enqueue in that
window returns at once, and the sweeps do the work when Redis is back. The state is per
process (each gunicorn worker finds out for itself, once).

Only publishing gets the short timeouts. A Celery worker's own connection (BRPOP, acks) must
ride out a hung Redis rather than time out: with a 1 s socket timeout there, a worker whose
ack timed out during a 30 s SIGSTOP stopped consuming for good (bench/faults.py hung-redis).
"""

import logging
import os
import threading
import time

from django.conf import settings
from kombu.pools import ProducerPool

from chanjgai_portal.celery import TASKS_MODULE, app

logger = logging.getLogger(__name__)

_lock = threading.Lock()
# time.monotonic() until which enqueues are skipped; 0 when the broker is believed up.
_skip_until = 0.0
# Producers on connections with the short timeouts (made on first use, per process).
_producers = None


def _forget_pool():
    global _producers
    _producers = None


# A pool's sockets must not be shared with a forked child (gunicorn, Celery's prefork pool).
os.register_at_fork(after_in_child=_forget_pool)


def publish_transport_options():
    """The broker options of request-path publishing: short socket timeouts, no retries."""
    return {
        "socket_timeout": settings.REDIS_TIMEOUT,
        "socket_connect_timeout": settings.REDIS_TIMEOUT,
        "max_retries": 0,
    }


def producers():
    """The process's pool of producers for request-path publishing."""
    global _producers
    with _lock:
        if _producers is None:
            connection = app.connection_for_write(transport_options=publish_transport_options())
            limit = app.conf.broker_pool_limit
            _producers = ProducerPool(connection.Pool(limit=limit), limit=limit)
        return _producers


def eager():
    """True when Celery runs jobs inline, without a broker (the demo and the tests)."""
    return bool(app.conf.task_always_eager)


def backing_off():
    """True while enqueues are skipped after a broker failure."""
    return time.monotonic() < _skip_until


def reset():
    """Forget an earlier broker failure and the pooled connections (tests: a new broker URL)."""
    global _skip_until, _producers
    with _lock:
        _skip_until = 0.0
        if _producers is not None:
            _producers.connections.force_close_all()
            _producers.force_close_all()
        _producers = None


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
    except Exception as error:  # any broker failure; the work is recorded in PostgreSQL
        if eager():
            logger.exception("The inline %s failed; its sweep will retry it", what)
            return False
        with _lock:
            _skip_until = time.monotonic() + settings.BROKER_BACKOFF
        # One line, not a traceback: during an outage every process logs this every window.
        logger.warning(
            "Could not enqueue %s (%s: %s); not trying again for %s s, the sweep will run it",
            what, error.__class__.__name__, error, settings.BROKER_BACKOFF,
        )
        return False


def enqueue(task, args=(), what=None, **options):
    """`task.apply_async(args, **options)` through `attempt`, on a producer with the short
    timeouts and without kombu's publish retries (each would wait another timeout)."""

    def publish():
        if task.app.conf.task_always_eager:
            return task.apply_async(args, **options)
        with producers().acquire(block=True, timeout=settings.REDIS_TIMEOUT) as producer:
            return task.apply_async(args, producer=producer, retry=False, **options)

    return attempt(publish, what=what or task.name)


def enqueue_named(name, args=(), what=None, **options):
    """`enqueue` for a job known by its task name only, so that the module asking for it
    need not import the module defining it (scoring.recompute asks for scoring.celery_tasks' job).

    Published with `app.send_task`, routed by name like any task. Without a broker (Celery
    eager: the demo and the tests) the process is its own worker: it finds the task among
    the apps' task modules, as a worker does, and runs it inline.
    """

    def publish():
        if eager():
            return _registered_task(name).apply_async(args, **options)
        with producers().acquire(block=True, timeout=settings.REDIS_TIMEOUT) as producer:
            return app.send_task(name, args, producer=producer, retry=False, **options)

    return attempt(publish, what=what or name)


def _registered_task(name):
    if name not in app.tasks:
        # A worker imports every app's Celery module at start; a web process only the ones
        # its code imported.
        app.autodiscover_tasks(related_name=TASKS_MODULE, force=True)
    return app.tasks[name]
