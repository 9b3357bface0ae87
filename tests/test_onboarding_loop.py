"""The onboarding loop end to end: the city office imports an enterprise sheet, gets the
account sheet, the liaison logs in with the initial password, must change it, and finds the
enterprise's tasks there; the office import gives its new accounts a sheet too."""

import io

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client, TestCase
from django.urls import reverse
from openpyxl import load_workbook

from accounts.models import AccountEvent, AccountSheet, InitialPassword
from tasks.models import Assignment

from .test_imports import row, xlsx

pytestmark = pytest.mark.usefixtures("fast_password_hashes")


@pytest.fixture(autouse=True)
def _english(settings):
    settings.LANGUAGE_CODE = "en"  # the sheet's headers as test_imports writes them


def _import(client, content, kind="enterprises"):
    """Upload (the preview job runs when the upload commits), look at the preview, confirm."""
    with TestCase.captureOnCommitCallbacks(execute=True):
        upload = client.post(reverse("spreadsheets:upload", args=[kind]), {"file": SimpleUploadedFile("s.xlsx", content)})
    assert upload.status_code == 302
    assert client.get(upload["Location"]).status_code == 200
    return client.post(upload["Location"] + "confirm/")


def test_import_account_sheet_first_login_forced_change_tasks(world):
    office = Client()
    office.force_login(world.city_user)
    done = _import(office, xlsx([row(1), row(2)]))
    sheet = AccountSheet.objects.get()
    assert done.status_code == 302 and done.url == reverse("accounts:sheet", args=[sheet.pk])
    assert sheet.accounts == 2

    download = office.get(reverse("accounts:sheet_download", args=[sheet.pk]))
    header, *lines = load_workbook(io.BytesIO(download.content)).active.iter_rows(values_only=True)
    line = next(line for line in lines if line[2] == "new0001")
    enterprise, _name, username, password, county_office, phone = line
    assert (enterprise, username) == ("徐州新企业1有限公司", "new0001")
    assert county_office == world.counties[0].office_name

    liaison = Client()
    assert liaison.post(reverse("login"), {"username": "new0001", "password": password}).status_code == 302
    assert liaison.get(reverse("tasks:assignment_list")).url == reverse("password_change")
    changed = liaison.post(
        reverse("password_change"),
        {"old_password": password, "new_password1": "Xinqiye-2027-mima", "new_password2": "Xinqiye-2027-mima"},
    )
    assert changed.status_code == 302
    tasks = liaison.get(reverse("tasks:assignment_list"))
    assert tasks.status_code == 200
    assert Assignment.objects.filter(enterprise__credit_code=row(1)[0]).exists()
    assert world.ind.title in tasks.content.decode()
    assert not InitialPassword.objects.filter(user__username="new0001").exists()
    events = AccountEvent.objects.filter(user__username="new0001").order_by("pk")
    assert list(events.values_list("action", "actor__username", "detail")) == [
        ("created", "city", "Spreadsheet import"),
        ("initial_password_changed", "new0001", ""),
    ]
    assert InitialPassword.objects.filter(user__username="new0002").exists()


def test_an_import_without_new_accounts_leads_back_to_the_spreadsheets(world):
    office = Client()
    office.force_login(world.city_user)
    _import(office, xlsx([row(3)]))
    AccountSheet.objects.all().delete()
    done = _import(office, xlsx([row(3, **{"Employees": 150})]))  # an update: the account exists
    assert done.url == reverse("spreadsheets:index")
    assert not AccountSheet.objects.exists()


def test_the_office_import_gives_new_office_accounts_initial_passwords(world):
    office = Client()
    office.force_login(world.city_user)
    content = xlsx([["gulou02", "鼓楼区", "李娜", "ln@example.com"]], headers=["Account", "County-level unit", "Contact name", "Email"])
    done = _import(office, content, kind="county_offices")
    sheet = AccountSheet.objects.get()
    assert done.url == reverse("accounts:sheet", args=[sheet.pk])
    assert InitialPassword.objects.filter(user__username="gulou02").exists()
