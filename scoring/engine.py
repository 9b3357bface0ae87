"""The scoring rules of DOMAIN.md, computed in the database.

- Enterprise points = Σ awarded points of its scored check-ins in the period;
  score rate = points / Σ max points of its assignments (or, when the period's rule says
  unfinished tasks do not count, of its scored assignments only: counts_in_rate, which the
  explanation pages use too).
- Enterprises rank by points within their county and within the city; equal points
  share a rank: 1, 2, 2, 4 (SQL's RANK()) by default, or 1, 2, 2, 3 (DENSE_RANK()).
- County score = office weight × the county office's score rate
               + enterprise weight × the mean score rate of the county's enterprises.
  A missing part (no office tasks, no enterprises with tasks) counts as 0 and is shown so.

Ranks are kept per band (RankBand: the enterprises with the same points in a county, or in
the city), not per enterprise, so a score rewrites a few bands rather than the rows of every
enterprise it passes; readers look the ranks up (EnterpriseRanking.objects.with_ranks()).

Snapshots: one per period and day. `refresh_rankings` applies pending changes to today's
snapshot in place (only the changed enterprises' figures and bands are recomputed),
or starts a new snapshot with a full recompute when the day, or the rule, changed. Either
way it is one transaction: readers see the previous state until it commits.
"""

from decimal import ROUND_HALF_UP, Decimal

from django.conf import settings
from django.db import connection, transaction
from django.db.models import Avg, Count, DecimalField, Q, Sum, Value
from django.db.models.functions import Coalesce
from django.utils import timezone

from enterprises.models import Enterprise, Region
from tasks.models import Assignment, AssignmentState, Period

from .models import (
    CountyRanking,
    EnterpriseRanking,
    RankBand,
    RankingSnapshot,
    RecomputeRequest,
    ScoringRule,
    TieMethod,
)

POINTS = DecimalField(max_digits=9, decimal_places=2)
ZERO = Decimal("0")
# Rates keep four decimals, rounded half up like SQL's ROUND() on the enterprise rates.
RATE_STEP = Decimal("0.0001")
SCORED = Q(state=AssignmentState.SCORED)


def counts_in_rate(state: str, *, count_unfinished: bool) -> bool:
    """Whether a task in `state` is in its score rate's denominator (Σ max points): every
    task when the period's rule counts unfinished tasks, else the scored ones only."""
    return count_unfinished or state == AssignmentState.SCORED


def _max_points_sum(count_unfinished):
    """Σ max points of the assignments that form a score rate's denominator: the states
    counts_in_rate admits, as the aggregate's filter."""
    states = [s for s in AssignmentState.values if counts_in_rate(s, count_unfinished=count_unfinished)]
    if len(states) == len(AssignmentState.values):
        return Sum("indicator__max_points")
    return Sum("indicator__max_points", filter=Q(state__in=states))


def enterprise_figures(period, rule, enterprise_ids=None):
    """One row per enterprise with assignments in the period: points, max points, counts.

    Whether the enterprise is still in the reform is not asked here but of the ~16 times
    fewer grouped rows (_insert_enterprise_figures): joining Enterprise before the GROUP BY
    probes its hash once per assignment, which doubled the aggregate (2.0 s → 1.05 s for
    1.6 million assignments, bench/RESULTS.md).
    """
    assignments = Assignment.objects.filter(period=period, enterprise__isnull=False)
    if enterprise_ids is not None:
        assignments = assignments.filter(enterprise_id__in=enterprise_ids)
    return (
        assignments.values("enterprise_id", "county_id")
        .annotate(
            total_points=Coalesce(Sum("points", filter=SCORED), Value(ZERO), output_field=POINTS),
            total_max=Coalesce(_max_points_sum(rule.count_unfinished), Value(ZERO), output_field=POINTS),
            assigned=Count("pk"),
            scored=Count("pk", filter=SCORED),
        )
        .order_by()
    )


def _rank_over(tie_method, count, partition=""):
    """The rank of a band row among its scope's bands ordered by points, best first: with
    shared ranks, 1 + the enterprises with more points (1, 2, 2, 4); with dense ranks, 1 +
    the distinct points values above it (1, 2, 2, 3). Points are distinct within a scope."""
    window = f"OVER ({partition} ORDER BY points DESC)"
    if tie_method == TieMethod.DENSE:
        return f"ROW_NUMBER() {window}"
    return f"1 + SUM({count}) {window} - {count}"


def _and_in(column, values):
    """` AND column IN (%s, …)` and its parameters, or nothing when `values` is None."""
    if values is None:
        return "", []
    values = sorted(values)
    return f" AND {column} IN ({', '.join(['%s'] * len(values))})", values


