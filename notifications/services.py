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
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from chanjgai_portal import broker
from enterprises.models import Profile

from . import outbox
from .celery_tasks import send_outgoing_emails
from .models import EmailPreference, Notification, OutgoingEmail
from .selectors import unread_count

# While set, send_soon collects outbox ids instead of enqueueing (see coalesced_sends).
_pending_sends = contextvars.ContextVar("pending_email_sends", default=None)


def notify(
    user_ids: Iterable[int], kind: str, text: str, link: str = "", subject: str = ""
) -> list[Notification]:
    """Write one notification per user (in bulk) and, in the same transaction, the e-mails of
    those with an address who want them at once (sent after the commit, or by the sweep; the
    daily digest tells the others). `subject` names what it is about ("notice:3"): the page
    that acts on it marks it read (mark_read_for)."""
    user_ids = sorted(set(user_ids))
    if not user_ids:
        return []
    now = timezone.now()
    # No savepoint inside the caller's transaction (a batch of reviews writes 200 of these):
    # a failure here fails the caller's change as a whole, which is what it should do.
    with transaction.atomic(savepoint=False):
        created = Notification.objects.bulk_create(
            [
                Notification(recipient_id=uid, kind=kind, text=text[:500], link=link, subject=subject, created_at=now)
                for uid in user_ids
            ]
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


def mark_read_for(user: AbstractBaseUser, *subjects: str) -> int:
    """Mark the user's unread notifications about these subjects read: the user has acted on
    the thing (opened the returned task, the notice, the need, the queue). Returns how many;
    one indexed UPDATE, nothing when none is unread."""
    subjects = [subject for subject in subjects if subject]
    if not subjects or not getattr(user, "is_authenticated", False):
        return 0
    return Notification.objects.for_user(user).unread().filter(subject__in=subjects).update(read_at=timezone.now())


def mark_read_on_request(request, *subjects: str) -> int:
    """mark_read_for the signed-in user of a page that acts on these subjects, through the
    bell's count of the request: no write at all when nothing is unread (the usual case, and
    the count is read for the bell anyway), and the bell then shows the count after it."""
    if not unread_count(request):
        return 0
    marked = mark_read_for(request.user, *subjects)
    if marked:
        request._unread_notifications -= marked
    return marked


def resolve_subject(subject: str, kinds: Iterable[str]) -> int:
    """Mark everyone's unread notifications of these kinds about `subject` read: the thing
    they asked for is done (a returned task resubmitted). Returns how many."""
    if not subject:
        return 0
    return Notification.objects.unread().filter(subject=subject, kind__in=list(kinds)).update(read_at=timezone.now())


def mark_kind_read(user: AbstractBaseUser, kind: str) -> int:
    """Mark the user's unread notifications of one kind read (the list's filtered view)."""
    return Notification.objects.for_user(user).unread().filter(kind=kind).update(read_at=timezone.now())


def set_email_delivery(user: AbstractBaseUser, delivery: str) -> EmailPreference:
    """Choose how the user's notification e-mails are sent (immediately, daily digest, none).
    ValidationError on a value that is not one of the choices."""
    if delivery not in EmailPreference.Delivery.values:
        raise ValidationError(_("Choose how you want your e-mails."))
    preference, _created = EmailPreference.objects.update_or_create(user=user, defaults={"delivery": delivery})
    return preference


def open_notification(user: AbstractBaseUser, pk: int) -> Notification:
    """Mark one of the user's notifications read and return it (404 for anyone else's)."""
    notification = Notification.objects.for_user(user).get(pk=pk)
    if notification.read_at is None:
        Notification.objects.filter(pk=notification.pk, read_at__isnull=True).update(read_at=timezone.now())
    return notification
