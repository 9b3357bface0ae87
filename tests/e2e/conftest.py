"""Fixtures for the real-browser tests: Playwright driving the system's Chromium
(/usr/bin/chromium, never a downloaded browser) against pytest-django's live_server.

- `browser` (session): headless Chromium launched with flags that keep it off the network.
- `page`: a fresh browser context and page per test, 1366×768; every request URL it makes is
  recorded in `page.requested_urls`, and anything that would leave 127.0.0.1/localhost is
  aborted and recorded in `page.outside_requests`; the test fails at teardown if there was any.
- `login(page, username)`: logs in through the real login form (factories' password).
- `screenshot(page, name)`: saves test-artifacts/screenshots/<name>.png (git-ignored).
- `live_url(path_or_name, *args, **kwargs)`: absolute live_server URL of a path or a URL name.

The world fixture (tests/conftest.py) works here as it is: with live_server in a test,
pytest-django makes its database transactional, so the server thread sees the test's rows
and on_commit callbacks run (ranking jobs run eagerly in that thread).
"""

import os
import shutil
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from django.urls import reverse

from tests.factories import PASSWORD

# Playwright's sync API runs an event loop in the test thread; the ORM calls that
# fixtures and tests make there are still plain synchronous code.
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

CHROMIUM = os.environ.get("E2E_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
LOCAL_HOSTS = {"127.0.0.1", "localhost"}
SCREENSHOTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "screenshots"
DESKTOP = {"width": 1366, "height": 768}
PHONE = {"width": 390, "height": 844}


def _chromium_or_skip():
    """The browser binary; a clear failure in CI (env CI set), a skip on a developer machine."""
    if Path(CHROMIUM).exists() or shutil.which(CHROMIUM):
        return CHROMIUM
    message = (
        f"Chromium not found at {CHROMIUM}: install the Debian package "
        "(apt-get install chromium fonts-noto-cjk); browsers are never downloaded."
    )
    if os.environ.get("CI"):
        pytest.fail(message, pytrace=False)
    pytest.skip(message)


def is_local(url):
    """Whether a request stays on this machine (data:, blob: and about: never leave it)."""
    parts = urlsplit(url)
    if parts.scheme in ("data", "blob", "about", "chrome-error"):
        return True
    return parts.hostname in LOCAL_HOSTS


@pytest.fixture(scope="session", autouse=True)
def _live_server_media_url(live_server_media_url):
    """Every browser test talks to the live server (tests/conftest.py says why this is needed)."""


@pytest.fixture(scope="session")
def _playwright():
    executable = _chromium_or_skip()
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        yield playwright, executable


@pytest.fixture(scope="session")
def browser(_playwright):
    playwright, executable = _playwright
    browser = playwright.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS, headless=True)
    yield browser
    browser.close()


@pytest.fixture
def page(browser, live_server):
    """A fresh context (no cookies) and page at 1366×768 that records and polices its requests."""
    context = browser.new_context(viewport=DESKTOP, locale="zh-CN", timezone_id="Asia/Shanghai")
    context.set_default_timeout(15_000)
    requested, outside = [], []

    def guard(route, request):
        requested.append(request.url)
        if is_local(request.url):
            route.continue_()
        else:
            outside.append(request.url)
            route.abort()

    context.route("**/*", guard)
    page = context.new_page()

    def record(request):
        # Also catch what bypasses routing (e.g. service workers), so the check sees everything.
        if not is_local(request.url) and request.url not in outside:
            outside.append(request.url)

    page.on("request", record)
    page.requested_urls = requested
    page.outside_requests = outside
    page.live_server_url = live_server.url
    yield page
    context.close()


@pytest.fixture
def no_outside_requests(page):
    """Fails the test if the page made (or tried) any request beyond 127.0.0.1/localhost."""
    yield page
    assert page.outside_requests == [], f"requests left 127.0.0.1: {page.outside_requests}"


@pytest.fixture(autouse=True)
def _e2e_no_outside_requests(request):
    """Every test using `page` gets the outside-request check, whether or not it asks."""
    if "page" in request.fixturenames:
        request.getfixturevalue("no_outside_requests")
    yield


@pytest.fixture
def live_url(live_server):
    def build(path_or_name, *args, **kwargs):
        path = path_or_name if path_or_name.startswith("/") else reverse(path_or_name, args=args, kwargs=kwargs)
        return live_server.url + path

    return build


def do_login(page, username, password=PASSWORD):
    """Log in through the login form, starting from a clean session; lands on the role's home."""
    page.context.clear_cookies()
    page.goto(page.live_server_url + reverse("login"))
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", password)
    with page.expect_navigation():
        page.click("main form button[type=submit]")
    assert "/accounts/login/" not in page.url, f"login failed for {username}"
    return page


@pytest.fixture
def login():
    """login(page, username): log in as `username` (password of tests/factories.py)."""
    return do_login


def save_screenshot(page, name, full_page=True):
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=full_page)
    return path


@pytest.fixture
def screenshot():
    """screenshot(page, name): save test-artifacts/screenshots/<name>.png and return its path."""
    return save_screenshot
