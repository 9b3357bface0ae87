"""The city office's spreadsheet imports: dry run, confirm in one transaction, every bad-row
reason with its row, column and code, hostile files, re-imports that update, and who may import.

Messages are asserted as the English msgids (LANGUAGE_CODE "en"); the stable `code` of each
error is what the checks rely on.
"""

import io
import zipfile
from decimal import Decimal

import pytest
from django.contrib.auth import get_user_model
from django.core.exceptions import PermissionDenied
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import TestCase
from django.urls import reverse
from openpyxl import Workbook, load_workbook

from accounts.models import InitialPassword
from enterprises.credit_code import make_code
from enterprises.models import Enterprise, Profile
from spreadsheets.imports import services, sheets
from spreadsheets.resources import EnterpriseResource
from tasks.models import Indicator

from . import factories as f

User = get_user_model()

HEADERS = [
    "Unified social credit code",
    "Enterprise name",
    "County-level unit",
    "Size class",
    "Ownership",
    "Pilot level",
    "Employees",
    "Liaison name",
    "Liaison phone",
    "Liaison account",
    "In the reform",
]


@pytest.fixture(autouse=True)
def _english(settings):
    settings.LANGUAGE_CODE = "en"


def code(n):
    return make_code("9", "1", "320300", 50_000_000 + n)


def row(n, **overrides):
    values = {
        "Unified social credit code": code(n),
        "Enterprise name": f"徐州新企业{n}有限公司",
        "County-level unit": "鼓楼区",
        "Size class": "Large",
        "Ownership": "Private",
        "Pilot level": "Municipal pilot",
        "Employees": 120,
        "Liaison name": "王芳",
        "Liaison phone": "13900000000",
        "Liaison account": f"new{n:04d}",
        "In the reform": "Yes",
    }
    values.update(overrides)
    return [values[h] for h in HEADERS]


def xlsx(rows, headers=HEADERS):
    workbook = Workbook()
    sheet = workbook.active
    sheet.append(headers)
    for cells in rows:
        sheet.append(cells)
    out = io.BytesIO()
    workbook.save(out)
    return out.getvalue()


def stored(tmp_path, content, name="sheet.xlsx"):
    path = tmp_path / name
    path.write_bytes(content)
    return path


def preview_of(user, tmp_path, content, name="sheet.xlsx", kind="enterprises"):
    return services.preview_import(user, kind, stored(tmp_path, content, name))


def state():
    """Everything an enterprise import may change, to prove nothing did."""
    enterprises = sorted(
        Enterprise.objects.values_list(
            "credit_code", "name", "county_id", "size_class", "ownership", "pilot_level", "employees",
            "liaison_name", "liaison_phone", "is_active",
        )
    )
    return enterprises, sorted(Profile.objects.values_list("user__username", "role", "enterprise_id", "region_id")), User.objects.count()


# -- dry run and confirm -------------------------------------------------------------------


def test_dry_run_lists_rows_to_create_and_changes_nothing(world, tmp_path):
    before = state()
    preview = preview_of(world.city_user, tmp_path, xlsx([row(1), row(2)]))
    assert preview.ok
    assert (preview.created, preview.updated, preview.unchanged) == (2, 0, 0)
    assert [r.row for r in preview.rows] == [2, 3]
    assert state() == before


def test_confirm_creates_enterprises_and_liaison_accounts_and_reimport_updates_without_duplicates(world, tmp_path):
    path = stored(tmp_path, xlsx([row(1), row(2)]))
    result = services.apply_import(world.city_user, "enterprises", path)
    assert result.created == 2
    enterprise = Enterprise.objects.get(credit_code=code(1))
    assert (enterprise.county, enterprise.size_class, enterprise.pilot_level, enterprise.employees) == (
        world.counties[0], "large", "municipal", 120,
    )
    profile = Profile.objects.get(user__username="new0001")
    assert profile.role == Profile.Role.ENTERPRISE_LIAISON and profile.enterprise == enterprise
    # A one-time initial password, on the account sheet the import result offers (accounts.onboarding).
    assert profile.user.has_usable_password() and InitialPassword.objects.filter(user=profile.user).exists()
    assert result.account_sheet is not None and result.account_sheet.accounts == 2

    again = stored(tmp_path, xlsx([row(1, **{"Employees": 130}), row(2)]), "again.xlsx")
    preview = services.preview_import(world.city_user, "enterprises", again)
    assert (preview.created, preview.updated, preview.unchanged) == (0, 1, 1)
    services.apply_import(world.city_user, "enterprises", again)
    assert Enterprise.objects.filter(credit_code__in=[code(1), code(2)]).count() == 2
    assert Enterprise.objects.get(credit_code=code(1)).employees == 130
    assert Profile.objects.filter(user__username="new0001").count() == 1


