"""Scoring rules and ranking snapshots: what the ranking pages, exports and API read.

A snapshot stands for one period and one day. scoring.engine writes it in one transaction
(a full recompute), and during that day brings it up to date in place after each score,
again in one transaction per job, so a page always reads one consistent ranking. The next
day's first change starts a new snapshot; movement and history compare snapshots.
"""

from decimal import Decimal

from django.conf import settings
from django.db import models
from django.db.models import OuterRef, Q, Subquery
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from enterprises.models import Enterprise, Region, ScopedQuerySet
from tasks.models import Period


class TieMethod(models.TextChoices):
    SHARED = "shared", _("Shared ranks (1, 2, 2, 4)")
    DENSE = "dense", _("Dense ranks (1, 2, 2, 3)")


class ScoringRule(models.Model):
    """How a period's rankings are computed; kept by the city office, every change recorded."""

    period = models.OneToOneField(Period, verbose_name=_("period"), on_delete=models.CASCADE, related_name="scoring_rule")
    # County score = office_weight × office rate + enterprise_weight × mean enterprise rate.
    office_weight = models.DecimalField(_("county office weight"), max_digits=5, decimal_places=2, default=Decimal("40"))
    enterprise_weight = models.DecimalField(
        _("enterprise weight"), max_digits=5, decimal_places=2, default=Decimal("60")
    )
    tie_method = models.CharField(_("ties"), max_length=16, choices=TieMethod.choices, default=TieMethod.SHARED)
    count_unfinished = models.BooleanField(
        _("count unfinished tasks"),
        default=True,
        help_text=_(
            "When on, a score rate divides by the points of every task; when off, only by the points of scored tasks."
        ),
    )
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    class Meta:
        verbose_name = _("scoring rule")
        verbose_name_plural = _("scoring rules")

    def __str__(self):
        return str(self.period)

    FIELDS = ("office_weight", "enterprise_weight", "tie_method", "count_unfinished")

    def as_dict(self):
        """The rule's values, JSON-ready, as recorded in its change history."""
        return {
            "office_weight": f"{self.office_weight:.2f}",
            "enterprise_weight": f"{self.enterprise_weight:.2f}",
            "tie_method": self.tie_method,
            "count_unfinished": self.count_unfinished,
        }

    @classmethod
    def for_period(cls, period):
        """The period's rule, created with the defaults of DOMAIN.md on first use."""
        rule, _created = cls.objects.get_or_create(period=period)
        return rule


class ScoringRuleChange(models.Model):
    """One edit of a scoring rule: who, when, the values before and after. Append-only."""

    rule = models.ForeignKey(ScoringRule, verbose_name=_("scoring rule"), on_delete=models.CASCADE, related_name="changes")
    changed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name=_("changed by"), on_delete=models.PROTECT, related_name="+"
    )
    changed_at = models.DateTimeField(_("changed at"), default=timezone.now)
    before = models.JSONField(_("before"))
    after = models.JSONField(_("after"))

    class Meta:
        verbose_name = _("scoring rule change")
        verbose_name_plural = _("scoring rule changes")
        ordering = ["-changed_at", "-pk"]


class RecomputeRequest(models.Model):
    """A ranking change waiting to be applied, written in the same transaction as the score.

    Kept in Postgres rather than only in the broker, so that a score given while Redis is
    down is still ranked: the periodic sweep picks up whatever the queue lost.
    `enterprise` is the enterprise whose figures changed (null: only the county rows, e.g.
    a county office's own task); `full` asks for a whole new snapshot (a rule change).
    """

    period = models.ForeignKey(Period, on_delete=models.CASCADE, related_name="+")
    enterprise = models.ForeignKey(Enterprise, on_delete=models.CASCADE, null=True, blank=True, related_name="+")
    full = models.BooleanField(default=False)
    requested_at = models.DateTimeField(default=timezone.now)

    class Meta:
        verbose_name = _("pending ranking update")
        verbose_name_plural = _("pending ranking updates")
        indexes = [models.Index(fields=["period", "requested_at"])]


class RankingSnapshotQuerySet(models.QuerySet):
    def latest_for(self, period):
        """The newest snapshot of the period, or None."""
        return self.filter(period=period).order_by("-created_at", "-pk").first()


