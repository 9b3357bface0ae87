"""The write side of the bell: tell users something (a notification each, and the e-mail
that goes with it), and mark notifications read. Features above call `notify`; they decide
whom to tell, this module only how.

Notifications, and their e-mails (notifications/outbox.py), are written in the caller's
transaction; the e-mails are sent once it commits.
"""

import contextlib
import contextvars
from collections.abc import Iterable, Iterator

from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction
from django.utils import timezone

from chanjgai_portal import broker
from enterprises.models import Profile

from . import outbox
from .celery_tasks import send_outgoing_emails
from .models import Notification, OutgoingEmail

# While set, send_soon collects outbox ids instead of enqueueing (see coalesced_sends).
_pending_sends = contextvars.ContextVar("pending_email_sends", default=None)


def notify(user_ids: Iterable[int], kind: str, text: str, link: str = "") -> list[Notification]:
    """Write one notification per user (in bulk) and, in the same transaction, the e-mails of
    those with an address (sent after the commit, or by the sweep)."""
    user_ids = sorted(set(user_ids))
    if not user_ids:
        return []
    now = timezone.now()
    # No savepoint inside the caller's transaction (a batch of reviews writes 200 of these):
    # a failure here fails the caller's change as a whole, which is what it should do.
    with transaction.atomic(savepoint=False):
        created = Notification.objects.bulk_create(
            [Notification(recipient_id=uid, kind=kind, text=text[:500], link=link, created_at=now) for uid in user_ids]
        )
        queue_emails(created)
    return created


def queue_emails(notifications: Iterable[Notification]) -> list[OutgoingEmail]:
    """Record the e-mails of these just written notifications in the caller's transaction
    and send them once it commits. Returns the outbox rows."""
    created = outbox.write_emails(notifications)
    ids = [row.pk for row in created]
    if ids:
        transaction.on_commit(lambda: send_soon(ids))
    return created


def send_soon(email_ids: Iterable[int]) -> bool:
    """Enqueue the job that sends these rows now; never raises (the sweep sends them anyway)."""
    pending = _pending_sends.get()
    if pending is not None:
        pending.extend(email_ids)
        return True
    return broker.enqueue(send_outgoing_emails, (list(email_ids),), what="notification e-mails")


@contextlib.contextmanager
def coalesced_sends() -> Iterator[list[int]]:
    """Within the block, the e-mails of many committed transactions are sent by one job, enqueued
    at the end: bulk work (a batch of 200 reviews) costs one broker round-trip, not 200.
    Wrap it around the transactions, so their on-commit hooks fire while it is open."""
    pending = []
    token = _pending_sends.set(pending)
    try:
        yield pending
    finally:
        _pending_sends.reset(token)
        if pending:
            broker.enqueue(send_outgoing_emails, (sorted(set(pending)),), what="notification e-mails")


def office_user_ids(role: str, region_id: int | None) -> Iterable[int]:
    """The users of one office (a role in a region): whom a message to that office goes to."""
    return Profile.objects.filter(role=role, region_id=region_id).values_list("user_id", flat=True)


@transaction.atomic
def mark_all_read(user: AbstractBaseUser) -> int:
    """Mark every unread notification of the user read; returns how many."""
    return Notification.objects.for_user(user).unread().update(read_at=timezone.now())


def open_notification(user: AbstractBaseUser, pk: int) -> Notification:
    """Mark one of the user's notifications read and return it (404 for anyone else's)."""
    notification = Notification.objects.for_user(user).get(pk=pk)
    if notification.read_at is None:
        Notification.objects.filter(pk=notification.pk, read_at__isnull=True).update(read_at=timezone.now())
    return notification
