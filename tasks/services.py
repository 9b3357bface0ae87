"""The check-in workflow's write side. Views, the API, the admin and jobs all call these.

Each service does one transition inside one transaction, decided by the database
(row locks), and writes its review event. Errors:
- django.core.exceptions.PermissionDenied: the user's role may not take this action (403);
- ObjectDoesNotExist: the object is outside the user's scope (404);
- tasks.workflow.WorkflowError: the state does not allow it, e.g. someone acted first (409);
- django.core.exceptions.ValidationError: bad input, with a Chinese message (400).
Nothing is changed when any of them is raised.

Each transition takes an optional `outcome_hook`: called with the result as the last step
inside the transaction, so that what the caller answers is recorded with the change and
commits with it or not at all (idempotency.keys: a retried request gets that answer).
"""

from collections.abc import Callable, Iterable
from decimal import ROUND_DOWN, Decimal, InvalidOperation

from django.contrib.auth.base_user import AbstractBaseUser
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.files.uploadedfile import UploadedFile
from django.db import connection, models, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from enterprises.inputs import MAX_COMMENT_LENGTH, MAX_DESCRIPTION_LENGTH, clean_text, profile_or_403
from enterprises.models import Enterprise, Region

# The one sanctioned upward import (tasks -> scoring): the workflow asks for a ranking
# recompute when a score or reopen changes points. Nothing else in tasks imports scoring.
from scoring import recompute

from . import previews, workflow
from .evidence import inspect_upload, validate_upload_count
from .evidence_files import staged_files
from .models import (
    Assignment,
    AssignmentState,
    CheckIn,
    CheckInState,
    Evidence,
    Indicator,
    Period,
    PreviewState,
    ReviewEvent,
)
from .notify import notify_checkin_event
from .workflow import WorkflowError

OutcomeHook = Callable[[CheckIn], None] | None


def submit_checkin(
    user: AbstractBaseUser,
    assignment: Assignment,
    description: str,
    files: Iterable[UploadedFile],
    *,
    keep: Iterable[int | str] = (),
    outcome_hook: OutcomeHook = None,
) -> CheckIn:
    """Submit (or, after a return, resubmit) a check-in with its evidence files.

    `keep`: ids of evidence files of the returned (latest) version to carry into the new one
    without uploading them again; the count limit applies to kept and new files together.
    """
    profile = profile_or_403(user)
    assignment = Assignment.objects.visible_to(user).get(pk=assignment.pk)
    if profile.role != workflow.submitter_role(assignment):
        raise PermissionDenied(_("Your role cannot submit check-ins for this task."))
    description = clean_text(description, _("Description"), True, MAX_DESCRIPTION_LENGTH)
    files = list(files)
    keep_ids = _keep_ids(keep)
    if keep_ids:
        _kept_evidence(assignment, keep_ids)  # refused early, before any upload is stored
    validate_upload_count(files, kept=len(keep_ids))
    inspected = [(upload, *inspect_upload(upload)) for upload in files]

    # The files are stored (staged) before the transaction: a staging row must commit before
    # a file's first byte is written, so that a crash at any instant leaves no file the
    # portal does not know about (tasks.evidence_files). If the version does not commit,
    # they are deleted; if the COMMIT's outcome is unknown, the database is asked again.
    with staged_files() as staged:
        evidence = []
        for upload, name, content_type, sha256 in inspected:
            item = Evidence(
                original_name=name, size=upload.size, content_type=content_type, sha256=sha256,
                preview_state=previews.initial_state(content_type),
            )
            staged.save(item.file, name, upload)
            evidence.append(item)
        with transaction.atomic():
            checkin = _create_version(user, profile, assignment, description, evidence, keep_ids)
            if outcome_hook is not None:
                outcome_hook(checkin)
    return checkin


