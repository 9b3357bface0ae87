"""Reads for the dashboards and their drill-down lists.

Every figure is aggregated in the database (Count/Sum with filters, grouped by values()),
always starting from a visible_to() queryset, so a dashboard can only count what its user
may see (rankings are read through scoring.selectors, scoped the same way) and costs the same handful of queries for 20 enterprises as for 100,000. Figures per
county, size, ownership and enterprise add up tasks.EnterpriseProgress (one row per enterprise
and period, kept by database triggers) rather than the ~16 tasks of every enterprise.
"""

from decimal import Decimal

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
from scoring.figures import rate
from scoring.models import EnterpriseRanking
from tasks.models import (
    Assignment,
    CheckIn,
    CheckInState,
    EnterpriseProgress,
    IndicatorProgress,
    ProgressCounters,
    ReviewEvent,
)

# How many rows the short lists show.
SHORT_LIST = 10

ZERO = Value(0, output_field=DecimalField(max_digits=12, decimal_places=2))


def completion(scored, assigned):
    """完成率: scored tasks as a percentage of all tasks, with one decimal (0.0 without tasks)."""
    return rate(scored, assigned)


def submitted(assigned, not_submitted):
    """Tasks checked in at least once: every task but the never-submitted ones (a returned
    task stays submitted, and a resubmission is still one task)."""
    return assigned - not_submitted


def _with_rates(rows):
    """Adds completion (完成率: scored / assigned), the tasks submitted at least once and
    the submission rate (提交率: submitted / assigned) to each row."""
    for row in rows:
        row["completion"] = completion(row["scored"], row["assigned"])
        row["submitted"] = submitted(row["assigned"], row["not_submitted"])
        row["submission"] = rate(row["submitted"], row["assigned"])
    return rows


def progress_sums():
    """Sum() aggregates of the progress counters: tasks ("assigned"), tasks per state
    (not_submitted, pending_county, pending_city, returned, scored) and points."""
    sums = {name: Sum(name) for name in ProgressCounters.COUNTS}
    sums["points"] = Coalesce(Sum("points"), ZERO)
    return sums


def figures_by(user, period, fields, order_by):
    """Tasks per state, enterprises and points grouped by `fields` (lookups that
    EnterpriseProgress and Assignment share: county, enterprise__…). Adds up the
    per-enterprise counters the database keeps, not the tasks: 100,000 rows for a province."""
    rows = (
        EnterpriseProgress.objects.visible_to(user)
        .filter(period=period, assigned__gt=0)
        .values(*fields)
        .annotate(enterprises=Count("enterprise", distinct=True), **progress_sums())
        .order_by(*order_by)
    )
    return _with_rates(list(rows))


def by_county(user, period):
    """Figures per county-level unit: its enterprises' tasks, states, completion and
    企业得分合计, and its submission rate over all its tasks, the county office's own included
    (what the city chases a county on mid-period)."""
    rows = figures_by(
        user, period, ["county", "county__name", "county__order", "county__code"], ["county__order", "county__code"]
    )
    everything = {
        row["county"]: row
        for row in IndicatorProgress.objects.visible_to(user)
        .filter(period=period)
        .values("county")
        .annotate(tasks=Sum("assigned"), waiting=Sum("not_submitted"))
        .order_by()
    }
    for row in rows:
        own = everything.get(row["county"], {"tasks": row["assigned"], "waiting": row["not_submitted"]})
        row["all_tasks"] = own["tasks"]
        row["submitted"] = submitted(own["tasks"], own["waiting"])
        row["submission"] = rate(row["submitted"], own["tasks"])
    return rows


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
    """Indicators with the lowest completion (scored / assigned) in the user's scope, from the
    per-indicator counters (a few hundred rows per period, not every task)."""
    rate = ExpressionWrapper(
        Cast(Sum("scored"), FloatField()) / Cast(Sum("assigned"), FloatField()), output_field=FloatField()
    )
    rows = (
        IndicatorProgress.objects.visible_to(user)
        .filter(period=period, assigned__gt=0)
        .values("indicator", "indicator__code", "indicator__title", "indicator__category", "indicator__target")
        .annotate(rate=rate, **progress_sums())
        .order_by("rate", "indicator__order", "indicator__code")[:limit]
    )
    return _with_rates(list(rows))


