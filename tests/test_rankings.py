"""The scoring rules of DOMAIN.md as scoring.engine.compute_snapshot applies them.

The league below is small enough to work every figure out by hand:

county A (office 5/10):  a1 10+5=15 → .75   a2 10 → .50   a3 5+5=10 → .50   a4 5 → .25   mean .50
county B (office 10/10): b1 10+2=12 → .60   b2 10 → .50                                    mean .55
county C (office 7.5/10): no enterprises

County score = 40 × office rate + 60 × mean enterprise rate:
A = 40×.5 + 60×.5 = 50.00, B = 40×1 + 60×.55 = 73.00, C = 40×.75 + 0 = 30.00 → B 1, A 2, C 3.
"""

from decimal import Decimal
from types import SimpleNamespace

import pytest

from scoring.engine import competition_ranks, compute_snapshot, county_score
from scoring.models import CountyRanking, EnterpriseRanking, RankingSnapshot, ScoringRule
from tasks import services
from tasks.models import Assignment

from . import factories as f
from .helpers_domain import S, drive

pytestmark = pytest.mark.django_db

D = Decimal


@pytest.fixture
def league(db):
    city = f.RegionFactory.city(parent=f.RegionFactory.province(name="江苏省", code="320000"), name="徐州市", code="320300")
    A = f.RegionFactory.county(parent=city, name="鼓楼区", code="320302", order=1)
    B = f.RegionFactory.county(parent=city, name="云龙区", code="320303", order=2)
    C = f.RegionFactory.county(parent=city, name="贾汪区", code="320305", order=3)
    period = f.PeriodFactory(city=city, name="2026年度")
    ind1 = f.IndicatorFactory(city=city, code="B01", max_points=10)
    ind2 = f.IndicatorFactory(city=city, code="B02", max_points=10)
    office = f.IndicatorFactory.for_county_office(city=city, code="X01", max_points=10)
    ents = {}
    for name, county in [("a1", A), ("a2", A), ("a3", A), ("a4", A), ("b1", B), ("b2", B)]:
        ents[name] = f.EnterpriseFactory(county=county, name=f"企业{name}")
    services.generate_assignments(period)
    lg = SimpleNamespace(city=city, A=A, B=B, C=C, period=period, ind1=ind1, ind2=ind2, office=office, **ents)

    def award(assignee, indicator, points):
        if indicator is office:
            qs = Assignment.objects.filter(period=period, indicator=office, county=assignee, enterprise__isnull=True)
        else:
            qs = Assignment.objects.filter(period=period, indicator=indicator, enterprise=assignee)
        assert qs.update(state=S.SCORED, points=D(str(points))) == 1

    lg.award = award
    for ent, points1, points2 in [
        (lg.a1, 10, 5),
        (lg.a2, 10, None),
        (lg.a3, 5, 5),
        (lg.a4, 5, None),
        (lg.b1, 10, 2),
        (lg.b2, 10, None),
    ]:
        award(ent, ind1, points1)
        if points2 is not None:
            award(ent, ind2, points2)
    award(A, office, 5)
    award(B, office, 10)
    award(C, office, "7.5")
    return lg


def enterprise_rows(snapshot):
    return {
        r.enterprise.name: r
        for r in EnterpriseRanking.objects.filter(snapshot=snapshot).with_ranks().select_related("enterprise")
    }


def county_rows(snapshot):
    return {r.county.name: r for r in CountyRanking.objects.filter(snapshot=snapshot).select_related("county")}


def figures(snapshot):
    """Everything a ranking page shows, without ids that differ between snapshots."""
    ents = sorted(
        EnterpriseRanking.objects.filter(snapshot=snapshot).with_ranks().values_list(
            "enterprise_id", "county_id", "points", "max_points", "score_rate", "assigned_count", "scored_count",
            "rank_in_county", "rank_in_city",
        )
    )
    counties = sorted(
        CountyRanking.objects.filter(snapshot=snapshot).values_list(
            "county_id", "office_points", "office_max_points", "office_rate", "enterprises_counted",
            "enterprise_mean_rate", "score", "rank",
        )
    )
    return ents, counties


