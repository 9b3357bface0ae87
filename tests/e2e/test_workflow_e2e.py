"""The whole check-in workflow in a real browser (system Chromium) against the live server:
a liaison uploads evidence, the county office returns it with a reason, the liaison
resubmits, the county approves, the city scores; the ranking and the dashboards move.

The live server runs requests in its own thread with real commits, so the services'
on_commit hooks fire and the (eager) ranking job computes a new snapshot after the score.
"""

import json
import re

import pytest
from django.urls import reverse

from tasks.models import Assignment, CheckIn, CheckInState

from ..factories import PDF_BYTES
from ..helpers_domain import drive
from .conftest import DESKTOP, PHONE

pytestmark = pytest.mark.e2e

S = CheckInState
RETURN_REASON = "活动方案缺少参赛人数，请补充后重新提交。"


def chart_data(page, chart_id):
    return json.loads(page.locator(f"script#{chart_id}").text_content())


def county_figures(page, county_name):
    """(完成率 %, 企业得分合计) of a county on the city dashboard: the rate from the rates chart's
    data, the summed points from the table beside it (the chart plots rates only)."""
    data = chart_data(page, "chart-counties")
    i = data["categories"].index(county_name)
    completion = next(series for series in data["series"] if series["name"] == "完成率")["data"][i]
    row = page.locator("#figures-counties tbody tr", has_text=county_name).first
    points = float(row.locator("td").last.text_content().strip())
    return completion, points


def home_screenshots(page, name, screenshot):
    """The role's home page at 1366×768 and on a phone (390×844)."""
    page.goto(page.live_server_url + reverse("home"))
    screenshot(page, f"{name}-home-1366")
    page.set_viewport_size(PHONE)
    page.reload()  # lay the charts out for the phone from the start
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]  # nothing sticks out
    screenshot(page, f"{name}-home-390")
    page.set_viewport_size(DESKTOP)
    page.reload()