# --- Enterprises with their figures ----------------------------------------------------


def enterprises_for_listing(user, snapshot):
    """The user's active enterprises, ready to sort in rank order (RANK_ORDER) and to page;
    attach_figures() then adds the figures of the page's rows.

    Rank order sorts by the snapshot's points (descending, nulls last): ranks come from the
    points, and sorting by rank would read two rank bands for every enterprise first (at
    100,000 enterprises, 0.4 s of the city's enterprise list)."""
    ranking = EnterpriseRanking.objects.filter(snapshot=snapshot, enterprise=OuterRef("pk"))
    return (
        Enterprise.objects.visible_to(user)
        .filter(is_active=True)
        .select_related("county")
        .alias(ranking_points=Subquery(ranking.values("points")[:1]))
    )


def attach_figures(enterprises, period, snapshot, ranked=None):
    """Give each enterprise of a page (a list or a page's object_list) its tasks per state,
    points, completion and submission rates (%) and ranks in the period, with how many its
    county ranks (`ranked`: scoring.selectors.ranked_counts): two queries, whatever the page size."""
    enterprises = list(enterprises)
    ids = [enterprise.pk for enterprise in enterprises]
    sums = {
        row["enterprise"]: row
        for row in EnterpriseProgress.objects.filter(period=period, enterprise__in=ids)
        .values("enterprise")
        .annotate(**progress_sums())
        .order_by()
    }
    ranks = {}
    if snapshot is not None and ids:
        ranks = {
            row.enterprise_id: row
            for row in EnterpriseRanking.objects.filter(snapshot=snapshot, enterprise__in=ids).with_ranks()
        }
    for enterprise in enterprises:
        row = sums.get(enterprise.pk, {})
        for name in ProgressCounters.COUNTS:
            setattr(enterprise, name, row.get(name) or 0)
        enterprise.points = row.get("points") or Decimal(0)
        enterprise.completion = completion(enterprise.scored, enterprise.assigned)
        enterprise.submission = rate(submitted(enterprise.assigned, enterprise.not_submitted), enterprise.assigned)
        ranking = ranks.get(enterprise.pk)
        enterprise.rank_in_county = ranking.rank_in_county if ranking else None
        enterprise.rank_in_city = ranking.rank_in_city if ranking else None
        enterprise.ranked_in_county = (ranked or {}).get("county", {}).get(enterprise.county_id, 0)
    return enterprises


RANK_ORDER = (F("ranking_points").desc(nulls_last=True), "name", "pk")

# An enterprise's progress in a period, from its summed counters (see enterprises_in_progress).
PROGRESS = {
    "not_started": Q(tasks__gt=0, waiting=F("tasks")),
    "started": Q(waiting__lt=F("tasks")),
    "completed": Q(tasks__gt=0, done=F("tasks")),
}


def enterprises_in_progress(user, period, progress):
    """A subquery of the ids of the enterprises whose tasks in the period (those the user may
    see) are all unsubmitted ("not_started"), partly submitted ("started") or all scored
    ("completed"). It groups the counters once, as a semi-join."""
    sums = (
        EnterpriseProgress.objects.visible_to(user)
        .filter(period=period)
        .order_by()
        .values("enterprise")
        .annotate(tasks=Sum("assigned"), waiting=Sum("not_submitted"), done=Sum("scored"))
    )
    return sums.filter(PROGRESS[progress]).values("enterprise")


def enterprises_not_started(user, period):
    """The user's active enterprises none of whose tasks in the period has been submitted."""
    return Enterprise.objects.visible_to(user).filter(
        is_active=True, pk__in=enterprises_in_progress(user, period, "not_started")
    )


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

