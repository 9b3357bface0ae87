"""Exports of many rows run as an ExportJob in Celery (eager in tests): the request starts the
job, the page shows its progress, the file is the requester's alone."""

from io import BytesIO

import pytest
from django.urls import reverse
from openpyxl import load_workbook

from spreadsheets.models import ExportJob

from . import factories as f


@pytest.fixture(autouse=True)
def _english(settings):
    settings.LANGUAGE_CODE = "en"


@pytest.fixture
def low_threshold(settings):
    settings.SPREADSHEET_EXPORT_JOB_THRESHOLD = 3


def start(client, django_capture_on_commit_callbacks, url, params=None):
    with django_capture_on_commit_callbacks(execute=True):
        response = client.get(url, params or {})
    assert response.status_code == 302, response.status_code
    return ExportJob.objects.get(pk=int(response["Location"].rstrip("/").split("/")[-1])), response["Location"]


def test_large_export_runs_as_a_job_and_is_downloadable_by_its_requester(
    client, ranked_world, low_threshold, django_capture_on_commit_callbacks
):
    w = ranked_world
    client.force_login(w.city_user)
    job, location = start(client, django_capture_on_commit_callbacks, reverse("scoring:export_enterprises"))
    assert location == reverse("scoring:export_job", args=[job.pk])
    job.refresh_from_db()
    assert (job.status, job.progress, job.row_count, job.kind) == ("done", 100, 4, "enterprises")
    assert job.requester == w.city_user and job.finished_at is not None

    page = client.get(location)
    assert page.status_code == 200
    html = page.content.decode()
    assert '<progress class="export-job__bar" max="100" value="100"' in html
    assert "Download the spreadsheet" in html
    status = client.get(reverse("scoring:export_job_status", args=[job.pk])).json()
    assert status["progress"] == 100 and status["finished"] is True
    assert status["download_url"] == reverse("scoring:export_job_download", args=[job.pk])

    response = client.get(status["download_url"])
    assert response.status_code == 200
    assert response["Content-Disposition"].startswith("attachment;")
    sheet = load_workbook(BytesIO(b"".join(response.streaming_content))).active
    assert [r[0].value for r in sheet.iter_rows(min_row=3)] == [1, 2, 2, 4]
    assert sorted(r[2].value for r in sheet.iter_rows(min_row=3)) == sorted(e.name for e in w.enterprises)


def test_pending_job_page_polls_with_a_static_script_and_a_refresh_fallback(client, ranked_world):
    job = ExportJob.objects.create(requester=ranked_world.city_user, kind="matrix", params={})
    client.force_login(ranked_world.city_user)
    html = client.get(reverse("scoring:export_job", args=[job.pk])).content.decode()
    assert '<progress class="export-job__bar" max="100" value="0"' in html
    assert 'src="/static/js/export_job.js"' in html and "<script>" not in html
    assert '<noscript><meta http-equiv="refresh" content="3"></noscript>' in html
    assert f'data-status-url="{reverse("scoring:export_job_status", args=[job.pk])}"' in html
    assert client.get(reverse("scoring:export_job_download", args=[job.pk])).status_code == 404


@pytest.mark.parametrize("who", ["other_city_office", "county_office", "liaison"])
def test_nobody_else_sees_the_job_or_its_file(client, ranked_world, low_threshold, django_capture_on_commit_callbacks, who):
    w = ranked_world
    client.force_login(w.city_user)
    job, _location = start(client, django_capture_on_commit_callbacks, reverse("scoring:export_matrix"))
    other = {
        "other_city_office": lambda: f.city_office(w.city, username="city2"),
        "county_office": lambda: w.county_users[0],
        "liaison": lambda: w.liaisons[0],
    }[who]()
    client.force_login(other)
    for name in ("scoring:export_job", "scoring:export_job_status", "scoring:export_job_download"):
        assert client.get(reverse(name, args=[job.pk])).status_code == 404


def test_county_office_job_holds_only_its_county(client, ranked_world, low_threshold, django_capture_on_commit_callbacks, settings):
    settings.SPREADSHEET_EXPORT_JOB_THRESHOLD = 2
    w = ranked_world
    client.force_login(w.county_users[0])
    job, _location = start(client, django_capture_on_commit_callbacks, reverse("scoring:export_enterprises"))
    job.refresh_from_db()
    assert job.status == "done" and job.row_count == 2


def test_small_export_is_streamed_directly(client, ranked_world):
    client.force_login(ranked_world.city_user)
    response = client.get(reverse("scoring:export_enterprises"))
    assert response.status_code == 200
    assert not ExportJob.objects.exists()


def test_running_a_finished_job_again_changes_nothing(ranked_world, low_threshold):
    from spreadsheets.exports import jobs

    job = ExportJob.objects.create(requester=ranked_world.city_user, kind="counties", params={})
    jobs.run_job(job.pk)
    job.refresh_from_db()
    name = job.file.name
    assert job.status == "done"
    jobs.run_job(job.pk)
    job.refresh_from_db()
    assert job.file.name == name