def test_export_then_import_round_trips_with_nothing_changed(world, tmp_path):
    before = state()
    dataset = EnterpriseResource().export(queryset=Enterprise.objects.all())
    preview = preview_of(world.city_user, tmp_path, dataset.export("xlsx"))
    assert preview.ok, preview.errors
    assert (preview.created, preview.updated, preview.unchanged) == (0, 0, 4)
    assert {r.key for r in preview.rows} == {e.credit_code for e in world.enterprises}
    services.apply_import(world.city_user, "enterprises", stored(tmp_path, dataset.export("xlsx"), "b.xlsx"))
    assert state() == before


def test_csv_in_gb18030_is_read(world, tmp_path):
    text = ",".join(HEADERS) + "\n" + ",".join(str(c) for c in row(3)) + "\n"
    preview = preview_of(world.city_user, tmp_path, text.encode("gb18030"), "sheet.csv")
    assert preview.ok and preview.created == 1


# -- bad rows ------------------------------------------------------------------------------

BAD_ROWS = [
    ("bad check digit", {"Unified social credit code": code(1)[:17] + ("0" if code(1)[17] != "0" else "1")},
     "Unified social credit code", "invalid_credit_code", "is not a valid unified social credit code"),
    ("unknown county", {"County-level unit": "海淀区"}, "County-level unit", "unknown_county",
     "“海淀区” is not a county-level unit of 徐州市."),
    ("empty required cell", {"Enterprise name": None}, "Enterprise name", "required", "This cell is required."),
    ("wrong size class", {"Size class": "巨型"}, "Size class", "invalid_choice", "“巨型” is not one of: Large、Medium、Small、Micro."),
    ("formula in a name", {"Enterprise name": '=HYPERLINK("http://evil.example","点我")'}, "Enterprise name", "formula",
     "A cell may not start with =, +, - or @ (it could run as a formula)."),
    ("plus in a name", {"Liaison name": "+1+1"}, "Liaison name", "formula", "could run as a formula"),
    ("at in a name", {"Enterprise name": "@SUM(A1)"}, "Enterprise name", "formula", "could run as a formula"),
    ("negative employees", {"Employees": -5}, "Employees", "invalid_number", "Enter a whole number of at least 0."),
]


@pytest.mark.parametrize("label,overrides,column,error_code,message", BAD_ROWS, ids=[b[0] for b in BAD_ROWS])
def test_bad_row_is_reported_with_row_column_and_reason(world, tmp_path, label, overrides, column, error_code, message):
    preview = preview_of(world.city_user, tmp_path, xlsx([row(1), row(2, **overrides)]))
    assert not preview.ok
    [error] = preview.errors
    assert (error.row, error.column, error.code) == (3, column, error_code)
    assert message in error.message
    assert preview.created == 1  # the good row is still listed


def test_county_of_another_city_is_unknown(world, tmp_path):
    other = f.RegionFactory.county(name="新北区", code="320411")
    [error] = preview_of(world.city_user, tmp_path, xlsx([row(1, **{"County-level unit": other.name})])).errors
    assert error.code == "unknown_county"


def test_duplicate_code_inside_the_sheet_names_the_first_row(world, tmp_path):
    preview = preview_of(world.city_user, tmp_path, xlsx([row(1), row(2), row(1, **{"Liaison account": "x1"})]))
    [error] = preview.errors
    assert (error.row, error.column, error.code) == (4, "Unified social credit code", "duplicate_in_sheet")
    assert "already appears in row 2 of this sheet" in error.message


