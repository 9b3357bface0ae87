"""Accounts without a superuser (accounts.onboarding): the offices create accounts, reset
passwords, disable and enable accounts of their scope; initial passwords are one-time (the
owner changes them at the first login; the API refuses them); the sheet that hands them out
is encrypted, its issuer's only, and goes when handed out or expired; every step is an
append-only account event."""

import io
import re
from datetime import timedelta

import pytest
from axes.models import AccessAttempt
from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.exceptions import PermissionDenied, ValidationError
from django.test import Client
from django.urls import reverse
from django.utils import timezone
from knox.models import AuthToken
from openpyxl import load_workbook
from rest_framework.test import APIClient

from accounts import onboarding, security
from accounts.models import AccountEvent, AccountSheet, InitialPassword
from enterprises.models import Profile

from . import factories as f

pytestmark = pytest.mark.usefixtures("fast_password_hashes")
User = get_user_model()
E = AccountEvent.Action


def _login(username, password):
    client = Client()
    response = client.post(reverse("login"), {"username": username, "password": password})
    return client, response


def _password_of(sheet):
    (row,) = onboarding.sheet_rows(sheet)
    return row.password


# --- who may do what: the scoping matrix ----------------------------------------------------
@pytest.mark.parametrize(
    "actor_name, target_name, allowed",
    [
        ("county01", "ent0001", True),  # its own county's liaison
        ("county01", "ent0003", False),  # another county's liaison
        ("county01", "county02", False),  # an office account
        ("county01", "city", False),
        ("county01", "observer", False),
        ("county01", "sq_ent01", False),  # another city
        ("city", "ent0003", True),
        ("city", "county02", True),
        ("city", "observer", True),
        ("city", "admin", False),  # a superuser
        ("city", "sq_ent01", False),  # another city's liaison
        ("city", "sq_county01", False),
        ("city", "city", False),  # its own: the password change page's
    ],
)
def test_reset_is_allowed_exactly_in_the_offices_scope(world, other_city, actor_name, target_name, allowed):
    actor = User.objects.get(username=actor_name)
    target = User.objects.get(username=target_name)
    before = target.password
    if allowed:
        sheet = onboarding.reset_password(actor, target.pk)
        target.refresh_from_db()
        assert target.check_password(_password_of(sheet))
        assert AccountEvent.objects.filter(actor=actor, user=target, action=E.PASSWORD_RESET).count() == 1
    else:
        with pytest.raises(ValidationError):
            onboarding.reset_password(actor, target.pk)
        target.refresh_from_db()
        assert target.password == before
        assert not AccountEvent.objects.exists()


@pytest.mark.parametrize("actor_name", ["ent0001", "observer", "sq_ent01"])
def test_liaisons_and_observers_manage_no_account(world, other_city, actor_name):
    actor = User.objects.get(username=actor_name)
    for service in (onboarding.reset_password, onboarding.disable_account, onboarding.enable_account):
        with pytest.raises(PermissionDenied):
            service(actor, world.liaisons[0].pk)
    with pytest.raises(PermissionDenied):
        onboarding.create_account(actor, username="x1", role="enterprise_liaison", enterprise=world.enterprises[0])
    client = Client()
    client.force_login(actor)
    assert client.get(reverse("accounts:list")).status_code == 403
    assert client.get(reverse("accounts:create")).status_code == 403


def test_the_capability_says_who_manages_accounts(world):
    from enterprises.capabilities import Capabilities

    caps = {u.username: Capabilities.of(Profile.for_user(u)).may_manage_accounts for u in User.objects.all()}
    assert caps["city"] and caps["county01"] and caps["county02"]
    assert not caps["ent0001"] and not caps["observer"] and not caps["admin"]


# --- initial passwords ------------------------------------------------------------------------
def test_an_initial_password_is_readable_long_and_passes_the_validators(world):
    from django.contrib.auth import password_validation

    for _i in range(50):
        raw = onboarding.generate_password(world.liaisons[0])
        assert len(raw) >= max(12, 10)
        assert not set(raw) & set("0Oo1lI")
        password_validation.validate_password(raw, world.liaisons[0])


def test_a_reset_revokes_tokens_clears_the_lockout_and_ends_the_old_password(world):
    target = world.liaisons[0]
    AuthToken.objects.create(user=target)
    AccessAttempt.objects.create(
        username=target.username, ip_address="10.0.0.9", user_agent="x", failures_since_start=settings.AXES_FAILURE_LIMIT
    )
    old_session, _response = _login(target.username, f.PASSWORD)
    assert old_session.get(reverse("home")).status_code in (200, 302)

    sheet = onboarding.reset_password(world.county_users[0], target.pk)

    assert not AuthToken.objects.filter(user=target).exists()
    assert not AccessAttempt.objects.filter(username=target.username).exists()
    assert InitialPassword.objects.filter(user=target).exists()
    target.refresh_from_db()
    assert not target.check_password(f.PASSWORD)
    # The old session ended with the old password.
    assert old_session.get(reverse("tasks:assignment_list")).status_code == 302
    assert _login(target.username, f.PASSWORD)[1].status_code == 200  # the form again
    assert _login(target.username, _password_of(sheet))[1].status_code == 302


