"""scripts/backup.sh and scripts/restore.sh on real PostgreSQL databases.

A scratch database is migrated and seeded (20 enterprises), a liaison submits a check-in with
an evidence file through the workflow service, the scripts back it up and restore it into
another new database and media folder, and the portal started on the restored copy lets the
city office log in, shows the rankings and serves the evidence file byte for byte. The scratch
databases are named after DATABASE_URL's (`<name>_bk<pid>_...`) and dropped at the end.
"""

import http.cookiejar
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass
from pathlib import Path

import psycopg2
import pytest

pytestmark = pytest.mark.deployment

ROOT = Path(__file__).resolve().parent.parent
BACKUP = ROOT / "scripts" / "backup.sh"
RESTORE = ROOT / "scripts" / "restore.sh"
DATABASE_URL = os.environ.get("DATABASE_URL", "")
# Set by the environment, not by the portal: the scratch processes must not inherit them.
ENV_LEFT_OUT = (
    "REDIS_URL", "EVIDENCE_STORAGE", "EVIDENCE_X_ACCEL_PREFIX", "BACKUP_DIR", "BACKUP_KEEP",
    "AWS_STORAGE_BUCKET_NAME", "AWS_S3_ENDPOINT_URL", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY",
)
DEMO_PASSWORD = "demo12345"

if urllib.parse.urlsplit(DATABASE_URL).scheme not in ("postgres", "postgresql"):
    pytest.skip("backup and restore need DATABASE_URL to be PostgreSQL", allow_module_level=True)

# Submits one check-in through the workflow service as the enterprise's liaison, with the
# file named by EVIDENCE_PATH; its county office returns it and the liaison resubmits keeping
# the file, so two rows name one stored file. Prints the evidence row's id as the last line.
SUBMIT_SCRIPT = """
import json, os
from django.core.files.uploadedfile import SimpleUploadedFile
from enterprises.models import Profile
from tasks.models import Assignment, AssignmentState
from tasks.services import return_checkin, submit_checkin

assignment = (
    Assignment.objects.filter(enterprise__isnull=False, state=AssignmentState.NOT_SUBMITTED)
    .order_by("pk").first()
)
profile = Profile.objects.get(role=Profile.Role.ENTERPRISE_LIAISON, enterprise=assignment.enterprise_id)
content = open(os.environ["EVIDENCE_PATH"], "rb").read()
upload = SimpleUploadedFile("backup-round-trip.pdf", content, content_type="application/pdf")
checkin = submit_checkin(profile.user, assignment, "Evidence kept through a backup and a restore.", [upload])
evidence = checkin.evidence.get()
county_office = Profile.objects.filter(role=Profile.Role.COUNTY_OFFICE, region=assignment.county_id).first().user
return_checkin(county_office, checkin, "Returned to be resubmitted with the same file.")
submit_checkin(profile.user, assignment, "The same file, kept.", [], keep=[evidence.pk])
print(json.dumps({"evidence": evidence.pk}))
"""


def scratch_url(name):
    parts = urllib.parse.urlsplit(DATABASE_URL)
    return urllib.parse.urlunsplit(parts._replace(path="/" + name))


def base_name():
    return urllib.parse.urlsplit(DATABASE_URL).path.lstrip("/") or "chanjgai"


def admin_query(sql, database="postgres"):
    """Run one statement outside a transaction (CREATE/DROP DATABASE) and return its rows."""
    connection = psycopg2.connect(scratch_url(database))
    connection.autocommit = True
    try:
        with connection.cursor() as cursor:
            cursor.execute(sql)
            return cursor.fetchall() if cursor.description else None
    finally:
        connection.close()


def database_exists(name):
    return bool(admin_query(f"SELECT 1 FROM pg_database WHERE datname = '{name}'"))


def count(name, table):
    return admin_query(f"SELECT count(*) FROM {table}", database=name)[0][0]


def portal_env(database, media_root):
    env = {key: value for key, value in os.environ.items() if key not in ENV_LEFT_OUT}
    env.update(
        DATABASE_URL=scratch_url(database),
        MEDIA_ROOT=str(media_root),
        DEBUG="1",
        SECRET_KEY="x",
        PYTHON=sys.executable,
        PYTHONUNBUFFERED="1",
    )
    return env


