#!/usr/bin/env python
"""Benchmark: memory and temporary disk while a large evidence upload is posted.

Run by hand (it is not a test):

    cd /work/main && .venv/bin/python bench/uploads.py            # every scenario
    .venv/bin/python bench/uploads.py --only portal-web-200mb      # one of them

The body is produced chunk by chunk (64 KiB) by a generator and fed to Django's test client as
`wsgi.input`, so the client never holds it: whatever memory or disk the request costs is the
server side's. Each scenario runs in a fresh Python process (peak RSS is per process) against
one database created for the run (`bench_uploads` on DATABASE_URL's server, migrated, with one
enterprise, its liaison and an assignment; dropped at the end). Reported per scenario: HTTP
status, wall time, RSS before the request and its peak during it (sampled from
/proc/self/status at every chunk the server reads, and ru_maxrss), the peak bytes in
FILE_UPLOAD_TEMP_DIR (sampled at every chunk), what was left there and what was stored under
MEDIA_ROOT afterwards.

Scenarios (limits as shipped: EVIDENCE_MAX_FILE_SIZE 20 MiB, EVIDENCE_MAX_FILES 10):
  django-web-200mb   Django's default upload handlers only (what the portal had before):
                     one 200 MiB file posted to the web form;
  portal-web-200mb   the portal's handlers (tasks.upload_handlers first): the same post;
  portal-api-200mb   the same through POST /api/checkins/ with a token;
  portal-web-2gb     a 2 GiB file: its Content-Length alone is past the request limit;
  portal-web-10x20mb the largest accepted upload: 10 files of exactly 20 MiB, stored.
"""

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

MiB = 1024 * 1024
DEFAULT_DATABASE_URL = "postgres://postgres@127.0.0.1:5432/chanjgai"
BENCH_DB = "bench_uploads"
DJANGO_DEFAULT_HANDLERS = [
    "django.core.files.uploadhandler.MemoryFileUploadHandler",
    "django.core.files.uploadhandler.TemporaryFileUploadHandler",
]

SCENARIOS = {
    "django-web-200mb": {"door": "web", "files": [200 * MiB], "handlers": DJANGO_DEFAULT_HANDLERS},
    "portal-web-200mb": {"door": "web", "files": [200 * MiB]},
    "portal-api-200mb": {"door": "api", "files": [200 * MiB]},
    "portal-web-2gb": {"door": "web", "files": [2048 * MiB]},
    "portal-web-10x20mb": {"door": "web", "files": [20 * MiB] * 10},
}


def database_url(name):
    base = os.environ.get("DATABASE_URL") or DEFAULT_DATABASE_URL
    return base.rsplit("/", 1)[0] + "/" + name


def rss_now():
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    return 0


def setup_django(db_name):
    os.environ["DATABASE_URL"] = database_url(db_name)
    os.environ.setdefault("DEBUG", "1")
    os.environ.setdefault("SECRET_KEY", "bench")
    os.environ.pop("REDIS_URL", None)  # jobs inline: nothing here enqueues anyway
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "chanjgai_portal.settings")
    import django

    django.setup()


def create_database():
    """Create, migrate and fill bench_uploads; returns nothing (children read it)."""
    import psycopg2

    admin = psycopg2.connect(database_url("postgres"))
    admin.autocommit = True
    with admin.cursor() as cursor:
        cursor.execute(f"DROP DATABASE IF EXISTS {BENCH_DB}")
        cursor.execute(f"CREATE DATABASE {BENCH_DB}")
    admin.close()
    setup_django(BENCH_DB)
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    from tasks.services import generate_assignments
    from tests import factories as f

    province = f.RegionFactory.province(name="江苏省", code="320000")
    city = f.RegionFactory.city(parent=province, name="徐州市", code="320300")
    county = f.RegionFactory.county(parent=city, name="鼓楼区", code="320302", order=1)
    enterprise = f.EnterpriseFactory(county=county, name="徐州云集港口有限公司", size_class="large")
    period = f.PeriodFactory(city=city, name="2026年度")
    f.IndicatorFactory(city=city, code="B01", title="开展劳动技能竞赛", max_points=10)
    generate_assignments(period)
    f.liaison(enterprise, username="ent0001")


def drop_database():
    import psycopg2

    admin = psycopg2.connect(database_url("postgres"))
    admin.autocommit = True
    with admin.cursor() as cursor:
        cursor.execute(f"DROP DATABASE IF EXISTS {BENCH_DB}")
    admin.close()


def folder_bytes(folder):
    total = 0
    for base, _dirs, names in os.walk(folder):
        for name in names:
            try:
                total += os.stat(os.path.join(base, name)).st_size
            except FileNotFoundError:
                pass
    return total