def _keep_ids(keep):
    """The distinct evidence ids of `keep` (ints or digit strings), or ValidationError."""
    if keep is None or isinstance(keep, (str, bytes, int)):
        keep = [] if keep in (None, "", b"") else [keep]
    ids = []
    for value in keep:
        text = str(value).strip()
        if not text.isascii() or not text.isdigit() or len(text) > 18 or int(text) < 1:
            raise ValidationError(_("The files to keep are not valid."), code="keep")
        if int(text) not in ids:
            ids.append(int(text))
    return ids


def _kept_evidence(assignment, keep_ids):
    """The rows of `keep_ids`, which must all be files of the assignment's latest version,
    and that version returned; ValidationError (nothing kept) otherwise."""
    latest = assignment.checkins.order_by("-version").first()
    if latest is None or latest.state != CheckInState.RETURNED:
        raise ValidationError(
            _("Files can be kept only when a returned check-in is submitted again."), code="keep"
        )
    rows = {row.pk: row for row in Evidence.objects.filter(checkin=latest, pk__in=keep_ids)}
    if len(rows) != len(keep_ids):
        raise ValidationError(
            _("Only files of the returned version (version %(version)s) can be kept.") % {"version": latest.version},
            code="keep",
        )
    return [rows[pk] for pk in keep_ids]


def _carried(row):
    """A new (unsaved) row of the next version naming `row`'s stored file, pointing at the
    uploaded row it comes from (tasks.models.Evidence.carried_from)."""
    source = row.preview_source()
    return Evidence(
        file=row.file.name,
        original_name=row.original_name,
        size=row.size,
        content_type=row.content_type,
        sha256=row.sha256,
        uploaded_at=source.uploaded_at,
        carried_from=source,
        # It shows its source's previews (tasks.previews): settled once they are; while they
        # are still being made, the job settles this row with them.
        preview_state=source.preview_state,
        page_count=source.page_count,
    )


def _create_version(user, profile, assignment, description, evidence, keep_ids=()):
    """Lock the assignment, check it may take a new version, and write it with its (already
    stored) evidence files and the files it keeps from the returned version."""
    assignment = (
        Assignment.objects.select_for_update(of=("self",)).select_related("period").get(pk=assignment.pk)
    )
    if not assignment.period.accepts_submissions():
        raise WorkflowError(_("The period “%(period)s” no longer accepts submissions.") % {"period": assignment.period})
    if not assignment.can_submit:
        raise WorkflowError(
            _("This task is “%(state)s”; it can be submitted again only after a return.")
            % {"state": assignment.get_state_display()}
        )
    # Checked again under the lock: the version the files were chosen from must still be
    # the returned latest one.
    kept = [_carried(row) for row in _kept_evidence(assignment, keep_ids)] if keep_ids else []
    last_version = assignment.checkins.order_by("-version").values_list("version", flat=True).first() or 0
    state = workflow.initial_state(assignment)
    checkin = CheckIn.objects.create(
        assignment=assignment,
        version=last_version + 1,
        description=description,
        state=state,
        submitted_by=user,
    )
    evidence = kept + list(evidence)
    for item in evidence:
        item.checkin = checkin
    Evidence.objects.bulk_create(evidence)
    # Thumbnails and page images are made by a job once this version has committed.
    previews.make_soon(item.pk for item in evidence if item.preview_state == PreviewState.PENDING)
    event = ReviewEvent.objects.create(
        checkin=checkin,
        action=ReviewEvent.Action.SUBMIT,
        actor=user,
        actor_role=profile.role,
        from_state="",
        to_state=state,
        comment="",
    )
    notify_checkin_event(event)
    assignment.state = state
    assignment.points = None
    assignment.save(update_fields=["state", "points", "updated_at"])
    return checkin


