"""Ranking snapshots: what the ranking pages and exports read.

A snapshot is written whole in one transaction by scoring.engine.compute_snapshot and
never changed afterwards, so a page always shows one consistent ranking and movement
can be read against the previous snapshot.
"""

from django.db import models
from django.utils.translation import gettext_lazy as _

from enterprises.models import Enterprise, Region
from tasks.models import Period


class RankingSnapshotQuerySet(models.QuerySet):
    def latest_for(self, period):
        """The newest snapshot of the period, or None."""
        return self.filter(period=period).order_by("-computed_at", "-pk").first()


class RankingSnapshot(models.Model):
    period = models.ForeignKey(Period, verbose_name=_("period"), on_delete=models.CASCADE, related_name="snapshots")
    computed_at = models.DateTimeField(_("computed at"), auto_now_add=True, db_index=True)
    trigger = models.CharField(_("trigger"), max_length=64, blank=True)
    office_weight = models.DecimalField(_("county office weight"), max_digits=5, decimal_places=2)
    enterprise_weight = models.DecimalField(_("enterprise weight"), max_digits=5, decimal_places=2)

    objects = RankingSnapshotQuerySet.as_manager()

    class Meta:
        verbose_name = _("ranking snapshot")
        verbose_name_plural = _("ranking snapshots")
        ordering = ["-computed_at", "-pk"]

    def __str__(self):
        return f"{self.period} @ {self.computed_at:%Y-%m-%d %H:%M:%S}"


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


class EnterpriseRanking(models.Model):
    """An enterprise's points and ranks in a snapshot."""

    snapshot = models.ForeignKey(RankingSnapshot, on_delete=models.CASCADE, related_name="enterprise_rankings")
    enterprise = models.ForeignKey(Enterprise, verbose_name=_("enterprise"), on_delete=models.CASCADE, related_name="+")
    county = models.ForeignKey(Region, verbose_name=_("county-level unit"), on_delete=models.CASCADE, related_name="+")
    points = models.DecimalField(_("points"), max_digits=9, decimal_places=2)
    max_points = models.DecimalField(_("max points"), max_digits=9, decimal_places=2)
    score_rate = models.DecimalField(_("score rate"), max_digits=7, decimal_places=4, null=True)
    assigned_count = models.PositiveIntegerField(_("tasks assigned"))
    scored_count = models.PositiveIntegerField(_("tasks scored"))
    rank_in_county = models.PositiveIntegerField(_("rank in county"))
    rank_in_city = models.PositiveIntegerField(_("rank in city"))

    class Meta:
        verbose_name = _("enterprise ranking")
        verbose_name_plural = _("enterprise rankings")
        ordering = ["rank_in_city", "enterprise_id"]
        constraints = [
            models.UniqueConstraint(fields=["snapshot", "enterprise"], name="enterprise_ranking_unique"),
        ]
        indexes = [models.Index(fields=["snapshot", "county", "rank_in_county"])]

    @property
    def completion(self):
        return self.scored_count / self.assigned_count if self.assigned_count else None