def test_enterprise_points_max_rate_and_completion(league):
    rows = enterprise_rows(compute_snapshot(league.period))
    a1, a2 = rows["企业a1"], rows["企业a2"]
    assert (a1.points, a1.max_points, a1.score_rate, a1.assigned_count, a1.scored_count) == (
        D("15.00"), D("20.00"), D("0.7500"), 2, 2,
    )
    assert a1.completion == 1
    assert (a2.points, a2.max_points, a2.score_rate, a2.assigned_count, a2.scored_count) == (
        D("10.00"), D("20.00"), D("0.5000"), 2, 1,
    )
    assert a2.completion == 0.5


def test_enterprise_ranks_share_places_within_county_and_city(league):
    rows = enterprise_rows(compute_snapshot(league.period))
    in_county = {name: r.rank_in_county for name, r in rows.items()}
    in_city = {name: r.rank_in_city for name, r in rows.items()}
    assert in_county == {"企业a1": 1, "企业a2": 2, "企业a3": 2, "企业a4": 4, "企业b1": 1, "企业b2": 2}
    # City: 15, 12, 10, 10, 10, 5 → 1, 2, 3, 3, 3, 6.
    assert in_city == {"企业a1": 1, "企业b1": 2, "企业a2": 3, "企业a3": 3, "企业b2": 3, "企业a4": 6}


def test_equal_points_reached_by_different_sums_share_a_rank(league):
    # 2.1 + 1.2 and 3.3 are the same points; binary floating point would tell them apart.
    league.award(league.a1, league.ind1, "2.1")
    league.award(league.a1, league.ind2, "1.2")
    league.award(league.a2, league.ind1, "3.3")
    rows = enterprise_rows(compute_snapshot(league.period))
    assert rows["企业a1"].points == rows["企业a2"].points == D("3.30")
    assert rows["企业a1"].rank_in_county == rows["企业a2"].rank_in_county
    assert rows["企业a1"].rank_in_city == rows["企业a2"].rank_in_city


def test_county_score_is_40_office_rate_plus_60_mean_enterprise_rate(league):
    snapshot = compute_snapshot(league.period)
    rows = county_rows(snapshot)
    a, b = rows["鼓楼区"], rows["云龙区"]
    assert (a.office_points, a.office_max_points, a.office_rate) == (D("5.00"), D("10.00"), D("0.5000"))
    assert (a.enterprises_counted, a.enterprise_mean_rate, a.score) == (4, D("0.5000"), D("50.00"))
    assert (b.office_points, b.office_max_points, b.office_rate) == (D("10.00"), D("10.00"), D("1.0000"))
    assert (b.enterprises_counted, b.enterprise_mean_rate, b.score) == (2, D("0.5500"), D("73.00"))
    assert (snapshot.office_weight, snapshot.enterprise_weight) == (D("40.00"), D("60.00"))


def test_county_with_no_enterprises_scores_only_its_office_part_and_is_still_ranked(league):
    rows = county_rows(compute_snapshot(league.period))
    c = rows["贾汪区"]
    assert (c.office_rate, c.enterprises_counted, c.enterprise_mean_rate, c.score) == (D("0.7500"), 0, None, D("30.00"))
    assert {name: r.rank for name, r in rows.items()} == {"云龙区": 1, "鼓楼区": 2, "贾汪区": 3}


def test_county_with_no_scores_at_all_ranks_last_with_zero(league):
    empty = f.RegionFactory.county(parent=league.city, name="泉山区", code="320311", order=4)
    rows = county_rows(compute_snapshot(league.period))
    e = rows["泉山区"]
    # No office assignment was generated for it (created after generation): both parts are missing.
    assert (e.office_max_points, e.office_rate, e.enterprises_counted, e.score, e.rank) == (D("0"), None, 0, D("0"), 4)
    assert empty.pk == e.county_id