def _insert_enterprise_figures(snapshot, rule, enterprise_ids=None):
    """INSERT … SELECT the figures of the enterprises in the reform: no row passes through Python.

    Rows go in in rank order, which appends to the rank-order index instead of splitting its
    pages at random. `* 1.0` keeps the rate's division decimal on SQLite as well as on
    Postgres.
    """
    sql, params = (
        enterprise_figures(snapshot.period, rule, enterprise_ids).query.get_compiler(connection=connection).as_sql()
    )
    q = connection.ops.quote_name
    table, enterprises = q(EnterpriseRanking._meta.db_table), q(Enterprise._meta.db_table)
    points, max_points, county = f"f.{q('total_points')}", f"f.{q('total_max')}", f"f.{q('county_id')}"
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {table} (snapshot_id, enterprise_id, county_id, points, max_points, score_rate,"
            f" assigned_count, scored_count)"
            f" SELECT %s, f.{q('enterprise_id')}, {county}, {points}, {max_points},"
            f" CASE WHEN {max_points} > 0 THEN ROUND({points} * 1.0 / {max_points}, 4) END,"
            f" f.{q('assigned')}, f.{q('scored')}"
            f" FROM ({sql}) f JOIN {enterprises} e ON e.{q('id')} = f.{q('enterprise_id')} WHERE e.{q('is_active')}"
            f" ORDER BY {points} DESC, f.{q('enterprise_id')}",
            [snapshot.pk, *params],
        )


def _insert_county_bands(snapshot, county_ids=None):
    """The county bands of the snapshot (of `county_ids` only, when given), ranked."""
    q = connection.ops.quote_name
    table, bands = q(EnterpriseRanking._meta.db_table), q(RankBand._meta.db_table)
    where, params = _and_in("county_id", county_ids)
    rank = _rank_over(snapshot.tie_method, "n", "PARTITION BY county_id")
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {bands} (snapshot_id, county_id, points, enterprises, {q('rank')})"
            f" SELECT %s, county_id, points, n, {rank} FROM (SELECT county_id, points, COUNT(*) AS n"
            f" FROM {table} WHERE snapshot_id = %s{where} GROUP BY county_id, points) g",
            [snapshot.pk, snapshot.pk, *params],
        )


def _insert_city_bands(snapshot, points=None):
    """The city bands (of the `points` values only, when given), summed from the county
    bands; ranked in the same statement for a whole snapshot, else by _rerank_city_bands."""
    q = connection.ops.quote_name
    bands = q(RankBand._meta.db_table)
    where, params = _and_in("points", points)
    rank = _rank_over(snapshot.tie_method, "n") if points is None else "0"
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {bands} (snapshot_id, county_id, points, enterprises, {q('rank')})"
            f" SELECT %s, NULL, points, n, {rank} FROM (SELECT points, SUM(enterprises) AS n FROM {bands}"
            f" WHERE snapshot_id = %s AND county_id IS NOT NULL{where} GROUP BY points) g",
            [snapshot.pk, snapshot.pk, *params],
        )


def _rerank_city_bands(snapshot):
    """Rank the snapshot's city bands again, writing only the bands whose rank changed."""
    q = connection.ops.quote_name
    bands, rank = q(RankBand._meta.db_table), q("rank")
    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {bands} SET {rank} = r.new_rank FROM (SELECT id, {_rank_over(snapshot.tie_method, 'enterprises')}"
            f" AS new_rank FROM {bands} WHERE snapshot_id = %s AND county_id IS NULL) r"
            f" WHERE {bands}.id = r.id AND {bands}.{rank} <> r.new_rank",
            [snapshot.pk],
        )


def _rank_whole_snapshot(snapshot):
    _insert_county_bands(snapshot)
    _insert_city_bands(snapshot)


def _update_enterprises(snapshot, rule, enterprise_ids):
    """Recompute the figures of `enterprise_ids` in the snapshot and the bands they were
    and are now in: their counties' bands are rebuilt (hundreds of rows at most), the city
    bands of their old and new points summed again from those, and the city bands re-ranked."""
    rows = snapshot.enterprise_rankings.filter(enterprise_id__in=enterprise_ids)
    before = list(rows.values_list("county_id", "points"))
    rows.delete()
    _insert_enterprise_figures(snapshot, rule, enterprise_ids)
    changed = before + list(rows.values_list("county_id", "points"))
    if not changed:
        return
    counties, points = {c for c, _p in changed}, {p for _c, p in changed}
    snapshot.rank_bands.filter(county_id__in=counties).delete()
    _insert_county_bands(snapshot, counties)
    snapshot.rank_bands.filter(county__isnull=True, points__in=points).delete()
    _insert_city_bands(snapshot, points)
    _rerank_city_bands(snapshot)