def test_the_first_login_with_an_initial_password_must_change_it(world):
    target = world.liaisons[0]
    raw = _password_of(onboarding.reset_password(world.city_user, target.pk))
    client, response = _login(target.username, raw)
    assert response.status_code == 302
    # Every page leads to the password change until it is done.
    response = client.get(reverse("tasks:assignment_list"))
    assert response.status_code == 302 and response.url == reverse("password_change")
    page = client.get(reverse("password_change"))
    assert "data-initial-password" in page.content.decode()
    assert client.get("/api/me/").status_code == 403
    response = client.post(
        reverse("password_change"),
        {"old_password": raw, "new_password1": "Xuzhou-harbour-2027", "new_password2": "Xuzhou-harbour-2027"},
    )
    assert response.status_code == 302
    assert client.get(reverse("tasks:assignment_list")).status_code == 200
    assert not InitialPassword.objects.filter(user=target).exists()
    event = AccountEvent.objects.get(action=E.INITIAL_PASSWORD_CHANGED)
    assert event.user == target and event.actor == target


def test_the_api_refuses_an_initial_password_until_it_is_changed(world):
    target = world.liaisons[0]
    raw = _password_of(onboarding.reset_password(world.city_user, target.pk))
    response = APIClient().post("/api/auth/token/", {"username": target.username, "password": raw}, format="json")
    assert response.status_code in (400, 401)
    assert not AuthToken.objects.filter(user=target).exists()
    target.set_password("Xuzhou-harbour-2027")
    target.save()
    response = APIClient().post(
        "/api/auth/token/", {"username": target.username, "password": "Xuzhou-harbour-2027"}, format="json"
    )
    assert response.status_code == 200


def test_the_initial_hash_upgrade_at_login_keeps_the_account_one_time(world, settings):
    """A login upgrades the cheap initial hash to the default one: not an owner's change."""
    settings.PASSWORD_HASHERS = [
        "django.contrib.auth.hashers.MD5PasswordHasher",
        "accounts.hashers.InitialPasswordHasher",
    ]
    target = world.liaisons[0]
    raw = _password_of(onboarding.reset_password(world.city_user, target.pk))
    target.refresh_from_db()
    assert target.password.startswith("pbkdf2_sha256_initial$")
    client, response = _login(target.username, raw)
    assert response.status_code == 302
    target.refresh_from_db()
    assert target.password.startswith("md5$")
    assert InitialPassword.objects.filter(user=target).exists()
    assert client.get(reverse("tasks:assignment_list")).url == reverse("password_change")


# --- create, disable, enable ---------------------------------------------------------------
def test_a_county_office_creates_a_liaison_of_its_county_only(world):
    county = world.county_users[0]
    sheet = onboarding.create_account(
        county,
        username="ent0099",
        role=Profile.Role.ENTERPRISE_LIAISON,
        enterprise=world.enterprises[1],
        person_name="李四",
        email="lisi@example.com",
        phone="13900000000",
    )
    user = User.objects.get(username="ent0099")
    assert user.profile.enterprise == world.enterprises[1] and user.profile.person_name == "李四"
    assert user.profile.phone == "13900000000" and user.email == "lisi@example.com"
    (row,) = onboarding.sheet_rows(sheet)
    assert row.enterprise == world.enterprises[1].name and row.office == world.counties[0].office_name
    assert AccountEvent.objects.get(user=user).action == E.CREATED
    with pytest.raises(ValidationError) as refused:
        onboarding.create_account(county, username="ent0100", role="enterprise_liaison", enterprise=world.enterprises[2])
    assert "enterprise" in refused.value.message_dict
    with pytest.raises(ValidationError) as refused:
        onboarding.create_account(county, username="c9", role="county_office", region=world.counties[0])
    assert "role" in refused.value.message_dict
    assert not User.objects.filter(username__in=["ent0100", "c9"]).exists()


