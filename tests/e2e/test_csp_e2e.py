"""The Content Security Policy in a real browser: the city dashboard's ECharts charts (with
their tooltips), the rankings page and the API docs page work without a single violation."""

import pytest

from tasks.models import Assignment, CheckInState

from ..helpers_domain import drive

S = CheckInState

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def violations(page):
    """Every CSP violation the page reports, from the console and from the DOM event."""
    found = []

    def on_console(message):
        if "Content Security Policy" in message.text or "Refused to" in message.text:
            found.append(message.text)

    page.on("console", on_console)
    page.expose_function("reportCspViolation", lambda text: found.append(text))
    page.add_init_script(
        "document.addEventListener('securitypolicyviolation', function (e) {"
        "  window.reportCspViolation(e.violatedDirective + ' ' + e.blockedURI); });"
    )
    return found


def test_the_city_dashboard_charts_and_tooltips_draw_without_csp_violations(world, page, login, live_url, violations):
    e21 = world.enterprises[2]
    drive(world, Assignment.objects.get(period=world.period, indicator=world.ind, enterprise=e21), S.SCORED, points="5")
    login(page, "city")
    page.goto(live_url("dashboards:city"))
    page.wait_for_selector(".chart--drawn")
    chart = page.locator(".chart--drawn").first
    box = chart.bounding_box()
    # Hover across the chart: ECharts' tooltip is HTML with style attributes.
    for fraction in (0.3, 0.5, 0.7):
        page.mouse.move(box["x"] + box["width"] * fraction, box["y"] + box["height"] * 0.6)
        page.wait_for_timeout(150)
    page.wait_for_timeout(300)
    assert violations == []


def test_the_rankings_page_has_no_csp_violations(world, page, login, live_url, violations):
    login(page, "city")
    page.goto(live_url("scoring:rankings"))
    page.wait_for_load_state("load")
    assert violations == []


def test_the_api_docs_page_draws_without_csp_violations(db, page, live_url, violations):
    page.goto(live_url("/api/docs/"))
    page.wait_for_selector(".swagger-ui .info")
    page.wait_for_timeout(500)
    assert violations == []
