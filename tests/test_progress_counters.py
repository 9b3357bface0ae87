"""tasks.EnterpriseProgress and IndicatorProgress: counters kept by database triggers.

Whatever writes the tasks (the workflow, generate_assignments' INSERT … SELECT, a queryset
update, a delete), the counters equal the tasks in the same transaction: progress.drift()
is empty after every step. The SQLite triggers (the demo database) are run on an in-memory
SQLite database against the same expectations.
"""

from decimal import Decimal

import pytest
from django.db import connection
from django.db.utils import ConnectionHandler
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from tasks import progress, services
from tasks.models import Assignment, AssignmentState, EnterpriseProgress, IndicatorProgress

from . import factories as f
from .helpers_domain import county_user_for, pdf

S = AssignmentState
pytestmark = pytest.mark.django_db


def counters(period, enterprise):
    row = EnterpriseProgress.objects.get(period=period, enterprise=enterprise)
    return {c: getattr(row, c) for c in progress.COUNTERS}


def expect(**changes):
    values = dict.fromkeys(progress.COUNTERS, 0)
    values.update(assigned=1, not_submitted=1, points=Decimal("0"))
    values.update(changes)
    return values


def test_generated_tasks_are_counted(world):
    for enterprise in world.enterprises:
        assert counters(world.period, enterprise) == expect()
    # County offices' own tasks are not enterprise progress, but they count for their indicator.
    assert EnterpriseProgress.objects.count() == len(world.enterprises)
    by_indicator = {(row.indicator_id, row.county_id): row.assigned for row in IndicatorProgress.objects.all()}
    assert by_indicator == {
        (world.ind.pk, world.counties[0].pk): 2,
        (world.ind.pk, world.counties[1].pk): 2,
        (world.office_ind.pk, world.counties[0].pk): 1,
        (world.office_ind.pk, world.counties[1].pk): 1,
    }
    assert progress.drift() == []


def test_every_workflow_step_moves_the_counters(world, assignment_of):
    e11 = world.enterprises[0]
    task = assignment_of(e11)
    county = county_user_for(world, task)

    checkin = services.submit_checkin(world.liaisons[0], task, "已开展技能竞赛。", [pdf()])
    assert counters(world.period, e11) == expect(not_submitted=0, pending_county=1)

    checkin = services.return_checkin(county, checkin, "材料不全，请补充。")
    assert counters(world.period, e11) == expect(not_submitted=0, returned=1)

    checkin = services.submit_checkin(world.liaisons[0], task, "已补充材料。", [pdf()])
    checkin = services.approve(county, checkin, "同意上报。")
    assert counters(world.period, e11) == expect(not_submitted=0, pending_city=1)

    checkin = services.score(world.city_user, checkin, "7.5", "")
    assert counters(world.period, e11) == expect(not_submitted=0, scored=1, points=Decimal("7.5"))

    services.reopen(world.city_user, checkin, "复核分值。")
    assert counters(world.period, e11) == expect(not_submitted=0, pending_city=1)

    # Nobody else's counters moved; the indicator's county counts the same move.
    for enterprise in world.enterprises[1:]:
        assert counters(world.period, enterprise) == expect()
    indicator = IndicatorProgress.objects.get(period=world.period, indicator=world.ind, county=world.counties[0])
    assert (indicator.assigned, indicator.not_submitted, indicator.pending_city) == (2, 1, 1)
    assert progress.drift() == []


def test_bulk_writes_by_any_path_are_counted(world):
    # A second enterprise indicator: generate_assignments' INSERT … SELECT adds one task each.
    f.IndicatorFactory(city=world.city, code="B02", title="建立职工技能等级认定制度", max_points=5)
    f.IndicatorFactory(city=world.city, code="B03", title="推行职工创新工作室", max_points=5)
    with CaptureQueriesContext(connection) as queries:
        assert services.generate_assignments(world.period) == 2 * len(world.enterprises)
    # One INSERT for every indicator, so the triggers upsert each enterprise's counters once.
    assert sum(q["sql"].startswith('INSERT INTO "tasks_assignment"') for q in queries.captured_queries) == 1
    assert all(counters(world.period, e)["assigned"] == 3 for e in world.enterprises)

    # One UPDATE over many rows (as an operator might run), with points.
    Assignment.objects.filter(period=world.period, enterprise__isnull=False, indicator__code="B02").update(
        state=S.SCORED, points=Decimal("4.25")
    )
    assert counters(world.period, world.enterprises[0]) == expect(
        assigned=3, not_submitted=2, scored=1, points=Decimal("4.25")
    )

    # An update that changes neither state nor points changes no counter.
    before = list(EnterpriseProgress.objects.order_by("pk").values())
    Assignment.objects.filter(period=world.period).update(updated_at=timezone.now())
    assert list(EnterpriseProgress.objects.order_by("pk").values()) == before

    # Deleting tasks takes them off.
    Assignment.objects.filter(period=world.period, indicator__code__in=["B02", "B03"]).delete()
    for enterprise in world.enterprises:
        assert counters(world.period, enterprise) == expect()
    assert progress.drift() == []


def test_moving_a_task_to_another_county_moves_its_count(world, assignment_of):
    task = assignment_of(world.enterprises[0])
    Assignment.objects.filter(pk=task.pk).update(county=world.counties[1])
    rows = EnterpriseProgress.objects.filter(period=world.period, enterprise=world.enterprises[0])
    assert {(row.county_id, row.assigned) for row in rows} == {(world.counties[0].pk, 0), (world.counties[1].pk, 1)}
    assert progress.drift() == []