def run(args, env, check=True, timeout=300):
    result = subprocess.run(args, cwd=ROOT, env=env, capture_output=True, text=True, timeout=timeout)
    if check and result.returncode != 0:
        pytest.fail(f"{args[:3]} exited {result.returncode}:\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}")
    return result


def manifest(folder):
    return dict(line.split("=", 1) for line in (folder / "manifest").read_text().splitlines())


@dataclass
class Backup:
    source: str
    folder: Path
    evidence_id: int
    evidence_bytes: bytes
    tmp: Path
    prefix: str


@pytest.fixture(scope="module")
def backup(tmp_path_factory):
    """A seeded scratch database with one fresh evidence file, and its backup."""
    missing = [tool for tool in ("pg_dump", "pg_restore", "psql") if shutil.which(tool) is None]
    if missing:
        message = f"{', '.join(missing)} not installed (apt-get install postgresql-client)"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)

    tmp = tmp_path_factory.mktemp("backup")
    prefix = f"{base_name()}_bk{os.getpid()}"
    source = f"{prefix}_src"
    for name in (source, f"{prefix}_dst", f"{prefix}_bad"):
        admin_query(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    admin_query(f'CREATE DATABASE "{source}"')
    try:
        env = portal_env(source, tmp / "media-source")
        run([sys.executable, "manage.py", "migrate", "--noinput", "-v0"], env)
        run([sys.executable, "manage.py", "seed_demo", "--enterprises", "20"], env)

        evidence_bytes = b"%PDF-1.4\n% backup round trip\n" + os.urandom(4096) + b"\n%%EOF\n"
        evidence_path = tmp / "evidence.pdf"
        evidence_path.write_bytes(evidence_bytes)
        submitted = run(
            [sys.executable, "manage.py", "shell", "-c", SUBMIT_SCRIPT], {**env, "EVIDENCE_PATH": str(evidence_path)}
        )
        evidence_id = json.loads(submitted.stdout.strip().splitlines()[-1])["evidence"]

        run(["bash", str(BACKUP), str(tmp / "backups")], env)
        (folder,) = (tmp / "backups").glob("chanjgai-*")
        yield Backup(source, folder, evidence_id, evidence_bytes, tmp, prefix)
    finally:
        for name in (source, f"{prefix}_dst", f"{prefix}_bad"):
            admin_query(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def free_port():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class Browser:
    """Just enough of a browser: cookies, and the CSRF token of the login form."""

    def __init__(self, base):
        self.base = base
        self.cookies = http.cookiejar.CookieJar()
        self.opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(self.cookies))

    def get(self, path):
        try:
            with self.opener.open(self.base + path, timeout=30) as response:
                return response.status, response.geturl(), response.headers, response.read()
        except urllib.error.HTTPError as error:
            return error.code, error.geturl(), error.headers, error.read()

    def login(self, username, password):
        _status, _url, _headers, page = self.get("/accounts/login/")
        token = re.search(rb'name="csrfmiddlewaretoken" value="([^"]+)"', page).group(1).decode()
        form = urllib.parse.urlencode(
            {"username": username, "password": password, "csrfmiddlewaretoken": token}
        ).encode()
        request = urllib.request.Request(self.base + "/accounts/login/", data=form, method="POST")
        request.add_header("Referer", self.base + "/accounts/login/")
        with self.opener.open(request, timeout=30) as response:
            return response.status, urllib.parse.urlsplit(response.geturl()).path


@pytest.fixture(scope="module")
def restored_portal(backup):
    """The backup restored into a new database and media folder, served by runserver."""
    target = f"{backup.prefix}_dst"
    media = backup.tmp / "media-restored"
    env = portal_env(target, media)
    result = run(["bash", str(RESTORE), str(backup.folder)], env)
    port = free_port()
    server = subprocess.Popen(
        [sys.executable, "manage.py", "runserver", "--noreload", f"127.0.0.1:{port}"],
        cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
    )
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), 1).close()
                break
            except OSError:
                if server.poll() is not None or time.monotonic() > deadline:
                    pytest.fail(f"runserver did not start: {server.stderr.read().decode()[-2000:]}")
                time.sleep(0.2)
        yield target, result, f"http://127.0.0.1:{port}"
    finally:
        server.terminate()
        server.wait(timeout=30)


