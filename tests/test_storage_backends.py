"""Evidence, import and export files behave the same on local disk and on S3-compatible storage.

Every test in the first part runs twice: with the default FileSystemStorage under a
temporary MEDIA_ROOT, and with django-storages' S3Storage talking HTTP to a moto S3 server
(tests/s3.py). Where a file landed is checked behind Django's back (the folder on disk, or
the bucket through boto3), so a test cannot pass by reading back what it just wrote.
"""

import datetime
import os
from io import BytesIO
from types import SimpleNamespace

import pytest
from django.core.files.storage import default_storage
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import TestCase
from django.urls import reverse
from django.utils import timezone
from openpyxl import load_workbook

from chanjgai_portal.settings import file_storage
from enterprises.models import Enterprise
from spreadsheets.exports.jobs import remove_old_export_files
from spreadsheets.imports.uploads import discard_stale_uploads, store_upload, upload_for
from spreadsheets.models import ExportJob
from tasks import services
from tasks.models import CheckIn, CheckInState, Evidence

from . import factories as f
from .test_api import api_client
from .test_imports import code, row, xlsx


def pdf_bytes(marker):
    """A small valid PDF whose bytes differ by `marker` (a PDF comment line)."""
    return f.PDF_BYTES.replace(b"\n", b"\n% " + marker.encode() + b"\n", 1)


def local_files(root):
    found = set()
    for folder, _dirs, names in os.walk(root):
        found.update(os.path.relpath(os.path.join(folder, name), root).replace(os.sep, "/") for name in names)
    return found


@pytest.fixture(params=["local", "s3"])
def backend(request, settings):
    """The storage under test: `files()` and `read(name)` look at it directly, not through Django."""
    if request.param == "s3":
        s3 = request.getfixturevalue("s3_storage")
        return SimpleNamespace(name="s3", files=s3.keys, read=s3.read, media_root=settings.MEDIA_ROOT)
    root = settings.MEDIA_ROOT

    def read(name):
        with open(os.path.join(root, name), "rb") as fh:
            return fh.read()

    return SimpleNamespace(name="local", files=lambda: local_files(root), read=read, media_root=root)


def downloaded(response):
    assert response.status_code == 200, response.status_code
    return b"".join(response.streaming_content)


def assert_only_in(backend, names):
    """The files are in the backend under test, and nowhere else (no stray local copy with S3)."""
    assert set(names) <= backend.files()
    if backend.name == "s3":
        assert local_files(backend.media_root) == set()


@pytest.fixture
def ent_assignment(world, assignment_of):
    return assignment_of(world.enterprises[0])


# ---------------------------------------------------------------------------------------
# Upload and download, on both backends


def test_evidence_uploaded_through_the_web_form_downloads_byte_for_byte(client, world, ent_assignment, backend):
    content = pdf_bytes("web form")
    png = f.png_upload("现场照片.png")
    png_content = png.read()
    png.seek(0)
    client.force_login(world.liaisons[0])
    response = client.post(
        reverse("tasks:submit", args=[ent_assignment.pk]),
        {"description": "本年度组织了焊工技能竞赛。", "files": [f.pdf_upload("竞赛方案.pdf", content), png]},
    )
    assert response.status_code == 302, response.status_code

    files = list(Evidence.objects.filter(checkin__assignment=ent_assignment).order_by("original_name"))
    assert [e.original_name for e in files] == ["现场照片.png", "竞赛方案.pdf"]
    assert_only_in(backend, [e.file.name for e in files])
    assert backend.read(files[1].file.name) == content

    client.force_login(world.county_users[0])
    pdf_response = client.get(reverse("tasks:evidence_download", args=[files[1].pk]))
    assert pdf_response["Content-Type"] == "application/pdf"
    assert pdf_response["Content-Disposition"].startswith("attachment;")
    assert downloaded(pdf_response) == content
    assert downloaded(client.get(reverse("tasks:evidence_download", args=[files[0].pk]))) == png_content


