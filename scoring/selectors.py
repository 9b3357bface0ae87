"""Reads of the ranking snapshots, scoped to the user: the rankings page and the Excel
exports call the same functions, so the page and the file can never disagree about who
sees which row."""

from collections.abc import Sequence
from decimal import Decimal

from django.contrib.auth.base_user import AbstractBaseUser
from django.core.exceptions import PermissionDenied
from django.db.models import Count, DecimalField, ExpressionWrapper, F, Q, QuerySet, Sum
from django.http import Http404
from django.utils.translation import gettext as _

from enterprises.capabilities import may_see_county_rankings
from enterprises.models import Enterprise, Profile, Region, with_names
from tasks import selectors as task_selectors
from tasks.models import Assignment, Period

from .models import (
    CountyRanking,
    EnterpriseRanking,
    RankingSnapshot,
    RecomputeRequest,
    ScoringRule,
    ScoringRuleChange,
)


def _percent(field):
    """A rate (a fraction) as a percentage, computed in the query for display."""
    return ExpressionWrapper(F(field) * 100, output_field=DecimalField(max_digits=9, decimal_places=4))


def period_for(profile: Profile, period_id: str | int | None = None) -> Period | None:
    """The requested period of the user's city (404 when it is not the user's), else the current one."""
    if period_id in (None, ""):
        return Period.current_for_city(profile.city)
    try:
        return task_selectors.periods_for(profile).get(pk=int(period_id))
    except (ValueError, TypeError, Period.DoesNotExist):
        raise Http404(_("No such period.")) from None


def latest_snapshot(period: Period | None) -> RankingSnapshot | None:
    """The newest ranking snapshot of the period, or None (also when there is no period)."""
    if period is None:
        return None
    return RankingSnapshot.objects.latest_for(period)


def counties_for(profile: Profile) -> QuerySet[Region]:
    """The county-level units the user may filter rankings by: the scope's counties."""
    counties = Region.objects.filter(level=Region.Level.COUNTY)
    if profile.enterprise_id:
        return counties.filter(pk=profile.enterprise.county_id)
    if profile.region_id is None:
        return counties.none()
    if profile.region.level == Region.Level.COUNTY:
        return counties.filter(pk=profile.region_id)
    if profile.region.level == Region.Level.CITY:
        return counties.filter(parent_id=profile.region_id)
    return counties.filter(parent__parent_id=profile.region_id)


def county_for(profile: Profile, county_id: str | int | None = None) -> Region | None:
    """The requested county if it is in the user's scope (404 otherwise), or None for no filter."""
    if county_id in (None, ""):
        return None
    try:
        return counties_for(profile).get(pk=int(county_id))
    except (ValueError, TypeError, Region.DoesNotExist):
        raise Http404(_("No such county-level unit.")) from None


def county_rankings_for(profile: Profile, snapshot: RankingSnapshot | None) -> QuerySet[CountyRanking]:
    """The snapshot's county rows the user may see, best first (none for enterprise-level users)."""
    if snapshot is None or not may_see_county_rankings(profile):
        return CountyRanking.objects.none()
    return (
        CountyRanking.objects.filter(snapshot=snapshot)
        .select_related("county")
        .annotate(office_percent=_percent("office_rate"), enterprise_mean_percent=_percent("enterprise_mean_rate"))
        .order_by("rank", "county__order", "county__code")
    )


def enterprise_rankings_for(
    user: AbstractBaseUser, snapshot: RankingSnapshot | None, county: Region | None = None
) -> QuerySet[EnterpriseRanking]:
    """The snapshot's enterprise rows in the user's scope (visible_to), optionally of one
    county, best first.

    A liaison gets its own row, a county office its county, the city office the whole city.
    """
    if snapshot is None:
        return EnterpriseRanking.objects.none()
    rows = (
        EnterpriseRanking.objects.visible_to(user)
        .filter(snapshot=snapshot)
        .with_ranks()
        .select_related("enterprise", "county")
        .annotate(score_percent=_percent("score_rate"))
        # The rank order, on columns of the ranking table that an index covers, so that a
        # deep page of a province's ranking is an index walk, not a sort of every row.
        .order_by("-points", "enterprise_id")
    )
    if county is not None:
        rows = rows.filter(county=county)
    return rows


# --- The explanation pages -------------------------------------------------------------

# How many of a county's daily snapshots the explanation page charts.
HISTORY_LENGTH = 30


def county_for_explanation(profile: Profile, period: Period | None, county_id: int) -> Region:
    """A county of the period's city whose figures the user may read.

    403 for roles that do not see the county ranking (liaisons, enterprise observers), as
    the rankings page hides that table from them; 404 for a county outside the city.
    """
    if not may_see_county_rankings(profile):
        raise PermissionDenied(_("Your role cannot see the county ranking."))
    if period is None:
        raise Http404(_("There is no assessment period yet."))
    try:
        return Region.objects.get(pk=county_id, level=Region.Level.COUNTY, parent_id=period.city_id)
    except Region.DoesNotExist:
        raise Http404(_("No such county-level unit.")) from None


def county_ranking(snapshot: RankingSnapshot | None, county: Region) -> CountyRanking | None:
    """The county's row in the snapshot, or None (not computed yet, or a county added since)."""
    if snapshot is None:
        return None
    return CountyRanking.objects.filter(snapshot=snapshot, county=county).select_related("county").first()