def _transition(user, checkin, action, clean_input, outcome_hook=None):
    """Move `checkin` by `action`, locking it so that concurrent reviewers cannot both win.

    The order of refusals is fixed: role (403), then input (400), then scope (404) and
    state (409) under the row lock. `clean_input(checkin)` returns (comment, points).
    """
    profile = profile_or_403(user)
    if profile.role not in workflow.ROLES_FOR_ACTION[action]:
        raise PermissionDenied(_("Your role cannot do this."))
    comment, points = clean_input(checkin)
    with transaction.atomic():
        # The task is locked with its check-in, and first (the order submissions and moves
        # take too): a move to another county (tasks.moves) updates the task's county, so a
        # reviewer of the old county who waited for the move finds the check-in gone (404)
        # when the lock is granted, instead of acting on the scope it read before.
        checkin = (
            CheckIn.objects.visible_to(user)
            .select_for_update(of=("assignment", "self"))
            # The enterprise and county too: the event's notification names them.
            .select_related("assignment__indicator", "assignment__period", "assignment__enterprise", "assignment__county")
            .get(pk=checkin.pk)
        )
        if checkin.assignment.period.is_closed:
            raise WorkflowError(
                _("The period “%(period)s” is closed; its check-ins can no longer change.")
                % {"period": checkin.assignment.period}
            )
        transition = workflow.find_transition(action, checkin.state, profile.role)
        from_state = checkin.state
        checkin.state = transition.to_state
        checkin.points = points if transition.to_state == CheckInState.SCORED else None
        checkin.save(update_fields=["state", "points", "updated_at"])
        Assignment.objects.filter(pk=checkin.assignment_id).update(
            state=transition.to_state, points=checkin.points, updated_at=timezone.now()
        )
        event = ReviewEvent.objects.create(
            checkin=checkin,
            action=action,
            actor=user,
            actor_role=profile.role,
            from_state=from_state,
            to_state=transition.to_state,
            comment=comment,
            points=points,
        )
        notify_checkin_event(event)
        if action in (ReviewEvent.Action.SCORE, ReviewEvent.Action.REOPEN):
            # Rankings depend on awarded points: recorded here, applied after commit.
            recompute.rankings_changed(checkin.assignment)
        if outcome_hook is not None:
            outcome_hook(checkin)
    return checkin


def approve(
    user: AbstractBaseUser, checkin: CheckIn, comment: str = "", *, outcome_hook: OutcomeHook = None
) -> CheckIn:
    """County office: forward an enterprise check-in to the city office."""
    return _transition(
        user,
        checkin,
        ReviewEvent.Action.APPROVE,
        lambda _checkin: (clean_text(comment, _("Comment"), False, MAX_COMMENT_LENGTH), None),
        outcome_hook=outcome_hook,
    )


def return_checkin(
    user: AbstractBaseUser, checkin: CheckIn, reason: str, *, outcome_hook: OutcomeHook = None
) -> CheckIn:
    """County or city office: send a check-in back to its assignee with a reason."""
    return _transition(
        user,
        checkin,
        ReviewEvent.Action.RETURN,
        lambda _checkin: (clean_text(reason, _("Reason for return"), True, MAX_COMMENT_LENGTH), None),
        outcome_hook=outcome_hook,
    )


def parse_points(points: str | int | float | Decimal, max_points: Decimal) -> Decimal:
    """Points as a Decimal within 0..max_points with at most two decimals, or ValidationError."""
    try:
        value = Decimal(str(points).strip())
    except (InvalidOperation, ValueError):
        raise ValidationError(_("Points must be a number.")) from None
    if not value.is_finite():
        raise ValidationError(_("Points must be a number."))
    if value < 0 or value > max_points:
        raise ValidationError(
            _("Points must be between 0 and %(max)s.") % {"max": _format_points(max_points)}
        )
    if value != value.quantize(Decimal("0.01")):
        raise ValidationError(_("Points may have at most two decimal places."))
    return value.quantize(Decimal("0.01"))


def half_points(max_points: Decimal) -> Decimal:
    """Half of an indicator's points, rounded down to what parse_points accepts (the scoring
    form's 半分 button)."""
    return (max_points / 2).quantize(Decimal("0.01"), rounding=ROUND_DOWN)


def _format_points(value):
    return f"{value.normalize():f}"