def test_evidence_uploaded_through_the_api_downloads_byte_for_byte(world, ent_assignment, backend):
    content = pdf_bytes("api")
    response = api_client(world.liaisons[0]).post(
        "/api/checkins/",
        {"assignment": ent_assignment.pk, "description": "通过接口上报。", "files": [f.pdf_upload("接口.pdf", content)]},
        format="multipart",
    )
    assert response.status_code == 201, response.content
    (file_info,) = response.json()["files"]
    evidence = Evidence.objects.get(pk=file_info["id"])
    assert_only_in(backend, [evidence.file.name])
    assert backend.read(evidence.file.name) == content

    download = api_client(world.county_users[0]).get(file_info["download_url"])
    assert downloaded(download) == content
    # Scoping is unchanged by the backend: another county's office gets a 404.
    assert api_client(world.county_users[1]).get(file_info["download_url"]).status_code == 404


def test_resubmission_keeps_every_earlier_versions_files(world, ent_assignment, backend):
    liaison, county = world.liaisons[0], world.county_users[0]
    v1 = services.submit_checkin(liaison, ent_assignment, "第一版。", [f.pdf_upload("方案.pdf", pdf_bytes("v1"))])
    services.return_checkin(county, v1, "缺少获奖名单，请补充。")
    v2 = services.submit_checkin(liaison, ent_assignment, "第二版。", [f.pdf_upload("方案.pdf", pdf_bytes("v2"))])

    old, new = v1.evidence.get(), v2.evidence.get()
    assert old.file.name != new.file.name
    assert_only_in(backend, [old.file.name, new.file.name])
    assert backend.read(old.file.name) == pdf_bytes("v1")
    assert backend.read(new.file.name) == pdf_bytes("v2")
    # The returned version's file still downloads, with its own bytes.
    with old.file.open("rb") as fh:
        assert fh.read() == pdf_bytes("v1")
    assert CheckIn.objects.get(pk=v1.pk).state == CheckInState.RETURNED


def test_a_large_file_round_trips_intact(client, world, ent_assignment, backend):
    # 9 MB: past s3transfer's 8 MB multipart threshold and the 2 MB in-memory download buffer.
    content = f.PDF_BYTES + os.urandom(9 * 1024 * 1024)
    checkin = services.submit_checkin(world.liaisons[0], ent_assignment, "大文件。", [f.pdf_upload("图纸.pdf", content)])
    evidence = checkin.evidence.get()
    assert evidence.size == len(content)
    assert backend.read(evidence.file.name) == content
    client.force_login(world.liaisons[0])
    response = client.get(reverse("tasks:evidence_download", args=[evidence.pk]))
    assert response["Content-Length"] == str(len(content))
    assert downloaded(response) == content


def test_a_submission_that_fails_after_storing_its_files_leaves_none_behind(
    world, ent_assignment, backend, monkeypatch
):
    written = []

    def broken(event):
        written.append(backend.files())  # the files are stored by now, the rows not committed
        raise RuntimeError("notification service down")

    monkeypatch.setattr(services, "notify_checkin_event", broken)
    with pytest.raises(RuntimeError):
        services.submit_checkin(world.liaisons[0], ent_assignment, "说明。", [f.pdf_upload(), f.png_upload()])
    assert len(written[0]) == 2
    assert not CheckIn.objects.filter(assignment=ent_assignment).exists()
    assert backend.files() == set()


def test_evidence_missing_from_storage_is_not_found(client, world, ent_assignment, backend):
    checkin = services.submit_checkin(world.liaisons[0], ent_assignment, "说明。", [f.pdf_upload()])
    evidence = checkin.evidence.get()
    assert evidence.file.name in backend.files()
    assert default_storage.exists(evidence.file.name)
    default_storage.delete(evidence.file.name)
    assert evidence.file.name not in backend.files()
    assert not default_storage.exists(evidence.file.name)
    client.force_login(world.liaisons[0])
    assert client.get(reverse("tasks:evidence_download", args=[evidence.pk])).status_code == 404