def test_account_bound_to_another_enterprise_is_an_error(world, tmp_path):
    preview = preview_of(world.city_user, tmp_path, xlsx([row(1, **{"Liaison account": world.liaisons[0].username})]))
    [error] = preview.errors
    assert (error.row, error.column, error.code) == (2, "Liaison account", "account_taken")
    assert "already belongs to another enterprise or role" in error.message


def test_a_sheet_with_a_bad_row_changes_nothing_on_confirm(world, tmp_path):
    before = state()
    path = stored(tmp_path, xlsx([row(1), row(2, **{"County-level unit": "海淀区"})]))
    with pytest.raises(services.ImportRefused):
        services.apply_import(world.city_user, "enterprises", path)
    assert state() == before


# -- hostile files -------------------------------------------------------------------------


def test_file_that_is_not_a_spreadsheet_is_rejected(world, tmp_path):
    with pytest.raises(sheets.SpreadsheetRejected) as caught:
        preview_of(world.city_user, tmp_path, b"MZ\x90\x00 this is an executable", "sheet.xlsx")
    assert caught.value.code == "not_spreadsheet"
    assert "not a spreadsheet" in caught.value.message


def test_encrypted_workbook_is_rejected(world, tmp_path):
    # An encrypted .xlsx is an OLE compound file, like the old .xls format.
    ole = sheets.OLE_MAGIC + b"\0" * 504
    with pytest.raises(sheets.SpreadsheetRejected) as caught:
        preview_of(world.city_user, tmp_path, ole, "sheet.xlsx")
    assert caught.value.code == "encrypted"
    assert "encrypted, password-protected" in caught.value.message


def test_macro_workbook_is_rejected_by_content(world, tmp_path):
    content = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(xlsx([row(1)]))) as source, zipfile.ZipFile(content, "w") as target:
        for item in source.infolist():
            target.writestr(item, source.read(item.filename))
        target.writestr("xl/vbaProject.bin", b"\0" * 16)
    with pytest.raises(sheets.SpreadsheetRejected) as caught:
        preview_of(world.city_user, tmp_path, content.getvalue(), "sheet.xlsx")
    assert caught.value.code == "macro"


def test_too_many_rows_are_refused(world, tmp_path, monkeypatch):
    monkeypatch.setattr(sheets, "MAX_ROWS", 3)
    with pytest.raises(sheets.SpreadsheetRejected) as caught:
        preview_of(world.city_user, tmp_path, xlsx([row(i) for i in range(1, 5)]))
    assert caught.value.code == "too_many_rows"
    assert "more than 3 rows" in caught.value.message


def test_missing_header_is_refused(world, tmp_path):
    headers = [h for h in HEADERS if h != "County-level unit"]
    rows = [[c for h, c in zip(HEADERS, row(1), strict=True) if h != "County-level unit"]]
    with pytest.raises(sheets.SpreadsheetRejected) as caught:
        preview_of(world.city_user, tmp_path, xlsx(rows, headers))
    assert caught.value.code == "missing_column"
    assert "“County-level unit”" in caught.value.message


def test_formula_cell_is_read_as_text_and_refused(world, tmp_path):
    # openpyxl writes a real formula cell; the import reads its text and never evaluates it.
    workbook = Workbook()
    sheet = workbook.active
    sheet.append(HEADERS)
    sheet.append(row(1))
    sheet["B2"] = '=HYPERLINK("http://evil.example","点我")'
    out = io.BytesIO()
    workbook.save(out)
    [error] = preview_of(world.city_user, tmp_path, out.getvalue()).errors
    assert (error.column, error.code) == ("Enterprise name", "formula")


# -- the web pages -------------------------------------------------------------------------


def upload(client, content, name="sheet.xlsx", kind="enterprises"):
    """Upload a sheet; its preview job runs once the upload's transaction commits (eager Celery)."""
    with TestCase.captureOnCommitCallbacks(execute=True):
        return client.post(reverse("spreadsheets:upload", args=[kind]), {"file": SimpleUploadedFile(name, content)})


