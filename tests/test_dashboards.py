"""The dashboards and their drill-down lists: the numbers equal the data, each office sees
only its scope, filters narrow the lists, and no page runs a query per row."""

import json
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from tasks.models import Assignment, AssignmentState, CheckInState
from tasks.services import generate_assignments

from . import factories as f
from .helpers_domain import drive

S = CheckInState


def body(response):
    return response.content.decode()


def chart(response, chart_id):
    """The JSON a chart is drawn from (rendered with json_script)."""
    html = body(response)
    start = html.index(f'<script id="{chart_id}" type="application/json">') + len(
        f'<script id="{chart_id}" type="application/json">'
    )
    return json.loads(html[start : html.index("</script>", start)])


@pytest.fixture
def worked(world, assignment_of, django_capture_on_commit_callbacks):
    """e11 scored 8 points, e12 returned, e21 waiting for its county, c1's office task scored 6."""
    e11, e12, e21, _e22 = world.enterprises
    with django_capture_on_commit_callbacks(execute=True):
        drive(world, assignment_of(e11), S.SCORED, points="8")
        drive(world, assignment_of(e12), S.RETURNED)
        drive(world, assignment_of(e21), S.PENDING_COUNTY_REVIEW)
        drive(world, assignment_of(world.counties[0]), S.SCORED, points="6")
    return world


def test_home_sends_each_office_to_its_dashboard(client, world):
    expected = {
        world.liaisons[0]: reverse("dashboards:enterprise"),
        world.county_users[0]: reverse("dashboards:county"),
        world.city_user: reverse("dashboards:city"),
        world.observer: reverse("scoring:rankings"),
    }
    for user, url in expected.items():
        client.force_login(user)
        response = client.get(reverse("home"))
        assert response.status_code == 302 and response.url == url, user
        assert client.get(reverse("dashboards:index")).url == url


def test_each_dashboard_is_for_its_role(client, world):
    client.force_login(world.liaisons[0])
    assert client.get(reverse("dashboards:city")).status_code == 403
    assert client.get(reverse("dashboards:county")).status_code == 403
    client.force_login(world.county_users[0])
    assert client.get(reverse("dashboards:city")).status_code == 403
    client.force_login(world.city_user)
    assert client.get(reverse("dashboards:enterprise")).status_code == 403


def test_city_dashboard_numbers_equal_the_data(client, worked):
    world = worked
    client.force_login(world.city_user)
    response = client.get(reverse("dashboards:city"))
    assert response.status_code == 200
    counties = {row["county__name"]: row for row in response.context["counties"]}
    c1, c2 = counties["鼓楼区"], counties["云龙区"]
    assert (c1["enterprises"], c1["assigned"], c1["scored"], c1["returned"], c1["points"]) == (2, 2, 1, 1, Decimal("8"))
    assert (c2["assigned"], c2["pending_county"], c2["scored"], c2["points"]) == (2, 1, 0, Decimal("0"))
    assert c1["completion"] == 50.0
    # Submission counts every task checked in (the returned one too) and, for a county, its
    # office's own: c1 3 of 3 (e11, e12, its office), c2 1 of 3 (e21 waits; e22, office not).
    assert (c1["submitted"], c1["all_tasks"], c1["submission"]) == (3, 3, 100.0)
    assert (c2["submitted"], c2["all_tasks"], c2["submission"]) == (1, 3, 33.3)
    # The bar chart shows the same numbers as the table: 提交率 and 完成率 on one % axis.
    data = chart(response, "chart-counties")
    assert data["categories"] == ["鼓楼区", "云龙区"]
    assert [s["name"] for s in data["series"]] == ["提交率", "完成率"]
    assert data["series"][0]["data"] == [100.0, 33.3] and data["series"][1]["data"] == [50.0, 0.0]
    assert data["axes"] == [{"name": "比率（%）", "unit": "%", "max": 100}]
    assert data["links"][0].startswith(reverse("dashboards:assignment_list"))
    sizes = {row["value"]: row for row in response.context["sizes"]}
    assert sizes["large"]["scored"] == 1 and sizes["small"]["pending_county"] == 1
    waiting = {row["state"]: row["count"] for row in response.context["waiting"]}
    assert waiting == {S.PENDING_COUNTY_REVIEW: 1}
    assert [c.assignment.enterprise for c in response.context["oldest"]] == [world.enterprises[2]]
    # Rank over time comes from the snapshots: the scores made one.
    history = chart(response, "chart-history")
    assert {s["name"] for s in history["series"]} == {"鼓楼区", "云龙区"}
    assert [r.county.name for r in response.context["county_rankings"]][0] == "鼓楼区"
    lowest = response.context["lowest"]
    assert lowest[0]["scored"] <= lowest[-1]["scored"]
    assert "chart-counties" in body(response) and "vendor/echarts/echarts.min.js" in body(response)