def test_export_job_file_is_stored_and_served_from_the_storage(
    client, ranked_world, backend, settings, django_capture_on_commit_callbacks
):
    settings.SPREADSHEET_EXPORT_JOB_THRESHOLD = 3
    client.force_login(ranked_world.city_user)
    with django_capture_on_commit_callbacks(execute=True):
        response = client.get(reverse("scoring:export_enterprises"))
    assert response.status_code == 302, response.status_code
    job = ExportJob.objects.get(requester=ranked_world.city_user)
    assert job.status == ExportJob.Status.DONE
    assert job.file.name.startswith("exports/") and job.file.name.endswith(".xlsx")
    assert_only_in(backend, [job.file.name])

    body = downloaded(client.get(reverse("scoring:export_job_download", args=[job.pk])))
    assert body == backend.read(job.file.name)
    sheet = load_workbook(BytesIO(body)).active
    assert sorted(r[2].value for r in sheet.iter_rows(min_row=3)) == sorted(e.name for e in ranked_world.enterprises)


def test_a_spreadsheet_import_is_kept_in_the_storage_between_preview_and_confirm(client, world, backend, settings):
    settings.LANGUAGE_CODE = "en"  # the sheet's headers are the English msgids
    client.force_login(world.city_user)
    with TestCase.captureOnCommitCallbacks(execute=True):  # the preview job runs after the upload commits
        uploaded = client.post(
            reverse("spreadsheets:upload", args=["enterprises"]),
            {"file": SimpleUploadedFile("企业名单.xlsx", xlsx([row(1), row(2)]))},
        )
    assert uploaded.status_code == 302, uploaded.status_code
    (name,) = backend.files()
    assert name.startswith(f"imports/{world.city_user.pk}/") and name.endswith(".xlsx")
    assert_only_in(backend, [name])

    preview = client.get(uploaded["Location"])
    assert preview.status_code == 200 and preview.context["preview"].created == 2
    assert client.post(uploaded["Location"] + "confirm/").status_code == 302
    assert Enterprise.objects.filter(credit_code__in=[code(1), code(2)]).count() == 2
    assert backend.files() == set()  # discarded once imported


def test_an_uploaded_sheet_never_imported_is_deleted_a_day_later(world, backend, settings):
    settings.IMPORT_UPLOADS_KEEP_HOURS = 24
    left_open = store_upload(world.city_user, SimpleUploadedFile("名单.xlsx", xlsx([row(1)])))
    assert backend.files() == {left_open.name}

    assert discard_stale_uploads(now=timezone.now() + datetime.timedelta(hours=23)) == 0
    assert backend.files() == {left_open.name}
    assert discard_stale_uploads(now=timezone.now() + datetime.timedelta(hours=25)) == 1
    assert backend.files() == set()
    assert upload_for(world.city_user, left_open.token) is None  # its preview now says it is gone
    assert discard_stale_uploads(now=timezone.now() + datetime.timedelta(hours=25)) == 0


def test_an_old_exports_file_is_deleted_and_its_job_says_so(
    client, ranked_world, backend, settings, django_capture_on_commit_callbacks
):
    settings.SPREADSHEET_EXPORT_JOB_THRESHOLD = 3
    settings.EXPORT_FILES_KEEP_DAYS = 7
    client.force_login(ranked_world.city_user)
    with django_capture_on_commit_callbacks(execute=True):
        client.get(reverse("scoring:export_enterprises"))
    job = ExportJob.objects.get(requester=ranked_world.city_user)
    name = job.file.name
    assert backend.files() == {name}

    assert remove_old_export_files(now=job.finished_at + datetime.timedelta(days=6)) == 0
    assert backend.files() == {name}
    assert remove_old_export_files(now=job.finished_at + datetime.timedelta(days=8)) == 1
    assert backend.files() == set()
    job.refresh_from_db()
    assert (job.status, job.file.name, job.row_count) == (ExportJob.Status.DONE, "", len(ranked_world.enterprises))

    settings.LANGUAGE_CODE = "zh-hans"
    page = client.get(reverse("scoring:export_job", args=[job.pk]), HTTP_ACCEPT_LANGUAGE="zh-hans")
    assert "此表格已在 7 天后删除，请重新导出。" in page.content.decode()
    download = client.get(reverse("scoring:export_job_download", args=[job.pk]))
    assert download.status_code == 404
    assert client.get(reverse("scoring:export_job_status", args=[job.pk])).json()["download_url"] is None
    assert remove_old_export_files(now=job.finished_at + datetime.timedelta(days=8)) == 0


