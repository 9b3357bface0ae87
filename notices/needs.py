"""Needs and problems (问题直通): a liaison reports one to its county office, which answers,
forwards it to the city office or resolves it. The allowed moves are one table
(NEED_TRANSITIONS); each move happens under a row lock and writes a thread message.

Errors follow tasks.services: PermissionDenied (403), ObjectDoesNotExist (404),
tasks.workflow.WorkflowError (409), ValidationError (400); nothing is changed when one is
raised.
"""

from dataclasses import dataclass

from django.contrib.auth.models import AbstractBaseUser
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.files.uploadedfile import UploadedFile
from django.db import transaction
from django.urls import reverse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from enterprises.capabilities import may_report_needs
from enterprises.inputs import MAX_COMMENT_LENGTH, MAX_DESCRIPTION_LENGTH, clean_text, profile_or_403
from enterprises.models import Profile
from notifications.models import Notification
from notifications.services import notify, office_user_ids
from tasks.evidence import inspect_upload
from tasks.evidence_files import staged_files
from tasks.workflow import WorkflowError

from .models import Need, NeedMessage, NeedState

Role = Profile.Role


def require_need_reporter(user: AbstractBaseUser) -> Profile:
    """The profile of an enterprise liaison, or PermissionDenied."""
    profile = profile_or_403(user)
    if not may_report_needs(profile):
        raise PermissionDenied(_("Only enterprise liaisons report needs."))
    return profile


Action = NeedMessage.Action


@dataclass(frozen=True)
class NeedTransition:
    action: str
    from_state: str
    to_state: str
    role: str


NEED_TRANSITIONS = (
    NeedTransition(Action.REPLY, NeedState.PENDING, NeedState.IN_PROGRESS, Role.COUNTY_OFFICE),
    NeedTransition(Action.REPLY, NeedState.IN_PROGRESS, NeedState.IN_PROGRESS, Role.COUNTY_OFFICE),
    NeedTransition(Action.FORWARD, NeedState.PENDING, NeedState.FORWARDED, Role.COUNTY_OFFICE),
    NeedTransition(Action.FORWARD, NeedState.IN_PROGRESS, NeedState.FORWARDED, Role.COUNTY_OFFICE),
    NeedTransition(Action.RESOLVE, NeedState.PENDING, NeedState.RESOLVED, Role.COUNTY_OFFICE),
    NeedTransition(Action.RESOLVE, NeedState.IN_PROGRESS, NeedState.RESOLVED, Role.COUNTY_OFFICE),
    NeedTransition(Action.REPLY, NeedState.FORWARDED, NeedState.FORWARDED, Role.CITY_OFFICE),
    NeedTransition(Action.RESOLVE, NeedState.FORWARDED, NeedState.RESOLVED, Role.CITY_OFFICE),
)

NEED_ROLES_FOR_ACTION = {}
for _t in NEED_TRANSITIONS:
    NEED_ROLES_FOR_ACTION.setdefault(_t.action, set()).add(_t.role)

NEED_ACTION_VERBS = {
    Action.REPLY: gettext_lazy("answered"),
    Action.FORWARD: gettext_lazy("forwarded"),
    Action.RESOLVE: gettext_lazy("resolved"),
}


def find_need_transition(action: str, from_state: str, role: str) -> NeedTransition:
    for transition in NEED_TRANSITIONS:
        if transition.action == action and transition.from_state == from_state and transition.role == role:
            return transition
    raise WorkflowError(
        _("This need is now “%(state)s”, so it cannot be %(verb)s. Someone may have handled it already: reload the page.")
        % {"state": NeedState(from_state).label, "verb": NEED_ACTION_VERBS[action]}
    )


def need_actions_for(profile: Profile | None, need: Need) -> list[str]:
    """The actions the user could take on the need now (for showing forms)."""
    if profile is None:
        return []
    return sorted({t.action for t in NEED_TRANSITIONS if t.from_state == need.state and t.role == profile.role})


