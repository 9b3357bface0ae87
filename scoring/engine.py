"""The scoring rules of DOMAIN.md, computed in the database.

- Enterprise points = Σ awarded points of its scored check-ins in the period;
  score rate = points / Σ max points of its assignments.
- Enterprises rank by points within their county and within the city; equal points
  share a rank (1, 2, 2, 4), which is SQL's RANK().
- County score = office weight × the county office's score rate
               + enterprise weight × the mean score rate of the county's enterprises.
  A missing part (no office tasks, no enterprises with tasks) counts as 0 and is shown so.
"""

from decimal import ROUND_HALF_UP, Decimal

from django.db import connection, transaction
from django.db.models import Avg, Count, DecimalField, Q, Sum, Value
from django.db.models.functions import Coalesce

from enterprises.models import Region
from tasks.models import Assignment, AssignmentState, Period

from .models import CountyRanking, EnterpriseRanking, RankingSnapshot

POINTS = DecimalField(max_digits=9, decimal_places=2)
ZERO = Decimal("0")
# Rates keep four decimals, rounded half up like SQL's ROUND() on the enterprise rates.
RATE_STEP = Decimal("0.0001")


def enterprise_figures(period):
    """One row per active enterprise with assignments in the period: points, max points, counts."""
    return (
        Assignment.objects.filter(period=period, enterprise__isnull=False, enterprise__is_active=True)
        .values("enterprise_id", "county_id")
        .annotate(
            total_points=Coalesce(Sum("points"), Value(ZERO), output_field=POINTS),
            total_max=Coalesce(Sum("indicator__max_points"), Value(ZERO), output_field=POINTS),
            assigned=Count("pk"),
            scored=Count("pk", filter=Q(state=AssignmentState.SCORED)),
        )
        .order_by()
    )


def _insert_enterprise_rankings(snapshot):
    """INSERT … SELECT the ranked enterprise figures: no row passes through Python.

    The ranks are window functions over the aggregated rows (RANK() gives 1, 2, 2, 4);
    `* 1.0` keeps the rate's division decimal on SQLite as well as on Postgres.
    """
    sql, params = enterprise_figures(snapshot.period).query.get_compiler(connection=connection).as_sql()
    q = connection.ops.quote_name
    table = q(EnterpriseRanking._meta.db_table)
    points, max_points, county = f"f.{q('total_points')}", f"f.{q('total_max')}", f"f.{q('county_id')}"
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {table} (snapshot_id, enterprise_id, county_id, points, max_points, score_rate,"
            f" assigned_count, scored_count, rank_in_county, rank_in_city)"
            f" SELECT %s, f.{q('enterprise_id')}, {county}, {points}, {max_points},"
            f" CASE WHEN {max_points} > 0 THEN ROUND({points} * 1.0 / {max_points}, 4) END,"
            f" f.{q('assigned')}, f.{q('scored')},"
            f" RANK() OVER (PARTITION BY {county} ORDER BY {points} DESC),"
            f" RANK() OVER (ORDER BY {points} DESC)"
            f" FROM ({sql}) f",
            [snapshot.pk, *params],
        )


def competition_ranks(values):
    """Ranks for `values` sorted best first, equal values sharing a rank (1, 2, 2, 4)."""
    ranks, previous = [], object()
    for position, value in enumerate(values, start=1):
        ranks.append(ranks[-1] if value == previous else position)
        previous = value
    return ranks


def county_score(office_rate, enterprise_mean_rate, office_weight, enterprise_weight):
    """The county score formula, 0–100, rounded to two decimals."""
    score = office_weight * (office_rate or ZERO) + enterprise_weight * (enterprise_mean_rate or ZERO)
    return score.quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)


def _county_rows(snapshot, previous):
    period = snapshot.period
    counties = list(Region.objects.filter(parent=period.city, level=Region.Level.COUNTY).order_by("order", "code"))
    office = {
        row["county_id"]: row
        for row in Assignment.objects.filter(period=period, enterprise__isnull=True)
        .values("county_id")
        .annotate(
            points=Coalesce(Sum("points"), Value(ZERO), output_field=POINTS),
            max_points=Coalesce(Sum("indicator__max_points"), Value(ZERO), output_field=POINTS),
        )
        .order_by()
    }
    enterprise_means = {
        row["county_id"]: row
        for row in EnterpriseRanking.objects.filter(snapshot=snapshot, score_rate__isnull=False)
        .values("county_id")
        .annotate(mean=Avg("score_rate"), counted=Count("pk"))
        .order_by()
    }
    previous_ranks = (
        dict(previous.county_rankings.values_list("county_id", "rank")) if previous is not None else {}
    )
    rows = []
    for county in counties:
        o = office.get(county.pk, {"points": ZERO, "max_points": ZERO})
        office_rate = (
            (Decimal(o["points"]) / Decimal(o["max_points"])).quantize(RATE_STEP, rounding=ROUND_HALF_UP)
            if o["max_points"]
            else None
        )
        e = enterprise_means.get(county.pk)
        mean_rate = Decimal(e["mean"]).quantize(RATE_STEP, rounding=ROUND_HALF_UP) if e else None
        rows.append(
            CountyRanking(
                snapshot=snapshot,
                county=county,
                office_points=o["points"],
                office_max_points=o["max_points"],
                office_rate=office_rate,
                enterprises_counted=e["counted"] if e else 0,
                enterprise_mean_rate=mean_rate,
                score=county_score(office_rate, mean_rate, snapshot.office_weight, snapshot.enterprise_weight),
                rank=0,
                previous_rank=previous_ranks.get(county.pk),
            )
        )
    rows.sort(key=lambda r: (-r.score, r.county.order, r.county.code))
    for row, rank in zip(rows, competition_ranks([r.score for r in rows])):
        row.rank = rank
    return rows


def compute_snapshot(period, trigger=""):
    """Recompute the period's rankings as a new snapshot, written whole or not at all."""
    with transaction.atomic():
        # One recompute per period at a time, so each compares against the true previous snapshot.
        Period.objects.select_for_update().filter(pk=period.pk).first()
        previous = RankingSnapshot.objects.latest_for(period)
        snapshot = RankingSnapshot.objects.create(
            period=period,
            trigger=trigger[:64],
            office_weight=period.office_weight,
            enterprise_weight=period.enterprise_weight,
        )
        _insert_enterprise_rankings(snapshot)
        CountyRanking.objects.bulk_create(_county_rows(snapshot, previous))
    return snapshot