def test_the_housekeeping_jobs_are_on_the_beat_schedule():
    from chanjgai_portal.celery import app

    scheduled = {entry["task"] for entry in app.conf.beat_schedule.values()}
    assert {"enterprises.discard_stale_import_uploads", "scoring.remove_old_export_files"} <= scheduled
    app.loader.import_default_modules()
    assert scheduled <= set(app.tasks)


# ---------------------------------------------------------------------------------------
# The configuration read from the environment


def test_local_disk_is_the_default_storage():
    assert file_storage({}) == {"BACKEND": "chanjgai_portal.storage.DurableFileSystemStorage"}
    assert file_storage({"EVIDENCE_STORAGE": " Local "})["BACKEND"].endswith("FileSystemStorage")


def test_s3_storage_is_private_path_style_and_never_overwrites():
    config = file_storage(
        {
            "EVIDENCE_STORAGE": "s3",
            "AWS_STORAGE_BUCKET_NAME": "chanjgai-evidence",
            "AWS_S3_ENDPOINT_URL": "http://minio:9000",
            "AWS_ACCESS_KEY_ID": "key",
            "AWS_SECRET_ACCESS_KEY": "secret",
        }
    )
    options = config["OPTIONS"]
    assert config["BACKEND"] == "storages.backends.s3.S3Storage"
    assert (options["bucket_name"], options["endpoint_url"], options["region_name"]) == (
        "chanjgai-evidence",
        "http://minio:9000",
        "us-east-1",
    )
    assert options["default_acl"] is None and options["querystring_auth"] is False
    assert options["file_overwrite"] is False
    assert options["client_config"].s3 == {"addressing_style": "path"}
    assert options["client_config"].signature_version == "s3v4"


@pytest.mark.parametrize(
    "environ, message",
    [
        ({"EVIDENCE_STORAGE": "ftp"}, "EVIDENCE_STORAGE must be 'local' or 's3'"),
        ({"EVIDENCE_STORAGE": "s3"}, "AWS_STORAGE_BUCKET_NAME must be set"),
        ({"EVIDENCE_STORAGE": "s3", "AWS_STORAGE_BUCKET_NAME": "  "}, "AWS_STORAGE_BUCKET_NAME must be set"),
    ],
)
def test_a_misconfigured_storage_stops_the_start(environ, message):
    with pytest.raises(RuntimeError, match=message):
        file_storage(environ)


def test_s3_objects_are_written_private(world, ent_assignment, s3_storage):
    """No public-read ACL: only the owner's grant on an uploaded object."""
    checkin = services.submit_checkin(world.liaisons[0], ent_assignment, "说明。", [f.pdf_upload()])
    acl = s3_storage.client.get_object_acl(Bucket=s3_storage.bucket, Key=checkin.evidence.get().file.name)
    grantees = {grant["Grantee"].get("URI") for grant in acl["Grants"]}
    assert "http://acs.amazonaws.com/groups/global/AllUsers" not in grantees
    assert [grant["Permission"] for grant in acl["Grants"]] == ["FULL_CONTROL"]


def test_on_s3_downloads_stream_the_object_even_with_x_accel_configured(
    client, world, ent_assignment, s3_storage, settings
):
    """X-Accel-Redirect names a file on nginx's disk: with S3 there is none, so the view streams."""
    settings.EVIDENCE_X_ACCEL_PREFIX = "/protected-media/"
    content = pdf_bytes("x-accel")
    checkin = services.submit_checkin(world.liaisons[0], ent_assignment, "说明。", [f.pdf_upload("方案.pdf", content)])
    client.force_login(world.liaisons[0])
    response = client.get(reverse("tasks:evidence_download", args=[checkin.evidence.get().pk]))
    assert "X-Accel-Redirect" not in response
    assert downloaded(response) == content
