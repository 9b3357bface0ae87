"""The pages that explain a ranking: how a county's score is made (the equation adds up to
the stored score, missing parts, the county office's tasks, the rank history) and which
task points make an enterprise's figures; who may open them; constant query counts."""

import datetime
import re
from decimal import ROUND_HALF_UP, Decimal

import pytest
from django.templatetags.static import static
from django.urls import reverse
from django.utils import timezone

from scoring.engine import compute_snapshot
from scoring.models import CountyRanking, EnterpriseRanking, RankingSnapshot, ScoringRule
from tasks.models import Assignment, AssignmentState, Indicator

from . import factories as f
from .ranked_world import award


@pytest.fixture(autouse=True)
def _english(settings):
    """Assert on the English msgids, whatever the zh_Hans catalog says."""
    settings.LANGUAGE_CODE = "en"


def county_url(county, period):
    return f"{reverse('scoring:county_detail', args=[county.pk])}?period={period.pk}"


def enterprise_url(enterprise, period):
    return f"{reverse('scoring:enterprise_detail', args=[enterprise.pk])}?period={period.pk}"


def text_of(html, element_id):
    """The text of the element with this id, tags removed and whitespace collapsed."""
    match = re.search(r"<(\w+)[^>]*\bid=\"" + re.escape(element_id) + r"\"[^>]*>", html)
    start, tag = match.end(), match.group(1)
    end = html.index(f"</{tag}>", start)
    return " ".join(re.sub(r"<[^>]+>", " ", html[start:end]).split())


@pytest.fixture
def explained_world(world, assignment_of):
    """The conftest world with one snapshot:

    c1: office 5 of 10 → 0.5000; e11 8 of 10, e12 7 of 10 → mean 0.7500 → 40×0.5 + 60×0.75 = 65.00.
    c2: office not scored (0 of 10) → 0.0000; e21 10 of 10, e22 0 of 10 → mean 0.5000 → 30.00.
    """
    e11, e12, e21, _e22 = world.enterprises
    award(assignment_of(e11), 8)
    award(assignment_of(e12), 7)
    award(assignment_of(e21), 10)
    award(assignment_of(world.counties[0]), 5)
    world.snapshot = compute_snapshot(world.period, trigger="test")
    return world


# --- The county page -------------------------------------------------------------------


def test_county_equation_adds_up_to_the_stored_score(client, explained_world):
    w = explained_world
    client.force_login(w.city_user)
    response = client.get(county_url(w.counties[0], w.period))
    assert response.status_code == 200
    row, eq = response.context["row"], response.context["equation"]
    assert row.score == Decimal("65.00")
    # From the context: the snapshot's weights and rates, evaluated, give the stored score.
    assert (eq["office_weight"], eq["office_rate"]) == (Decimal("40"), Decimal("0.5"))
    assert (eq["enterprise_weight"], eq["enterprise_rate"]) == (Decimal("60"), Decimal("0.75"))
    total = eq["office_weight"] * eq["office_rate"] + eq["enterprise_weight"] * eq["enterprise_rate"]
    assert total.quantize(Decimal("0.01"), rounding=ROUND_HALF_UP) == row.score == eq["total"]
    assert eq["adds_up"]
    # From the page: the numbers printed make the printed score.
    html = response.content.decode()
    equation = text_of(html, "county-equation")
    assert equation == "40 × 0.5000 + 60 × 0.7500 = 65.00"
    ow, orate, ew, erate, shown = (Decimal(n) for n in re.findall(r"[\d.]+", equation))
    assert (ow * orate + ew * erate).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP) == shown == row.score
    assert text_of(html, "office-rate-line").endswith("5 / 10 = 0.5000")
    assert text_of(html, "enterprise-rate-line").endswith("1.5000 / 2 = 0.7500")
    assert "2 enterprises counted" in text_of(html, "enterprise-rate-line")


def test_county_equation_adds_up_with_uneven_weights_and_rates(client, explained_world, assignment_of):
    w = explained_world
    ScoringRule.objects.filter(pk=ScoringRule.for_period(w.period).pk).update(
        office_weight=Decimal("33.33"), enterprise_weight=Decimal("66.67")
    )
    award(assignment_of(w.counties[0]), "3.33")  # 0.3330
    award(assignment_of(w.enterprises[1]), "6.67")  # mean of 0.8000 and 0.6670 = 0.7335
    compute_snapshot(w.period, trigger="test")
    client.force_login(w.city_user)
    response = client.get(county_url(w.counties[0], w.period))
    row, eq = response.context["row"], response.context["equation"]
    equation = text_of(response.content.decode(), "county-equation")
    assert equation == f"33.33 × 0.3330 + 66.67 × 0.7335 = {row.score}"
    ow, orate, ew, erate, shown = (Decimal(n) for n in re.findall(r"[\d.]+", equation))
    assert (ow * orate + ew * erate).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP) == shown == row.score
    assert eq["adds_up"] and row.score == Decimal("60.00")  # 11.09889 + 48.902445 = 60.001335


