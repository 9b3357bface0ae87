"""A hung broker never stalls or fails a write (issue 13, point 10).

A Redis stopped with SIGSTOP still accepts TCP connections and never answers. Before the fix
every score waited on it (the e-mail enqueue had no socket timeout), and what it failed to
enqueue was lost. Now each enqueue on a request path is tried once with a short timeout, a
failure makes the process stop trying for BROKER_BACKOFF seconds, and what was to be done
is in PostgreSQL, where the beat sweeps find it.
"""

import datetime

import pytest
from django.core import mail
from django.test import override_settings
from django.utils import timezone

from chanjgai_portal import broker
from scoring.models import EnterpriseRanking, RecomputeRequest
from spreadsheets.models import ExportJob
from tasks import services
from tasks.models import CheckIn, CheckInState

from .brokers import NOTHING_LISTENS_PORT, HungRedis, celery_broker

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def hung_redis():
    server = HungRedis()
    try:
        yield server
    finally:
        server.close()


def _pending_city(world, assignment_of, pdf_upload, index):
    enterprise = world.enterprises[index]
    checkin = services.submit_checkin(world.liaisons[index], assignment_of(enterprise), "已完成", [pdf_upload()])
    return services.approve(world.county_users[0 if index < 2 else 1], checkin)


def test_scores_on_a_hung_broker_commit_and_ask_it_once_then_the_sweeps_send_and_rank(
    world, assignment_of, pdf_upload, hung_redis
):
    checkins = [_pending_city(world, assignment_of, pdf_upload, i) for i in range(3)]
    mail.outbox.clear()

    with celery_broker(hung_redis.url):
        for checkin, points in zip(checkins, ["8", "6", "4"], strict=True):
            services.score(world.city_user, checkin, points)
        # The first score's enqueue met the hung broker and gave up after REDIS_TIMEOUT;
        # the other scores did not try again within BROKER_BACKOFF.
        assert broker.backing_off()
    assert hung_redis.accepted == 1

    # Every score committed, with its ranking change and its e-mail waiting in PostgreSQL.
    assert sorted(CheckIn.objects.filter(pk__in=[c.pk for c in checkins]).values_list("state", flat=True)) == [
        CheckInState.SCORED
    ] * 3
    assert RecomputeRequest.objects.filter(period=world.period).exists()
    assert mail.outbox == []

    # The beat sweeps, once the broker is back: each e-mail once, every score ranked.
    from notifications.celery_tasks import send_due_emails
    from scoring.celery_tasks import sweep_pending_recomputes

    assert send_due_emails() == 3
    assert send_due_emails() == 0
    assert sorted(m.to[0] for m in mail.outbox) == sorted(world.liaisons[i].email for i in range(3))
    with override_settings(RANKING_SWEEP_GRACE=0):
        sweep_pending_recomputes()
    ranked = dict(EnterpriseRanking.objects.filter(snapshot__period=world.period).values_list("enterprise_id", "points"))
    assert [float(ranked[world.enterprises[i].pk]) for i in range(3)] == [8.0, 6.0, 4.0]


def test_the_backoff_ends_and_the_next_enqueue_tries_the_broker_again(world, hung_redis, settings):
    from notifications.celery_tasks import send_due_emails as task

    settings.BROKER_BACKOFF = 0
    with celery_broker(hung_redis.url):
        assert broker.enqueue(task) is False
        assert broker.enqueue(task) is False
    # No backoff window: both enqueues asked the broker (and each gave up after REDIS_TIMEOUT).
    assert hung_redis.accepted == 2


def test_an_export_requested_while_the_broker_is_down_is_started_by_the_sweep(world, django_user_model):
    from spreadsheets.celery_tasks import run_export_job
    from spreadsheets.exports import jobs

    with celery_broker(f"redis://127.0.0.1:{NOTHING_LISTENS_PORT}/5"):
        job = jobs.start_job(
            world.city_user, ExportJob.Kind.COUNTY_RANKING, {"period": world.period.pk}, run_task=run_export_job
        )
    job.refresh_from_db()
    assert job.status == ExportJob.Status.PENDING

    # Within the grace the sweep leaves it (its job may still be queued); after, it starts it.
    assert jobs.sweep_pending_jobs(run_task=run_export_job) == []
    later = timezone.now() + datetime.timedelta(seconds=300)
    assert jobs.sweep_pending_jobs(run_task=run_export_job, now=later) == [job.pk]
    job.refresh_from_db()
    assert job.status != ExportJob.Status.PENDING
    assert jobs.sweep_pending_jobs(run_task=run_export_job, now=later) == []


def test_a_second_copy_of_a_queued_export_leaves_it_to_the_first(world):
    from spreadsheets.exports import jobs

    job = ExportJob.objects.create(requester=world.city_user, kind=ExportJob.Kind.COUNTY_RANKING, params={})
    ExportJob.objects.filter(pk=job.pk).update(status=ExportJob.Status.RUNNING)
    # A copy enqueued by the sweep while the first runs does nothing…
    jobs.run_job(job.pk)
    job.refresh_from_db()
    assert job.status == ExportJob.Status.RUNNING and not job.file
    # …but the job given out again after its worker died runs it.
    jobs.run_job(job.pk, redelivered=True)
    job.refresh_from_db()
    assert job.status in (ExportJob.Status.DONE, ExportJob.Status.FAILED)


# --- point 12: a killed worker's jobs come back within minutes, never while still running -----


def test_the_broker_gives_out_a_dead_workers_jobs_after_the_configured_visibility_timeout(settings):
    """kombu's default is 3600 s: after a whole worker was killed its jobs waited an hour."""
    from chanjgai_portal.celery import app

    if not settings.REDIS_URL:
        pytest.skip("REDIS_URL is not set: no Redis transport to ask")
    with app.connection_for_write() as conn:
        channel = conn.default_channel
        assert channel.visibility_timeout == settings.CELERY_VISIBILITY_TIMEOUT <= 600
        # Redelivery is looked for every 10 s, not every 100 s (kombu's throttle of 10).
        assert channel.unacked_restore_interval * channel.unacked_restore_throttle <= 10
        # A worker's own connection waits out a hung Redis (a timed-out ack stopped its consuming)…
        assert channel.socket_timeout is None
    # …while request paths publish on sockets that time out: a hung Redis cannot hold a write.
    with broker.producers().acquire(block=True) as producer:
        publishing = producer.connection.default_channel
        assert publishing.socket_timeout == publishing.socket_connect_timeout == settings.REDIS_TIMEOUT <= 2


def test_every_job_ends_before_the_broker_would_give_it_to_a_second_worker():
    """With acks_late a job is unacknowledged while it runs: one running longer than the
    visibility timeout would be started again elsewhere. Each job's time limit is below it."""
    from chanjgai_portal.celery import app

    app.loader.import_default_modules()
    ours = {name: task for name, task in app.tasks.items() if name.split(".")[0] in {"scoring", "notices", "enterprises", "tasks"}}
    assert {"scoring.recompute_rankings", "scoring.run_export_job", "notices.send_outgoing_emails"} <= set(ours)
    visibility = app.conf.broker_transport_options["visibility_timeout"]
    for name, task in ours.items():
        hard = task.time_limit or app.conf.task_time_limit
        soft = task.soft_time_limit or app.conf.task_soft_time_limit
        assert hard and soft and soft < hard < visibility, name
        assert (task.acks_late if task.acks_late is not None else app.conf.task_acks_late), name
    assert app.conf.task_reject_on_worker_lost
