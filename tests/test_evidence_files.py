"""No orphan evidence files: a crash at any instant, a full disk, a killed upload (issue 13, point 13).

"Known to the portal" means: a committed row (evidence, attachment, export) names the file, or
a committed staging row (tasks.StagedEvidenceFile) does, so that the housekeeping settles it.
A kill is simulated by looking at what is committed at that instant, through a second database
connection, as a crash would leave it; then the housekeeping must end with no file but those of
committed rows.
"""

import os
import resource
import signal
import subprocess
import sys
import textwrap
from datetime import timedelta

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import OperationalError, connections
from django.urls import reverse
from django.utils import timezone

from tasks import evidence_files, services
from tasks.evidence_audit import audit_files, sweep_staged_files
from tasks.models import CheckIn, Evidence, StagedEvidenceFile

from . import factories as f
from .helpers_domain import media_files
from .test_api import api_client


class SimulatedKill(BaseException):
    """Raised where the test kills the worker; BaseException, like the real thing, is no Exception."""


def committed(table, column):
    """The values of `column` committed in `table`, read on a second connection (what survives a kill)."""
    other = connections.create_connection("default")
    try:
        with other.cursor() as cursor:
            cursor.execute(f"SELECT {column} FROM {table}")  # fixed names only
            return {row[0] for row in cursor.fetchall()}
    finally:
        other.close()


def stored_files():
    """Files under MEDIA_ROOT except the temporary upload folder."""
    return {name for name in media_files() if not name.startswith(".upload-tmp")}


def unknown_after_a_kill():
    """Files a kill at this instant would leave that no committed row nor staging row names."""
    known = committed(Evidence._meta.db_table, "file") | committed(StagedEvidenceFile._meta.db_table, "name")
    return stored_files() - known


class KillAt:
    """Checks what a kill at the injected instant leaves, then raises SimulatedKill (or, in
    the COMMIT, the error of a lost connection, which lets the transaction be rolled back)."""

    def __init__(self, monkeypatch):
        self.seen = []
        self.error = SimulatedKill
        self.monkeypatch = monkeypatch

    def __call__(self, *args, **kwargs):
        self.monkeypatch.undo()  # a worker dies once: what runs after it is the test's cleanup
        self.seen.append((stored_files(), unknown_after_a_kill()))
        raise self.error()


