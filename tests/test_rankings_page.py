"""The rankings page: what each role sees of the latest snapshot, ties, movement, filters,
and a query count that does not grow with the number of enterprises."""

import datetime
import re
from decimal import Decimal

import pytest
from django.urls import reverse

from scoring.engine import compute_snapshot
from scoring.models import RankingSnapshot
from tasks.models import Assignment

from . import factories as f
from .ranked_world import award

URL = reverse("scoring:rankings")
# session, user, profile, period, snapshot, counties, periods, count, page, county rows,
# how many the snapshot ranks per county (ranks read n/N)
MAX_PAGE_QUERIES = 13


@pytest.fixture(autouse=True)
def _english(settings):
    """Assert on the English msgids, whatever the zh_Hans catalog says."""
    settings.LANGUAGE_CODE = "en"


def table_html(html, table_id):
    """The markup of one table of the page (the county and the enterprise table both show movement)."""
    start = html.index(f'id="{table_id}"')
    return html[start : html.index("</table>", start)]


def enterprise_names(response):
    return [row.enterprise.name for row in response.context["page_obj"]]


def test_city_office_sees_both_tables_with_every_enterprise_and_export_links(client, ranked_world):
    w = ranked_world
    client.force_login(w.city_user)
    response = client.get(URL)
    assert response.status_code == 200
    html = response.content.decode()
    assert 'id="county-ranking"' in html
    assert [(r.county.name, r.rank, r.score) for r in response.context["county_rows"]] == [
        ("鼓楼区", 1, Decimal("68.00")),
        ("云龙区", 2, Decimal("30.00")),
    ]
    assert len(enterprise_names(response)) == 4
    assert reverse("scoring:export_counties") in html
    assert reverse("scoring:export_enterprises") in html


def test_equal_points_share_a_rank_on_the_page(client, ranked_world):
    w = ranked_world
    client.force_login(w.city_user)
    response = client.get(URL)
    rows = [(r.enterprise.name, r.rank_in_city, r.rank_in_county) for r in response.context["page_obj"]]
    e11, e12, e21, e22 = (e.name for e in w.enterprises)
    assert rows[0] == (e21, 1, 1)
    assert sorted(rows[1:3]) == sorted([(e11, 2, 1), (e12, 2, 1)])
    assert rows[3] == (e22, 4, 2)
    html = response.content.decode()
    # both shared city ranks are printed, with how many the city ranks: 2/4
    assert len(re.findall(r'<td class="num rank rank--city[^"]*"[^>]*>2/4</td>', html)) == 2


def test_county_office_sees_county_table_but_only_its_own_enterprises(client, ranked_world):
    w = ranked_world
    client.force_login(w.county_users[0])
    response = client.get(URL)
    assert response.status_code == 200
    assert 'id="county-ranking"' in response.content.decode()
    assert len(response.context["county_rows"]) == 2  # every county office sees every county
    assert sorted(enterprise_names(response)) == sorted(e.name for e in w.enterprises[:2])
    assert reverse("scoring:export_enterprises") in response.content.decode()


def test_county_office_cannot_choose_another_county(client, ranked_world):
    w = ranked_world
    client.force_login(w.county_users[0])
    assert client.get(URL, {"county": w.counties[1].pk}).status_code == 404
    assert client.get(URL, {"county": w.counties[0].pk}).status_code == 200
    assert client.get(URL, {"county": "abc"}).status_code == 404


def test_liaison_sees_only_its_own_row_and_no_county_table(client, ranked_world):
    w = ranked_world
    client.force_login(w.liaisons[0])
    response = client.get(URL)
    assert response.status_code == 200
    html = response.content.decode()
    assert enterprise_names(response) == [w.enterprises[0].name]
    assert 'id="county-ranking"' not in html
    assert w.enterprises[1].name not in html
    assert reverse("scoring:export_enterprises") not in html
    assert reverse("scoring:export_counties") not in html


def test_county_observer_reads_county_table_and_its_county_without_downloads(client, ranked_world):
    w = ranked_world
    client.force_login(w.observer)
    response = client.get(URL)
    html = response.content.decode()
    assert 'id="county-ranking"' in html
    assert sorted(enterprise_names(response)) == sorted(e.name for e in w.enterprises[:2])
    assert "Download Excel" not in html


def test_city_office_filters_enterprises_by_county(client, ranked_world):
    w = ranked_world
    client.force_login(w.city_user)
    response = client.get(URL, {"county": w.counties[1].pk})
    assert sorted(enterprise_names(response)) == sorted(e.name for e in w.enterprises[2:])
    assert f"county={w.counties[1].pk}" in response.content.decode()  # the download keeps the filter


def test_page_says_rankings_are_not_computed_without_a_snapshot(client, world):
    client.force_login(world.city_user)
    response = client.get(URL)
    assert response.status_code == 200
    assert "Rankings have not been computed for this period yet." in response.content.decode()


def test_period_of_another_city_is_404(client, ranked_world):
    other = f.PeriodFactory(city=f.RegionFactory.city(parent=ranked_world.province, name="南京市", code="320100"))
    client.force_login(ranked_world.city_user)
    assert client.get(URL, {"period": other.pk}).status_code == 404
    assert client.get(URL, {"period": ranked_world.period.pk}).status_code == 200


def test_computed_time_is_shown_in_chinese_format(client, ranked_world):
    RankingSnapshot.objects.filter(pk=ranked_world.snapshot.pk).update(
        computed_at=datetime.datetime(2026, 11, 24, 1, 30, tzinfo=datetime.timezone.utc)
    )
    client.force_login(ranked_world.city_user)
    assert "2026年11月24日 09:30" in client.get(URL).content.decode()  # Asia/Shanghai