def test_missing_parts_count_as_zero_and_say_so(client, world, assignment_of):
    w = world
    Assignment.objects.filter(county=w.counties[1], enterprise__isnull=True).delete()  # c2: no office task
    award(assignment_of(w.enterprises[2]), 10)
    empty = f.RegionFactory.county(parent=w.city, name="贾汪区", code="320305", order=3)  # no enterprises
    compute_snapshot(w.period, trigger="test")
    client.force_login(w.city_user)

    response = client.get(county_url(w.counties[1], w.period))
    html = response.content.decode()
    assert response.context["equation"]["office_missing"]
    assert not response.context["equation"]["enterprise_missing"]
    assert "The county office has no task that counts towards its score rate yet" in html
    assert "A missing part counts as 0." in html
    assert text_of(html, "county-equation") == "40 × 0.0000 + 60 × 0.5000 = 30.00"

    html = client.get(county_url(empty, w.period)).content.decode()
    assert "No enterprise of this county-level unit has a score rate yet" in html
    assert text_of(html, "county-equation") == "40 × 0.0000 + 60 × 0.0000 = 0.00"

    html = client.get(county_url(w.counties[0], w.period)).content.decode()
    assert "A missing part counts as 0." not in html


def test_county_page_lists_the_office_tasks_with_points(client, explained_world):
    w = explained_world
    second = f.IndicatorFactory.for_county_office(city=w.city, code="X02", title="召开产改推进会", max_points=5)
    f.AssignmentFactory(period=w.period, indicator=second, enterprise=None, county=w.counties[0])
    client.force_login(w.county_users[0])
    response = client.get(county_url(w.counties[0], w.period))
    assert [(a.indicator.code, a.points) for a in response.context["office_tasks"]] == [
        ("X01", Decimal("5.00")),
        ("X02", None),
    ]
    table = text_of(response.content.decode(), "office-tasks")
    assert "X01 组织产改观察员开展督查调研 Scored 5 10" in table
    assert "X02 召开产改推进会 Not submitted — 5" in table
    # X02 was added after the snapshot: the page says the ranking has not caught up.
    assert "Rankings are being updated" in response.content.decode()


def test_county_history_has_a_row_per_snapshot_and_a_sparkline(client, explained_world, assignment_of):
    w = explained_world
    yesterday = timezone.localdate() - datetime.timedelta(days=1)
    RankingSnapshot.objects.filter(pk=w.snapshot.pk).update(
        taken_on=yesterday, created_at=timezone.now() - datetime.timedelta(days=1)
    )
    award(assignment_of(w.counties[1]), 10)  # c2: 40 + 30 = 70 > c1's 65
    compute_snapshot(w.period, trigger="test")
    client.force_login(w.city_user)
    response = client.get(county_url(w.counties[0], w.period))
    history = response.context["history"]
    assert [(h.snapshot.taken_on, h.rank, h.score) for h in history] == [
        (yesterday, 1, Decimal("65.00")),
        (timezone.localdate(), 2, Decimal("65.00")),
    ]
    html = response.content.decode()
    rows = text_of(html, "county-history")
    assert f"{yesterday.year}年{yesterday.month}月{yesterday.day}日 1/2 65.00" in rows
    today = timezone.localdate()
    assert f"{today.year}年{today.month}月{today.day}日 2/2 65.00" in rows
    assert "<svg" in html and html.count('class="sparkline__dot"') == 2
    # No script of its own: only the header menu's (the page works without JavaScript).
    assert re.findall(r"<script\b[^>]*>", html) == [f'<script src="{static("js/nav.js")}">']
    assert text_of(html, "county-rank") == "2/2 ↓1 (previously 1)"


def test_every_county_office_and_observer_of_the_city_reads_every_county_page(client, explained_world):
    w = explained_world
    for user in [w.city_user, *w.county_users, w.observer]:
        client.force_login(user)
        for county in w.counties:
            assert client.get(county_url(county, w.period)).status_code == 200, (user, county)


