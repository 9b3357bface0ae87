"""The write side of the two-way channels. Views, jobs and the check-in workflow call these.

Errors follow tasks.services: PermissionDenied (403), ObjectDoesNotExist (404),
tasks.workflow.WorkflowError (409), ValidationError (400). Nothing is changed when one
is raised. Notifications, and the e-mails that go with them (notifications.services), are
written in the caller's transaction; the e-mails are sent once it commits.
"""

import datetime
import logging
import uuid
from dataclasses import dataclass

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.db.models import Q
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from enterprises.inputs import MAX_COMMENT_LENGTH, MAX_DESCRIPTION_LENGTH, clean_text, profile_or_403
from enterprises.models import Enterprise, Profile, Region
from notifications.models import Notification
from notifications.services import notify, office_user_ids, queue_emails
from tasks.evidence import inspect_upload
from tasks.evidence_files import staged_files
from tasks.models import AssignmentState, CheckIn, CheckInState
from tasks.workflow import WorkflowError

from .models import (
    DeadlineReminder,
    ExampleCase,
    Need,
    NeedMessage,
    NeedState,
    Notice,
    NoticeAttachment,
    NoticeRead,
)

logger = logging.getLogger(__name__)

Role = Profile.Role
MAX_TITLE_LENGTH = 200
MAX_NOTICE_FILES = 5


# --- Deadline reminders -----------------------------------------------------------------

REMINDER_STATES = (AssignmentState.NOT_SUBMITTED, AssignmentState.RETURNED)


def _reminder_pairs(period):
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


def send_deadline_reminders(now=None):
    """Remind assignees of unsubmitted tasks 7 days and 1 day before an open period's
    deadline, once per assignment, threshold and user; returns how many reminders were new.

    Each run inserts its reminder rows with ON CONFLICT DO NOTHING under a fresh batch id,
    then notifies only for rows of that batch, so a second (or concurrent) run sends nothing.
    One notification per user, period and threshold, counting the tasks it concerns.
    """
    from .tasks import REMINDER_BATCH_SIZE
    from tasks.models import Period

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
                    created_at=now,
                )
                for user_id, count in sorted(counts.items())
            ]
            made = Notification.objects.bulk_create(notifications, batch_size=REMINDER_BATCH_SIZE)
            queue_emails(made)
    return created


# --- Notices ----------------------------------------------------------------------------


def notice_recipients(notice):
    """The users in a notice's audience: liaisons of the enterprises it targets and, for a
    notice of the city office, the county offices concerned. A queryset of users."""
    from django.contrib.auth import get_user_model

    User = get_user_model()
    Audience = Notice.Audience
    enterprises = Enterprise.objects.filter(is_active=True)
    offices = Region.objects.filter(level=Region.Level.COUNTY)
    if notice.audience == Audience.COUNTY:
        enterprises = enterprises.filter(county_id=notice.target_county_id)
        offices = offices.filter(pk=notice.target_county_id)
    else:
        enterprises = enterprises.filter(county__parent_id=notice.city_id)
        offices = offices.filter(parent_id=notice.city_id)
        if notice.audience == Audience.SIZE_CLASS:
            enterprises = enterprises.filter(size_class=notice.target_size)
    liaison_q = {"profile__role": Role.ENTERPRISE_LIAISON, "profile__enterprise__in": enterprises}
    if notice.sender_region_id == notice.city_id:
        return User.objects.filter(
            Q(**liaison_q) | Q(profile__role=Role.COUNTY_OFFICE, profile__region__in=offices)
        )
    return User.objects.filter(**liaison_q)


def require_publisher(user):
    """The profile of a reform office (city or county), or PermissionDenied."""
    profile = profile_or_403(user)
    if not (profile.is_city_office or profile.is_county_office):
        raise PermissionDenied(_("Only reform offices publish notices."))
    return profile


def require_need_reporter(user):
    """The profile of an enterprise liaison, or PermissionDenied."""
    profile = profile_or_403(user)
    if not profile.is_liaison:
        raise PermissionDenied(_("Only enterprise liaisons report needs."))
    return profile


def require_case_curator(user):
    """The profile of the city office, or PermissionDenied."""
    profile = profile_or_403(user)
    if not profile.is_city_office:
        raise PermissionDenied(_("Only the city office marks good-practice cases."))
    return profile


