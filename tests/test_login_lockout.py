"""Login lockout (django-axes) on every login path: 10 failures lock a username + address for
20 minutes (never an address alone), the browser form and the API token endpoint answer with
a Chinese message, and the city office (or a superuser in the admin) can unlock early."""

import re
from datetime import timedelta

import pytest
from axes.models import AccessAttempt
from django.core.exceptions import PermissionDenied, ValidationError
from django.test import Client
from django.urls import reverse
from django.utils import timezone
from rest_framework.test import APIClient

from accounts import security

from . import factories as f

CHINESE = re.compile(r"[\u4e00-\u9fff]")
LIMIT = 10
HOME = "10.7.0.1"  # a county office's shared address
OTHER = "10.7.0.2"
NO_SUCH_ACCOUNT = "本市没有这个用户名的账号"



pytestmark = pytest.mark.usefixtures("fast_password_hashes", "fresh_throttles")


def web_login(username, password, ip=HOME, client=None):
    client = client or Client()
    return client.post(reverse("login"), {"username": username, "password": password}, REMOTE_ADDR=ip)


def api_login(username, password, ip=HOME):
    return APIClient().post(
        "/api/auth/token/", {"username": username, "password": password}, format="json", REMOTE_ADDR=ip
    )


def lock_web(username, ip=HOME):
    """Fail LIMIT times; returns the responses."""
    return [web_login(username, "wrong-password", ip) for _ in range(LIMIT)]


def logged_in(response):
    return response.status_code == 302 and "_auth_user_id" in response.wsgi_request.session


def assert_lockout_page(response):
    assert response.status_code == 429
    page = response.content.decode()
    assert security.lockout_message() in page
    assert "锁定" in page and "市产改办" in page  # the zh_Hans text, not the English msgid
    assert "_auth_user_id" not in response.wsgi_request.session


# --- the browser login form ----------------------------------------------------------------
def test_nine_failures_do_not_lock_and_the_tenth_does(world):
    responses = lock_web("ent0001")
    assert [r.status_code for r in responses[:-1]] == [200] * (LIMIT - 1)
    assert_lockout_page(responses[-1])


def test_the_right_password_is_refused_while_locked_with_the_chinese_message(world):
    lock_web("ent0001")
    response = web_login("ent0001", f.PASSWORD)
    assert_lockout_page(response)
    assert 'name="username"' in response.content.decode()  # the login form is still there


def test_the_same_username_from_another_address_still_logs_in(world):
    lock_web("ent0001")
    assert logged_in(web_login("ent0001", f.PASSWORD, ip=OTHER))


def test_another_username_from_the_same_address_still_logs_in(world):
    """A county office shares one address: one colleague's lockout must not lock the others."""
    lock_web("ent0001")
    assert logged_in(web_login("ent0002", f.PASSWORD, ip=HOME))


def test_a_success_before_the_limit_starts_the_count_again(world):
    for _ in range(LIMIT - 1):
        web_login("ent0001", "wrong-password")
    assert logged_in(web_login("ent0001", f.PASSWORD))
    for _ in range(LIMIT - 1):
        assert web_login("ent0001", "wrong-password").status_code == 200


def test_the_lockout_ends_after_twenty_minutes(world):
    lock_web("ent0001")
    # Time passes: move the attempt back instead of sleeping.
    AccessAttempt.objects.update(attempt_time=timezone.now() - timedelta(minutes=19))
    assert web_login("ent0001", f.PASSWORD).status_code == 429
    AccessAttempt.objects.update(attempt_time=timezone.now() - timedelta(minutes=21))
    assert logged_in(web_login("ent0001", f.PASSWORD))


def test_the_admin_login_is_locked_too(world):
    for _ in range(LIMIT):
        Client().post("/admin/login/", {"username": "admin", "password": "wrong"}, REMOTE_ADDR=HOME)
    response = Client().post("/admin/login/", {"username": "admin", "password": f.PASSWORD}, REMOTE_ADDR=HOME)
    assert response.status_code == 429
    assert "_auth_user_id" not in response.wsgi_request.session


