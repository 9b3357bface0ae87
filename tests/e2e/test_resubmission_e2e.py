"""A liaison resubmits a returned check-in in a real browser (issue 15): the form starts with
the previous description and files, the chosen files are listed with their sizes before the
upload (one removed again with ×), a started upload is cancelled and the form given back,
then the new version goes in keeping one old file and adding one."""

import pytest
from django.urls import reverse

from tasks import services
from tasks.models import Assignment, CheckIn, Evidence

from .. import factories as f
from ..factories import PDF_BYTES
from .conftest import PHONE

pytestmark = pytest.mark.e2e

FIRST_DESCRIPTION = "第一版：组织了焊工技能竞赛，附方案和现场照片。"


@pytest.fixture
def returned(world):
    assignment = Assignment.objects.get(period=world.period, indicator=world.ind, enterprise=world.enterprises[0])
    v1 = services.submit_checkin(
        world.liaisons[0], assignment, FIRST_DESCRIPTION, [f.pdf_upload("竞赛方案.pdf"), f.png_upload("现场照片.png")]
    )
    services.return_checkin(world.county_users[0], v1, "请补充获奖名单。")
    return v1


def pdf(name, size=0):
    return {"name": name, "mimeType": "application/pdf", "buffer": PDF_BYTES + b"%" * size}


def test_resubmission_keeps_one_file_adds_one_lists_them_and_can_be_cancelled(
    world, returned, page, login, live_url, screenshot
):
    plan, photo = Evidence.objects.filter(checkin=returned).order_by("pk")
    assignment = returned.assignment
    login(page, world.liaisons[0].username)
    page.goto(live_url("tasks:assignment_detail", assignment.pk))

    # The form starts from version 1: its description, and both files ticked to keep.
    assert page.locator("#id_description").input_value() == FIRST_DESCRIPTION
    assert page.locator(f"input[name=keep][value='{plan.pk}']").is_checked()
    assert page.locator(f"input[name=keep][value='{photo.pk}']").is_checked()
    assert page.locator(".upload-list").is_hidden()
    page.locator(f"input[name=keep][value='{photo.pk}']").uncheck()
    page.fill("#id_description", "第二版：补充了获奖名单。")

    # Two files chosen: listed by name and size before anything is sent; one removed again.
    main = page.locator("input[type=file][name=files]:not([capture])")
    main.set_input_files([pdf("获奖名单.pdf", 3000), pdf("多余的文件.pdf")])
    items = page.locator(".upload-list__item")
    assert items.count() == 2
    assert "获奖名单.pdf" in items.nth(0).inner_text() and "KB" in items.nth(0).inner_text()
    assert "多余的文件.pdf" in items.nth(1).inner_text()
    assert page.locator(".upload-list__title").inner_text().endswith("(2)")
    screenshot(page, "resubmit-chosen-1366")
    items.nth(1).locator(".upload-list__remove").click()
    assert items.count() == 1 and "获奖名单.pdf" in items.nth(0).inner_text()
    assert main.evaluate("input => Array.from(input.files).map(file => file.name)") == ["获奖名单.pdf"]
    # Touch targets: the remove button is at least 44 px each way.
    box = items.nth(0).locator(".upload-list__remove").bounding_box()
    assert box["width"] >= 44 and box["height"] >= 44

    # An upload held on its way (the server never sees it) is cancelled: the form comes back
    # with everything chosen, and nothing was submitted.
    held = []
    submit_url = live_url("tasks:submit", assignment.pk)
    page.route(submit_url, lambda route: held.append(route))
    page.click("form.upload-form button[type=submit]")
    cancel = page.locator(".upload-progress__cancel")
    cancel.wait_for(state="visible")
    assert page.locator("form.upload-form button[type=submit]").is_disabled()
    for _attempt in range(100):  # until the request reaches the route that holds it
        if held:
            break
        page.wait_for_timeout(50)
    assert held
    cancel.click()
    page.locator(".upload-cancelled").wait_for(state="visible")
    assert page.locator(".upload-progress").is_hidden()
    assert page.locator("form.upload-form button[type=submit]").is_enabled()
    assert page.locator("#id_description").input_value() == "第二版：补充了获奖名单。"
    assert main.evaluate("input => input.files.length") == 1
    assert not page.locator(f"input[name=keep][value='{photo.pk}']").is_checked()
    assert CheckIn.objects.filter(assignment=assignment).count() == 1
    page.unroute(submit_url)
    for route in held:
        try:
            route.abort()
        except Exception:  # the browser already dropped the cancelled request
            pass

    # Sent for real: version 2 keeps the plan (the same stored file) and adds the new file.
    page.click("form.upload-form button[type=submit]")
    page.wait_for_url(live_url("tasks:assignment_detail", assignment.pk))
    page.locator("#v2").wait_for()
    v2 = CheckIn.objects.get(assignment=assignment, version=2)
    files = list(Evidence.objects.filter(checkin=v2).order_by("pk"))
    assert [(e.original_name, e.carried_from_id) for e in files] == [("竞赛方案.pdf", plan.pk), ("获奖名单.pdf", None)]
    assert files[0].file.name == plan.file.name
    assert v2.description == "第二版：补充了获奖名单。"
    assert "沿用上一版本" in page.locator("#v2").inner_text()
    assert "沿用上一版本" not in page.locator("#v1").inner_text()
    screenshot(page, "resubmit-after-1366")


def test_resubmission_form_fits_a_phone(world, returned, page, login, live_url, screenshot):
    login(page, world.liaisons[0].username)
    page.set_viewport_size(PHONE)
    page.goto(live_url("tasks:assignment_detail", returned.assignment.pk))
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    page.locator("input[type=file][name=files]:not([capture])").set_input_files([pdf("获奖名单.pdf")])
    for target in [".keep-files__choice", ".upload-list__remove", "form.upload-form button[type=submit]"]:
        box = page.locator(target).first.bounding_box()
        assert box["height"] >= 44, target
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    # Each kept file reads as its name over "保留此文件 · size", not squeezed into one line.
    name = page.locator(".keep-files__name").first.bounding_box()
    meta = page.locator(".keep-files__meta").first.bounding_box()
    assert meta["y"] >= name["y"] + name["height"] - 1 and abs(meta["x"] - name["x"]) < 1
    page.locator("#submit").scroll_into_view_if_needed()
    screenshot(page, "resubmit-form-390", full_page=False)
    assert reverse("tasks:submit", args=[returned.assignment.pk]) in page.locator("form.upload-form").get_attribute(
        "action"
    )
