"""Good-practice cases (优秀案例): the city office holds up a scored check-in of its city.

Errors follow tasks.services: PermissionDenied (403), ObjectDoesNotExist (404),
tasks.workflow.WorkflowError (409), ValidationError (400); nothing is changed when one is
raised.
"""

from django.contrib.auth.models import AbstractBaseUser
from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.utils.translation import gettext as _

from enterprises.capabilities import may_curate_cases
from enterprises.inputs import MAX_DESCRIPTION_LENGTH, clean_text, profile_or_403
from enterprises.models import Profile
from tasks.models import CheckIn, CheckInState
from tasks.workflow import WorkflowError

from .models import MAX_TITLE_LENGTH, ExampleCase


def require_case_curator(user: AbstractBaseUser) -> Profile:
    """The profile of the city office, or PermissionDenied."""
    profile = profile_or_403(user)
    if not may_curate_cases(profile):
        raise PermissionDenied(_("Only the city office marks good-practice cases."))
    return profile


def mark_example_case(
    user: AbstractBaseUser, checkin: CheckIn, title: str, summary: str, is_public_evidence: bool = False
) -> ExampleCase:
    """The city office holds up a scored check-in of its city as a good-practice case."""
    require_case_curator(user)
    title = clean_text(title, _("Title"), True, MAX_TITLE_LENGTH)
    summary = clean_text(summary, _("Summary"), True, MAX_DESCRIPTION_LENGTH)
    with transaction.atomic():
        checkin = (
            CheckIn.objects.visible_to(user)
            .select_for_update(of=("self",))
            .select_related("assignment__indicator", "assignment__period")
            .get(pk=checkin.pk)
        )
        if checkin.state != CheckInState.SCORED:
            raise WorkflowError(_("Only a scored check-in can become a good-practice case."))
        if ExampleCase.objects.filter(checkin=checkin).exists():
            raise WorkflowError(_("This check-in already is a good-practice case."))
        return ExampleCase.objects.create(
            city=checkin.assignment.period.city,
            checkin=checkin,
            title=title,
            summary=summary,
            category=checkin.assignment.indicator.category,
            is_public_evidence=bool(is_public_evidence),
            marked_by=user,
        )