def test_equal_county_scores_share_a_rank(league):
    # Bring B and C to the same 33.00 by different routes: enterprises only vs office only.
    league.award(league.B, league.office, 0)  # B: 0 + 60 × .55 = 33.00
    league.award(league.C, league.office, "8.25")  # C: 40 × .825 = 33.00
    rows = county_rows(compute_snapshot(league.period))
    assert rows["云龙区"].score == rows["贾汪区"].score == D("33.00")
    assert {name: r.rank for name, r in rows.items()} == {"鼓楼区": 1, "云龙区": 2, "贾汪区": 2}


def test_enterprise_without_assignments_is_not_ranked_and_does_not_change_the_mean(league):
    before = county_rows(compute_snapshot(league.period))["鼓楼区"]
    newcomer = f.EnterpriseFactory(county=league.A, name="企业a5")  # joined after the tasks were generated
    snapshot = compute_snapshot(league.period)
    assert "企业a5" not in enterprise_rows(snapshot)
    after = county_rows(snapshot)["鼓楼区"]
    assert (after.enterprises_counted, after.enterprise_mean_rate, after.score) == (
        before.enterprises_counted, before.enterprise_mean_rate, before.score,
    ) == (4, D("0.5000"), D("50.00"))
    assert not Assignment.objects.filter(enterprise=newcomer).exists()


def test_enterprise_with_tasks_but_no_points_lowers_its_county(league):
    f.EnterpriseFactory(county=league.A, name="企业a5")
    services.generate_assignments(league.period)
    rows = compute_snapshot(league.period)
    a = county_rows(rows)["鼓楼区"]
    # mean (.75 + .5 + .5 + .25 + 0) / 5 = .4 → 40 × .5 + 60 × .4 = 44.00
    assert (a.enterprises_counted, a.enterprise_mean_rate, a.score) == (5, D("0.4000"), D("44.00"))
    assert enterprise_rows(rows)["企业a5"].rank_in_county == 5


def test_inactive_enterprise_is_left_out(league):
    league.a1.is_active = False
    league.a1.save()
    snapshot = compute_snapshot(league.period)
    rows = enterprise_rows(snapshot)
    assert "企业a1" not in rows
    assert {n: r.rank_in_county for n, r in rows.items() if n.startswith("企业a")} == {"企业a2": 1, "企业a3": 1, "企业a4": 3}
    a = county_rows(snapshot)["鼓楼区"]
    # mean (.5 + .5 + .25) / 3 = .416666… → .4167; 40 × .5 + 60 × .4167 = 45.002 → 45.00
    assert (a.enterprises_counted, a.enterprise_mean_rate, a.score) == (3, D("0.4167"), D("45.00"))


def test_reopened_score_stops_counting(world, assignment_of):
    assignment = assignment_of(world.enterprises[0])
    checkin = drive(world, assignment, S.SCORED, points="9")
    first = enterprise_rows(compute_snapshot(world.period))[world.enterprises[0].name]
    assert (first.points, first.scored_count, first.rank_in_city) == (D("9.00"), 1, 1)

    services.reopen(world.city_user, checkin, "复核")
    second = enterprise_rows(compute_snapshot(world.period))[world.enterprises[0].name]
    assert (second.points, second.score_rate, second.scored_count) == (D("0.00"), D("0.0000"), 0)
    # Everyone is on 0 points now: a shared first place.
    assert second.rank_in_city == 1


def test_period_weights_change_the_county_score(league):
    ScoringRule.objects.update_or_create(period=league.period, defaults={"office_weight": 50, "enterprise_weight": 50})
    snapshot = compute_snapshot(league.period)
    rows = county_rows(snapshot)
    # A: 50 × .5 + 50 × .5 = 50.00; B: 50 × 1 + 50 × .55 = 77.50; C: 50 × .75 = 37.50
    assert {n: r.score for n, r in rows.items()} == {"鼓楼区": D("50.00"), "云龙区": D("77.50"), "贾汪区": D("37.50")}
    assert (snapshot.office_weight, snapshot.enterprise_weight) == (D("50.00"), D("50.00"))