def test_liaisons_may_not_read_county_pages_and_other_cities_are_404(client, explained_world):
    w = explained_world
    client.force_login(w.liaisons[0])
    assert client.get(county_url(w.counties[0], w.period)).status_code == 403
    enterprise_observer = f.observer(w.enterprises[0], username="ent-observer")
    client.force_login(enterprise_observer)
    assert client.get(county_url(w.counties[0], w.period)).status_code == 403

    other_city = f.RegionFactory.city(parent=w.province, name="南京市", code="320100")
    other_county = f.RegionFactory.county(parent=other_city, name="玄武区", code="320102")
    other_period = f.PeriodFactory(city=other_city)
    client.force_login(w.county_users[0])
    assert client.get(county_url(other_county, w.period)).status_code == 404
    assert client.get(county_url(w.counties[0], other_period)).status_code == 404
    assert client.get(reverse("scoring:county_detail", args=[999999])).status_code == 404


def test_county_page_links_to_the_enterprises_only_where_the_filter_is_allowed(client, explained_world):
    w = explained_world
    own = f"{reverse('scoring:rankings')}?period={w.period.pk}&amp;county={w.counties[0].pk}"
    other = f"{reverse('scoring:rankings')}?period={w.period.pk}&amp;county={w.counties[1].pk}"
    client.force_login(w.city_user)
    assert own in client.get(county_url(w.counties[0], w.period)).content.decode()
    assert other in client.get(county_url(w.counties[1], w.period)).content.decode()
    client.force_login(w.county_users[0])
    assert own in client.get(county_url(w.counties[0], w.period)).content.decode()
    assert other not in client.get(county_url(w.counties[1], w.period)).content.decode()


def test_county_page_without_a_snapshot_says_so(client, world):
    client.force_login(world.city_user)
    response = client.get(county_url(world.counties[0], world.period))
    assert response.status_code == 200
    assert "Rankings have not been computed for this period yet." in response.content.decode()


# --- The enterprise page ----------------------------------------------------------------


@pytest.fixture
def two_category_world(explained_world):
    """e11 also has a rights task worth 20 (15 awarded) and an unfinished one worth 5:
    skills 8 of 10 + rights 15 of 25 = 23 points of 35."""
    w = explained_world
    rights = f.IndicatorFactory(
        city=w.city, code="D01", title="签订集体合同", category=Indicator.Category.RIGHTS, max_points=20
    )
    open_task = f.IndicatorFactory(
        city=w.city, code="D02", title="开展职工满意度调查", category=Indicator.Category.RIGHTS, max_points=5
    )
    e11 = w.enterprises[0]
    award(f.AssignmentFactory(period=w.period, indicator=rights, enterprise=e11, county=e11.county), 15)
    f.AssignmentFactory(period=w.period, indicator=open_task, enterprise=e11, county=e11.county)
    w.snapshot = compute_snapshot(w.period, trigger="test")
    return w


def test_enterprise_category_totals_add_up_to_the_ranked_points(client, two_category_world):
    w = two_category_world
    client.force_login(w.liaisons[0])
    response = client.get(enterprise_url(w.enterprises[0], w.period))
    assert response.status_code == 200
    row, breakdown = response.context["row"], response.context["breakdown"]
    assert (row.points, row.max_points) == (Decimal("23.00"), Decimal("35.00"))
    categories = {c["value"]: (c["points"], c["max_points"]) for c in breakdown["categories"]}
    assert categories == {"skills": (Decimal("8"), Decimal("10")), "rights": (Decimal("15"), Decimal("25"))}
    assert sum(c["points"] for c in breakdown["categories"]) == breakdown["points"] == row.points
    assert sum(c["max_points"] for c in breakdown["categories"]) == breakdown["max_points"] == row.max_points
    assert not response.context["pending"]
    html = response.content.decode()
    assert text_of(html, "total-points") == "23" == text_of(html, "ranked-points")
    assert text_of(html, "total-max-points") == "35"
    assert "Skills and quality" in html and "Rights protection" in html
    assert "Subtotal: Rights protection 25 15" in text_of(html, "points-breakdown")
    assert "Rankings are being updated" not in html