def need_subject(need_id: int) -> str:
    """The subject of the notifications about one need: its page marks them read."""
    return f"need:{need_id}"


def report_need(user: AbstractBaseUser, category: str, text: str, attachment: UploadedFile | None = None) -> Need:
    """A liaison reports a problem or need of its enterprise to its county office."""
    profile = require_need_reporter(user)
    if category not in Need.Category.values:
        raise ValidationError(_("Choose a category."))
    text = clean_text(text, _("Description"), True, MAX_DESCRIPTION_LENGTH)
    inspected = inspect_upload(attachment) if attachment else None
    enterprise = profile.enterprise
    need = Need(enterprise=enterprise, county_id=enterprise.county_id, reporter=user, category=category, text=text)
    # The attachment is staged before the transaction (tasks.evidence_files), as evidence is.
    with staged_files() as staged:
        if inspected:
            name, content_type, _sha = inspected
            need.attachment_name, need.attachment_type, need.attachment_size = name, content_type, attachment.size
            staged.save(need.attachment, name, attachment)
        with transaction.atomic():
            need.save()
            NeedMessage.objects.create(
                need=need, action=Action.REPORT, author=user, author_role=profile.role, to_state=need.state, text=text
            )
            notify(
                office_user_ids(Role.COUNTY_OFFICE, enterprise.county_id),
                Notification.Kind.NEED,
                _("%(enterprise)s reported a need: %(category)s") % {
                    "enterprise": enterprise.name,
                    "category": need.get_category_display(),
                },
                reverse("notices:need_detail", args=[need.pk]),
                subject=need_subject(need.pk),
            )
    return need


def _need_transition(user, need, action, text, text_required):
    """Move a need by `action`: role (403), input (400), then scope (404) and state (409)
    under a row lock, and write the thread message."""
    profile = profile_or_403(user)
    if profile.role not in NEED_ROLES_FOR_ACTION[action]:
        raise PermissionDenied(_("Your role cannot do this."))
    text = clean_text(text, _("Reply"), text_required, MAX_COMMENT_LENGTH)
    with transaction.atomic():
        need = Need.objects.visible_to(user).select_for_update(of=("self",)).select_related("enterprise").get(pk=need.pk)
        transition = find_need_transition(action, need.state, profile.role)
        from_state = need.state
        need.state = transition.to_state
        need.save(update_fields=["state", "updated_at"])
        NeedMessage.objects.create(
            need=need,
            action=action,
            author=user,
            author_role=profile.role,
            from_state=from_state,
            to_state=need.state,
            text=text,
        )
        link = reverse("notices:need_detail", args=[need.pk])
        if action == Action.FORWARD:
            notify(
                office_user_ids(Role.CITY_OFFICE, profile.region.parent_id),
                Notification.Kind.NEED,
                _("%(county)s forwarded a need of %(enterprise)s.") % {
                    "county": profile.region.office_name,
                    "enterprise": need.enterprise.name,
                },
                link,
                subject=need_subject(need.pk),
            )
        notify(
            [need.reporter_id],
            Notification.Kind.NEED,
            _("Your need “%(category)s” is now “%(state)s”.") % {
                "category": need.get_category_display(),
                "state": need.get_state_display(),
            },
            link,
            subject=need_subject(need.pk),
        )
    return need


def reply_need(user: AbstractBaseUser, need: Need, text: str) -> Need:
    """A county office (or, once forwarded, the city office) answers a need."""
    return _need_transition(user, need, Action.REPLY, text, True)


def forward_need(user: AbstractBaseUser, need: Need, text: str = "") -> Need:
    """A county office passes a need on to the city office."""
    return _need_transition(user, need, Action.FORWARD, text, False)


def resolve_need(user: AbstractBaseUser, need: Need, text: str = "") -> Need:
    """The office handling a need closes it."""
    return _need_transition(user, need, Action.RESOLVE, text, False)
