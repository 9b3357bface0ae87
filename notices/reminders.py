"""Deadline reminders: 7 days and 1 day before an open period's submission deadline, each
assignee of an unsubmitted task hears of it once per task and threshold (DeadlineReminder
rows make the job idempotent). notices/celery_tasks.py runs it from the beat."""

import datetime
import uuid
from collections.abc import Iterator

from django.db import transaction
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _

from enterprises.models import Profile
from notifications.models import Notification
from notifications.services import queue_emails
from tasks.models import AssignmentState, Period
from tasks.notify import period_subject

from .models import DeadlineReminder

Role = Profile.Role
# Reminder rows and notifications are inserted this many at a time.
REMINDER_BATCH_SIZE = 5000

REMINDER_STATES = (AssignmentState.NOT_SUBMITTED, AssignmentState.RETURNED)


def _reminder_pairs(period: Period) -> Iterator[tuple[int, int]]:
    """(assignment id, user id) for every assignee user of the period's unsubmitted tasks."""
    liaisons = Profile.objects.filter(
        role=Role.ENTERPRISE_LIAISON,
        enterprise__assignments__period=period,
        enterprise__assignments__state__in=REMINDER_STATES,
    ).values_list("enterprise__assignments__id", "user_id")
    offices = Profile.objects.filter(
        role=Role.COUNTY_OFFICE,
        region__assignments__period=period,
        region__assignments__enterprise__isnull=True,
        region__assignments__state__in=REMINDER_STATES,
    ).values_list("region__assignments__id", "user_id")
    yield from liaisons.iterator(chunk_size=5000)
    yield from offices.iterator(chunk_size=5000)


def send_deadline_reminders(now: datetime.datetime | None = None) -> int:
    """Remind assignees of unsubmitted tasks 7 days and 1 day before an open period's
    deadline, once per assignment, threshold and user; returns how many reminders were new.

    Each run inserts its reminder rows with ON CONFLICT DO NOTHING under a fresh batch id,
    then notifies only for rows of that batch, so a second (or concurrent) run sends nothing.
    One notification per user, period and threshold, counting the tasks it concerns.
    """
    now = now or timezone.now()
    created = 0
    periods = Period.objects.filter(
        is_closed=False, submission_deadline__gt=now, submission_deadline__lte=now + datetime.timedelta(days=7)
    )
    for period in periods:
        remaining = period.submission_deadline - now
        threshold = DeadlineReminder.Threshold.DAY if remaining <= datetime.timedelta(days=1) else DeadlineReminder.Threshold.WEEK
        batch = uuid.uuid4()
        with transaction.atomic():
            rows = []
            for assignment_id, user_id in _reminder_pairs(period):
                rows.append(
                    DeadlineReminder(
                        assignment_id=assignment_id, threshold=threshold, recipient_id=user_id, batch=batch, sent_at=now
                    )
                )
                if len(rows) >= REMINDER_BATCH_SIZE:
                    DeadlineReminder.objects.bulk_create(rows, ignore_conflicts=True)
                    rows = []
            DeadlineReminder.objects.bulk_create(rows, ignore_conflicts=True)
            counts = {}
            for user_id in DeadlineReminder.objects.filter(batch=batch).values_list("recipient_id", flat=True):
                counts[user_id] = counts.get(user_id, 0) + 1
            created += sum(counts.values())
            deadline = timezone.localtime(period.submission_deadline)
            link = reverse("tasks:assignment_list") + f"?period={period.pk}"
            subject = period_subject(period.pk)
            notifications = [
                Notification(
                    recipient_id=user_id,
                    kind=Notification.Kind.DEADLINE,
                    text=(
                        _(
                            "%(period)s: %(count)d task(s) not yet submitted; the deadline %(deadline)s is %(days)d day(s) away."
                        )
                        % {
                            "period": period.name,
                            "count": count,
                            "deadline": deadline.strftime("%Y-%m-%d %H:%M"),
                            "days": threshold,
                        }
                    )[:500],
                    link=link,
                    subject=subject,
                    created_at=now,
                )
                for user_id, count in sorted(counts.items())
            ]
            made = Notification.objects.bulk_create(notifications, batch_size=REMINDER_BATCH_SIZE)
            queue_emails(made)
    return created