def test_weights_can_reorder_the_counties(league):
    # With all weight on the office, C (.75) overtakes A (.5).
    ScoringRule.objects.update_or_create(period=league.period, defaults={"office_weight": 100, "enterprise_weight": 0})
    rows = county_rows(compute_snapshot(league.period))
    assert {n: (r.score, r.rank) for n, r in rows.items()} == {
        "云龙区": (D("100.00"), 1),
        "贾汪区": (D("75.00"), 2),
        "鼓楼区": (D("50.00"), 3),
    }


def test_movement_against_the_previous_snapshot(league):
    first = county_rows(compute_snapshot(league.period))
    assert {n: (r.rank, r.previous_rank, r.movement) for n, r in first.items()} == {
        "云龙区": (1, None, None),
        "鼓楼区": (2, None, None),
        "贾汪区": (3, None, None),
    }
    # C's office and A's enterprises improve: C 40 × 1 = 40; A 40 × .5 + 60 × (1+.5+.5+.25)/4 = 53.75.
    league.award(league.C, league.office, 10)
    league.award(league.a1, league.ind2, 10)
    league.award(league.B, league.office, 0)  # B: 60 × .55 = 33.00
    second = county_rows(compute_snapshot(league.period))
    assert {n: (r.score, r.rank, r.previous_rank, r.movement) for n, r in second.items()} == {
        "鼓楼区": (D("53.75"), 1, 2, 1),
        "贾汪区": (D("40.00"), 2, 3, 1),
        "云龙区": (D("33.00"), 3, 1, -2),
    }


def test_a_snapshot_is_never_changed_by_a_later_one(league):
    first = compute_snapshot(league.period)
    frozen = figures(first)
    league.award(league.a4, league.ind2, 10)
    league.award(league.A, league.office, 10)
    second = compute_snapshot(league.period)
    assert figures(first) == frozen
    assert figures(second) != frozen
    assert RankingSnapshot.objects.latest_for(league.period) == second
    assert enterprise_rows(second)["企业a4"].points == D("15.00")
    assert enterprise_rows(first)["企业a4"].points == D("5.00")


def test_same_data_gives_identical_figures(league):
    first = compute_snapshot(league.period)
    second = compute_snapshot(league.period)
    assert first.pk != second.pk
    assert figures(first) == figures(second)
    assert len(figures(first)[0]) == 6 and len(figures(first)[1]) == 3


def test_another_periods_scores_do_not_count(league):
    other = f.PeriodFactory(city=league.city, name="2025年度")
    services.generate_assignments(other)
    Assignment.objects.filter(period=other, enterprise=league.a4).update(state=S.SCORED, points=10)
    rows = enterprise_rows(compute_snapshot(league.period))
    assert rows["企业a4"].points == D("5.00")


@pytest.mark.parametrize(
    "values,ranks",
    [([], []), ([10], [1]), ([10, 8, 8, 5], [1, 2, 2, 4]), ([5, 5, 5], [1, 1, 1]), ([9, 9, 7, 7, 1], [1, 1, 3, 3, 5])],
)
def test_competition_ranks(values, ranks):
    assert competition_ranks(values) == ranks


@pytest.mark.parametrize(
    "office,mean,weights,score",
    [
        (D("0.5"), D("0.5"), (40, 60), D("50.00")),
        (D("0.3333"), D("0.6667"), (40, 60), D("53.33")),  # 13.332 + 40.002
        (None, D("0.55"), (40, 60), D("33.00")),
        (D("0.75"), None, (40, 60), D("30.00")),
        (None, None, (40, 60), D("0.00")),
        (D("1"), D("1"), (40, 60), D("100.00")),
        (D("0.4"), D("0.8"), (50, 50), D("60.00")),
    ],
)
def test_county_score_formula(office, mean, weights, score):
    assert county_score(office, mean, D(weights[0]), D(weights[1])) == score