def test_the_city_office_creates_office_accounts_and_refuses_bad_input(world, other_city):
    city = world.city_user
    onboarding.create_account(city, username="gulou2", role="county_office", region=world.counties[0])
    assert User.objects.get(username="gulou2").profile.region == world.counties[0]
    for kwargs, field in [
        ({"username": "ENT0001", "role": "enterprise_liaison", "enterprise": world.enterprises[0]}, "username"),
        ({"username": "bad name!", "role": "enterprise_liaison", "enterprise": world.enterprises[0]}, "username"),
        ({"username": "x2", "role": "enterprise_liaison", "enterprise": other_city.enterprise}, "enterprise"),
        ({"username": "x3", "role": "county_office", "region": other_city.county}, "region"),
        ({"username": "x4", "role": "county_office", "region": world.city}, "region"),
        ({"username": "x5", "role": "enterprise_liaison", "enterprise": world.enterprises[0], "email": "nope"}, "email"),
        ({"username": "x6", "role": "superuser"}, "role"),
    ]:
        with pytest.raises(ValidationError) as refused:
            onboarding.create_account(city, **kwargs)
        assert field in refused.value.message_dict, kwargs
    assert not User.objects.filter(username__in=["bad name!", "x2", "x3", "x4", "x5", "x6"]).exists()


def test_disable_refuses_logins_ends_sessions_and_tokens_and_enable_undoes_it(world):
    target = world.liaisons[2]
    client, _response = _login(target.username, f.PASSWORD)
    AuthToken.objects.create(user=target)
    onboarding.disable_account(world.county_users[1], target.pk, address="10.1.2.3")
    target.refresh_from_db()
    assert not target.is_active and User.objects.filter(pk=target.pk).exists()
    assert not AuthToken.objects.filter(user=target).exists()
    assert client.get(reverse("tasks:assignment_list")).status_code == 302  # the session is over
    assert _login(target.username, f.PASSWORD)[1].status_code == 200
    with pytest.raises(ValidationError):
        onboarding.disable_account(world.county_users[1], target.pk)
    onboarding.enable_account(world.county_users[1], target.pk)
    assert _login(target.username, f.PASSWORD)[1].status_code == 302
    actions = list(AccountEvent.objects.filter(user=target).order_by("at", "pk").values_list("action", "address"))
    assert actions == [(E.DISABLED, "10.1.2.3"), (E.ENABLED, None)]


# --- the sheet -------------------------------------------------------------------------------
def test_the_sheet_is_encrypted_its_issuers_only_and_downloadable(world):
    city = world.city_user
    sheet = onboarding.reset_password(city, world.liaisons[0].pk)
    raw = _password_of(sheet)
    assert raw.encode() not in bytes(sheet.payload)
    client = Client()
    client.force_login(city)
    page = client.get(reverse("accounts:sheet", args=[sheet.pk]))
    assert page.status_code == 200 and raw in page.content.decode()
    assert page["Cache-Control"] == "no-store"
    download = client.get(reverse("accounts:sheet_download", args=[sheet.pk]))
    rows = list(load_workbook(io.BytesIO(download.content)).active.iter_rows(values_only=True))
    assert rows[0] == ("企业或单位", "名称", "用户名", "初始密码", "县区产改办", "办公电话")
    assert rows[1][0] == world.enterprises[0].name and rows[1][2] == "ent0001" and rows[1][3] == raw
    assert rows[1][4] == world.counties[0].office_name
    other = Client()
    other.force_login(world.county_users[0])
    assert other.get(reverse("accounts:sheet", args=[sheet.pk])).status_code == 404
    assert other.get(reverse("accounts:sheet_download", args=[sheet.pk])).status_code == 404
    assert client.post(reverse("accounts:sheet_discard", args=[sheet.pk])).status_code == 302
    assert not AccountSheet.objects.exists()
    assert client.get(reverse("accounts:sheet", args=[sheet.pk])).status_code == 404


def test_expired_sheets_are_swept(world):
    from accounts.celery_tasks import delete_expired_account_sheets

    fresh = onboarding.reset_password(world.city_user, world.liaisons[0].pk)
    old = onboarding.reset_password(world.city_user, world.liaisons[1].pk)
    AccountSheet.objects.filter(pk=old.pk).update(expires_at=timezone.now() - timedelta(seconds=1))
    assert delete_expired_account_sheets.delay().get() >= 1
    assert list(AccountSheet.objects.values_list("pk", flat=True)) == [fresh.pk]


# --- the audit trail -------------------------------------------------------------------------
def test_account_events_cannot_be_changed_or_deleted(world):
    onboarding.disable_account(world.city_user, world.liaisons[0].pk)
    event = AccountEvent.objects.get()
    event.detail = "rewritten"
    with pytest.raises(ValidationError):
        event.save()
    with pytest.raises(ValidationError):
        event.delete()
    with pytest.raises(ValidationError):
        AccountEvent.objects.update(detail="x")
    with pytest.raises(ValidationError):
        AccountEvent.objects.all().delete()
    admin = Client()
    admin.force_login(world.admin)
    url = reverse("admin:accounts_accountevent_change", args=[event.pk])
    assert admin.get(url).status_code == 200  # read-only view
    admin.post(url, {"detail": "x"})
    admin.post(reverse("admin:accounts_accountevent_delete", args=[event.pk]), {"post": "yes"})
    assert AccountEvent.objects.get().detail == ""


