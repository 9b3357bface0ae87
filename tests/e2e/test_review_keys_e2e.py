"""The review shortcuts (static/js/review-keys.js) in Chromium: a county office goes through
a filtered queue with the keyboard alone (j / k, Enter, a + Enter lands on the next item),
r focuses the reason, ? opens the help and Esc gives the focus back, and no key fires while
typing in a field."""

import pytest

from tasks import services
from tasks.models import CheckIn, CheckInState, Indicator

from .. import factories as f

pytestmark = pytest.mark.e2e


@pytest.fixture
def three_waiting(world, assignment_of):
    """Three check-ins of 云集 (county 1) waiting for the county, oldest first: B01, C01, C02."""
    extra = [f.IndicatorFactory(city=world.city, code=code, category=Indicator.Category.RIGHTS) for code in ("C01", "C02")]
    services.generate_assignments(world.period)
    return [
        services.submit_checkin(
            world.liaisons[0],
            assignment_of(world.enterprises[0], indicator),
            "说明",
            [f.pdf_upload(content=f.real_pdf_bytes(pages=1, size=(300, 420)))],
        )
        for indicator in (world.ind, *extra)
    ]


def active(page):
    return page.evaluate(
        "() => { const e = document.activeElement; return e ? (e.id || e.tagName + '.' + e.className) : null; }"
    )


def test_the_review_loop_by_keyboard(world, three_waiting, page, login, live_url, screenshot):
    first, second, third = three_waiting
    login(page, "county01")
    page.goto(live_url("tasks:review_queue") + "?q=%E4%BA%91%E9%9B%86")  # 云集
    assert page.locator("[data-keys-hint]").is_visible()

    # j highlights the first row, j again the second, k back to the first; Enter opens it.
    page.keyboard.press("j")
    page.keyboard.press("j")
    assert page.locator(".queue-row--current").count() == 1
    assert page.locator("[data-queue-table] tbody tr").nth(1).get_attribute("class").count("queue-row--current") == 1
    page.keyboard.press("k")
    with page.expect_navigation():
        page.keyboard.press("Enter")
    assert f"/tasks/checkins/{first.pk}/" in page.url
    assert "第 1 / 3 条" in page.locator(".queue-nav").inner_text()

    # Keys typed into a field are text, not shortcuts.
    page.click("#approve_comment")
    page.keyboard.type("jakrsv?")
    assert page.input_value("#approve_comment") == "jakrsv?"
    assert f"/tasks/checkins/{first.pk}/" in page.url
    assert not page.locator("#review-keys-help").evaluate("d => d.open")
    page.fill("#approve_comment", "")
    page.locator("body").click(position={"x": 5, "y": 300})  # leave the field

    # r focuses the reason without typing an "r" into it.
    page.keyboard.press("r")
    assert active(page) == "return_reason"
    assert page.input_value("#return_reason") == ""
    page.locator("body").click(position={"x": 5, "y": 300})

    # ? opens the help as a modal dialog; Esc closes it and the focus returns.
    page.keyboard.press("a")
    focused = active(page)
    page.keyboard.press("?")
    assert page.locator("#review-keys-help").evaluate("d => d.open")
    assert "键盘快捷键" in page.locator("#review-keys-help").inner_text()
    screenshot(page, "review-keys-help-1366")
    page.keyboard.press("Tab")
    page.keyboard.press("Tab")
    assert page.evaluate("() => !!document.activeElement.closest('#review-keys-help')")  # focus stays in it
    page.keyboard.press("Escape")
    assert not page.locator("#review-keys-help").evaluate("d => d.open")
    assert active(page) == focused

    # Ctrl+a is the browser's, not a shortcut.
    page.keyboard.press("Control+a")

    # v opens the next evidence file in the viewer; while it is open, j does not leave the page.
    page.keyboard.press("v")
    page.wait_for_selector("#evidence-viewer[open]")
    page.keyboard.press("j")
    assert f"/tasks/checkins/{first.pk}/" in page.url
    page.keyboard.press("Escape")
    page.wait_for_function("() => !document.querySelector('#evidence-viewer').open")

    # a then Enter: approved, and on to the next item of the same filter.
    page.keyboard.press("a")
    with page.expect_navigation():
        page.keyboard.press("Enter")
    assert f"/tasks/checkins/{second.pk}/" in page.url
    assert "queue=q%3D" in page.url
    assert CheckIn.objects.get(pk=first.pk).state == CheckInState.PENDING_CITY_REVIEW
    assert "第 1 / 2 条" in page.locator(".queue-nav").inner_text()

    # j goes to the next item, k back.
    with page.expect_navigation():
        page.keyboard.press("j")
    assert f"/tasks/checkins/{third.pk}/" in page.url
    with page.expect_navigation():
        page.keyboard.press("k")
    assert f"/tasks/checkins/{second.pk}/" in page.url

    for _ in (second, third):
        page.keyboard.press("a")
        with page.expect_navigation():
            page.keyboard.press("Enter")
    # The filter is empty now: back on the filtered queue, with the note.
    assert "/tasks/review/" in page.url and "q=" in page.url
    assert "该筛选下已没有待审核的打卡" in page.content()


def test_the_scoring_form_quick_buttons(world, page, login, live_url, assignment_of):
    checkin = services.submit_checkin(world.liaisons[0], assignment_of(world.enterprises[0]), "说明", [f.pdf_upload()])
    services.approve(world.county_users[0], checkin, "材料齐全")
    login(page, "city")
    page.goto(live_url("tasks:checkin_detail", checkin.pk) + "?queue=sort%3Doldest")
    assert "材料齐全" in page.locator(".score-context").inner_text()
    page.get_by_role("button", name="半分 5").click()
    assert page.input_value("#score_points") == "5"
    page.get_by_role("button", name="满分 10").click()
    assert page.input_value("#score_points") == "10"
    page.locator("body").click(position={"x": 5, "y": 300})
    page.keyboard.press("s")
    assert active(page) == "score_points"