def test_upload_preview_and_confirm_in_the_browser(client, world):
    client.force_login(world.city_user)
    response = upload(client, xlsx([row(1), row(2)]))
    assert response.status_code == 302
    preview = client.get(response["Location"])
    assert preview.status_code == 200
    assert preview.context["preview"].created == 2
    confirm_url = response["Location"] + "confirm/"
    done = client.post(confirm_url)
    assert done.status_code == 302
    assert Enterprise.objects.filter(credit_code__in=[code(1), code(2)]).count() == 2
    assert client.post(confirm_url).status_code == 404  # the stored file is gone after the import


def test_preview_with_bad_rows_cannot_be_confirmed(client, world):
    client.force_login(world.city_user)
    location = upload(client, xlsx([row(1), row(2, **{"Size class": "巨型"})]))["Location"]
    preview = client.get(location)
    assert preview.status_code == 400
    assert 'data-code="invalid_choice"' in preview.content.decode()
    assert "Confirm the import" not in preview.content.decode()
    # Importing the valid rows only is a choice, not the default.
    assert '<input type="checkbox" name="skip_errors" value="1">' in preview.content.decode()
    refused = client.post(location + "confirm/")
    assert refused.status_code == 400 and refused.context["refused"]
    assert not Enterprise.objects.filter(credit_code=code(1)).exists()


@pytest.mark.parametrize(
    "name,content,expected",
    [
        ("macro.xlsm", b"PK\x03\x04", "Macro-enabled workbooks"),
        ("notes.txt", b"hello", "not a spreadsheet"),
        ("fake.xlsx", b"hello, not a zip", "not a spreadsheet"),
    ],
)
def test_hostile_uploads_get_a_clear_message_not_a_500(client, world, name, content, expected):
    client.force_login(world.city_user)
    response = upload(client, content, name)
    if response.status_code == 302:
        response = client.get(response["Location"])
    assert response.status_code == 400
    assert expected in response.content.decode()


def test_another_users_upload_is_404(client, world):
    client.force_login(world.city_user)
    location = upload(client, xlsx([row(1)]))["Location"]
    other = f.city_office(world.city, username="city2")
    client.force_login(other)
    assert client.get(location).status_code == 404
    assert client.post(location + "confirm/").status_code == 404


def test_template_has_the_headers_and_an_example_row_that_imports(client, world, tmp_path):
    client.force_login(world.city_user)
    response = client.get(reverse("spreadsheets:template", args=["enterprises"]))
    assert response.status_code == 200
    assert response["Content-Disposition"].startswith("attachment;")
    sheet = load_workbook(io.BytesIO(response.content)).active
    assert [c.value for c in sheet[1]] == HEADERS
    assert sheet["A2"].value and sheet["C2"].value == "鼓楼区"
    preview = preview_of(world.city_user, tmp_path, response.content)
    assert preview.ok and preview.created == 1


@pytest.mark.parametrize("kind", ["indicators", "county_offices"])
def test_every_kind_has_a_template(client, world, kind):
    client.force_login(world.city_user)
    assert client.get(reverse("spreadsheets:template", args=[kind])).status_code == 200


def test_county_offices_and_liaisons_may_not_import(client, world):
    client.force_login(world.county_users[0])
    assert client.get(reverse("spreadsheets:index")).status_code == 200  # exports only
    assert upload(client, xlsx([row(1)])).status_code == 403
    assert client.get(reverse("spreadsheets:template", args=["enterprises"])).status_code == 403
    client.force_login(world.liaisons[0])
    assert client.get(reverse("spreadsheets:index")).status_code == 403
    assert upload(client, xlsx([row(1)])).status_code == 403
    with pytest.raises(PermissionDenied):
        services.importer_for(world.liaisons[0], "enterprises")


# -- the task library and county-office accounts -------------------------------------------

INDICATOR_HEADERS = ["Indicator code", "Category", "Indicator", "Requirement", "Evidence asked for", "Max points",
                     "Assignee", "Applies to size classes", "Display order", "Active"]


