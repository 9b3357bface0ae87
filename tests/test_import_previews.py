"""Imports that help: the preview shows each changed field old → new and highlights bad cells,
the office may import only the valid rows (an explicit choice), downloads an error workbook
ready to fix and upload again, the preview is a job computed once (progress, stored, never
recomputed by a reload; the confirm checks it still holds) and the templates have drop-down
lists and the allowed values.
"""

import io

import pytest
from django.test import TestCase
from django.urls import reverse
from openpyxl import load_workbook
from openpyxl.utils import get_column_letter

from enterprises.credit_code import is_valid
from enterprises.models import Enterprise
from spreadsheets.imports import previews, services
from spreadsheets.imports.sheets import SheetImport
from spreadsheets.models import ImportPreview

from . import factories as f
from .test_imports import HEADERS, code, preview_of, row, stored, upload, xlsx


@pytest.fixture(autouse=True)
def _english(settings):
    settings.LANGUAGE_CODE = "en"


def existing_row(enterprise, **overrides):
    values = {
        "Unified social credit code": enterprise.credit_code, "Enterprise name": enterprise.name,
        "County-level unit": enterprise.county.name, "Size class": enterprise.get_size_class_display(),
        "Ownership": enterprise.get_ownership_display(), "Pilot level": enterprise.get_pilot_level_display(),
        "Employees": enterprise.employees, "Liaison name": enterprise.liaison_name,
        "Liaison phone": enterprise.liaison_phone, "Liaison account": "", "In the reform": "Yes",
    }
    values.update(overrides)
    return [values[h] for h in HEADERS]


@pytest.fixture
def counting(monkeypatch):
    """How many times a sheet was validated (read, cleaned and compared)."""
    calls = []
    original = SheetImport.validate

    def validate(self, path, progress=None):
        calls.append(self.kind)
        return original(self, path, progress)

    monkeypatch.setattr(SheetImport, "validate", validate)
    return calls


# -- the diff and the highlighting -----------------------------------------------------------


def test_the_preview_shows_each_changed_field_old_and_new(world, tmp_path):
    enterprise = world.enterprises[1]
    sheet = xlsx([
        existing_row(enterprise, **{"Employees": enterprise.employees + 5, "Size class": "Large"}),
        existing_row(world.enterprises[2]),
        row(1),
    ])
    preview = preview_of(world.city_user, tmp_path, sheet)
    assert (preview.created, preview.updated, preview.unchanged) == (1, 1, 1)
    updated = next(r for r in preview.rows if r.action == "update")
    assert [(c.column, c.old, c.new) for c in updated.changes] == [
        ("Size class", "Medium", "Large"),
        ("Employees", str(enterprise.employees), str(enterprise.employees + 5)),
    ]
    assert all(not r.changes for r in preview.rows if r.action != "update")


def test_the_preview_page_highlights_bad_rows_with_the_message_per_cell_and_lists_changes(client, world):
    client.force_login(world.city_user)
    enterprise = world.enterprises[0]
    sheet = xlsx([
        existing_row(enterprise, **{"Enterprise name": "徐州云集港口集团有限公司"}),
        row(2, **{"Size class": "巨型", "Liaison phone": "call me"}),
    ])
    location = upload(client, sheet)["Location"]
    page = client.get(location + "?show=all")
    html = page.content.decode()
    assert page.status_code == 400
    assert html.count('class="preview__row--error"') == 1
    assert 'data-code="invalid_choice"' in html and 'data-code="invalid_phone"' in html
    assert "<strong>Liaison phone</strong>: “call me” is not a phone number." in html
    assert "<del>徐州云集港口有限公司</del>" in html and "<ins>徐州云集港口集团有限公司</ins>" in html
    # By default a preview with errors opens on its rows with errors.
    default = client.get(location)
    assert default.context["show"] == "error" and [r.row for r in default.context["rows"]] == [3]


# -- only the valid rows, by choice ------------------------------------------------------------