def score(
    user: AbstractBaseUser,
    checkin: CheckIn,
    points: str | int | float | Decimal,
    comment: str = "",
    *,
    outcome_hook: OutcomeHook = None,
) -> CheckIn:
    """City office: award 0..max points to a check-in waiting for city review."""
    return _transition(
        user,
        checkin,
        ReviewEvent.Action.SCORE,
        lambda c: (
            clean_text(comment, _("Comment"), False, MAX_COMMENT_LENGTH),
            parse_points(points, c.assignment.indicator.max_points),
        ),
        outcome_hook=outcome_hook,
    )


def reopen(user: AbstractBaseUser, checkin: CheckIn, reason: str, *, outcome_hook: OutcomeHook = None) -> CheckIn:
    """City office: take a scored check-in back to city review (its points stop counting)."""
    return _transition(
        user,
        checkin,
        ReviewEvent.Action.REOPEN,
        lambda _checkin: (clean_text(reason, _("Reason for reopening"), True, MAX_COMMENT_LENGTH), None),
        outcome_hook=outcome_hook,
    )


def latest_checkin(assignment: Assignment) -> CheckIn | None:
    return assignment.checkins.order_by("-version").first()


__all__ = [
    "AssignmentState",
    "WorkflowError",
    "approve",
    "assign_enterprises",
    "generate_assignments",
    "half_points",
    "latest_checkin",
    "parse_points",
    "reopen",
    "return_checkin",
    "score",
    "submit_checkin",
]


