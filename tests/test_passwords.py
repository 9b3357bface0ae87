"""Password rules: Django's validators with their Chinese messages, and outside DEBUG the demo
password must be changed before anything else (browser) and is refused by the API (as a wrong
password is)."""

import re

import pytest
from django.test import Client
from django.urls import reverse
from knox.models import AuthToken
from rest_framework.test import APIClient

from . import factories as f

CHINESE = re.compile(r"[\u4e00-\u9fff]")
NEW_PASSWORD = "Huaihai-Gongjiang-2026"


pytestmark = pytest.mark.usefixtures("fast_password_hashes")


@pytest.fixture
def production(settings):
    """DEBUG off, as a deployment runs (the demo accounts' password is f.PASSWORD)."""
    settings.DEBUG = False
    settings.REFUSE_DEMO_PASSWORD = True
    settings.DEMO_PASSWORD = f.PASSWORD


@pytest.fixture
def development(settings):
    settings.DEBUG = True
    settings.REFUSE_DEMO_PASSWORD = False
    settings.DEMO_PASSWORD = f.PASSWORD


def login(username, password=f.PASSWORD, url=None):
    client = Client()
    response = client.post(url or reverse("login"), {"username": username, "password": password})
    assert response.status_code == 302, "login failed"
    return client


def change_password(client, old, new):
    return client.post(
        reverse("password_change"), {"old_password": old, "new_password1": new, "new_password2": new}
    )


# --- the demo password outside DEBUG -------------------------------------------------------
def test_outside_debug_every_page_leads_to_the_password_change(world, production):
    client = login("ent0001")
    for path in ["/", reverse("dashboards:enterprise"), reverse("scoring:rankings"), reverse("tasks:assignment_list")]:
        response = client.get(path)
        assert response.status_code == 302, path
        assert response["Location"] == reverse("password_change"), path
    page = client.get(reverse("password_change"))
    assert page.status_code == 200
    assert "演示密码" in page.content.decode()
    # The API through the browser's session is closed as well, with a Chinese JSON error.
    api = client.get("/api/me/")
    assert api.status_code == 403 and CHINESE.search(api.json()["detail"])


def test_after_the_change_the_portal_opens(world, production):
    client = login("ent0001")
    response = change_password(client, f.PASSWORD, NEW_PASSWORD)
    assert response.status_code == 302 and response["Location"] == reverse("password_change_done")
    assert client.get(reverse("dashboards:enterprise")).status_code == 200
    world.liaisons[0].refresh_from_db()
    assert world.liaisons[0].check_password(NEW_PASSWORD)
    # And the new password logs in without any detour.
    again = login("ent0001", NEW_PASSWORD)
    assert again.get(reverse("dashboards:enterprise")).status_code == 200


def test_the_admin_login_with_the_demo_password_must_change_it_too(world, production):
    client = login("admin", url="/admin/login/")
    response = client.get("/admin/")
    assert response.status_code == 302 and response["Location"] == reverse("password_change")


def test_logging_out_stays_possible(world, production):
    client = login("ent0001")
    assert client.post(reverse("logout")).status_code == 302
    assert "_auth_user_id" not in client.session


def test_another_password_is_not_held_up(world, production):
    user = world.liaisons[0]
    user.set_password(NEW_PASSWORD)
    user.save()
    client = login("ent0001", NEW_PASSWORD)
    assert client.get(reverse("dashboards:enterprise")).status_code == 200


def test_in_debug_the_demo_password_just_works(world, development):
    client = login("ent0001")
    assert client.get(reverse("dashboards:enterprise")).status_code == 200
    assert APIClient().post("/api/auth/token/", {"username": "ent0001", "password": f.PASSWORD}).status_code == 200


def test_outside_debug_the_api_refuses_the_demo_password(world, production):
    """As a wrong password (tests/test_password_guessing.py): no answer tells who still has it."""
    response = APIClient().post("/api/auth/token/", {"username": "ent0001", "password": f.PASSWORD}, format="json")
    assert response.status_code == 400
    assert CHINESE.search(response.json()["detail"]) and "token" not in response.json()
    assert not AuthToken.objects.filter(user=world.liaisons[0]).exists()


def test_outside_debug_the_api_accepts_a_changed_password(world, production):
    user = world.liaisons[0]
    user.set_password(NEW_PASSWORD)
    user.save()
    response = APIClient().post("/api/auth/token/", {"username": "ent0001", "password": NEW_PASSWORD}, format="json")
    assert response.status_code == 200 and response.json()["token"]


# --- the validators ------------------------------------------------------------------------
@pytest.mark.parametrize(
    "new, message",
    [
        ("Ab3$xyz", "密码太短"),  # fewer than 10 characters
        (f.PASSWORD, "密码太短"),  # the demo password itself is too short to be chosen again
        ("1234567890123", "只包含数字"),
        ("password123", "太常见"),
        ("ent0001-abc", "相似"),  # too close to the username
    ],
)
def test_a_weak_new_password_is_refused_in_chinese(world, development, new, message):
    client = login("ent0001")
    response = change_password(client, f.PASSWORD, new)
    assert response.status_code == 200
    assert message in response.content.decode(), re.findall(r"field__error\">([^<]*)", response.content.decode())
    world.liaisons[0].refresh_from_db()
    assert world.liaisons[0].check_password(f.PASSWORD)
