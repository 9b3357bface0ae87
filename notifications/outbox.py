"""Notification e-mails through an outbox in PostgreSQL: none lost, none sent twice.

`write_emails` writes one OutgoingEmail row per notification whose recipient has an address,
in the transaction that writes the notification (and so the event): if the event commits,
its e-mails are recorded; if it rolls back, there are none. notifications.services.queue_emails
calls it and, after the commit, enqueues one job to send them at once (chanjgai_portal.broker:
never fails or stalls the request). Whether that job runs or not, the beat sweep
(`notices.send_due_emails`, every OUTBOX_SWEEP_EVERY seconds) sends every row that is due:
Redis down, a job lost with a killed worker, SMTP or PostgreSQL failing during a send only
delay an e-mail.

A sender first *claims* one row in its own short transaction (SELECT … FOR UPDATE SKIP
LOCKED): it counts the attempt and moves `next_attempt_at` to when a retry would be due
(OUTBOX_RETRY_BASE × 2^(attempts-1), at most OUTBOX_RETRY_MAX), commits, then sends, then
marks the row sent. So two senders (the job and a sweep, or two sweeps) never take the same
row, no lock is held while talking to the SMTP server, a failed send is already scheduled
for its retry, and after OUTBOX_MAX_ATTEMPTS the row is given up (status failed, the error
kept). The one window SMTP leaves open, the server accepting a message and the process
dying before the row says so, is narrowed by retrying that last write, and each message
carries a Message-ID derived from its row, so a copy sent again is recognisably the same.

This module enqueues nothing: the Celery jobs (notifications/celery_tasks.py) call it, and the
enqueueing lives with the writers (notifications/services.py).
"""

import datetime
import logging
import time
from collections.abc import Iterable

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.mail import EmailMessage, get_connection
from django.db import InterfaceError, OperationalError, transaction
from django.db import connection as db_connection
from django.utils import timezone

from .models import EmailPreference, Notification, OutgoingEmail

logger = logging.getLogger(__name__)

Status = OutgoingEmail.Status
Delivery = EmailPreference.Delivery


def write_emails(notifications: Iterable[Notification]) -> list[OutgoingEmail]:
    """Record an e-mail for each of these (just written) notifications whose recipient has an
    address, in the caller's transaction. Returns the rows (the caller has them sent)."""
    notifications = [n for n in notifications if n.pk is not None]
    if not notifications:
        return []
    # Those who chose the daily digest (notifications.digests) or no e-mail get none here.
    addresses = dict(
        get_user_model()
        .objects.filter(pk__in={n.recipient_id for n in notifications})
        .exclude(email="")
        .exclude(email_preference__delivery__in=[Delivery.DAILY, Delivery.NONE])
        .values_list("pk", "email")
    )
    base = settings.PORTAL_BASE_URL.rstrip("/")
    now = timezone.now()
    rows = []
    for notification in notifications:
        address = addresses.get(notification.recipient_id)
        if not address:
            continue
        body = notification.text
        if notification.link:
            body += f"\n\n{base}{notification.link}"
        rows.append(
            OutgoingEmail(
                notification=notification,
                to=address,
                subject=f"{settings.EMAIL_SUBJECT_PREFIX}{notification.get_kind_display()}"[:300],
                body=body,
                next_attempt_at=now,
                created_at=now,
            )
        )
    with transaction.atomic(savepoint=False):  # the caller's change fails as a whole (see services.notify)
        return OutgoingEmail.objects.bulk_create(rows)


def retry_delay(attempts: int) -> datetime.timedelta:
    """How long after its `attempts`-th try a row is due again (exponential, capped)."""
    return datetime.timedelta(
        seconds=min(settings.OUTBOX_RETRY_BASE * 2 ** max(attempts - 1, 0), settings.OUTBOX_RETRY_MAX)
    )


