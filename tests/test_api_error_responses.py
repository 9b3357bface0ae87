"""Infrastructure failures answer in the API's own language (issue 13, point 9).

A database restart or a full disk came back from /api/ as the site's HTML 500 page. Every
/api/ response is JSON with a Chinese `detail`; a lost database (OperationalError /
InterfaceError) is 503 with Retry-After, a full disk (ENOSPC) 507, anything else 500; the
site's pages get a Chinese 503 page. The failures are simulated with mock, in a view and in
a middleware (before any view runs).
"""

import errno
import re
from unittest import mock

import pytest
from django.db import InterfaceError, OperationalError
from django.test import Client

from .test_api import api_client

CHINESE = re.compile(r"[\u4e00-\u9fff]")

LOST_DATABASE = [
    OperationalError("server closed the connection unexpectedly"),
    InterfaceError("connection already closed"),
]


def assert_json_error(response, status):
    assert response.status_code == status, (response.status_code, response.content[:300])
    assert response["Content-Type"].startswith("application/json"), response["Content-Type"]
    assert CHINESE.search(response.json()["detail"]), response.json()


def no_raise(client):
    client.raise_request_exception = False
    return client


@pytest.mark.parametrize("error", LOST_DATABASE, ids=["operational", "interface"])
def test_a_lost_database_in_an_api_view_is_a_json_503_with_retry_after(world, error):
    with mock.patch("api.views.MeView.get", side_effect=error):
        response = no_raise(api_client(world.liaisons[0])).get("/api/me/")
    assert_json_error(response, 503)
    assert response["Retry-After"] == "30"


@pytest.mark.parametrize("error", LOST_DATABASE, ids=["operational", "interface"])
def test_a_lost_database_before_the_view_is_a_json_503_under_api(db, error):
    """Raised in a middleware (as a session or user lookup would): handler500's mapping."""
    with mock.patch("api.middleware.body_limit", side_effect=error):
        response = Client(raise_request_exception=False).post("/api/auth/token/", {}, content_type="application/json")
    assert_json_error(response, 503)
    assert response["Retry-After"] == "30"


def test_a_full_disk_in_an_api_view_is_a_json_507(world):
    full = OSError(errno.ENOSPC, "No space left on device")
    with mock.patch("api.views.MeView.get", side_effect=full):
        response = no_raise(api_client(world.liaisons[0])).get("/api/me/")
    assert_json_error(response, 507)


def test_any_other_server_error_under_api_is_a_json_500(world):
    with mock.patch("api.views.MeView.get", side_effect=RuntimeError("bug")):
        response = no_raise(api_client(world.liaisons[0])).get("/api/me/")
    assert_json_error(response, 500)


def test_a_server_error_in_a_middleware_under_api_is_a_json_500(db):
    with mock.patch("api.middleware.body_limit", side_effect=RuntimeError("bug")):
        response = Client(raise_request_exception=False).get("/api/me/")
    assert_json_error(response, 500)


def test_a_bad_request_under_api_is_json(db, settings):
    """A SuspiciousOperation (here a host not allowed) is Django's 400: JSON under /api/."""
    settings.ALLOWED_HOSTS = ["portal.example"]
    response = Client(raise_request_exception=False).get("/api/me/", HTTP_HOST="evil.example")
    assert_json_error(response, 400)


@pytest.mark.parametrize("error", LOST_DATABASE, ids=["operational", "interface"])
def test_a_lost_database_on_a_site_page_is_a_chinese_503_page(world, client, error):
    client.raise_request_exception = False
    client.force_login(world.liaisons[0])
    with mock.patch("tasks.views.selectors.own_assignments", side_effect=error):
        response = client.get("/tasks/")
    assert response.status_code == 503
    assert response["Retry-After"] == "30"
    assert response["Content-Type"].startswith("text/html")
    page = response.content.decode()
    assert "数据库暂时不可用" in page and "服务暂时不可用" in page


def test_a_server_error_on_a_site_page_stays_the_html_500_page(world, client):
    client.raise_request_exception = False
    client.force_login(world.liaisons[0])
    with mock.patch("tasks.views.selectors.own_assignments", side_effect=RuntimeError("bug")):
        response = client.get("/tasks/")
    assert response.status_code == 500
    assert response["Content-Type"].startswith("text/html")


def test_site_404_pages_stay_html_and_api_404s_json(world, client):
    client.force_login(world.liaisons[0])
    page = client.get("/tasks/assignments/999999/")
    assert page.status_code == 404 and page["Content-Type"].startswith("text/html")
    assert_json_error(api_client(world.liaisons[0]).get("/api/checkins/999999/"), 404)
