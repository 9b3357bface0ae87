"""Numbers with one name: each figure (scoring.figures) has one Chinese name and definition,
used by the pages' headers and legends, the charts' axes, the exports and the API; 提交率 is
computed from the tasks' states; charts name their axes and units and a one-point chart says
so in words; ranks read n/N; the task list keeps 满分 and 得分 apart."""

import json
import re
from decimal import Decimal

import pytest
from django.urls import reverse
from django.utils import translation

from api.serializers import CountyRankingSerializer, EnterpriseRankingSerializer
from dashboards import selectors as dashboard_selectors
from notices.models import Notice
from notices.publishing import publish_notice, record_notice_read
from scoring import charts
from scoring.figures import FIGURES, figure
from scoring.models import CountyRanking
from spreadsheets.exports.specs import COUNTY_RANKING_COLUMNS, ENTERPRISE_RANKING_COLUMNS
from tasks import services
from tasks.models import CheckInState

from .helpers_domain import drive, pdf, submitter_for
from .ranked_world import ranked_world  # noqa: F401 (a fixture)

S = CheckInState

ZH_NAMES = {
    "county_score": "县区综合得分",
    "enterprise_points_total": "企业得分合计",
    "points": "得分",
    "max_points": "满分",
    "score_rate": "得分率",
    "completion": "完成率",
    "submission": "提交率",
    "rank": "排名",
    "read_rate": "阅读率",
}


def html(response):
    return response.content.decode()


def chart(response, chart_id):
    """The JSON a chart is drawn from (json_script)."""
    page = html(response)
    opening = f'<script id="{chart_id}" type="application/json">'
    start = page.index(opening) + len(opening)
    return json.loads(page[start : page.index("</script>", start)])


def legend(response):
    """The definitions in the page's figure legends: {name with unit: definition}."""
    rows = re.findall(r'<div class="figure-legend__row"><dt>(.*?)</dt><dd>(.*?)</dd></div>', html(response), flags=re.S)
    return {name: definition for name, definition in rows}


def zh(text):
    with translation.override("zh-hans"):
        return str(text)


# --- The glossary ----------------------------------------------------------------------------


def test_each_figure_has_one_chinese_name_a_definition_and_no_name_is_shared():
    with translation.override("zh-hans"):
        names = [str(item.name) for item in FIGURES.values()]
        assert len(names) == len(set(names))
        for key, name in ZH_NAMES.items():
            assert str(figure(key).name) == name
        for item in FIGURES.values():
            assert re.search(r"[\u4e00-\u9fff]", str(item.definition)), item.key
        assert figure("county_score").with_unit == "县区综合得分（分）"
        assert figure("submission").with_unit == "提交率（%）"
        assert figure("rank").with_unit == "排名"
    with pytest.raises(KeyError):
        figure("score")


def test_plain_points_never_name_a_sum_of_enterprises():
    """得分 is a task's or an enterprise's awarded points; a county's sum is 企业得分合计 and
    what counties are ranked on is 县区综合得分."""
    with translation.override("zh-hans"):
        assert "不作为" in str(figure("enterprise_points_total").definition)
        assert str(figure("enterprise_points_total").name) != str(figure("points").name)


def test_export_headers_and_api_help_texts_use_the_figures_names(settings):
    county_headers = [zh(column.header) for column in COUNTY_RANKING_COLUMNS]
    assert county_headers[:5] == ["排名", "县（市）区", "县区综合得分", "县区产改办得分率", "企业平均得分率"]
    enterprise_headers = [zh(column.header) for column in ENTERPRISE_RANKING_COLUMNS]
    assert {"得分", "满分", "得分率"} <= set(enterprise_headers)
    with translation.override("zh-hans"):
        county_fields = CountyRankingSerializer().fields
        assert str(county_fields["score"].help_text).startswith("县区综合得分（分）：")
        assert str(figure("county_score").definition) in str(county_fields["score"].help_text)
        enterprise_fields = EnterpriseRankingSerializer().fields
        assert str(enterprise_fields["score_rate"].help_text).startswith("得分率（%）：")
        assert str(enterprise_fields["rank_in_city"].help_text).startswith("排名：")


