"""Batch decisions: a county office approves many check-ins in one action, a city office
returns many with one reason.

A batch is not a transaction of its own: each item goes through the single-item service
(tasks.services.approve / return_checkin) in its own transaction, with its row lock, review
event, notification and its own refusal, exactly as if the reviewer had clicked through the
items one by one. So one item someone else handled first is refused (409) while the others go
through, and a batch never holds more than one item's locks. Items are taken in primary-key
order, so two overlapping batches meet their rows in the same order.

The whole batch is refused before anything changes when its input is bad (no ids, too many,
a bad comment or a missing reason) or the role may not batch: ValidationError (400) or
PermissionDenied (403). Work that follows every item (ranking jobs, e-mails) is coalesced:
one ranking job per period and one e-mail job for the whole batch, enqueued at the end.
"""

from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass

from django.contrib.auth.base_user import AbstractBaseUser
from django.core.exceptions import ObjectDoesNotExist, PermissionDenied, ValidationError
from django.utils.translation import gettext as _

from enterprises.inputs import MAX_COMMENT_LENGTH, clean_text, messages_of, profile_or_403
from enterprises.models import Profile
from notifications.services import coalesced_sends

# tasks -> scoring, the sanctioned upward import (see tasks.services): a batch asks for its
# ranking work once, through the one module that asks for it.
from scoring import recompute

from . import services
from .models import CheckIn, CheckInState, ReviewEvent
from .workflow import WorkflowError

Action = ReviewEvent.Action

# The most check-ins one batch may name (a page of the queue is 50; "all that match" is capped here).
MAX_BATCH = 500

# Who may batch which action: the county office forwards, the city office returns.
BATCH_ROLES = {
    Action.APPROVE: Profile.Role.COUNTY_OFFICE,
    Action.RETURN: Profile.Role.CITY_OFFICE,
}
# The state a check-in must be in for each batch action.
FROM_STATE = {
    Action.APPROVE: CheckInState.PENDING_COUNTY_REVIEW,
    Action.RETURN: CheckInState.PENDING_CITY_REVIEW,
}


@dataclass(frozen=True)
class ItemResult:
    """What became of one check-in of a batch. `status` is the HTTP status the single action
    would have answered (200, or 400/403/404/409 with `reason`); the label fields are empty
    for a check-in outside the user's scope (nothing about it is told)."""

    id: int
    ok: bool
    status: int
    reason: str = ""
    state: str = ""
    state_label: str = ""
    assignee: str = ""
    indicator: str = ""
    version: int | None = None

    def as_dict(self) -> dict:
        return asdict(self)


@dataclass(frozen=True)
class BatchResult:
    action: str
    items: list[ItemResult]

    @property
    def succeeded(self) -> list[ItemResult]:
        return [item for item in self.items if item.ok]

    @property
    def refused(self) -> list[ItemResult]:
        return [item for item in self.items if not item.ok]

    def as_dict(self) -> dict:
        return {
            "action": self.action,
            "succeeded": len(self.succeeded),
            "refused": len(self.refused),
            "items": [item.as_dict() for item in self.items],
        }


def clean_ids(ids: Iterable) -> list[int]:
    """The check-in ids of a batch as integers, each once, in the order given; ValidationError
    when there are none, too many, or one is not a positive integer."""
    if isinstance(ids, (str, bytes)) or not isinstance(ids, Iterable):
        raise ValidationError(_("Choose the check-ins as a list of ids."))
    cleaned, seen = [], set()
    for value in ids:
        if isinstance(value, bool):
            raise ValidationError(_("Each check-in id must be a positive whole number."))
        try:
            number = int(str(value).strip())
        except (TypeError, ValueError):
            raise ValidationError(_("Each check-in id must be a positive whole number.")) from None
        if number <= 0 or number > 2**63 - 1:
            raise ValidationError(_("Each check-in id must be a positive whole number."))
        if number not in seen:
            seen.add(number)
            cleaned.append(number)
    if not cleaned:
        raise ValidationError(_("Choose at least one check-in."))
    if len(cleaned) > MAX_BATCH:
        raise ValidationError(
            _("A batch may hold at most %(max)d check-ins; you chose %(count)d.") % {"max": MAX_BATCH, "count": len(cleaned)}
        )
    return cleaned


