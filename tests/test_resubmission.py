"""A resubmission after a return keeps chosen files of the returned version (issue 15): the new
version's rows name the same stored files (no copy), point at the row first uploaded, count
towards the file limit, and nothing that deletes files treats a shared file as an orphan.
Through the service, the site's form and the API."""

import datetime
import re

import pytest
from django.db.models import ProtectedError
from django.urls import reverse
from django.utils import timezone
from django.utils.html import escape
from django.utils.translation import gettext, override
from rest_framework.test import APIClient

from accounts import security
from tasks import evidence_audit, evidence_files, services
from tasks.models import Assignment, CheckIn, CheckInState, Evidence, StagedEvidenceFile

from . import factories as f
from .helpers_domain import fingerprint, media_files

pytestmark = pytest.mark.django_db


def zh(msgid):
    with override("zh-hans"):
        return gettext(msgid)


@pytest.fixture
def assignment(world, assignment_of):
    return assignment_of(world.enterprises[0])


@pytest.fixture
def returned(world, assignment):
    """Version 1 of the first enterprise's task, with a PDF and a PNG, returned by its county."""
    v1 = services.submit_checkin(
        world.liaisons[0], assignment, "第一版说明：开展了技能竞赛。", [f.pdf_upload("方案.pdf"), f.png_upload("现场.png")]
    )
    return services.return_checkin(world.county_users[0], v1, "请补充获奖名单。")


def files_of(checkin):
    return list(Evidence.objects.filter(checkin=checkin).order_by("pk"))


# --- the service ----------------------------------------------------------------------------


def test_kept_files_are_new_rows_of_the_new_version_naming_the_same_stored_files(world, assignment, returned):
    pdf, png = files_of(returned)
    stored_before = media_files()

    v2 = services.submit_checkin(
        world.liaisons[0], assignment, "第二版：补充了获奖名单。", [f.pdf_upload("获奖名单.pdf")], keep=[pdf.pk]
    )

    kept, new = files_of(v2)
    assert v2.version == 2 and v2.state == CheckInState.PENDING_COUNTY_REVIEW
    assert kept.pk != pdf.pk and kept.checkin == v2
    assert kept.file.name == pdf.file.name  # the same stored file, not a copy
    assert (kept.original_name, kept.size, kept.content_type, kept.sha256) == (
        pdf.original_name,
        pdf.size,
        pdf.content_type,
        pdf.sha256,
    )
    assert kept.carried_from == pdf and kept.preview_source() == pdf
    assert new.carried_from is None and new.preview_source() == new and new.original_name == "获奖名单.pdf"
    # One new stored file (the new upload); the unticked PNG was not carried.
    assert media_files() - stored_before == {new.file.name}
    # Version 1 is unchanged: its two rows, their files.
    assert [(e.pk, e.file.name, e.carried_from_id) for e in files_of(returned)] == [
        (pdf.pk, pdf.file.name, None),
        (png.pk, png.file.name, None),
    ]
    assert kept.file.open("rb").read() == pdf.file.open("rb").read()


def test_a_file_kept_twice_points_at_the_row_first_uploaded(world, assignment, returned):
    pdf, _png = files_of(returned)
    v2 = services.submit_checkin(world.liaisons[0], assignment, "第二版。", [], keep=[pdf.pk])
    services.return_checkin(world.county_users[0], v2, "还需补充。")
    (kept_once,) = files_of(v2)

    v3 = services.submit_checkin(world.liaisons[0], assignment, "第三版。", [f.pdf_upload()], keep=[kept_once.pk])

    kept_twice = files_of(v3)[0]
    assert kept_twice.carried_from == pdf  # the uploaded row, not version 2's
    assert kept_twice.preview_source() == pdf
    assert kept_twice.file.name == pdf.file.name
    assert set(pdf.carried_into.all()) == {kept_once, kept_twice}


def test_keeping_only_files_without_new_uploads_is_a_valid_resubmission(world, assignment, returned):
    pdf, png = files_of(returned)
    v2 = services.submit_checkin(world.liaisons[0], assignment, "第二版。", [], keep=[str(png.pk), png.pk, pdf.pk])
    assert [e.carried_from_id for e in files_of(v2)] == [png.pk, pdf.pk]  # duplicates kept once