def test_behind_a_proxy_the_forwarded_address_counts_and_forged_entries_do_not(world, settings):
    """PROXY_COUNT=1 (nginx): the address nginx appended is the client's; whatever the client
    wrote to the left of it cannot give each attempt a new address."""
    settings.AXES_IPWARE_META_PRECEDENCE_ORDER = ("HTTP_X_FORWARDED_FOR",)
    settings.AXES_IPWARE_PROXY_COUNT = 0
    client = Client(REMOTE_ADDR="172.18.0.5")  # nginx
    for attempt in range(LIMIT):
        client.post(
            reverse("login"),
            {"username": "ent0001", "password": "wrong"},
            HTTP_X_FORWARDED_FOR=f"203.0.113.{attempt}, 10.7.0.9",
        )
    locked = client.post(
        reverse("login"), {"username": "ent0001", "password": f.PASSWORD}, HTTP_X_FORWARDED_FOR="10.7.0.9"
    )
    assert locked.status_code == 429
    elsewhere = Client(REMOTE_ADDR="172.18.0.5").post(
        reverse("login"), {"username": "ent0001", "password": f.PASSWORD}, HTTP_X_FORWARDED_FOR="10.7.0.10"
    )
    assert logged_in(elsewhere)


# --- the API token endpoint ----------------------------------------------------------------
def test_the_api_token_endpoint_locks_the_same_way(world):
    responses = [api_login("ent0001", "wrong-password") for _ in range(LIMIT)]
    assert [r.status_code for r in responses[:-1]] == [400] * (LIMIT - 1)
    assert responses[-1].status_code == 429
    locked = api_login("ent0001", f.PASSWORD)
    assert locked.status_code == 429
    assert locked.json() == {"detail": security.lockout_message()}
    assert CHINESE.search(locked.json()["detail"])
    assert "token" not in locked.json()
    # Same username elsewhere, another username here: unaffected.
    assert api_login("ent0001", f.PASSWORD, ip=OTHER).status_code == 200
    assert api_login("ent0002", f.PASSWORD).status_code == 200


@pytest.mark.parametrize("username", ["ent\x000001", "\x00"])
def test_a_username_with_a_nul_character_is_a_400_on_every_login_path(world, username):
    """Found by the schemathesis fuzz: the API's lockout check ran the NUL into a query (500)."""
    response = api_login(username, "ö\U000cc62f")
    assert response.status_code == 400 and "username" in response.json()
    form = web_login(username, f.PASSWORD)
    assert form.status_code == 200 and not logged_in(form)
    assert not AccessAttempt.objects.exists()


def test_a_username_longer_than_any_account_s_is_a_400_on_every_login_path(world):
    """Found by the schemathesis fuzz: django-axes stores a failed login's username in a
    varchar(255), so a 300-character one made the token endpoint answer 500."""
    username = "企" * 300
    response = api_login(username, "wrong-password")
    assert response.status_code == 400 and "username" in response.json()
    assert CHINESE.search(response.json()["username"][0])
    assert not AccessAttempt.objects.exists()
    # Django's login form does not enforce the length: a failed login, counted under the
    # username cut to 150 characters (the browser form and the admin's alike).
    form = web_login(username, f.PASSWORD)
    assert form.status_code == 200 and not logged_in(form)
    assert AccessAttempt.objects.get().username == "企" * 150
    admin_form = Client().post(reverse("admin:login"), {"username": username, "password": "x"}, REMOTE_ADDR=HOME)
    assert admin_form.status_code == 200
    assert AccessAttempt.objects.get().failures_since_start == 2
    # At the limit, the API counts it as an ordinary failed login.
    assert api_login("e" * 150, "wrong-password").status_code == 400
    assert AccessAttempt.objects.filter(username="e" * 150).exists()


