"""The task library and the check-in workflow: periods, indicators, assignments,
check-ins (every version kept), evidence files and the review trail."""

import uuid
from pathlib import PurePosixPath

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import MinValueValidator
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from enterprises.models import CityQuerySet, Enterprise, Profile, Region, ScopedQuerySet, with_names

from .evidence import type_label


class CheckInState(models.TextChoices):
    PENDING_COUNTY_REVIEW = "pending_county_review", _("Pending county review")
    PENDING_CITY_REVIEW = "pending_city_review", _("Pending city review")
    RETURNED = "returned", _("Returned")
    SCORED = "scored", _("Scored")


class AssignmentState(models.TextChoices):
    """An assignment's state is its latest check-in's, or "not submitted" before the first."""

    NOT_SUBMITTED = "not_submitted", _("Not submitted")
    PENDING_COUNTY_REVIEW = CheckInState.PENDING_COUNTY_REVIEW.value, CheckInState.PENDING_COUNTY_REVIEW.label
    PENDING_CITY_REVIEW = CheckInState.PENDING_CITY_REVIEW.value, CheckInState.PENDING_CITY_REVIEW.label
    RETURNED = CheckInState.RETURNED.value, CheckInState.RETURNED.label
    SCORED = CheckInState.SCORED.value, CheckInState.SCORED.label


class Period(models.Model):
    """An assessment period of one city, e.g. 2026年度."""

    city = models.ForeignKey(
        Region,
        verbose_name=_("city"),
        on_delete=models.PROTECT,
        related_name="periods",
        limit_choices_to={"level": Region.Level.CITY},
    )
    name = models.CharField(_("name"), max_length=64)
    starts_on = models.DateField(_("start date"))
    ends_on = models.DateField(_("end date"))
    submission_deadline = models.DateTimeField(_("submission deadline"))
    is_closed = models.BooleanField(_("closed"), default=False)

    objects = CityQuerySet.as_manager()

    class Meta:
        verbose_name = _("assessment period")
        verbose_name_plural = _("assessment periods")
        ordering = ["-starts_on"]
        constraints = [
            models.UniqueConstraint(fields=["city", "name"], name="period_unique_name_in_city"),
            models.CheckConstraint(condition=Q(ends_on__gte=models.F("starts_on")), name="period_ends_after_start"),
        ]

    def __str__(self):
        return self.name

    def accepts_submissions(self, now=None):
        """Whether assignees may still submit or resubmit check-ins in this period."""
        now = now or timezone.now()
        return not self.is_closed and now <= self.submission_deadline

    @classmethod
    def current_for_city(cls, city):
        """The newest period of the city, or None."""
        if city is None:
            return None
        return cls.objects.filter(city=city).order_by("-starts_on", "-pk").first()


class Indicator(models.Model):
    """An item of the city's task library (考核任务指标)."""

    class Category(models.TextChoices):
        POLITICAL = "political", _("Political guidance")
        ACHIEVEMENT = "achievement", _("Making contributions")
        SKILLS = "skills", _("Skills and quality")
        RIGHTS = "rights", _("Rights protection")
        ORGANISATION = "organisation", _("Organisational support")

    class Target(models.TextChoices):
        ENTERPRISE = "enterprise", _("Enterprises")
        COUNTY_OFFICE = "county_office", _("County reform offices")

    city = models.ForeignKey(
        Region,
        verbose_name=_("city"),
        on_delete=models.PROTECT,
        related_name="indicators",
        limit_choices_to={"level": Region.Level.CITY},
    )
    code = models.CharField(_("code"), max_length=16)
    category = models.CharField(_("category"), max_length=16, choices=Category.choices)
    title = models.CharField(_("title"), max_length=200)
    requirement = models.TextField(_("requirement"), blank=True)
    evidence_hint = models.TextField(_("evidence asked for"), blank=True)
    # Shown beside the city office's scoring form: how to award the points.
    scoring_guidance = models.TextField(_("scoring guidance"), blank=True)
    max_points = models.DecimalField(
        _("max points"), max_digits=6, decimal_places=2, validators=[MinValueValidator(0)]
    )
    target = models.CharField(_("assignee"), max_length=16, choices=Target.choices)
    # Empty means every size class; otherwise a list of Enterprise.SizeClass values.
    applies_to_sizes = models.JSONField(_("applies to size classes"), default=list, blank=True)
    order = models.PositiveIntegerField(_("display order"), default=0)
    is_active = models.BooleanField(_("active"), default=True)

    objects = CityQuerySet.as_manager()

    class Meta:
        verbose_name = _("assessment indicator")
        verbose_name_plural = _("assessment indicators")
        ordering = ["order", "code"]
        constraints = [
            models.UniqueConstraint(fields=["city", "code"], name="indicator_unique_code_in_city"),
        ]

    def __str__(self):
        return f"{self.code} {self.title}"

    def applies_to(self, enterprise):
        return self.target == self.Target.ENTERPRISE and (
            not self.applies_to_sizes or enterprise.size_class in self.applies_to_sizes
        )