def generate_assignments(period: Period, enterprises: Iterable[int] | None = None) -> int:
    """Create the period's missing assignments: each active indicator for every enterprise it
    applies to (or every county office of the city). Idempotent; returns how many were created.

    `enterprises` (ids): only the missing tasks of these enterprises (an enterprise just
    created or back in the reform; assign_enterprises), none of the county offices'.

    One INSERT … SELECT … WHERE NOT EXISTS for all indicators (a UNION ALL of one SELECT per
    indicator), so a province's 100,000 enterprises never pass through Python, a re-run
    inserts nothing, and the progress counters' triggers (tasks.progress) fire once: one
    statement per indicator made them upsert every enterprise's counters 17 times (55 s for
    a province's 1.6 million tasks instead of 19 s). The enterprises asked for are filtered
    inside each SELECT, ENTERPRISE_CHUNK ids per statement in all.
    """
    q = connection.ops.quote_name
    table = q(Assignment._meta.db_table)
    now = timezone.now()
    only = None if enterprises is None else sorted({int(pk) for pk in enterprises})
    if only is not None and not only:
        return 0
    indicators = list(Indicator.objects.filter(city=period.city, is_active=True).order_by("pk"))
    if only is not None:
        indicators = [i for i in indicators if i.target != Indicator.Target.COUNTY_OFFICE]
    if not indicators:
        return 0
    insert = f"INSERT INTO {table} (period_id, indicator_id, enterprise_id, county_id, state, points, updated_at) "
    if only is None:
        chunks = [None]
    else:
        # The ids go into every indicator's SELECT, ENTERPRISE_CHUNK ids a statement in all.
        # (Measured on 100,000 enterprises: 0.57 s for 2,000 ids, as fast as one IN around the
        # whole UNION ALL, 0.64 s, which PostgreSQL does push down; the slow 20,000-row import
        # in bench/RESULTS.md is not spent here.)
        size = max(1, ENTERPRISE_CHUNK // len(indicators))
        chunks = [only[start : start + size] for start in range(0, len(only), size)]
    created = 0
    with connection.cursor() as cursor:
        for chunk in chunks:
            sql, params = _assignment_selects(period, indicators, chunk, now)
            cursor.execute(insert + sql, params)
            created += cursor.rowcount
    return created


def _assignment_selects(period, indicators, enterprise_ids, now):
    """generate_assignments' UNION ALL: one SELECT of the missing assignees per indicator
    (only these enterprises when `enterprise_ids` is given)."""
    selects, params = [], []
    for indicator in indicators:
        if indicator.target == Indicator.Target.COUNTY_OFFICE:
            assignees = Region.objects.filter(parent=period.city, level=Region.Level.COUNTY).values(
                "pk", assignee_county=models.F("pk")
            )
            taken = Assignment.objects.filter(
                period=period, indicator=indicator, enterprise__isnull=True, county=models.OuterRef("pk")
            )
            enterprise_column = "CAST(NULL AS BIGINT)"
        else:
            assignees = Enterprise.objects.filter(county__parent=period.city, is_active=True)
            if enterprise_ids is not None:
                assignees = assignees.filter(pk__in=enterprise_ids)
            if indicator.applies_to_sizes:
                assignees = assignees.filter(size_class__in=indicator.applies_to_sizes)
            assignees = assignees.values("pk", assignee_county=models.F("county_id"))
            taken = Assignment.objects.filter(period=period, indicator=indicator, enterprise=models.OuterRef("pk"))
            enterprise_column = "a.pk"
        select = assignees.filter(~models.Exists(taken)).order_by()
        sql, select_params = select.query.get_compiler(connection=connection).as_sql()
        selects.append(
            # Typed NULLs: in a UNION ALL an untyped NULL would be text.
            f"SELECT %s AS period_id, %s AS indicator_id, {enterprise_column} AS enterprise_id,"
            f" a.assignee_county AS county_id, %s AS state, CAST(NULL AS NUMERIC) AS points, %s AS updated_at"
            f" FROM ({sql}) a"
        )
        params += [period.pk, indicator.pk, AssignmentState.NOT_SUBMITTED, now, *select_params]
    return " UNION ALL ".join(selects), params


# Enterprise ids per statement of generate_assignments(period, enterprises), summed over its
# indicators' SELECTs: under SQLite's 32,766 parameters (17 indicators: 588 enterprises a statement).
ENTERPRISE_CHUNK = 10_000


def assign_enterprises(enterprise_ids: Iterable[int]) -> int:
    """Give these enterprises their missing tasks in every open period of their cities, in the
    caller's transaction; returns how many were created.

    Called wherever an enterprise enters the reform: created by the spreadsheet import or the
    admin (a form or django-import-export's import), or back in it (is_active False → True),
    so nobody has to run "generate check-in tasks" by hand. Closed periods are left as they
    were assessed; an enterprise out of the reform gets nothing. Their rankings are asked for
    again (scoring.recompute.enterprises_changed), as when one leaves the reform.
    """
    ids = sorted({int(pk) for pk in enterprise_ids})
    if not ids:
        return 0
    cities = set()
    for start in range(0, len(ids), ENTERPRISE_CHUNK):
        chunk = ids[start : start + ENTERPRISE_CHUNK]
        cities.update(
            Enterprise.objects.filter(pk__in=chunk, is_active=True).values_list("county__parent_id", flat=True).distinct()
        )
    created = 0
    for period in Period.objects.filter(city_id__in=cities, is_closed=False).select_related("city").order_by("pk"):
        # A whole sheet of new enterprises takes the city-wide statement (the admin action's,
        # idempotent: it adds only what is missing). Filtered by ids, each chunk's anti-join
        # was planned on the statistics of the tables before this transaction filled them:
        # 3,000 new enterprises took 13.8 s by ids against 1.0 s city-wide (20,000: 393 s
        # against 205 s for import + admin action in bench/imports.py).
        many = len(ids) > FULL_RECOMPUTE_FROM
        count = generate_assignments(period, enterprises=None if many else ids)
        if count and many:
            # A whole sheet of new enterprises: one full recompute of the period, not a
            # ranking request per enterprise (20,000 rows and as many in-place updates).
            recompute.request_recompute(period, trigger="import")
        created += count
    if created and len(ids) <= FULL_RECOMPUTE_FROM:
        recompute.enterprises_changed(ids)
    return created


# From this many enterprises on, assign_enterprises asks for a full recompute of each period.
FULL_RECOMPUTE_FROM = 500