@pytest.fixture
def refused(world, assignment):
    """submit(keep, files=None, user=the liaison) must raise ValidationError and change nothing."""
    from django.core.exceptions import ValidationError

    def check(keep, files=None, message=None):
        before, staged = fingerprint(assignment), StagedEvidenceFile.objects.count()
        with pytest.raises(ValidationError) as error:
            services.submit_checkin(
                world.liaisons[0], assignment, "第二版。", [f.pdf_upload()] if files is None else files, keep=keep
            )
        assert fingerprint(assignment) == before  # no row, no stored file
        assert StagedEvidenceFile.objects.count() == staged
        if message is not None:
            assert error.value.messages == [message]
        return error.value

    return check


@pytest.mark.parametrize("keep", [["abc"], ["-1"], ["0"], ["1.5"], [" "], ["1" * 30], ["１"], [None], ["3\x00"]])
def test_ids_that_are_no_ids_are_refused(returned, refused, keep):
    error = refused(keep)
    assert error.code == "keep"
    assert re.search(r"[\u4e00-\u9fff]", error.messages[0])


def test_files_of_another_task_or_city_or_an_older_version_are_refused(
    world, assignment, assignment_of, other_city, returned, refused
):
    pdf, _png = files_of(returned)
    # Another enterprise's returned check-in, in the same county.
    neighbour = services.submit_checkin(world.liaisons[1], assignment_of(world.enterprises[1]), "邻企。", [f.pdf_upload()])
    services.return_checkin(world.county_users[0], neighbour, "退回。")
    # Another city's file.
    far = services.submit_checkin(other_city.liaison, other_city.assignment, "宿迁。", [f.pdf_upload()])
    only_latest = zh("Only files of the returned version (version %(version)s) can be kept.") % {"version": 1}
    refused([files_of(neighbour)[0].pk], message=only_latest)
    refused([files_of(far)[0].pk], message=only_latest)
    refused([pdf.pk, 10**9], message=only_latest)

    # Version 2 keeps the PDF, is returned again: version 1's own rows can no longer be kept.
    v2 = services.submit_checkin(world.liaisons[0], assignment, "第二版。", [f.pdf_upload()], keep=[pdf.pk])
    services.return_checkin(world.county_users[0], v2, "再补充。")
    refused([pdf.pk], message=zh("Only files of the returned version (version %(version)s) can be kept.") % {"version": 2})


def test_files_can_be_kept_only_after_a_return(world, assignment, assignment_of, refused):
    first = assignment_of(world.enterprises[1])
    other = services.submit_checkin(world.liaisons[1], first, "邻企。", [f.pdf_upload()])
    message = zh("Files can be kept only when a returned check-in is submitted again.")
    refused([files_of(other)[0].pk], message=message)  # a first submission has nothing to keep

    v1 = services.submit_checkin(world.liaisons[0], assignment, "第一版。", [f.pdf_upload()])
    # Pending review: not returned (the same refusal, before the state conflict).
    refused([files_of(v1)[0].pk], message=message)


def test_kept_and_new_files_count_together_against_the_limit(world, assignment, returned, refused, settings):
    settings.EVIDENCE_MAX_FILES = 3
    pdf, png = files_of(returned)
    refused(
        [pdf.pk, png.pk],
        files=[f.pdf_upload("一.pdf"), f.pdf_upload("二.pdf")],
        message=zh("At most %(count)d files per check-in.") % {"count": 3},
    )
    refused([], files=[], message=zh("Attach at least one evidence file."))

    v2 = services.submit_checkin(world.liaisons[0], assignment, "第二版。", [f.pdf_upload()], keep=[pdf.pk, png.pk])
    assert len(files_of(v2)) == 3