class RankingSnapshot(models.Model):
    period = models.ForeignKey(Period, verbose_name=_("period"), on_delete=models.CASCADE, related_name="snapshots")
    # The day (Asia/Shanghai) the snapshot stands for: during that day it is brought up to date
    # in place after each score; the first change of a new day starts a new snapshot, so
    # movement and rank history compare day with day.
    taken_on = models.DateField(_("date"), db_index=True)
    created_at = models.DateTimeField(_("created at"), default=timezone.now)
    computed_at = models.DateTimeField(_("computed at"), default=timezone.now, db_index=True)
    trigger = models.CharField(_("trigger"), max_length=64, blank=True)
    office_weight = models.DecimalField(_("county office weight"), max_digits=5, decimal_places=2)
    enterprise_weight = models.DecimalField(_("enterprise weight"), max_digits=5, decimal_places=2)
    tie_method = models.CharField(_("ties"), max_length=16, choices=TieMethod.choices, default=TieMethod.SHARED)
    count_unfinished = models.BooleanField(_("count unfinished tasks"), default=True)
    # The snapshot this one is compared with for movement (the period's newest one when this
    # one was created). A snapshot no longer changes once a newer one exists, so an
    # enterprise's previous rank is read from its bands when shown, rather than copied into
    # each of a province's 100,000 new rows (0.3-0.4 s of every full recompute).
    previous = models.ForeignKey(
        "self",
        verbose_name=_("previous snapshot"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
    )

    objects = RankingSnapshotQuerySet.as_manager()

    class Meta:
        verbose_name = _("ranking snapshot")
        verbose_name_plural = _("ranking snapshots")
        ordering = ["-created_at", "-pk"]

    def __str__(self):
        return f"{self.period} @ {self.taken_on:%Y-%m-%d}"

    def matches(self, rule):
        """Whether this snapshot was computed under `rule`'s current values."""
        return (
            self.office_weight == rule.office_weight
            and self.enterprise_weight == rule.enterprise_weight
            and self.tie_method == rule.tie_method
            and self.count_unfinished == rule.count_unfinished
        )


class CountyRanking(models.Model):
    """A county's score in a snapshot, with every part that made it."""

    snapshot = models.ForeignKey(RankingSnapshot, on_delete=models.CASCADE, related_name="county_rankings")
    county = models.ForeignKey(Region, verbose_name=_("county-level unit"), on_delete=models.CASCADE, related_name="+")
    office_points = models.DecimalField(_("office points"), max_digits=9, decimal_places=2)
    office_max_points = models.DecimalField(_("office max points"), max_digits=9, decimal_places=2)
    office_rate = models.DecimalField(_("office score rate"), max_digits=7, decimal_places=4, null=True)
    enterprises_counted = models.PositiveIntegerField(_("enterprises counted"))
    enterprise_mean_rate = models.DecimalField(
        _("mean enterprise score rate"), max_digits=7, decimal_places=4, null=True
    )
    score = models.DecimalField(_("county score"), max_digits=6, decimal_places=2)
    rank = models.PositiveIntegerField(_("rank"))
    previous_rank = models.PositiveIntegerField(_("previous rank"), null=True)

    class Meta:
        verbose_name = _("county ranking")
        verbose_name_plural = _("county rankings")
        ordering = ["rank", "county__order"]
        constraints = [
            models.UniqueConstraint(fields=["snapshot", "county"], name="county_ranking_unique"),
        ]

    @property
    def movement(self):
        """Places gained since the previous snapshot (positive = up), or None if new."""
        if self.previous_rank is None:
            return None
        return self.previous_rank - self.rank


class EnterpriseRankingQuerySet(ScopedQuerySet):
    scope_enterprise = "enterprise"
    scope_county = "county"

    def with_ranks(self):
        """Annotate each row's ranks, read from rank bands (a unique-index lookup each):
        `rank_in_county`, `rank_in_city`, and `previous_rank_in_city`, the city rank of the
        enterprise's points in the previous snapshot (None when it was not ranked there)."""
        bands = RankBand.objects.filter(snapshot_id=OuterRef("snapshot_id"), points=OuterRef("points"))
        previous_points = EnterpriseRanking.objects.filter(
            snapshot_id=OuterRef("snapshot__previous_id"), enterprise_id=OuterRef("enterprise_id")
        ).values("points")[:1]
        previous_band = RankBand.objects.filter(
            snapshot_id=OuterRef("snapshot__previous_id"), county__isnull=True, points=OuterRef("previous_points")
        )
        return self.alias(previous_points=Subquery(previous_points)).annotate(
            rank_in_county=Subquery(bands.filter(county_id=OuterRef("county_id")).values("rank")[:1]),
            rank_in_city=Subquery(bands.filter(county__isnull=True).values("rank")[:1]),
            previous_rank_in_city=Subquery(previous_band.values("rank")[:1]),
        )


class EnterpriseRanking(models.Model):
    """An enterprise's points in a snapshot. Its ranks are not stored here but read from the
    snapshot's RankBand rows (EnterpriseRanking.objects.with_ranks())."""

    # Rows are only ever read within one snapshot, through the composite indexes below; a
    # one-column index per key would cost each full recompute 0.3 s of index writes at
    # 100,000 enterprises and serve no query.
    # Derived rows, written only by scoring.engine in the transaction that creates their
    # snapshot, from existing assignments: the database need not re-check these three keys
    # for each of a province's 100,000 rows at commit (0.3 s for the snapshot key alone, and
    # the other two were a third of a full recompute). Deleting a snapshot still deletes its
    # rows (Django's CASCADE).
    snapshot = models.ForeignKey(
        RankingSnapshot,
        on_delete=models.CASCADE,
        db_constraint=False,
        db_index=False,
        related_name="enterprise_rankings",
    )
    enterprise = models.ForeignKey(
        Enterprise,
        verbose_name=_("enterprise"),
        on_delete=models.DO_NOTHING,
        db_constraint=False,
        db_index=False,
        related_name="+",
    )
    county = models.ForeignKey(
        Region,
        verbose_name=_("county-level unit"),
        on_delete=models.DO_NOTHING,
        db_constraint=False,
        db_index=False,
        related_name="+",
    )
    points = models.DecimalField(_("points"), max_digits=9, decimal_places=2)
    max_points = models.DecimalField(_("max points"), max_digits=9, decimal_places=2)
    score_rate = models.DecimalField(_("score rate"), max_digits=7, decimal_places=4, null=True)
    assigned_count = models.PositiveIntegerField(_("tasks assigned"))
    scored_count = models.PositiveIntegerField(_("tasks scored"))

    objects = EnterpriseRankingQuerySet.as_manager()

    class Meta:
        verbose_name = _("enterprise ranking")
        verbose_name_plural = _("enterprise rankings")
        ordering = ["-points", "enterprise_id"]
        constraints = [
            models.UniqueConstraint(fields=["snapshot", "enterprise"], name="enterprise_ranking_unique"),
        ]
        # Rank order is points order, which these indexes serve.
        indexes = [
            models.Index(fields=["snapshot", "-points", "enterprise"], name="enterprise_ranking_order"),
            models.Index(fields=["snapshot", "county", "-points"], name="enterprise_ranking_county"),
        ]

    @property
    def movement(self):
        """Places gained in the city since the previous snapshot (positive = up), or None if
        new. Needs the rank annotations of with_ranks()."""
        if self.previous_rank_in_city is None:
            return None
        return self.previous_rank_in_city - self.rank_in_city

    @property
    def completion(self):
        return self.scored_count / self.assigned_count if self.assigned_count else None


class RankBand(models.Model):
    """Every enterprise of a snapshot with the same points in the same scope (one county, or
    the whole city when `county` is null) shares one rank: this row holds how many there are
    and that rank.

    Ranks live here rather than on the enterprise rows because a score moves one enterprise
    past thousands of others (every unscored enterprise at 0 points, say), and storing ranks
    per enterprise meant rewriting all of their rows. A score changes a few bands: its
    enterprise's old and new points in its county and in the city, and the ranks of the city
    bands in between (one per distinct points value, not per enterprise).
    """

    snapshot = models.ForeignKey(RankingSnapshot, on_delete=models.CASCADE, related_name="rank_bands")
    county = models.ForeignKey(
        Region,
        verbose_name=_("county-level unit"),
        on_delete=models.DO_NOTHING,
        db_constraint=False,
        db_index=False,
        null=True,
        blank=True,
        related_name="+",
    )
    points = models.DecimalField(_("points"), max_digits=9, decimal_places=2)
    enterprises = models.PositiveIntegerField(_("number of enterprises"))
    rank = models.PositiveIntegerField(_("rank"))

    class Meta:
        verbose_name = _("rank band")
        verbose_name_plural = _("rank bands")
        constraints = [
            models.UniqueConstraint(
                fields=["snapshot", "points"], condition=Q(county__isnull=True), name="rank_band_city"
            ),
            models.UniqueConstraint(
                fields=["snapshot", "county", "points"], condition=Q(county__isnull=False), name="rank_band_county"
            ),
        ]
        # The city bands of a few points values are rebuilt from the county bands.
        indexes = [
            models.Index(fields=["snapshot", "points"], condition=Q(county__isnull=False), name="rank_band_points")
        ]

