"""Reads for the check-in pages: scoping comes from the models' visible_to(), the joins
each page needs are chosen here so that no list runs a query per row."""

from dataclasses import dataclass

from django.contrib.auth.base_user import AbstractBaseUser
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import Count, Prefetch, QuerySet, Sum
from django.http import Http404
from django.utils.translation import gettext as _

from enterprises.models import Profile, with_names

from . import workflow
from .models import Assignment, CheckIn, CheckInState, IndicatorProgress, Period, ReviewEvent
from .queue import QueueFilters

# The state whose check-ins wait for each reviewing role.
QUEUE_STATE = {
    Profile.Role.COUNTY_OFFICE: CheckInState.PENDING_COUNTY_REVIEW,
    Profile.Role.CITY_OFFICE: CheckInState.PENDING_CITY_REVIEW,
}


def periods_for(profile: Profile | None) -> QuerySet[Period]:
    """The periods of the user's city, newest first."""
    if profile is None or profile.city is None:
        return Period.objects.none()
    return Period.objects.filter(city=profile.city).order_by("-starts_on", "-pk")


def chosen_period(profile: Profile | None, period_id: str | int | None = None) -> tuple[list[Period], Period | None]:
    """(the city's periods newest first, the one asked for in ?period= or else the current one).
    A ?period= that is not one of the city's periods is a 404."""
    periods = list(periods_for(profile))
    if not period_id:
        # periods_for() orders like Period.current_for_city(): the first is the current one.
        return periods, (periods[0] if periods else None)
    for period in periods:
        if str(period.pk) == str(period_id).strip():
            return periods, period
    raise Http404(_("No such period."))


def own_assignments(user: AbstractBaseUser, profile: Profile | None, period: Period | None) -> QuerySet[Assignment]:
    """The assignments a user works on: a county office its office's own tasks, everyone
    else everything in scope (a liaison's enterprise, an observer's enterprise or county)."""
    if period is None:
        return Assignment.objects.none()
    assignments = Assignment.objects.visible_to(user).filter(period=period)
    if profile is not None and profile.is_county_office:
        assignments = assignments.for_county_offices()
    return assignments.select_related("indicator", "enterprise", "county", "period").order_by(
        "indicator__order", "indicator__code", "county__order", "enterprise__name", "pk"
    )


def assignment_for_detail(user: AbstractBaseUser, pk: int | str) -> Assignment:
    """One assignment in the user's scope, with what its page shows (404 otherwise)."""
    try:
        return (
            Assignment.objects.visible_to(user)
            .select_related("indicator", "enterprise", "county", "period")
            .get(pk=pk)
        )
    except Assignment.DoesNotExist:
        raise Http404(_("No such task.")) from None


def checkin_history(assignment: Assignment) -> list[CheckIn]:
    """Every version of an assignment's check-in, newest first, with evidence and events."""
    return list(
        assignment.checkins.select_related(*with_names("submitted_by"))
        .prefetch_related(
            "evidence",
            Prefetch("events", queryset=ReviewEvent.objects.select_related(*with_names("actor")).order_by("at", "pk")),
        )
        .order_by("-version")
    )


def returned_version(history: list[CheckIn]) -> CheckIn | None:
    """The latest version of a `checkin_history` when it is returned: the one a resubmission
    starts from and may keep files of (tasks.services.submit_checkin checks the same)."""
    latest = history[0] if history else None
    return latest if latest is not None and latest.state == CheckInState.RETURNED else None


def return_event(checkin: CheckIn | None) -> ReviewEvent | None:
    """The event that returned `checkin` (from its prefetched events), if it is returned."""
    if checkin is None or checkin.state != CheckInState.RETURNED:
        return None
    events = [event for event in checkin.events.all() if event.to_state == CheckInState.RETURNED]
    return events[-1] if events else None


def checkin_for_detail(user: AbstractBaseUser, pk: int | str) -> CheckIn:
    """One check-in in the user's scope, with its assignment (404 otherwise)."""
    try:
        return CheckIn.objects.visible_to(user).with_related().get(pk=pk)
    except CheckIn.DoesNotExist:
        raise Http404(_("No such check-in.")) from None


def _queue_base(user: AbstractBaseUser, profile: Profile | None) -> QuerySet[CheckIn]:
    """Every check-in waiting for this user's review. Only reviewing roles have a queue
    (403 for the others)."""
    state = QUEUE_STATE.get(profile.role) if profile is not None else None
    if state is None:
        raise PermissionDenied(_("Your role has no review queue."))
    return CheckIn.objects.visible_to(user).filter(state=state)


def queue_filters(user: AbstractBaseUser, profile: Profile | None, params=None) -> QueueFilters:
    """The queue's filters bound to `params` (a request's GET, or the carried querystring),
    over the check-ins waiting for this user, with what the queue's rows show."""
    queryset = _queue_base(user, profile).with_related().annotate(evidence_count=Count("evidence"))
    return QueueFilters(params, queryset=queryset, profile=profile)


def waiting_checkins(user: AbstractBaseUser, profile: Profile | None) -> QuerySet[CheckIn]:
    """Every check-in waiting for this user's review, unfiltered and without joins for display
    (the daily digest counts in it); PermissionDenied for a role without a queue."""
    return _queue_base(user, profile)


