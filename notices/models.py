"""The two-way channels of the portal (政策双向直达): deadline reminders, notices from the
reform offices down to enterprises, needs and problems from enterprises up to the offices,
and good-practice cases picked from scored check-ins. The notifications and e-mails they
send live one floor down, in the notifications app."""

import uuid
from pathlib import PurePosixPath

from django.conf import settings
from django.db import models
from django.db.models import Exists, OuterRef, Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from enterprises.models import Enterprise, Profile, Region, ScopedQuerySet
from tasks.models import Assignment, CheckIn, Indicator

# The longest title of a notice or a good-practice case (the forms and services check it).
MAX_TITLE_LENGTH = 200


def _stored_name(folder, filename):
    """Stored under a generated name: the original name is only kept for display."""
    suffix = PurePosixPath(filename).suffix.lower()[:10]
    return f"{folder}/{timezone.now():%Y/%m}/{uuid.uuid4().hex}{suffix}"


def notice_upload_to(instance, filename):
    return _stored_name("notices", filename)


def need_upload_to(instance, filename):
    return _stored_name("needs", filename)


# --- Deadline reminders ----------------------------------------------------------


class DeadlineReminder(models.Model):
    """That a reminder was sent for an assignment at a threshold: makes the job idempotent."""

    class Threshold(models.IntegerChoices):
        WEEK = 7, _("7 days before the deadline")
        DAY = 1, _("1 day before the deadline")

    assignment = models.ForeignKey(Assignment, on_delete=models.CASCADE, related_name="deadline_reminders")
    threshold = models.PositiveSmallIntegerField(_("threshold (days)"), choices=Threshold.choices)
    recipient = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    # The run that created the row: tells a run which rows it inserted itself.
    batch = models.UUIDField(db_index=True)
    sent_at = models.DateTimeField(_("sent at"), default=timezone.now)

    class Meta:
        verbose_name = _("deadline reminder")
        verbose_name_plural = _("deadline reminders")
        constraints = [
            models.UniqueConstraint(
                fields=["assignment", "threshold", "recipient"], name="deadline_reminder_once"
            ),
        ]


# --- Notices (政策直达) ------------------------------------------------------------


class NoticeQuerySet(models.QuerySet):
    def visible_to(self, user):
        """Notices in the user's audience, plus everything the user's own office sent."""
        profile = Profile.for_user(user)
        if profile is None or profile.city is None:
            return self.none()
        city = profile.city
        Audience = Notice.Audience
        if profile.is_city_office:
            return self.filter(city=city)
        if profile.is_county_office:
            return self.filter(
                Q(city=city, audience__in=[Audience.CITY, Audience.SIZE_CLASS])
                | Q(target_county=profile.region)
                | Q(sender_region=profile.region)
            )
        if profile.is_liaison:
            enterprise = profile.enterprise
            return self.filter(
                Q(city=city, audience=Audience.CITY)
                | Q(audience=Audience.COUNTY, target_county_id=enterprise.county_id)
                | Q(city=city, audience=Audience.SIZE_CLASS, target_size=enterprise.size_class)
            )
        return self.none()

    def with_read_flag(self, user):
        return self.annotate(
            is_read=Exists(NoticeRead.objects.filter(notice=OuterRef("pk"), user=user))
        )


