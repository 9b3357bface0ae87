"""Reads for the dashboards and their drill-down lists.

Every figure is aggregated in the database (Count/Sum with filters, grouped by values()),
always starting from a visible_to() queryset, so a dashboard can only count what its user
may see and costs the same handful of queries for 20 enterprises as for 100,000.
"""

from django.db.models import (
    Count,
    DecimalField,
    ExpressionWrapper,
    F,
    FloatField,
    Max,
    Min,
    OuterRef,
    Q,
    Subquery,
    Sum,
    Value,
)
from django.db.models.functions import Cast, Coalesce
from django.utils import timezone

from enterprises.models import Enterprise
from scoring.models import CountyRanking, EnterpriseRanking, RankingSnapshot
from tasks.models import Assignment, AssignmentState, CheckIn, CheckInState, ReviewEvent

S = AssignmentState
# How many snapshots the rank-over-time chart shows, and how many rows the short lists show.
HISTORY_LENGTH = 30
SHORT_LIST = 10

ZERO = Value(0, output_field=DecimalField(max_digits=12, decimal_places=2))


def state_counts(prefix=""):
    """Count() aggregates of assignments per state; `prefix` is the path to the assignment."""
    state = f"{prefix}state"
    pk = f"{prefix}pk" if prefix else "pk"
    return {
        "assigned": Count(pk, distinct=bool(prefix)),
        "not_submitted": Count(pk, filter=Q(**{state: S.NOT_SUBMITTED}), distinct=bool(prefix)),
        "pending_county": Count(pk, filter=Q(**{state: S.PENDING_COUNTY_REVIEW}), distinct=bool(prefix)),
        "pending_city": Count(pk, filter=Q(**{state: S.PENDING_CITY_REVIEW}), distinct=bool(prefix)),
        "returned": Count(pk, filter=Q(**{state: S.RETURNED}), distinct=bool(prefix)),
        "scored": Count(pk, filter=Q(**{state: S.SCORED}), distinct=bool(prefix)),
    }


def _with_rates(rows):
    """Adds completion (scored / assigned) as a percentage with one decimal to each row."""
    for row in rows:
        row["completion"] = round(100 * row["scored"] / row["assigned"], 1) if row["assigned"] else 0.0
    return rows


def enterprise_assignments(user, period):
    """The period's enterprise tasks the user may see."""
    return Assignment.objects.visible_to(user).filter(period=period, enterprise__isnull=False)


def figures_by(user, period, fields, order_by):
    """Tasks per state, enterprises and points grouped by `fields` (lookups from Assignment)."""
    rows = (
        enterprise_assignments(user, period)
        .values(*fields)
        .annotate(
            enterprises=Count("enterprise", distinct=True),
            points=Coalesce(Sum("points"), ZERO),
            **state_counts(),
        )
        .order_by(*order_by)
    )
    return _with_rates(list(rows))


def by_county(user, period):
    return figures_by(user, period, ["county", "county__name", "county__order", "county__code"], ["county__order", "county__code"])


def by_enterprise_field(user, period, field):
    """Figures by an Enterprise choice field (size_class, ownership, pilot_level), in choice order."""
    choices = Enterprise._meta.get_field(field).choices
    rows = {row[f"enterprise__{field}"]: row for row in figures_by(user, period, [f"enterprise__{field}"], [])}
    result = []
    for value, label in choices:
        if value in rows:
            row = rows[value]
            row.update(value=value, label=str(label))
            result.append(row)
    return result


def waiting_by_step(user):
    """Check-ins waiting at each review step: how many and since when (oldest first)."""
    rows = (
        CheckIn.objects.visible_to(user)
        .filter(state__in=[CheckInState.PENDING_COUNTY_REVIEW, CheckInState.PENDING_CITY_REVIEW])
        .values("state")
        .annotate(count=Count("pk"), oldest=Min("submitted_at"))
        .order_by("oldest")
    )
    now = timezone.now()
    result = []
    for row in rows:
        row["oldest_days"] = (now - row["oldest"]).days if row["oldest"] else None
        result.append(row)
    return result


def oldest_waiting(user, states, limit=SHORT_LIST):
    """The longest-waiting check-ins in the given states, oldest first, with what their rows show."""
    return list(
        CheckIn.objects.visible_to(user)
        .filter(state__in=states)
        .select_related("assignment__indicator", "assignment__enterprise", "assignment__county")
        .order_by("submitted_at", "pk")[:limit]
    )