def test_movement_is_new_first_then_arrows_against_the_previous_snapshot(client, ranked_world, assignment_of):
    w = ranked_world
    client.force_login(w.city_user)
    html = table_html(client.get(URL).content.decode(), "county-ranking")
    assert html.count("movement--new") == 2

    award(assignment_of(w.counties[1]), 10)  # c2: 40 + 30 = 70 > c1's 68
    compute_snapshot(w.period, trigger="test")
    response = client.get(URL)
    rows = {r.county.name: r for r in response.context["county_rows"]}
    assert (rows["云龙区"].rank, rows["鼓楼区"].rank) == (1, 2)
    html = table_html(response.content.decode(), "county-ranking")
    assert "↑1" in html and "↓1" in html and "movement--new" not in html


def test_unchanged_rank_shows_a_dash(client, ranked_world):
    compute_snapshot(ranked_world.period, trigger="test")
    client.force_login(ranked_world.city_user)
    assert table_html(client.get(URL).content.decode(), "county-ranking").count("movement--same") == 2


def test_anonymous_user_is_sent_to_login(client, ranked_world):
    response = client.get(URL)
    assert response.status_code == 302
    assert reverse("login") in response["Location"]


def test_enterprise_table_is_paginated(client, ranked_world, monkeypatch):
    from scoring import views

    monkeypatch.setattr(views, "ENTERPRISES_PER_PAGE", 3)
    client.force_login(ranked_world.city_user)
    assert len(enterprise_names(client.get(URL))) == 3
    assert len(enterprise_names(client.get(URL, {"page": 2}))) == 1


def _world_with_enterprises(count):
    """A city with two counties, `count` scored enterprises and a snapshot; returns the city user."""
    from tasks.services import generate_assignments

    city = f.RegionFactory.city()
    counties = [f.RegionFactory.county(parent=city), f.RegionFactory.county(parent=city)]
    for i in range(count):
        f.EnterpriseFactory(county=counties[i % 2])
    period = f.PeriodFactory(city=city)
    f.IndicatorFactory(city=city)
    f.IndicatorFactory.for_county_office(city=city)
    generate_assignments(period)
    for i, assignment in enumerate(Assignment.objects.filter(period=period, enterprise__isnull=False)):
        award(assignment, i % 7)
    compute_snapshot(period)
    return f.city_office(city), f.county_office(counties[0])


@pytest.mark.parametrize("role", ["city", "county"])
def test_query_count_does_not_grow_with_enterprises(client, db, role, django_assert_max_num_queries):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    counts = []
    for size in (2, 20):
        city_user, county_user = _world_with_enterprises(size)
        client.force_login(city_user if role == "city" else county_user)
        with CaptureQueriesContext(connection) as queries:
            response = client.get(URL)
        assert response.status_code == 200
        assert len(response.context["page_obj"]) == (size if role == "city" else size // 2)
        counts.append(len(queries))
    assert counts[0] == counts[1]
    with django_assert_max_num_queries(MAX_PAGE_QUERIES):
        client.get(URL)


def test_enterprise_movement_is_new_first_then_arrows_in_the_city(client, ranked_world, assignment_of):
    w = ranked_world
    client.force_login(w.city_user)
    assert table_html(client.get(URL).content.decode(), "enterprise-ranking").count("movement--new") == 4

    award(assignment_of(w.enterprises[3]), 9)  # e22: 4th → 2nd; e11, e12: 2nd → 3rd
    compute_snapshot(w.period, trigger="test")
    response = client.get(URL)
    moves = {r.enterprise.name: r.movement for r in response.context["page_obj"]}
    e11, e12, e21, e22 = (e.name for e in w.enterprises)
    assert moves == {e21: 0, e22: 2, e11: -1, e12: -1}
    html = table_html(response.content.decode(), "enterprise-ranking")
    assert html.count("↑2") == 1 and html.count("↓1") == 2 and html.count("movement--same") == 1
    assert "movement--new" not in html


def test_names_link_to_their_explanation_pages(client, ranked_world):
    w = ranked_world
    client.force_login(w.city_user)
    html = client.get(URL).content.decode()
    for county in w.counties:
        assert f'{reverse("scoring:county_detail", args=[county.pk])}?period={w.period.pk}' in html
    for enterprise in w.enterprises:
        assert f'{reverse("scoring:enterprise_detail", args=[enterprise.pk])}?period={w.period.pk}' in html


def test_page_shows_the_rule_in_force_and_the_snapshot_date(client, ranked_world):
    w = ranked_world
    RankingSnapshot.objects.filter(pk=w.snapshot.pk).update(taken_on=datetime.date(2026, 11, 23))
    client.force_login(w.city_user)
    html = client.get(URL).content.decode()
    rule = html[html.index('id="rule-in-force"') :]
    rule = rule[: rule.index("</p>")]
    assert "County score = 40 × county office score rate + 60 × mean enterprise score rate." in rule
    assert "Shared ranks (1, 2, 2, 4)" in rule
    assert f'{reverse("scoring:rule")}?period={w.period.pk}' in rule  # the city office may change it
    assert "2026年11月23日" in html


def test_only_the_city_office_gets_the_rule_link(client, ranked_world):
    client.force_login(ranked_world.county_users[0])
    html = client.get(URL).content.decode()
    assert "Shared ranks (1, 2, 2, 4)" in html
    assert reverse("scoring:rule") not in html
