"""Notification e-mails are kept in an outbox and sent from it (issue 13, point 11).

Before, the e-mail of an event was only a Celery message: with Redis down it was never sent
(58 of them in the fault run), and a job that met a PostgreSQL restart failed for good
(its autoretry covered OSError, not the database's OperationalError). Now each e-mail is a
row written in the event's transaction, sent after the commit or by the beat sweep, retried
with backoff, and marked sent: none lost, none sent twice.
"""

import datetime
import threading
import time

import pytest
from django.core import mail
from django.core.mail.backends.locmem import EmailBackend as LocmemBackend
from django.db import OperationalError, connection, transaction
from django.utils import timezone

from notifications.models import Notification
from tasks import services

from . import factories as f
from .brokers import NOTHING_LISTENS_PORT, celery_broker
from .celery_worker import _wait_for


@pytest.fixture
def submitted(world, assignment_of):
    """A check-in of e11 waiting for its county office (without the office's notification)."""
    checkin = services.submit_checkin(world.liaisons[0], assignment_of(world.enterprises[0]), "已开展技能竞赛", [f.pdf_upload()])
    Notification.objects.all().delete()
    return checkin


def _emails():
    from notifications.models import OutgoingEmail

    return OutgoingEmail.objects


def _fail_first_query_on(table, times=1):
    """An execute wrapper raising the error a PostgreSQL restart gives, for the first `times`
    queries that read `table`."""
    left = {"n": times}

    def wrapper(execute, sql, params, many, context):
        if table in sql and sql.lstrip().upper().startswith("SELECT") and left["n"] > 0:
            left["n"] -= 1
            raise OperationalError("terminating connection due to administrator command")
        return execute(sql, params, many, context)

    return wrapper


def test_the_email_is_written_with_the_event_and_not_when_the_event_rolls_back(world, submitted):
    with pytest.raises(RuntimeError):
        with transaction.atomic():
            services.return_checkin(world.county_users[0], submitted, "请补充现场照片")
            raise RuntimeError("the request failed after the return")
    assert not Notification.objects.filter(recipient=world.liaisons[0]).exists()
    assert not _emails().filter(to=world.liaisons[0].email).exists()

    services.return_checkin(world.county_users[0], submitted, "请补充现场照片")
    row = _emails().get(to=world.liaisons[0].email)
    assert row.status == "pending" and "请补充现场照片" in row.body
    assert row.notification.recipient == world.liaisons[0]


@pytest.mark.django_db(transaction=True)
def test_emails_of_events_while_redis_is_down_are_sent_once_by_the_sweep(world, submitted):
    from notifications.celery_tasks import send_due_emails

    mail.outbox.clear()
    with celery_broker(f"redis://127.0.0.1:{NOTHING_LISTENS_PORT}/5"):
        services.return_checkin(world.county_users[0], submitted, "请补充现场照片")
    assert mail.outbox == []  # the enqueue failed; the e-mail waits in PostgreSQL

    assert send_due_emails() == 1
    assert send_due_emails() == 0
    assert [m.to for m in mail.outbox] == [[world.liaisons[0].email]]
    assert "请补充现场照片" in mail.outbox[0].body
    assert Notification.objects.get(recipient=world.liaisons[0]).emailed_at is not None


def test_an_email_whose_job_met_a_database_error_is_sent_once_later(
    world, submitted, django_capture_on_commit_callbacks
):
    from notifications.celery_tasks import send_due_emails

    mail.outbox.clear()
    # PostgreSQL restarts under the e-mail job: its first read fails (the old job gave up
    # for good on OperationalError). The e-mail stays due; a real worker's retry or the
    # sweep sends it (the worker test below covers the retry).
    with connection.execute_wrapper(_fail_first_query_on("notices_outgoingemail")):
        with django_capture_on_commit_callbacks(execute=True):
            services.return_checkin(world.county_users[0], submitted, "请补充现场照片")
    assert mail.outbox == []
    assert _emails().get(to=world.liaisons[0].email).status == "pending"

    assert send_due_emails() == 1
    assert send_due_emails() == 0
    assert [m.to for m in mail.outbox] == [[world.liaisons[0].email]]