def competition_ranks(values, tie_method=TieMethod.SHARED):
    """Ranks for `values` sorted best first; equal values share a rank (1, 2, 2, 4), or with
    the dense method (1, 2, 2, 3)."""
    ranks, previous, distinct = [], object(), 0
    for position, value in enumerate(values, start=1):
        if value != previous:
            distinct += 1
        if value == previous:
            ranks.append(ranks[-1])
        else:
            ranks.append(distinct if tie_method == TieMethod.DENSE else position)
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
            points=Coalesce(Sum("points", filter=SCORED), Value(ZERO), output_field=POINTS),
            max_points=Coalesce(_max_points_sum(snapshot.count_unfinished), Value(ZERO), output_field=POINTS),
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
    for row, rank in zip(rows, competition_ranks([r.score for r in rows], snapshot.tie_method), strict=True):
        row.rank = rank
    return rows


def _replace_county_rows(snapshot, previous):
    snapshot.county_rankings.all().delete()
    CountyRanking.objects.bulk_create(_county_rows(snapshot, previous))


def _lock_period(period):
    """One ranking job per period at a time: each sees the true previous snapshot and the
    pending requests it takes are not taken twice.

    FOR NO KEY UPDATE, not FOR UPDATE: scores insert RecomputeRequest rows whose foreign
    key takes FOR KEY SHARE on the period, and must not wait for a running job. On
    Postgres the job also gets enough memory to sort a province's rows without disk.
    """
    Period.objects.select_for_update(no_key=True).filter(pk=period.pk).first()
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT set_config('work_mem', %s, true)", [settings.RANKING_WORK_MEM])


def _new_snapshot(period, rule, trigger, previous):
    now = timezone.now()
    snapshot = RankingSnapshot.objects.create(
        period=period,
        taken_on=timezone.localdate(now),
        created_at=now,
        computed_at=now,
        trigger=trigger[:64],
        office_weight=rule.office_weight,
        enterprise_weight=rule.enterprise_weight,
        tie_method=rule.tie_method,
        count_unfinished=rule.count_unfinished,
        previous=previous,
    )
    _insert_enterprise_figures(snapshot, rule)
    _rank_whole_snapshot(snapshot)
    _replace_county_rows(snapshot, previous)
    _analyze_ranking_tables()
    return snapshot


def _analyze_ranking_tables():
    """Refresh the planner's statistics once a snapshot's rows are written.

    Without them PostgreSQL takes a new snapshot for a handful of rows (its id is in no
    histogram, and autovacuum analyzes a table only after a tenth of it changed, weeks of
    daily snapshots) and plans the next day's join against it as nested loops: 1.4 s instead
    of 0.2 s at 10,000 enterprises. ANALYZE samples a fixed number of rows, so it costs the
    same for any table size, and inside this transaction it already sees the new rows.
    """
    if connection.vendor != "postgresql":
        return
    # Only the columns that joins and filters use: the sample is the same, the work less.
    q = connection.ops.quote_name
    with connection.cursor() as cursor:
        cursor.execute(
            f"ANALYZE {q(EnterpriseRanking._meta.db_table)} (snapshot_id, enterprise_id, county_id, points),"
            f" {q(RankBand._meta.db_table)} (snapshot_id, county_id, points)"
        )


def compute_snapshot(period, trigger=""):
    """Recompute the period's rankings in full as a new snapshot, written whole or not at all."""
    with transaction.atomic():
        _lock_period(period)
        rule = ScoringRule.for_period(period)
        # Everything pending is included in a full recompute.
        RecomputeRequest.objects.filter(period=period).delete()
        return _new_snapshot(period, rule, trigger, RankingSnapshot.objects.latest_for(period))


def refresh_rankings(period, trigger="score"):
    """Apply the period's pending ranking changes; returns the snapshot now current.

    Today's snapshot is updated in place when only enterprise figures changed; a new
    snapshot is computed in full on a new day, after a rule change, or when none exists.
    Running it again with nothing pending changes nothing.
    """
    with transaction.atomic():
        _lock_period(period)
        requests = list(RecomputeRequest.objects.filter(period=period).values_list("pk", "enterprise_id", "full"))
        latest = RankingSnapshot.objects.latest_for(period)
        rule = ScoringRule.for_period(period)
        if latest is not None and not requests and latest.matches(rule):
            return latest
        RecomputeRequest.objects.filter(pk__in=[pk for pk, _e, _f in requests]).delete()
        today = timezone.localdate()
        if latest is None or latest.taken_on != today or not latest.matches(rule) or any(f for _p, _e, f in requests):
            return _new_snapshot(period, rule, trigger, latest)
        enterprise_ids = sorted({e for _p, e, _f in requests if e is not None})
        if enterprise_ids:
            _update_enterprises(latest, rule, enterprise_ids)
        _replace_county_rows(latest, latest.previous)
        latest.computed_at = timezone.now()
        latest.trigger = trigger[:64]
        latest.save(update_fields=["computed_at", "trigger"])
        return latest
