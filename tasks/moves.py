"""Moving an enterprise to another county-level unit of its city.

What moving means: the enterprise's tasks in open periods follow it, with their check-ins
(every version, scored or not), their progress counters and their ranking rows, so that
from the commit on the new county office reads, downloads and reviews them and the old one
no longer finds them (404). Tasks of closed periods stay with the county they were assessed
in: their rankings and reports keep their history. Each moved task's latest check-in gets a
review event (action "move"), and the move itself an EnterpriseMove record.

The admin's enterprise form, the spreadsheet imports and the API all call move_enterprise;
nothing else changes an existing enterprise's county.

Locks, in the order every writer of these rows takes them (so none waits for another in a
cycle): the enterprise, then its tasks, then check-ins. The workflow's transitions lock a
task before its check-in (tasks.services._transition), and submissions lock the task first.
The enterprise and its tasks are locked FOR NO KEY UPDATE: a score inserts a ranking request
that references the enterprise (FOR KEY SHARE), which must not wait for a move.
"""

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from enterprises import capabilities
from enterprises.inputs import MAX_COMMENT_LENGTH, clean_text, profile_or_403
from enterprises.models import Enterprise, Region

# The one sanctioned upward import (tasks -> scoring): a move asks for a ranking recompute
# of the moved enterprise. Nothing else in tasks imports scoring.
from scoring import recompute

from .models import Assignment, CheckIn, EnterpriseMove, EnterpriseProgress, ReviewEvent

# The reason recorded when a spreadsheet row gives an enterprise another county (导入调整).
IMPORT_REASON = gettext_lazy("Changed by a spreadsheet import")


def _county(value):
    """The county-level unit named by `value` (a Region or its id), or None."""
    pk = getattr(value, "pk", value)
    if isinstance(pk, bool) or pk in (None, ""):
        return None
    try:
        pk = int(pk)
    except (TypeError, ValueError):
        return None
    if not 0 < pk < 2**63:
        return None
    return Region.objects.select_related("parent").filter(pk=pk, level=Region.Level.COUNTY).first()


def check_mover(user):
    """The user's profile if their role may move enterprises at all (the city office), else PermissionDenied."""
    profile = profile_or_403(user)
    if not capabilities.may_move_enterprises(profile):
        raise PermissionDenied(_("Only the city reform office can move an enterprise to another county."))
    return profile


# The codes of check_move's refusals that are about the county asked for (not the reason).
COUNTY_ERRORS = ("unknown_county", "other_city", "same_county")


def check_move(user, enterprise, new_county):
    """Whether `user` may move `enterprise` to `new_county` (a Region or its id); returns
    (profile, enterprise as stored, county) or raises, in this order:
    PermissionDenied (403) for anyone but the city office, Enterprise.DoesNotExist (404)
    for an enterprise outside its city, ValidationError (400) for a county that is not one
    of the enterprise's city, or its current one."""
    profile = check_mover(user)
    enterprise = (
        Enterprise.objects.visible_to(user).select_related("county__parent").filter(pk=enterprise.pk).first()
    )
    if enterprise is None:
        raise Enterprise.DoesNotExist(_("No such enterprise."))
    county = _county(new_county)
    if county is None:
        raise ValidationError(_("Choose an existing county-level unit."), code="unknown_county")
    if county.parent_id != enterprise.county.parent_id:
        raise ValidationError(
            _("%(county)s is not a county-level unit of %(city)s.")
            % {"county": county.name, "city": enterprise.county.parent.name},
            code="other_city",
        )
    if county.pk == enterprise.county_id:
        raise ValidationError(
            _("%(enterprise)s is already in %(county)s.") % {"enterprise": enterprise.name, "county": county.name},
            code="same_county",
        )
    return profile, enterprise, county


def clean_reason(reason):
    return clean_text(reason, _("Reason for the move"), True, MAX_COMMENT_LENGTH)


def move_enterprise(user, enterprise, new_county, reason, *, outcome_hook=None):
    """City office: move `enterprise` to `new_county` of the same city, with its tasks of
    open periods, in one transaction. Returns the EnterpriseMove record. `outcome_hook(move)`
    is called as the last step inside the transaction (tasks.services: idempotency keys)."""
    check_move(user, enterprise, new_county)  # refuse before taking any lock
    reason = clean_reason(reason)
    with transaction.atomic():
        # Under the lock again: a concurrent move may have changed the county meanwhile.
        Enterprise.objects.select_for_update(no_key=True).filter(pk=enterprise.pk).first()
        profile, enterprise, county = check_move(user, enterprise, new_county)
        from_county = enterprise.county
        moved = list(
            Assignment.objects.select_for_update(no_key=True)
            .filter(enterprise=enterprise, period__is_closed=False)
            .order_by("pk")
            .values_list("pk", flat=True)
        )
        # The counters and the counties' figures follow the tasks' county: the progress
        # triggers move the counts (tasks.progress), the ranking job the ranking rows.
        Assignment.objects.filter(pk__in=moved).update(county=county, updated_at=timezone.now())
        Enterprise.objects.filter(pk=enterprise.pk).update(county=county)
        enterprise.county = county
        # The counter rows the move emptied (a row per county an enterprise's tasks are in).
        EnterpriseProgress.objects.filter(
            enterprise=enterprise, county=from_county, period__is_closed=False, assigned=0
        ).delete()
        move = EnterpriseMove.objects.create(
            enterprise=enterprise,
            from_county=from_county,
            to_county=county,
            moved_by=user,
            reason=reason,
            assignments_moved=len(moved),
        )
        comment = _("Moved from %(from)s to %(to)s: %(reason)s") % {
            "from": from_county.name,
            "to": county.name,
            "reason": reason,
        }
        latest = {}
        for checkin in CheckIn.objects.filter(assignment_id__in=moved).only("pk", "assignment_id", "version", "state"):
            if checkin.assignment_id not in latest or checkin.version > latest[checkin.assignment_id].version:
                latest[checkin.assignment_id] = checkin
        ReviewEvent.objects.bulk_create(
            [
                ReviewEvent(
                    checkin=checkin,
                    action=ReviewEvent.Action.MOVE,
                    actor=user,
                    actor_role=profile.role,
                    from_state=checkin.state,
                    to_state=checkin.state,
                    comment=comment,
                    at=move.at,
                )
                for _pk, checkin in sorted(latest.items())
            ]
        )
        if moved:
            recompute.enterprises_changed([enterprise.pk])
        if outcome_hook is not None:
            outcome_hook(move)
    return move


def enterprise_county_changed(enterprise_pk, county):
    """Whether `county` (a Region, its id or None) differs from the stored enterprise's."""
    if enterprise_pk is None:
        return False
    stored = Enterprise.objects.filter(pk=enterprise_pk).values_list("county_id", flat=True).first()
    return stored is not None and stored != getattr(county, "pk", county)
