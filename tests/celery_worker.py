"""A real Celery worker on the project's Redis broker, in a thread of the test process: the
`redis_worker` fixture (a pytest plugin listed in conftest's pytest_plugins) and `_wait_for`,
which polls for what the worker does. Used by tests/test_celery_worker.py and the e-mail outbox
tests; such tests are marked `worker` and use committed transactions.
"""

import os
import time

import pytest
from celery.contrib.testing.worker import start_worker
from celery.signals import task_postrun
from django.db import connections

from chanjgai_portal.celery import app as celery_app
from scoring import recompute

WAIT_SECONDS = 20


def _close_worker_connections(**kwargs):
    # The worker thread's connection would otherwise outlive the test and block the
    # test database from being flushed or dropped.
    connections.close_all()


@pytest.fixture
def redis_worker():
    """A Celery worker (solo pool, in a thread) consuming from the project's Redis broker."""
    if not os.environ.get("REDIS_URL"):
        if os.environ.get("CI"):
            pytest.fail("REDIS_URL must be set in CI: the worker tests may not be skipped there.")
        pytest.skip("REDIS_URL is not set: no Redis broker for a real Celery worker.")
    if connections["default"].vendor == "sqlite":
        # The worker thread shares the in-memory test database, whose table locks make the
        # two connections fail each other; test_ci_runs_the_suite_on_postgres_and_redis
        # keeps CI from passing that way.
        pytest.skip("the real-worker tests need PostgreSQL (DATABASE_URL), not the in-memory SQLite test database.")
    assert not celery_app.conf.task_always_eager, "worker tests must dispatch through the broker"
    assert celery_app.conf.broker_url.startswith("redis://"), celery_app.conf.broker_url
    # Recomputes left in the queue by an interrupted earlier run would name periods of a
    # database that no longer exists (or, worse, reused ids): start from an empty queue.
    celery_app.control.purge()
    # Likewise the "a job is queued" markers of periods with the same ids.
    client = recompute.redis_client()
    for key in client.scan_iter("chanjgai:rankings:*"):
        client.delete(key)
    task_postrun.connect(_close_worker_connections, weak=False)
    try:
        # No result backend is configured (recomputes are fire-and-forget), so the
        # ping round trip is skipped; the tests wait for the snapshot rows instead.
        with start_worker(
            celery_app, pool="solo", perform_ping_check=False, shutdown_timeout=30, loglevel="WARNING"
        ) as worker:
            yield worker
    finally:
        task_postrun.disconnect(_close_worker_connections)


def _wait_for(predicate, what):
    deadline = time.monotonic() + WAIT_SECONDS
    while time.monotonic() < deadline:
        result = predicate()
        if result:
            return result
        time.sleep(0.1)
    pytest.fail(f"Timed out after {WAIT_SECONDS}s waiting for {what}.")
