"""Two people acting on the same check-in at once: the database decides, one wins, the
other gets a conflict (DOMAIN.md: "one wins, the other gets a conflict (409)").

Postgres only: SQLite has no row locks and serialises whole transactions differently.

To make the race real rather than lucky, the test itself holds a row lock on the contested
row while both threads start: both threads reach the database and wait on that lock, then
the lock is released and they run against each other.
"""

import threading
import time
from contextlib import contextmanager
from decimal import Decimal

import pytest
from django.db import connection, transaction

from scoring.engine import compute_snapshot
from scoring.models import CountyRanking, RankingSnapshot
from tasks import services
from tasks.models import Assignment, CheckIn, CheckInState, Evidence, Period, ReviewEvent
from tasks.workflow import WorkflowError

from . import factories as f
from .helpers_domain import drive, media_files, pdf, set_scored

S = CheckInState

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(autouse=True)
def _postgres_only():
    if connection.vendor != "postgresql":
        pytest.skip("concurrency needs Postgres row locks (SELECT … FOR UPDATE); SQLite has none")


def _waiting_on_locks():
    with connection.cursor() as cursor:
        # Inside a transaction the statistics views are a frozen snapshot unless cleared.
        cursor.execute("SELECT pg_stat_clear_snapshot()")
        cursor.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'"
        )
        return cursor.fetchone()[0]


@contextmanager
def _held(model, pk):
    """Hold a row lock on model(pk) while the block runs, as a first reviewer would."""
    with transaction.atomic():
        model.objects.select_for_update().get(pk=pk)
        yield


def race(*calls, hold=None):
    """Run each call in its own thread with its own connection, all starting together.

    `hold` = (model, pk): keep that row locked until every thread is waiting on it (or 5 s
    passed), so that the calls really overlap. Returns [("ok", value) | ("error", exc)].
    """
    barrier = threading.Barrier(len(calls) + 1)
    results = [None] * len(calls)

    def run(index, call):
        try:
            barrier.wait(timeout=10)
            results[index] = ("ok", call())
        except Exception as exc:  # reported to the test as a result
            results[index] = ("error", exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(i, c)) for i, c in enumerate(calls)]
    if hold is None:
        for t in threads:
            t.start()
        barrier.wait(timeout=10)
    else:
        with _held(*hold):
            for t in threads:
                t.start()
            barrier.wait(timeout=10)
            deadline = time.monotonic() + 5
            while _waiting_on_locks() < len(calls) and time.monotonic() < deadline:
                time.sleep(0.02)
    for t in threads:
        t.join(timeout=30)
        assert not t.is_alive(), "a thread hung"
    return results


def _one_winner(results):
    ok = [value for kind, value in results if kind == "ok"]
    errors = [value for kind, value in results if kind == "error"]
    assert len(ok) == 1, results
    assert len(errors) == len(results) - 1
    for error in errors:
        assert isinstance(error, WorkflowError), repr(error)
    return ok[0]


@pytest.mark.parametrize("same_user", [True, False], ids=["same_user_twice", "two_county_office_users"])
def test_two_county_approvals_at_once_one_wins(world, assignment_of, same_user):
    assignment = assignment_of(world.enterprises[0])
    checkin = drive(world, assignment, S.PENDING_COUNTY_REVIEW)
    first = world.county_users[0]
    second = first if same_user else f.county_office(world.counties[0], username="county01_b")

    results = race(
        lambda: services.approve(first, CheckIn.objects.get(pk=checkin.pk), "同意"),
        lambda: services.approve(second, CheckIn.objects.get(pk=checkin.pk), "同意"),
        hold=(CheckIn, checkin.pk),
    )

    _one_winner(results)
    checkin.refresh_from_db()
    assert checkin.state == S.PENDING_CITY_REVIEW
    assert ReviewEvent.objects.filter(checkin=checkin, action=ReviewEvent.Action.APPROVE).count() == 1
    assert Assignment.objects.get(pk=assignment.pk).state == S.PENDING_CITY_REVIEW


def test_score_and_return_at_once_one_wins_and_the_record_agrees(world, assignment_of):
    assignment = assignment_of(world.enterprises[0])
    checkin = drive(world, assignment, S.PENDING_CITY_REVIEW)
    city = world.city_user

    results = race(
        lambda: services.score(city, CheckIn.objects.get(pk=checkin.pk), "8"),
        lambda: services.return_checkin(city, CheckIn.objects.get(pk=checkin.pk), "材料不全"),
        hold=(CheckIn, checkin.pk),
    )

    winner = _one_winner(results)
    checkin.refresh_from_db()
    assignment.refresh_from_db()
    events = ReviewEvent.objects.filter(checkin=checkin).exclude(action__in=["submit", "approve"])
    assert events.count() == 1
    assert checkin.state == winner.state == assignment.state == events.get().to_state
    if checkin.state == S.SCORED:
        assert checkin.points == assignment.points == Decimal("8.00")
    else:
        assert checkin.state == S.RETURNED
        assert checkin.points is None and assignment.points is None