def test_kept_ids_are_checked_again_under_the_lock(world, assignment, returned, monkeypatch):
    """Chosen from version 1, but version 2 was submitted and returned before the lock was
    granted: nothing is written and the new upload is deleted again."""
    from django.core.exceptions import ValidationError

    pdf, _png = files_of(returned)
    create_version = services._create_version

    def others_first(user, profile, assignment, *args):
        v2 = create_version(user, profile, assignment, "另一份第二版。", [], ())
        CheckIn.objects.filter(pk=v2.pk).update(state=CheckInState.RETURNED)
        Assignment.objects.filter(pk=assignment.pk).update(state=CheckInState.RETURNED)
        return create_version(user, profile, assignment, *args)

    monkeypatch.setattr(services, "_create_version", others_first)
    stored = media_files()
    with pytest.raises(ValidationError):
        services.submit_checkin(world.liaisons[0], assignment, "第二版。", [f.pdf_upload()], keep=[pdf.pk])
    assert CheckIn.objects.filter(assignment=assignment).count() == 1  # the whole transaction rolled back
    assert media_files() == stored


# --- shared files and everything that deletes files -----------------------------------------


def test_housekeeping_and_audit_keep_a_file_shared_by_two_versions(world, assignment, returned):
    pdf, png = files_of(returned)
    v2 = services.submit_checkin(world.liaisons[0], assignment, "第二版。", [], keep=[pdf.pk])
    kept = files_of(v2)[0]
    # Staging rows left for every stored file (as after a crash), the shared one among them,
    # old enough to be swept.
    StagedEvidenceFile.objects.update_or_create(name=pdf.file.name)
    StagedEvidenceFile.objects.update(created_at=timezone.now() - datetime.timedelta(days=3))

    result = evidence_audit.sweep_staged_files()

    assert result.staged_files_deleted == [] and not StagedEvidenceFile.objects.exists()
    assert pdf.file.name in media_files() and png.file.name in media_files()
    assert evidence_files.owned_names([kept.file.name]) == {kept.file.name}
    audit = evidence_audit.audit_files()
    assert audit.ok, (audit.unknown_files, audit.rows_without_file)


def test_the_uploaded_row_cannot_be_deleted_while_a_version_keeps_its_file(world, assignment, returned):
    pdf, _png = files_of(returned)
    services.submit_checkin(world.liaisons[0], assignment, "第二版。", [], keep=[pdf.pk])
    with pytest.raises(ProtectedError):
        Evidence.objects.filter(pk=pdf.pk).delete()
    assert pdf.file.name in media_files()


# --- the site's form ------------------------------------------------------------------------


def detail(client, assignment):
    return client.get(reverse("tasks:assignment_detail", args=[assignment.pk]))


def post(client, assignment, description, keep=(), files=()):
    return client.post(
        reverse("tasks:submit", args=[assignment.pk]),
        {"description": description, "keep": [str(k) for k in keep], "files": list(files)},
    )


def checkbox(evidence, checked):
    return f'<input type="checkbox" name="keep" value="{evidence.pk}"{" checked" if checked else ""}>'


def test_the_form_after_a_return_starts_with_the_description_and_every_file_kept(client, world, assignment, returned):
    pdf, png = files_of(returned)
    client.force_login(world.liaisons[0])
    page = detail(client, assignment).content.decode()
    assert "第一版说明：开展了技能竞赛。</textarea>" in page
    assert checkbox(pdf, True) in page and checkbox(png, True) in page
    assert escape(zh("Keep this file")) in page
    assert "方案.pdf" in page and "现场.png" in page
    assert 'capture="environment"' in page and 'accept="image/*"' in page
    assert escape(zh("Please choose the files to upload again: a browser cannot keep them after an error.")) not in page


def test_a_first_submission_has_no_files_to_keep(client, world, assignment):
    client.force_login(world.liaisons[0])
    page = detail(client, assignment).content.decode()
    assert 'name="keep"' not in page
    assert 'capture="environment"' in page


def test_resubmitting_through_the_form_keeps_the_ticked_files_and_the_history_says_so(
    client, world, assignment, returned
):
    pdf, png = files_of(returned)
    client.force_login(world.liaisons[0])
    response = post(client, assignment, "第二版：补充了名单。", keep=[png.pk], files=[f.pdf_upload("名单.pdf")])
    assert response.status_code == 302
    v2 = CheckIn.objects.get(assignment=assignment, version=2)
    assert [(e.original_name, e.carried_from_id) for e in files_of(v2)] == [("现场.png", png.pk), ("名单.pdf", None)]
    page = detail(client, assignment).content.decode()
    assert page.count(zh("Kept from the previous version")) == 1


