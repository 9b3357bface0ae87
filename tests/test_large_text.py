"""大字模式 (issue 20): the header's switch, remembered on the user's profile (and in a cookie for
anonymous users, e.g. on the login page); POST only, CSRF-protected, back to same-site pages only."""

import pytest
from django.test import Client
from django.urls import reverse

from accounts.preferences import LARGE_TEXT_COOKIE
from enterprises.models import Profile

pytestmark = pytest.mark.django_db

SWITCH = reverse("text_size")


def html_class_of(response):
    """The <html> element's opening tag of a page (where class="large-text" goes)."""
    body = response.content.decode()
    start = body.index("<html")
    return body[start : body.index(">", start)]


def test_the_switch_is_remembered_on_the_profile_and_follows_the_user_to_another_browser(client, world):
    liaison = world.liaisons[0]
    client.force_login(liaison)
    assert "large-text" not in html_class_of(client.get(reverse("tasks:assignment_list")))

    response = client.post(SWITCH, {"large_text": "on", "next": "/tasks/?period=1"})

    assert response.status_code == 302
    assert response["Location"] == "/tasks/?period=1"
    assert Profile.objects.get(user=liaison).large_text is True
    other_browser = Client()
    other_browser.force_login(liaison)
    page = other_browser.get(reverse("tasks:assignment_list"))
    assert 'class="large-text"' in html_class_of(page)
    assert 'aria-pressed="true"' in page.content.decode()

    client.post(SWITCH, {"large_text": "off", "next": "/tasks/"})
    assert Profile.objects.get(user=liaison).large_text is False
    assert "large-text" not in html_class_of(other_browser.get(reverse("tasks:assignment_list")))


def test_one_users_choice_does_not_change_another_users_pages(client, world):
    client.force_login(world.county_users[0])
    client.post(SWITCH, {"large_text": "on", "next": "/"})

    other = Client()
    other.force_login(world.county_users[1])
    assert "large-text" not in html_class_of(other.get(reverse("tasks:assignment_list")))
    assert Profile.objects.filter(large_text=True).count() == 1


def test_anonymous_users_keep_the_choice_in_a_cookie_on_the_login_page(client, world):
    login = reverse("login")
    assert "large-text" not in html_class_of(client.get(login))

    response = client.post(SWITCH, {"large_text": "on", "next": login})

    assert response.status_code == 302 and response["Location"] == login
    assert response.cookies[LARGE_TEXT_COOKIE].value == "1"
    assert response.cookies[LARGE_TEXT_COOKIE]["httponly"]
    assert 'class="large-text"' in html_class_of(client.get(login))
    assert not Profile.objects.filter(large_text=True).exists()

    client.post(SWITCH, {"large_text": "off", "next": login})
    assert "large-text" not in html_class_of(client.get(login))


def test_the_profile_wins_over_the_cookie_once_logged_in(client, world):
    client.post(SWITCH, {"large_text": "on", "next": "/"})
    client.force_login(world.city_user)  # a profile that says "off"
    assert "large-text" not in html_class_of(client.get(reverse("tasks:assignment_list")))


def test_the_switch_is_post_only(client, world):
    client.force_login(world.liaisons[0])
    response = client.get(SWITCH, {"large_text": "on", "next": "/"})
    assert response.status_code == 405
    assert Profile.objects.get(user=world.liaisons[0]).large_text is False


def test_the_switch_needs_the_csrf_token(world):
    client = Client(enforce_csrf_checks=True)
    client.force_login(world.liaisons[0])
    response = client.post(SWITCH, {"large_text": "on", "next": "/"})
    assert response.status_code == 403
    assert Profile.objects.get(user=world.liaisons[0]).large_text is False


@pytest.mark.parametrize(
    "next_url",
    [
        "https://evil.example.com/",
        "//evil.example.com/path",
        "/\\evil.example.com",
        "javascript:alert(1)",
        "tasks",  # not a path: no URL name lookup, no 500
        "",
    ],
)
def test_the_switch_only_goes_back_to_pages_of_this_site(client, world, next_url):
    client.force_login(world.liaisons[0])
    response = client.post(SWITCH, {"large_text": "on", "next": next_url})
    assert response.status_code == 302
    assert response["Location"] == reverse("home")


@pytest.mark.parametrize("value", ["", "yes", "toggle", "1"])
def test_an_unknown_value_is_a_400_with_a_chinese_message_and_changes_nothing(client, world, value):
    client.force_login(world.liaisons[0])
    response = client.post(SWITCH, {"large_text": value, "next": "/"}, HTTP_ACCEPT_LANGUAGE="zh-hans")
    assert response.status_code == 400
    assert "无法识别的字号设置" in response.content.decode()
    assert Profile.objects.get(user=world.liaisons[0]).large_text is False
    assert LARGE_TEXT_COOKIE not in response.cookies


def test_the_switch_stays_usable_while_the_demo_password_must_be_changed(client, world, settings):
    """The forced password page sends everything else back to itself; not the text size."""
    from accounts.security import DEMO_PASSWORD_SESSION_KEY

    user = world.liaisons[0]
    client.force_login(user)
    session = client.session
    session[DEMO_PASSWORD_SESSION_KEY] = user.password
    session.save()
    assert client.get(reverse("tasks:assignment_list"))["Location"] == reverse("password_change")

    response = client.post(SWITCH, {"large_text": "on", "next": reverse("password_change")})

    assert response["Location"] == reverse("password_change")
    assert Profile.objects.get(user=user).large_text is True


def test_every_page_has_a_skip_link_to_main_and_the_switch_in_the_header(client, world):
    client.force_login(world.county_users[0])
    body = client.get(reverse("tasks:review_queue")).content.decode()
    assert body.index('class="skip-link" href="#main"') < body.index("<header")
    assert '<main class="page" id="main"' in body
    header = body[body.index("<header") : body.index("</header>")]
    assert f'action="{SWITCH}"' in header and 'aria-pressed="false"' in header