def test_importing_only_the_valid_rows_is_an_explicit_choice(client, world):
    client.force_login(world.city_user)
    location = upload(client, xlsx([row(1), row(2, **{"Unified social credit code": "123"}), row(3)]))["Location"]
    before = Enterprise.objects.count()

    refused = client.post(location + "confirm/")
    assert refused.status_code == 400 and refused.context["refused"]
    assert Enterprise.objects.count() == before

    done = client.post(location + "confirm/", {"skip_errors": "1"}, follow=True)
    assert done.status_code == 200
    assert set(Enterprise.objects.filter(credit_code__in=[code(1), code(2), code(3)]).values_list("credit_code", flat=True)) == {
        code(1), code(3)
    }
    text = done.content.decode()
    assert "2 created" in text and "1 row with errors was not imported" in text
    # The result page still offers the error workbook; the upload itself is gone.
    assert reverse("spreadsheets:preview_errors", args=["enterprises", location.rstrip("/").rsplit("/", 1)[1]]) in text
    assert "skip_errors" not in text


def test_a_sheet_whose_rows_are_all_bad_cannot_be_imported_even_by_choice(client, world):
    client.force_login(world.city_user)
    location = upload(client, xlsx([row(1, **{"Size class": "巨型"})]))["Location"]
    page = client.get(location)
    assert "No row of this sheet can be imported." in page.content.decode()
    assert client.post(location + "confirm/", {"skip_errors": "1"}).status_code == 400
    assert not Enterprise.objects.filter(credit_code=code(1)).exists()


# -- the error workbook ----------------------------------------------------------------------


def test_the_error_workbook_has_the_rejected_rows_as_uploaded_and_what_is_wrong_and_imports_once_fixed(
    client, world, tmp_path
):
    client.force_login(world.city_user)
    bad_phone = row(2, **{"Liaison phone": "call me"})
    bad_two = row(4, **{"Size class": "巨型", "County-level unit": "海淀区"})
    location = upload(client, xlsx([row(1), bad_phone, row(3), bad_two]))["Location"]
    token = location.rstrip("/").rsplit("/", 1)[1]
    response = client.get(reverse("spreadsheets:preview_errors", args=["enterprises", token]))
    assert response.status_code == 200
    assert response["Content-Disposition"].startswith("attachment;")
    workbook = load_workbook(io.BytesIO(b"".join(response.streaming_content)))
    sheet = workbook.worksheets[0]
    assert [c.value for c in sheet[1]] == [*HEADERS, "What is wrong"]
    rows = [[c.value for c in r] for r in sheet.iter_rows(min_row=2)]
    assert [r[:-1] for r in rows] == [bad_phone, bad_two]  # as uploaded, in the template's order
    assert rows[0][-1] == "Row 3 of the uploaded sheet：Liaison phone: “call me” is not a phone number."
    assert "Row 5 of the uploaded sheet" in rows[1][-1] and "Size class: " in rows[1][-1] and "海淀区" in rows[1][-1]
    phone = sheet.cell(row=2, column=HEADERS.index("Liaison phone") + 1)
    assert phone.fill.fgColor.rgb.endswith("FFC7CE") and "not a phone number" in phone.comment.text
    assert sheet.cell(row=2, column=1).comment is None  # a good cell is left alone

    # Corrected and uploaded again: it imports.
    sheet.cell(row=2, column=HEADERS.index("Liaison phone") + 1).value = "13900000001"
    sheet.cell(row=3, column=HEADERS.index("Size class") + 1).value = "Small"
    sheet.cell(row=3, column=HEADERS.index("County-level unit") + 1).value = "云龙区"
    out = io.BytesIO()
    workbook.save(out)
    preview = preview_of(world.city_user, tmp_path, out.getvalue(), "fixed.xlsx")
    assert preview.ok and preview.created == 2


def test_a_preview_without_errors_has_no_error_workbook(client, world):
    client.force_login(world.city_user)
    token = upload(client, xlsx([row(1)]))["Location"].rstrip("/").rsplit("/", 1)[1]
    assert client.get(reverse("spreadsheets:preview_errors", args=["enterprises", token])).status_code == 404


# -- the preview job: progress, computed once, checked at the confirm ---------------------------


def test_the_preview_is_computed_once_and_a_reload_reads_the_stored_result(client, world, counting):
    client.force_login(world.city_user)
    location = upload(client, xlsx([row(1), row(2)]))["Location"]
    assert counting == ["enterprises"]  # the job, once
    for _ in range(3):
        page = client.get(location)
        assert page.status_code == 200 and page.context["preview"].created == 2
    assert counting == ["enterprises"]
    record = ImportPreview.objects.get()
    assert (record.status, record.progress, record.created) == ("done", 100, 2)
    assert client.post(location + "confirm/").status_code == 302
    assert counting == ["enterprises", "enterprises"]  # the confirm's check in its transaction