def test_checkin_returned_resubmitted_approved_scored_moves_ranking_and_dashboards(
    world, page, login, screenshot, live_url
):
    e11, _e12, e21, _e22 = world.enterprises
    assignment = Assignment.objects.get(period=world.period, indicator=world.ind, enterprise=e11)
    # A first ranking: e21 (the other county) is ahead with 5 points, e11 has none yet.
    drive(world, Assignment.objects.get(period=world.period, indicator=world.ind, enterprise=e21), S.SCORED, points="5")

    # The city office's dashboard before: 鼓楼区 has nothing scored.
    login(page, "city")
    assert page.url.endswith(reverse("dashboards:city"))
    assert county_figures(page, "鼓楼区") == (0.0, 0.0)
    assert county_figures(page, "云龙区") == (50.0, 5.0)
    page.wait_for_selector("#chart-counties ~ .chart--drawn, .chart--drawn")  # ECharts drew locally
    home_screenshots(page, "city-before", screenshot)

    # 1. The liaison opens the task from the dashboard and uploads evidence.
    login(page, "ent0001")
    assert page.url.endswith(reverse("dashboards:enterprise"))
    home_screenshots(page, "liaison", screenshot)
    page.click(f"a[href='{reverse('tasks:assignment_detail', args=[assignment.pk])}']")
    # static/js/upload-progress.js has put its progress bar into the form.
    page.wait_for_selector("form[enctype='multipart/form-data'] progress.upload-progress__bar", state="attached")
    expect_help = page.locator(".field__help--before").text_content()
    assert "PDF" in expect_help.upper()  # allowed types and size are shown before upload
    page.fill("textarea[name=description]", "4月组织“安康杯”安全知识竞赛，120名职工参加，方案见附件。")
    page.set_input_files(
        "input[type=file][name=files]",
        files=[{"name": "安康杯竞赛方案.pdf", "mimeType": "application/pdf", "buffer": PDF_BYTES}],
    )
    screenshot(page, "liaison-upload-form")
    page.click("form[enctype='multipart/form-data'] button[type=submit]")
    # Sent by XMLHttpRequest with upload progress; the browser then follows the redirect.
    page.wait_for_selector(".messages .message--success")
    assert page.url.endswith(reverse("tasks:assignment_detail", args=[assignment.pk]))
    assert "待县区审核" in page.locator(".page-head .badge").text_content()
    checkin = CheckIn.objects.get(assignment=assignment, version=1)
    assert checkin.state == S.PENDING_COUNTY_REVIEW and checkin.evidence.count() == 1

    # 2. The county office finds it in its dashboard's queue and returns it with a reason.
    login(page, "county01")
    assert page.url.endswith(reverse("dashboards:county"))
    home_screenshots(page, "county", screenshot)
    page.click(f"#queue a[href='{reverse('tasks:checkin_detail', args=[checkin.pk])}']")
    page.fill("textarea[name=reason]", RETURN_REASON)
    page.click(f"form[action='{reverse('tasks:return_checkin', args=[checkin.pk])}'] button[type=submit]")
    page.wait_for_load_state()
    checkin.refresh_from_db()
    assert checkin.state == S.RETURNED

    # 3. The liaison sees what was returned and why, and resubmits.
    login(page, "ent0001")
    assert RETURN_REASON in page.locator("#returned").text_content()
    screenshot(page, "liaison-returned")
    page.click("#returned a.returned-list__title")
    page.fill("textarea[name=description]", "已补充参赛人数：120名职工参加，获奖名单见附件。")
    page.set_input_files(
        "input[type=file][name=files]",
        files=[{"name": "参赛名单.pdf", "mimeType": "application/pdf", "buffer": PDF_BYTES}],
    )
    page.click("form[enctype='multipart/form-data'] button[type=submit]")
    # Sent by XMLHttpRequest with upload progress; the browser then follows the redirect.
    page.wait_for_selector(".messages .message--success")
    assert page.url.endswith(reverse("tasks:assignment_detail", args=[assignment.pk]))
    assert "待县区审核" in page.locator(".page-head .badge").text_content()
    checkin = CheckIn.objects.get(assignment=assignment, version=2)

    # 4. The county approves it to the city.
    login(page, "county01")
    page.click(f"#queue a[href='{reverse('tasks:checkin_detail', args=[checkin.pk])}']")
    page.click(f"form[action='{reverse('tasks:approve', args=[checkin.pk])}'] button[type=submit]")
    page.wait_for_load_state()
    checkin.refresh_from_db()
    assert checkin.state == S.PENDING_CITY_REVIEW

    # 5. The city scores it: 8 points.
    login(page, "city")
    page.goto(live_url("tasks:checkin_detail", checkin.pk))
    page.fill("input[name=points]", "8")
    page.click(f"form[action='{reverse('tasks:score', args=[checkin.pk])}'] button[type=submit]")
    page.wait_for_load_state()
    checkin.refresh_from_db()
    assert checkin.state == S.SCORED

    # 6. The ranking page shows e11 first now (the job ran after the live server's commit).
    page.goto(live_url("scoring:rankings"))
    first_row = page.locator("#enterprise-ranking tbody tr").first
    assert e11.name in first_row.text_content()
    assert first_row.locator(".rank--city").text_content().strip().startswith("1/")
    screenshot(page, "city-rankings-after")

    # ... and the dashboards' numbers changed.
    page.goto(live_url("dashboards:city"))
    assert county_figures(page, "鼓楼区") == (50.0, 8.0)
    home_screenshots(page, "city-after", screenshot)
    login(page, "ent0001")
    stats = page.locator(".stats").text_content()
    assert "8" in stats and page.locator("#returned").count() == 0
    rank_in_city = page.locator(".stat", has_text="市内排名").locator(".stat__value").text_content().strip()
    rank, ranked = rank_in_city.split("/")  # n/N: first of the enterprises ranked in the city
    assert rank == "1" and int(ranked) >= 2


def test_chart_link_opens_the_filtered_list(world, page, login, live_url):
    login(page, "city")
    page.click("#by-county table a:has-text('云龙区')")
    page.wait_for_url(re.compile(r"/dashboard/tasks/\?"))
    rows = page.locator("table tbody tr")
    assert rows.count() == 2
    assert all("云龙区" in rows.nth(i).text_content() for i in range(rows.count()))
    assert "鼓楼区" not in page.locator("table tbody").text_content()


def test_pages_load_nothing_from_outside(world, page, login, live_url):
    """Every asset (CSS, ECharts, the site's JS) comes from the live server itself."""
    for username in ("city", "county01", "ent0001"):
        login(page, username)
        page.wait_for_load_state("networkidle")
    assignment = Assignment.objects.get(period=world.period, indicator=world.ind, enterprise=world.enterprises[0])
    page.goto(live_url("tasks:assignment_detail", assignment.pk))
    page.wait_for_load_state("networkidle")
    assert any("/static/vendor/echarts/echarts.min.js" in url for url in page.requested_urls)
    assert any("/static/js/upload-progress.js" in url for url in page.requested_urls)
    assert page.outside_requests == []