class KilledMidWrite(SimpleUploadedFile):
    """An upload whose bytes stop half way through being stored (the worker dies mid-write);
    the first reading of its chunks (the content checks) goes through whole."""

    kill = None
    readings = 0

    def chunks(self, chunk_size=None):
        self.readings += 1
        if self.readings == 1:
            yield from super().chunks(chunk_size)
            return
        data = self.read()
        self.seek(0)
        yield data[: len(data) // 2]
        self.kill()


def big_pdf(name, size):
    return SimpleUploadedFile(name, b"%PDF-1.4\n" + b"0" * (size - 9), content_type="application/pdf")


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("step", ["mid-write", "after-write", "rows-written", "commit-lost", "after-commit"])
def test_a_kill_at_any_step_of_a_submission_leaves_no_file_the_portal_does_not_know(
    step, world, assignment_of, monkeypatch
):
    assignment = assignment_of(world.enterprises[0])
    kill = KillAt(monkeypatch)
    files = [f.pdf_upload("一.pdf"), big_pdf("二.pdf", 200_000)]
    if step == "mid-write":
        files[1] = KilledMidWrite("二.pdf", files[1].read(), content_type="application/pdf")
        files[1].kill = kill
    elif step == "after-write":  # every file written, nothing of the version yet
        monkeypatch.setattr(services, "_create_version", kill)
    elif step == "rows-written":  # inside the transaction, after the evidence rows
        monkeypatch.setattr(services, "notify_checkin_event", kill)
    elif step == "commit-lost":
        kill.error = lambda: OperationalError("server closed the connection unexpectedly")
        monkeypatch.setattr(connections["default"], "commit", kill)
    else:  # committed; the worker dies before the staging rows are released
        monkeypatch.setattr(evidence_files, "_release", kill)

    try:
        services.submit_checkin(world.liaisons[0], assignment, "说明", files)
    except (SimulatedKill, OperationalError):
        pass
    monkeypatch.undo()
    connections["default"].close()  # the killed worker's connection: its transaction is gone

    [(on_disk, unknown)] = kill.seen
    assert on_disk, "the kill came after a file was (partly) written"
    assert unknown == set(), f"a kill at {step} leaves files the portal does not know: {unknown}"

    # The housekeeping, once the staging rows are old enough, leaves exactly the committed files.
    sweep_staged_files(now=timezone.now() + timedelta(hours=25))
    assert not StagedEvidenceFile.objects.exists()
    names = set(Evidence.objects.values_list("file", flat=True))
    assert stored_files() == names
    assert len(names) == (2 if step == "after-commit" else 0)
    assert audit_files().ok


@pytest.mark.django_db(transaction=True)
def test_a_submission_that_commits_keeps_its_files_and_no_staging_rows(world, assignment_of):
    checkin = services.submit_checkin(world.liaisons[0], assignment_of(world.enterprises[0]), "说明", [f.pdf_upload()])
    assert stored_files() == set(Evidence.objects.filter(checkin=checkin).values_list("file", flat=True))
    assert not StagedEvidenceFile.objects.exists()


@pytest.mark.django_db(transaction=True)
def test_a_refused_submission_keeps_neither_files_nor_staging_rows(world, assignment_of):
    assignment = assignment_of(world.enterprises[0])
    services.submit_checkin(world.liaisons[0], assignment, "说明", [f.pdf_upload()])
    files = stored_files()
    with pytest.raises(services.WorkflowError):  # already pending review: a second version is refused
        services.submit_checkin(world.liaisons[0], assignment, "说明", [f.pdf_upload("又一份.pdf")])
    assert stored_files() == files
    assert not StagedEvidenceFile.objects.exists()


# --- the housekeeping --------------------------------------------------------------------


def _stage(name, content=b"%PDF-1.4\n", age_hours=0):
    from django.core.files.base import ContentFile
    from django.core.files.storage import default_storage

    default_storage.save(name, ContentFile(content))
    return StagedEvidenceFile.objects.create(name=name, created_at=timezone.now() - timedelta(hours=age_hours))


def test_the_sweep_settles_only_staged_files_older_than_the_limit(world, assignment_of, settings):
    settings.EVIDENCE_STAGING_KEEP_HOURS = 24
    _stage("evidence/2026/12/abandoned.pdf", age_hours=30)  # its submission never committed
    _stage("evidence/2026/12/in-progress.pdf", age_hours=1)  # a submission still running
    owned = services.submit_checkin(world.liaisons[0], assignment_of(world.enterprises[0]), "说明", [f.pdf_upload()])
    owned_name = owned.evidence.get().file.name
    StagedEvidenceFile.objects.filter(name=owned_name).update(created_at=timezone.now() - timedelta(hours=30))

    result = sweep_staged_files()

    assert result.staged_files_deleted == ["evidence/2026/12/abandoned.pdf"]
    assert result.staged_settled == 2
    assert stored_files() == {"evidence/2026/12/in-progress.pdf", owned_name}
    assert set(StagedEvidenceFile.objects.values_list("name", flat=True)) == {"evidence/2026/12/in-progress.pdf"}


def test_the_sweep_removes_old_temporary_upload_files(db, settings):
    folder = settings.FILE_UPLOAD_TEMP_DIR
    os.makedirs(folder, exist_ok=True)
    old, young = os.path.join(folder, "tmpold.upload.pdf"), os.path.join(folder, "tmpyoung.upload.pdf")
    for path in (old, young):
        with open(path, "wb") as handle:
            handle.write(b"partial upload")
    stale = (timezone.now() - timedelta(hours=30)).timestamp()
    os.utime(old, (stale, stale))

    assert sweep_staged_files().temporary_files_deleted == 1
    assert os.listdir(folder) == ["tmpyoung.upload.pdf"]


def test_the_sweep_settles_staged_files_on_s3_too(db, s3_storage):
    _stage("evidence/2026/12/abandoned.pdf", age_hours=30)
    assert s3_storage.keys() == {"evidence/2026/12/abandoned.pdf"}
    assert sweep_staged_files().staged_files_deleted == ["evidence/2026/12/abandoned.pdf"]
    assert s3_storage.keys() == set()


def test_the_audit_reports_files_no_row_names_and_rows_whose_file_is_gone(world, assignment_of, settings, capsys):
    from django.core.files.base import ContentFile
    from django.core.files.storage import default_storage

    checkin = services.submit_checkin(world.liaisons[0], assignment_of(world.enterprises[0]), "说明", [f.pdf_upload()])
    services.submit_checkin(world.liaisons[1], assignment_of(world.enterprises[1]), "说明", [f.pdf_upload()])
    assert audit_files().ok
    call_command("check_evidence_files")  # exits 0 when everything agrees

    default_storage.save("evidence/2026/12/stray.pdf", ContentFile(b"%PDF-1.4\n"))  # e.g. from an old crash
    default_storage.save("imports/7/sheet.xlsx", ContentFile(b"PK"))  # waiting for its import: has no row
    _stage("evidence/2026/12/staged.pdf")  # a submission in progress
    lost = checkin.evidence.get()
    default_storage.delete(lost.file.name)

    result = audit_files()
    assert result.unknown_files == ["evidence/2026/12/stray.pdf"]
    assert result.rows_without_file == [("tasks.Evidence", lost.pk, lost.file.name)]
    with pytest.raises(CommandError):
        call_command("check_evidence_files", "--no-sweep")
    out = capsys.readouterr().out
    assert "evidence/2026/12/stray.pdf" in out and lost.file.name in out
    assert "evidence/2026/12/stray.pdf" in stored_files()  # reported, never deleted by the audit


def test_the_housekeeping_jobs_run_on_the_beat_schedule():
    from chanjgai_portal.celery import app

    scheduled = {entry["task"] for entry in app.conf.beat_schedule.values()}
    assert {"tasks.sweep_staged_evidence_files", "tasks.audit_evidence_files"} <= scheduled
    app.loader.import_default_modules()
    assert scheduled <= set(app.tasks)


# --- a full disk ---------------------------------------------------------------------------


@pytest.fixture
def disk_limit():
    """Let no file this process writes grow past `limit` bytes (RLIMIT_FSIZE: the kernel then
    refuses the write with EFBIG, as a full disk refuses it with ENOSPC); restored afterwards."""
    soft, hard = resource.getrlimit(resource.RLIMIT_FSIZE)

    def limit(size):
        resource.setrlimit(resource.RLIMIT_FSIZE, (size, hard))

    try:
        yield limit
    finally:
        resource.setrlimit(resource.RLIMIT_FSIZE, (soft, hard))


def _post(kind, world, assignment, files):
    if kind == "web":
        from django.test import Client

        client = Client()
        client.force_login(world.liaisons[0])
        return client.post(reverse("tasks:submit", args=[assignment.pk]), {"description": "说明", "files": files})
    return api_client(world.liaisons[0]).post(
        "/api/checkins/", {"assignment": assignment.pk, "description": "说明", "files": files}, format="multipart"
    )


def _shown(response):
    if response["Content-Type"].startswith("application/json"):
        return response.json()["detail"]
    return response.content.decode()


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("kind", ["web", "api"])
@pytest.mark.parametrize("where", ["storing", "spooling"])
def test_a_full_disk_answers_507_in_chinese_and_stores_nothing(kind, where, world, assignment_of, settings, disk_limit):
    settings.LANGUAGE_CODE = "zh-hans"
    assignment = assignment_of(world.enterprises[0])
    if where == "spooling":  # the disk fills while the upload is spooled to FILE_UPLOAD_TEMP_DIR
        settings.FILE_UPLOAD_MAX_MEMORY_SIZE = 64 * 1024
    # The first file fits; the second does not: the first must go too.
    files = [f.pdf_upload("一.pdf"), big_pdf("二.pdf", 300_000)]
    disk_limit(150_000)
    response = _post(kind, world, assignment, files)
    disk_limit(resource.RLIM_INFINITY)

    assert response.status_code == 507
    assert "服务器存储空间已满" in _shown(response)
    assert not CheckIn.objects.filter(assignment=assignment).exists()
    assert stored_files() == set()
    assert not os.path.exists(settings.FILE_UPLOAD_TEMP_DIR) or os.listdir(settings.FILE_UPLOAD_TEMP_DIR) == []
    assert not StagedEvidenceFile.objects.exists()


# --- Django's temporary upload files ---------------------------------------------------------

KILLED_UPLOAD = textwrap.dedent(
    """
    import io, os, signal, sys
    import django
    django.setup()
    from django.core.handlers.wsgi import WSGIRequest

    class Body(io.RawIOBase):
        # A multipart body whose sender's worker is killed 1 MB into a 4 MB file.
        def __init__(self):
            self.parts = [
                b"--b\\r\\nContent-Disposition: form-data; name=\\"files\\"; filename=\\"a.pdf\\"\\r\\n"
                b"Content-Type: application/pdf\\r\\n\\r\\n%PDF-1.4\\n",
            ] + [b"0" * 65536] * 16
            self.sent = 0
        def readable(self):
            return True
        def readinto(self, buffer):
            if not self.parts:
                os.kill(os.getpid(), signal.SIGKILL)
            part = self.parts.pop(0)
            buffer[: len(part)] = part
            return len(part)

    environ = {
        "REQUEST_METHOD": "POST", "PATH_INFO": "/", "SERVER_NAME": "127.0.0.1", "SERVER_PORT": "80",
        "wsgi.input": io.BufferedReader(Body(), 65536), "wsgi.url_scheme": "http",
        "CONTENT_TYPE": "multipart/form-data; boundary=b", "CONTENT_LENGTH": str(4 * 1024 * 1024 + 200),
    }
    WSGIRequest(environ).FILES
    sys.exit("the upload finished: the kill did not happen")
    """
)


def test_a_worker_killed_mid_upload_leaves_no_temporary_file(tmp_path):
    media, tmp = tmp_path / "media", tmp_path / "tmp"
    tmp.mkdir()
    env = dict(
        os.environ,
        DJANGO_SETTINGS_MODULE="chanjgai_portal.settings",
        DEBUG="1",
        SECRET_KEY="x",
        MEDIA_ROOT=str(media),
        TMPDIR=str(tmp),  # where Django's own handler would put its temporary files
    )
    env.pop("FILE_UPLOAD_TEMP_DIR", None)
    done = subprocess.run([sys.executable, "-c", KILLED_UPLOAD], env=env, cwd=os.getcwd(), capture_output=True)
    assert done.returncode == -signal.SIGKILL, done.stderr.decode()[-2000:]
    left = [os.path.join(folder, name) for root in (media, tmp) for folder, _d, names in os.walk(root) for name in names]
    assert left == []
