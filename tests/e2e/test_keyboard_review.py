"""The review loop with the keyboard alone (issue 20): no click, no goto after the login. A
county office goes from its dashboard to the queue with Tab, opens the first item, previews its
evidence in the viewer (focus inside, Esc gives it back), approves and lands on the next item;
every control it stops on shows a focus ring."""

import pytest

from tasks import services
from tasks.models import CheckIn, CheckInState, Indicator

from .. import factories as f

pytestmark = pytest.mark.e2e


def focused(page):
    """What has the focus: its id, or tag.class, and its outline width in px (0 without one)."""
    return page.evaluate(
        """() => { const e = document.activeElement; const s = getComputedStyle(e);
                   return {name: e.id || (e.tagName + '.' + e.className), href: e.getAttribute('href') || '',
                           outline: s.outlineStyle === 'none' ? 0 : parseFloat(s.outlineWidth)}; }"""
    )


def tab_to(page, matches, limit=60):
    """Press Tab until `matches(focused)`; every stop on the way shows a focus ring."""
    for _ in range(limit):
        page.keyboard.press("Tab")
        now = focused(page)
        assert now["outline"] >= 2, f"no visible focus ring on {now}"
        if matches(now):
            return now
    raise AssertionError(f"not reached with {limit} Tabs")


def test_the_review_loop_with_the_keyboard_alone(world, page, login, assignment_of):
    extra = f.IndicatorFactory(city=world.city, code="C01", category=Indicator.Category.RIGHTS)
    services.generate_assignments(world.period)
    pdf = f.real_pdf_bytes(pages=1, size=(300, 420))
    first, second = (
        services.submit_checkin(
            world.liaisons[0], assignment_of(world.enterprises[0], indicator), "说明", [f.pdf_upload(content=pdf)]
        )
        for indicator in (world.ind, extra)
    )

    login(page, "county01")  # lands on the dashboard
    # Open the queue: Tab through the header to its link, Enter.
    tab_to(page, lambda now: now["href"].startswith("/tasks/review/") and "nav__link" in now["name"])
    with page.expect_navigation():
        page.keyboard.press("Enter")
    assert "/tasks/review/" in page.url

    # Open the first item: j takes the first row's link, Enter opens it.
    page.keyboard.press("j")
    assert focused(page)["outline"] >= 2
    with page.expect_navigation():
        page.keyboard.press("Enter")
    assert f"/tasks/checkins/{first.pk}/" in page.url

    # Preview the evidence: v opens the viewer, the focus is inside it and stays there with Tab;
    # Esc closes it and gives the focus back to the file's link.
    page.keyboard.press("v")
    page.wait_for_selector("#evidence-viewer[open]")
    for _ in range(6):
        page.keyboard.press("Tab")
        assert page.evaluate("() => !!document.activeElement.closest('#evidence-viewer')")
    page.keyboard.press("Escape")
    page.wait_for_function("() => !document.querySelector('#evidence-viewer').open")
    # The viewer gives the focus back in its dialog's "close" event, a task after `open` turns
    # false: wait for it (the default timeout fails the test if it never comes).
    page.wait_for_function("() => document.activeElement.classList.contains('evidence__open')")
    assert "evidence__open" in focused(page)["name"]

    # Approve: a takes the Approve button (with its ring), Enter approves and opens the next item.
    page.keyboard.press("a")
    button = focused(page)
    assert button["outline"] >= 2
    assert page.evaluate("() => !!document.activeElement.closest('#approve-form')")
    with page.expect_navigation():
        page.keyboard.press("Enter")
    assert CheckIn.objects.get(pk=first.pk).state == CheckInState.PENDING_CITY_REVIEW
    assert f"/tasks/checkins/{second.pk}/" in page.url

    # The skip link is the first stop of the next page too, and takes the focus past the header.
    page.keyboard.press("Tab")
    assert focused(page)["href"] == "#main"
    page.keyboard.press("Enter")
    assert focused(page)["name"] == "main"