def count_waiting(user, state):
    return CheckIn.objects.visible_to(user).filter(state=state).count()


def lowest_indicators(user, period, limit=SHORT_LIST):
    """Indicators with the lowest completion (scored / assigned) in the user's scope."""
    rate = ExpressionWrapper(
        Cast(Count("pk", filter=Q(state=S.SCORED)), FloatField()) / Cast(Count("pk"), FloatField()),
        output_field=FloatField(),
    )
    rows = (
        Assignment.objects.visible_to(user)
        .filter(period=period)
        .values("indicator", "indicator__code", "indicator__title", "indicator__category", "indicator__target")
        .annotate(rate=rate, points=Coalesce(Sum("points"), ZERO), **state_counts())
        .order_by("rate", "indicator__order", "indicator__code")[:limit]
    )
    return _with_rates(list(rows))


def snapshots_for_history(period, limit=HISTORY_LENGTH):
    """The period's newest `limit` snapshots, oldest first (one query)."""
    snapshots = list(RankingSnapshot.objects.filter(period=period).order_by("-created_at", "-pk")[:limit])
    snapshots.reverse()
    return snapshots


def county_rank_history(period, snapshots, county=None):
    """CountyRanking rows of the given snapshots (rank over time), one query."""
    rows = CountyRanking.objects.filter(snapshot__in=[s.pk for s in snapshots]).select_related("county")
    if county is not None:
        rows = rows.filter(county=county)
    return list(rows.select_related("snapshot").order_by("county__order", "county__code", "snapshot__created_at"))


def county_count(snapshot):
    return CountyRanking.objects.filter(snapshot=snapshot).count() if snapshot else 0


def county_rankings(snapshot):
    if snapshot is None:
        return []
    return list(CountyRanking.objects.filter(snapshot=snapshot).select_related("county").order_by("rank", "county__order"))


# --- Enterprises with their figures ----------------------------------------------------


def enterprises_with_figures(user, period, snapshot):
    """The user's enterprises with their tasks per state and points in the period and their
    ranks from the snapshot: one query, however many enterprises."""
    in_period = Q(assignments__period=period)
    counts = {
        name: Count("assignments", filter=in_period & aggregate.filter if aggregate.filter else in_period)
        for name, aggregate in state_counts("assignments__").items()
    }
    ranking = EnterpriseRanking.objects.filter(snapshot=snapshot, enterprise=OuterRef("pk")).with_ranks()
    return (
        Enterprise.objects.visible_to(user)
        .filter(is_active=True)
        .select_related("county")
        .annotate(
            points=Coalesce(Sum("assignments__points", filter=in_period), ZERO),
            rank_in_county=Subquery(ranking.values("rank_in_county")[:1]),
            rank_in_city=Subquery(ranking.values("rank_in_city")[:1]),
            **counts,
        )
        .annotate(started=F("assigned") - F("not_submitted"))
    )


def with_completion(enterprises):
    """Completion percentages for a page of annotated enterprises (no queries)."""
    for enterprise in enterprises:
        enterprise.completion = (
            round(100 * enterprise.scored / enterprise.assigned, 1) if enterprise.assigned else 0.0
        )
    return enterprises


# --- The enterprise liaison's page -----------------------------------------------------


def liaison_assignments(user, period):
    """The liaison's tasks with the reason of the latest return annotated (one query)."""
    last_return = ReviewEvent.objects.filter(
        checkin__assignment=OuterRef("pk"), to_state=CheckInState.RETURNED
    ).order_by("-at", "-pk")
    return list(
        Assignment.objects.visible_to(user)
        .filter(period=period)
        .select_related("indicator")
        .annotate(
            return_reason=Subquery(last_return.values("comment")[:1]),
            returned_at=Subquery(last_return.values("at")[:1]),
            latest_version=Max("checkins__version"),
        )
        .order_by("indicator__order", "indicator__code", "pk")
    )


def enterprise_ranking(snapshot, enterprise):
    if snapshot is None or enterprise is None:
        return None
    return EnterpriseRanking.objects.filter(snapshot=snapshot, enterprise=enterprise).with_ranks().first()


def county_ranking(snapshot, county):
    if snapshot is None or county is None:
        return None
    return CountyRanking.objects.filter(snapshot=snapshot, county=county).first()