# --- 提交率 against hand-made data ------------------------------------------------------------


@pytest.fixture
def checked_in(world, assignment_of, django_capture_on_commit_callbacks):
    """c1: e11 returned and resubmitted (two versions), e12 returned, its office not submitted;
    c2: e21 scored, e22 not submitted, its office waiting for the city."""
    e11, e12, e21, _e22 = world.enterprises
    with django_capture_on_commit_callbacks(execute=True):
        drive(world, assignment_of(e11), S.RETURNED)
        task = assignment_of(e11)
        services.submit_checkin(submitter_for(world, task), task, "已补充材料。", [pdf("补充.pdf")])
        drive(world, assignment_of(e12), S.RETURNED)
        drive(world, assignment_of(e21), S.SCORED, points="7")
        drive(world, assignment_of(world.counties[1]), S.PENDING_CITY_REVIEW)
    return world


def test_submission_counts_each_task_checked_in_once_with_the_county_office_s_own(checked_in):
    world = checked_in
    rows = {row["county__name"]: row for row in dashboard_selectors.by_county(world.city_user, world.period)}
    c1, c2 = rows["鼓楼区"], rows["云龙区"]
    # c1: e11 (two versions count once) and e12 (returned still counts) of e11, e12, office.
    assert (c1["submitted"], c1["all_tasks"], c1["submission"]) == (2, 3, 66.7)
    # c2: e21 and its office of e21, e22, office.
    assert (c2["submitted"], c2["all_tasks"], c2["submission"]) == (2, 3, 66.7)
    # Completion stays over the enterprises' tasks: c2 has one of two scored.
    assert (c2["scored"], c2["assigned"], c2["completion"]) == (1, 2, 50.0)
    sizes = {
        row["value"]: row["submission"]
        for row in dashboard_selectors.by_enterprise_field(world.city_user, world.period, "size_class")
    }
    assert sizes == {"large": 100.0, "medium": 100.0, "small": 100.0, "micro": 0.0}


def test_a_county_office_sees_its_own_submission_rate(client, checked_in):
    world = checked_in
    client.force_login(world.county_users[0])
    response = client.get(reverse("dashboards:county"))
    totals = response.context["totals"]
    assert (totals["submitted"], totals["all_tasks"], totals["submission"]) == (2, 3, 66.7)
    page = html(response)
    assert "提交率" in page and "66.7%" in page
    assert legend(response)["提交率（%）"] == zh(figure("submission").definition)


def test_a_liaison_sees_its_submission_rate(client, checked_in):
    world = checked_in
    client.force_login(world.liaisons[3])  # e22: nothing submitted
    response = client.get(reverse("dashboards:enterprise"))
    assert (response.context["submitted"], response.context["submission"]) == (0, 0.0)
    client.force_login(world.liaisons[1])  # e12: returned, still submitted
    response = client.get(reverse("dashboards:enterprise"))
    assert (response.context["submitted"], response.context["submission"]) == (1, 100.0)


# --- The city's charts -------------------------------------------------------------------------


def test_the_city_s_main_chart_plots_the_ranking_s_county_scores(client, ranked_world):  # noqa: F811
    w = ranked_world
    client.force_login(w.city_user)
    response = client.get(reverse("dashboards:city"))
    data = chart(response, "chart-scores")
    ranking = list(CountyRanking.objects.filter(snapshot=w.snapshot).order_by("rank", "county__order"))
    assert data["categories"] == [row.county.name for row in ranking] == ["鼓楼区", "云龙区"]
    assert data["series"][0]["data"] == [float(row.score) for row in ranking] == [68.0, 30.0]
    assert data["series"][0]["name"] == "县区综合得分"
    assert data["axes"] == [{"name": "县区综合得分（分）", "unit": "分", "max": 100}]
    assert data["x_name"] == "县（市）区"
    # Not the summed points that favour big counties: c1's enterprises have 16 points.
    assert 16.0 not in data["series"][0]["data"]