def test_backup_folder_holds_dump_files_and_a_manifest_matching_the_source(backup):
    written = manifest(backup.folder)
    assert (backup.folder / "database.dump").stat().st_size > 0
    assert int(written["checkins"]) == count(backup.source, "tasks_checkin") > 0
    assert int(written["evidence_rows"]) == count(backup.source, "tasks_evidence")
    # seed_demo's evidence plus ours (one stored file named by two rows), the preview images made
    # of them (tasks.previews: derived, but in MEDIA_ROOT and archived with it), nothing missing.
    evidence_files = admin_query("SELECT count(DISTINCT file) FROM tasks_evidence", database=backup.source)[0][0]
    preview_files = admin_query(
        "SELECT count(DISTINCT file) FROM tasks_evidencepreview", database=backup.source
    )[0][0]
    assert preview_files > 0
    assert int(written["media_files"]) == evidence_files + preview_files
    assert evidence_files == int(written["evidence_rows"]) - 1
    assert written["evidence_files_missing"] == "0"
    sha = subprocess.run(["sha256sum", str(backup.folder / "media.tar.gz")], capture_output=True, text=True)
    assert written["media.tar.gz.sha256"] == sha.stdout.split()[0]


def test_restored_copy_serves_login_rankings_and_the_same_evidence_bytes(backup, restored_portal):
    target, result, base = restored_portal
    browser = Browser(base)
    assert "restore: ok   every migration of this code is applied" in result.stdout
    assert count(target, "tasks_checkin") == int(manifest(backup.folder)["checkins"])

    status, landed = browser.login("city", DEMO_PASSWORD)
    assert status == 200 and landed != "/accounts/login/"
    assert any(cookie.name == "sessionid" for cookie in browser.cookies)

    status, _url, _headers, page = browser.get("/rankings/")
    assert status == 200
    assert "鼓楼区" in page.decode()

    status, _url, headers, body = browser.get(f"/tasks/evidence/{backup.evidence_id}/")
    assert status == 200
    assert "attachment" in headers["Content-Disposition"]
    assert body == backup.evidence_bytes


def test_a_wrong_password_does_not_log_in_to_the_restored_copy(restored_portal):
    _target, _result, base = restored_portal
    browser = Browser(base)
    _status, landed = browser.login("city", DEMO_PASSWORD + "-wrong")
    assert landed == "/accounts/login/"
    status, url, _headers, _body = browser.get("/rankings/")
    assert urllib.parse.urlsplit(url).path == "/accounts/login/"


def test_restore_refuses_a_database_that_is_not_empty_and_changes_nothing(backup):
    checkins = count(backup.source, "tasks_checkin")
    media = backup.tmp / "media-refused-db"
    result = run(["bash", str(RESTORE), str(backup.folder)], portal_env(backup.source, media), check=False)
    assert result.returncode != 0
    assert "is not empty" in result.stderr
    assert count(backup.source, "tasks_checkin") == checkins
    assert not media.exists()


def test_restore_refuses_a_media_folder_with_files_and_creates_no_database(backup):
    media = backup.tmp / "media-in-use"
    media.mkdir()
    (media / "keep.txt").write_text("someone's file")
    result = run(["bash", str(RESTORE), str(backup.folder)], portal_env(f"{backup.prefix}_bad", media), check=False)
    assert result.returncode != 0
    assert "is not empty" in result.stderr
    assert not database_exists(f"{backup.prefix}_bad")
    assert [path.name for path in media.iterdir()] == ["keep.txt"]


def test_restore_refuses_a_damaged_archive_before_changing_anything(backup):
    damaged = backup.tmp / "damaged"
    shutil.copytree(backup.folder, damaged)
    archive = damaged / "media.tar.gz"
    data = bytearray(archive.read_bytes())
    data[len(data) // 2] ^= 0xFF
    archive.write_bytes(bytes(data))
    media = backup.tmp / "media-damaged"
    result = run(["bash", str(RESTORE), str(damaged)], portal_env(f"{backup.prefix}_bad", media), check=False)
    assert result.returncode != 0
    assert "damaged" in result.stderr
    assert not database_exists(f"{backup.prefix}_bad")
    assert not media.exists()