def test_county_dashboard_shows_its_county_only(client, worked):
    world = worked
    client.force_login(world.county_users[0])
    response = client.get(reverse("dashboards:county"))
    assert response.status_code == 200
    html = body(response)
    names = [e.name for e in response.context["page_obj"]]
    assert sorted(names) == sorted([world.enterprises[0].name, world.enterprises[1].name])
    for other in world.enterprises[2:]:
        assert other.name not in html
    by_name = {e.name: e for e in response.context["page_obj"]}
    e11 = by_name[world.enterprises[0].name]
    assert (e11.points, e11.scored, e11.assigned, e11.rank_in_county) == (Decimal("8"), 1, 1, 1)
    assert response.context["queue_count"] == 0  # e21 waits in the other county
    assert response.context["not_started_count"] == 0
    assert response.context["ranking"].rank == 1
    assert reverse("scoring:county_detail", args=[world.counties[0].pk]) in html

    client.force_login(world.county_users[1])
    response = client.get(reverse("dashboards:county"))
    assert response.context["queue_count"] == 1
    assert [c.assignment.enterprise for c in response.context["queue"]] == [world.enterprises[2]]
    assert [e.name for e in response.context["not_started"]] == [world.enterprises[3].name]
    assert world.enterprises[0].name not in body(response)


def test_liaison_dashboard_shows_tasks_points_rank_and_the_return_reason(client, worked):
    world = worked
    client.force_login(world.liaisons[0])
    response = client.get(reverse("dashboards:enterprise"))
    assert response.status_code == 200
    assert response.context["points"] == Decimal("8") and response.context["ranking"].rank_in_city == 1
    assert [a.state for a in response.context["assignments"]] == [AssignmentState.SCORED]

    client.force_login(world.liaisons[1])
    response = client.get(reverse("dashboards:enterprise"))
    returned = response.context["returned"]
    assert len(returned) == 1 and returned[0].return_reason == "材料不全，请补充。"
    assert "材料不全，请补充。" in body(response)


def test_lists_filter_and_stay_in_scope(client, worked):
    world = worked
    client.force_login(world.county_users[0])
    url = reverse("dashboards:assignment_list")
    # Another county as a filter is not a valid choice: the list stays in scope.
    response = client.get(url, {"county": world.counties[1].pk})
    assert {a.county_id for a in response.context["page_obj"]} == {world.counties[0].pk}
    response = client.get(url, {"state": AssignmentState.SCORED})
    assert {a.state for a in response.context["page_obj"]} == {AssignmentState.SCORED}
    assert len(response.context["page_obj"]) == 2  # e11's task and the office's own
    response = client.get(url, {"q": "恒达"})
    assert [a.enterprise for a in response.context["page_obj"]] == [world.enterprises[1]]

    client.force_login(world.city_user)
    response = client.get(reverse("dashboards:enterprise_list"), {"progress": "not_started"})
    assert [e.name for e in response.context["page_obj"]] == [world.enterprises[3].name]
    response = client.get(reverse("dashboards:enterprise_list"), {"size": "large", "county": world.counties[0].pk})
    assert [e.name for e in response.context["page_obj"]] == [world.enterprises[0].name]
    response = client.get(reverse("dashboards:assignment_list"), {"county": world.counties[1].pk, "assignee": "enterprise"})
    assert {a.enterprise for a in response.context["page_obj"]} == set(world.enterprises[2:])


