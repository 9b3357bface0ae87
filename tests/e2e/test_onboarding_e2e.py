"""The onboarding loop in Chromium on a phone: a county office issues a liaison a new initial
password, the liaison logs in with it, must change it before anything else, and then has
their tasks."""

import pytest
from django.urls import reverse

from accounts.models import AccountEvent

from .conftest import PHONE, do_login

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def test_a_reset_then_the_forced_change_on_a_phone(world, browser, live_server):
    context = browser.new_context(viewport=PHONE, locale="zh-CN", timezone_id="Asia/Shanghai")
    page = context.new_page()
    page.live_server_url = live_server.url
    do_login(page, "county01")
    page.goto(live_server.url + reverse("accounts:detail", args=[world.liaisons[0].pk]))
    page.get_by_role("link", name="重置密码").click()
    with page.expect_navigation():
        page.get_by_role("button", name="重置密码").click()
    password = page.locator("[data-initial-password]").inner_text().strip()
    assert len(password) >= 12

    do_login(page, "ent0001", password)
    page.goto(live_server.url + reverse("tasks:assignment_list"))
    assert page.url.endswith(reverse("password_change"))
    assert page.locator("[data-initial-password]").is_visible()
    box = page.locator("main form button[type=submit]").bounding_box()
    assert box["height"] >= 44 and box["width"] <= PHONE["width"]
    page.fill("input[name=old_password]", password)
    page.fill("input[name=new_password1]", "Gulou-harbour-2027")
    page.fill("input[name=new_password2]", "Gulou-harbour-2027")
    with page.expect_navigation():
        page.click("main form button[type=submit]")
    page.goto(live_server.url + reverse("tasks:assignment_list"))
    assert page.url.endswith(reverse("tasks:assignment_list"))
    assert page.get_by_text(world.ind.title).first.is_visible()
    assert AccountEvent.objects.filter(user=world.liaisons[0], action="initial_password_changed").exists()
    context.close()
