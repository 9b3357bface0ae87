"""Accessibility in Chromium (issue 20): axe-core on every role's main pages, at desktop and phone
sizes and in 大字模式, failing on any serious or critical violation; 大字模式 at 200 % zoom; the
skip link.

axe-core is the vendored copy (static/vendor/axe-core, from the npm registry), served by the live
server like any static file, so the page's strict CSP stays as it is (an inline copy would be
refused). One browser context per role and size; the world is filled once per role.
"""

import json

import pytest
from django.templatetags.static import static

from .conftest import DESKTOP, PHONE, do_login, save_screenshot
from .main_pages import ROLES, main_pages, visit_main_pages

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

# 200 % browser zoom on a 1366×768 screen lays a page out like a 683×384 viewport at 100 %.
ZOOM_200 = {"width": 683, "height": 384}
BLOCKING = ("serious", "critical")

RUN_AXE = """async () => {
  const result = await window.axe.run(document, {resultTypes: ["violations"]});
  return result.violations
    .filter(v => v.impact === "serious" || v.impact === "critical")
    .map(v => ({rule: v.id, impact: v.impact, help: v.help,
                nodes: v.nodes.map(n => ({target: n.target.join(" "), why: n.failureSummary}))}));
}"""


def axe_violations(page):
    """Serious and critical axe-core violations of the loaded page."""
    page.add_script_tag(url=page.live_server_url + static("vendor/axe-core/axe.min.js"))
    return page.evaluate(RUN_AXE)


def switch_large_text(page, on=True):
    """Press the header's 大字模式 switch (a plain form post) and wait for the page to come back."""
    button = page.locator(".text-size__button")
    if (button.get_attribute("aria-pressed") == "true") != on:
        if not button.is_visible():  # on a phone it is in the header's 菜单
            page.click(".menu-button")
        with page.expect_navigation():
            button.click()
    assert page.evaluate("document.documentElement.classList.contains('large-text')") is on


def describe(found):
    lines = []
    for where, violations in found:
        for v in violations:
            lines.append(f"{where}: {v['rule']} ({v['impact']}, {len(v['nodes'])} elements): {v['help']}")
            for node in v["nodes"][:5]:
                why = " ".join((node["why"] or "").split())
                lines.append(f"    {node['target']}  {why[:220]}")
    return "\n".join(lines)


@pytest.mark.parametrize("role", ROLES)
def test_no_serious_or_critical_axe_violation_on_any_main_page(browser, live_server, world, role):
    pages = main_pages(world)
    found = []
    sizes = [("desktop", DESKTOP, False), ("phone", PHONE, False), ("phone, large text", PHONE, True)]
    for size, viewport, large in sizes:
        context = browser.new_context(viewport=viewport, locale="zh-CN", timezone_id="Asia/Shanghai")
        context.set_default_timeout(15_000)
        page = context.new_page()
        page.live_server_url = live_server.url

        def login(page, username, large=large):
            do_login(page, username)
            if large:
                switch_large_text(page)

        try:
            for label, path in visit_main_pages(page, role, pages, login=login):
                violations = axe_violations(page)
                if violations:
                    found.append((f"{role} {size} {label} {path}", violations))
        finally:
            context.close()
    assert not found, f"axe-core found serious/critical violations:\n{describe(found)}"


@pytest.mark.parametrize("role", ["liaison", "county", "city"])
def test_large_text_keeps_every_main_page_within_the_width_at_200_percent_zoom_and_on_a_phone(
    browser, live_server, world, role
):
    """In 大字模式 nothing is wider than the window (a table may scroll inside its own box) at a
    683×384 viewport (200 % zoom of 1366×768) and at 390×844; the text really is larger."""
    pages = main_pages(world)
    too_wide = []
    for size, viewport in (("200% zoom", ZOOM_200), ("phone", PHONE)):
        context = browser.new_context(viewport=viewport, locale="zh-CN", timezone_id="Asia/Shanghai")
        page = context.new_page()
        page.live_server_url = live_server.url

        def login(page, username):
            do_login(page, username)
            switch_large_text(page, on=False)  # the profile remembers the previous size's choice
            normal = page.evaluate("parseFloat(getComputedStyle(document.documentElement).fontSize)")
            switch_large_text(page)
            large = page.evaluate("parseFloat(getComputedStyle(document.documentElement).fontSize)")
            assert large >= normal * 1.2, (normal, large)

        try:
            for label, path in visit_main_pages(page, role, pages, login=login):
                width = page.evaluate("[document.documentElement.scrollWidth, window.innerWidth]")
                if width[0] > width[1]:
                    too_wide.append(f"{role} {size} {label} {path}: {width[0]} px in a {width[1]} px window")
                if label in ("dashboard", "review-queue", "checkin", "tasks"):
                    save_screenshot(page, f"a11y-large-{role}-{size.replace(' ', '').replace('%', '')}-{label}")
        finally:
            context.close()
    assert not too_wide, "\n".join(too_wide)


def test_the_skip_link_is_the_first_stop_and_takes_focus_to_the_content(page, world, login, live_url):
    login(page, "county01")
    page.goto(live_url("tasks:assignment_list"))
    page.keyboard.press("Tab")
    focused = page.evaluate("[document.activeElement.className, document.activeElement.getAttribute('href')]")
    assert focused == ["skip-link", "#main"]
    box = page.locator(".skip-link").bounding_box()
    assert box is not None and box["y"] >= 0, "the skip link shows when it has focus"
    outline = page.evaluate("getComputedStyle(document.activeElement).outlineWidth")
    assert float(outline.rstrip("px")) >= 2
    page.keyboard.press("Enter")
    assert page.evaluate("document.activeElement.id") == "main"
    # The next Tab goes into the page's content, past the header.
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.closest('main') !== null")


def test_the_large_text_switch_works_without_javascript(browser, live_server, world):
    """The switch is a plain form: with scripts off it still turns 大字模式 on, on the login page."""
    context = browser.new_context(viewport=DESKTOP, locale="zh-CN", java_script_enabled=False)
    try:
        page = context.new_page()
        page.goto(live_server.url + "/accounts/login/")
        with page.expect_navigation():
            page.click(".text-size__button")
        assert "/accounts/login/" in page.url
        assert page.get_attribute("html", "class") == "large-text"
        assert page.get_attribute(".text-size__button", "aria-pressed") == "true"
        cookies = {c["name"]: c for c in context.cookies()}
        assert cookies["large_text"]["httpOnly"]
    finally:
        context.close()


def test_form_errors_are_announced_and_tied_to_their_fields(page, world, login, live_url):
    """A wrong password: the error is in an alert and the field says it is invalid and which
    text describes it."""
    login(page, "ent0001")
    page.goto(live_url("password_change"))
    page.fill("input[name=old_password]", "not-the-password")
    page.fill("input[name=new_password1]", "a-New-pass-2026")
    page.fill("input[name=new_password2]", "a-New-pass-2026")
    with page.expect_navigation():
        page.click("main form button[type=submit]")
    field = page.locator("input[name=old_password]")
    assert field.get_attribute("aria-invalid") == "true"
    described_by = field.get_attribute("aria-describedby").split()
    texts = [page.locator(f"#{ident}").inner_text() for ident in described_by]
    assert any(text.strip() for text in texts), json.dumps(described_by)
    assert page.locator(f"#{described_by[-1]}").inner_text().strip()