# --- the pages --------------------------------------------------------------------------------
def test_the_county_office_lists_its_liaisons_only(world, django_assert_max_num_queries):
    client = Client()
    client.force_login(world.county_users[0])
    with django_assert_max_num_queries(12):
        page = client.get(reverse("accounts:list"))
    body = page.content.decode()
    assert "ent0001" in body and "ent0002" in body
    assert "ent0003" not in body and "county02" not in body
    assert "ent0002" not in client.get(reverse("accounts:list"), {"q": "ent0001"}).content.decode()


def test_the_list_shows_states_and_filters_by_them(world):
    onboarding.disable_account(world.city_user, world.liaisons[0].pk)
    onboarding.reset_password(world.city_user, world.liaisons[1].pk)
    client = Client()
    client.force_login(world.city_user)
    disabled = client.get(reverse("accounts:list"), {"state": "disabled"}).content.decode()
    assert "ent0001" in disabled and "ent0002" not in disabled and "已停用" in disabled
    must = client.get(reverse("accounts:list"), {"state": "must_change"}).content.decode()
    assert "ent0002" in must and "ent0001" not in must and "须修改密码" in must
    assert client.get(reverse("accounts:list"), {"role": "nonsense"}).status_code == 400


def test_actions_are_confirmed_and_post_only(world):
    client = Client()
    client.force_login(world.county_users[0])
    target = world.liaisons[0]
    url = reverse("accounts:action", args=[target.pk, "disable"])
    assert client.get(url).status_code == 200
    target.refresh_from_db()
    assert target.is_active  # a GET changes nothing
    response = client.post(url)
    assert response.status_code == 302
    target.refresh_from_db()
    assert not target.is_active
    assert client.post(url).status_code == 409  # disabled already: said, nothing changes
    reset = client.post(reverse("accounts:action", args=[target.pk, "reset"]))
    sheet = AccountSheet.objects.get()
    assert reset.url == reverse("accounts:sheet", args=[sheet.pk])
    detail = client.get(reverse("accounts:detail", args=[target.pk])).content.decode()
    assert "账号已停用" in detail and "产改办重置密码" in detail
    # Another county's liaison is not found; an unknown action neither.
    assert client.get(reverse("accounts:detail", args=[world.liaisons[2].pk])).status_code == 404
    assert client.post(reverse("accounts:action", args=[world.liaisons[2].pk, "reset"])).status_code == 404
    assert client.post(reverse("accounts:action", args=[target.pk, "delete"])).status_code == 404


def test_the_create_page_gives_a_sheet_and_explains_errors(world):
    client = Client()
    client.force_login(world.county_users[0])
    page = client.get(reverse("accounts:create")).content.decode()
    assert world.enterprises[0].name in page and world.enterprises[2].name not in page
    response = client.post(
        reverse("accounts:create"),
        {"username": "ent0001", "role": "enterprise_liaison", "enterprise": world.enterprises[0].pk},
    )
    assert response.status_code == 400 and "用户名已被占用" in response.content.decode()
    response = client.post(
        reverse("accounts:create"),
        {"username": "li4", "role": "enterprise_liaison", "enterprise": world.enterprises[0].pk, "person_name": "李四"},
    )
    sheet = AccountSheet.objects.get()
    assert response.url == reverse("accounts:sheet", args=[sheet.pk])
    page = client.get(response.url).content.decode()
    assert re.search(r"data-initial-password>[A-Za-z2-9]{12}<", page)


def test_my_account_saves_name_email_and_phone(world):
    client = Client()
    client.force_login(world.liaisons[0])
    response = client.post(reverse("accounts:me"), {"person_name": "张三", "email": "zs@example.com", "phone": "13812345678"})
    assert response.status_code == 302
    world.liaisons[0].refresh_from_db()
    assert world.liaisons[0].email == "zs@example.com"
    assert Profile.objects.get(user=world.liaisons[0]).phone == "13812345678"
    response = client.post(reverse("accounts:me"), {"person_name": "张三", "email": "not-an-email", "phone": ""})
    assert response.status_code == 400
    world.liaisons[0].refresh_from_db()
    assert world.liaisons[0].email == "zs@example.com"


def test_the_header_links_to_account_management_where_allowed(world):
    for user, shown in [(world.city_user, True), (world.county_users[0], True), (world.liaisons[0], False)]:
        client = Client()
        client.force_login(user)
        body = client.get(reverse("accounts:me")).content.decode()
        assert (reverse("accounts:list") in body) is shown
        assert reverse("accounts:me") in body


def test_the_unlock_page_still_works(world):
    client = Client()
    client.force_login(world.city_user)
    assert client.get(reverse("unlock_accounts")).status_code == 200
    assert security.unlock_user(world.city_user, "ent0001") == 0
