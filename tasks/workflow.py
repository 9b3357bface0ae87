"""The check-in state machine: every allowed transition, in one table.

Services look transitions up here; nothing else decides which move is legal.
"""

from dataclasses import dataclass

from django.utils.translation import gettext_lazy as _

from chanjgai_portal.errors import Conflict
from enterprises.models import Profile

from .models import CheckInState, ReviewEvent

Role = Profile.Role
Action = ReviewEvent.Action


class WorkflowError(Conflict):
    """An illegal transition, or a check-in another reviewer moved first (HTTP 409)."""


@dataclass(frozen=True)
class Transition:
    action: str
    from_state: str
    to_state: str
    role: str
    comment_required: bool = False


TRANSITIONS = (
    Transition(Action.APPROVE, CheckInState.PENDING_COUNTY_REVIEW, CheckInState.PENDING_CITY_REVIEW, Role.COUNTY_OFFICE),
    Transition(Action.RETURN, CheckInState.PENDING_COUNTY_REVIEW, CheckInState.RETURNED, Role.COUNTY_OFFICE, True),
    Transition(Action.RETURN, CheckInState.PENDING_CITY_REVIEW, CheckInState.RETURNED, Role.CITY_OFFICE, True),
    Transition(Action.SCORE, CheckInState.PENDING_CITY_REVIEW, CheckInState.SCORED, Role.CITY_OFFICE),
    Transition(Action.REOPEN, CheckInState.SCORED, CheckInState.PENDING_CITY_REVIEW, Role.CITY_OFFICE, True),
)

# How an action reads inside a sentence ("cannot be approved"), unlike the event labels.
ACTION_VERBS = {
    Action.APPROVE: _("approved"),
    Action.RETURN: _("returned"),
    Action.SCORE: _("scored"),
    Action.REOPEN: _("reopened"),
}

# Which role may take an action at all, whatever the state (403 when not).
ROLES_FOR_ACTION = {}
for _t in TRANSITIONS:
    ROLES_FOR_ACTION.setdefault(_t.action, set()).add(_t.role)


def initial_state(assignment):
    """Where a (re)submission starts: county review for enterprises, city review for county offices."""
    if assignment.is_county_office_task:
        return CheckInState.PENDING_CITY_REVIEW
    return CheckInState.PENDING_COUNTY_REVIEW


def submitter_role(assignment):
    return Role.COUNTY_OFFICE if assignment.is_county_office_task else Role.ENTERPRISE_LIAISON


def find_transition(action, from_state, role):
    """The transition for `action` from `from_state` by `role`, or a WorkflowError saying why not."""
    for transition in TRANSITIONS:
        if transition.action == action and transition.from_state == from_state and transition.role == role:
            return transition
    raise WorkflowError(
        _("This check-in is now “%(state)s”, so it cannot be %(verb)s. Someone may have handled it already: reload the page.")
        % {"state": CheckInState(from_state).label, "verb": ACTION_VERBS[action]}
    )


def available_actions(checkin, role):
    """The actions a user of `role` could take on `checkin` now (for showing buttons)."""
    return [t.action for t in TRANSITIONS if t.from_state == checkin.state and t.role == role]