class AssignmentQuerySet(ScopedQuerySet):
    scope_enterprise = "enterprise"
    scope_county = "county"

    def for_county_offices(self):
        return self.filter(enterprise__isnull=True)


class Assignment(models.Model):
    """One indicator for one assignee (an enterprise, or a county office) in one period."""

    period = models.ForeignKey(Period, verbose_name=_("period"), on_delete=models.PROTECT, related_name="assignments")
    indicator = models.ForeignKey(
        Indicator, verbose_name=_("indicator"), on_delete=models.PROTECT, related_name="assignments"
    )
    # Null for a county office's own assignment; `county` is always set (for an enterprise,
    # its county) so that scoping and county aggregates need no join through Enterprise.
    enterprise = models.ForeignKey(
        Enterprise,
        verbose_name=_("enterprise"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="assignments",
    )
    county = models.ForeignKey(
        Region, verbose_name=_("county-level unit"), on_delete=models.PROTECT, related_name="assignments"
    )
    state = models.CharField(
        _("state"), max_length=32, choices=AssignmentState.choices, default=AssignmentState.NOT_SUBMITTED
    )
    # The awarded points while the latest check-in is scored; null otherwise.
    points = models.DecimalField(_("points"), max_digits=6, decimal_places=2, null=True, blank=True)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    objects = AssignmentQuerySet.as_manager()

    class Meta:
        verbose_name = _("check-in task")
        verbose_name_plural = _("check-in tasks")
        ordering = ["period", "indicator__order", "indicator__code"]
        constraints = [
            models.UniqueConstraint(
                fields=["period", "indicator", "enterprise"],
                condition=Q(enterprise__isnull=False),
                name="assignment_unique_per_enterprise",
            ),
            models.UniqueConstraint(
                fields=["period", "indicator", "county"],
                condition=Q(enterprise__isnull=True),
                name="assignment_unique_per_county_office",
            ),
        ]
        indexes = [
            models.Index(fields=["period", "county", "state"]),
            models.Index(fields=["period", "enterprise"]),
        ]

    def __str__(self):
        return f"{self.assignee_name} · {self.indicator.title}"

    @property
    def is_county_office_task(self):
        return self.enterprise_id is None

    @property
    def assignee_name(self):
        if self.enterprise_id:
            return self.enterprise.name
        return _("%(county)s reform office") % {"county": self.county.name}

    @property
    def can_submit(self):
        return self.state in (AssignmentState.NOT_SUBMITTED, AssignmentState.RETURNED)


class ProgressCounters(models.Model):
    """Tasks counted per state, with their awarded points, kept by the database.

    Triggers on the assignment table (tasks.progress, migration 0003) apply every insert,
    update and delete of a task to its counters in the same transaction, whatever wrote it
    (the workflow, generate_assignments' INSERT … SELECT, the admin, SQL by hand). The city's
    dashboard and lists add up these rows instead of the tasks: for a province of 100,000
    enterprises, 100,000 rows per period (per enterprise) or a few hundred (per indicator)
    instead of 1.6 million tasks. Never written from Python; `tasks.progress.rebuild()`
    recomputes them and `tasks.progress.drift()` compares them with the tasks.
    `county` is the tasks' county (as on Assignment), so scoping is the tasks' scoping.
    """

    # The counter column of each assignment state (the triggers are generated from this).
    STATE_COLUMNS = {
        AssignmentState.NOT_SUBMITTED: "not_submitted",
        AssignmentState.PENDING_COUNTY_REVIEW: "pending_county",
        AssignmentState.PENDING_CITY_REVIEW: "pending_city",
        AssignmentState.RETURNED: "returned",
        AssignmentState.SCORED: "scored",
    }
    # The counting columns: all tasks, then one per state (`points` is the other counter).
    COUNTS = ("assigned", *STATE_COLUMNS.values())

    period = models.ForeignKey(Period, verbose_name=_("period"), on_delete=models.CASCADE, related_name="+")
    county = models.ForeignKey(Region, verbose_name=_("county-level unit"), on_delete=models.CASCADE, related_name="+")
    assigned = models.IntegerField(_("tasks"), default=0)
    not_submitted = models.IntegerField(AssignmentState.NOT_SUBMITTED.label, default=0)
    pending_county = models.IntegerField(AssignmentState.PENDING_COUNTY_REVIEW.label, default=0)
    pending_city = models.IntegerField(AssignmentState.PENDING_CITY_REVIEW.label, default=0)
    returned = models.IntegerField(AssignmentState.RETURNED.label, default=0)
    scored = models.IntegerField(AssignmentState.SCORED.label, default=0)
    points = models.DecimalField(_("points"), max_digits=12, decimal_places=2, default=0)

    class Meta:
        abstract = True


class EnterpriseProgressQuerySet(ScopedQuerySet):
    scope_enterprise = "enterprise"
    scope_county = "county"


class EnterpriseProgress(ProgressCounters):
    """An enterprise's tasks in one period (one row per county its tasks are in: nearly always one)."""

    enterprise = models.ForeignKey(
        Enterprise, verbose_name=_("enterprise"), on_delete=models.CASCADE, related_name="progress"
    )

    objects = EnterpriseProgressQuerySet.as_manager()

    class Meta:
        verbose_name = _("enterprise progress")
        verbose_name_plural = _("enterprise progress")
        constraints = [
            models.UniqueConstraint(fields=["period", "enterprise", "county"], name="progress_unique_per_enterprise"),
        ]
        indexes = [models.Index(fields=["period", "county"])]

    def __str__(self):
        return f"{self.enterprise_id} · {self.period_id}"


class IndicatorProgressQuerySet(ScopedQuerySet):
    scope_county = "county"

    def visible_to(self, user):
        """A county's figures per indicator are for the offices; a liaison sees none of them."""
        profile = Profile.for_user(user)
        if profile is None or profile.enterprise_id:
            return self.none()
        return super().visible_to(user)


class IndicatorProgress(ProgressCounters):
    """One indicator's tasks in one county and period: its enterprises' and its county office's."""

    indicator = models.ForeignKey(Indicator, verbose_name=_("indicator"), on_delete=models.CASCADE, related_name="+")

    objects = IndicatorProgressQuerySet.as_manager()

    class Meta:
        verbose_name = _("indicator progress")
        verbose_name_plural = _("indicator progress")
        constraints = [
            models.UniqueConstraint(fields=["period", "indicator", "county"], name="progress_unique_per_indicator"),
        ]

    def __str__(self):
        return f"{self.indicator_id} · {self.county_id} · {self.period_id}"


class CheckInQuerySet(ScopedQuerySet):
    scope_enterprise = "assignment__enterprise"
    scope_county = "assignment__county"

    def with_related(self):
        return self.select_related(
            "assignment__indicator", "assignment__enterprise", "assignment__county", "assignment__period",
            *with_names("submitted_by"),
        )


class CheckIn(models.Model):
    """One version of an assignee's report for an assignment. Never overwritten: a
    resubmission after a return is a new version with its own evidence."""

    assignment = models.ForeignKey(
        Assignment, verbose_name=_("check-in task"), on_delete=models.PROTECT, related_name="checkins"
    )
    version = models.PositiveIntegerField(_("version"))
    description = models.TextField(_("description"))
    state = models.CharField(_("state"), max_length=32, choices=CheckInState.choices)
    submitted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name=_("submitted by"), on_delete=models.PROTECT, related_name="+"
    )
    submitted_at = models.DateTimeField(_("submitted at"), default=timezone.now)
    points = models.DecimalField(_("points"), max_digits=6, decimal_places=2, null=True, blank=True)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    objects = CheckInQuerySet.as_manager()

    class Meta:
        verbose_name = _("check-in")
        verbose_name_plural = _("check-ins")
        ordering = ["-submitted_at", "-pk"]
        constraints = [
            models.UniqueConstraint(fields=["assignment", "version"], name="checkin_unique_version"),
        ]
        indexes = [models.Index(fields=["state", "submitted_at"])]

    def __str__(self):
        return f"{self.assignment} v{self.version}"


