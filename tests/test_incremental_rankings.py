"""Rankings kept up to date in place equal a full recompute, whatever happened before.

A seeded random walk drives real check-ins through the services (submit, approve,
return, score, reopen), across a day boundary and a rule change; after every step the
ranking job runs as it does after a commit, and at the end today's incrementally
maintained snapshot must equal a full recompute of the same data.
"""

import datetime
import random
from decimal import Decimal

import pytest

from scoring.engine import compute_snapshot, refresh_rankings
from scoring.models import EnterpriseRanking, RankingSnapshot, RecomputeRequest, ScoringRule, TieMethod
from scoring.recompute import coalesced_recomputes
from scoring.services import change_scoring_rule
from tasks import services
from tasks.models import Assignment, AssignmentState

from . import factories as f

pytestmark = pytest.mark.django_db

FIGURES = (
    "enterprise_id",
    "county_id",
    "points",
    "max_points",
    "score_rate",
    "assigned_count",
    "scored_count",
    "rank_in_county",
    "rank_in_city",
)


@pytest.fixture
def busy_world(world):
    """The small world plus a third indicator and two more enterprises, so ranks can tie and move."""
    f.IndicatorFactory(city=world.city, code="B02", title="开展安康杯竞赛", max_points=5)
    f.IndicatorFactory(city=world.city, code="B03", title="建立职工创新工作室", max_points=8)
    for county in world.counties:
        enterprise = f.EnterpriseFactory(county=county)
        world.enterprises.append(enterprise)
        world.liaisons.append(f.liaison(enterprise))
    services.generate_assignments(world.period)
    return world


def _figures(snapshot):
    return list(
        EnterpriseRanking.objects.filter(snapshot=snapshot).with_ranks().order_by("enterprise_id").values_list(*FIGURES)
    )


def _bands(snapshot):
    return sorted(snapshot.rank_bands.values_list("county_id", "points", "enterprises", "rank"), key=str)


def _county_figures(snapshot):
    return list(
        snapshot.county_rankings.order_by("county_id").values_list(
            "county_id", "office_points", "office_max_points", "office_rate", "enterprise_mean_rate",
            "enterprises_counted", "score", "rank",
        )
    )


def _step(rng, world, assignment):
    """One legal move of the assignment, taken by the user whose move it is."""
    county_user = world.county_users[world.counties.index(assignment.county)]
    latest = assignment.checkins.order_by("-version").first()
    state = assignment.state
    if state in (AssignmentState.NOT_SUBMITTED, AssignmentState.RETURNED):
        submitter = (
            world.liaisons[world.enterprises.index(assignment.enterprise)] if assignment.enterprise_id else county_user
        )
        services.submit_checkin(submitter, assignment, "已完成", [f.pdf_upload()])
    elif state == AssignmentState.PENDING_COUNTY_REVIEW:
        if rng.random() < 0.8:
            services.approve(county_user, latest)
        else:
            services.return_checkin(county_user, latest, "材料不全")
    elif state == AssignmentState.PENDING_CITY_REVIEW:
        if rng.random() < 0.85:
            top = int(assignment.indicator.max_points)
            services.score(world.city_user, latest, str(rng.choice([0, top, rng.randint(0, top), top / 2])))
        else:
            services.return_checkin(world.city_user, latest, "请补充")
    else:
        services.reopen(world.city_user, latest, "复核")


@pytest.mark.parametrize("seed", [1, 2, 3, 4])
def test_the_snapshot_kept_up_to_date_in_place_equals_a_full_recompute(
    busy_world, seed, django_capture_on_commit_callbacks
):
    world = busy_world
    rng = random.Random(seed)
    assignments = list(Assignment.objects.filter(period=world.period).select_related("indicator", "county"))
    compute_snapshot(world.period, trigger="start")

    step = 0
    while step < 120:
        if step == 40:
            # A new day: the next change starts a new snapshot; movement compares with yesterday.
            RankingSnapshot.objects.filter(period=world.period).update(
                taken_on=datetime.date(2026, 1, 1), created_at=datetime.datetime(2026, 1, 1, tzinfo=datetime.UTC)
            )
        if step == 80 and seed % 2 == 0:
            with django_capture_on_commit_callbacks(execute=True):
                change_scoring_rule(world.city_user, world.period, "55", "45", TieMethod.DENSE, seed == 4)
        # One to five changes per ranking job, as when a burst of scores coalesces.
        with coalesced_recomputes():
            for _ in range(rng.randint(1, 5)):
                assignment = rng.choice(assignments)
                assignment.refresh_from_db()
                with django_capture_on_commit_callbacks(execute=True):
                    _step(rng, world, assignment)
                step += 1
                if step in (40, 80):
                    break

    assert not RecomputeRequest.objects.exists()
    kept = RankingSnapshot.objects.latest_for(world.period)
    previous = kept.previous
    assert previous is not None and previous.period_id == world.period.pk
    if seed % 2:
        assert previous.taken_on == datetime.date(2026, 1, 1)  # no rule change: yesterday's snapshot
    full = compute_snapshot(world.period, trigger="check")
    assert _figures(kept) == _figures(full)
    assert _county_figures(kept) == _county_figures(full)
    assert _bands(kept) == _bands(full)
    assert Assignment.objects.filter(period=world.period, state=AssignmentState.SCORED).exists()
    # Movement in the kept snapshot is measured against the snapshot before it.
    before = dict(previous.enterprise_rankings.with_ranks().values_list("enterprise_id", "rank_in_city"))
    kept_rows = kept.enterprise_rankings.with_ranks().values_list("enterprise_id", "previous_rank_in_city")
    assert dict(kept_rows) == {enterprise_id: before.get(enterprise_id) for enterprise_id, _rank in kept_rows}