def test_a_failed_send_is_retried_with_backoff_and_given_up_after_the_last_attempt(
    world, submitted, assignment_of, settings, monkeypatch
):
    from notifications import outbox

    settings.OUTBOX_MAX_ATTEMPTS = 3
    services.return_checkin(world.county_users[0], submitted, "请补充")
    row = _emails().get()

    def smtp_down(self, messages):
        raise ConnectionRefusedError("SMTP server down")

    now = timezone.now()
    with monkeypatch.context() as m:
        m.setattr(LocmemBackend, "send_messages", smtp_down)
        assert outbox.send_due_emails(now=now) == 0
        row.refresh_from_db()
        assert (row.status, row.attempts) == ("pending", 1)
        assert "SMTP server down" in row.last_error
        assert row.next_attempt_at == now + datetime.timedelta(seconds=settings.OUTBOX_RETRY_BASE)
        # Not due again before its time.
        assert outbox.send_due_emails(now=now + datetime.timedelta(seconds=30)) == 0
        row.refresh_from_db()
        assert row.attempts == 1
        # The second failure waits twice as long.
        second = row.next_attempt_at
        assert outbox.send_due_emails(now=second) == 0
        row.refresh_from_db()
        assert row.next_attempt_at == second + datetime.timedelta(seconds=2 * settings.OUTBOX_RETRY_BASE)

    mail.outbox.clear()
    assert outbox.send_due_emails(now=row.next_attempt_at) == 1
    row.refresh_from_db()
    assert (row.status, row.attempts, row.last_error) == ("sent", 3, "")
    assert len(mail.outbox) == 1

    # A row that fails its last attempt is given up, with the error kept.
    other = services.submit_checkin(world.liaisons[1], assignment_of(world.enterprises[1]), "说明", [f.pdf_upload()])
    services.return_checkin(world.county_users[0], other, "请补充")
    pending = set(_emails().filter(status="pending").values_list("pk", flat=True))
    assert pending
    with monkeypatch.context() as m:
        m.setattr(LocmemBackend, "send_messages", smtp_down)
        for days in (1, 2, 3, 4):
            outbox.send_due_emails(now=timezone.now() + datetime.timedelta(days=days))
    given_up = _emails().filter(pk__in=pending)
    assert set(given_up.values_list("status", "attempts")) == {("failed", 3)}
    assert all("SMTP server down" in e for e in given_up.values_list("last_error", flat=True))


def test_every_message_carries_a_message_id_of_its_row(world, submitted, django_capture_on_commit_callbacks):
    from notifications.outbox import message_id

    mail.outbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        services.return_checkin(world.county_users[0], submitted, "请补充")
    row = _emails().get(to=world.liaisons[0].email)
    assert mail.outbox[0].extra_headers["Message-ID"] == message_id(row)


class SlowBackend(LocmemBackend):
    """The test mailbox, taking a while per message, so that concurrent senders overlap."""

    def send_messages(self, messages):
        time.sleep(0.02)
        return super().send_messages(messages)


@pytest.mark.django_db(transaction=True)
def test_two_concurrent_sweeps_send_each_email_once(world, settings):
    from notifications.outbox import send_due_emails
    from notifications.services import notify

    settings.EMAIL_BACKEND = "tests.test_email_outbox.SlowBackend"
    users = [f.UserFactory(username=f"reader{i:02d}") for i in range(30)]
    with celery_broker(f"redis://127.0.0.1:{NOTHING_LISTENS_PORT}/5"):
        notify([u.pk for u in users], Notification.Kind.NOTICE, "新通知", "/notices/1/")
    mail.outbox.clear()

    sent = []
    barrier = threading.Barrier(2)

    def sweep():
        try:
            barrier.wait()
            sent.append(send_due_emails())
        finally:
            connection.close()

    threads = [threading.Thread(target=sweep) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()

    assert sum(sent) == 30
    assert sorted(m.to[0] for m in mail.outbox) == sorted(u.email for u in users)
    assert _emails().filter(status="sent").count() == 30


@pytest.mark.worker
@pytest.mark.django_db(transaction=True)
def test_a_real_worker_sends_the_email_once_even_after_a_database_error(
    redis_worker, world, assignment_of, monkeypatch
):
    from notifications import outbox

    real_claim = outbox._claim
    failures = {"n": 1}

    def claim_after_a_restart(*args, **kwargs):
        if failures["n"]:
            failures["n"] -= 1
            raise OperationalError("terminating connection due to administrator command")
        return real_claim(*args, **kwargs)

    monkeypatch.setattr(outbox, "_claim", claim_after_a_restart)
    checkin = services.submit_checkin(world.liaisons[0], assignment_of(world.enterprises[0]), "说明", [f.pdf_upload()])
    mail.outbox.clear()
    services.return_checkin(world.county_users[0], checkin, "请补充")

    _wait_for(lambda: _emails().filter(to=world.liaisons[0].email, status="sent").exists(), "the e-mail to be sent")
    assert failures["n"] == 0  # the first try met the database error; Celery's retry sent it
    time.sleep(0.5)
    assert [m.to for m in mail.outbox if m.to == [world.liaisons[0].email]] == [[world.liaisons[0].email]]


def test_a_mail_backend_that_cannot_even_connect_fails_each_row_on_its_own(world, settings):
    from notifications.outbox import send_due_emails
    from notifications.services import notify

    users = [f.UserFactory(username=f"reader{i:02d}") for i in range(2)]
    notify([u.pk for u in users], Notification.Kind.NOTICE, "新通知", "/notices/1/")
    settings.EMAIL_BACKEND = "django.core.mail.backends.filebased.EmailBackend"
    settings.EMAIL_FILE_PATH = None  # the backend raises when it is created

    assert send_due_emails() == 0
    rows = _emails().filter(to__in=[u.email for u in users])
    assert set(rows.values_list("status", "attempts")) == {("pending", 1)}
    assert all(error for error in rows.values_list("last_error", flat=True))
