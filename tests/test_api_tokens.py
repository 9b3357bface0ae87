"""API tokens end: a logout ends one, logout-all every one of the user's, a token expires when
unused for API_TOKEN_IDLE_HOURS and API_TOKEN_MAX_DAYS after it was issued however much it is
used, a password change or reset revokes them all, and the city office revokes an account's
tokens (unlock page, Profile admin) for accounts of its own city only (issue 13, point 3)."""

import re
from datetime import timedelta

import pytest
from django.contrib.auth.models import Permission
from django.core.exceptions import ValidationError
from django.db import connection
from django.test import Client
from django.urls import reverse
from django.utils import timezone
from knox.models import AuthToken
from rest_framework.test import APIClient

from accounts import security
from accounts.celery_tasks import delete_expired_api_tokens
from enterprises.models import Profile

from . import factories as f

CHINESE = re.compile(r"[\u4e00-\u9fff]")
NEW_PASSWORD = "Huaihai-Gongjiang-2026"
NO_SUCH_ACCOUNT = "本市没有这个用户名的账号"

pytestmark = pytest.mark.usefixtures("fast_password_hashes", "fresh_throttles")



@pytest.fixture
def clock(monkeypatch):
    """A clock the test moves: clock.advance(hours=…). Token expiry reads django.utils.timezone.now."""

    class Clock:
        now = timezone.now()

        def advance(self, **delta):
            self.now += timedelta(**delta)

    fake = Clock()
    monkeypatch.setattr(timezone, "now", lambda: fake.now)
    return fake


def token_for(username, password=f.PASSWORD):
    response = APIClient().post("/api/auth/token/", {"username": username, "password": password}, format="json")
    assert response.status_code == 200, response.content
    return response.json()["token"]


def api(token):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {token}")
    return client


def me(token):
    """The status of GET /api/me/ with this token."""
    return api(token).get("/api/me/").status_code


def assert_refused(token):
    response = api(token).get("/api/me/")
    assert response.status_code == 401, response.content
    assert CHINESE.search(response.json()["detail"])


# --- the response keeps its shape; the key is not stored -----------------------------------
def test_the_token_endpoint_answers_as_before_and_stores_no_key(world):
    response = APIClient().post("/api/auth/token/", {"username": "ent0001", "password": f.PASSWORD}, format="json")
    assert response.status_code == 200
    assert set(response.json()) == {"token"}
    key = response.json()["token"]
    assert me(key) == 200
    # Only a digest is stored: a copy of the database holds no usable key.
    with connection.cursor() as cursor:
        for table in connection.introspection.table_names(cursor):
            if "token" in table:
                cursor.execute(f'SELECT * FROM "{table}"')  # table names from the schema
                assert key not in repr(cursor.fetchall()), table


def test_a_token_costs_no_more_queries_than_before(world, django_assert_num_queries):
    """The token (with its user) and the profile, as with DRF's tokens: knox's look at the
    user's other tokens on every request is left to the housekeeping job."""
    for _ in range(3):
        token_for("ent0001")
    client = api(token_for("ent0001"))
    client.get("/api/me/")
    with django_assert_num_queries(2):
        assert client.get("/api/me/").status_code == 200


def test_each_login_gets_its_own_token(world):
    first, second = token_for("ent0001"), token_for("ent0001")
    assert first != second
    assert me(first) == me(second) == 200


# --- logout --------------------------------------------------------------------------------
def test_logout_ends_this_token_only(world):
    phone, laptop = token_for("ent0001"), token_for("ent0001")
    response = api(phone).post("/api/auth/logout/")
    assert response.status_code == 204
    assert_refused(phone)
    assert me(laptop) == 200


def test_logout_all_ends_every_token_of_the_user_and_no_one_elses(world):
    phone, laptop = token_for("ent0001"), token_for("ent0001")
    colleague = token_for("ent0002")
    assert api(laptop).post("/api/auth/logout-all/").status_code == 204
    assert_refused(phone)
    assert_refused(laptop)
    assert me(colleague) == 200


def test_logout_without_a_token_is_401(world):
    for path in ["/api/auth/logout/", "/api/auth/logout-all/"]:
        response = APIClient().post(path)
        assert response.status_code == 401 and CHINESE.search(response.json()["detail"])


# --- expiry --------------------------------------------------------------------------------
def test_a_token_unused_for_eight_hours_expires(world, clock):
    token = token_for("ent0001")
    clock.advance(hours=7, minutes=50)
    assert me(token) == 200
    # Each use starts the idle time again.
    clock.advance(hours=7, minutes=50)
    assert me(token) == 200
    clock.advance(hours=8, minutes=1)
    assert_refused(token)
    # Gone for good, and a new login works.
    clock.advance(minutes=1)
    assert_refused(token)
    assert me(token_for("ent0001")) == 200


def test_a_token_in_constant_use_expires_thirty_days_after_it_was_issued(world, clock):
    token = token_for("ent0001")
    used = timedelta(0)
    while used + timedelta(hours=7) < timedelta(days=30):
        clock.advance(hours=7)
        used += timedelta(hours=7)
        assert me(token) == 200, used
    # Used seven hours ago, but issued thirty days and a minute ago.
    clock.advance(seconds=(timedelta(days=30) - used).total_seconds() + 60)
    assert_refused(token)