def test_a_refused_resubmission_keeps_the_description_and_the_choices(client, world, assignment, returned, settings):
    settings.EVIDENCE_MAX_FILES = 2
    pdf, png = files_of(returned)
    client.force_login(world.liaisons[0])
    before = fingerprint(assignment)

    response = post(client, assignment, "改过的说明。", keep=[png.pk], files=[f.pdf_upload("一.pdf"), f.pdf_upload("二.pdf")])

    assert response.status_code == 400
    page = response.content.decode()
    assert escape(zh("At most %(count)d files per check-in.") % {"count": 2}) in page
    assert "改过的说明。</textarea>" in page
    assert checkbox(png, True) in page and checkbox(pdf, False) in page
    assert escape(zh("Please choose the files to upload again: a browser cannot keep them after an error.")) in page
    assert fingerprint(assignment) == before


@pytest.mark.parametrize("keep", [["x"], ["999999999"], ["1" * 40], ["\x00"]])
def test_bad_keep_values_are_a_400_with_a_chinese_message(client, world, assignment, returned, keep):
    client.force_login(world.liaisons[0])
    before = fingerprint(assignment)
    response = post(client, assignment, "第二版。", keep=keep, files=[f.pdf_upload()])
    assert response.status_code == 400
    assert re.search(r'role="alert">\s*<ul class="alert__list">\s*<li>[^<]*[\u4e00-\u9fff]', response.content.decode())
    assert fingerprint(assignment) == before


# --- the API --------------------------------------------------------------------------------


@pytest.fixture
def api(fresh_throttles):
    def client_for(user):
        client = APIClient()
        _token, key = security.issue_api_token(user)
        client.credentials(HTTP_AUTHORIZATION=f"Token {key}")
        return client

    return client_for


def test_the_api_resubmits_keeping_files(api, world, assignment, returned):
    pdf, png = files_of(returned)
    response = api(world.liaisons[0]).post(
        "/api/checkins/",
        {"assignment": assignment.pk, "description": "第二版。", "keep": [pdf.pk, png.pk], "files": [f.pdf_upload("新.pdf")]},
        format="multipart",
    )
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["version"] == 2
    assert [(item["name"], item["carried_from"]) for item in body["files"]] == [
        ("方案.pdf", pdf.pk),
        ("现场.png", png.pk),
        ("新.pdf", None),
    ]
    # Keeping only, without the files part.
    services.return_checkin(world.county_users[0], CheckIn.objects.get(pk=body["id"]), "再补充。")
    kept = body["files"][0]["id"]
    response = api(world.liaisons[0]).post(
        "/api/checkins/", {"assignment": assignment.pk, "description": "第三版。", "keep": [kept]}, format="multipart"
    )
    assert response.status_code == 201, response.content
    assert [item["carried_from"] for item in response.json()["files"]] == [pdf.pk]


def test_the_api_refuses_files_of_another_city_under_keep(api, world, assignment, returned, other_city):
    far = services.submit_checkin(other_city.liaison, other_city.assignment, "宿迁。", [f.pdf_upload()])
    before = fingerprint(assignment)
    response = api(world.liaisons[0]).post(
        "/api/checkins/",
        {"assignment": assignment.pk, "description": "第二版。", "keep": [files_of(far)[0].pk], "files": [f.pdf_upload()]},
        format="multipart",
    )
    assert response.status_code == 400, response.content
    body = response.json()
    assert re.search(r"[\u4e00-\u9fff]", body["detail"]) and body["keep"]
    assert fingerprint(assignment) == before
    response = api(world.liaisons[0]).post(
        "/api/checkins/",
        {"assignment": assignment.pk, "description": "第二版。", "keep": ["abc"]},
        format="multipart",
    )
    assert response.status_code == 400 and response.json()["keep"]