def publish_notice(user, title, body, audience, target_county=None, target_size="", files=()):
    """Publish a notice: the city office to its whole city, one county or one size class;
    a county office to its own county only."""
    profile = require_publisher(user)
    Audience = Notice.Audience
    if profile.is_city_office:
        city = profile.region
        if audience not in Audience.values:
            raise ValidationError(_("Choose who receives the notice."))
        if audience == Audience.COUNTY:
            if target_county is None or target_county.parent_id != city.pk or target_county.level != Region.Level.COUNTY:
                raise ValidationError(_("Choose a county-level unit of your city."))
        else:
            target_county = None
        if audience == Audience.SIZE_CLASS:
            if target_size not in Enterprise.SizeClass.values:
                raise ValidationError(_("Choose a size class."))
        else:
            target_size = ""
    elif profile.is_county_office:
        if audience not in ("", Audience.COUNTY) or (target_county is not None and target_county.pk != profile.region_id):
            raise PermissionDenied(_("A county office publishes to its own county only."))
        audience, target_county, target_size = Audience.COUNTY, profile.region, ""
        city = profile.region.parent
    title = clean_text(title, _("Title"), True, MAX_TITLE_LENGTH)
    body = clean_text(body, _("Body"), True, MAX_DESCRIPTION_LENGTH)
    files = list(files or [])
    if len(files) > MAX_NOTICE_FILES:
        raise ValidationError(_("At most %(count)d files per notice.") % {"count": MAX_NOTICE_FILES})
    inspected = [(upload, *inspect_upload(upload)) for upload in files]

    # Attachments are staged before the transaction (tasks.evidence_files): kept once the
    # notice commits, deleted when it does not, and never unknown to the portal after a crash.
    with staged_files() as staged:
        attachments = []
        for upload, name, content_type, sha256 in inspected:
            attachment = NoticeAttachment(original_name=name, size=upload.size, content_type=content_type, sha256=sha256)
            staged.save(attachment.file, name, upload)
            attachments.append(attachment)
        with transaction.atomic():
            notice = Notice.objects.create(
                city=city,
                sender=user,
                sender_region=profile.region,
                audience=audience,
                target_county=target_county,
                target_size=target_size,
                title=title,
                body=body,
            )
            for attachment in attachments:
                attachment.notice = notice
                attachment.save()
            recipients = notice_recipients(notice).exclude(pk=user.pk).values_list("pk", flat=True)
            notify(
                recipients,
                Notification.Kind.NOTICE,
                _("New notice from %(office)s: %(title)s") % {"office": profile.region.name, "title": title},
                reverse("notices:notice_detail", args=[notice.pk]),
            )
    return notice


def record_notice_read(user, notice):
    """Record that the user opened the notice (once; later opens change nothing)."""
    NoticeRead.objects.bulk_create([NoticeRead(notice=notice, user=user)], ignore_conflicts=True)


def may_see_readers(user, notice):
    """The sender's office (the same role and region) sees who has read a notice."""
    profile = Profile.for_user(user)
    return (
        profile is not None
        and (profile.is_city_office or profile.is_county_office)
        and profile.region_id == notice.sender_region_id
    )


# --- Needs and problems ---------------------------------------------------------------

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


def find_need_transition(action, from_state, role):
    for transition in NEED_TRANSITIONS:
        if transition.action == action and transition.from_state == from_state and transition.role == role:
            return transition
    raise WorkflowError(
        _("This need is now “%(state)s”, so it cannot be %(verb)s. Someone may have handled it already: reload the page.")
        % {"state": NeedState(from_state).label, "verb": NEED_ACTION_VERBS[action]}
    )


def need_actions_for(profile, need):
    """The actions the user could take on the need now (for showing forms)."""
    if profile is None:
        return []
    return sorted({t.action for t in NEED_TRANSITIONS if t.from_state == need.state and t.role == profile.role})


def report_need(user, category, text, attachment=None):
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
                    "county": profile.region.name,
                    "enterprise": need.enterprise.name,
                },
                link,
            )
        notify(
            [need.reporter_id],
            Notification.Kind.NEED,
            _("Your need “%(category)s” is now “%(state)s”.") % {
                "category": need.get_category_display(),
                "state": need.get_state_display(),
            },
            link,
        )
    return need


def reply_need(user, need, text):
    """A county office (or, once forwarded, the city office) answers a need."""
    return _need_transition(user, need, Action.REPLY, text, True)


def forward_need(user, need, text=""):
    """A county office passes a need on to the city office."""
    return _need_transition(user, need, Action.FORWARD, text, False)


def resolve_need(user, need, text=""):
    """The office handling a need closes it."""
    return _need_transition(user, need, Action.RESOLVE, text, False)


# --- Good-practice cases ------------------------------------------------------------------


def mark_example_case(user, checkin, title, summary, is_public_evidence=False):
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


__all__ = [
    "forward_need",
    "mark_example_case",
    "publish_notice",
    "record_notice_read",
    "report_need",
    "reply_need",
    "resolve_need",
    "send_deadline_reminders",
]