def queue_total(user: AbstractBaseUser, profile: Profile | None) -> int:
    """How many check-ins wait for this user's review, whatever the filters."""
    return _queue_base(user, profile).count()


def review_queue_count(user: AbstractBaseUser, profile: Profile | None) -> int | None:
    """The count on the review queue's nav link, shown on every page: how many check-ins wait
    for this user (queue_total's number), or None for a role without a queue.

    Read from the per-indicator progress counters the database keeps (tasks.progress), in the
    same scope: a pending check-in is always its task's latest version and the task carries
    its state, so the tasks counted as waiting in the user's counties are the queue. A COUNT
    over the check-ins took 0.5 s for a county office and 13 s for the city office at 100,000
    enterprises (1.7 million tasks, 136,000 waiting); this sums a few hundred counter rows."""
    if profile is None or profile.role not in QUEUE_STATE:
        return None
    column = IndicatorProgress.STATE_COLUMNS[QUEUE_STATE[profile.role]]
    return IndicatorProgress.objects.visible_to(user).aggregate(waiting=Sum(column))["waiting"] or 0


def review_queue(user: AbstractBaseUser, profile: Profile | None, params=None) -> QuerySet[CheckIn]:
    """The check-ins waiting for this user's review, filtered and sorted by `params`
    (oldest first without any); ValidationError (a 400) on a bad value."""
    return queue_filters(user, profile, params).checkins()


def queue_querystring(user: AbstractBaseUser, profile: Profile | None, params=None) -> str:
    """The canonical querystring of the queue's filters, to carry from page to page
    (empty values dropped, the sort always present); ValidationError on a bad value."""
    filters = queue_filters(user, profile, params)
    if not filters.is_valid():
        raise ValidationError(filters.error_messages())
    return filters.querystring()


@dataclass(frozen=True)
class QueuePosition:
    """Where a check-in stands in a filtered queue: its 1-based number among `total`
    (number is None when it is not in the queue), and the items either side."""

    number: int | None
    total: int
    previous: CheckIn | None
    next: CheckIn | None


def queue_keys(user: AbstractBaseUser, profile: Profile | None, params) -> list[int]:
    """The keys of the filtered queue in its order: one narrow query, no joins for the rows."""
    filters = QueueFilters(params, queryset=_queue_base(user, profile), profile=profile)
    return list(filters.checkins().values_list("pk", flat=True))


def queue_position(user: AbstractBaseUser, profile: Profile | None, params, checkin: CheckIn) -> QueuePosition:
    """The check-in's place in the filtered queue and its neighbours (in scope, by the
    same filters and order as the queue page); ValidationError on a bad value."""
    keys = queue_keys(user, profile, params)
    try:
        index = keys.index(checkin.pk)
    except ValueError:
        return QueuePosition(None, len(keys), None, CheckIn.objects.filter(pk=keys[0]).first() if keys else None)
    wanted = {key for key in (keys[index - 1] if index else None, keys[index + 1] if index + 1 < len(keys) else None) if key}
    found = CheckIn.objects.in_bulk(wanted)
    return QueuePosition(
        index + 1,
        len(keys),
        found.get(keys[index - 1]) if index else None,
        found.get(keys[index + 1]) if index + 1 < len(keys) else None,
    )


def next_in_queue(
    user: AbstractBaseUser, profile: Profile | None, params, keys_before: list[int], checkin: CheckIn
) -> int | None:
    """After a decision on `checkin`: the key of the item to review next. The first item that
    followed it in the filtered queue as read before the decision (`keys_before`) and still
    waits; else the first item still waiting (those before it); None when the filtered
    queue is empty."""
    waiting = queue_keys(user, profile, params)
    if not waiting:
        return None
    still = set(waiting)
    after = keys_before[keys_before.index(checkin.pk) + 1 :] if checkin.pk in keys_before else []
    return next((key for key in after if key in still), waiting[0])


def queue_neighbours(
    user: AbstractBaseUser, profile: Profile | None, params, checkin: CheckIn
) -> tuple[CheckIn | None, CheckIn | None]:
    """(previous, next) of the check-in in the same filtered, sorted queue."""
    position = queue_position(user, profile, params, checkin)
    return position.previous, position.next


def county_approval(checkin: CheckIn) -> ReviewEvent | None:
    """The county office's approval of this version (its comment is shown beside the city's
    scoring form), or None for a county office's own check-in."""
    return (
        checkin.events.filter(action=ReviewEvent.Action.APPROVE)
        .select_related(*with_names("actor"))
        .order_by("-at", "-pk")
        .first()
    )


def may_submit(profile: Profile | None, assignment: Assignment) -> bool:
    """Whether to show the submit form: the assignee's role, a state that takes a new version,
    and a period still open. The service decides again when the form is posted."""
    return (
        profile is not None
        and profile.role == workflow.submitter_role(assignment)
        and assignment.can_submit
        and assignment.period.accepts_submissions()
    )


def actions_for(profile: Profile | None, checkin: CheckIn) -> list[ReviewEvent.Action]:
    """The review actions the user could take on the check-in now (for showing forms)."""
    if profile is None:
        return []
    return workflow.available_actions(checkin, profile.role)
