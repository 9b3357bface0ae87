"""The two-way channels in a real browser: a notice goes down and is read, a need goes up
and is answered."""

import re

import pytest
from django.urls import reverse

from notices.models import Need, Notice, NoticeRead

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def test_the_city_publishes_a_notice_a_liaison_reads_it_and_the_city_sees_it_read(page, login, live_url, world):
    login(page, "city")
    page.goto(live_url("notices:notice_create"))
    page.fill("input[name=title]", "关于开展2026年劳动技能竞赛的通知")
    page.fill("textarea[name=body]", "请各企业于9月底前组织一次劳动技能竞赛。")
    page.select_option("select[name=audience]", "city")
    with page.expect_navigation():
        page.click("form.form button[type=submit]")
    notice = Notice.objects.get()
    assert page.url.endswith(reverse("notices:notice_readers", args=[notice.pk]))
    assert page.inner_text("[data-testid=read-count]").strip() == "0"

    login(page, "ent0001")
    page.goto(live_url("notices:notice_list"))
    row = page.locator("tr", has_text="关于开展2026年劳动技能竞赛的通知")
    assert row.locator(".dot").count() == 1  # unread marker
    with page.expect_navigation():
        row.locator("a").click()
    assert "请各企业于9月底前组织一次劳动技能竞赛。" in page.inner_text("main")
    assert NoticeRead.objects.filter(notice=notice, user__username="ent0001").exists()
    page.goto(live_url("notices:notice_list"))
    assert page.locator("tr", has_text="关于开展2026年劳动技能竞赛的通知").locator(".dot").count() == 0

    login(page, "city")
    page.goto(live_url("notices:notice_readers", notice.pk))
    assert page.inner_text("[data-testid=read-count]").strip() == "1"
    # Readers are named as the portal names people: 张伟（徐州云集港口有限公司）, not ent0001.
    reader_row = page.locator("tbody tr", has_text=world.enterprises[0].name)
    assert re.search(r"\d{4}", reader_row.inner_text())  # the read time, not "not yet read"
    page.goto(live_url("notices:notice_readers", notice.pk) + "?show=unread")
    assert page.locator("tbody tr", has_text=world.enterprises[0].name).count() == 0
    assert page.locator("tbody tr", has_text=world.enterprises[1].name).count() == 1


def test_a_liaison_reports_a_need_the_county_replies_and_the_liaison_sees_it(page, login, live_url, world):
    login(page, "ent0001")
    page.goto(live_url("notices:need_create"))
    page.select_option("select[name=category]", "training")
    page.fill("textarea[name=text]", "希望县产改办协调数控车工技能培训名额。")
    with page.expect_navigation():
        page.click("form.form button[type=submit]")
    need = Need.objects.get()
    assert page.url.endswith(reverse("notices:need_detail", args=[need.pk]))

    login(page, "county01")
    page.goto(live_url("notices:need_list"))
    with page.expect_navigation():
        page.locator("a", has_text="希望县产改办协调").click()
    page.fill("textarea[name=text]", "已与人社局对接，下月开班，名额5个。")
    with page.expect_navigation():
        page.click("button[formaction$='/reply/']")
    need.refresh_from_db()
    assert need.state == "in_progress"

    login(page, "ent0001")
    page.goto(live_url("notices:notification_list"))
    with page.expect_navigation():
        page.locator(".inbox__link").first.click()
    assert page.url.endswith(reverse("notices:need_detail", args=[need.pk]))
    text = page.inner_text("main")
    assert "已与人社局对接，下月开班，名额5个。" in text
    assert page.locator("[data-testid=need-state] .badge--need-in_progress").count() == 1
