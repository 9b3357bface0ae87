"""Passwords cannot be guessed where the login lockout does not look: wrong current passwords
on the password change form count as failed logins (same lockout, same Chinese message), and
the token endpoint answers the demo password exactly as any wrong one (issue 13, points 5, 6)."""

import pytest
from axes.models import AccessAttempt
from django.test import Client
from django.urls import reverse
from rest_framework.test import APIClient

from accounts import security

from . import factories as f

LIMIT = 10
HOME = "10.7.0.1"
OTHER = "10.7.0.2"
NEW_PASSWORD = "Huaihai-Gongjiang-2026"

pytestmark = pytest.mark.usefixtures("fast_password_hashes", "fresh_throttles")



def logged_in_client(user, ip=HOME):
    client = Client(REMOTE_ADDR=ip)
    client.force_login(user)
    return client


def change_password(client, old, new=NEW_PASSWORD):
    return client.post(
        reverse("password_change"), {"old_password": old, "new_password1": new, "new_password2": new}
    )


def web_login(username, password, ip=HOME):
    return Client().post(reverse("login"), {"username": username, "password": password}, REMOTE_ADDR=ip)


def api_login(username, password, ip=HOME):
    return APIClient().post(
        "/api/auth/token/", {"username": username, "password": password}, format="json", REMOTE_ADDR=ip
    )


# --- point 5: the password change form -------------------------------------------------------
def test_wrong_current_passwords_lock_the_form_like_failed_logins(world):
    client = logged_in_client(world.liaisons[0])
    answers = [change_password(client, f"guess-{n}") for n in range(LIMIT)]
    assert [a.status_code for a in answers[:-1]] == [200] * (LIMIT - 1)
    assert answers[-1].status_code == 429
    assert security.lockout_message() in answers[-1].content.decode()
    assert "锁定" in answers[-1].content.decode()
    # Locked: even the right current password changes nothing now.
    right = change_password(client, f.PASSWORD)
    assert right.status_code == 429 and security.lockout_message() in right.content.decode()
    world.liaisons[0].refresh_from_db()
    assert world.liaisons[0].check_password(f.PASSWORD)
    # The same lockout as a login's: the login form refuses this username from this address.
    assert web_login("ent0001", f.PASSWORD).status_code == 429
    assert api_login("ent0001", f.PASSWORD).status_code == 429
    # Not from another address, nor for a colleague here.
    assert web_login("ent0001", f.PASSWORD, ip=OTHER).status_code == 302
    assert change_password(logged_in_client(world.liaisons[1]), f.PASSWORD).status_code == 302


def test_failures_on_the_password_form_and_the_login_add_up(world):
    client = logged_in_client(world.liaisons[0])
    for n in range(LIMIT // 2):
        web_login("ent0001", f"guess-{n}")
        change_password(client, f"guess-{n}")
    assert web_login("ent0001", f.PASSWORD).status_code == 429


def test_a_login_lockout_closes_the_password_form_too(world):
    for n in range(LIMIT):
        web_login("ent0001", f"guess-{n}")
    client = logged_in_client(world.liaisons[0])
    response = change_password(client, f.PASSWORD)
    assert response.status_code == 429
    world.liaisons[0].refresh_from_db()
    assert world.liaisons[0].check_password(f.PASSWORD)


def test_the_typed_passwords_are_not_kept_in_the_failure_log(world):
    change_password(logged_in_client(world.liaisons[0]), "my-old-secret-guess", "my-new-secret-value")
    attempt = AccessAttempt.objects.get(username="ent0001")
    assert attempt.failures_since_start == 1
    assert "my-old-secret-guess" not in attempt.post_data
    assert "my-new-secret-value" not in attempt.post_data


def test_the_admins_password_change_leads_to_the_counted_form(world):
    client = logged_in_client(world.admin)
    response = client.get("/admin/password_change/")
    assert response.status_code == 302 and response["Location"] == reverse("password_change")


def test_a_right_current_password_still_changes_it(world):
    client = logged_in_client(world.liaisons[0])
    for n in range(LIMIT - 1):
        change_password(client, f"guess-{n}")
    assert change_password(client, f.PASSWORD).status_code == 302
    world.liaisons[0].refresh_from_db()
    assert world.liaisons[0].check_password(NEW_PASSWORD)


# --- point 6: the demo password on the token endpoint ----------------------------------------
@pytest.fixture
def production(settings):
    settings.DEBUG = False
    settings.REFUSE_DEMO_PASSWORD = True
    settings.DEMO_PASSWORD = f.PASSWORD


def test_the_demo_password_is_refused_exactly_like_a_wrong_one(world, production):
    changed = world.liaisons[1]
    changed.set_password(NEW_PASSWORD)
    changed.save()
    still_demo = api_login("ent0001", f.PASSWORD)
    wrong = api_login("ent0001", "wrong-password")
    demo_on_changed = api_login("ent0002", f.PASSWORD)
    wrong_on_changed = api_login("ent0002", "wrong-password")
    answers = [still_demo, wrong, demo_on_changed, wrong_on_changed]
    assert [a.status_code for a in answers] == [400] * 4
    assert len({a.content for a in answers}) == 1
    assert "token" not in still_demo.json()
    # Each one counted as a failed login.
    assert AccessAttempt.objects.get(username="ent0001").failures_since_start == 2
    assert AccessAttempt.objects.get(username="ent0002").failures_since_start == 2


def test_demo_password_attempts_lead_to_the_lockout(world, production):
    answers = [api_login("ent0001", f.PASSWORD) for _ in range(LIMIT)]
    assert [a.status_code for a in answers[:-1]] == [400] * (LIMIT - 1)
    assert answers[-1].status_code == 429
    assert answers[-1].json() == {"detail": security.lockout_message()}
