"""The portal's own Chinese 404 and 500 pages, also with DEBUG on (`make run`), unless a developer asks
for Django's technical pages with DEBUG_TECHNICAL_ERRORS; the API keeps its JSON errors."""

import logging

import pytest
from django.http import Http404
from django.test import Client, override_settings
from django.urls import path

from chanjgai_portal.urls import urlpatterns as portal_urlpatterns


def _boom(request):
    raise RuntimeError("forced failure for the test")


def _missing(request):
    raise Http404("no such row")


# The portal's URLconf with a view that fails and one that raises Http404 (ROOT_URLCONF of these tests).
urlpatterns = [path("test-boom/", _boom), path("test-missing/", _missing), *portal_urlpatterns]
handler400 = "chanjgai_portal.error_views.bad_request"
handler403 = "chanjgai_portal.error_views.permission_denied"
handler404 = "chanjgai_portal.error_views.page_not_found"
handler500 = "chanjgai_portal.error_views.server_error"

TECHNICAL_404 = "Using the URLconf defined in"
TECHNICAL_500 = "Traceback"
DEMO = {"DEBUG": True, "DEBUG_TECHNICAL_ERRORS": False, "ROOT_URLCONF": __name__}


@pytest.fixture
def client_(db):
    return Client(raise_request_exception=False)


@pytest.mark.parametrize("debug", [True, False])
@pytest.mark.parametrize("url", ["/no-such-page/", "/test-missing/"])
def test_a_missing_page_is_the_portals_chinese_404_with_and_without_debug(client_, url, debug):
    with override_settings(**{**DEMO, "DEBUG": debug}):
        response = client_.get(url)
    body = response.content.decode()
    assert response.status_code == 404
    assert "页面不存在" in body and "返回" in body
    assert TECHNICAL_404 not in body and "Page not found at" not in body


@pytest.mark.parametrize("debug", [True, False])
def test_a_failure_is_the_portals_chinese_500_with_and_without_debug(client_, debug, caplog):
    with override_settings(**{**DEMO, "DEBUG": debug}), caplog.at_level(logging.ERROR, logger="django.request"):
        response = client_.get("/test-boom/")
    body = response.content.decode()
    assert response.status_code == 500
    assert "系统出现了问题" in body
    assert TECHNICAL_500 not in body and "forced failure" not in body
    # The developer still gets the traceback, in the log.
    [record] = [r for r in caplog.records if r.name == "django.request"]
    assert record.exc_info and "forced failure" in str(record.exc_info[1])


def test_a_logged_in_user_sees_the_404_inside_the_portal_frame(client_, world):
    client_.force_login(world.liaisons[0])
    with override_settings(**DEMO):
        response = client_.get("/test-missing/")
    assert response.status_code == 404
    assert "页面不存在" in response.content.decode() and 'class="error-page' in response.content.decode()


def test_a_failure_in_a_middleware_is_the_portals_500_too(client_):
    from django.conf import settings

    middleware = [*settings.MIDDLEWARE, "tests.test_error_pages.FailingMiddleware"]
    with override_settings(**DEMO, MIDDLEWARE=middleware):
        response = client_.get("/no-such-page/")
    assert response.status_code == 500
    assert "系统出现了问题" in response.content.decode() and TECHNICAL_500 not in response.content.decode()


class FailingMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        raise RuntimeError("a middleware failed")


@pytest.mark.parametrize("url", ["/api/no-such-endpoint/", "/api/v1/no-such-endpoint/"])
def test_the_api_keeps_json_errors_with_debug_on(client_, url):
    with override_settings(**DEMO):
        response = client_.get(url)
    assert response.status_code == 404
    assert response["Content-Type"].startswith("application/json")
    assert response.json()["detail"]


def test_developers_get_djangos_technical_pages_when_they_ask(client_):
    with override_settings(**{**DEMO, "DEBUG_TECHNICAL_ERRORS": True}):
        missing = client_.get("/no-such-page/")
        failed = client_.get("/test-boom/")
    assert missing.status_code == 404 and TECHNICAL_404 in missing.content.decode()
    assert failed.status_code == 500 and "forced failure" in failed.content.decode()


def test_other_statuses_pass_through_untouched(client_, world):
    """A page, a 403 or a 405 is not rewritten."""
    client_.force_login(world.liaisons[0])
    with override_settings(**DEMO):
        assert client_.get("/tasks/").status_code == 200
        assert client_.get("/accounts/unlock/").status_code == 403
        assert client_.get("/spreadsheets/import/enterprises/").status_code == 405