def test_housekeeping_deletes_tokens_nobody_sent_again(world, clock):
    old, fresh = token_for("ent0001"), token_for("ent0002")
    clock.advance(hours=7)
    assert me(fresh) == 200
    clock.advance(hours=2)
    assert delete_expired_api_tokens.delay().get() == 1
    assert AuthToken.objects.filter(user=world.liaisons[0]).count() == 0
    assert me(fresh) == 200
    assert_refused(old)


def test_the_limits_come_from_the_settings(world, clock, settings):
    settings.REST_KNOX = {**settings.REST_KNOX, "TOKEN_TTL": timedelta(hours=1)}
    token = token_for("ent0001")
    clock.advance(minutes=61)
    assert_refused(token)


@pytest.mark.parametrize(
    "header",
    ["Token \x00abc", "Token " + "é" * 64, "Token " + "0" * 64, "Token", "Token a b"],
    ids=["nul", "non-ascii", "unknown", "empty", "spaces"],
)
def test_a_malformed_or_unknown_token_is_a_401(world, header):
    response = Client().get("/api/me/", HTTP_AUTHORIZATION=header)
    assert response.status_code == 401
    assert CHINESE.search(response.json()["detail"])


# --- password changes ----------------------------------------------------------------------
def test_changing_the_password_on_the_site_revokes_every_token(world):
    token = token_for("ent0001")
    client = Client()
    client.force_login(world.liaisons[0])
    response = client.post(
        reverse("password_change"),
        {"old_password": f.PASSWORD, "new_password1": NEW_PASSWORD, "new_password2": NEW_PASSWORD},
    )
    assert response.status_code == 302
    assert_refused(token)
    assert me(token_for("ent0001", NEW_PASSWORD)) == 200


def test_a_password_set_in_the_admin_revokes_every_token(world):
    token = token_for("ent0001")
    admin = Client()
    admin.force_login(world.admin)
    url = reverse("admin:auth_user_password_change", args=[world.liaisons[0].pk])
    response = admin.post(url, {"password1": NEW_PASSWORD, "password2": NEW_PASSWORD, "usable_password": "true"})
    assert response.status_code == 302, response.content.decode()[:2000]
    assert_refused(token)


def test_a_password_reset_in_code_revokes_every_token(world):
    """`manage.py changepassword`, a reset form, an import: all go through set_password()."""
    token = token_for("ent0001")
    other = token_for("ent0002")
    user = world.liaisons[0]
    user.set_password(NEW_PASSWORD)
    user.save()
    assert_refused(token)
    assert me(other) == 200


def test_saving_a_user_without_a_new_password_keeps_the_tokens(world):
    token = token_for("ent0001")
    user = world.liaisons[0]
    user.email = "liaison@example.cn"
    user.save()
    # A login re-hashes the password (fast_password_hashes prefers MD5): not a change.
    token_for("ent0001")
    assert me(token) == 200


# --- the city office revokes ---------------------------------------------------------------
def revoke_on_unlock_page(user, username):
    client = Client()
    client.force_login(user)
    return client.post(reverse("unlock_accounts"), {"action": "revoke_tokens", "username": username})


def test_the_city_office_revokes_an_accounts_tokens_on_the_unlock_page(world):
    token = token_for("ent0001")
    colleague = token_for("ent0002")
    city = Client()
    city.force_login(world.city_user)
    page = city.get(reverse("unlock_accounts")).content.decode()
    assert "吊销接口令牌" in page
    response = city.post(reverse("unlock_accounts"), {"action": "revoke_tokens", "username": "ent0001"}, follow=True)
    assert response.status_code == 200
    assert "ent0001" in response.content.decode() and "令牌" in response.content.decode()
    assert_refused(token)
    assert me(colleague) == 200


def test_another_citys_office_cannot_revoke(world):
    token = token_for("ent0001")
    other_city = f.RegionFactory.city(parent=world.province, name="南京市", code="320100")
    other_office = f.city_office(other_city, username="nanjing")
    response = revoke_on_unlock_page(other_office, "ent0001")
    assert response.status_code == 400
    assert NO_SUCH_ACCOUNT in response.content.decode()
    assert me(token) == 200


@pytest.mark.parametrize("who", ["liaison", "county_office", "observer"])
def test_other_roles_cannot_revoke(world, who):
    token = token_for("ent0002")
    user = {"liaison": world.liaisons[0], "county_office": world.county_users[0], "observer": world.observer}[who]
    assert revoke_on_unlock_page(user, "ent0002").status_code == 403
    assert me(token) == 200


def test_the_profile_admin_revokes_the_selected_accounts_tokens(world):
    token = token_for("ent0001")
    colleague = token_for("ent0002")
    staff = world.city_user
    staff.is_staff = True
    staff.save()
    staff.user_permissions.add(*Permission.objects.filter(codename__in=["view_profile", "change_profile"]))
    client = Client()
    client.force_login(staff)
    profile = Profile.objects.get(user=world.liaisons[0])
    response = client.post(
        reverse("admin:enterprises_profile_changelist"),
        {"action": "revoke_api_tokens", "_selected_action": [profile.pk]},
        follow=True,
    )
    assert response.status_code == 200
    assert_refused(token)
    assert me(colleague) == 200


def test_the_service_refuses_another_citys_account(world):
    other_city = f.RegionFactory.city(parent=world.province, name="南京市", code="320100")
    other_office = f.city_office(other_city, username="nanjing")
    token = token_for("ent0001")
    with pytest.raises(ValidationError):
        security.revoke_tokens_of(other_office, "ent0001")
    assert me(token) == 200
    assert security.revoke_tokens_of(world.city_user, "ent0001") == 1
    assert_refused(token)
