"""The evidence gallery and viewer in a real browser (system Chromium) against the live server:
the previews are made by the (eager) job when the submission commits; a county office opens a
PDF, pages through it, moves to the photo, zooms, rotates and closes with the keyboard, and the
focus returns to the link that opened the viewer. On a phone nothing sticks out and every
viewer button is a 44 px target."""

import time

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from tasks import services
from tasks.models import PreviewState

from .. import factories as f
from .conftest import PHONE

pytestmark = pytest.mark.e2e


@pytest.fixture
def checkin(world, assignment_of):
    checkin = services.submit_checkin(
        world.liaisons[0],
        assignment_of(world.enterprises[0]),
        "劳动竞赛方案和现场照片。",
        [
            SimpleUploadedFile("竞赛方案.pdf", f.real_pdf_bytes(pages=3, size=(600, 840)), "application/pdf"),
            SimpleUploadedFile("现场照片.jpg", f.image_bytes("JPEG", size=(800, 600)), "image/jpeg"),
        ],
    )
    # The live server's database is transactional: the job ran when the submission committed.
    assert set(checkin.evidence.values_list("preview_state", flat=True)) == {PreviewState.READY}
    return checkin


def _until(page, expression, seconds=15):
    """Wait until `expression` is true in the page. Polled from here: wait_for_function
    evaluates strings inside the page, which the CSP (no 'unsafe-eval') refuses."""
    deadline = time.monotonic() + seconds
    while not page.evaluate(expression):
        assert time.monotonic() < deadline, f"still false after {seconds} s: {expression}"
        page.wait_for_timeout(50)


def _open_first(page, scope="section.layout__main"):
    link = page.locator(f"{scope} a.evidence__open").first
    link.click()
    page.wait_for_selector("#evidence-viewer[open] .viewer__page img")
    return link


def _loaded_images(page):
    return page.evaluate(
        "Array.from(document.querySelectorAll('#evidence-viewer .viewer__page img'))"
        ".filter(i => i.complete && i.naturalWidth > 0).length"
    )


def test_the_viewer_shows_a_pdfs_pages_and_the_next_file_with_the_keyboard(
    world, checkin, page, login, live_url, screenshot
):
    login(page, "county01")
    page.goto(live_url("tasks:checkin_detail", checkin.pk))
    thumbs = page.locator("section.layout__main .evidence__item img")
    assert thumbs.count() == 2
    _until(page,
        "Array.from(document.querySelectorAll('section.layout__main .evidence__item img'))"
        ".every(i => i.complete && i.naturalWidth > 0)"
    )

    _open_first(page)
    viewer = page.locator("#evidence-viewer")
    assert viewer.locator(".viewer__title").text_content() == "竞赛方案.pdf"
    assert viewer.locator(".viewer__page").count() == 3  # every page, one under the other
    # Lazily loaded: scrolling to the last page loads it.
    viewer.locator(".viewer__page").nth(2).scroll_into_view_if_needed()
    _until(page,
        "document.querySelectorAll('#evidence-viewer .viewer__page img')[2].naturalWidth > 0"
    )
    screenshot(page, "evidence-viewer-pdf-1366")

    width_before = viewer.locator(".viewer__page").first.bounding_box()["width"]
    page.keyboard.press("-")
    assert viewer.locator(".viewer__page").first.bounding_box()["width"] < width_before
    page.keyboard.press("0")
    assert viewer.locator(".viewer__page").first.bounding_box()["width"] == pytest.approx(width_before, abs=1)

    page.keyboard.press("ArrowRight")  # the next file: the photo
    _until(page,
        "document.querySelector('#evidence-viewer .viewer__title').textContent === '现场照片.jpg'"
    )
    _until(page, "document.querySelectorAll('#evidence-viewer .viewer__page img').length === 1")
    assert _loaded_images(page) in (0, 1)
    _until(page,
        "document.querySelector('#evidence-viewer .viewer__page img').naturalWidth > 0"
    )
    assert viewer.locator('[data-viewer="next"]').is_disabled()
    box = viewer.locator(".viewer__page").first.bounding_box()
    assert box["width"] > box["height"]  # landscape
    page.keyboard.press("r")
    box = viewer.locator(".viewer__page").first.bounding_box()
    assert box["height"] > box["width"]  # turned a quarter
    assert "rotate(90deg)" in viewer.locator(".viewer__page img").first.get_attribute("style")

    page.keyboard.press("ArrowLeft")
    _until(page,
        "document.querySelector('#evidence-viewer .viewer__title').textContent === '竞赛方案.pdf'"
    )
    page.keyboard.press("Escape")
    _until(page, "!document.querySelector('#evidence-viewer').open")
    # The focus is back on the link that opened the viewer: given back in the dialog's "close"
    # event, a task after `open` turns false, so wait for it.
    _until(page, "document.activeElement.classList.contains('evidence__open')")
    assert page.evaluate("document.activeElement.closest('.evidence__item').textContent").count("竞赛方案.pdf")


def test_the_hook_for_shortcuts_opens_the_next_file_and_tab_stays_in_the_viewer(world, checkin, page, login, live_url):
    login(page, "city")
    page.goto(live_url("tasks:checkin_detail", checkin.pk))
    assert page.evaluate("window.EvidenceViewer.openNext()") is True
    page.wait_for_selector("#evidence-viewer[open] .viewer__page img")
    assert page.locator("#evidence-viewer .viewer__title").text_content() == "竞赛方案.pdf"
    page.evaluate("document.dispatchEvent(new CustomEvent('evidence:open-next'))")
    _until(page,
        "document.querySelector('#evidence-viewer .viewer__title').textContent === '现场照片.jpg'"
    )
    for _ in range(15):  # Tab cycles inside the dialog, never to the page behind it
        page.keyboard.press("Tab")
        assert page.evaluate("!!document.activeElement.closest('#evidence-viewer')")
    page.keyboard.press("Escape")
    assert not page.evaluate("window.EvidenceViewer.isOpen()")


def test_the_gallery_and_viewer_fit_a_phone(world, checkin, page, login, live_url, screenshot):
    page.set_viewport_size(PHONE)
    login(page, "ent0001")
    page.goto(live_url("tasks:assignment_detail", checkin.assignment_id))
    assert page.locator(".evidence__item").count() == 2
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    screenshot(page, "evidence-gallery-390")
    _open_first(page, ".history")
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    sizes = page.evaluate(
        "Array.from(document.querySelectorAll('#evidence-viewer .viewer__button'))"
        ".map(b => [b.getBoundingClientRect().width, b.getBoundingClientRect().height, b.getBoundingClientRect().right])"
    )
    assert sizes and all(w >= 44 and h >= 44 and right <= PHONE["width"] for w, h, right in sizes), sizes
    screenshot(page, "evidence-viewer-pdf-390")


def test_a_download_link_stays_for_every_file(world, checkin, page, login, live_url):
    login(page, "county01")
    page.goto(live_url("tasks:checkin_detail", checkin.pk))
    hrefs = page.eval_on_selector_all(
        "section.layout__main .evidence__download", "links => links.map(a => a.getAttribute('href'))"
    )
    assert hrefs == [reverse("tasks:evidence_download", args=[e.pk]) for e in checkin.evidence.all()]