def test_every_chart_on_the_city_dashboard_titles_its_axes_with_units(client, ranked_world):  # noqa: F811
    w = ranked_world
    client.force_login(w.city_user)
    response = client.get(reverse("dashboards:city"))
    for chart_id in ("chart-scores", "chart-counties", "chart-sizes", "chart-ownership", "chart-history"):
        data = chart(response, chart_id)
        assert data["x_name"], chart_id
        assert data["axes"] and all(axis["name"] for axis in data["axes"]), chart_id
        assert data["series"] and all(series["name"] for series in data["series"]), chart_id
    assert chart(response, "chart-counties")["axes"][0]["name"] == "比率（%）"
    assert chart(response, "chart-history")["axes"][0]["name"] == "排名"


def test_the_city_dashboard_defines_its_figures_in_legends(client, ranked_world):  # noqa: F811
    w = ranked_world
    client.force_login(w.city_user)
    response = client.get(reverse("dashboards:city"))
    found = legend(response)
    for key in ("county_score", "rank", "submission", "completion", "enterprise_points_total"):
        assert found[zh(figure(key).with_unit)] == zh(figure(key).definition), key
    # Headers carry the definition on hover too.
    assert f'title="{zh(figure("submission").definition)}">提交率</span>' in html(response)


def test_the_rankings_page_charts_county_scores_and_defines_its_figures(client, ranked_world):  # noqa: F811
    w = ranked_world
    client.force_login(w.city_user)
    response = client.get(reverse("scoring:rankings"))
    data = chart(response, "chart-county-scores")
    assert data["categories"] == ["鼓楼区", "云龙区"] and data["series"][0]["data"] == [68.0, 30.0]
    assert data["axes"][0]["name"] == "县区综合得分（分）"
    found = legend(response)
    for key in ("county_score", "office_score_rate", "enterprise_mean_rate", "points", "max_points", "score_rate"):
        assert found[zh(figure(key).with_unit)] == zh(figure(key).definition), key


# --- One data point ----------------------------------------------------------------------------


def test_a_chart_of_one_data_point_says_so_instead_of_drawing_it():
    with translation.override("zh-hans"):
        one = charts.bar_chart(["鼓楼区"], [{"name": "提交率", "data": [50.0]}], x_name="县（市）区", axes=[])
        two = charts.bar_chart(
            ["鼓楼区", "云龙区"], [{"name": "提交率", "data": [50.0, 0.0]}], x_name="县（市）区", axes=[]
        )
        line = charts.rank_chart(["12-03"], [{"name": "鼓楼区", "data": [1]}], x_name="排名日期")
    assert one["single"] == "目前只有一个县（市）区（鼓楼区），暂无可比较的数据，因此不绘制图表；数值见下表。"
    assert two["single"] == ""
    assert "只有一个排名日期（12-03）" in line["single"]


def test_the_rank_history_with_one_snapshot_is_a_sentence_not_a_column_of_dots(client, ranked_world):  # noqa: F811
    w = ranked_world
    client.force_login(w.city_user)
    page = html(client.get(reverse("dashboards:city")))
    assert 'data-chart-single="chart-history"' in page and 'data-chart="chart-history"' not in page
    assert "目前只有一个排名日期" in page
    # Two counties: the score chart is drawn.
    assert 'data-chart="chart-scores"' in page


# --- Ranks read n/N ----------------------------------------------------------------------------


def test_ranks_read_n_of_how_many_are_ranked(client, ranked_world):  # noqa: F811
    w = ranked_world
    client.force_login(w.county_users[0])
    response = client.get(reverse("dashboards:county"))
    page = html(response)
    assert '<span class="stat__value"><a href="' in page and ">1/2</a>" in page  # c1 is 1st of 2 counties
    # Its enterprises share the 1st place of 2 in the county.
    assert page.count('data-label="县区内排名">1/2</td>') == 2

    client.force_login(w.liaisons[3])  # e22: 4th of 4 in the city, 2nd of 2 in its county
    page = html(client.get(reverse("dashboards:enterprise")))
    assert '<span class="stat__value">4/4</span>' in page and '<span class="stat__value">2/2</span>' in page

    client.force_login(w.city_user)
    page = html(client.get(reverse("scoring:rankings")))
    assert re.search(r'data-label="排名">1/2</td>', page)
    assert len(re.findall(r'rank--city[^"]*"[^>]*>2/4</td>', page)) == 2