def test_enterprise_page_shows_rank_movement_and_completion(client, two_category_world):
    w = two_category_world
    client.force_login(w.city_user)
    response = client.get(enterprise_url(w.enterprises[0], w.period))
    row = response.context["row"]
    assert (row.rank_in_county, row.rank_in_city, row.scored_count, row.assigned_count) == (1, 1, 2, 3)
    figures = text_of(response.content.decode(), "enterprise-figures")
    assert "2/3 (67%)" in figures
    assert "65.7%" in figures  # 23 / 35
    assert "↑1" in figures  # 2nd in the city (8 points) before, 1st with 23


def test_enterprise_page_says_rankings_are_updating_when_points_changed_since(
    client, two_category_world, assignment_of
):
    w = two_category_world
    award(assignment_of(w.enterprises[0]), 10)  # not yet in the ranking
    client.force_login(w.liaisons[0])
    response = client.get(enterprise_url(w.enterprises[0], w.period))
    assert response.context["pending"]
    assert response.context["breakdown"]["points"] == Decimal("25")
    assert response.context["row"].points == Decimal("23.00")
    assert "Rankings are being updated" in response.content.decode()


def test_enterprise_max_points_follow_the_snapshots_count_unfinished(client, two_category_world):
    w = two_category_world
    ScoringRule.objects.filter(period=w.period).update(count_unfinished=False)
    compute_snapshot(w.period, trigger="test")
    client.force_login(w.liaisons[0])
    response = client.get(enterprise_url(w.enterprises[0], w.period))
    row, breakdown = response.context["row"], response.context["breakdown"]
    assert row.max_points == breakdown["max_points"] == Decimal("30")  # the unfinished D02 is left out
    assert not response.context["pending"]
    assert "Not counted: unfinished tasks do not count in this period." in response.content.decode()


def test_liaison_opens_only_its_own_enterprise_page(client, explained_world):
    w = explained_world
    client.force_login(w.liaisons[0])
    assert client.get(enterprise_url(w.enterprises[0], w.period)).status_code == 200
    assert client.get(enterprise_url(w.enterprises[1], w.period)).status_code == 404
    assert client.get(enterprise_url(w.enterprises[2], w.period)).status_code == 404


def test_county_office_cannot_open_another_countys_enterprise(client, explained_world):
    w = explained_world
    client.force_login(w.county_users[0])
    assert client.get(enterprise_url(w.enterprises[0], w.period)).status_code == 200
    assert client.get(enterprise_url(w.enterprises[2], w.period)).status_code == 404
    client.force_login(w.observer)
    assert client.get(enterprise_url(w.enterprises[1], w.period)).status_code == 200
    assert client.get(enterprise_url(w.enterprises[3], w.period)).status_code == 404
    client.force_login(w.city_user)
    for enterprise in w.enterprises:
        assert client.get(enterprise_url(enterprise, w.period)).status_code == 200


def test_enterprise_page_links_to_the_county_page_only_for_roles_that_see_it(client, explained_world):
    w = explained_world
    link = county_url(w.counties[0], w.period)
    client.force_login(w.county_users[0])
    assert link in client.get(enterprise_url(w.enterprises[0], w.period)).content.decode()
    client.force_login(w.liaisons[0])
    assert link not in client.get(enterprise_url(w.enterprises[0], w.period)).content.decode()


# --- Query counts ------------------------------------------------------------------------

# 12 for the page, 1 for the notifications bell in the top bar, 1 for how many are ranked
# (ranks read n/N).
MAX_COUNTY_PAGE_QUERIES = 14
MAX_ENTERPRISE_PAGE_QUERIES = 11


def _world_with_enterprises(count):
    """A city with two counties, `count` scored enterprises, two snapshots (for history and
    movement); returns (county office of the first county, its first enterprise, period)."""
    from tasks.services import generate_assignments

    city = f.RegionFactory.city()
    counties = [f.RegionFactory.county(parent=city), f.RegionFactory.county(parent=city)]
    enterprises = [f.EnterpriseFactory(county=counties[i % 2]) for i in range(count)]
    period = f.PeriodFactory(city=city)
    f.IndicatorFactory(city=city)
    f.IndicatorFactory(city=city, category=Indicator.Category.RIGHTS)
    f.IndicatorFactory.for_county_office(city=city)
    generate_assignments(period)
    for i, assignment in enumerate(Assignment.objects.filter(period=period).order_by("pk")):
        award(assignment, i % 7)
    compute_snapshot(period)
    compute_snapshot(period)
    return f.county_office(counties[0]), enterprises[0], counties[0], period