def county_enterprise_rate_sum(snapshot: RankingSnapshot | None, county: Region) -> Decimal | None:
    """Σ of the score rates that make the county's mean enterprise rate, from the same snapshot."""
    if snapshot is None:
        return None
    return (
        EnterpriseRanking.objects.filter(snapshot=snapshot, county=county, score_rate__isnull=False)
        .aggregate(total=Sum("score_rate"))["total"]
    )


def county_office_assignments(period: Period, county: Region) -> QuerySet[Assignment]:
    """The county office's own tasks of the period, in library order."""
    return (
        Assignment.objects.filter(period=period, county=county, enterprise__isnull=True)
        .select_related("indicator")
        .order_by("indicator__order", "indicator__code", "pk")
    )


def county_history(period: Period, county: Region, limit: int = HISTORY_LENGTH) -> list[CountyRanking]:
    """The county's rank and score in the period's snapshots, oldest first (the newest `limit`)."""
    rows = list(
        CountyRanking.objects.filter(snapshot__period=period, county=county)
        .select_related("snapshot")
        .order_by("-snapshot__created_at", "-snapshot__pk")[:limit]
    )
    rows.reverse()
    return rows


def recent_snapshots(period: Period | None, limit: int = HISTORY_LENGTH) -> list[RankingSnapshot]:
    """The period's newest `limit` snapshots, oldest first (one query; none without a period)."""
    if period is None:
        return []
    snapshots = list(RankingSnapshot.objects.filter(period=period).order_by("-created_at", "-pk")[:limit])
    snapshots.reverse()
    return snapshots


def county_rank_history(
    profile: Profile, snapshots: Sequence[RankingSnapshot], county: Region | None = None
) -> list[CountyRanking]:
    """The county rows of these snapshots that the user may see (none for enterprise-level
    users), optionally of one county, by county then date: ranks over time in one query."""
    if not snapshots or not may_see_county_rankings(profile):
        return []
    rows = CountyRanking.objects.filter(snapshot__in=[s.pk for s in snapshots]).select_related("county", "snapshot")
    if county is not None:
        rows = rows.filter(county=county)
    return list(rows.order_by("county__order", "county__code", "snapshot__created_at"))


def may_filter_by_county(profile: Profile, county: Region) -> bool:
    """Whether the rankings page accepts ?county= for this county for the user."""
    return counties_for(profile).filter(pk=county.pk).exists()


def enterprise_for_explanation(user: AbstractBaseUser, enterprise_id: int) -> Enterprise:
    """An enterprise in the user's scope (404 otherwise), with its county."""
    try:
        return Enterprise.objects.visible_to(user).select_related("county").get(pk=enterprise_id)
    except Enterprise.DoesNotExist:
        raise Http404(_("No such enterprise.")) from None


def enterprise_ranking(snapshot: RankingSnapshot | None, enterprise: Enterprise) -> EnterpriseRanking | None:
    """The enterprise's row in the snapshot, or None (no tasks, inactive, or not computed yet)."""
    if snapshot is None:
        return None
    return (
        EnterpriseRanking.objects.filter(snapshot=snapshot, enterprise=enterprise)
        .with_ranks()
        .annotate(score_percent=_percent("score_rate"))
        .first()
    )


def enterprise_assignments(period: Period, enterprise: Enterprise) -> QuerySet[Assignment]:
    """The enterprise's tasks of the period with their indicators, in library order."""
    return (
        Assignment.objects.filter(period=period, enterprise=enterprise)
        .select_related("indicator")
        .order_by("indicator__order", "indicator__code", "pk")
    )


def ranking_update_pending(period: Period, enterprise: Enterprise | None = None) -> bool:
    """Whether a ranking change is still queued: for the enterprise's figures (or a full
    recompute) when one is given, else any change of the period (a county's mean and rank
    move with every enterprise's and office's points)."""
    requests = RecomputeRequest.objects.filter(period=period)
    if enterprise is not None:
        requests = requests.filter(Q(full=True) | Q(enterprise=enterprise))
    return requests.exists()


def current_rule(period: Period | None) -> ScoringRule | None:
    """The period's scoring rule as it stands, without creating it (unsaved defaults if none)."""
    if period is None:
        return None
    return ScoringRule.objects.filter(period=period).first() or ScoringRule(period=period)


def rule_changes(period: Period, limit: int = 100) -> QuerySet[ScoringRuleChange]:
    """The period's scoring-rule changes, newest first, with who made them."""
    return ScoringRuleChange.objects.filter(rule__period=period).select_related(*with_names("changed_by"))[:limit]


# --- How many are ranked (ranks read "n/N") ----------------------------------------------


def ranked_counts(snapshot: RankingSnapshot | None) -> dict:
    """How many enterprises the snapshot ranks in the city and in each county (one query),
    so a rank reads 3/105: {"city": N, "county": {county_id: n}}. Counts are of the whole
    ranking, not of the user's scope: a rank's N is the same for everyone who sees it."""
    if snapshot is None:
        return {"city": 0, "county": {}}
    by_county = dict(
        EnterpriseRanking.objects.filter(snapshot=snapshot)
        .values_list("county")
        .annotate(n=Count("pk"))
        .order_by()
        .values_list("county", "n")
    )
    return {"city": sum(by_county.values()), "county": by_county}


def counties_ranked(snapshot: RankingSnapshot | None) -> int:
    """How many county-level units the snapshot ranks (the N of a county's rank n/N)."""
    if snapshot is None:
        return 0
    return CountyRanking.objects.filter(snapshot=snapshot).count()