def test_a_ranking_job_with_nothing_pending_changes_nothing(world, django_capture_on_commit_callbacks):
    snapshot = compute_snapshot(world.period)
    figures, computed_at = _figures(snapshot), snapshot.computed_at
    assert refresh_rankings(world.period) == snapshot
    assert refresh_rankings(world.period) == snapshot
    snapshot.refresh_from_db()
    assert (_figures(snapshot), snapshot.computed_at) == (figures, computed_at)
    assert RankingSnapshot.objects.filter(period=world.period).count() == 1


def test_an_enterprise_that_left_the_reform_leaves_the_snapshot_in_place(world, assignment_of):
    """The in-place update asks whether an enterprise is still in the reform after grouping
    its assignments, as the full recompute does: both leave it out, with the same bands."""
    for enterprise, points in zip(world.enterprises, ("6", "4"), strict=False):
        Assignment.objects.filter(pk=assignment_of(enterprise).pk).update(
            state=AssignmentState.SCORED, points=Decimal(points)
        )
    snapshot = compute_snapshot(world.period)
    leaver = world.enterprises[0]
    leaver.is_active = False
    leaver.save(update_fields=["is_active"])
    RecomputeRequest.objects.create(period=world.period, enterprise=leaver)

    assert refresh_rankings(world.period) == snapshot
    assert not snapshot.enterprise_rankings.filter(enterprise=leaver).exists()
    full = compute_snapshot(world.period)
    assert _figures(snapshot) == _figures(full) and _bands(snapshot) == _bands(full)
    assert snapshot.enterprise_rankings.with_ranks().get(enterprise=world.enterprises[1]).rank_in_city == 1


def test_a_new_day_starts_a_new_snapshot_and_keeps_the_old_one(world, assignment_of, django_capture_on_commit_callbacks):
    old = compute_snapshot(world.period)
    RankingSnapshot.objects.filter(pk=old.pk).update(taken_on=datetime.date(2026, 11, 1))
    Assignment.objects.filter(pk=assignment_of(world.enterprises[0]).pk).update(
        state=AssignmentState.SCORED, points=Decimal("6")
    )
    RecomputeRequest.objects.create(period=world.period, enterprise=world.enterprises[0])

    new = refresh_rankings(world.period)

    assert new.pk != old.pk and new.taken_on != datetime.date(2026, 11, 1)
    assert old.enterprise_rankings.get(enterprise=world.enterprises[0]).points == Decimal("0.00")
    row = new.enterprise_rankings.with_ranks().get(enterprise=world.enterprises[0])
    assert (row.points, row.rank_in_city, row.previous_rank_in_city, row.movement) == (Decimal("6.00"), 1, 1, 0)


def test_a_rule_change_is_recorded_and_recomputes_in_full(world, assignment_of, django_capture_on_commit_callbacks):
    compute_snapshot(world.period)
    with django_capture_on_commit_callbacks(execute=True):
        change_scoring_rule(world.city_user, world.period, "50", "50", TieMethod.DENSE, False)

    rule = ScoringRule.for_period(world.period)
    change = rule.changes.get()
    assert change.changed_by == world.city_user
    assert change.before == {
        "office_weight": "40.00", "enterprise_weight": "60.00", "tie_method": "shared", "count_unfinished": True,
    }
    assert change.after == {
        "office_weight": "50.00", "enterprise_weight": "50.00", "tie_method": "dense", "count_unfinished": False,
    }
    latest = RankingSnapshot.objects.latest_for(world.period)
    assert (latest.office_weight, latest.tie_method, latest.count_unfinished) == (Decimal("50.00"), "dense", False)
    assert RankingSnapshot.objects.filter(period=world.period).count() == 2


@pytest.mark.parametrize(
    "weights, message",
    [(("60", "60"), "100"), (("101", "-1"), "100"), (("abc", "60"), "数字"), (("40.005", "59.995"), "两位小数")],
)
def test_a_bad_rule_is_refused_with_a_chinese_message_and_changes_nothing(world, weights, message):
    from django.core.exceptions import ValidationError

    with pytest.raises(ValidationError) as refused:
        change_scoring_rule(world.city_user, world.period, *weights, TieMethod.SHARED, True)
    assert message in " ".join(refused.value.messages)
    rule = ScoringRule.for_period(world.period)
    assert (rule.office_weight, rule.enterprise_weight) == (Decimal("40.00"), Decimal("60.00"))
    assert not rule.changes.exists()


@pytest.mark.parametrize("who", ["county_users", "liaisons"])
def test_only_the_city_office_changes_the_rule(world, who):
    from django.core.exceptions import PermissionDenied

    with pytest.raises(PermissionDenied):
        change_scoring_rule(getattr(world, who)[0], world.period, "50", "50", TieMethod.SHARED, True)
    assert not ScoringRule.for_period(world.period).changes.exists()


def test_the_full_recompute_command_writes_a_new_snapshot(world):
    from io import StringIO

    from django.core.management import call_command

    out = StringIO()
    call_command("recompute_rankings", "--period", str(world.period.pk), stdout=out)
    snapshot = RankingSnapshot.objects.get(period=world.period)
    assert snapshot.trigger == "command"
    assert snapshot.enterprise_rankings.count() == len(world.enterprises)
    assert f"snapshot {snapshot.pk}" in out.getvalue()