def test_a_running_preview_shows_its_progress_and_the_status_is_polled(client, world, tmp_path):
    from django.core.files.uploadedfile import SimpleUploadedFile

    from spreadsheets.imports import uploads

    client.force_login(world.city_user)
    upload_ = uploads.store_upload(world.city_user, SimpleUploadedFile("s.xlsx", xlsx([row(1)])))
    record = previews.start_preview(world.city_user, "enterprises", upload_, run_task=None)
    ImportPreview.objects.filter(pk=record.pk).update(status="running", progress=45)
    url = reverse("spreadsheets:preview", args=["enterprises", upload_.token])
    page = client.get(url)
    assert page.status_code == 200 and page.context["preview"] is None
    assert 'value="45"' in page.content.decode() and "import_preview.js" in page.content.decode()
    status = client.get(reverse("spreadsheets:preview_status", args=["enterprises", upload_.token])).json()
    assert (status["status"], status["progress"], status["finished"]) == ("running", 45, False)
    # The confirm waits for the preview.
    confirm = client.post(reverse("spreadsheets:confirm", args=["enterprises", upload_.token]))
    assert confirm.status_code == 302 and not Enterprise.objects.filter(credit_code=code(1)).exists()


def test_progress_is_reported_while_the_rows_are_read(world, tmp_path):
    seen = []
    path = stored(tmp_path, xlsx([row(n) for n in range(1, 1202)]))
    services.importer_for(world.city_user, "enterprises").validate(path, seen.append)
    assert seen[0] < 80 and seen[-2:] == [80, 90] and seen == sorted(seen)


def test_a_change_made_after_the_preview_is_not_overwritten_blindly(client, world, counting):
    client.force_login(world.city_user)
    enterprise = world.enterprises[1]
    location = upload(client, xlsx([existing_row(enterprise, **{"Employees": 777})]))["Location"]
    Enterprise.objects.filter(pk=enterprise.pk).update(name="徐州恒达重工有限公司")  # someone else, meanwhile
    with TestCase.captureOnCommitCallbacks(execute=True):
        response = client.post(location + "confirm/")
    assert response.status_code == 302 and response["Location"] == location
    enterprise.refresh_from_db()
    assert (enterprise.name, enterprise.employees) == ("徐州恒达重工有限公司", world.enterprises[1].employees)
    # A new preview shows what confirming would do now (the name back, too); then it imports.
    page = client.get(location)
    assert "The data changed since this preview" in page.content.decode()
    changes = [(c.column, c.new) for c in page.context["preview"].rows[0].changes]
    assert ("Enterprise name", "徐州恒达机械制造有限公司") in changes and ("Employees", "777") in changes
    assert ImportPreview.objects.count() == 2
    assert client.post(location + "confirm/").status_code == 302
    enterprise.refresh_from_db()
    assert enterprise.employees == 777


def test_a_rejected_file_fails_the_preview_with_its_reason(client, world):
    client.force_login(world.city_user)
    location = upload(client, b"name,phone\n1,2\n", "sheet.csv")["Location"]
    page = client.get(location)
    assert page.status_code == 400 and page.context["rejected"].code == "missing_column"
    assert ImportPreview.objects.get().status == "failed"


# -- scoping -----------------------------------------------------------------------------------


def test_only_the_city_office_previews_and_another_citys_office_gets_404(client, world, other_city):
    client.force_login(world.city_user)
    location = upload(client, xlsx([row(1, **{"Size class": "巨型"}), row(2)]))["Location"]
    token = location.rstrip("/").rsplit("/", 1)[1]
    urls = [
        ("get", location), ("get", reverse("spreadsheets:preview_status", args=["enterprises", token])),
        ("get", reverse("spreadsheets:preview_errors", args=["enterprises", token])),
        ("post", location + "confirm/"),
    ]
    client.force_login(other_city.city_user)
    assert [getattr(client, method)(url).status_code for method, url in urls] == [404] * 4
    client.force_login(world.county_users[0])
    assert [getattr(client, method)(url).status_code for method, url in urls] == [403] * 4
    assert upload(client, xlsx([row(3)])).status_code == 403
    assert not Enterprise.objects.filter(credit_code__in=[code(1), code(2), code(3)]).exists()


# -- templates: drop-downs and allowed values ------------------------------------------------


