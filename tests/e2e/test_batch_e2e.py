"""Batch approval in a real browser: the queue's checkboxes with the live 已选 N 条 counter
(static/js/batch-select.js), the confirmation listing which check-ins, and the result page
listing what went through and what was refused and why; at 1366×768 and on a phone."""

import pytest
from django.urls import reverse

from tasks import services
from tasks.models import CheckIn, CheckInState

from ..factories import pdf_upload
from .conftest import PHONE

pytestmark = pytest.mark.e2e

S = CheckInState


def _pending(world, assignment_of):
    return [
        services.submit_checkin(world.liaisons[i], assignment_of(world.enterprises[i]), "已开展，见附件。", [pdf_upload()])
        for i in (0, 1)
    ]


@pytest.mark.parametrize("size", ["desktop", "phone"])
def test_select_confirm_and_read_the_result_with_one_refusal(page, login, screenshot, world, assignment_of, size):
    first, second = _pending(world, assignment_of)
    if size == "phone":
        page.set_viewport_size(PHONE)
    login(page, "county01")
    page.goto(page.live_server_url + reverse("tasks:review_queue"))

    counter = page.locator("[data-batch-count]")
    selected = page.locator("[data-batch-selected]")
    assert counter.inner_text() == "已选 0 条" and selected.is_disabled()
    boxes = page.locator('input[name="ids"][form="batch-form"]')
    assert boxes.count() == 2
    boxes.nth(0).check()
    assert counter.inner_text() == "已选 1 条" and selected.is_enabled()
    if size == "desktop":
        page.locator("[data-batch-all]").check()  # select all on this page
        assert counter.inner_text() == "已选 2 条"
        page.locator("[data-batch-all]").uncheck()
        assert counter.inner_text() == "已选 0 条" and selected.is_disabled()
        boxes.nth(0).check()
    boxes.nth(1).check()
    assert counter.inner_text() == "已选 2 条"
    assert page.evaluate("document.documentElement.scrollWidth") <= page.viewport_size["width"]
    screenshot(page, f"batch-queue-{size}")

    with page.expect_navigation():
        selected.click()
    assert "2 条打卡将逐条转报市产改办" in page.locator(".page-sub").inner_text()
    assert page.locator(".batch-confirm table tbody tr").count() == 2
    screenshot(page, f"batch-confirm-{size}")

    # Meanwhile a colleague returns one of them.
    services.return_checkin(world.county_users[0], CheckIn.objects.get(pk=second.pk), "材料不全")
    page.fill("#batch_text", "同意上报")
    with page.expect_navigation():
        page.locator(".batch-confirm__buttons [type=submit]").click()

    assert page.locator(".page-sub").inner_text().strip() == "已转报市产改办：1 条。未处理：1 条。"
    assert "已被他人处理（当前状态：已退回）。" in page.locator(".batch-result--refused").inner_text()
    assert page.evaluate("document.documentElement.scrollWidth") <= page.viewport_size["width"]
    screenshot(page, f"batch-result-{size}")
    assert CheckIn.objects.get(pk=first.pk).state == S.PENDING_CITY_REVIEW
    assert CheckIn.objects.get(pk=second.pk).state == S.RETURNED
