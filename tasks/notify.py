"""Who the check-in workflow tells about a review event, and what: a workflow rule, so it
lives with the workflow and only hands the messages to notifications.notify (downward).

Only what a person must know: the submitter hears of a return and of a score. What waits for
a reviewer is not told item by item (a batch of 200 approvals would write 200 notifications
per city office user): the review queue's link carries the count (tasks.context_processors)
and the daily digest tells of new arrivals (tasks.digest)."""

from django.urls import reverse
from django.utils.translation import gettext as _

from enterprises.models import display_name
from notifications.models import Notification
from notifications.services import notify, resolve_subject

from .models import ReviewEvent


def assignment_subject(assignment_id: int) -> str:
    """The subject of the notifications about one task: its page marks them read."""
    return f"assignment:{assignment_id}"


def period_subject(period_id: int) -> str:
    """The subject of a period's deadline reminders: the user's task list of the period marks
    them read."""
    return f"period:{period_id}"


def notify_checkin_event(event: ReviewEvent) -> None:
    """Tell the people a review event concerns: the submitter of a returned or scored check-in."""
    checkin = event.checkin
    assignment = checkin.assignment
    title = assignment.indicator.title
    subject = assignment_subject(assignment.pk)
    link = reverse("tasks:assignment_detail", args=[assignment.pk])
    Action = ReviewEvent.Action
    if event.action == Action.SUBMIT:
        # A new version answers the return: its notification is settled, for whoever got it.
        resolve_subject(subject, [Notification.Kind.RETURNED])
    elif event.action == Action.RETURN:
        text = _("%(office)s returned your check-in “%(task)s”: %(reason)s") % {
            "office": display_name(event.actor),
            "task": title,
            "reason": event.comment,
        }
        notify([checkin.submitted_by_id], Notification.Kind.RETURNED, text, link, subject=subject)
    elif event.action == Action.SCORE:
        points = f"{event.points.normalize():f}" if event.points is not None else ""
        text = _("%(office)s scored your check-in “%(task)s”: %(points)s points.") % {
            "office": display_name(event.actor),
            "task": title,
            "points": points,
        }
        notify([checkin.submitted_by_id], Notification.Kind.SCORED, text, link, subject=subject)
    # An approval or a reopen moves the check-in into the city office's queue: counted there.