def test_failures_on_the_form_and_the_api_add_up(world):
    for _ in range(LIMIT // 2):
        web_login("ent0001", "wrong-password")
        api_login("ent0001", "wrong-password")
    assert api_login("ent0001", f.PASSWORD).status_code == 429
    assert web_login("ent0001", f.PASSWORD).status_code == 429


# --- unlocking -----------------------------------------------------------------------------
def test_the_city_office_sees_and_unlocks_a_locked_account_of_its_city(world):
    lock_web("ent0001")
    city = Client()
    city.force_login(world.city_user)
    page = city.get(reverse("unlock_accounts"))
    assert page.status_code == 200
    assert "ent0001" in page.content.decode() and HOME in page.content.decode()

    response = city.post(reverse("unlock_accounts"), {"username": "ent0001"}, follow=True)
    assert response.redirect_chain == [(reverse("unlock_accounts"), 302)]
    assert "ent0001 已解锁" in response.content.decode()
    assert not AccessAttempt.objects.filter(username="ent0001").exists()
    assert logged_in(web_login("ent0001", f.PASSWORD))
    assert "ent0001" not in city.get(reverse("unlock_accounts")).content.decode()


@pytest.mark.parametrize("who", ["county", "liaison", "observer"])
def test_other_roles_may_not_unlock(world, who):
    actor = {"county": world.county_users[0], "liaison": world.liaisons[1], "observer": world.observer}[who]
    lock_web("ent0001")
    client = Client()
    client.force_login(actor)
    assert client.get(reverse("unlock_accounts")).status_code == 403
    assert client.post(reverse("unlock_accounts"), {"username": "ent0001"}).status_code == 403
    with pytest.raises(PermissionDenied):
        security.unlock_user(actor, "ent0001")
    assert web_login("ent0001", f.PASSWORD).status_code == 429


def test_a_city_office_cannot_unlock_another_citys_account(world):
    other_city = f.RegionFactory.city(parent=world.province, name="南京市", code="320100")
    other_office = f.city_office(other_city, username="nanjing")
    lock_web("ent0001")
    client = Client()
    client.force_login(other_office)
    assert "ent0001" not in client.get(reverse("unlock_accounts")).content.decode()
    response = client.post(reverse("unlock_accounts"), {"username": "ent0001"})
    assert response.status_code == 400
    assert NO_SUCH_ACCOUNT in response.content.decode()
    with pytest.raises(ValidationError):
        security.unlock_user(other_office, "ent0001")
    assert web_login("ent0001", f.PASSWORD).status_code == 429


def test_unlocking_an_unknown_username_says_so_and_changes_nothing(world):
    lock_web("ent0001")
    client = Client()
    client.force_login(world.city_user)
    response = client.post(reverse("unlock_accounts"), {"username": "nobody"})
    assert response.status_code == 400
    assert NO_SUCH_ACCOUNT in response.content.decode()
    assert AccessAttempt.objects.filter(username="ent0001").exists()


def test_the_admin_lists_lockouts_and_unlocks_through_the_service(world):
    lock_web("ent0001")
    lock_web("county01")
    admin = Client()
    admin.force_login(world.admin)
    changelist = admin.get("/admin/axes/accessattempt/")
    assert changelist.status_code == 200
    assert "ent0001" in changelist.content.decode()
    attempt = AccessAttempt.objects.get(username="ent0001")
    assert admin.get(f"/admin/axes/accessattempt/{attempt.pk}/change/").status_code == 200
    response = admin.post(
        "/admin/axes/accessattempt/",
        {"action": "unlock_selected", "_selected_action": [attempt.pk]},
    )
    assert response.status_code == 302
    assert logged_in(web_login("ent0001", f.PASSWORD))
    assert web_login("county01", f.PASSWORD).status_code == 429  # only the selected one