def _claim(email_ids=None, now=None):
    """Take one due row for this sender (committed before anything is sent), or None."""
    now = now or timezone.now()
    with transaction.atomic():
        due = OutgoingEmail.objects.filter(status=Status.PENDING, next_attempt_at__lte=now)
        if email_ids is not None:
            due = due.filter(pk__in=email_ids)
        row = due.select_for_update(skip_locked=True).order_by("next_attempt_at", "pk").first()
        if row is None:
            return None
        row.attempts += 1
        row.next_attempt_at = now + retry_delay(row.attempts)
        row.save(update_fields=["attempts", "next_attempt_at"])
    return row


def message_id(row: OutgoingEmail) -> str:
    """A Message-ID that names the row: the same e-mail always carries the same one."""
    domain = settings.DEFAULT_FROM_EMAIL.rpartition("@")[2].strip("> ") or "localhost"
    return f"<outbox-{row.pk}-{row.created_at:%Y%m%d%H%M%S}@{domain}>"


def _message(row, connection):
    return EmailMessage(
        subject=row.subject,
        body=row.body,
        from_email=settings.DEFAULT_FROM_EMAIL,
        to=[row.to],
        headers={"Message-ID": message_id(row)},
        connection=connection,
    )


def _write_retrying(write):
    """Run a small write, retrying a few times across a database restart (the e-mail is out:
    failing to record that would send it again)."""
    for attempt in range(settings.OUTBOX_RECORD_ATTEMPTS):
        try:
            return write()
        except (OperationalError, InterfaceError):
            if attempt + 1 == settings.OUTBOX_RECORD_ATTEMPTS or db_connection.in_atomic_block:
                raise
            db_connection.close()
            time.sleep(min(2**attempt * 0.5, 8))
    return None


def _mark_sent(row):
    def write():
        now = timezone.now()
        with transaction.atomic():
            OutgoingEmail.objects.filter(pk=row.pk).update(status=Status.SENT, sent_at=now, last_error="")
            if row.notification_id is not None:
                Notification.objects.filter(pk=row.notification_id, emailed_at__isnull=True).update(emailed_at=now)

    _write_retrying(write)


def _mark_failed(row, error):
    given_up = row.attempts >= settings.OUTBOX_MAX_ATTEMPTS
    update = {"last_error": f"{error.__class__.__name__}: {error}"[:2000]}
    if given_up:
        update["status"] = Status.FAILED
    OutgoingEmail.objects.filter(pk=row.pk, status=Status.PENDING).update(**update)
    log = logger.error if given_up else logger.warning
    log(
        "E-mail %s to %s failed (attempt %s%s): %s",
        row.pk,
        row.to,
        row.attempts,
        ", giving up" if given_up else f", again at {row.next_attempt_at:%H:%M:%S}",
        error,
    )


def send_due_emails(
    email_ids: Iterable[int] | None = None, limit: int | None = None, now: datetime.datetime | None = None
) -> int:
    """Send the rows that are due (only those of `email_ids` if given), each at most once;
    returns how many were sent. Must run outside any transaction."""
    limit = settings.OUTBOX_SWEEP_BATCH if limit is None else limit
    sent = 0
    connection = None
    try:
        for _ in range(limit):
            row = _claim(email_ids, now)
            if row is None:
                break
            try:
                if connection is None:
                    connection = get_connection(fail_silently=False)
                _message(row, connection).send()
            except Exception as error:  # any SMTP failure: recorded, retried later
                _mark_failed(row, error)
                if connection is not None:
                    try:
                        connection.close()
                    except Exception:  # a broken connection is reopened next time
                        pass
                connection = None
                continue
            _mark_sent(row)
            sent += 1
    finally:
        if connection is not None:
            try:
                connection.close()
            except Exception:
                pass
    return sent


def queue_missing(notification_ids: Iterable[int]) -> list[int]:
    """Rows for notifications of these ids that have none yet and were never e-mailed (jobs
    queued before the outbox existed); the job that asks sends them itself. Returns the ids
    of the rows made."""
    with transaction.atomic():
        notifications = list(
            Notification.objects.filter(pk__in=notification_ids, emailed_at__isnull=True, email__isnull=True)
        )
        return [row.pk for row in write_emails(notifications)]
