"""Who the check-in workflow tells about a review event, and what: a workflow rule, so it
lives with the workflow and only hands the messages to notifications.notify (downward)."""

from django.urls import reverse
from django.utils.translation import gettext as _

from enterprises.models import Profile
from notifications.models import Notification
from notifications.services import notify, office_user_ids

from .models import CheckInState, ReviewEvent

Role = Profile.Role


def notify_checkin_event(event: ReviewEvent) -> None:
    """Tell the people a review event concerns: the next reviewer, or the submitter."""
    checkin = event.checkin
    assignment = checkin.assignment
    title = assignment.indicator.title
    Action = ReviewEvent.Action
    if event.action == Action.SUBMIT:
        if event.to_state == CheckInState.PENDING_COUNTY_REVIEW:
            recipients = office_user_ids(Role.COUNTY_OFFICE, assignment.county_id)
        else:
            recipients = office_user_ids(Role.CITY_OFFICE, assignment.period.city_id)
        text = _("New check-in waiting for your review: %(assignee)s · %(task)s (version %(version)s).") % {
            "assignee": assignment.assignee_name,
            "task": title,
            "version": checkin.version,
        }
        notify(recipients, Notification.Kind.FORWARDED, text, reverse("tasks:checkin_detail", args=[checkin.pk]))
    elif event.action == Action.APPROVE:
        text = _("%(county)s forwarded a check-in for your review: %(assignee)s · %(task)s.") % {
            "county": assignment.county.name,
            "assignee": assignment.assignee_name,
            "task": title,
        }
        notify(
            office_user_ids(Role.CITY_OFFICE, assignment.period.city_id),
            Notification.Kind.FORWARDED,
            text,
            reverse("tasks:checkin_detail", args=[checkin.pk]),
        )
    elif event.action == Action.RETURN:
        text = _("Your check-in “%(task)s” was returned: %(reason)s") % {"task": title, "reason": event.comment}
        notify(
            [checkin.submitted_by_id],
            Notification.Kind.RETURNED,
            text,
            reverse("tasks:assignment_detail", args=[assignment.pk]),
        )
    elif event.action == Action.SCORE:
        points = f"{event.points.normalize():f}" if event.points is not None else ""
        text = _("Your check-in “%(task)s” was scored: %(points)s points.") % {"task": title, "points": points}
        notify(
            [checkin.submitted_by_id],
            Notification.Kind.SCORED,
            text,
            reverse("tasks:assignment_detail", args=[assignment.pk]),
        )
    # A reopen only moves the check-in back into the city's own queue: nobody to tell.