@pytest.mark.parametrize("page", ["county", "enterprise"])
def test_explanation_pages_query_count_does_not_grow_with_enterprises(
    client, db, page, django_assert_max_num_queries
):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    counts = []
    for size in (2, 20):
        user, enterprise, county, period = _world_with_enterprises(size)
        url = county_url(county, period) if page == "county" else enterprise_url(enterprise, period)
        client.force_login(user)
        with CaptureQueriesContext(connection) as queries:
            response = client.get(url)
        assert response.status_code == 200
        if page == "county":
            assert response.context["row"].enterprises_counted == size // 2
        counts.append(len(queries))
    assert counts[0] == counts[1]
    limit = MAX_COUNTY_PAGE_QUERIES if page == "county" else MAX_ENTERPRISE_PAGE_QUERIES
    with django_assert_max_num_queries(limit):
        client.get(url)


def test_snapshot_rows_are_unchanged_by_reading_the_pages(client, explained_world):
    """The pages only read: opening them writes no ranking row."""
    w = explained_world
    before = (CountyRanking.objects.count(), EnterpriseRanking.objects.count(), RankingSnapshot.objects.count())
    client.force_login(w.city_user)
    client.get(county_url(w.counties[0], w.period))
    client.get(enterprise_url(w.enterprises[0], w.period))
    after = (CountyRanking.objects.count(), EnterpriseRanking.objects.count(), RankingSnapshot.objects.count())
    assert before == after


# --- The score rate's denominator: the explanation pages and the engine agree ------------


@pytest.mark.parametrize("count_unfinished", [True, False], ids=["unfinished count", "scored only"])
def test_the_explained_denominator_equals_the_engines_for_finished_and_unfinished_tasks(
    world, assignment_of, count_unfinished
):
    """explanations.task_totals (the pages' Σ points and Σ max points that count) gives, for
    every enterprise and county office, the figures the engine stored in the snapshot."""
    from scoring import explanations
    from tasks.services import generate_assignments

    b02 = f.IndicatorFactory(city=world.city, code="B02", max_points=6)
    b03 = f.IndicatorFactory(city=world.city, code="B03", max_points=4, category=Indicator.Category.RIGHTS)
    x02 = f.IndicatorFactory.for_county_office(city=world.city, code="X02", max_points=5)
    generate_assignments(world.period)
    e11, e12, e21, e22 = world.enterprises
    c1, c2 = world.counties
    S = AssignmentState
    states = {
        (e11, None): (S.SCORED, 8), (e11, b02): (S.PENDING_CITY_REVIEW, None), (e11, b03): (S.NOT_SUBMITTED, None),
        (e12, None): (S.RETURNED, None), (e12, b02): (S.SCORED, 3), (e12, b03): (S.SCORED, 4),
        (e21, None): (S.PENDING_COUNTY_REVIEW, None),
        (e22, None): (S.SCORED, 10), (e22, b02): (S.SCORED, 0),
        (c1, None): (S.SCORED, 5), (c1, x02): (S.PENDING_CITY_REVIEW, None),
    }
    for (assignee, indicator), (state, points) in states.items():
        Assignment.objects.filter(pk=assignment_of(assignee, indicator).pk).update(state=state, points=points)
    ScoringRule.objects.update_or_create(period=world.period, defaults={"count_unfinished": count_unfinished})

    snapshot = compute_snapshot(world.period, trigger="test")

    def explained(**assignee):
        tasks = list(Assignment.objects.filter(period=world.period, **assignee).select_related("indicator"))
        return explanations.task_totals(tasks, count_unfinished=count_unfinished)

    enterprises = {
        row.enterprise_id: (row.points, row.max_points) for row in EnterpriseRanking.objects.filter(snapshot=snapshot)
    }
    assert enterprises == {e.pk: explained(enterprise=e) for e in world.enterprises}
    offices = {row.county_id: (row.office_points, row.office_max_points) for row in snapshot.county_rankings.all()}
    assert offices == {c.pk: explained(county=c, enterprise__isnull=True) for c in world.counties}
    # The world tells the two rules apart: e11 has 8 points of 20 max points, or of its scored 10.
    expected_e11_max = Decimal(20) if count_unfinished else Decimal(10)
    assert enterprises[e11.pk] == (Decimal(8), expected_e11_max)
    assert offices[c1.pk] == (Decimal(5), Decimal(15) if count_unfinished else Decimal(10))
    assert offices[c2.pk] == (Decimal(0), Decimal(15) if count_unfinished else Decimal(0))