def test_rebuild_repairs_counters_changed_by_hand(world):
    EnterpriseProgress.objects.filter(enterprise=world.enterprises[0]).update(scored=5, points=Decimal("40"))
    EnterpriseProgress.objects.filter(enterprise=world.enterprises[1]).delete()
    IndicatorProgress.objects.filter(indicator=world.office_ind).update(returned=1)
    assert [(table, key[1]) for table, key, _stored, _live in progress.drift()] == [
        ("enterprise", world.enterprises[0].pk),
        ("enterprise", world.enterprises[1].pk),
        ("indicator", world.office_ind.pk),
        ("indicator", world.office_ind.pk),
    ]
    progress.rebuild(world.period)
    assert progress.drift() == []
    assert counters(world.period, world.enterprises[1]) == expect()


def test_the_triggers_are_installed_by_the_migrations():
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT tgname FROM pg_trigger WHERE tgrelid = 'tasks_assignment'::regclass AND NOT tgisinternal"
        )
        names = {row[0] for row in cursor.fetchall()}
    assert names == {"tasks_progress_insert", "tasks_progress_update", "tasks_progress_delete"}


# --- SQLite, the demo database ------------------------------------------------------------


@pytest.fixture
def sqlite():
    """An in-memory SQLite connection with the two tables (only the columns the triggers use)."""
    handler = ConnectionHandler({"default": {"ENGINE": "django.db.backends.sqlite3", "NAME": ":memory:"}})
    wrapper = handler["default"]
    with wrapper.cursor() as cursor:
        cursor.execute(
            "CREATE TABLE tasks_assignment (id integer PRIMARY KEY, period_id integer NOT NULL, "
            "indicator_id integer NOT NULL, enterprise_id integer NULL, county_id integer NOT NULL, "
            "state varchar(32) NOT NULL, points decimal NULL, updated_at datetime NULL)"
        )
        for tally in progress.TALLIES:
            cursor.execute(
                f"CREATE TABLE {tally.model._meta.db_table} (id integer PRIMARY KEY, "
                + ", ".join(f"{key} integer NOT NULL" for key in tally.keys)
                + ", "
                + ", ".join(f"{c} integer NOT NULL" for c in progress.COUNTERS[:-1])
                + f", points decimal NOT NULL, UNIQUE ({', '.join(tally.keys)}))"
            )
    progress.install(wrapper)
    yield wrapper
    wrapper.close()


def _sqlite_state(wrapper, tally):
    """(stored, live): the tally's counter rows and the same figures grouped from the tasks."""
    keys = ", ".join(tally.keys)
    where = " WHERE enterprise_id IS NOT NULL" if tally.enterprises_only else ""
    with wrapper.cursor() as cursor:
        cursor.execute(
            f"SELECT {keys}, {', '.join(progress.COUNTERS)} FROM {tally.model._meta.db_table} "
            f"WHERE assigned <> 0 ORDER BY {keys}"
        )
        stored = [tuple(row) for row in cursor.fetchall()]
        cursor.execute(
            f"SELECT {keys}, COUNT(*), "
            + ", ".join(f"SUM(CASE WHEN state = '{s}' THEN 1 ELSE 0 END)" for s in EnterpriseProgress.STATE_COLUMNS)
            + f", COALESCE(SUM(points), 0) FROM tasks_assignment{where} GROUP BY {keys} ORDER BY {keys}"
        )
        live = [tuple(row) for row in cursor.fetchall()]
    return stored, live


def test_sqlite_triggers_keep_the_counters(sqlite):
    enterprise_tally, indicator_tally = progress.TALLIES
    with sqlite.cursor() as cursor:
        rows = [(i, 1, i % 3, 10 + i % 4, 100 + (i % 4) // 2, "not_submitted") for i in range(1, 25)]
        rows.append((99, 1, 7, None, 100, "not_submitted"))  # a county office's own task
        cursor.executemany(
            "INSERT INTO tasks_assignment (id, period_id, indicator_id, enterprise_id, county_id, state) "
            "VALUES (%s, %s, %s, %s, %s, %s)",
            rows,
        )
        stored, live = _sqlite_state(sqlite, enterprise_tally)
        assert stored == live and len(stored) == 4
        assert sum(row[3] for row in stored) == 24
        stored, live = _sqlite_state(sqlite, indicator_tally)
        assert stored == live and sum(row[3] for row in stored) == 25

        cursor.execute("UPDATE tasks_assignment SET state = 'scored', points = 7.5 WHERE id <= 6")
        cursor.execute("UPDATE tasks_assignment SET state = 'pending_county_review' WHERE id BETWEEN 7 AND 9")
        cursor.execute("UPDATE tasks_assignment SET updated_at = '2026-11-24' WHERE id > 3")
        cursor.execute("UPDATE tasks_assignment SET county_id = 101 WHERE id = 10")
        cursor.execute("UPDATE tasks_assignment SET indicator_id = 5, state = 'returned' WHERE id IN (13, 99)")
        cursor.execute("UPDATE tasks_assignment SET points = 5 WHERE id = 2")
        cursor.execute("DELETE FROM tasks_assignment WHERE id IN (1, 11, 12)")
        for tally in progress.TALLIES:
            stored, live = _sqlite_state(sqlite, tally)
            assert stored == live, tally.name
            assert sum(row[-1] for row in stored) == pytest.approx(7.5 * 4 + 5)