def _validations(sheet):
    """{column letter: (type, formula1)} of the sheet's data validations."""
    out = {}
    for rule in sheet.data_validations.dataValidation:
        for cells in rule.sqref.ranges:
            out[get_column_letter(cells.min_col)] = (rule.type, rule.formula1)
    return out


def test_the_enterprise_template_has_drop_downs_for_every_coded_column_and_the_allowed_values(client, world):
    client.force_login(world.city_user)
    workbook = load_workbook(io.BytesIO(client.get(reverse("spreadsheets:template", args=["enterprises"])).content))
    sheet, values = workbook.worksheets
    assert values.title == "Allowed values"
    rules = _validations(sheet)
    letter = {h: get_column_letter(i) for i, h in enumerate(HEADERS, start=1)}
    for header in ("County-level unit", "Size class", "Ownership", "Pilot level", "In the reform"):
        kind, formula = rules[letter[header]]
        assert kind == "list" and formula.startswith("'Allowed values'!$"), header
        column = formula.split("!")[1].replace("$", "")[0]
        listed = [values[f"{column}{n}"].value for n in range(2, values.max_row + 1) if values[f"{column}{n}"].value]
        assert values[f"{column}1"].value == header
        if header == "County-level unit":
            assert listed == ["鼓楼区", "云龙区"]
            codes = [values.cell(row=n, column=values[f"{column}1"].column + 1).value for n in (2, 3)]
            assert codes == ["320302", "320303"]
        if header == "Size class":
            assert listed == ["Large", "Medium", "Small", "Micro"]
    assert rules[letter["Employees"]][0] == "whole"
    assert letter["Unified social credit code"] not in rules
    # The example row: a real county of the city and a valid credit code, not an existing enterprise.
    assert sheet["C2"].value == "鼓楼区" and is_valid(sheet["A2"].value)
    assert not Enterprise.objects.filter(credit_code=sheet["A2"].value).exists()


def test_the_task_library_template_has_drop_downs_for_category_assignee_and_active(client, world):
    client.force_login(world.city_user)
    workbook = load_workbook(io.BytesIO(client.get(reverse("spreadsheets:template", args=["indicators"])).content))
    sheet = workbook.worksheets[0]
    headers = [c.value for c in sheet[1]]
    rules = _validations(sheet)
    for header in ("Category", "Assignee", "Active"):
        assert rules[get_column_letter(headers.index(header) + 1)][0] == "list", header
    assert rules[get_column_letter(headers.index("Max points") + 1)][0] == "decimal"
    assert rules[get_column_letter(headers.index("Applies to size classes") + 1)][0] is None  # several: a prompt


def test_the_county_office_template_example_does_not_touch_an_existing_account(client, world, tmp_path):
    client.force_login(world.city_user)
    content = client.get(reverse("spreadsheets:template", args=["county_offices"])).content
    preview = preview_of(world.city_user, tmp_path, content, kind="county_offices")
    assert preview.ok and preview.created == 1 and preview.updated == 0


@pytest.mark.parametrize("kind", ["enterprises", "indicators", "county_offices"])
def test_every_template_imports_as_it_is(client, world, tmp_path, kind):
    f.IndicatorFactory(city=world.city, code="JN01")
    client.force_login(world.city_user)
    content = client.get(reverse("spreadsheets:template", args=[kind])).content
    preview = preview_of(world.city_user, tmp_path, content, kind=kind)
    assert preview.ok, preview.errors


# -- a real worker -----------------------------------------------------------------------------


@pytest.mark.worker
@pytest.mark.django_db(transaction=True)
def test_a_real_celery_worker_computes_the_preview(redis_worker, world, client):
    from django.core.files.uploadedfile import SimpleUploadedFile

    from .celery_worker import _wait_for

    client.force_login(world.city_user)
    response = client.post(
        reverse("spreadsheets:upload", args=["enterprises"]),
        {"file": SimpleUploadedFile("s.xlsx", xlsx([row(1), row(2, **{"Size class": "巨型"})]))},
    )
    assert response.status_code == 302
    record = _wait_for(lambda: ImportPreview.objects.filter(status="done").first(), "the stored preview")
    assert (record.created, record.error_rows, bool(record.error_file)) == (1, 1, True)
    page = client.get(response["Location"])
    assert page.status_code == 400 and page.context["preview"].created == 1