class Notice(models.Model):
    """A notice a reform office publishes to enterprises (and, from the city, county offices)."""

    class Audience(models.TextChoices):
        CITY = "city", _("All enterprises of the city")
        COUNTY = "county", _("Enterprises of one county")
        SIZE_CLASS = "size", _("Enterprises of one size class")

    city = models.ForeignKey(Region, verbose_name=_("city"), on_delete=models.PROTECT, related_name="+")
    sender = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name=_("sender"), on_delete=models.PROTECT, related_name="+"
    )
    # The office that published: the city, or a county-level unit.
    sender_region = models.ForeignKey(
        Region, verbose_name=_("published by"), on_delete=models.PROTECT, related_name="+"
    )
    audience = models.CharField(_("audience"), max_length=16, choices=Audience.choices)
    target_county = models.ForeignKey(
        Region,
        verbose_name=_("county-level unit"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
    )
    target_size = models.CharField(
        _("size class"), max_length=16, choices=Enterprise.SizeClass.choices, blank=True
    )
    title = models.CharField(_("title"), max_length=MAX_TITLE_LENGTH)
    body = models.TextField(_("body"))
    published_at = models.DateTimeField(_("published at"), default=timezone.now, db_index=True)

    objects = NoticeQuerySet.as_manager()

    class Meta:
        verbose_name = _("notice")
        verbose_name_plural = _("notices")
        ordering = ["-published_at", "-pk"]
        constraints = [
            models.CheckConstraint(
                name="notice_target_matches_audience",
                condition=(
                    Q(audience="city", target_county__isnull=True, target_size="")
                    | Q(audience="county", target_county__isnull=False, target_size="")
                    | (Q(audience="size", target_county__isnull=True) & ~Q(target_size=""))
                ),
            )
        ]

    def __str__(self):
        return self.title

    @property
    def audience_label(self):
        if self.audience == self.Audience.COUNTY:
            return _("Enterprises of %(county)s") % {"county": self.target_county.name}
        if self.audience == self.Audience.SIZE_CLASS:
            return _("%(size)s enterprises") % {"size": self.get_target_size_display()}
        return self.get_audience_display()


class NoticeAttachment(models.Model):
    notice = models.ForeignKey(Notice, verbose_name=_("notice"), on_delete=models.CASCADE, related_name="attachments")
    file = models.FileField(_("file"), upload_to=notice_upload_to, max_length=255)
    original_name = models.CharField(_("file name"), max_length=255)
    size = models.PositiveBigIntegerField(_("size (bytes)"))
    content_type = models.CharField(_("content type"), max_length=128)
    sha256 = models.CharField(_("SHA-256"), max_length=64)

    class Meta:
        verbose_name = _("notice attachment")
        verbose_name_plural = _("notice attachments")
        ordering = ["pk"]

    def __str__(self):
        return self.original_name


class NoticeRead(models.Model):
    """A read receipt: the user opened the notice (first time only)."""

    notice = models.ForeignKey(Notice, on_delete=models.CASCADE, related_name="reads")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    read_at = models.DateTimeField(_("read at"), default=timezone.now)

    class Meta:
        verbose_name = _("read receipt")
        verbose_name_plural = _("read receipts")
        constraints = [models.UniqueConstraint(fields=["notice", "user"], name="notice_read_once")]


# --- Needs and problems (问题直通) ---------------------------------------------------


class NeedState(models.TextChoices):
    PENDING = "pending", _("Pending")
    IN_PROGRESS = "in_progress", _("In progress")
    FORWARDED = "forwarded", _("Forwarded to the city office")
    RESOLVED = "resolved", _("Resolved")


class NeedQuerySet(ScopedQuerySet):
    scope_enterprise = "enterprise"
    scope_county = "county"


class Need(models.Model):
    """A problem or need an enterprise reports to its county office."""

    class Category(models.TextChoices):
        POLICY = "policy", _("Policy question")
        TRAINING = "training", _("Skills training")
        RIGHTS = "rights", _("Rights protection")
        FUNDING = "funding", _("Funding and support")
        OTHER = "other", _("Other")

    enterprise = models.ForeignKey(
        Enterprise, verbose_name=_("enterprise"), on_delete=models.PROTECT, related_name="needs"
    )
    # The enterprise's county when reported, so that scoping needs no join.
    county = models.ForeignKey(
        Region, verbose_name=_("county-level unit"), on_delete=models.PROTECT, related_name="needs"
    )
    reporter = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name=_("reported by"), on_delete=models.PROTECT, related_name="+"
    )
    category = models.CharField(_("category"), max_length=16, choices=Category.choices)
    text = models.TextField(_("description"))
    state = models.CharField(_("state"), max_length=16, choices=NeedState.choices, default=NeedState.PENDING)
    attachment = models.FileField(_("attachment"), upload_to=need_upload_to, max_length=255, blank=True)
    attachment_name = models.CharField(_("file name"), max_length=255, blank=True)
    attachment_type = models.CharField(_("content type"), max_length=128, blank=True)
    attachment_size = models.PositiveBigIntegerField(_("size (bytes)"), default=0)
    created_at = models.DateTimeField(_("reported at"), default=timezone.now, db_index=True)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    objects = NeedQuerySet.as_manager()

    class Meta:
        verbose_name = _("need or problem")
        verbose_name_plural = _("needs and problems")
        ordering = ["-created_at", "-pk"]
        indexes = [models.Index(fields=["county", "state"])]

    def __str__(self):
        return f"{self.enterprise} · {self.get_category_display()}"


class NeedMessage(models.Model):
    """One step of a need's thread: the report, a reply, a forward or the resolution."""

    class Action(models.TextChoices):
        REPORT = "report", _("Reported")
        REPLY = "reply", _("Replied")
        FORWARD = "forward", _("Forwarded to the city office")
        RESOLVE = "resolve", _("Resolved")

    need = models.ForeignKey(Need, on_delete=models.CASCADE, related_name="messages")
    action = models.CharField(_("action"), max_length=16, choices=Action.choices)
    author = models.ForeignKey(settings.AUTH_USER_MODEL, verbose_name=_("by"), on_delete=models.PROTECT, related_name="+")
    author_role = models.CharField(_("role"), max_length=32, choices=Profile.Role.choices)
    from_state = models.CharField(_("from state"), max_length=16, choices=NeedState.choices, blank=True)
    to_state = models.CharField(_("to state"), max_length=16, choices=NeedState.choices)
    text = models.TextField(_("text"), blank=True)
    at = models.DateTimeField(_("time"), default=timezone.now)

    class Meta:
        verbose_name = _("need message")
        verbose_name_plural = _("need messages")
        ordering = ["at", "pk"]


# --- Good-practice cases (优秀案例) ---------------------------------------------------


class ExampleCaseQuerySet(models.QuerySet):
    def visible_to(self, user):
        """Every user of the city sees its cases (their evidence is another matter)."""
        profile = Profile.for_user(user)
        if profile is None or profile.city is None:
            return self.none()
        return self.filter(city=profile.city)


class ExampleCase(models.Model):
    """A scored check-in the city office holds up as good practice."""

    city = models.ForeignKey(Region, verbose_name=_("city"), on_delete=models.PROTECT, related_name="+")
    checkin = models.OneToOneField(
        CheckIn, verbose_name=_("check-in"), on_delete=models.PROTECT, related_name="example_case"
    )
    title = models.CharField(_("title"), max_length=MAX_TITLE_LENGTH)
    summary = models.TextField(_("summary"))
    category = models.CharField(_("category"), max_length=16, choices=Indicator.Category.choices, db_index=True)
    is_public_evidence = models.BooleanField(
        _("evidence files public"),
        default=False,
        help_text=_("Whether every user of the city may download the check-in's evidence files."),
    )
    marked_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(_("created at"), default=timezone.now)

    objects = ExampleCaseQuerySet.as_manager()

    class Meta:
        verbose_name = _("good-practice case")
        verbose_name_plural = _("good-practice cases")
        ordering = ["-created_at", "-pk"]

    def __str__(self):
        return self.title