def test_rank_of_without_a_rank_is_a_dash():
    from scoring.templatetags.figures import rank_of

    assert rank_of(None, 10) == "—" and rank_of(3, 0) == "3" and rank_of(3, 105) == "3/105"


# --- 满分 and 得分 apart --------------------------------------------------------------------------


def test_the_filtered_task_list_shows_max_points_and_points_in_separate_columns(client, checked_in):
    world = checked_in
    client.force_login(world.city_user)
    response = client.get(reverse("dashboards:assignment_list"), {"assignee": "enterprise"})
    page = html(response)
    assert '<th scope="col" class="num"><span class="figure-term"' in page
    max_cells = re.findall(r'data-label="满分">([^<]*)</td>', page)
    point_cells = re.findall(r'data-label="得分">([^<]*)</td>', page)
    assert len(max_cells) == len(point_cells) == 4
    assert set(max_cells) == {"10"}
    # e21 was scored 7; the three others are not scored: a dash, never their max points.
    assert sorted(point_cells) == ["7", "—", "—", "—"]


# --- A notice's read rate ----------------------------------------------------------------------


def test_a_notice_s_read_rate_is_charted_by_county(client, world):
    notice = publish_notice(world.city_user, "全市通知", "正文", Notice.Audience.CITY)
    record_notice_read(world.liaisons[0], notice)
    record_notice_read(world.county_users[0], notice)
    record_notice_read(world.liaisons[2], notice)
    client.force_login(world.city_user)
    response = client.get(reverse("notices:notice_readers", args=[notice.pk]))
    rows = {row["name"]: (row["read"], row["total"], row["rate"]) for row in response.context["by_county"]}
    # c1: e11, e12 and its office (2 read); c2: e21, e22 and its office (1 read).
    assert rows == {"鼓楼区": (2, 3, 66.7), "云龙区": (1, 3, 33.3)}
    assert response.context["read_rate"] == 50.0
    data = chart(response, "chart-read-rate")
    assert data["categories"] == ["鼓楼区", "云龙区"] and data["series"][0]["data"] == [66.7, 33.3]
    assert data["axes"][0]["name"] == "阅读率（%）"
    assert legend(response)["阅读率（%）"] == zh(figure("read_rate").definition)


def test_liaison_points_by_category_chart_equals_its_tasks(client, ranked_world):  # noqa: F811
    w = ranked_world
    client.force_login(w.liaisons[0])
    response = client.get(reverse("dashboards:enterprise"))
    data = chart(response, "chart-categories")
    rows = response.context["by_category"]
    assert [row["points"] for row in rows] == [Decimal("8")] and [row["max_points"] for row in rows] == [Decimal("10")]
    assert [s["name"] for s in data["series"]] == ["得分", "满分"]
    assert data["series"][0]["data"] == [8.0] and data["series"][1]["data"] == [10.0]
    # One category: said in words, not drawn; the table carries the numbers.
    assert data["single"] and 'data-chart-single="chart-categories"' in html(response)


def test_the_county_page_s_score_history_of_one_date_is_a_sentence(client, ranked_world):  # noqa: F811
    w = ranked_world
    client.force_login(w.city_user)
    url = reverse("scoring:county_detail", args=[w.counties[0].pk])
    page = html(client.get(url, {"period": w.period.pk}))
    assert "sparkline__dot" not in page and "目前只有一个排名日期，从第二个排名日期起绘制得分走势。" in page
    assert re.search(r'id="county-rank"><span class="rank">1/2</span>', page)


def test_the_enterprise_page_s_ranks_read_n_of_n(client, ranked_world):  # noqa: F811
    w = ranked_world
    client.force_login(w.city_user)
    url = reverse("scoring:enterprise_detail", args=[w.enterprises[3].pk])
    page = html(client.get(url, {"period": w.period.pk}))
    assert '<dd class="rank">2/2</dd>' in page and '<span class="rank">4/4</span>' in page