def test_task_library_import_updates_by_code(world, tmp_path):
    rows = [
        ["B01", "Skills and quality", "开展劳动技能竞赛（修订）", "", "", 12, "Enterprises", "Large、Medium", 1, "Yes"],
        ["N01", "Rights protection", "签订集体合同", "", "", 5, "Enterprises", "", 2, "Yes"],
        ["N01", "Rights protection", "重复", "", "", 5, "Enterprises", "", 3, "Yes"],
    ]
    preview = preview_of(world.city_user, tmp_path, xlsx(rows, INDICATOR_HEADERS), kind="indicators")
    [error] = preview.errors
    assert (error.row, error.code) == (4, "duplicate_in_sheet")
    path = stored(tmp_path, xlsx(rows[:2], INDICATOR_HEADERS), "ok.xlsx")
    result = services.apply_import(world.city_user, "indicators", path)
    assert (result.created, result.updated) == (1, 1)
    b01 = Indicator.objects.get(city=world.city, code="B01")
    assert (b01.title, b01.max_points, b01.applies_to_sizes) == ("开展劳动技能竞赛（修订）", Decimal("12.00"), ["large", "medium"])
    assert services.preview_import(world.city_user, "indicators", path).unchanged == 2


def test_county_office_accounts_import(world, tmp_path):
    headers = ["Account", "County-level unit", "Contact name", "Email"]
    rows = [["county99", "云龙区", "李娜", "ln@example.com"], [world.liaisons[0].username, "鼓楼区", "", ""]]
    preview = preview_of(world.city_user, tmp_path, xlsx(rows, headers), kind="county_offices")
    [error] = preview.errors
    assert (error.row, error.code) == (3, "account_taken")
    services.apply_import(world.city_user, "county_offices", stored(tmp_path, xlsx(rows[:1], headers), "ok.xlsx"))
    profile = Profile.objects.get(user__username="county99")
    assert (profile.role, profile.region) == (Profile.Role.COUNTY_OFFICE, world.counties[1])


# -- the admin's import (django-import-export) keeps the same rules -------------------------


def test_admin_resource_import_refuses_a_county_of_another_city_and_formula_names(world):
    import tablib

    other = f.RegionFactory.county(name="新北区", code="320411")
    dataset = EnterpriseResource().export(queryset=Enterprise.objects.filter(pk=world.enterprises[0].pk))
    data = tablib.Dataset(headers=dataset.headers)
    cells = list(dataset[0])
    cells[2] = other.name
    cells[1] = "=HYPERLINK(\"http://evil.example\")"
    data.append(cells)
    result = EnterpriseResource().import_data(data, dry_run=True, user=world.city_user)
    assert result.has_validation_errors()
    [invalid] = result.invalid_rows
    assert set(invalid.error_dict) == {"county", "name"}
    assert Enterprise.objects.get(pk=world.enterprises[0].pk).county == world.counties[0]


def test_admin_resource_import_refuses_a_code_twice_in_the_sheet(world):
    import tablib

    dataset = EnterpriseResource().export(queryset=Enterprise.objects.filter(pk=world.enterprises[0].pk))
    data = tablib.Dataset(*[list(dataset[0]), list(dataset[0])], headers=dataset.headers)
    result = EnterpriseResource().import_data(data, dry_run=True, user=world.city_user)
    assert result.has_errors()
    assert "appears twice in the sheet" in str(result.base_errors[0].error)


# -- imports touch only the importer's city and its accounts (issue 13, point 4) ----------

COUNTY_OFFICE_HEADERS = ["Account", "County-level unit", "Contact name", "Email"]


def accounts_state():
    return sorted(User.objects.values_list("username", "email", "first_name", "is_staff", "is_superuser")), sorted(
        Profile.objects.values_list("user__username", "role", "enterprise_id", "region_id")
    )