def evidence_upload_to(instance, filename):
    """Stored under a generated name: the original name is only kept for display."""
    suffix = PurePosixPath(filename).suffix.lower()[:10]
    now = timezone.now()
    return f"evidence/{now:%Y/%m}/{uuid.uuid4().hex}{suffix}"


class PreviewState(models.TextChoices):
    PENDING = "pending", _("Preview being made")
    READY = "ready", _("Preview ready")
    NONE = "none", _("No preview for this type")
    FAILED = "failed", _("No preview: the file could not be read")


class EvidenceQuerySet(ScopedQuerySet):
    scope_enterprise = "checkin__assignment__enterprise"
    scope_county = "checkin__assignment__county"


class Evidence(models.Model):
    """An uploaded file of one check-in version."""

    checkin = models.ForeignKey(CheckIn, verbose_name=_("check-in"), on_delete=models.PROTECT, related_name="evidence")
    file = models.FileField(_("file"), upload_to=evidence_upload_to, max_length=255)
    original_name = models.CharField(_("file name"), max_length=255)
    size = models.PositiveBigIntegerField(_("size (bytes)"))
    content_type = models.CharField(_("content type"), max_length=128)
    sha256 = models.CharField(_("SHA-256"), max_length=64)
    uploaded_at = models.DateTimeField(_("uploaded at"), default=timezone.now)
    # A file kept from the returned version by a resubmission (tasks.services.submit_checkin):
    # a row of the new version naming the SAME stored file (the bytes are never copied).
    # It points at the row that was uploaded, never at another carried row, however many
    # versions kept the file: one hop finds the bytes and their previews (preview_source),
    # and PROTECT keeps that row, hence its file, while any version still shows it. Stored
    # files are shared by name, so the housekeeping (tasks.evidence_files.owned_names) and the
    # backups see a file as owned while any row names it.
    carried_from = models.ForeignKey(
        "self",
        verbose_name=_("kept from"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="carried_into",
    )
    # The previews (tasks.previews) are derived and regenerable: made by a job after the
    # check-in commits, never while the upload waits.
    preview_state = models.CharField(
        _("preview"), max_length=16, choices=PreviewState.choices, default=PreviewState.PENDING
    )
    page_count = models.PositiveIntegerField(_("pages"), null=True, blank=True)

    objects = EvidenceQuerySet.as_manager()

    class Meta:
        verbose_name = _("evidence file")
        verbose_name_plural = _("evidence files")
        ordering = ["pk"]

    def __str__(self):
        return self.original_name

    @property
    def is_carried(self):
        return self.carried_from_id is not None

    def preview_source(self):
        """The row whose bytes and previews this file shows: the uploaded row it was kept
        from, or itself."""
        return self.carried_from if self.carried_from_id is not None else self

    @property
    def type_label(self):
        """PDF, JPG, PNG, Word, Excel or PowerPoint."""
        return type_label(self.content_type)

    @property
    def previewable(self):
        return self.preview_state in (PreviewState.PENDING, PreviewState.READY)


def preview_upload_to(instance, filename):
    """Previews are stored under generated names next to nothing else: `previews/YYYY/MM/…`."""
    now = timezone.now()
    return f"previews/{now:%Y/%m}/{uuid.uuid4().hex}{PurePosixPath(filename).suffix.lower()[:10]}"


class EvidencePreview(models.Model):
    """One re-encoded image made from an evidence file: its thumbnail, or the view image of
    page N (an image file has one page; a PDF one per page, up to a cap)."""

    class Kind(models.TextChoices):
        THUMB = "thumb", _("thumbnail")
        PAGE = "page", _("page")

    evidence = models.ForeignKey(
        Evidence, verbose_name=_("evidence file"), on_delete=models.CASCADE, related_name="previews"
    )
    kind = models.CharField(_("kind"), max_length=8, choices=Kind.choices)
    page = models.PositiveIntegerField(_("page"), default=1)
    file = models.FileField(_("file"), upload_to=preview_upload_to, max_length=255)
    content_type = models.CharField(_("content type"), max_length=32, default="image/jpeg")
    width = models.PositiveIntegerField(_("width"))
    height = models.PositiveIntegerField(_("height"))
    bytes = models.PositiveIntegerField(_("size (bytes)"))

    class Meta:
        verbose_name = _("evidence preview")
        verbose_name_plural = _("evidence previews")
        ordering = ["evidence", "kind", "page"]
        constraints = [
            models.UniqueConstraint(fields=["evidence", "kind", "page"], name="evidence_preview_unique_page"),
        ]

    def __str__(self):
        return f"{self.evidence_id} {self.kind} {self.page}"


class ReviewEventQuerySet(ScopedQuerySet):
    """Append-only: bulk updates and deletes are refused like single-row ones."""

    scope_enterprise = "checkin__assignment__enterprise"
    scope_county = "checkin__assignment__county"

    def update(self, **kwargs):
        raise ValidationError(_("Review events cannot be changed."))

    def delete(self):
        raise ValidationError(_("Review events cannot be deleted."))


class ReviewEvent(models.Model):
    """One step of the audit trail. Append-only: rows are never updated or deleted."""

    class Action(models.TextChoices):
        SUBMIT = "submit", _("Submitted")
        APPROVE = "approve", _("Approved to the city")
        RETURN = "return", _("Returned")
        SCORE = "score", _("Scored")
        REOPEN = "reopen", _("Reopened")
        # Not a transition: the task moved with its enterprise to another county office
        # (tasks.moves); from_state and to_state are the check-in's unchanged state.
        MOVE = "move", _("Moved to another county")

    checkin = models.ForeignKey(CheckIn, verbose_name=_("check-in"), on_delete=models.PROTECT, related_name="events")
    action = models.CharField(_("action"), max_length=16, choices=Action.choices)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name=_("actor"), on_delete=models.PROTECT, related_name="+"
    )
    actor_role = models.CharField(_("actor role"), max_length=32, choices=Profile.Role.choices)
    from_state = models.CharField(_("from state"), max_length=32, choices=CheckInState.choices, blank=True)
    to_state = models.CharField(_("to state"), max_length=32, choices=CheckInState.choices)
    comment = models.TextField(_("comment"), blank=True)
    points = models.DecimalField(_("points"), max_digits=6, decimal_places=2, null=True, blank=True)
    at = models.DateTimeField(_("time"), default=timezone.now, db_index=True)

    objects = ReviewEventQuerySet.as_manager()

    class Meta:
        verbose_name = _("review event")
        verbose_name_plural = _("review events")
        ordering = ["at", "pk"]

    def __str__(self):
        return f"{self.get_action_display()} · {self.checkin}"

    def save(self, *args, **kwargs):
        if self.pk is not None and not self._state.adding:
            raise ValidationError(_("Review events cannot be changed."))
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise ValidationError(_("Review events cannot be deleted."))


