"""Celery jobs of the e-mail outbox: thin wrappers around notifications.outbox, safe to run
twice. Their names keep the `notices.` prefix they were queued and scheduled under."""

from celery import shared_task
from django.db import InterfaceError, OperationalError

from . import digests, outbox

# The outbox row is the retry schedule of an e-mail (notifications/outbox.py); a job only
# retries when the database itself failed under it (a restart), and the sweep covers even that.
DATABASE_ERRORS = (OperationalError, InterfaceError)


@shared_task(
    name="notices.send_outgoing_emails",
    autoretry_for=DATABASE_ERRORS,
    retry_backoff=5,
    max_retries=5,
)
def send_outgoing_emails(email_ids):
    """Send these outbox rows now (those still due); each e-mail at most once."""
    return outbox.send_due_emails(email_ids=email_ids)


@shared_task(name="notices.send_due_emails", autoretry_for=DATABASE_ERRORS, retry_backoff=5, max_retries=3)
def send_due_emails():
    """Beat sweep: send every outbox row that is due (never enqueued, lost, or to retry)."""
    return outbox.send_due_emails()


@shared_task(name="notices.send_notification_emails", autoretry_for=DATABASE_ERRORS, retry_backoff=5, max_retries=5)
def send_notification_emails(notification_ids):
    """Jobs queued before the outbox existed: give their notifications outbox rows and send them."""
    return outbox.send_due_emails(email_ids=outbox.queue_missing(notification_ids))


@shared_task(name="notifications.send_email_digests", autoretry_for=DATABASE_ERRORS, retry_backoff=5, max_retries=3)
def send_email_digests():
    """Beat job (hourly): the daily digest e-mails that are due, once per user and day."""
    written = digests.send_email_digests()
    return outbox.send_due_emails(email_ids=written) if written else 0