@pytest.mark.parametrize(
    "account,error_code",
    [
        ("admin", "account_protected"),  # a superuser without a profile: the reported attack
        ("sq_county01", "outside_city"),  # another city's county office
        ("sq_city", "outside_city"),  # another city's staff
        ("sq_ent01", "outside_city"),
        ("loose", "account_taken"),  # an account without any role
        ("county_su", "account_protected"),  # a superuser that is also a county office of this city
    ],
)
def test_county_office_import_never_touches_accounts_outside_the_city(world, other_city, tmp_path, account, error_code):
    f.UserFactory(username="loose")
    su = f.county_office(world.counties[0], username="county_su")
    su.is_superuser = su.is_staff = True
    su.save()
    before = accounts_state()
    rows = [["county98", "云龙区", "李娜", "ln@example.com"], [account, "鼓楼区", "黑客", "evil@example.com"]]
    preview = preview_of(world.city_user, tmp_path, xlsx(rows, COUNTY_OFFICE_HEADERS), kind="county_offices")
    [error] = preview.errors
    assert (error.row, error.column, error.code) == (3, "Account", error_code)
    assert account in error.message
    with pytest.raises(services.ImportRefused):
        services.apply_import(world.city_user, "county_offices", stored(tmp_path, xlsx(rows, COUNTY_OFFICE_HEADERS), "x.xlsx"))
    assert accounts_state() == before
    assert User.objects.get(username="admin").email == "admin@example.com"


def test_county_office_import_still_updates_the_citys_own_county_offices(world, other_city, tmp_path):
    rows = [[world.county_users[0].username, "云龙区", "王磊", "wl@example.com"]]
    result = services.apply_import(world.city_user, "county_offices", stored(tmp_path, xlsx(rows, COUNTY_OFFICE_HEADERS)))
    assert result.updated == 1
    profile = Profile.objects.select_related("user").get(user=world.county_users[0])
    assert (profile.region, profile.user.email) == (world.counties[1], "wl@example.com")


@pytest.mark.parametrize(
    "account,error_code",
    [("admin", "account_protected"), ("sq_ent01", "outside_city"), ("sq_city", "outside_city"), ("loose", "account_taken")],
)
def test_enterprise_import_never_binds_an_account_outside_the_city(world, other_city, tmp_path, account, error_code):
    f.UserFactory(username="loose")
    before = state()
    preview = preview_of(world.city_user, tmp_path, xlsx([row(1), row(2, **{"Liaison account": account})]))
    [error] = preview.errors
    assert (error.row, error.column, error.code) == (3, "Liaison account", error_code)
    with pytest.raises(services.ImportRefused):
        services.apply_import(world.city_user, "enterprises", stored(tmp_path, xlsx([row(2, **{"Liaison account": account})]), "x.xlsx"))
    assert state() == before


def test_enterprise_import_refuses_an_enterprise_of_another_city(world, other_city, tmp_path):
    """Keyed by the credit code, the row would move 宿迁's enterprise into 徐州's 鼓楼区."""
    before = state()
    foreign = row(1, **{"Unified social credit code": other_city.enterprise.credit_code, "Liaison account": ""})
    preview = preview_of(world.city_user, tmp_path, xlsx([foreign]))
    [error] = preview.errors
    assert (error.row, error.column, error.code) == (2, "Unified social credit code", "outside_city")
    with pytest.raises(services.ImportRefused):
        services.apply_import(world.city_user, "enterprises", stored(tmp_path, xlsx([foreign]), "x.xlsx"))
    assert state() == before
    other_city.enterprise.refresh_from_db()
    assert other_city.enterprise.county == other_city.county


def test_other_citys_office_cannot_import_into_this_city(world, other_city, tmp_path):
    """宿迁's office naming 徐州's county or enterprise gets per-row errors, nothing written."""
    before = state()
    rows = [row(1, **{"County-level unit": "鼓楼区"}),
            row(2, **{"Unified social credit code": world.enterprises[0].credit_code, "County-level unit": "宿城区"})]
    preview = preview_of(other_city.city_user, tmp_path, xlsx(rows))
    assert [(e.row, e.code) for e in preview.errors] == [(2, "unknown_county"), (3, "outside_city")]
    assert state() == before


def test_account_checks_do_not_cost_a_query_per_row(world, tmp_path, django_assert_max_num_queries):
    names = [f"bulk{n:04d}" for n in range(30)]
    for name in names[:15]:
        f.liaison(world.enterprises[0], username=name)
    rows = [[name, "鼓楼区", "", ""] for name in names]
    path = stored(tmp_path, xlsx(rows, COUNTY_OFFICE_HEADERS))
    with django_assert_max_num_queries(12):
        preview = services.preview_import(world.city_user, "county_offices", path)
    assert len(preview.errors) == 15