def check_may_batch(user: AbstractBaseUser, action: str) -> Profile:
    """The user's profile, or PermissionDenied when the role may not take `action` in a batch."""
    profile = profile_or_403(user)
    if BATCH_ROLES.get(action) != profile.role:
        raise PermissionDenied(_("Your role cannot do this in a batch."))
    return profile


def action_for(profile: Profile | None) -> str | None:
    """The action the profile's role may take in a batch, or None."""
    role = getattr(profile, "role", None)
    return next((action for action, batch_role in BATCH_ROLES.items() if batch_role == role), None)


def selection(user: AbstractBaseUser, ids: Iterable[int]) -> dict[int, CheckIn]:
    """The chosen check-ins that are in the user's scope, by id, with what a list shows."""
    return {checkin.pk: checkin for checkin in CheckIn.objects.visible_to(user).with_related().filter(pk__in=list(ids))}


def batch_approve(user: AbstractBaseUser, checkin_ids: Iterable, comment: str = "") -> BatchResult:
    """County office: forward each chosen check-in to the city office with one optional comment."""
    check_may_batch(user, Action.APPROVE)
    ids = clean_ids(checkin_ids)
    comment = clean_text(comment, _("Comment"), False, MAX_COMMENT_LENGTH)
    return _run(user, Action.APPROVE, ids, lambda checkin: services.approve(user, checkin, comment))


def batch_return(user: AbstractBaseUser, checkin_ids: Iterable, reason: str) -> BatchResult:
    """City office: return each chosen check-in to its assignee with one reason (required)."""
    check_may_batch(user, Action.RETURN)
    ids = clean_ids(checkin_ids)
    reason = clean_text(reason, _("Reason for return"), True, MAX_COMMENT_LENGTH)
    return _run(user, Action.RETURN, ids, lambda checkin: services.return_checkin(user, checkin, reason))


def _run(user, action, ids: list[int], decide: Callable[[CheckIn], CheckIn]) -> BatchResult:
    """Decide each item through its single-item service, in primary-key order, each in its own
    transaction; the results in the order asked."""
    chosen = selection(user, ids)
    results = {}
    with recompute.coalesced_recomputes(), coalesced_sends():
        for pk in sorted(ids):
            results[pk] = _decide_one(action, pk, chosen.get(pk), decide)
    return BatchResult(action=action, items=[results[pk] for pk in ids])


def _decide_one(action, pk, checkin, decide) -> ItemResult:
    if checkin is None:
        return ItemResult(id=pk, ok=False, status=404, reason=_("No such check-in, or not in your area."))
    try:
        changed = decide(checkin)
    except ObjectDoesNotExist:  # moved out of scope since it was read
        return ItemResult(id=pk, ok=False, status=404, reason=_("No such check-in, or not in your area."))
    except PermissionDenied as error:
        return _refused(checkin, 403, " ".join(messages_of(error)))
    except ValidationError as error:
        return _refused(checkin, 400, " ".join(messages_of(error)))
    except WorkflowError as error:
        current = CheckIn.objects.filter(pk=pk).values_list("state", flat=True).first()
        if current is not None and current != FROM_STATE[action]:
            reason = _("Already handled by someone else (now: %(state)s).") % {"state": CheckInState(current).label}
            return _refused(checkin, 409, reason, state=current)
        return _refused(checkin, 409, str(error.message))
    return _labelled(checkin, ok=True, status=200, state=changed.state)


def _refused(checkin, status, reason, state=None):
    return _labelled(checkin, ok=False, status=status, reason=reason, state=state or checkin.state)


def _labelled(checkin, *, ok, status, state, reason=""):
    assignment = checkin.assignment
    return ItemResult(
        id=checkin.pk,
        ok=ok,
        status=status,
        reason=reason,
        state=state,
        state_label=str(CheckInState(state).label),
        assignee=str(assignment.assignee_name),
        indicator=f"{assignment.indicator.code} {assignment.indicator.title}",
        version=checkin.version,
    )