class StagedEvidenceFile(models.Model):
    """A stored file whose owning row is not committed yet (tasks.evidence_files).

    Committed in its own transaction before the file's first byte is written and deleted once
    the row naming the file has committed, so a worker killed at any instant leaves no file
    the portal does not know about: the housekeeping (tasks.evidence_audit) deletes staged
    files older than EVIDENCE_STAGING_KEEP_HOURS that no row names.
    """

    name = models.CharField(_("stored name"), max_length=255, unique=True)
    created_at = models.DateTimeField(_("staged at"), default=timezone.now, db_index=True)

    class Meta:
        verbose_name = _("staged file")
        verbose_name_plural = _("staged files")
        ordering = ["created_at", "pk"]

    def __str__(self):
        return self.name


class EnterpriseMove(models.Model):
    """The audit record of an enterprise moved to another county-level unit of its city
    (tasks.moves.move_enterprise): its tasks in open periods moved with it, those of closed
    periods stayed with the county they were assessed in. Append-only."""

    enterprise = models.ForeignKey(
        Enterprise, verbose_name=_("enterprise"), on_delete=models.PROTECT, related_name="moves"
    )
    from_county = models.ForeignKey(
        Region, verbose_name=_("from county"), on_delete=models.PROTECT, related_name="+"
    )
    to_county = models.ForeignKey(Region, verbose_name=_("to county"), on_delete=models.PROTECT, related_name="+")
    moved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name=_("moved by"), on_delete=models.PROTECT, related_name="+"
    )
    reason = models.TextField(_("reason"))
    at = models.DateTimeField(_("time"), default=timezone.now, db_index=True)
    # How many tasks of open periods moved with the enterprise.
    assignments_moved = models.PositiveIntegerField(_("tasks moved"), default=0)

    class Meta:
        verbose_name = _("enterprise move")
        verbose_name_plural = _("enterprise moves")
        ordering = ["-at", "-pk"]

    def __str__(self):
        return f"{self.enterprise} · {self.from_county} → {self.to_county}"

    def save(self, *args, **kwargs):
        if self.pk is not None and not self._state.adding:
            raise ValidationError(_("Enterprise moves cannot be changed."))
        super().save(*args, **kwargs)