def run_scenario(name):
    """One scenario in this process; prints its measurements as JSON."""
    spec = SCENARIOS[name]
    setup_django(BENCH_DB)
    import io

    from django.conf import settings
    from django.test import Client
    from django.test.utils import setup_test_environment
    from django.urls import reverse
    from rest_framework.test import APIClient

    from accounts import security
    from tasks.models import Assignment, CheckIn, Evidence
    from tests.test_evidence_hardening import GeneratorStream, multipart_chunks

    setup_test_environment()
    work = Path(tempfile.mkdtemp(prefix="bench-uploads-"))
    settings.MEDIA_ROOT = work / "media"
    settings.FILE_UPLOAD_TEMP_DIR = str(work / "upload-tmp")
    os.makedirs(settings.FILE_UPLOAD_TEMP_DIR)
    if "handlers" in spec:
        settings.FILE_UPLOAD_HANDLERS = spec["handlers"]

    from django.contrib.auth import get_user_model

    assignment = Assignment.objects.get()
    user = get_user_model().objects.get(username="ent0001")
    if spec["door"] == "web":
        client = Client()
        client.force_login(user)
        url = reverse("tasks:submit", args=[assignment.pk])
    else:
        client = APIClient()
        client.credentials(HTTP_AUTHORIZATION=f"Token {security.issue_api_token(user)[1]}")
        url = "/api/checkins/"
    boundary = "----bench-uploads"
    files = [("files", f"{i + 1}.pdf", b"%PDF-1.4\n", size) for i, size in enumerate(spec["files"])]
    length, chunks = multipart_chunks(boundary, [("assignment", assignment.pk), ("description", "说明")], files)
    peaks = {"rss": 0, "temp": 0, "chunks": 0}

    def sample():
        peaks["chunks"] += 1
        peaks["rss"] = max(peaks["rss"], rss_now())
        if peaks["chunks"] % 4 == 0:  # a directory walk every 256 KiB read
            peaks["temp"] = max(peaks["temp"], folder_bytes(settings.FILE_UPLOAD_TEMP_DIR))

    raw = GeneratorStream(chunks, on_chunk=sample)
    content_type = f"multipart/form-data; boundary={boundary}"
    environ = {
        "wsgi.input": io.BufferedReader(raw, 64 * 1024),
        "CONTENT_LENGTH": str(length),
        "CONTENT_TYPE": content_type,
    }
    rss_before = rss_now()
    started = time.perf_counter()
    response = client.generic("POST", url, content_type=content_type, **environ)
    seconds = time.perf_counter() - started
    result = {
        "scenario": name,
        "status": response.status_code,
        "body_mib": round(length / MiB, 1),
        "read_mib": round(raw.consumed / MiB, 1),
        "seconds": round(seconds, 2),
        "rss_before_mib": round(rss_before / MiB, 1),
        "rss_peak_mib": round(max(peaks["rss"], rss_now()) / MiB, 1),
        "ru_maxrss_mib": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
        "temp_peak_mib": round(peaks["temp"] / MiB, 1),
        "temp_left_mib": round(folder_bytes(settings.FILE_UPLOAD_TEMP_DIR) / MiB, 1),
        "media_stored_mib": round(folder_bytes(settings.MEDIA_ROOT) / MiB, 1) if settings.MEDIA_ROOT.exists() else 0,
        "checkins": CheckIn.objects.count(),
        "evidence": Evidence.objects.count(),
    }
    # Leave the database as the next scenario expects it.
    for evidence in Evidence.objects.all():
        evidence.file.delete(save=False)
    Evidence.objects.all().delete()
    from tasks.models import ReviewEvent

    ReviewEvent.objects.all()._raw_delete(ReviewEvent.objects.db)
    CheckIn.objects.all().delete()
    Assignment.objects.update(state="not_submitted", points=None)
    shutil.rmtree(work, ignore_errors=True)
    print(json.dumps(result, ensure_ascii=False))


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--only", choices=sorted(SCENARIOS), action="append")
    parser.add_argument("--scenario", help=argparse.SUPPRESS)  # a child process's job
    parser.add_argument("--create-db", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--keep", action="store_true", help="keep the bench_uploads database")
    args = parser.parse_args()
    if args.scenario:
        run_scenario(args.scenario)
        return
    if args.create_db:
        create_database()
        return
    child_env = dict(os.environ)
    # Created in a child too: this process stays free of Django for the scenarios' sake.
    subprocess.run([sys.executable, __file__, "--create-db"], env=child_env, check=True)
    print(f"machine: {os.cpu_count()} CPU, {os.sysconf('SC_PAGE_SIZE') * os.sysconf('SC_PHYS_PAGES') / 1024**3:.0f} GiB")
    try:
        for name in args.only or list(SCENARIOS):
            done = subprocess.run(
                [sys.executable, __file__, "--scenario", name], env=child_env, capture_output=True, text=True
            )
            lines = [line for line in done.stdout.splitlines() if line.startswith("{")]
            if done.returncode or not lines:
                print(name, "failed:", done.stderr[-2000:])
                continue
            print(lines[-1], flush=True)
    finally:
        if not args.keep:
            drop_database()


if __name__ == "__main__":
    main()