def test_two_scores_at_once_award_points_once(world, assignment_of):
    assignment = assignment_of(world.counties[0])
    checkin = drive(world, assignment, S.PENDING_CITY_REVIEW)
    other_city_user = f.city_office(world.city, username="city_b")

    results = race(
        lambda: services.score(world.city_user, CheckIn.objects.get(pk=checkin.pk), "6"),
        lambda: services.score(other_city_user, CheckIn.objects.get(pk=checkin.pk), "9"),
        hold=(CheckIn, checkin.pk),
    )

    winner = _one_winner(results)
    assignment.refresh_from_db()
    assert assignment.points == winner.points
    assert ReviewEvent.objects.filter(checkin=checkin, action=ReviewEvent.Action.SCORE).count() == 1


def test_two_submissions_at_once_create_one_version(world, assignment_of):
    assignment = assignment_of(world.enterprises[0])
    liaison = world.liaisons[0]

    results = race(
        lambda: services.submit_checkin(liaison, Assignment.objects.get(pk=assignment.pk), "第一次点击", [pdf("a.pdf")]),
        lambda: services.submit_checkin(liaison, Assignment.objects.get(pk=assignment.pk), "第二次点击", [pdf("b.pdf")]),
        hold=(Assignment, assignment.pk),
    )

    winner = _one_winner(results)
    assert winner.version == 1
    assert CheckIn.objects.filter(assignment=assignment).count() == 1
    assert ReviewEvent.objects.filter(checkin__assignment=assignment).count() == 1
    # The loser left no file behind.
    assert Evidence.objects.filter(checkin__assignment=assignment).count() == 1
    assert len(media_files()) == 1


def test_two_resubmissions_after_a_return_create_one_new_version(world, assignment_of):
    assignment = assignment_of(world.enterprises[0])
    drive(world, assignment, S.RETURNED)
    liaison = world.liaisons[0]

    results = race(
        lambda: services.submit_checkin(liaison, Assignment.objects.get(pk=assignment.pk), "补充一", [pdf()]),
        lambda: services.submit_checkin(liaison, Assignment.objects.get(pk=assignment.pk), "补充二", [pdf()]),
        hold=(Assignment, assignment.pk),
    )

    winner = _one_winner(results)
    assert winner.version == 2
    assert list(CheckIn.objects.filter(assignment=assignment).order_by("version").values_list("version", flat=True)) == [1, 2]


def test_two_recomputes_at_once_each_compare_against_the_true_previous_snapshot(world, assignment_of):
    set_scored(assignment_of(world.counties[1]), 10)  # no snapshot yet
    period = world.period
    assert not RankingSnapshot.objects.filter(period=period).exists()

    results = race(
        lambda: compute_snapshot(Period.objects.get(pk=period.pk), trigger="a"),
        lambda: compute_snapshot(Period.objects.get(pk=period.pk), trigger="b"),
        hold=(Period, period.pk),
    )

    assert [kind for kind, _value in results] == ["ok", "ok"], results
    earlier, later = RankingSnapshot.objects.filter(period=period).order_by("pk")
    earlier_ranks = dict(CountyRanking.objects.filter(snapshot=earlier).values_list("county_id", "rank"))
    assert earlier_ranks == {world.counties[1].pk: 1, world.counties[0].pk: 2}
    # The later snapshot shows movement against the earlier one, not against nothing.
    later_previous = dict(CountyRanking.objects.filter(snapshot=later).values_list("county_id", "previous_rank"))
    assert later_previous == earlier_ranks


def test_approvals_at_once_in_one_county_and_indicator_all_count(world, assignment_of):
    """Two county users approve two enterprises' check-ins of the same indicator at once: both
    triggers upsert the same IndicatorProgress row, one after the other, and neither is lost."""
    from tasks import progress
    from tasks.models import IndicatorProgress

    e11, e12 = world.enterprises[:2]
    checkins = [drive(world, assignment_of(e), S.PENDING_COUNTY_REVIEW) for e in (e11, e12)]
    second = f.county_office(world.counties[0], username="county01_b")
    row = IndicatorProgress.objects.get(period=world.period, indicator=world.ind, county=world.counties[0])
    results = race(
        lambda: services.approve(world.county_users[0], checkins[0], "同意上报。"),
        lambda: services.approve(second, checkins[1], "同意上报。"),
        hold=(IndicatorProgress, row.pk),
    )
    assert [kind for kind, _value in results] == ["ok", "ok"], results
    row.refresh_from_db()
    assert (row.assigned, row.pending_county, row.pending_city) == (2, 0, 2)
    assert progress.drift() == []