def _progress_from_tasks(world):
    """Each enterprise's progress computed from its tasks, as the filter promises it."""
    states = {}
    for a in Assignment.objects.filter(period=world.period, enterprise__isnull=False):
        states.setdefault(a.enterprise.name, []).append(a.state)
    return {
        "not_started": {n for n, s in states.items() if set(s) == {AssignmentState.NOT_SUBMITTED}},
        "started": {n for n, s in states.items() if set(s) != {AssignmentState.NOT_SUBMITTED}},
        "completed": {n for n, s in states.items() if set(s) == {AssignmentState.SCORED}},
    }


def test_enterprise_list_progress_filters_match_the_tasks(client, worked, assignment_of):
    world = worked
    client.force_login(world.city_user)
    url = reverse("dashboards:enterprise_list")

    def listed(progress):
        return {e.name for e in client.get(url, {"progress": progress}).context["page_obj"]}

    expected = _progress_from_tasks(world)
    assert expected["completed"] == {world.enterprises[0].name}  # the fixture is what we think
    for progress, names in expected.items():
        assert listed(progress) == names, progress

    # A second task each: e11 has one scored and one not submitted, so it is started, not completed.
    f.IndicatorFactory(city=world.city, code="B02", title="建立职工技能等级认定制度", max_points=5)
    generate_assignments(world.period)
    drive(world, assignment_of(world.enterprises[3], world.period.city.indicators.get(code="B02")), S.RETURNED)
    expected = _progress_from_tasks(world)
    assert expected["completed"] == set() and world.enterprises[3].name in expected["started"]
    for progress, names in expected.items():
        assert listed(progress) == names, progress


def test_enterprises_are_listed_in_rank_order(client, worked, assignment_of):
    world = worked
    # e11 has 8 points; e12 3 and e22 9.5, so e22 passes e21 (0) in the second county.
    with_points = {world.enterprises[1]: "3", world.enterprises[3]: "9.5"}
    for enterprise, points in with_points.items():
        Assignment.objects.filter(pk=assignment_of(enterprise).pk).update(state=AssignmentState.SCORED, points=points)
    from scoring.engine import compute_snapshot

    compute_snapshot(world.period)
    client.force_login(world.city_user)
    rows = list(client.get(reverse("dashboards:enterprise_list")).context["page_obj"])
    # By county, then rank in county (1 first), then name: e12 (3 points) before e11 would be wrong.
    assert [(e.name, e.rank_in_county) for e in rows] == [
        (world.enterprises[0].name, 1),
        (world.enterprises[1].name, 2),
        (world.enterprises[3].name, 1),
        (world.enterprises[2].name, 2),
    ]
    client.force_login(world.county_users[1])
    rows = list(client.get(reverse("dashboards:county")).context["page_obj"])
    assert [(e.name, e.rank_in_county) for e in rows] == [(world.enterprises[3].name, 1), (world.enterprises[2].name, 2)]


PAGES = [
    ("city_user", "dashboards:city"),
    ("county", "dashboards:county"),
    ("liaison", "dashboards:enterprise"),
    ("city_user", "dashboards:assignment_list"),
    ("city_user", "dashboards:enterprise_list"),
    ("county", "dashboards:assignment_list"),
    ("county", "dashboards:enterprise_list"),
]


def _user(world, who):
    return {"city_user": world.city_user, "county": world.county_users[0], "liaison": world.liaisons[0]}[who]


def _count_queries(client, url):
    with CaptureQueriesContext(connection) as queries:
        assert client.get(url).status_code == 200
    return len(queries)


@pytest.mark.parametrize("who, name", PAGES)
def test_pages_run_the_same_queries_for_2_and_20_enterprises(client, worked, who, name, django_assert_max_num_queries):
    world = worked
    client.force_login(_user(world, who))
    url = reverse(name)
    small = _count_queries(client, url)
    # 18 more enterprises in the first county, with their tasks, some of them worked on.
    for n in range(18):
        f.EnterpriseFactory(county=world.counties[0], name=f"徐州测试企业{n:02d}有限公司")
    generate_assignments(world.period)
    extra = Assignment.objects.filter(period=world.period, enterprise__name__startswith="徐州测试企业")
    assert extra.count() == 18
    extra.filter(enterprise__name__endswith="0有限公司").update(state=AssignmentState.SCORED, points=5)
    with django_assert_max_num_queries(small):
        response = client.get(url)
    assert response.status_code == 200
