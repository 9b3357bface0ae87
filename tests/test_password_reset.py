"""忘记密码 (accounts.password_reset): a token link by e-mail in Chinese for an account with an
e-mail on file; the same answer for every input (no username enumeration), with the offices
to call; limited per address and per account."""

import re

import pytest
from django.core import mail
from django.test import Client
from django.urls import reverse

from accounts import onboarding
from accounts.models import AccountEvent, InitialPassword

pytestmark = pytest.mark.usefixtures("fast_password_hashes")


def _ask(value, address="10.0.0.1"):
    return Client(REMOTE_ADDR=address).post(reverse("password_reset"), {"email": value}, REMOTE_ADDR=address)


def test_the_login_page_links_to_forgot_password(world):
    body = Client().get(reverse("login")).content.decode()
    assert reverse("password_reset") in body and "忘记密码" in body


def test_a_mail_in_chinese_with_a_working_link(world):
    liaison = world.liaisons[0]
    response = _ask("ent0001")
    assert response.status_code == 302 and response.url == reverse("password_reset_done")
    (message,) = mail.outbox
    assert message.to == [liaison.email]
    assert "设置产改打卡管理系统的新密码" in message.subject
    assert "您好" in message.body and "ent0001" in message.body
    link = re.search(r"https?://[^/\s]+(/accounts/password/reset/\S+/)", message.body).group(1)
    client = Client()
    form_page = client.get(link, follow=True)
    assert form_page.status_code == 200 and "设置新密码" in form_page.content.decode()
    response = client.post(
        form_page.redirect_chain[-1][0], {"new_password1": "Gulou-harbour-2027", "new_password2": "Gulou-harbour-2027"}
    )
    assert response.status_code == 302 and response.url == reverse("password_reset_complete")
    liaison.refresh_from_db()
    assert liaison.check_password("Gulou-harbour-2027")
    assert AccountEvent.objects.get().action == AccountEvent.Action.PASSWORD_RESET_BY_EMAIL
    # The link works once.
    assert "该链接已失效" in Client().get(link, follow=True).content.decode()


def test_by_email_address_too_and_for_an_account_with_an_initial_password(world):
    liaison = world.liaisons[1]
    onboarding.reset_password(world.city_user, liaison.pk)
    _ask(liaison.email.upper())
    assert [m.to for m in mail.outbox] == [[liaison.email]]
    assert InitialPassword.objects.filter(user=liaison).exists()


def test_the_answer_is_the_same_for_every_input_and_names_the_offices(world):
    world.counties[0].office_phone = "0516-88880001"
    world.counties[0].save()
    world.liaisons[2].email = ""
    world.liaisons[2].save()
    world.liaisons[3].is_active = False
    world.liaisons[3].save()
    answers = set()
    for value in ["ent0001", "ent0003", "ent0004", "nobody-here", "nobody@example.com"]:
        response = _ask(value, address=f"10.0.1.{len(answers) + 1}")
        answers.add((response.status_code, response.url))
    assert answers == {(302, reverse("password_reset_done"))}
    assert len(mail.outbox) == 1  # ent0001 only: no e-mail, disabled and unknown get nothing
    page = Client().get(reverse("password_reset_done")).content.decode()
    assert "如果该账号登记了电子邮箱" in page
    assert world.counties[0].office_name in page and "0516-88880001" in page
    assert world.city.office_name in page


def test_requests_are_limited_per_address_and_per_account(world, settings):
    settings.PASSWORD_RESET_PER_ADDRESS = 3
    settings.PASSWORD_RESET_PER_ACCOUNT = 2
    for _i in range(5):
        assert _ask("ent0001", address="10.0.0.7").status_code == 302
    assert len(mail.outbox) == 2  # the account's limit
    for _i in range(5):
        assert _ask("ent0002", address="10.0.0.8").status_code == 302
    assert len(mail.outbox) == 4  # ent0002's two, then nothing
    mail.outbox.clear()
    for i in range(4):
        _ask(f"ent000{3 if i % 2 else 4}", address="10.0.0.9")
    assert len(mail.outbox) == 3  # the address's limit stops the fourth


def test_bad_input_is_a_400_in_chinese(world):
    response = Client().post(reverse("password_reset"), {"email": ""})
    assert response.status_code == 400
    response = Client().post(reverse("password_reset"), {"email": "a\x00b"})
    assert response.status_code == 400
    assert not mail.outbox
